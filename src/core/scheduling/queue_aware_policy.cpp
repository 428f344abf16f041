#include "pd_proxy/core/scheduling/queue_aware_policy.hpp"

#include <algorithm>
#include <cmath>

namespace pd_proxy {

std::int64_t queue_aware_policy::key(const backend_state& s) {
  const double queue = s.reported ? s.engine_queue + s.sent_since_report : s.inflight;
  if (!(queue > 0)) return 0;
  return std::llround(std::min(queue, 1e12) * 1000.0);
}

bool queue_aware_policy::stale(const backend_state& s, policy_settings::clock::time_point now) const {
  return s.reported && report_ttl_.count() > 0 && now - s.received > report_ttl_;
}

void queue_aware_policy::add(backend& b, const fixed_load& load) {
  const auto [it, inserted] = states_.try_emplace(b.id());
  if (!inserted) return;
  it->second.inflight = load.inflight;
  index_.add(b, key(it->second));
}

void queue_aware_policy::remove(backend& b) {
  if (states_.erase(b.id()) > 0) index_.remove(b);
}

void queue_aware_policy::load_changed(backend& b, const fixed_load& load) {
  const auto found = states_.find(b.id());
  if (found == states_.end()) return;
  backend_state& s = found->second;
  if (load.inflight > s.inflight) s.sent_since_report += load.inflight - s.inflight;
  s.inflight = load.inflight;
  index_.update(b, key(s));
}

void queue_aware_policy::load_reported(backend& b, const engine_load& load) {
  const auto found = states_.find(b.id());
  if (found == states_.end()) return;
  backend_state& s = found->second;
  s.reported = load.known && std::isfinite(load.running) && std::isfinite(load.waiting);
  s.engine_queue = s.reported ? std::max(0.0, load.running) + std::max(0.0, load.waiting) : 0.0;
  // When it was read (a report handed over again, to a new policy or a backend back in use, keeps its age);
  // a report without a time counts from now.
  const auto now = now_();
  s.received = load.read_at != policy_settings::clock::time_point{} ? std::min(load.read_at, now) : now;
  s.sent_since_report = 0;
  index_.update(b, key(s));
}

backend* queue_aware_policy::pick(const request_context& request) {
  const auto now = report_ttl_.count() > 0 ? now_() : policy_settings::clock::time_point{};
  for (std::size_t checked = 0; checked <= states_.size(); ++checked) {
    backend* chosen = index_.pick(request);
    if (chosen == nullptr) return nullptr;
    backend_state& s = states_.find(chosen->id())->second;
    if (!stale(s, now)) return chosen;
    s.reported = false;  // too old to trust: weigh it by this proxy's own requests until the next report
    index_.update(*chosen, key(s));
  }
  return index_.pick(request);
}

double queue_aware_policy::queue(const backend& b) const {
  const auto found = states_.find(b.id());
  return found == states_.end() ? 0.0 : static_cast<double>(key(found->second)) / 1000.0;
}

}  // namespace pd_proxy
