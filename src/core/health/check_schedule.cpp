#include "pd_proxy/core/health/check_schedule.hpp"

#include <algorithm>
#include <limits>
#include <unordered_set>

namespace pd_proxy {

std::chrono::steady_clock::duration recheck_delay(bool ever_healthy, std::uint32_t checks,
                                                  std::chrono::steady_clock::duration interval) {
  if (ever_healthy) return interval;
  std::chrono::steady_clock::duration delay = first_recheck_delay;
  for (std::uint32_t i = 1; i < checks && delay < interval; ++i) delay = delay * 3 / 2;
  return std::min(delay, interval);
}

check_schedule::check_schedule(clock::duration interval, std::size_t concurrency, std::uint64_t seed)
    : interval_(interval), concurrency_(concurrency == 0 ? 1 : concurrency), random_(seed) {}

namespace {

// std::push_heap and std::pop_heap build a max-heap: this order puts the earliest due time on top.
constexpr auto later = [](const auto& a, const auto& b) { return a.due > b.due; };

}  // namespace

void check_schedule::sync(std::span<const backend_id> current, clock::time_point now) {
  const std::unordered_set<backend_id> wanted(current.begin(), current.end());
  for (auto it = slot_by_id_.begin(); it != slot_by_id_.end();) {
    if (wanted.contains(it->first)) {
      ++it;
      continue;
    }
    slot_state& s = slots_[it->second];
    s.held = false;
    if (!s.in_flight) {  // else its check still counts in in_flight_ and keeps the slot until finished()
      --waiting_live_;   // its heap entry turns stale
      release(it->second);
    }
    it = slot_by_id_.erase(it);
  }
  for (const backend_id id : current) {
    if (slot_by_id_.contains(id)) continue;
    std::uint32_t slot = 0;
    if (free_slots_.empty()) {
      slot = static_cast<std::uint32_t>(slots_.size());
      slots_.emplace_back();
    } else {
      slot = free_slots_.back();
      free_slots_.pop_back();
    }
    slot_state& s = slots_[slot];
    s.id = id;
    ++s.generation;
    s.held = true;
    s.in_flight = false;
    s.ever_healthy = false;
    s.checks = 0;
    slot_by_id_.emplace(id, slot);
    push_waiting(slot, now);
  }
  if (waiting_.size() > 2 * waiting_live_ + 64) rebuild();
  drop_stale_top();
}

std::optional<check_schedule::due_check> check_schedule::take_due(clock::time_point now) {
  if (in_flight_ >= concurrency_ || waiting_.empty() || waiting_.front().due > now) return std::nullopt;
  const waiting_entry top = waiting_.front();  // always live (drop_stale_top)
  std::pop_heap(waiting_.begin(), waiting_.end(), later);
  waiting_.pop_back();
  --waiting_live_;
  slot_state& s = slots_[top.slot];
  s.in_flight = true;
  ++s.generation;  // this check's own ticket: a stale report of an earlier one no longer matches
  ++in_flight_;
  drop_stale_top();
  return due_check{.id = s.id, .slot = top.slot, .generation = s.generation};
}

void check_schedule::finished(const due_check& check, clock::time_point now, bool healthy) {
  if (check.slot >= slots_.size()) return;
  slot_state& s = slots_[check.slot];
  if (s.generation != check.generation || !s.in_flight) return;  // not a check this schedule has in flight
  s.in_flight = false;
  if (in_flight_ > 0) --in_flight_;
  if (!s.held) {
    release(check.slot);  // dropped while its check ran
    return;
  }
  s.ever_healthy = s.ever_healthy || healthy;
  if (!s.ever_healthy && s.checks < std::numeric_limits<std::uint32_t>::max()) ++s.checks;
  push_waiting(check.slot, now + jittered(recheck_delay(s.ever_healthy, s.checks, interval_)));
}

check_schedule::clock::time_point check_schedule::next_due() const {
  return waiting_.empty() ? clock::time_point::max() : waiting_.front().due;
}

std::optional<std::uint32_t> check_schedule::slot_of(backend_id id) const {
  const auto found = slot_by_id_.find(id);
  if (found == slot_by_id_.end()) return std::nullopt;
  return found->second;
}

void check_schedule::push_waiting(std::uint32_t slot, clock::time_point due) {
  slots_[slot].due = due;
  waiting_.push_back({.due = due, .slot = slot, .generation = slots_[slot].generation});
  std::push_heap(waiting_.begin(), waiting_.end(), later);
  ++waiting_live_;
}

bool check_schedule::live(const waiting_entry& w) const {
  const slot_state& s = slots_[w.slot];
  return s.held && !s.in_flight && s.generation == w.generation && s.due == w.due;
}

void check_schedule::drop_stale_top() {
  while (!waiting_.empty() && !live(waiting_.front())) {
    std::pop_heap(waiting_.begin(), waiting_.end(), later);
    waiting_.pop_back();
  }
}

void check_schedule::release(std::uint32_t slot) {
  ++slots_[slot].generation;  // entries and checks of its last backend no longer match it
  free_slots_.push_back(slot);
}

void check_schedule::rebuild() {
  waiting_.clear();
  for (std::uint32_t slot = 0; slot < slots_.size(); ++slot) {
    const slot_state& s = slots_[slot];
    if (s.held && !s.in_flight) waiting_.push_back({.due = s.due, .slot = slot, .generation = s.generation});
  }
  std::make_heap(waiting_.begin(), waiting_.end(), later);
  waiting_live_ = waiting_.size();
}

check_schedule::clock::duration check_schedule::jittered(clock::duration delay) {
  const auto tenth = delay.count() / 10;
  if (tenth <= 0) return delay;
  std::uniform_int_distribution<clock::rep> jitter(-tenth, tenth);
  return delay + clock::duration(jitter(random_));
}

}  // namespace pd_proxy
