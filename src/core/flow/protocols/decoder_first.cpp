#include "pd_proxy/core/flow/protocols/decoder_first.hpp"

#include <array>
#include <cstdint>
#include <random>

#include "pd_proxy/core/flow/retry.hpp"
#include "pd_proxy/core/json/json_scan.hpp"

namespace pd_proxy {
namespace {

constexpr std::string_view status_ok = R"({"status":"ok"})";
constexpr std::string_view detail_decoder_failed =
    R"({"detail":"the decoder failed before its first byte; its request is abandoned"})";
constexpr std::string_view detail_no_prefill =
    R"({"detail":"the decoder answered before the prefill completed; the prefill is abandoned"})";
constexpr std::string_view detail_timeout =
    R"({"detail":"not every request id called back within --metaserver-timeout"})";

// The member `name` of the client's body, raw; empty when absent.
std::string_view member(const client_request& request, std::string_view name) {
  for (const auto& m : request.members()) {
    if (request.name(m) == name) return request.value(m);
  }
  return {};
}

// The prompts of a completion's `prompt`: its length when it is a list of prompts (strings or token lists),
// else 1 (a string, a token-id list, anything else: one vLLM request).
std::size_t prompt_count(std::string_view prompt) {
  if (prompt.empty() || prompt.front() != '[') return 1;
  std::size_t count = 0;
  bool prompts = true;
  std::size_t i = json_scan_detail::skip_space(prompt, 1);
  while (i < prompt.size() && prompt[i] != ']') {
    const char c = prompt[i];
    if (c != '"' && c != '[') prompts = false;  // a number: a token-id list
    const std::size_t end = json_scan_detail::skip_value(prompt, i);
    if (end == std::string_view::npos) return 1;
    ++count;
    i = json_scan_detail::skip_space(prompt, end);
    if (i < prompt.size() && prompt[i] == ',') i = json_scan_detail::skip_space(prompt, i + 1);
  }
  return prompts && count > 0 ? count : 1;
}

void append_escaped(std::string& out, std::string_view text) {
  static constexpr char hex[] = "0123456789abcdef";
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20) {
      out += "\\u00";
      out += hex[u >> 4];
      out += hex[u & 0x0F];
    } else {
      out += c;
    }
  }
}

std::string_view trim(std::string_view text) {
  while (!text.empty() &&
         (text.front() == ' ' || text.front() == '\n' || text.front() == '\r' || text.front() == '\t'))
    text.remove_prefix(1);
  while (!text.empty() &&
         (text.back() == ' ' || text.back() == '\n' || text.back() == '\r' || text.back() == '\t'))
    text.remove_suffix(1);
  return text;
}

}  // namespace

std::vector<std::string> metaserver_request_ids(const client_request& request, std::string_view id) {
  std::vector<std::string> ids;
  if (!member(request, "messages").empty()) {
    ids.push_back("chatcmpl-" + std::string(id));
    return ids;
  }
  const std::size_t n = prompt_count(member(request, "prompt"));
  ids.reserve(n);
  for (std::size_t i = 0; i < n; ++i) ids.push_back("cmpl-" + std::string(id) + "-" + std::to_string(i));
  return ids;
}

std::string prefill_kv_transfer_params(const std::vector<std::string>& ids,
                                       const std::vector<std::string>& objects) {
  const std::string_view first = trim(objects.front());
  if (ids.size() == 1) return std::string(first);
  // A copy of the first object with one more member: its text without the closing brace, then the batch.
  std::string out(first.substr(0, first.size() - 1));
  const bool empty = trim(out).size() == 1;  // "{"
  out += empty ? "\"batch_kv_transfer_params\":{" : ",\"batch_kv_transfer_params\":{";
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (i > 0) out += ',';
    out += '"';
    append_escaped(out, ids[i]);
    out += "\":";
    out += trim(objects[i]);
  }
  out += "}}";
  return out;
}

