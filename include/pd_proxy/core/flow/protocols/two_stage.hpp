// vLLM's two-stage PD protocol (--pd-protocol two-stage, the default; the reference proxy's): a prefill
// with max_tokens 1 whose answer carries kv_transfer_params, then the client's request with those params on
// a decoder, whose body is relayed to the client.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "pd_proxy/core/flow/action_plan.hpp"
#include "pd_proxy/core/flow/answer_rewrite.hpp"
#include "pd_proxy/core/flow/flow_machine.hpp"
#include "pd_proxy/core/flow/flow_settings.hpp"
#include "pd_proxy/core/flow/request_rewrite.hpp"

namespace pd_proxy {

/// Leg 0 is the prefill, leg 1 the decode. The prefill leg's reservation is the KV hold: it stays until the
/// decoder's first byte (the decoder has pulled the KV by then). Which statuses retry (429, 5xx; any other
/// non-2xx is the backend's verdict, passed through), the back-off (retry_backoff), a decode retry that
/// re-prefills under "<id>-reprefill<k>" (--decode-retry-kv reprefill, once the failed decoder received the
/// request), "no prefill is spent when no decoder is usable", and the client's error once a leg has no
/// attempt left are all decided here. A prompt estimated below --disagg-min-prompt-tokens (skips_prefill,
/// core/flow/disaggregation.hpp) skips the prefill leg: the decode leg alone, with the client's body and no
/// kv_transfer_params (the decoder prefills locally), its retries as any decode's but never re-prefilled.
/// The prefill answer's usage.prompt_tokens_details.cached_tokens, when it has one, goes into the relayed
/// answer's final usage (flow_settings::usage_from_prefiller). A client's `prompt_logprobs` goes to the
/// prefill leg only (the decoder, which computes none of the prompt, is not asked), and the prefiller's
/// prompt_logprobs into the relayed answer (core/flow/answer_rewrite.hpp); a skipped prefill leaves both to
/// the decoder.
class two_stage final : public flow_machine {
 public:
  static constexpr leg_id prefill_leg = 0;
  static constexpr leg_id decode_leg = 1;

  /// `request` and `request_id` must outlive the machine.
  two_stage(const flow_settings& settings, const client_request& request, std::string_view request_id);

  // One is made per request: its block is recycled by the thread (core/memory/recycled_blocks.hpp).
  static void* operator new(std::size_t size);
  static void operator delete(void* block);

  flow_action resume(const flow_event& event) override;

  request_outcome outcome() const override { return outcome_; }
  bool local_prefill() const override { return local_prefill_; }
  bool prefill_skipped() const override { return skip_prefill_; }

  /// The attempt in progress on `leg` (1-based) and the attempts allowed per leg.
  int attempt(leg_id leg) const { return of(leg).attempt; }
  int attempts() const { return settings_.attempts; }
  /// The prefiller's kv_transfer_params (raw JSON text), empty when it sent none. Valid from the decode's
  /// reserve on.
  std::string_view kv_transfer_params() const { return kv_transfer_params_; }

 private:
  enum class state : std::uint8_t {
    idle,
    checking_decoders,  // check_role(decode) before a first prefill attempt
    reserving,          // reserve on leg_
    sending,            // send on leg_: awaiting its head
    reading_answer,     // read_body on leg_: a prefill answer, or a decoder's error answer
    reading_first,      // read_first_byte on the decode leg
    backing_off,        // back_off before the next attempt on leg_
    relaying,           // relay of the decode leg
    answering,          // answer_error or pass_through
    done,
  };

  // The last failed attempt of a leg, for the client's error once no attempt is left.
  struct leg_state {
    int attempt = 0;
    backend_failure failure = backend_failure::none;
    bool request_sent = false;
    int status = 0;  // non-zero: the backend answered with a retryable error
    std::string content_type;
    std::string body;
  };

  flow_action next();  // the plan's next action, or wait
  flow_action pop();   // the plan's next action (marked then_wait when it is asynchronous and the last)
  flow_action begin_prefill(bool first_attempt);
  flow_action begin_local_prefill();  // a skipped prefill: straight to the decode leg
  flow_action reserve(leg_id leg, bool fresh);
  flow_action on_reserved();
  flow_action on_no_backend(const flow_event& event, bool no_decoder);
  flow_action on_head(const flow_event& event);
  flow_action on_answer(const flow_event& event);
  flow_action on_leg_failed(const flow_event& event);
  flow_action on_backoff_done();
  flow_action next_attempt(leg_id leg);
  flow_action leg_exhausted(leg_id leg);
  flow_action answer(errc code, std::string message, request_outcome outcome, bool retry_after = false);
  flow_action pass_through(int status, std::string_view content_type, std::string_view body,
                           request_outcome outcome);
  flow_action finish(request_outcome outcome);
  request_outcome failure_outcome() const;  // backend_error, or timeout when the last failure was one
  leg_state& of(leg_id leg) { return leg == prefill_leg ? prefill_ : decode_; }
  const leg_state& of(leg_id leg) const { return leg == prefill_leg ? prefill_ : decode_; }
  static backend_role role_of(leg_id leg) {
    return leg == prefill_leg ? backend_role::prefill : backend_role::decode;
  }
  std::string_view request_id() const { return reprefill_id_.empty() ? request_id_ : reprefill_id_; }

  flow_settings settings_;
  const client_request& request_;
  std::string_view request_id_;
  state state_ = state::idle;
  leg_id leg_ = prefill_leg;  // the leg being attempted (or backed off)
  action_plan plan_;
  leg_state prefill_;
  leg_state decode_;
  bool first_attempt_ = true;  // the attempt being reserved is its leg's first (its tried set is new)
  bool holds_kv_ = false;      // the prefill leg holds a prefiller's KV for the decode
  int reprefills_ = 0;
  bool local_prefill_ = false;
  bool skip_prefill_ = false;  // the prompt is below --disagg-min-prompt-tokens: no prefill leg at all
  backend_failure last_failure_ = backend_failure::none;  // the request's last failure, of any leg
  request_outcome outcome_ = request_outcome::ok;
  request_outcome answer_outcome_ = request_outcome::ok;  // what the answer being written means
  std::string kv_transfer_params_;
  answer_rewrite rewrite_;    // from the last prefill answer: what the relay changes in the decoder's answer
  std::string reprefill_id_;  // "<id>-reprefill<k>" once the k-th new prefill started
  spliced_body prefill_body_;
  spliced_body decode_body_;
  std::string message_;  // the answer_error message
};

/// The registry's factory (core/flow/protocols/registry.hpp).
std::unique_ptr<flow_machine> make_two_stage(const flow_settings& settings, const client_request& request,
                                             std::string_view request_id);

}  // namespace pd_proxy
