// The vocabulary between a PD protocol's state machine (core/flow/flow_machine.hpp) and the driver that runs
// it on sockets (net/flow/pd_driver): the driver reports a flow_event, the machine answers with the next
// flow_action. Both name the leg they concern: a leg is one backend exchange slot of the request (the
// prefill, the decode, ...), numbered by the machine, kept across the attempts of that leg.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "pd_proxy/core/backends/backend.hpp"
#include "pd_proxy/core/backends/backend_failure.hpp"
#include "pd_proxy/core/flow/request_rewrite.hpp"
#include "pd_proxy/core/http/error.hpp"
#include "pd_proxy/core/observe/request_outcome.hpp"
#include "pd_proxy/core/scheduling/leg_reservation.hpp"
#include "pd_proxy/core/scheduling/leg_result.hpp"
#include "pd_proxy/core/time/duration.hpp"

namespace pd_proxy {

struct answer_rewrite;

/// A leg of one request, chosen by its machine: 0 <= leg < max_legs.
using leg_id = std::uint8_t;
inline constexpr std::size_t max_legs = 4;

/// What happened since the last action. Views stay valid until the next resume() returns (a leg's answer:
/// until the leg's next read).
struct flow_event {
  enum class kind : std::uint8_t {
    start,         // the request was read and checked: begin
    done_sync,     // the synchronous action (release, report, close, end_leg) was carried out
    started,       // the asynchronous action was started; its completion comes later as another event
    role_checked,  // check_role: `usable` says whether a reserve of the role would find a backend now
    reserved,      // reserve: `leg` holds a backend of its role now
    no_backend,    // reserve: the role has no usable candidate (`none_usable`: it has candidates, but every
                   // one is unhealthy or its breaker is open)
    head,          // send: the backend's answer head arrived: `status`, `content_type`
    body,          // read_body: the leg's answer was read whole: `body` (the head's status and type again)
    first_byte,    // read_first_byte: the leg's body began (its first bytes are in hand for the relay)
    leg_failed,    // an operation on `leg` failed: `failure`, `request_sent`
    backoff_done,  // back_off: the delay elapsed
    relay_ended,   // relay: `failure` none when the body was relayed whole; else it failed mid-stream
                   // (`stopping`: because the drain deadline stopped it)
    client_answered,  // answer_error / pass_through was written (or the client is gone)
    stopped,          // the drain deadline stopped the request before its answer started
    client_gone,      // the client went away: every leg is being closed
    driver_error,     // the driver could not carry the action out (a bug): the machine ends the request
    signal,           // await_signal: a backend called the proxy back on key `key` (of expect_signals'
                      // keys) with `body`
    signal_timeout,   // await_signal: the keys' deadline passed before every one called back
    signals_refused,  // expect_signals: the table of pending keys is full, or a key is pending already
  };

