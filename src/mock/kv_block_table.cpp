#include "pd_proxy/mock/kv_block_table.hpp"

#include <algorithm>
#include <functional>

namespace pd_proxy::mock {

kv_block_table::kv_block_table(std::size_t total_blocks, std::size_t block_tokens)
    : total_(total_blocks), block_tokens_(std::max<std::size_t>(1, block_tokens)) {
  free_.reserve(total_);
  for (std::size_t i = 0; i < total_; ++i)
    free_.push_back(static_cast<int>(i));  // ascending: a valid min-heap
}

std::optional<std::vector<int>> kv_block_table::allocate(const std::string& request_id, int prompt_tokens,
                                                         time_point now) {
  const std::size_t tokens = static_cast<std::size_t>(std::max(1, prompt_tokens));
  const std::size_t need = (tokens + block_tokens_ - 1) / block_tokens_;
  if (need > free_.size() || held_.count(request_id) != 0) return std::nullopt;
  std::vector<int> blocks;
  blocks.reserve(need);
  for (std::size_t i = 0; i < need; ++i) {
    std::pop_heap(free_.begin(), free_.end(), std::greater<>());
    blocks.push_back(free_.back());
    free_.pop_back();
  }
  held_.emplace(request_id, holding{blocks, now});
  return blocks;
}

void kv_block_table::release(std::vector<int>& blocks) {
  for (const int block : blocks) {
    free_.push_back(block);
    std::push_heap(free_.begin(), free_.end(), std::greater<>());
  }
  blocks.clear();
}

bool kv_block_table::claim(const std::string& request_id) {
  auto it = held_.find(request_id);
  if (it == held_.end()) return false;
  release(it->second.blocks);
  held_.erase(it);
  return true;
}

std::size_t kv_block_table::expire(time_point now, std::chrono::steady_clock::duration timeout) {
  std::size_t expired = 0;
  for (auto it = held_.begin(); it != held_.end();) {
    if (now - it->second.since >= timeout) {
      release(it->second.blocks);
      it = held_.erase(it);
      ++expired;
    } else {
      ++it;
    }
  }
  return expired;
}

double kv_block_table::usage() const {
  return total_ == 0 ? 0.0 : static_cast<double>(used_blocks()) / static_cast<double>(total_);
}

}  // namespace pd_proxy::mock