std::string decoder_kv_transfer_params(std::string_view metaserver_url) {
  std::string out = R"({"do_remote_decode":false,"do_remote_prefill":true,"metaserver":")";
  append_escaped(out, metaserver_url);
  out += "\"}";
  return out;
}

bool is_metaserver_url(std::string_view url) {
  std::size_t scheme = 0;
  if (url.starts_with("http://")) {
    scheme = 7;
  } else if (url.starts_with("https://")) {
    scheme = 8;
  } else {
    return false;
  }
  if (url.size() == scheme) return false;
  for (const char c : url) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7F || c == '"' || c == '\\') return false;
  }
  return true;
}

bool is_wildcard_host(std::string_view host) {
  if (host.empty() || host == "*") return true;
  bool zero = false;
  for (const char c : host) {
    if (c == '0') {
      zero = true;
    } else if (c != '.' && c != ':' && c != '[' && c != ']') {
      return false;
    }
  }
  return zero || host.find("::") != std::string_view::npos;
}

std::string default_metaserver_url(std::string_view host, std::uint16_t port, bool tls) {
  std::string url = tls ? "https://" : "http://";
  const bool ipv6 = host.find(':') != std::string_view::npos && !host.starts_with("[");
  if (ipv6) url += '[';
  url += host;
  if (ipv6) url += ']';
  url += ':';
  url += std::to_string(port);
  url += "/v1/metaserver";
  return url;
}

std::string new_secret_request_id() {
  thread_local std::random_device device;
  std::array<std::uint8_t, 16> bytes{};
  for (std::size_t i = 0; i < bytes.size(); i += 4) {
    const std::uint32_t r = device();
    for (std::size_t k = 0; k < 4; ++k) bytes[i + k] = static_cast<std::uint8_t>(r >> (8 * k));
  }
  bytes[6] = static_cast<std::uint8_t>((bytes[6] & 0x0F) | 0x40);  // version 4
  bytes[8] = static_cast<std::uint8_t>((bytes[8] & 0x3F) | 0x80);  // RFC 4122 variant
  static constexpr char hex[] = "0123456789abcdef";
  std::string text;
  text.reserve(36);
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) text += '-';
    text += hex[bytes[i] >> 4];
    text += hex[bytes[i] & 0x0F];
  }
  return text;
}

std::unique_ptr<flow_machine> make_decoder_first(const flow_settings& settings, const client_request& request,
                                                 std::string_view request_id) {
  return std::make_unique<decoder_first>(settings, request, request_id);
}

decoder_first::decoder_first(const flow_settings& settings, const client_request& request,
                             std::string_view /*request_id*/)
    : settings_(settings),
      request_(request),
      decoder_kv_(decoder_kv_transfer_params(settings.metaserver_url)) {
  if (settings_.attempts < 1) settings_.attempts = 1;
}

//------------------------------------------------------------------------------
// The plan

flow_action decoder_first::next() {
  if (plan_.empty()) return {.what = flow_action::kind::wait};
  return pop();
}

flow_action decoder_first::pop() {
  flow_action action = plan_.pop();
  action.then_wait = plan_.empty() && is_asynchronous(action.what);
  return action;
}

void decoder_first::await_signal() {
  if (awaiting_) return;  // the one in flight reports the round's call-backs (the driver moved it on)
  awaiting_ = true;
  plan_.add(flow_action::kind::await_signal, decode_leg);
}

flow_action decoder_first::resume(const flow_event& event) {
  using k = flow_event::kind;
  if ((event.what == k::done_sync || event.what == k::started) && !plan_.empty()) return pop();
  if (done_) return {};
  if (event.what == k::client_gone) return finish(request_outcome::client_abort);
  if (event.what == k::started) return {.what = flow_action::kind::wait};
  if (event.what == k::done_sync) {
    if (decode_.at == phase::expecting) return on_signals_registered();
    return {.what = flow_action::kind::wait};
  }
  return on_event(event);
}

