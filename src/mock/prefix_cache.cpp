#include "pd_proxy/mock/prefix_cache.hpp"

#include <algorithm>
#include <string_view>

namespace pd_proxy::mock {
namespace {

constexpr std::uint64_t fnv_offset = 14695981039346656037ULL;
constexpr std::uint64_t fnv_prime = 1099511628211ULL;
constexpr block_hash first_parent = 0x9e3779b97f4a7c15ULL;  // the parent of block 0 (vLLM: NONE_HASH)

void mix(std::uint64_t& h, std::string_view bytes) {
  for (const char c : bytes) {
    h ^= static_cast<unsigned char>(c);
    h *= fnv_prime;
  }
}

void mix(std::uint64_t& h, std::uint64_t value) {
  for (int i = 0; i < 8; ++i) {
    h ^= (value >> (8 * i)) & 0xff;
    h *= fnv_prime;
  }
}

}  // namespace

std::vector<block_hash> prompt_block_hashes(const rendered_prompt& prompt, std::size_t block_tokens,
                                            std::size_t chars_per_token) {
  block_tokens = std::max<std::size_t>(1, block_tokens);
  chars_per_token = std::max<std::size_t>(1, chars_per_token);
  const std::string_view text = prompt.text;
  const std::size_t tokens = (text.size() + chars_per_token - 1) / chars_per_token;
  const std::size_t block_chars = block_tokens * chars_per_token;
  std::vector<block_hash> hashes;
  hashes.reserve(tokens / block_tokens);
  block_hash parent = first_parent;
  std::size_t part = 0;
  for (std::size_t b = 0; b < tokens / block_tokens; ++b) {
    const std::size_t begin = b * block_chars;
    const std::size_t end = std::min(text.size(), begin + block_chars);
    std::uint64_t h = fnv_offset;
    mix(h, parent);
    mix(h, static_cast<std::uint64_t>(end - begin));
    mix(h, text.substr(begin, end - begin));
    for (; part < prompt.parts.size() && prompt.parts[part].offset < end; ++part) {
      if (prompt.parts[part].offset < begin) continue;  // out of order: ignored rather than misplaced
      mix(h, static_cast<std::uint64_t>(prompt.parts[part].offset - begin) + 1);
      mix(h, prompt.parts[part].label);
      mix(h, std::string_view("\0", 1));
    }
    hashes.push_back(h);
    parent = h;
  }
  return hashes;
}

//------------------------------------------------------------------------------

prefix_cache::prefix_cache(std::size_t capacity_blocks, std::size_t block_tokens)
    : capacity_(capacity_blocks), block_tokens_(std::max<std::size_t>(1, block_tokens)) {
  index_.reserve(std::min<std::size_t>(capacity_, 1 << 16));
}

int prefix_cache::lookup(std::span<const block_hash> hashes, int prompt_tokens) const {
  if (!enabled() || prompt_tokens <= 1) return 0;
  const std::size_t max_blocks = static_cast<std::size_t>(prompt_tokens - 1) / block_tokens_;
  std::size_t hit = 0;
  while (hit < std::min(max_blocks, hashes.size()) && contains(hashes[hit])) ++hit;
  return static_cast<int>(hit * block_tokens_);
}

void prefix_cache::insert(std::span<const block_hash> hashes) {
  if (!enabled()) return;
  for (auto it = hashes.rbegin(); it != hashes.rend(); ++it) {
    if (auto found = index_.find(*it); found != index_.end()) {
      recency_.splice(recency_.begin(), recency_, found->second);
      continue;
    }
    if (index_.size() >= capacity_) {  // reuse the least recent block's node for the new one
      index_.erase(recency_.back());
      recency_.splice(recency_.begin(), recency_, std::prev(recency_.end()));
      recency_.front() = *it;
    } else {
      recency_.push_front(*it);
    }
    index_.emplace(*it, recency_.begin());
  }
}

void prefix_cache::clear() {
  recency_.clear();
  index_.clear();
}

}  // namespace pd_proxy::mock
