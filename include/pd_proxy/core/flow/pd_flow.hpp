// The PD flow's decisions as a sans-io state machine, in the style of Boost.MySQL's algorithms: the driver
// (net/flow/pd_driver) reports what happened as a pd_event and executes the pd_action it gets back. Which
// statuses retry, the back-off, when the KV hold and the prompt are released, when a backend's answer passes
// through and how failures map to the client's error all live here, unit-tested without sockets.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "pd_proxy/core/backends/backend_failure.hpp"
#include "pd_proxy/core/config/config.hpp"
#include "pd_proxy/core/http/error.hpp"

namespace pd_proxy {

enum class pd_leg : std::uint8_t { prefill, decode };

/// "prefill" or "decode".
std::string_view to_string(pd_leg leg);

/// How a PD request ended, for counters and the access log (to_string gives the access log's names: "ok",
/// "client_abort", "backend_error", ...).
enum class pd_outcome : std::uint8_t {
  pending,          // not ended yet
  completed,        // the decoder's body was relayed whole
  midstream_error,  // the decoder failed after bytes reached the client (an SSE error event, or a cut body)
  backend_error,    // every attempt of a leg failed: a 502/504 (or the last backend error passed through)
  passed_through,   // a backend's own non-retryable answer (e.g. 400 prompt too long) was relayed
  no_backend,       // a role has no backend: 503
  shutting_down,    // the drain deadline stopped the request: 503 (or an SSE error event)
  client_gone,      // the client went away: nothing more was written
  rejected,         // --max-inflight: the queue was full or the wait timed out: 429
};

std::string_view to_string(pd_outcome outcome);

/// What happened since the last action. Views must stay valid until resume() returns.
struct pd_event {
  enum class kind : std::uint8_t {
    start,         // the request was read and checked: begin
    backoff_done,  // the back-off elapsed
    no_backend,    // the role has no usable candidate to reserve (`none_usable`: it has candidates, but every
                   // one is unhealthy or its breaker is open)
    leg_failed,    // the attempt failed before the backend answered (`failure`, `request_sent`)
    answered,      // the backend's final answer, read whole: `status`, `content_type`, `body` (prefill: any
                   // status; decode: only a non-2xx answer, a 2xx one is reported as first_byte)
    first_byte,    // the decoder's 2xx body began (its first bytes are in hand)
    relay_ended,   // the relay ended: `failure` none when the body was relayed whole; else it failed
                   // mid-stream (`stopping`: because the drain deadline stopped it)
    client_answered,  // the answer_error or pass_through action was written (or the client is gone)
    stopped,          // the drain deadline stopped the request before its answer started
    client_gone,      // the client went away (the coroutine was cancelled)
  };

  kind what = kind::start;
  backend_failure failure = backend_failure::none;
  bool request_sent = false;  // leg_failed: the backend received the whole request (it may have acted on it)
  bool stopping = false;      // relay_ended
  bool none_usable = false;   // no_backend
  bool no_decoder = false;  // no_backend: it is the decode role that has none (pd_action::check_decode_role)
  int status = 0;
  std::string_view content_type{};
  std::string_view body{};
};

/// What the driver does next.
struct pd_action {
  enum class kind : std::uint8_t {
    send_prefill,  // reserve a prefiller (avoiding those tried by this prefill: a new prefill when
                   // `first_attempt`) and send it the prefill body; report leg_failed, answered or no_backend
    send_decode,   // reserve a decoder (likewise) and send it the decode body with kv_transfer_params();
                   // report leg_failed, answered (non-2xx), first_byte or no_backend
    back_off,      // wait `delay` before the next attempt of `leg`; report backoff_done
    relay,         // release the KV hold and the prompt, relay the decoder's body; report relay_ended
    answer_error,  // answer the client `code` with `message` (with Retry-After when `retry_after`)
    pass_through,  // answer the client with a backend's own `status`, `content_type` and `body`
    done,          // nothing more to do: outcome() says how the request ended
  };