flow_action decoder_first::on_event(const flow_event& event) {
  using k = flow_event::kind;
  // While the client's error answer is written, nothing but its end matters (the rest is aborted then).
  if (answering_ && event.what != k::client_answered) return next();
  switch (event.what) {
    case k::start:
      if (decode_.at != phase::idle) break;
      decode_.at = phase::checking;
      // No decoder is spent on a request whose KV no prefiller could compute.
      plan_.add(flow_action::kind::check_role, prefill_leg).role = backend_role::prefill;
      return next();
    case k::role_checked:
      if (decode_.at != phase::checking) break;
      if (!event.usable) {
        return answer(errc::no_backend,
                      event.none_usable ? "no healthy prefill instance is available"
                                        : "no prefill instance is configured",
                      request_outcome::no_backend, /*retry_after=*/true);
      }
      decode_.attempt = 1;
      return begin_round(/*fresh=*/true);
    case k::reserved:
      if (event.leg == decode_leg && decode_.at == phase::reserving) return on_decoder_reserved();
      if (event.leg == prefill_leg && prefill_.at == phase::reserving) {
        prefill_.at = phase::sending;
        flow_action& send = plan_.add(flow_action::kind::send, prefill_leg);
        send.body = &prefill_body_;
        send.request_id = round_id_;
        send.timeout = settings_.prefill_timeout;
        return next();
      }
      break;
    case k::no_backend:
      if (event.leg == decode_leg && decode_.at == phase::reserving) {
        if (decode_.attempt > 1) {
          errc code = errc::backend_failed;
          std::string message = exhausted_message(backend_role::decode, decode_, code);
          if (decode_.status != 0 && !decode_.body.empty())
            return pass_through(decode_.status, decode_.content_type, decode_.body, failure_outcome());
          return answer(code, std::move(message), failure_outcome());
        }
        return answer(errc::no_backend,
                      event.none_usable ? "no healthy decode instance is available"
                                        : "no decode instance is configured",
                      request_outcome::no_backend, /*retry_after=*/true);
      }
      if (event.leg == prefill_leg && prefill_.at == phase::reserving) {
        if (prefill_.attempt > 1) return prefill_attempt_failed();
        return prefill_failed(errc::no_backend, event.none_usable ? "no healthy prefill instance is available"
                                                                  : "no prefill instance is configured");
      }
      break;
    case k::signals_refused:
      if (decode_.at != phase::expecting) break;
      decode_.at = phase::over;
      plan_.add(flow_action::kind::end_leg, decode_leg);
      return answer(errc::overloaded, "too many requests wait for a metaserver call-back",
                    request_outcome::rejected, /*retry_after=*/true);
    case k::signal:
      return on_signal(event);
    case k::signal_timeout:
      awaiting_ = false;
      if (!collecting_) return next();
      collecting_ = false;
      last_failure_ = backend_failure::timeout;
      decode_.at = phase::over;
      plan_.add(flow_action::kind::forget_signals, decode_leg);
      {
        flow_action& reply = plan_.add(flow_action::kind::answer_signals, decode_leg);
        reply.status = 502;
        reply.text = detail_timeout;
        flow_action& end = plan_.add(flow_action::kind::end_leg, decode_leg);
        end.with_report = true;
        end.result = leg_result::failed;
      }
      return answer(errc::backend_timeout,
                    "decode backend did not call the metaserver back within --metaserver-timeout",
                    request_outcome::timeout);
    case k::head:
    case k::body:
    case k::first_byte:
    case k::leg_failed:
    case k::relay_ended:
      if (event.leg == prefill_leg) return on_prefill_event(event);
      if (event.leg == decode_leg) return on_decode_event(event);
      break;
    case k::backoff_done:
      if (!backoff_running_) break;
      return on_backoff_done();
    case k::stopped:
      if (client_answered()) return next();  // the relay ends on its own; an answer is being written
      return answer(errc::shutting_down, "proxy shutting down", request_outcome::shutting_down,
                    /*retry_after=*/true);
    case k::client_answered:
      if (!answering_) break;
      return finish(answer_outcome_);
    default:
      break;
  }
  // An event no state expects: a driver bug. End the request rather than guess.
  if (client_answered()) return finish(request_outcome::backend_error);
  return answer(errc::internal, "internal error: unexpected PD flow event", request_outcome::backend_error);
}

