// The KV blocks a mock prefiller holds for requests until a decoder claims them or they expire.
#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace pd_proxy::mock {

/// Fixed-size pool of block ids. Not thread-safe (one per engine, used on its thread). Memory is bounded by
/// the block count.
class kv_block_table {
 public:
  using time_point = std::chrono::steady_clock::time_point;

  kv_block_table(std::size_t total_blocks, std::size_t block_tokens);

  /// Reserves ceil(prompt_tokens / block_tokens) blocks (at least 1) for `request_id`, lowest free ids
  /// first. nullopt when not enough blocks are free or the id already holds blocks.
  std::optional<std::vector<int>> allocate(const std::string& request_id, int prompt_tokens, time_point now);

  /// A decoder pulled the KV: frees the blocks. False when `request_id` holds none (unknown, claimed or
  /// expired).
  bool claim(const std::string& request_id);

  /// Frees the blocks of requests allocated before `now - timeout`; returns how many requests expired.
  std::size_t expire(time_point now, std::chrono::steady_clock::duration timeout);

  std::size_t used_blocks() const { return total_ - free_.size(); }
  std::size_t total_blocks() const { return total_; }
  std::size_t held_requests() const { return held_.size(); }
  /// used / total, in [0, 1].
  double usage() const;

 private:
  struct holding {
    std::vector<int> blocks;
    time_point since;
  };
  void release(std::vector<int>& blocks);

  std::size_t total_;
  std::size_t block_tokens_;
  std::vector<int> free_;  // a min-heap (std::greater): the lowest free id on top, O(log n) per block
  std::map<std::string, holding> held_;
};

}  // namespace pd_proxy::mock
