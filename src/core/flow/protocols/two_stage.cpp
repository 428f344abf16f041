#include "pd_proxy/core/flow/protocols/two_stage.hpp"

#include "pd_proxy/core/flow/disaggregation.hpp"
#include "pd_proxy/core/flow/retry.hpp"
#include "pd_proxy/core/flow/usage_rewrite.hpp"
#include "pd_proxy/core/memory/recycled_blocks.hpp"

namespace pd_proxy {

std::unique_ptr<flow_machine> make_two_stage(const flow_settings& settings, const client_request& request,
                                             std::string_view request_id) {
  return std::make_unique<two_stage>(settings, request, request_id);
}

void* two_stage::operator new(std::size_t /*size: the class is final*/) {
  return recycled_blocks<two_stage>::take();
}

void two_stage::operator delete(void* block) {
  recycled_blocks<two_stage>::give(block);
}

two_stage::two_stage(const flow_settings& settings, const client_request& request,
                     std::string_view request_id)
    : settings_(settings),
      request_(request),
      request_id_(request_id),
      skip_prefill_(skips_prefill(settings.disagg_min_prompt_tokens, request.size())) {
  if (settings_.attempts < 1) settings_.attempts = 1;
}

flow_action two_stage::next() {
  if (plan_.empty()) return {.what = flow_action::kind::wait};
  return pop();
}

flow_action two_stage::pop() {
  flow_action action = plan_.pop();
  // An asynchronous action is always the last of its plan: `started` would be answered with `wait`.
  action.then_wait = plan_.empty() && is_asynchronous(action.what);
  return action;
}

flow_action two_stage::resume(const flow_event& event) {
  using k = flow_event::kind;
  if (event.what == k::client_gone) {
    if (state_ == state::done) return {};
    return finish(request_outcome::client_abort);
  }
  if (event.what == k::done_sync || event.what == k::started) {
    if (!plan_.empty()) return pop();
    if (state_ == state::done) return {};
    if (event.what == k::started) return {.what = flow_action::kind::wait};
  }
  if (state_ == state::done) return {};
  if (event.what == k::stopped && state_ != state::relaying && state_ != state::answering) {
    return answer(errc::shutting_down, "proxy shutting down", request_outcome::shutting_down,
                  /*retry_after=*/true);
  }
  switch (state_) {
    case state::idle:
      if (event.what != k::start) break;
      if (skip_prefill_) return begin_local_prefill();
      prefill_.attempt = 1;
      return begin_prefill(/*first_attempt=*/true);
    case state::checking_decoders:
      if (event.what != k::role_checked) break;
      if (!event.usable) return on_no_backend(event, /*no_decoder=*/true);
      return reserve(prefill_leg, /*fresh=*/true);
    case state::reserving:
      if (event.what == k::reserved) return on_reserved();
      if (event.what == k::no_backend) return on_no_backend(event, /*no_decoder=*/false);
      break;
    case state::sending:
      if (event.what == k::head) return on_head(event);
      if (event.what == k::leg_failed) return on_leg_failed(event);
      break;
    case state::reading_answer:
      if (event.what == k::body) return on_answer(event);
      if (event.what == k::leg_failed) return on_leg_failed(event);
      break;
    case state::reading_first:
      if (event.what == k::leg_failed) return on_leg_failed(event);
      if (event.what == k::first_byte) {
        // The decoder answered, so it has pulled the KV: the prefill leg is over. No retry can need the
        // bodies any more (views of the client's request, which the relay frees).
        state_ = state::relaying;
        plan_.clear();
        if (!skip_prefill_) plan_.add(flow_action::kind::end_leg, prefill_leg);
        holds_kv_ = false;
        prefill_body_ = {};
        decode_body_ = {};
        flow_action& relay = plan_.add(flow_action::kind::relay, decode_leg);
        relay.timeout = settings_.stream_idle_timeout;
        if (!rewrite_.empty()) relay.rewrite = &rewrite_;
        return next();
      }
      break;
    case state::backing_off:
      if (event.what == k::backoff_done) return on_backoff_done();
      break;
    case state::relaying:
      if (event.what != k::relay_ended) break;
      {
        flow_action& end = plan_.add(flow_action::kind::end_leg, decode_leg);
        if (event.failure == backend_failure::none) {
          end.with_report = true;
          end.result = leg_result::succeeded;
          outcome_ = request_outcome::ok;
        } else if (event.stopping) {
          outcome_ = request_outcome::shutting_down;  // nothing to attribute: the decoder did not fail
        } else {
          last_failure_ = event.failure;
          end.with_report = true;
          end.result = leg_result::failed;
          outcome_ = failure_outcome();
        }
      }
      state_ = state::done;
      return next();
    case state::answering:
      if (event.what != k::client_answered && event.what != k::stopped) break;
      return finish(answer_outcome_);
    case state::done:
      return {};
  }
  // An event the state does not expect: a driver bug. End the request rather than guess.
  if (state_ == state::relaying || state_ == state::answering) return finish(request_outcome::backend_error);
  return answer(errc::internal, "internal error: unexpected PD flow event", request_outcome::backend_error);
}

flow_action two_stage::begin_prefill(bool first_attempt) {
  leg_ = prefill_leg;
  if (!first_attempt) return reserve(prefill_leg, /*fresh=*/false);
  // No prefill is spent on KV that no decoder could pull.
  state_ = state::checking_decoders;
  flow_action& check = plan_.add(flow_action::kind::check_role, decode_leg);
  check.role = backend_role::decode;
  return next();
}

flow_action two_stage::begin_local_prefill() {
  // The client's request as it is, but for a kv_transfer_params of its own, dropped as on every decode leg
  // (a client cannot make a decoder pull KV from an address of its choosing). Without the member, a vLLM
  // decoder schedules the request as any other and prefills it itself.
  decode_body_ = splice_decode_body(request_, std::nullopt);
  decode_.attempt = 1;
  return reserve(decode_leg, /*fresh=*/true);
}

flow_action two_stage::reserve(leg_id leg, bool fresh) {
  state_ = state::reserving;
  leg_ = leg;
  first_attempt_ = fresh;
  flow_action& action = plan_.add(flow_action::kind::reserve, leg);
  action.role = role_of(leg);
  action.fresh = fresh;
  action.attempt = of(leg).attempt;
  action.attempts = settings_.attempts;
  return next();
}

flow_action two_stage::on_reserved() {
  state_ = state::sending;
  flow_action& send = plan_.add(flow_action::kind::send, leg_);
  send.request_id = request_id();
  if (leg_ == prefill_leg) {
    prefill_body_ = splice_prefill_body(request_);
    send.body = &prefill_body_;
    send.timeout = settings_.prefill_timeout;
  } else {
    send.body = &decode_body_;
    send.timeout = settings_.first_token_timeout;
  }
  return next();
}

flow_action two_stage::on_no_backend(const flow_event& event, bool no_decoder) {
  // A retry that finds no usable backend (the failure just opened the last breaker) answers with the
  // failure it retries; a first attempt answers 503 at once, without waiting on dead nodes.
  if (!no_decoder && of(leg_).attempt > 1) return leg_exhausted(leg_);
  if (no_decoder && decode_.attempt > 1) return leg_exhausted(decode_leg);  // a re-prefill
  const leg_id missing = no_decoder ? decode_leg : leg_;
  std::string message = event.none_usable ? "no healthy " : "no ";
  message += to_string(role_of(missing));
  message += event.none_usable ? " instance is available" : " instance is configured";
  return answer(errc::no_backend, std::move(message), request_outcome::no_backend, /*retry_after=*/true);
}

flow_action two_stage::on_head(const flow_event& event) {
  if (leg_ == decode_leg && is_success_status(event.status)) {
    state_ = state::reading_first;
    plan_.add(flow_action::kind::read_first_byte, decode_leg);
    return next();
  }
  // A prefill's answer (any status) and a decoder's error answer are read whole; a decoder's error body
  // within the idle timeout.
  state_ = state::reading_answer;
  flow_action& read = plan_.add(flow_action::kind::read_body, leg_);
  if (leg_ == decode_leg) read.timeout = settings_.stream_idle_timeout;
  return next();
}

flow_action two_stage::on_answer(const flow_event& event) {
  const leg_id leg = leg_;
  const leg_result result = leg_result_of_answer(event.status);
  if (leg == prefill_leg && is_success_status(event.status)) {
    flow_action& release = plan_.add(flow_action::kind::release, prefill_leg);  // the prefill work is over
    release.hold = leg_hold::tokens;
    release.with_report = true;
    release.result = result;
    // The reservation stays as the KV hold until the decoder's first byte.
    holds_kv_ = true;
    const auto kv = find_kv_transfer_params(event.body);
    if (kv) {
      kv_transfer_params_.assign(*kv);
    } else {
      kv_transfer_params_.clear();
    }
    local_prefill_ = !kv;
    // Read only when the answer will carry a final usage to rewrite: a JSON body, or a stream that asked.
    const bool rewrites_usage =
        settings_.usage_from_prefiller && (!request_.stream() || asks_for_stream_usage(request_));
    rewrite_.cached_tokens.assign(rewrites_usage ? prefill_cached_tokens(event.body) : "");
    // The prompt's logprobs are the prefiller's: the decoder is not asked for them (vllm-ascend #13363).
    const bool asks_logprobs = asks_prompt_logprobs(request_);
    if (asks_logprobs) {
      read_prompt_logprobs(event.body, rewrite_.logprobs);
    } else {
      rewrite_.logprobs.clear();
    }
    decode_body_ =
        splice_decode_body(request_, kv ? std::optional<std::string_view>(kv_transfer_params_) : std::nullopt,
                           /*drop_prompt_logprobs=*/asks_logprobs);
    const bool first_decode = decode_.attempt == 0;  // else a re-prefill inside a decode attempt
    if (first_decode) decode_.attempt = 1;
    return reserve(decode_leg, first_decode);
  }
  flow_action& end = plan_.add(flow_action::kind::end_leg, leg);
  end.with_report = true;
  end.result = result;
  if (!is_retryable_status(event.status)) {
    // The backend's own verdict on the request (e.g. prompt too long): not retried, passed through.
    return pass_through(event.status, event.content_type, event.body, request_outcome::backend_rejected);
  }
  leg_state& last = of(leg);
  last.failure = backend_failure::none;
  last.request_sent = true;
  last.status = event.status;
  last.content_type.assign(event.content_type);
  last.body.assign(event.body);
  return next_attempt(leg);
}

flow_action two_stage::on_leg_failed(const flow_event& event) {
  const leg_id leg = leg_;
  last_failure_ = event.failure;
  flow_action& end = plan_.add(flow_action::kind::end_leg, leg);
  end.with_report = true;
  end.result = leg_result::failed;
  leg_state& last = of(leg);
  last.failure = event.failure;
  last.request_sent = event.request_sent;
  last.status = 0;
  last.content_type.clear();
  last.body.clear();
  return next_attempt(leg);
}

flow_action two_stage::next_attempt(leg_id leg) {
  const int attempt = of(leg).attempt;
  if (attempt >= settings_.attempts) return leg_exhausted(leg);
  state_ = state::backing_off;
  leg_ = leg;
  flow_action& back_off = plan_.add(flow_action::kind::back_off, leg);
  back_off.role = role_of(leg);
  back_off.timeout = retry_backoff(settings_.retry_delay, attempt + 1);
  return next();
}

flow_action two_stage::on_backoff_done() {
  ++of(leg_).attempt;
  // A skipped prefill has no KV to lose: its decode retries never re-prefill.
  if (leg_ == decode_leg && !skip_prefill_ &&
      decode_retry_needs_prefill(settings_.decode_retry_kv, decode_.request_sent)) {
    // The failed decoder may have pulled the KV (the prefiller then frees it): give the old KV hold up,
    // prefill again under a new request id, then go on with this decode attempt.
    if (holds_kv_) plan_.add(flow_action::kind::end_leg, prefill_leg);
    holds_kv_ = false;
    prefill_ = leg_state{};
    prefill_.attempt = 1;
    reprefill_id_ = reprefill_request_id(request_id_, ++reprefills_);
    return begin_prefill(/*first_attempt=*/true);
  }
  return leg_ == prefill_leg ? begin_prefill(/*first_attempt=*/false) : reserve(decode_leg, /*fresh=*/false);
}

flow_action two_stage::leg_exhausted(leg_id leg) {
  const leg_state& last = of(leg);
  if (last.status != 0 && !last.body.empty()) {
    return pass_through(last.status, last.content_type, last.body, failure_outcome());
  }
  std::string message(to_string(role_of(leg)));
  errc code = errc::backend_failed;
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
  return answer(code, std::move(message), failure_outcome());
}

request_outcome two_stage::failure_outcome() const {
  return last_failure_ == backend_failure::timeout ? request_outcome::timeout
                                                   : request_outcome::backend_error;
}

flow_action two_stage::answer(errc code, std::string message, request_outcome outcome, bool retry_after) {
  state_ = state::answering;
  answer_outcome_ = outcome;
  message_ = std::move(message);
  flow_action& action = plan_.add(flow_action::kind::answer_error, leg_);
  action.code = code;
  action.retry_after = retry_after;
  action.message = message_;
  return next();
}

flow_action two_stage::pass_through(int status, std::string_view content_type, std::string_view body,
                                    request_outcome outcome) {
  state_ = state::answering;
  answer_outcome_ = outcome;
  flow_action& action = plan_.add(flow_action::kind::pass_through, leg_);
  action.status = status;
  action.content_type = content_type.empty() ? std::string_view("application/json") : content_type;
  action.text = body;
  return next();
}

flow_action two_stage::finish(request_outcome outcome) {
  state_ = state::done;
  outcome_ = outcome;
  plan_.clear();
  return {};
}

}  // namespace pd_proxy