//------------------------------------------------------------------------------
// The decode leg: one round per attempt

flow_action decoder_first::begin_round(bool fresh) {
  decode_.at = phase::reserving;
  flow_action& reserve = plan_.add(flow_action::kind::reserve, decode_leg);
  reserve.role = backend_role::decode;
  reserve.fresh = fresh;
  reserve.attempt = decode_.attempt;
  reserve.attempts = settings_.attempts;
  return next();
}

flow_action decoder_first::on_decoder_reserved() {
  // A fresh id per round: a failed decoder's late call-backs find nothing.
  round_id_ = new_secret_request_id();
  ids_ = metaserver_request_ids(request_, round_id_);
  objects_.assign(ids_.size(), std::string());
  received_ = 0;
  if (decode_body_.pieces.empty()) decode_body_ = splice_decode_body(request_, decoder_kv_);
  decode_.at = phase::expecting;
  flow_action& expect = plan_.add(flow_action::kind::expect_signals, decode_leg);
  expect.keys = ids_;
  expect.timeout = settings_.metaserver_timeout;
  return next();
}

flow_action decoder_first::on_signals_registered() {
  collecting_ = true;
  decode_.at = phase::sending;
  flow_action& send = plan_.add(flow_action::kind::send, decode_leg);
  send.body = &decode_body_;
  send.request_id = round_id_;
  send.timeout = settings_.first_token_timeout;
  await_signal();
  return next();
}

flow_action decoder_first::on_signal(const flow_event& event) {
  awaiting_ = false;
  if (!collecting_ || event.key >= ids_.size()) {
    if (collecting_) await_signal();
    return next();
  }
  if (objects_[event.key].empty()) {
    const std::string_view object = trim(event.body);
    objects_[event.key].assign(object.empty() ? std::string_view("{}") : object);
    ++received_;
  }
  if (received_ < ids_.size()) {
    await_signal();
    return next();
  }
  // Every id called back: the one prefill.
  collecting_ = false;
  prefill_kv_ = prefill_kv_transfer_params(ids_, objects_);
  prefill_body_ = splice_prefill_body(request_, prefill_kv_);
  prefill_ = leg_state{};
  prefill_.attempt = 1;
  return begin_prefill(/*fresh=*/true);
}

