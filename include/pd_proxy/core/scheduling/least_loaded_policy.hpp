// The reference proxy's least-loaded policy with fair tie-breaking, in O(log n) per pick.
#pragma once

#include <cstddef>
#include <cstdint>
#include <set>
#include <unordered_map>

#include "pd_proxy/core/scheduling/selection_policy.hpp"

namespace pd_proxy {

/// Lowest priority wins, priority = active_tokens + 0.3 * active_kv (the reference's formula; decoders have
/// no KV term). The reference breaks ties by pool index, so an idle cluster sends everything to index 0
/// (vllm-ascend #3124). Here ties go to the first candidate at or after a cursor (in pool order = the order
/// candidates were added, wrapping around) that advances past every pick, so consecutive requests to an
/// idle cluster visit every instance in turn. Tried backends are avoided while an untried candidate exists.
///
/// Candidates are kept in a set ordered by (key, pool order), key = 10 * tokens + 3 * kv in fixed point
/// (exactly proportional to the priority, so equal loads tie exactly). A pick is O(log n), plus O(k) visited
/// entries for k tried backends; a load change moves one node (extract/insert, no allocation).
class least_loaded_policy final : public selection_policy {
 public:
  void add(backend& b, const fixed_load& load) override;
  void remove(backend& b) override;
  void load_changed(backend& b, const fixed_load& load) override;
  backend* pick(const request_context& request) override;

  /// The reference's priority of a load (for reading; picks compare key()).
  static double priority(const backend_load& load) { return load.active_tokens + 0.3 * load.active_kv; }
  /// 10 * priority, exactly, in fixed-point units.
  static std::int64_t key(const fixed_load& load) { return 10 * load.tokens + 3 * load.kv; }

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
