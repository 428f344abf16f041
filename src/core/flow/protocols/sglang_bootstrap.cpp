#include "pd_proxy/core/flow/protocols/sglang_bootstrap.hpp"

#include "pd_proxy/core/flow/bootstrap_body.hpp"
#include "pd_proxy/core/flow/retry.hpp"

namespace pd_proxy {

std::unique_ptr<flow_machine> make_sglang_bootstrap(const flow_settings& settings,
                                                    const client_request& request,
                                                    std::string_view request_id) {
  return std::make_unique<sglang_bootstrap>(settings, request, request_id);
}

sglang_bootstrap::sglang_bootstrap(const flow_settings& settings, const client_request& request,
                                   std::string_view request_id)
    : settings_(settings), request_(request), request_id_(request_id) {
  if (settings_.attempts < 1) settings_.attempts = 1;
}

flow_action sglang_bootstrap::next() {
  if (plan_.empty()) return settle();
  return pop();
}

flow_action sglang_bootstrap::pop() {
  flow_action action = plan_.pop();
  action.then_wait = plan_.empty() && is_asynchronous(action.what) && state_ != state::done;
  return action;
}

flow_action sglang_bootstrap::settle() {
  if (state_ == state::done) return {};
  return {.what = flow_action::kind::wait};
}

flow_action sglang_bootstrap::resume(const flow_event& event) {
  using k = flow_event::kind;
  if (event.what == k::client_gone) {
    if (state_ == state::done) return {};
    // The client got its whole answer when the relay ended well: only the prefill's tail was awaited.
    return finish(relay_ended_ ? outcome_ : request_outcome::client_abort);
  }
  if (event.what == k::done_sync || event.what == k::started) {
    if (!plan_.empty()) return pop();
    return settle();
  }
  if (state_ == state::done) return {};
  if (event.what == k::stopped) {
    if (state_ == state::answering) return finish(answer_outcome_);
    if (state_ != state::relaying) {
      end_open_legs();
      return answer(errc::shutting_down, "proxy shutting down", request_outcome::shutting_down,
                    /*retry_after=*/true);
    }
    // The drain stopped the prefill's tail while the decode's body goes out: nothing to attribute.
    if (event.leg == prefill_leg) end_leg(prefill_leg, /*report=*/false);
    if (relay_ended_) state_ = state::done;
    return next();
  }
  if (event.leg < 2 && event.what != k::reserved && event.what != k::no_backend) busy_[event.leg] = false;
  switch (state_) {
    case state::idle:
      if (event.what != k::start) break;
      attempt_ = 1;
      return begin_attempt();
    case state::reserving:
      if (event.what == k::reserved && event.leg == leg_) return on_reserved(event);
      if (event.what == k::no_backend && event.leg == leg_) return on_no_backend(event);
      break;
    case state::running:
      if (event.what == k::head) return on_head(event);
      if (event.what == k::body) return on_body(event);
      if (event.what == k::leg_failed && event.leg < 2) {
        return pair_failed(event.leg, event.failure, 0, {}, {});
      }
      if (event.what == k::first_byte && event.leg == decode_leg) {
        // The client's answer begins: from here on no failure of either leg is retried.
        state_ = state::relaying;
        busy_[decode_leg] = true;
        flow_action& relay = plan_.add(flow_action::kind::relay, decode_leg);
        relay.timeout = settings_.stream_idle_timeout;
        return next();
      }
      break;
    case state::relaying:
      if (event.what == k::relay_ended && event.leg == decode_leg) return on_relay_ended(event);
      if (event.leg != prefill_leg) break;
      if (event.what == k::head) return on_head(event);
      if (event.what == k::body) return on_prefill_over(leg_result_of_answer(event.status));
      if (event.what == k::leg_failed) {
        last_failure_ = event.failure;
        return on_prefill_over(leg_result::failed);
      }
      break;
    case state::backing_off:
      if (event.what != k::backoff_done) break;
      ++attempt_;
      return begin_attempt();
    case state::answering:
      if (event.what != k::client_answered) break;
      return finish(answer_outcome_);
    case state::done:
      return {};
  }
  // An event the state does not expect: a driver bug. End the request rather than guess.
  if (state_ == state::relaying || state_ == state::answering) return finish(request_outcome::backend_error);
  end_open_legs();
  return answer(errc::internal, "internal error: unexpected PD flow event", request_outcome::backend_error);
}

flow_action sglang_bootstrap::begin_attempt() {
  // A fresh room per attempt: the last pair's engines may still hold the old one while they abort.
  members_.clear();
  body_ = {};
  return reserve(prefill_leg, fresh_[prefill_leg]);
}

flow_action sglang_bootstrap::reserve(leg_id leg, bool fresh) {
  state_ = state::reserving;
  leg_ = leg;
  flow_action& action = plan_.add(flow_action::kind::reserve, leg);
  action.role = role_of(leg);
  action.fresh = fresh;
  action.attempt = attempt_;
  action.attempts = settings_.attempts;
  return next();
}

flow_action sglang_bootstrap::on_reserved(const flow_event& event) {
  open_[event.leg] = true;
  if (event.leg == prefill_leg) {
    if (event.target == nullptr) {
      end_open_legs();
      return answer(errc::internal, "internal error: a reserve without its backend",
                    request_outcome::backend_error);
    }
    host_.assign(event.target->address().host);
    members_ = ::pd_proxy::bootstrap_members({host_, event.target->address().bootstrap_port},
                                             bootstrap_batch_size(request_), random_bootstrap_room());
    return reserve(decode_leg, fresh_[decode_leg]);
  }
  // Both legs are reserved: the same body goes to both at once.
  body_ = splice_bootstrap_body(request_, members_);
  state_ = state::running;
  busy_[prefill_leg] = busy_[decode_leg] = true;
  flow_action& prefill = plan_.add(flow_action::kind::send, prefill_leg);
  prefill.body = &body_;
  prefill.request_id = request_id_;
  prefill.timeout = settings_.prefill_timeout;
  flow_action& decode = plan_.add(flow_action::kind::send, decode_leg);
  decode.body = &body_;
  decode.request_id = request_id_;
  // The decoder's first byte waits for the prefill's KV: its limit runs from the shared start.
  decode.timeout = settings_.first_token_timeout;
  return next();
}

flow_action sglang_bootstrap::on_no_backend(const flow_event& event) {
  const leg_id missing = event.leg;
  if (missing == decode_leg) end_leg(prefill_leg, /*report=*/false);  // reserved for nothing
  // A retry that finds no usable backend answers with the failure it retries; a first attempt answers 503
  // at once.
  if (attempt_ > 1) return exhausted();
  std::string message = event.none_usable ? "no healthy " : "no ";
  message += to_string(role_of(missing));
  message += event.none_usable ? " instance is available" : " instance is configured";
  return answer(errc::no_backend, std::move(message), request_outcome::no_backend, /*retry_after=*/true);
}

flow_action sglang_bootstrap::on_head(const flow_event& event) {
  const leg_id leg = event.leg;
  busy_[leg] = true;
  if (leg == decode_leg && is_success_status(event.status)) {
    plan_.add(flow_action::kind::read_first_byte, decode_leg);
    return next();
  }
  // The prefill's answer (any status) is read whole within its deadline and discarded; a decoder's error
  // answer within the idle timeout.
  flow_action& read = plan_.add(flow_action::kind::read_body, leg);
  if (leg == decode_leg) read.timeout = settings_.stream_idle_timeout;
  return next();
}

flow_action sglang_bootstrap::on_body(const flow_event& event) {
  const leg_id leg = event.leg;
  if (leg == prefill_leg && is_success_status(event.status)) {
    // The prefill is over (its KV went to the decoder): its answer is discarded, the decode goes on.
    end_leg(prefill_leg, /*report=*/true, leg_result_of_answer(event.status));
    return next();
  }
  if (is_retryable_status(event.status)) {
    return pair_failed(leg, backend_failure::none, event.status, event.content_type, event.body);
  }
  // The backend's own verdict on the request (e.g. SGLang's 400 for a missing bootstrap_room): passed
  // through, and the other leg, which cannot succeed without it, is closed.
  end_leg(leg, /*report=*/true, leg_result_of_answer(event.status));
  end_open_legs();
  if (!is_success_status(event.status)) {
    return pass_through(event.status, event.content_type, event.body, request_outcome::backend_rejected);
  }
  return answer(errc::internal, "internal error: unexpected PD flow event", request_outcome::backend_error);
}

flow_action sglang_bootstrap::on_prefill_over(leg_result result) {
  if (open_[prefill_leg]) end_leg(prefill_leg, /*report=*/true, result);
  if (relay_ended_) state_ = state::done;
  return next();
}

flow_action sglang_bootstrap::on_relay_ended(const flow_event& event) {
  relay_ended_ = true;
  if (event.failure == backend_failure::none) {
    end_leg(decode_leg, /*report=*/true, leg_result::succeeded);
    outcome_ = request_outcome::ok;
  } else if (event.stopping) {
    end_leg(decode_leg, /*report=*/false);  // nothing to attribute: the decoder did not fail
    outcome_ = request_outcome::shutting_down;
  } else {
    last_failure_ = event.failure;
    end_leg(decode_leg, /*report=*/true, leg_result::failed);
    outcome_ = failure_outcome();
  }
  // The prefill's answer is read to its end (dropping it would look like a client abort to the engine).
  if (!open_[prefill_leg] && !busy_[prefill_leg]) state_ = state::done;
  return next();
}

flow_action sglang_bootstrap::pair_failed(leg_id leg, backend_failure failure, int status,
                                          std::string_view content_type, std::string_view body) {
  if (failure != backend_failure::none) last_failure_ = failure;
  last_.leg = leg;
  last_.failure = failure;
  last_.status = status;
  last_.content_type.assign(content_type);
  last_.body.assign(body);
  // The failed leg is reported; the other is closed at once (its engine aborts the request) and unreported.
  end_leg(leg, /*report=*/true, status != 0 ? leg_result_of_answer(status) : leg_result::failed);
  end_open_legs();
  if (attempt_ >= settings_.attempts) return exhausted();
  fresh_[leg] = false;
  fresh_[leg == prefill_leg ? decode_leg : prefill_leg] = true;
  state_ = state::backing_off;
  leg_ = leg;
  flow_action& back_off = plan_.add(flow_action::kind::back_off, leg);
  back_off.role = role_of(leg);
  back_off.timeout = retry_backoff(settings_.retry_delay, attempt_ + 1);
  return next();
}

flow_action sglang_bootstrap::exhausted() {
  if (last_.status != 0 && !last_.body.empty()) {
    return pass_through(last_.status, last_.content_type, last_.body, failure_outcome());
  }
  std::string message(to_string(role_of(last_.leg)));
  errc code = errc::backend_failed;
  if (last_.status != 0) {
    message += " backend answered HTTP " + std::to_string(last_.status) + " on every attempt";
  } else if (last_.failure == backend_failure::timeout) {
    message += " backend timed out";
    code = errc::backend_timeout;
  } else {
    message += " backend failed (";
    message += to_string(last_.failure);
    message += ")";
  }
  return answer(code, std::move(message), failure_outcome());
}

void sglang_bootstrap::end_leg(leg_id leg, bool report, leg_result result) {
  if (!open_[leg] && !busy_[leg]) return;
  flow_action& end = plan_.add(flow_action::kind::end_leg, leg);
  end.with_report = report && open_[leg];
  end.result = result;
  open_[leg] = false;
  busy_[leg] = false;
}

void sglang_bootstrap::end_open_legs() {
  end_leg(prefill_leg, /*report=*/false);
  end_leg(decode_leg, /*report=*/false);
}

request_outcome sglang_bootstrap::failure_outcome() const {
  return last_failure_ == backend_failure::timeout ? request_outcome::timeout
                                                   : request_outcome::backend_error;
}

flow_action sglang_bootstrap::answer(errc code, std::string message, request_outcome outcome,
                                     bool retry_after) {
  state_ = state::answering;
  answer_outcome_ = outcome;
  message_ = std::move(message);
  flow_action& action = plan_.add(flow_action::kind::answer_error, leg_);
  action.code = code;
  action.retry_after = retry_after;
  action.message = message_;
  return next();
}

flow_action sglang_bootstrap::pass_through(int status, std::string_view content_type, std::string_view body,
                                           request_outcome outcome) {
  state_ = state::answering;
  answer_outcome_ = outcome;
  // The view must outlive the write: the event's body is the leg's answer, which end_leg does not free, but
  // keep a copy as exhausted() does, in last_.
  if (body.data() != last_.body.data()) {
    last_.content_type.assign(content_type);
    last_.body.assign(body);
  }
  flow_action& action = plan_.add(flow_action::kind::pass_through, leg_);
  action.status = status;
  action.content_type =
      last_.content_type.empty() ? std::string_view("application/json") : last_.content_type;
  action.text = last_.body;
  return next();
}

flow_action sglang_bootstrap::finish(request_outcome outcome) {
  state_ = state::done;
  outcome_ = outcome;
  plan_.clear();
  return {};
}

}  // namespace pd_proxy