flow_action decoder_first::on_decode_event(const flow_event& event) {
  using k = flow_event::kind;
  switch (event.what) {
    case k::head:
      if (decode_.at != phase::sending) break;
      if (is_success_status(event.status)) {
        decode_.at = phase::first;
        plan_.add(flow_action::kind::read_first_byte, decode_leg);
      } else {
        decode_.at = phase::reading;
        plan_.add(flow_action::kind::read_body, decode_leg).timeout = settings_.stream_idle_timeout;
      }
      return next();
    case k::first_byte:
      if (decode_.at != phase::first) break;
      return on_first_byte();
    case k::body: {
      if (decode_.at != phase::reading) break;
      flow_action& end = plan_.add(flow_action::kind::end_leg, decode_leg);
      end.with_report = true;
      end.result = leg_result_of_answer(event.status);
      if (!is_retryable_status(event.status)) {
        // The decoder's own verdict on the request (e.g. prompt too long): passed through.
        decode_.at = phase::over;
        collecting_ = false;
        plan_.add(flow_action::kind::forget_signals, decode_leg);
        flow_action& reply = plan_.add(flow_action::kind::answer_signals, decode_leg);
        reply.status = 502;
        reply.text = detail_decoder_failed;
        if (prefill_wanted_) {
          prefill_wanted_ = false;
          prefill_.at = phase::over;
          plan_.add(flow_action::kind::end_leg, prefill_leg);
        }
        return pass_through(event.status, event.content_type, event.body, request_outcome::backend_rejected);
      }
      decode_.failure = backend_failure::none;
      decode_.status = event.status;
      decode_.content_type.assign(event.content_type);
      decode_.body.assign(event.body);
      return decode_attempt_failed();
    }
    case k::leg_failed: {
      if (decode_.at != phase::sending && decode_.at != phase::reading && decode_.at != phase::first) break;
      last_failure_ = event.failure;
      flow_action& end = plan_.add(flow_action::kind::end_leg, decode_leg);
      end.with_report = true;
      end.result = leg_result::failed;
      decode_.failure = event.failure;
      decode_.status = 0;
      decode_.content_type.clear();
      decode_.body.clear();
      return decode_attempt_failed();
    }
    case k::relay_ended: {
      if (decode_.at != phase::relaying) break;
      decode_.at = phase::over;
      flow_action& end = plan_.add(flow_action::kind::end_leg, decode_leg);
      if (event.failure == backend_failure::none) {
        end.with_report = true;
        end.result = leg_result::succeeded;
        outcome_ = request_outcome::ok;
      } else if (event.stopping) {
        outcome_ = request_outcome::shutting_down;
      } else {
        last_failure_ = event.failure;
        end.with_report = true;
        end.result = leg_result::failed;
        outcome_ = failure_outcome();
      }
      done_ = true;
      return next();
    }
    default:
      break;
  }
  if (client_answered()) return finish(request_outcome::backend_error);
  return answer(errc::internal, "internal error: unexpected PD flow event", request_outcome::backend_error);
}

flow_action decoder_first::on_first_byte() {
  decode_.at = phase::relaying;
  if (collecting_) {
    // The decoder answered without waiting for its KV: no prefill is needed any more.
    collecting_ = false;
    plan_.add(flow_action::kind::forget_signals, decode_leg);
  }
  bool keep = false;
  if (prefill_wanted_ && (prefill_.at == phase::sending || prefill_.at == phase::reading)) {
    keep = true;  // the prefill in flight reads the client's request: it stays until the prefill ends
  } else if (prefill_wanted_ || prefill_.at != phase::succeeded) {
    prefill_wanted_ = false;  // a back-off in flight leads nowhere now
    prefill_.at = phase::over;
    flow_action& reply = plan_.add(flow_action::kind::answer_signals, decode_leg);
    reply.status = 502;
    reply.text = detail_no_prefill;
  }
  if (!keep) {
    decode_body_ = {};  // views of the client's request, which the relay frees
    prefill_body_ = {};
  }
  flow_action& relay = plan_.add(flow_action::kind::relay, decode_leg);
  relay.timeout = settings_.stream_idle_timeout;
  relay.keep_request = keep;
  return next();
}

flow_action decoder_first::decode_attempt_failed() {
  // The round is over: its call-backs are answered, its prefill (if any) closed.
  collecting_ = false;
  plan_.add(flow_action::kind::forget_signals, decode_leg);
  flow_action& reply = plan_.add(flow_action::kind::answer_signals, decode_leg);
  reply.status = 502;
  reply.text = detail_decoder_failed;
  if (prefill_wanted_) {
    if (prefill_.at == phase::sending || prefill_.at == phase::reading) {
      plan_.add(flow_action::kind::end_leg, prefill_leg);
    }
    prefill_wanted_ = false;
    prefill_.at = phase::over;
  }
  if (decode_.attempt >= settings_.attempts) {
    decode_.at = phase::over;
    if (decode_.status != 0 && !decode_.body.empty())
      return pass_through(decode_.status, decode_.content_type, decode_.body, failure_outcome());
    errc code = errc::backend_failed;
    std::string message = exhausted_message(backend_role::decode, decode_, code);
    return answer(code, std::move(message), failure_outcome());
  }
  decode_.at = phase::backing_off;
  backoff_leg_ = decode_leg;
  if (!backoff_running_) {  // else the prefill's back-off in flight leads to this retry
    backoff_running_ = true;
    flow_action& back_off = plan_.add(flow_action::kind::back_off, decode_leg);
    back_off.role = backend_role::decode;
    back_off.timeout = retry_backoff(settings_.retry_delay, decode_.attempt + 1);
  }
  return next();
}