  kind what = kind::start;
  leg_id leg = 0;
  backend_failure failure = backend_failure::none;
  bool request_sent = false;  // leg_failed: the backend received the whole request (it may have acted on it)
  bool stopping = false;      // relay_ended
  bool none_usable = false;   // no_backend
  bool usable = false;        // role_checked
  int status = 0;             // head, body
  std::size_t key = 0;        // signal
  std::string_view content_type{};
  std::string_view body{};          // body, signal
  const backend* target = nullptr;  // reserved: the backend the leg holds (valid while the leg holds it)
};

/// What the driver does next. Synchronous actions (check_role, reserve, release, report, close, end_leg) are
/// carried out at once and answered with their result (done_sync for those without one). Asynchronous ones
/// (send, read_body, read_first_byte, relay, back_off, answer_error, pass_through) are started and answered
/// with `started`; their completion is reported after a `wait`. Several may be in flight, on different legs.
/// The views an action holds (body, request_id, message, text) must stay valid until its completion.
struct flow_action {
  enum class kind : std::uint8_t {
    check_role,       // whether `role` has a usable backend now (nothing is reserved)
    reserve,          // reserve a backend of `role` for `leg` with the request's scheduling context,
                      // avoiding the backends this leg tried (`fresh`: forget them first); `leg` must hold
                      // no reservation
    send,             // send `body` with X-Request-Id `request_id` to the leg's backend and await the answer
                      // head; the leg's deadline is `timeout` from now (zero: none)
    read_body,        // read the leg's whole answer body: within the leg's deadline, or within `timeout`
                      // from now when `timeout` is not zero
    read_first_byte,  // read the first bytes of the leg's 2xx body within the leg's deadline
    relay,            // relay the leg's body to the client (its first bytes were read): each read within
                      // `timeout`; `keep_request`: the client's request stays in memory (a continuation may
                      // need it), else it is freed now; `rewrite` not null: the answer is rewritten so
                      // (core/flow/answer_rewrite.hpp)
    release,          // release `hold` of the leg's reservation (the reservation and connection stay);
                      // `with_report`: report `result` first
    report,           // tell the leg's backend's health how the leg went: `result` (once per reservation)
    close,            // close the leg's connection, cancelling its operation in flight, if any
    end_leg,          // close the leg's connection and release its whole reservation: the leg is free;
                      // `with_report`: report `result` first
    back_off,         // wait `timeout` before the next attempt on a backend of `role`
    answer_error,     // answer the client `code` with `message` (with Retry-After when `retry_after`)
    pass_through,     // answer the client with a backend's own `status`, `content_type` and `body`
    wait,             // nothing more to start: report the next completion
    done,             // nothing more to do: outcome() says how the request ended
    // Call-backs: a backend that calls the proxy back (decoder-first's metaserver) reaches the request
    // through the keys it registered. No protocol that registers none pays for them.
    expect_signals,  // register `keys` (replacing the request's earlier ones): a call-back on one of them
                     // becomes a `signal` event; all must call back within `timeout` from now (zero: none)
    await_signal,    // asynchronous: the next call-back not yet reported (at once if one is queued), or
                     // signal_timeout once the deadline passed
    answer_signals,  // answer every call-back received so far and not yet answered: `status`, `text` (JSON)
    forget_signals,  // unregister the keys that did not call back: a call-back on them now finds nothing
  };

  kind what = kind::done;
  leg_id leg = 0;
  backend_role role = backend_role::prefill;  // check_role, reserve, back_off
  bool fresh = false;                         // reserve
  leg_hold hold = leg_hold::all;              // release
  leg_result result = leg_result::abandoned;  // report
  bool retry_after = false;                   // answer_error
  bool keep_request = false;                  // relay
  bool with_report = false;  // release, end_leg: first report `result`, as a report action would
  bool then_wait = false;    // asynchronous: the machine has nothing more to start, so the driver awaits the
                             // next completion without asking (its answer to `started` would be `wait`)
  int attempt = 0;           // reserve: the attempt of this leg it starts (1-based), for logs
  int attempts = 0;          // reserve: the attempts allowed
  seconds_d timeout{0};      // send, read_body, relay, back_off, expect_signals
  const spliced_body* body = nullptr;   // send; owned by the machine, valid until the leg's next send
  std::string_view request_id{};        // send: empty means the client's request id
  errc code = errc::internal;           // answer_error
  std::string_view message{};           // answer_error
  int status = 0;                       // pass_through, answer_signals
  std::string_view content_type{};      // pass_through: never empty
  std::string_view text{};              // pass_through: the body; answer_signals: the answer's body
  std::span<const std::string> keys{};  // expect_signals; owned by the machine, valid until its next one

  // relay; owned by the machine, valid until relay_ended. Null: the answer is relayed as it comes.
  const answer_rewrite* rewrite = nullptr;
};

/// Whether the driver answers `what` with `started` (and its completion later) rather than at once.
constexpr bool is_asynchronous(flow_action::kind what) {
  using k = flow_action::kind;
  return what == k::send || what == k::read_body || what == k::read_first_byte || what == k::relay ||
         what == k::back_off || what == k::answer_error || what == k::pass_through || what == k::await_signal;
}

}  // namespace pd_proxy
