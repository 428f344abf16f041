// SGLang's PD protocol (--pd-protocol sglang-bootstrap): one body, the client's request plus bootstrap_host,
// bootstrap_port and bootstrap_room (core/flow/bootstrap_body.hpp), sent at once to a prefiller and a
// decoder; the decoder pulls the KV from the prefiller's bootstrap server under that room, and its answer is
// relayed to the client as it arrives. Sources and the wire format: docs/protocols.md.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "pd_proxy/core/flow/action_plan.hpp"
#include "pd_proxy/core/flow/flow_machine.hpp"
#include "pd_proxy/core/flow/flow_settings.hpp"
#include "pd_proxy/core/flow/request_rewrite.hpp"

namespace pd_proxy {

/// Leg 0 is the prefill, leg 1 the decode; an attempt is a pair of them. Both are reserved (prefiller first:
/// the body names it), then both sends start together with the same body and X-Request-Id. The decode's 2xx
/// body is relayed from its first byte, whatever the prefill is doing; the prefill's answer is read whole and
/// discarded (its reservation ends with it; a prefill that fails once the client got bytes is reported and
/// nothing else: the decoder already has its KV). Before the client got a byte, either leg failing
/// (transport, timeout, 429 or 5xx) closes the other at once and, within `attempts` pairs, backs off and
/// tries a new pair with a new room (the failed leg's role avoids the backends it tried); once none is left,
/// the client gets 502 or 504 (or the backend's last error answer, passed through). A non-retryable error
/// answer (4xx) of either leg is passed through and closes the other. Each failure is reported on the leg
/// that failed; the other leg ends unreported (abandoned). The request ends once the relay ended and the
/// prefill's answer was read (or failed): no leg is cut short when nothing went wrong.
class sglang_bootstrap final : public flow_machine {
 public:
  static constexpr leg_id prefill_leg = 0;
  static constexpr leg_id decode_leg = 1;

  /// `request` and `request_id` must outlive the machine.
  sglang_bootstrap(const flow_settings& settings, const client_request& request, std::string_view request_id);

  flow_action resume(const flow_event& event) override;
  request_outcome outcome() const override { return outcome_; }

  /// The pair attempt in progress (1-based) and the attempts allowed.
  int attempt() const { return attempt_; }
  int attempts() const { return settings_.attempts; }
  /// The bootstrap members of the attempt's body (text with a leading comma), once both legs are reserved.
  std::string_view bootstrap_members() const { return members_; }

 private:
  enum class state : std::uint8_t {
    idle,
    reserving,    // reserve on leg_ (the prefill, then the decode)
    running,      // both legs in flight; nothing went to the client yet
    relaying,     // the decode's body goes to the client; the prefill may still be in flight
    backing_off,  // back_off before the next pair
    answering,    // answer_error or pass_through
    done,
  };

  // The last failure of a pair, for the client's error once no attempt is left.
  struct failure_record {
    leg_id leg = prefill_leg;
    backend_failure failure = backend_failure::none;
    int status = 0;  // non-zero: the backend answered with a retryable error
    std::string content_type;
    std::string body;
  };

  flow_action next();
  flow_action pop();
  flow_action begin_attempt();
  flow_action reserve(leg_id leg, bool fresh);
  flow_action on_reserved(const flow_event& event);
  flow_action on_no_backend(const flow_event& event);
  flow_action on_head(const flow_event& event);
  flow_action on_body(const flow_event& event);
  flow_action on_relay_ended(const flow_event& event);
  flow_action on_prefill_over(leg_result result);  // the prefill ended after the relay began
  flow_action pair_failed(leg_id leg, backend_failure failure, int status, std::string_view content_type,
                          std::string_view body);
  flow_action exhausted();
  void end_leg(leg_id leg, bool report, leg_result result = leg_result::abandoned);
  void end_open_legs();
  flow_action answer(errc code, std::string message, request_outcome outcome, bool retry_after = false);
  flow_action pass_through(int status, std::string_view content_type, std::string_view body,
                           request_outcome outcome);
  flow_action settle();  // wait while a leg is busy, else done
  flow_action finish(request_outcome outcome);
  request_outcome failure_outcome() const;
  static backend_role role_of(leg_id leg) {
    return leg == prefill_leg ? backend_role::prefill : backend_role::decode;
  }

  flow_settings settings_;
  const client_request& request_;
  std::string_view request_id_;
  state state_ = state::idle;
  leg_id leg_ = prefill_leg;  // the leg being reserved; the failed leg while backing off
  action_plan plan_;
  int attempt_ = 0;
  bool fresh_[2] = {true, true};   // the attempt's reserve of each leg forgets the backends the leg tried
  bool open_[2] = {false, false};  // the leg holds a reservation (an end_leg is due)
  bool busy_[2] = {false, false};  // an asynchronous action of the leg is outstanding
  bool relay_ended_ = false;       // the decode's relay ended: the request waits for the prefill only
  failure_record last_;
  backend_failure last_failure_ = backend_failure::none;
  request_outcome outcome_ = request_outcome::ok;
  request_outcome answer_outcome_ = request_outcome::ok;
  std::string host_;     // the reserved prefiller's host, for the body
  std::string members_;  // the bootstrap members of the attempt's body
  spliced_body body_;    // the body of both legs; valid until the next attempt
  std::string message_;
};

/// The registry's factory (core/flow/protocols/registry.hpp).
std::unique_ptr<flow_machine> make_sglang_bootstrap(const flow_settings& settings,
                                                    const client_request& request,
                                                    std::string_view request_id);

}  // namespace pd_proxy
