// The pending call-back keys of the requests in flight (flow_action::expect_signals): which request a
// backend's call-back belongs to. Pure bookkeeping; net/flow/signal_board delivers the call-backs.
#pragma once

#include <algorithm>
#include <cstddef>
#include <map>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>

namespace pd_proxy {

/// A bounded map from key to the request (`Owner`, e.g. a shared_ptr to its inbox) and the key's index in
/// that request's keys. A key is taken once: the first call-back on it claims it, a later one finds nothing.
/// Thread-safe: the call-back arrives on any worker, its request lives on one.
template <class Owner>
class signal_table {
 public:
  /// At most `capacity` keys pending at once, all requests together.
  explicit signal_table(std::size_t capacity) : capacity_(capacity) {}

  enum class add_result { added, full, duplicate };

  /// Registers every key of `keys` for `owner`, key i with index i, or none of them: `full` when they would
  /// go beyond the capacity, `duplicate` when one is pending already (or `keys` names one twice).
  add_result add(std::span<const std::string> keys, const Owner& owner) {
    std::lock_guard lock(mutex_);
    if (keys.size() > capacity_ - std::min(capacity_, pending_.size())) return add_result::full;
    for (std::size_t i = 0; i < keys.size(); ++i) {
      if (pending_.contains(keys[i])) {
        for (std::size_t k = 0; k < i; ++k) pending_.erase(keys[k]);
        return add_result::duplicate;
      }
      pending_.emplace(keys[i], std::pair<Owner, std::size_t>(owner, i));
    }
    return add_result::added;
  }

  /// The owner and index of `key`, which is no longer pending; nullopt when it was not.
  std::optional<std::pair<Owner, std::size_t>> take(std::string_view key) {
    std::lock_guard lock(mutex_);
    const auto it = pending_.find(key);
    if (it == pending_.end()) return std::nullopt;
    auto taken = std::move(it->second);
    pending_.erase(it);
    return taken;
  }

  /// Unregisters those of `keys` still pending for `owner` (a key another request registered since stays).
  void remove(std::span<const std::string> keys, const Owner& owner) {
    std::lock_guard lock(mutex_);
    for (const auto& key : keys) {
      const auto it = pending_.find(key);
      if (it != pending_.end() && it->second.first == owner) pending_.erase(it);
    }
  }

  /// The keys pending now.
  std::size_t size() const {
    std::lock_guard lock(mutex_);
    return pending_.size();
  }
  std::size_t capacity() const { return capacity_; }

 private:
  mutable std::mutex mutex_;
  std::map<std::string, std::pair<Owner, std::size_t>, std::less<>> pending_;
  std::size_t capacity_;
};

}  // namespace pd_proxy
