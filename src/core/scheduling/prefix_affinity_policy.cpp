#include "pd_proxy/core/scheduling/prefix_affinity_policy.hpp"

namespace pd_proxy {

void prefix_affinity_policy::add(backend& b, const fixed_load& load) {
  if (!inflight_.try_emplace(b.id(), load.inflight).second) return;
  by_load_.add(b, load_key(load));
  ring_.add(b);
  total_inflight_ += load.inflight;
}

void prefix_affinity_policy::remove(backend& b) {
  const auto found = inflight_.find(b.id());
  if (found == inflight_.end()) return;
  total_inflight_ -= found->second;
  inflight_.erase(found);
  by_load_.remove(b);
  ring_.remove(b);
}

void prefix_affinity_policy::load_changed(backend& b, const fixed_load& load) {
  const auto found = inflight_.find(b.id());
  if (found == inflight_.end()) return;
  total_inflight_ = total_inflight_ - found->second + load.inflight;
  found->second = load.inflight;
  by_load_.update(b, load_key(load));
}

bool prefix_affinity_policy::above_bound(const backend& b) const {
  const auto found = inflight_.find(b.id());
  const double load = found == inflight_.end() ? 0.0 : static_cast<double>(found->second);
  const double mean = static_cast<double>(total_inflight_) / static_cast<double>(inflight_.size());
  return load > load_factor_ * mean && load > mean + affinity_slack;
}

backend* prefix_affinity_policy::pick(const request_context& request) {
  const std::uint64_t key = affinity_key(request);
  if (key == 0 || by_load_.empty()) return by_load_.pick(request);
  ++keyed_picks_;
  std::size_t refused = 0;
  backend* chosen = ring_.walk(key, [&](backend& b) {
    if (refused == max_refusals) return true;  // give up: least-loaded decides below
    if (!request.was_tried(b.id()) && !above_bound(b)) return true;
    ++refused;
    return false;
  });
  if (refused > 0) ++passed_over_;
  return chosen != nullptr && refused < max_refusals ? chosen : by_load_.pick(request);
}

}  // namespace pd_proxy
