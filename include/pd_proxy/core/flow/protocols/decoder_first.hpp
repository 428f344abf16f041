// vLLM-Ascend's layerwise PD protocol (--pd-protocol decoder-first): the request goes to a decoder first,
// which calls the proxy back on its metaserver URL with its KV parameters; the proxy then sends one prefill
// carrying them, and the prefiller pushes the KV to the decoder layer by layer while the decoder's stream
// goes to the client. docs/protocols.md "decoder-first" has the wire format and its sources.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "pd_proxy/core/flow/action_plan.hpp"
#include "pd_proxy/core/flow/flow_machine.hpp"
#include "pd_proxy/core/flow/flow_settings.hpp"
#include "pd_proxy/core/flow/request_rewrite.hpp"

namespace pd_proxy {

/// The vLLM request ids a decoder calls back with for a request sent under X-Request-Id `id`: chat
/// (a top-level `messages` member) "chatcmpl-<id>"; completions "cmpl-<id>-<i>", one per prompt when `prompt`
/// is a list of prompts (strings or token lists), else "cmpl-<id>-0" alone (a string, a token-id list).
std::vector<std::string> metaserver_request_ids(const client_request& request, std::string_view id);

/// The prefill's kv_transfer_params: the first id's posted object as it is, or for several ids a copy of it
/// with "batch_kv_transfer_params": {id: object, ...} appended (ids in order). `objects[i]` is the raw JSON
/// object posted for `ids[i]`; both have the same non-zero size.
std::string prefill_kv_transfer_params(const std::vector<std::string>& ids,
                                       const std::vector<std::string>& objects);

/// The decoder's kv_transfer_params: {"do_remote_decode":false,"do_remote_prefill":true,"metaserver":URL}
/// (`metaserver_url` JSON-escaped).
std::string decoder_kv_transfer_params(std::string_view metaserver_url);

/// An http:// or https:// URL with something after the scheme and no blank, quote, backslash or control
/// character (it goes into a JSON string and a backend's request line).
bool is_metaserver_url(std::string_view url);

/// A listen address that is no address a decoder can call: 0.0.0.0, ::, and their other spellings.
bool is_wildcard_host(std::string_view host);

/// http://<host>:<port>/v1/metaserver (https:// when `tls`; an IPv6 host in brackets).
std::string default_metaserver_url(std::string_view host, std::uint16_t port, bool tls = false);

/// A fresh random version-4 UUID from the system's random device: unguessable, so that only the decoder it
/// was sent to can call back for it (docs/security.md). Thread-safe.
std::string new_secret_request_id();

/// Leg 0 is the prefill, leg 1 the decode. A round is one decoder attempt: a fresh secret request id R (the
/// X-Request-Id of both legs, never the client's: the call-back ids are capabilities), the decoder reserved,
/// its call-back ids registered (expect_signals), the decoder sent its body while the call-backs are awaited;
/// once all arrived, one prefill (retried on other prefillers as two-stage's). The call-backs are answered
/// 200 once the prefill succeeded, 502 once it failed; a prefill that fails for good ends the decoder leg at
/// once and answers the client. A decoder failing before its first byte ends the round (its call-backs get
/// 502, a prefill in flight is closed) and the next round starts on another decoder, within the attempts.
/// A decoder that does not call back within metaserver_timeout fails the request with 504.
class decoder_first final : public flow_machine {
 public:
  static constexpr leg_id prefill_leg = 0;
  static constexpr leg_id decode_leg = 1;

  /// `request` must outlive the machine. `request_id` (the client's) is only for the caller's logs.
  decoder_first(const flow_settings& settings, const client_request& request, std::string_view request_id);

  flow_action resume(const flow_event& event) override;
  request_outcome outcome() const override { return outcome_; }

  /// The current round's X-Request-Id (R) and call-back ids; empty before the first round.
  std::string_view backend_request_id() const { return round_id_; }
  const std::vector<std::string>& callback_ids() const { return ids_; }
  int attempt(leg_id leg) const { return leg == prefill_leg ? prefill_.attempt : decode_.attempt; }

 private:
  enum class phase : std::uint8_t {
    idle,
    checking,     // check_role(prefill) before the first round
    reserving,    // reserve on the leg
    expecting,    // decode: expect_signals, its result next
    sending,      // send: awaiting the head
    reading,      // read_body: a prefill's answer or a decoder's error answer
    first,        // decode: read_first_byte
    relaying,     // decode: relay
    backing_off,  // back_off before the leg's next attempt
    succeeded,    // prefill: answered 2xx
    over,         // the leg has nothing more to do
  };

  struct leg_state {
    phase at = phase::idle;
    int attempt = 0;
    backend_failure failure = backend_failure::none;
    int status = 0;  // non-zero: the last attempt answered with a retryable error
    std::string content_type;
    std::string body;
  };

  flow_action next();
  flow_action pop();
  flow_action on_event(const flow_event& event);
  flow_action begin_round(bool fresh);
  flow_action on_decoder_reserved();
  flow_action on_signals_registered();
  flow_action on_signal(const flow_event& event);
  flow_action begin_prefill(bool fresh);
  flow_action on_prefill_event(const flow_event& event);
  flow_action prefill_attempt_failed();
  flow_action prefill_failed(errc code, std::string message);
  flow_action on_decode_event(const flow_event& event);
  flow_action decode_attempt_failed();
  flow_action on_first_byte();
  flow_action on_backoff_done();
  flow_action end_signals(int status, std::string_view body);
  void await_signal();
  flow_action answer(errc code, std::string message, request_outcome outcome, bool retry_after = false);
  flow_action pass_through(int status, std::string_view content_type, std::string_view body,
                           request_outcome outcome);
  flow_action finish(request_outcome outcome);
  std::string exhausted_message(backend_role role, const leg_state& last, errc& code) const;
  request_outcome failure_outcome() const;
  bool client_answered() const { return decode_.at == phase::relaying || answering_; }

  flow_settings settings_;
  const client_request& request_;
  basic_action_plan<8> plan_;
  leg_state prefill_;
  leg_state decode_;
  bool done_ = false;
  bool answering_ = false;            // answer_error or pass_through in flight
  bool awaiting_ = false;             // an await_signal is in flight
  bool collecting_ = false;           // the round's call-backs are wanted
  bool prefill_wanted_ = false;       // the round's prefill is wanted (dispatched, not yet over)
  leg_id backoff_leg_ = prefill_leg;  // whose next attempt the back-off in flight leads to
  bool backoff_running_ = false;
  std::size_t received_ = 0;
  std::string round_id_;
  std::vector<std::string> ids_;
  std::vector<std::string> objects_;  // the posted objects, by id
  std::string decoder_kv_;
  std::string prefill_kv_;
  spliced_body decode_body_;
  spliced_body prefill_body_;
  backend_failure last_failure_ = backend_failure::none;
  request_outcome outcome_ = request_outcome::ok;
  request_outcome answer_outcome_ = request_outcome::ok;
  std::string message_;        // the answer_error message, or the pass_through body
  std::string content_type_;   // the pass_through type
  std::string signal_answer_;  // the answer_signals body
};

/// The registry's factory (core/flow/protocols/registry.hpp).
std::unique_ptr<flow_machine> make_decoder_first(const flow_settings& settings, const client_request& request,
                                                 std::string_view request_id);

}  // namespace pd_proxy