flow_action decoder_first::on_backoff_done() {
  backoff_running_ = false;
  if (backoff_leg_ == decode_leg) {
    if (decode_.at != phase::backing_off) return next();
    ++decode_.attempt;
    return begin_round(/*fresh=*/false);
  }
  if (!prefill_wanted_ || prefill_.at != phase::backing_off) return next();
  ++prefill_.attempt;
  return begin_prefill(/*fresh=*/false);
}

//------------------------------------------------------------------------------
// The prefill leg

flow_action decoder_first::begin_prefill(bool fresh) {
  prefill_wanted_ = true;
  prefill_.at = phase::reserving;
  flow_action& reserve = plan_.add(flow_action::kind::reserve, prefill_leg);
  reserve.role = backend_role::prefill;
  reserve.fresh = fresh;
  reserve.attempt = prefill_.attempt;
  reserve.attempts = settings_.attempts;
  return next();
}

flow_action decoder_first::on_prefill_event(const flow_event& event) {
  using k = flow_event::kind;
  if (!prefill_wanted_) return next();  // a closed prefill's late news (its completion is dropped anyway)
  switch (event.what) {
    case k::head:
      if (prefill_.at != phase::sending) break;
      prefill_.at = phase::reading;
      plan_.add(flow_action::kind::read_body, prefill_leg);
      return next();
    case k::body: {
      if (prefill_.at != phase::reading) break;
      flow_action& end = plan_.add(flow_action::kind::end_leg, prefill_leg);
      end.with_report = true;
      end.result = leg_result_of_answer(event.status);
      if (is_success_status(event.status)) {
        // The KV is pushed: the call-backs learn it, the decoder's stream goes on.
        prefill_wanted_ = false;
        prefill_.at = phase::succeeded;
        flow_action& reply = plan_.add(flow_action::kind::answer_signals, prefill_leg);
        reply.status = 200;
        reply.text = status_ok;
        return next();
      }
      if (!is_retryable_status(event.status)) {
        // The prefiller's verdict on the request: passed through (unless the client has bytes already).
        prefill_wanted_ = false;
        prefill_.at = phase::over;
        signal_answer_ =
            R"({"detail":"the prefill was refused: HTTP )" + std::to_string(event.status) + "\"}";
        flow_action& reply = plan_.add(flow_action::kind::answer_signals, prefill_leg);
        reply.status = 502;
        reply.text = signal_answer_;
        if (client_answered()) return next();
        decode_.at = phase::over;
        plan_.add(flow_action::kind::end_leg, decode_leg);
        return pass_through(event.status, event.content_type, event.body, request_outcome::backend_rejected);
      }
      prefill_.failure = backend_failure::none;
      prefill_.status = event.status;
      prefill_.content_type.assign(event.content_type);
      prefill_.body.assign(event.body);
      return prefill_attempt_failed();
    }
    case k::leg_failed: {
      if (prefill_.at != phase::sending && prefill_.at != phase::reading) break;
      last_failure_ = event.failure;
      flow_action& end = plan_.add(flow_action::kind::end_leg, prefill_leg);
      end.with_report = true;
      end.result = leg_result::failed;
      prefill_.failure = event.failure;
      prefill_.status = 0;
      prefill_.content_type.clear();
      prefill_.body.clear();
      return prefill_attempt_failed();
    }
    default:
      break;
  }
  if (client_answered()) return finish(request_outcome::backend_error);
  return answer(errc::internal, "internal error: unexpected PD flow event", request_outcome::backend_error);
}

