// SGLang's PD bootstrap members (--pd-protocol sglang-bootstrap): the one body a prefiller and a decoder both
// receive is the client's request plus `bootstrap_host`, `bootstrap_port` and `bootstrap_room`, scalars or,
// for a batch, arrays with one entry per item (sgl-model-gateway `inject_bootstrap_into_value`;
// docs/protocols.md).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "pd_proxy/core/flow/request_rewrite.hpp"

namespace pd_proxy {

/// The largest room: rooms are integers in [0, 2^63-1] (the gateway masks a random u64 with i64::MAX).
inline constexpr std::uint64_t max_bootstrap_room = 0x7fff'ffff'ffff'ffffULL;

/// The most entries a batch's bootstrap arrays get. A larger `n` (no engine serves one) gets scalars, which
/// the engine expands itself (io_struct `_normalize_bootstrap_params`: rooms room+i), so the body stays
/// small.
inline constexpr std::size_t max_bootstrap_batch = 65536;

/// How many bootstrap entries the request needs: 0 for scalars (one prompt, `n` absent or at most 1), else
/// the length of the arrays: the count of a completion `prompt` that is a list of prompts (strings or
/// token-id lists; a list of token ids is one prompt), else `n` when it is an integer above 1 (completions
/// and chat). A prompt list with `n > 1` gets one entry per prompt: the engine repeats a list `n` times.
/// Values are read as written, without parsing the document; anything malformed counts as one prompt (the
/// engine answers it).
std::size_t bootstrap_batch_size(const client_request& request);

/// The prefiller the bootstrap members name: its host as in its pool entry (canonical, an IPv6 literal
/// without brackets) and its bootstrap port, or none (JSON null: the engine uses its default, 8998).
struct bootstrap_target {
  std::string_view host;
  std::optional<std::uint16_t> port;
};

/// The three members as JSON text, each with a leading comma:
/// `,"bootstrap_host":"h","bootstrap_port":p|null,"bootstrap_room":r`, or arrays of `batch` entries with the
/// rooms first_room, first_room+1, ... (wrapping within [0, max_bootstrap_room], so all distinct) when
/// `batch` > 0. `first_room` is masked into the range.
std::string bootstrap_members(const bootstrap_target& target, std::size_t batch, std::uint64_t first_room);

/// The body of both legs: the client's members byte for byte and in order, except any `bootstrap_host`,
/// `bootstrap_port` or `bootstrap_room` of its own (dropped: a client does not choose where a decoder pulls
/// KV from), then `members` (bootstrap_members' text) before the closing brace. Valid while `request` and
/// `members` live unreleased. Never throws (but bad_alloc).
spliced_body splice_bootstrap_body(const client_request& request, std::string_view members);

/// A random room in [0, max_bootstrap_room] from a per-thread generator seeded once from std::random_device.
std::uint64_t random_bootstrap_room();

}  // namespace pd_proxy
