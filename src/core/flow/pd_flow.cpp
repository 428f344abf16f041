#include "pd_proxy/core/flow/pd_flow.hpp"

#include <algorithm>

#include "pd_proxy/core/flow/request_rewrite.hpp"
#include "pd_proxy/core/flow/retry.hpp"

namespace pd_proxy {
std::string_view to_string(pd_leg leg) {
  return leg == pd_leg::prefill ? "prefill" : "decode";
}

std::string_view to_string(pd_outcome outcome) {
  switch (outcome) {
    case pd_outcome::pending:
      return "pending";
    case pd_outcome::completed:
      return "ok";
    case pd_outcome::midstream_error:
      return "midstream_error";
    case pd_outcome::backend_error:
      return "backend_error";
    case pd_outcome::passed_through:
      return "backend_rejected";
    case pd_outcome::no_backend:
      return "no_backend";
    case pd_outcome::shutting_down:
      return "shutting_down";
    case pd_outcome::client_gone:
      return "client_abort";
    case pd_outcome::rejected:
      return "rejected";
  }
  return "unknown";
}

pd_flow_settings pd_flow_settings::from(const proxy_config& config) {
  return {std::max(1, config.max_retries), config.retry_delay, config.decode_retry_kv};
}

midstream_error_info midstream_error(bool stopping, backend_failure failure) {
  if (stopping) return {errc::shutting_down, "proxy shutting down"};
  if (failure == backend_failure::timeout)
    return {errc::backend_timeout, "decode backend stalled mid-stream"};
  return {errc::backend_failed, "decode backend failed mid-stream"};
}

//------------------------------------------------------------------------------

pd_action pd_flow::resume(const pd_event& event) {
  using k = pd_event::kind;
  if (state_ == state::done) return {};
  if (event.what == k::client_gone) return finish(pd_outcome::client_gone);
  if (event.what == k::stopped && state_ != state::relaying && state_ != state::answering) {
    return answer(errc::shutting_down, "proxy shutting down", pd_outcome::shutting_down,
                  /*retry_after=*/true);
  }
  switch (state_) {
    case state::idle:
      if (event.what != k::start) break;
      prefill_.attempt = 1;
      return send(pd_leg::prefill, /*first_attempt=*/true);
    case state::prefilling:
    case state::decoding: {
      const pd_leg leg = state_ == state::prefilling ? pd_leg::prefill : pd_leg::decode;
      if (event.what == k::no_backend) {
        // A retry that finds no usable backend (the failure just opened the last breaker) answers with the
        // failure it retries; a first attempt answers 503 at once, without waiting on dead nodes.
        if (of(leg).attempt > 1) return leg_exhausted(leg);
        if (event.no_decoder && decode_.attempt > 1) return leg_exhausted(pd_leg::decode);  // a re-prefill
        const pd_leg missing = event.no_decoder ? pd_leg::decode : leg;
        std::string message = std::string(event.none_usable ? "no healthy " : "no ") +
                              std::string(to_string(missing)) +
                              (event.none_usable ? " instance is available" : " instance is configured");
        return answer(errc::no_backend, std::move(message), pd_outcome::no_backend, /*retry_after=*/true);
      }
      if (event.what == k::leg_failed) return on_leg_failed(leg, event);
      if (event.what == k::answered) return on_answer(leg, event);
      if (event.what == k::first_byte && leg == pd_leg::decode) {
        state_ = state::relaying;
        pd_action relay{.what = pd_action::kind::relay, .leg = pd_leg::decode};
        return relay;
      }
      break;
    }
    case state::backing_off: {
      if (event.what != k::backoff_done) break;
      ++of(leg_).attempt;
      if (leg_ == pd_leg::decode &&
          decode_retry_needs_prefill(settings_.decode_retry_kv, decode_.request_sent)) {
        // The failed decoder may have pulled the KV (the prefiller then frees it): prefill again, under a
        // new request id, then go on with this decode attempt.
        prefill_ = leg_state{};
        prefill_.attempt = 1;
        pd_action action = send(pd_leg::prefill, /*first_attempt=*/true);
        action.release_kv_hold = true;
        action.reprefill = ++reprefills_;
        return action;
      }
      return send(leg_, /*first_attempt=*/false);
    }
    case state::relaying:
      if (event.what != k::relay_ended) break;
      if (event.failure == backend_failure::none) return finish(pd_outcome::completed);
      return finish(event.stopping ? pd_outcome::shutting_down : pd_outcome::midstream_error);
    case state::answering:
      if (event.what != k::client_answered && event.what != k::stopped) break;
      return finish(answer_outcome_);
    case state::done:
      return {};
  }
  // An event the state does not expect: a driver bug. End the request rather than guess.
  if (state_ == state::relaying || state_ == state::answering) return finish(pd_outcome::backend_error);
  return answer(errc::internal, "internal error: unexpected PD flow event", pd_outcome::backend_error);
}

pd_action pd_flow::send(pd_leg leg, bool first_attempt) {
  state_ = leg == pd_leg::prefill ? state::prefilling : state::decoding;
  leg_ = leg;
  pd_action action{
      .what = leg == pd_leg::prefill ? pd_action::kind::send_prefill : pd_action::kind::send_decode,
      .leg = leg};
  action.first_attempt = first_attempt;
  action.check_decode_role = leg == pd_leg::prefill && first_attempt;
  return action;
}

pd_action pd_flow::on_answer(pd_leg leg, const pd_event& event) {
  if (leg == pd_leg::prefill && is_success_status(event.status)) {
    const auto kv = find_kv_transfer_params(event.body);
    if (kv) {
      kv_transfer_params_.assign(*kv);
    } else {
      kv_transfer_params_.clear();
    }
    local_prefill_ = !kv;
    const bool first_decode = decode_.attempt == 0;  // else a re-prefill inside a decode attempt
    if (first_decode) decode_.attempt = 1;
    pd_action action = send(pd_leg::decode, first_decode);
    action.keep_kv_hold = true;
    return action;
  }
  if (!is_retryable_status(event.status)) {
    // The backend's own verdict on the request (e.g. prompt too long): not retried, passed through.
    return pass_through(event.status, event.content_type, event.body, pd_outcome::passed_through);
  }
  leg_state& last = of(leg);
  last.failure = backend_failure::none;
  last.request_sent = true;
  last.status = event.status;
  last.content_type.assign(event.content_type);
  last.body.assign(event.body);
  return next_attempt(leg);
}

pd_action pd_flow::on_leg_failed(pd_leg leg, const pd_event& event) {
  leg_state& last = of(leg);
  last.failure = event.failure;
  last.request_sent = event.request_sent;
  last.status = 0;
  last.content_type.clear();
  last.body.clear();
  return next_attempt(leg);
}

pd_action pd_flow::next_attempt(pd_leg leg) {
  const int attempt = of(leg).attempt;
  if (attempt >= settings_.attempts) return leg_exhausted(leg);
  state_ = state::backing_off;
  leg_ = leg;
  pd_action action{.what = pd_action::kind::back_off, .leg = leg};
  action.delay = retry_backoff(settings_.retry_delay, attempt + 1);
  return action;
}

pd_action pd_flow::leg_exhausted(pd_leg leg) {
  const leg_state& last = of(leg);
  if (last.status != 0 && !last.body.empty()) {
    return pass_through(last.status, last.content_type, last.body, pd_outcome::backend_error);
  }
  std::string message(to_string(leg));
  errc code = errc::backend_failed;
  if (last.status != 0) {
    message += " backend answered HTTP " + std::to_string(last.status) + " on every attempt";
  } else if (last.failure == backend_failure::timeout) {
    message += " backend timed out";
    code = errc::backend_timeout;
  } else {
    message += " backend failed (" + std::string(to_string(last.failure)) + ")";
  }
  return answer(code, std::move(message), pd_outcome::backend_error);
}

pd_action pd_flow::answer(errc code, std::string message, pd_outcome outcome, bool retry_after) {
  state_ = state::answering;
  answer_outcome_ = outcome;
  message_ = std::move(message);
  pd_action action{.what = pd_action::kind::answer_error, .leg = leg_};
  action.code = code;
  action.retry_after = retry_after;
  action.message = message_;
  return action;
}

pd_action pd_flow::pass_through(int status, std::string_view content_type, std::string_view body,
                                pd_outcome outcome) {
  state_ = state::answering;
  answer_outcome_ = outcome;
  pd_action action{.what = pd_action::kind::pass_through, .leg = leg_};
  action.status = status;
  action.content_type = content_type.empty() ? std::string_view("application/json") : content_type;
  action.body = body;
  return action;
}

pd_action pd_flow::finish(pd_outcome outcome) {
  state_ = state::done;
  outcome_ = outcome;
  return {};
}

}  // namespace pd_proxy