flow_action decoder_first::prefill_attempt_failed() {
  if (prefill_.attempt < settings_.attempts && !client_answered()) {
    prefill_.at = phase::backing_off;
    backoff_leg_ = prefill_leg;
    backoff_running_ = true;
    flow_action& back_off = plan_.add(flow_action::kind::back_off, prefill_leg);
    back_off.role = backend_role::prefill;
    back_off.timeout = retry_backoff(settings_.retry_delay, prefill_.attempt + 1);
    return next();
  }
  errc code = errc::backend_failed;
  std::string message = exhausted_message(backend_role::prefill, prefill_, code);
  return prefill_failed(code, std::move(message));
}

flow_action decoder_first::prefill_failed(errc code, std::string message) {
  // The decoder waits for KV that will not come: its connection is closed at once (the engine aborts the
  // request) and the client answered; the call-backs learn the failure.
  prefill_wanted_ = false;
  prefill_.at = phase::over;
  signal_answer_ = R"({"detail":")";
  append_escaped(signal_answer_, message);
  signal_answer_ += "\"}";
  flow_action& reply = plan_.add(flow_action::kind::answer_signals, prefill_leg);
  reply.status = 502;
  reply.text = signal_answer_;
  if (client_answered()) return next();  // the decoder's stream is the client's already
  decode_.at = phase::over;
  plan_.add(flow_action::kind::end_leg, decode_leg);
  const request_outcome outcome = code == errc::no_backend ? request_outcome::no_backend : failure_outcome();
  if (code != errc::no_backend && prefill_.status != 0 && !prefill_.body.empty())
    return pass_through(prefill_.status, prefill_.content_type, prefill_.body, outcome);
  return answer(code, std::move(message), outcome, /*retry_after=*/code == errc::no_backend);
}

//------------------------------------------------------------------------------
// The client's answer

std::string decoder_first::exhausted_message(backend_role role, const leg_state& last, errc& code) const {
  std::string message(to_string(role));
  code = errc::backend_failed;
  if (last.status != 0) {
    message += " backend answered HTTP " + std::to_string(last.status) + " on every attempt";
  } else if (last.failure == backend_failure::timeout) {
    message += " backend timed out";
    code = errc::backend_timeout;
  } else {
    message += " backend failed (";
    message += to_string(last.failure);
    message += ")";
  }
  return message;
}

request_outcome decoder_first::failure_outcome() const {
  return last_failure_ == backend_failure::timeout ? request_outcome::timeout
                                                   : request_outcome::backend_error;
}

flow_action decoder_first::answer(errc code, std::string message, request_outcome outcome, bool retry_after) {
  answering_ = true;
  answer_outcome_ = outcome;
  message_ = std::move(message);
  flow_action& action = plan_.add(flow_action::kind::answer_error, decode_leg);
  action.code = code;
  action.retry_after = retry_after;
  action.message = message_;
  return next();
}

flow_action decoder_first::pass_through(int status, std::string_view content_type, std::string_view body,
                                        request_outcome outcome) {
  answering_ = true;
  answer_outcome_ = outcome;
  message_.assign(body);  // the event's view lasts until the next resume: the answer outlives it
  content_type_.assign(content_type.empty() ? std::string_view("application/json") : content_type);
  flow_action& action = plan_.add(flow_action::kind::pass_through, decode_leg);
  action.status = status;
  action.content_type = content_type_;
  action.text = message_;
  return next();
}

flow_action decoder_first::finish(request_outcome outcome) {
  done_ = true;
  outcome_ = outcome;
  plan_.clear();
  return {};
}

}  // namespace pd_proxy
