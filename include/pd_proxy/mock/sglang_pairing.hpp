// pd-mock's SGLang PD roles (--disaggregation-mode prefill|decode): the bootstrap fields a request must
// carry, and the pairing of a decode with its prefill by room. A prefill engine offers its room once its
// prompt is computed and answers only after a decoder claimed it; the decoder reaches the prefill engine at
// bootstrap_host:bootstrap_port (in pd-mock the engine's own HTTP port serves POST /bootstrap/claim, so give
// the proxy --prefiller-bootstrap-ports equal to the prefillers' ports) and long-polls it until the room is
// ready, for at most --bootstrap-timeout. Either side gives up after that timeout, as SGLang's KV sender and
// receiver do.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "pd_proxy/core/flow/request_rewrite.hpp"
#include "pd_proxy/core/time/duration.hpp"
#include "pd_proxy/mock/openai_format.hpp"
#include "pd_proxy/net/net.hpp"

namespace pd_proxy {
class client_response;
}

namespace pd_proxy::mock {

/// SGLang's `--disaggregation-bootstrap-port` default, used when a request's bootstrap_port is null.
inline constexpr std::uint16_t default_bootstrap_port = 8998;

/// SGLang's message for a disaggregated request without a room (scheduler `handle_generate_request`, 400).
inline constexpr std::string_view missing_room_message =
    "Invalid request: Disaggregated request received without bootstrap room id";

/// A request's bootstrap fields: scalars, or arrays of one length (the first entry pairs the request).
struct bootstrap_fields {
  std::string host;
  std::optional<std::uint16_t> port;  // null: default_bootstrap_port
  std::uint64_t room = 0;
  std::size_t entries = 0;  // 0 for scalars, else the arrays' length
  std::string error;        // the 400 message when the fields are unusable; empty otherwise
};

/// Reads and checks the fields as an engine in a disaggregation mode does: a missing or null
/// bootstrap_room is refused with missing_room_message; a room that is not an integer in [0, 2^63-1], a
/// bootstrap_host that is not a string, a port outside 1..65535, or arrays of different lengths are refused
/// too.
bootstrap_fields read_bootstrap_fields(const json& body);

/// The rooms one prefill engine offers. Used on the engine's I/O thread only.
class bootstrap_rooms {
 public:
  /// The prefill of `room` is computed: waits until a decoder claimed it (true), or `timeout` passed or the
  /// request was cancelled (false). The room is forgotten either way.
  net::awaitable<bool> offer(std::uint64_t room, seconds_d timeout);
  /// A decoder's claim: true when `room` is offered (its prefill then answers), false when it is unknown or
  /// already claimed.
  bool claim(std::uint64_t room);
  /// Waits until `room` is offered (true) or `limit` passed (false): a claim that came first long-polls.
  net::awaitable<bool> await_offer(std::uint64_t room, seconds_d limit);
  /// Rooms offered and not yet claimed.
  std::size_t size() const { return offered_.size(); }

 private:
  struct offered {
    net::steady_timer* wake = nullptr;
    bool claimed = false;
  };
  std::map<std::uint64_t, offered> offered_;
  std::multimap<std::uint64_t, net::steady_timer*> claimers_;  // claims waiting for their room's offer
};

/// POST /bootstrap/claim `{"room": N}` on the prefill engine: 200 when claimed (waiting up to half a second
/// for the room to be offered), 404 otherwise.
net::awaitable<std::pair<int, std::string>> answer_bootstrap_claim(bootstrap_rooms& rooms, std::string body);

/// The decode role: claims `fields.room` from the prefill engine at bootstrap_host:bootstrap_port, polling
/// until it answers 200 or `timeout` passed (an unreachable or unready prefill is polled again). False on
/// timeout or cancellation.
net::awaitable<bool> claim_from_prefill(const bootstrap_fields& fields, std::string_view request_id,
                                        seconds_d timeout);

/// The prefill role's answer once paired: an ordinary one-token completion, SSE when `stream`.
net::awaitable<void> answer_one_token(client_response& response, const completion_spec& spec, bool stream,
                                      std::string_view text);

}  // namespace pd_proxy::mock
