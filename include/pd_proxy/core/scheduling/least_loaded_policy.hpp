// The reference proxy's least-loaded policy with fair tie-breaking, in O(log n) per pick.
#pragma once

#include <cstddef>
#include <cstdint>

#include "pd_proxy/core/scheduling/load_ordered_index.hpp"
#include "pd_proxy/core/scheduling/selection_policy.hpp"

namespace pd_proxy {

/// Lowest priority wins, priority = active_tokens + 0.3 * active_kv (the reference's formula; decoders have
/// no KV term), from this proxy's own reservations. Ties rotate in pool order and tried backends are avoided
/// (load_ordered_index). The key is 10 * tokens + 3 * kv in fixed point: exactly proportional to the
/// priority, so equal loads tie exactly.
class least_loaded_policy final : public selection_policy {
 public:
  void add(backend& b, const fixed_load& load) override { index_.add(b, key(load)); }
  void remove(backend& b) override { index_.remove(b); }
  void load_changed(backend& b, const fixed_load& load) override { index_.update(b, key(load)); }
  backend* pick(const request_context& request) override { return index_.pick(request); }

  /// The reference's priority of a load (for reading; picks compare key()).
  static double priority(const backend_load& load) { return load.active_tokens + 0.3 * load.active_kv; }
  /// 10 * priority, exactly, in fixed-point units.
  static std::int64_t key(const fixed_load& load) { return 10 * load.tokens + 3 * load.kv; }

  /// Index entries the last pick examined (for tests and benchmarks: at most 3 + 2k for k tried backends).
  std::size_t last_pick_visits() const { return index_.last_pick_visits(); }

 private:
  load_ordered_index index_;
};

}  // namespace pd_proxy
