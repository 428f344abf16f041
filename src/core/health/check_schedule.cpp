#include "pd_proxy/core/health/check_schedule.hpp"

#include <algorithm>
#include <unordered_set>

namespace pd_proxy {

check_schedule::check_schedule(clock::duration interval, std::size_t concurrency, std::uint64_t seed)
    : interval_(interval), concurrency_(concurrency == 0 ? 1 : concurrency), random_(seed) {}

namespace {

// std::push_heap and std::pop_heap build a max-heap: this order puts the earliest due time on top.
constexpr auto later = [](const auto& a, const auto& b) { return a > b; };

}  // namespace

void check_schedule::sync(std::span<const backend_id> current, clock::time_point now) {
  const std::unordered_set<backend_id> wanted(current.begin(), current.end());
  for (auto it = entries_.begin(); it != entries_.end();) {
    if (wanted.contains(it->first)) {
      ++it;
      continue;
    }
    if (!it->second.in_flight) --waiting_live_;  // its slot turns stale
    it = entries_.erase(it);  // an in-flight check of it still counts in in_flight_ until finished()
  }
  for (const backend_id id : current) {
    if (entries_.try_emplace(id, entry{now, false}).second) {
      waiting_.emplace_back(now, id);
      std::push_heap(waiting_.begin(), waiting_.end(), later);
      ++waiting_live_;
    }
  }
  if (waiting_.size() > 2 * waiting_live_ + 64) rebuild();
  drop_stale_top();
}

std::optional<backend_id> check_schedule::take_due(clock::time_point now) {
  if (in_flight_ >= concurrency_ || waiting_.empty() || waiting_.front().first > now) return std::nullopt;
  const backend_id id = waiting_.front().second;
  std::pop_heap(waiting_.begin(), waiting_.end(), later);
  waiting_.pop_back();
  --waiting_live_;
  entries_.find(id)->second.in_flight = true;  // the top is always live: its entry exists
  ++in_flight_;
  drop_stale_top();
  return id;
}

void check_schedule::finished(backend_id id, clock::time_point now) {
  if (in_flight_ > 0) --in_flight_;
  const auto found = entries_.find(id);
  if (found == entries_.end() || !found->second.in_flight) return;  // dropped meanwhile
  found->second.in_flight = false;
  found->second.due = now + jittered();
  waiting_.emplace_back(found->second.due, id);
  std::push_heap(waiting_.begin(), waiting_.end(), later);
  ++waiting_live_;
}

check_schedule::clock::time_point check_schedule::next_due() const {
  return waiting_.empty() ? clock::time_point::max() : waiting_.front().first;
}

bool check_schedule::live(const slot& s) const {
  const auto found = entries_.find(s.second);
  return found != entries_.end() && !found->second.in_flight && found->second.due == s.first;
}

void check_schedule::drop_stale_top() {
  while (!waiting_.empty() && !live(waiting_.front())) {
    std::pop_heap(waiting_.begin(), waiting_.end(), later);
    waiting_.pop_back();
  }
}

void check_schedule::rebuild() {
  waiting_.clear();
  for (const auto& [id, e] : entries_) {
    if (!e.in_flight) waiting_.emplace_back(e.due, id);
  }
  std::make_heap(waiting_.begin(), waiting_.end(), later);
  waiting_live_ = waiting_.size();
}

check_schedule::clock::duration check_schedule::jittered() {
  const auto tenth = interval_.count() / 10;
  if (tenth <= 0) return interval_;
  std::uniform_int_distribution<clock::rep> jitter(-tenth, tenth);
  return interval_ + clock::duration(jitter(random_));
}

}  // namespace pd_proxy
