// The backends one leg of a request tried, for request_context::tried.
#pragma once

#include <array>
#include <cstddef>
#include <span>
#include <vector>

#include "pd_proxy/core/backends/backend.hpp"

namespace pd_proxy {

/// The backends a leg tried, in the order it tried them. The first `inline_count` are kept in place: a leg
/// (a retry budget long, a handful) allocates nothing in the common case. Not thread-safe.
class tried_backends {
 public:
  static constexpr std::size_t inline_count = 4;

  void clear() {
    size_ = 0;
    spilled_.clear();
  }

  void add(backend_id id) {
    if (spilled_.empty() && size_ < inline_count) {
      in_place_[size_++] = id;
      return;
    }
    if (spilled_.empty()) spilled_.assign(in_place_.begin(), in_place_.begin() + size_);
    spilled_.push_back(id);
    ++size_;
  }

  std::size_t size() const { return size_; }

  /// Valid until the next add() or clear().
  std::span<const backend_id> view() const {
    return spilled_.empty() ? std::span<const backend_id>(in_place_.data(), size_)
                            : std::span<const backend_id>(spilled_);
  }

 private:
  std::array<backend_id, inline_count> in_place_{};
  std::vector<backend_id> spilled_;  // all of them, once more than inline_count were tried
  std::size_t size_ = 0;
};

}  // namespace pd_proxy
