#include "pd_proxy/core/scheduling/prefix_affinity_policy.hpp"

#include "pd_proxy/core/scheduling/least_loaded_policy.hpp"

namespace pd_proxy {

void prefix_affinity_policy::add(backend& b, const fixed_load& load) {
  if (by_load_.contains(b)) return;
  const std::int64_t key = least_loaded_policy::key(load);
  by_load_.add(b, key);
  ring_.add(b);
  total_load_ += key;
}

void prefix_affinity_policy::remove(backend& b) {
  if (!by_load_.contains(b)) return;
  total_load_ -= by_load_.key_of(b);
  by_load_.remove(b);
  ring_.remove(b);
}

void prefix_affinity_policy::load_changed(backend& b, const fixed_load& load) {
  if (!by_load_.contains(b)) return;
  const std::int64_t key = least_loaded_policy::key(load);
  total_load_ += key - by_load_.key_of(b);
  by_load_.update(b, key);
}

bool prefix_affinity_policy::above_bound(std::int64_t key) const {
  // key > factor * total / n, without the division.
  return static_cast<double>(key) * static_cast<double>(by_load_.size()) >
         load_factor_ * static_cast<double>(total_load_);
}

backend* prefix_affinity_policy::pick(const request_context& request) {
  const std::uint64_t key = affinity_key(request);
  if (key == 0 || by_load_.empty()) return by_load_.pick(request);
  ++keyed_picks_;
  bool first = true;
  backend* chosen = ring_.walk(key, [&](backend& b) {
    const bool owner = first;
    first = false;
    const bool ok = !request.was_tried(b.id()) && !above_bound(by_load_.key_of(b));
    if (!ok && owner) ++passed_over_;
    return ok;
  });
  return chosen != nullptr ? chosen : by_load_.pick(request);
}

}  // namespace pd_proxy
