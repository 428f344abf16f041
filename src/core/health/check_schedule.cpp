#include "pd_proxy/core/health/check_schedule.hpp"

#include <unordered_set>

namespace pd_proxy {

check_schedule::check_schedule(clock::duration interval, std::size_t concurrency, std::uint64_t seed)
    : interval_(interval), concurrency_(concurrency == 0 ? 1 : concurrency), random_(seed) {}

void check_schedule::sync(std::span<const backend_id> current, clock::time_point now) {
  const std::unordered_set<backend_id> wanted(current.begin(), current.end());
  for (auto it = entries_.begin(); it != entries_.end();) {
    if (wanted.contains(it->first)) {
      ++it;
      continue;
    }
    if (!it->second.in_flight) waiting_.erase({it->second.due, it->first});
    it = entries_.erase(it);  // an in-flight check of it still counts in in_flight_ until finished()
  }
  for (const backend_id id : current) {
    if (entries_.try_emplace(id, entry{now, false}).second) waiting_.emplace(now, id);
  }
}

std::optional<backend_id> check_schedule::take_due(clock::time_point now) {
  if (in_flight_ >= concurrency_ || waiting_.empty() || waiting_.begin()->first > now) return std::nullopt;
  const backend_id id = waiting_.begin()->second;
  waiting_.erase(waiting_.begin());
  entries_[id].in_flight = true;
  ++in_flight_;
  return id;
}

void check_schedule::finished(backend_id id, clock::time_point now) {
  if (in_flight_ > 0) --in_flight_;
  const auto found = entries_.find(id);
  if (found == entries_.end() || !found->second.in_flight) return;  // dropped meanwhile
  found->second.in_flight = false;
  found->second.due = now + jittered();
  waiting_.emplace(found->second.due, id);
}

check_schedule::clock::time_point check_schedule::next_due() const {
  return waiting_.empty() ? clock::time_point::max() : waiting_.begin()->first;
}

check_schedule::clock::duration check_schedule::jittered() {
  const auto tenth = interval_.count() / 10;
  if (tenth <= 0) return interval_;
  std::uniform_int_distribution<clock::rep> jitter(-tenth, tenth);
  return interval_ + clock::duration(jitter(random_));
}

}  // namespace pd_proxy
