// What a selection policy may know about the request it picks a backend for.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "pd_proxy/core/backends/backend.hpp"

namespace pd_proxy {

/// The proxy's estimate of a request's prompt tokens: its body's bytes / 4. No tokenizer: the estimate of
/// request_context::estimated_prompt_tokens, --disagg-min-prompt-tokens and the reference's scores.
constexpr std::size_t estimated_prompt_tokens(std::size_t body_bytes) {
  return body_bytes / 4;
}

/// A view of one leg's request, valid for the duration of the pick it is passed to. request_context_of
/// (request_context_of.hpp) builds it from the client's request.
struct request_context {
  /// Backends this leg already tried (a retry budget long: a handful). Policies avoid them while any untried
  /// candidate exists; when every candidate was tried, any may be picked again.
  std::span<const backend_id> tried{};
  std::size_t estimated_prompt_tokens = 0;
  /// Keys for affinity policies, 0 when the request has none (request_context_of.hpp says how they are made):
  /// a hash of the start of the rendered prompt (completions) or chat history, and of the session header.
  std::uint64_t prefix_key = 0;
  std::uint64_t session_key = 0;
  std::string_view model{};

  /// Whether `id` is in `tried`; a linear scan (O(tried.size())).
  bool was_tried(backend_id id) const { return std::find(tried.begin(), tried.end(), id) != tried.end(); }
};

}  // namespace pd_proxy
