// A mock engine's prefix cache, as vLLM's automatic prefix caching behaves: chained hashes of the prompt's
// full blocks, kept in an LRU; a lookup counts the longest run of leading blocks present.
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

namespace pd_proxy::mock {

using block_hash = std::uint64_t;

/// Where one part of a prompt starts in its rendered text: a chat message (label: its role) or one string of
/// a completions prompt list (label empty).
struct prompt_part {
  std::size_t offset = 0;
  std::string label;
};

/// A prompt as the token estimate sees it: `text` holds exactly the characters the estimate counts
/// (chars_per_token of them to a token), `parts` where each message or prompt string starts, in order.
struct rendered_prompt {
  std::string text;
  std::vector<prompt_part> parts;
};

/// The hashes of the prompt's full blocks of `block_tokens` tokens (`chars_per_token` characters each; the
/// token count is ceil(text / chars_per_token), as the estimate's). Chained as vLLM chains them: block i's
/// hash covers block i-1's hash, block i's characters and the parts starting in it, so equal hashes at i
/// mean equal prompts up to the end of block i. A trailing partial block gets no hash. Deterministic across
/// processes (FNV-1a).
std::vector<block_hash> prompt_block_hashes(const rendered_prompt& prompt, std::size_t block_tokens,
                                            std::size_t chars_per_token);

/// An LRU of at most `capacity_blocks` block hashes; capacity 0 turns it off (nothing is kept, nothing hits).
/// Not thread-safe (one per engine, used on its thread). Memory is bounded by the capacity.
class prefix_cache {
 public:
  prefix_cache(std::size_t capacity_blocks, std::size_t block_tokens);

  bool enabled() const { return capacity_ > 0; }

  /// The tokens of a `prompt_tokens`-token prompt whose full blocks hash to `hashes` that the cache serves:
  /// the leading run of blocks present, in whole blocks, and at most prompt_tokens - 1 tokens (vLLM always
  /// computes the last prompt token, whose logits it needs). Leaves recency unchanged.
  int lookup(std::span<const block_hash> hashes, int prompt_tokens) const;

  /// Inserts or refreshes every block of a prompt just prefilled, evicting the least recently used blocks
  /// beyond the capacity. The first block ends the most recent and the last the least recent of them, as
  /// vLLM frees a request's blocks tail first: a prompt's tail is evicted before its head.
  void insert(std::span<const block_hash> hashes);

  /// Forgets every block (POST /reset_prefix_cache).
  void clear();

  std::size_t size() const { return index_.size(); }
  std::size_t capacity() const { return capacity_; }
  std::size_t block_tokens() const { return block_tokens_; }
  bool contains(block_hash hash) const { return index_.count(hash) != 0; }

 private:
  std::size_t capacity_;
  std::size_t block_tokens_;
  std::list<block_hash> recency_;  // most recently used first
  std::unordered_map<block_hash, std::list<block_hash>::iterator> index_;
};

}  // namespace pd_proxy::mock
