// The prefiller's prompt_logprobs, put into the decoder's answer (issue 22, "prompt_logprobs"): the decoder
// pulled the prompt's KV and computed none of its logits, so only the prefiller can tell them (vllm-ascend
// #13363). Pure text splices: every other byte of the decoder's answer stays as it was.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pd_proxy {

class client_request;

/// Whether the client asked for prompt_logprobs: its top-level `prompt_logprobs` is there and not `null`
/// (vLLM answers them for any integer, 0 included).
bool asks_prompt_logprobs(const client_request& request);

/// A prefill answer's prompt_logprobs where vLLM puts them (raw JSON arrays, each checked by is_valid_json):
/// a chat completion's top-level member, a completion's member of each choice (one per prompt and `n`,
/// matched to the decoder's choices by `index`). `null` or absent ones are not kept.
struct prompt_logprobs {
  struct of_choice {
    std::string index;  // the choice's `index`, digits
    std::string value;
  };
  std::string top_level;  // empty: none
  std::vector<of_choice> choices;

  bool empty() const { return top_level.empty() && choices.empty(); }
  void clear() {
    top_level.clear();
    choices.clear();
  }
};

/// Reads `prefill_answer` (a JSON object) into `out` (cleared first). O(answer size); allocates the copies.
void read_prompt_logprobs(std::string_view prefill_answer, prompt_logprobs& out);

/// Which of the prompt_logprobs a rewrite still has to place: a stream places each in the first chunk that
/// can carry it (the top-level one in the first chunk with a `choices` array, a choice's in the first chunk
/// that has a choice of its `index`); a whole body places them all at once.
struct prompt_logprobs_pending {
  bool top_level = false;
  std::vector<bool> choices;  // parallel to prompt_logprobs::choices
  std::size_t choices_left = 0;

  /// Everything of `logprobs` is still to place.
  static prompt_logprobs_pending all_of(const prompt_logprobs& logprobs);
  bool done() const { return !top_level && choices_left == 0; }
};

/// `answer` (a JSON object with a top-level `choices` array: a whole body or a stream chunk) with the
/// pending prompt_logprobs set, each then marked placed in `pending`: the top-level `prompt_logprobs`, and
/// the `prompt_logprobs` of each element of `choices` whose `index` has a pending value. A member that is
/// there (`null` or the decoder's own figure) gets the prefiller's value in its place; an absent one is
/// appended as its object's last member. Keys, order and spacing are kept. nullopt when nothing was set.
std::optional<std::string> with_prompt_logprobs(std::string_view answer, const prompt_logprobs& logprobs,
                                                prompt_logprobs_pending& pending);

}  // namespace pd_proxy