  kind what = kind::done;
  pd_leg leg = pd_leg::prefill;
  bool first_attempt = false;      // send_*: the first attempt of this leg (its tried set starts empty)
  bool check_decode_role = false;  // send_prefill: report no_backend (no_decoder) without reserving when the
                                   // decode role has no usable backend: no prefill is spent on KV that no
                                   // decoder could pull
  bool keep_kv_hold = false;       // send_decode: the prefill just succeeded; its reservation is the KV hold
  bool release_kv_hold = false;    // send_prefill: a new prefill for a decode retry: give up the old KV hold
                                   // first and use request id "<id>-reprefill<reprefill>"
  int reprefill = 0;
  seconds_d delay{0};               // back_off
  errc code = errc::internal;       // answer_error
  bool retry_after = false;         // answer_error: add Retry-After (the client may simply retry)
  std::string_view message{};       // answer_error; valid until the next resume()
  int status = 0;                   // pass_through
  std::string_view content_type{};  // pass_through: never empty (application/json when the backend sent none)
  std::string_view body{};          // pass_through
};

struct pd_flow_settings {
  int attempts = 1;  // per leg, at least 1
  seconds_d retry_delay{0};
  ::pd_proxy::decode_retry_kv decode_retry_kv = ::pd_proxy::decode_retry_kv::reuse;

  static pd_flow_settings from(const proxy_config& config);
};

/// One PD request's decisions. Not thread-safe; one per request.
class pd_flow {
 public:
  explicit pd_flow(const pd_flow_settings& settings) : settings_(settings) {}

  /// Takes what happened and returns what to do next. Events the current state does not expect end the
  /// flow with a 500 (a driver bug), never undefined behaviour.
  pd_action resume(const pd_event& event);

  pd_outcome outcome() const { return outcome_; }
  /// The attempt in progress on `leg` (1-based), and the attempts allowed per leg: for logs.
  int attempt(pd_leg leg) const { return leg == pd_leg::prefill ? prefill_.attempt : decode_.attempt; }
  int attempts() const { return settings_.attempts; }
  /// The prefiller's kv_transfer_params (raw JSON text), empty when it sent none (the decoder prefills
  /// locally). Valid from the send_decode action on.
  std::string_view kv_transfer_params() const { return kv_transfer_params_; }
  /// The last prefill answered 2xx without kv_transfer_params.
  bool local_prefill() const { return local_prefill_; }

 private:
  enum class state : std::uint8_t { idle, prefilling, decoding, backing_off, relaying, answering, done };

  // The last failed attempt of a leg, for the client's error once no attempt is left.
  struct leg_state {
    int attempt = 0;
    backend_failure failure = backend_failure::none;
    bool request_sent = false;
    int status = 0;  // non-zero: the backend answered with a retryable error
    std::string content_type;
    std::string body;
  };

  pd_action send(pd_leg leg, bool first_attempt);
  pd_action on_answer(pd_leg leg, const pd_event& event);
  pd_action on_leg_failed(pd_leg leg, const pd_event& event);
  pd_action next_attempt(pd_leg leg);
  pd_action leg_exhausted(pd_leg leg);
  pd_action answer(errc code, std::string message, pd_outcome outcome, bool retry_after = false);
  pd_action pass_through(int status, std::string_view content_type, std::string_view body,
                         pd_outcome outcome);
  pd_action finish(pd_outcome outcome);
  leg_state& of(pd_leg leg) { return leg == pd_leg::prefill ? prefill_ : decode_; }

  pd_flow_settings settings_;
  state state_ = state::idle;
  pd_leg leg_ = pd_leg::prefill;  // the leg being attempted (or backed off)
  leg_state prefill_;
  leg_state decode_;
  int reprefills_ = 0;
  bool local_prefill_ = false;
  pd_outcome outcome_ = pd_outcome::pending;
  pd_outcome answer_outcome_ = pd_outcome::pending;  // what the answer being written means
  std::string kv_transfer_params_;
  std::string message_;  // the answer_error message
};

/// The client's error after the decoder failed mid-stream: 503 "proxy shutting down" when the drain deadline
/// stopped it, 504 for a stall, else 502.
struct midstream_error_info {
  errc code;
  std::string_view message{};
};
midstream_error_info midstream_error(bool stopping, backend_failure failure);

}  // namespace pd_proxy
