// The candidates of a policy in pool order, with their loads: the index behind round-robin, random and
// power-of-two.
#pragma once

#include <cstddef>
#include <cstdint>
#include <unordered_map>
#include <vector>

#include "pd_proxy/core/backends/backend.hpp"
#include "pd_proxy/core/backends/fixed_load.hpp"
#include "pd_proxy/core/scheduling/request_context.hpp"

namespace pd_proxy {

/// Candidates in the order they were added (pool order), each with the load it last reported. Lookup by
/// position or id is O(1); add is amortized O(1); remove is O(n) (it keeps the order; candidates change
/// rarely, picks often). Not thread-safe.
class candidate_list {
 public:
  struct entry {
    backend* target;
    fixed_load load;
  };

  /// No-op when `b` is already in.
  void add(backend& b, const fixed_load& load);
  /// No-op when `b` is not in.
  void remove(const backend& b);
  /// No-op when `b` is not in.
  void load_changed(const backend& b, const fixed_load& load);

  std::size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }
  const entry& operator[](std::size_t i) const { return entries_[i]; }
  /// The first position at or after `start` (wrapping) whose backend `request` did not try; size() when it
  /// tried them all. O(1) plus one step per tried backend passed over. `start` < size().
  std::size_t first_untried(std::size_t start, const request_context& request) const;

 private:
  std::vector<entry> entries_;
  std::unordered_map<backend_id, std::size_t> position_;  // candidate id -> its index in entries_
};

}  // namespace pd_proxy
