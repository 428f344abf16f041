// What pd-proxy changes in the decoder's answer before the client gets it, from the prefiller's answer: its
// usage.prompt_tokens_details.cached_tokens (core/flow/usage_rewrite.hpp) and its prompt_logprobs
// (core/flow/prompt_logprobs_rewrite.hpp). The protocol machine fills one answer_rewrite per request; the
// relay framer (core/sse/relay_framer.hpp) applies it through an answer_rewriter.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "pd_proxy/core/flow/prompt_logprobs_rewrite.hpp"

namespace pd_proxy {

/// The prefiller's figures for the decoder's answer. Empty: the answer is relayed as it comes.
struct answer_rewrite {
  std::string
      cached_tokens;         // digits: the final usage's prompt_tokens_details.cached_tokens; empty: as it is
  prompt_logprobs logprobs;  // empty: the answer's prompt_logprobs as they are

  bool empty() const { return cached_tokens.empty() && logprobs.empty(); }
};

/// Applies an answer_rewrite to one answer: a JSON body at once, or a stream event by event (a stream places
/// the prompt_logprobs in its first chunks, see prompt_logprobs_pending, and the cached_tokens in its final
/// usage chunk). Holds a reference to the rewrite, which must outlive it. Not thread-safe; one per answer.
class answer_rewriter {
 public:
  explicit answer_rewriter(const answer_rewrite& rewrite)
      : rewrite_(&rewrite), pending_(prompt_logprobs_pending::all_of(rewrite.logprobs)) {}

  /// Whether a streamed event whose data is `data` is to be rewritten: while prompt_logprobs are still to
  /// place, any JSON object; after that only the final usage chunk, and only with cached_tokens to set.
  bool concerns(std::string_view data) const;

  /// `sse` (whole events, the concerned ones among them) with their chunks rewritten; every other byte as it
  /// was. Marks the prompt_logprobs it placed.
  std::string rewrite_events(std::string_view sse);

  /// A whole JSON body with both rewrites; nullopt when nothing changed (not an object, no usage and no
  /// choice to carry the figures).
  std::optional<std::string> rewrite_body(std::string_view body);

 private:
  std::optional<std::string> rewrite_chunk(std::string_view data, bool final_usage_only);

  const answer_rewrite* rewrite_;
  prompt_logprobs_pending pending_;
};

}  // namespace pd_proxy
