// Candidates ordered by an integer load key, with fair tie-breaking: the index behind least-loaded and
// queue-aware.
#pragma once

#include <cstddef>
#include <cstdint>
#include <set>
#include <unordered_map>

#include "pd_proxy/core/backends/backend.hpp"
#include "pd_proxy/core/scheduling/request_context.hpp"

namespace pd_proxy {

/// Backends ordered by (key, pool order): the least key wins, ties go to the first candidate at or after a
/// cursor (in pool order = the order candidates were added, wrapping around) that advances past every pick,
/// so consecutive picks among equals visit every one in turn (the reference breaks ties by pool index and
/// sends an idle cluster's every request to index 0, vllm-ascend #3124). Tried backends are avoided while
/// an untried candidate exists. A pick is O(log n) plus O(k) visited entries for k tried backends; a key
/// change moves one node (extract/insert, no allocation). Not thread-safe.
class load_ordered_index {
 public:
  /// `b` with `key` (no-op when `b` is already in).
  void add(backend& b, std::int64_t key);
  /// No-op when `b` is not in.
  void remove(const backend& b);
  /// `b`'s key is now `key` (no-op when `b` is not in).
  void update(const backend& b, std::int64_t key);
  /// The least-keyed candidate as above; nullptr only when empty. Advances the tie cursor.
  backend* pick(const request_context& request);
  /// The least-keyed candidate without moving the cursor or looking at tried sets; nullptr when empty.
  backend* least() const { return index_.empty() ? nullptr : index_.begin()->target; }
  bool contains(const backend& b) const { return where_.contains(b.id()); }
  /// `b`'s key; 0 when `b` is not in.
  std::int64_t key_of(const backend& b) const;
  bool empty() const { return index_.empty(); }
  std::size_t size() const { return index_.size(); }

  /// Index entries the last pick examined (for tests and benchmarks: at most 3 + 2k for k tried backends).
  std::size_t last_pick_visits() const { return last_pick_visits_; }

 private:
  struct entry {
    std::int64_t key;
    std::uint64_t order;  // position in pool order: increases with every add
    backend* target;
  };
  struct by_key_then_order {
    bool operator()(const entry& a, const entry& b) const {
      return a.key != b.key ? a.key < b.key : a.order < b.order;
    }
  };
  using index = std::set<entry, by_key_then_order>;

  index::const_iterator first_untried(index::const_iterator from, index::const_iterator to,
                                      const request_context& request);

  index index_;
  std::unordered_map<backend_id, index::const_iterator> where_;  // candidate id -> its entry
  std::uint64_t next_order_ = 0;
  std::uint64_t cursor_ = 0;  // ties go to the first order >= cursor_ (wrapping)
  std::size_t last_pick_visits_ = 0;
};

}  // namespace pd_proxy
