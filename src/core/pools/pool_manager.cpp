#include "pd_proxy/core/pools/pool_manager.hpp"

#include <algorithm>

namespace pd_proxy {

std::string_view to_string(instance_state state) {
  switch (state) {
    case instance_state::active:
      return "active";
    case instance_state::waiting:
      return "waiting";
    case instance_state::draining:
      return "draining";
    case instance_state::unhealthy:
      return "unhealthy";
    case instance_state::open:
      return "open";
  }
  return "unknown";
}

pool_manager::pool_manager(backend_registry& registry, scheduler& sched, pool_settings settings)
    : registry_(registry), sched_(sched), settings_(settings) {}

std::shared_ptr<backend> pool_manager::find_active_locked(backend_role role,
                                                          const backend_address& address) const {
  const auto set = registry_.snapshot();
  for (const auto& b : set->of(role)) {
    if (b->address() == address) return b;
  }
  return nullptr;
}

bool pool_manager::idle_locked(const backend& b) const {
  const backend_load load = sched_.load(b);
  return load.inflight == 0 && load.active_tokens == 0 && load.active_kv == 0;
}

add_outcome pool_manager::add(backend_role role, const std::vector<backend_address>& addresses,
                              clock::time_point now, waiting_policy policy) {
  add_outcome out;
  std::lock_guard lock(mutex_);
  for (const auto& address : addresses) {
    const auto waiting = std::find_if(waiting_.begin(), waiting_.end(), [&](const waiting_entry& e) {
      return e.role == role && e.address == address;
    });
    if (waiting != waiting_.end() && policy == waiting_policy::until_removed) waiting->policy = policy;
    if (waiting != waiting_.end() || find_active_locked(role, address) != nullptr) {
      out.present.push_back(address.authority());
      continue;
    }
    if (waiting_.size() >= settings_.max_waiting) {
      out.refused.push_back(address.authority());
      continue;
    }
    waiting_entry entry{.ticket = next_ticket_++,
                        .role = role,
                        .address = address,
                        .policy = policy,
                        .failures = 0,
                        .next_probe = now,
                        .claimed = true};
    out.waiting.push_back(probe_target{entry.ticket, role, address});
    waiting_.push_back(std::move(entry));
  }
  return out;
}

remove_outcome pool_manager::remove(backend_role role, const std::vector<backend_address>& addresses) {
  remove_outcome out;
  std::lock_guard lock(mutex_);
  for (const auto& address : addresses) {
    const auto found = std::find_if(waiting_.begin(), waiting_.end(), [&](const waiting_entry& e) {
      return e.role == role && e.address == address;
    });
    if (found != waiting_.end()) {
      const std::uint64_t ticket = found->ticket;
      waiting_.erase(found);  // a probe in flight finds its ticket gone
      settled_locked(role, ticket);
      out.removed.push_back(address.authority());
      continue;
    }
    const auto active = find_active_locked(role, address);
    if (active == nullptr) {
      out.unknown.push_back(address.authority());
      continue;
    }
    drain_locked(active);
    (idle_locked(*active) ? out.removed : out.draining).push_back(address.authority());
  }
  return out;
}

add_outcome pool_manager::replace(backend_role role, const std::vector<backend_address>& added,
                                  const std::vector<backend_address>& removed, clock::time_point now) {
  const auto named = [](const std::vector<backend_address>& list, const backend_address& address) {
    return std::find(list.begin(), list.end(), address) != list.end();
  };
  {
    std::lock_guard lock(mutex_);
    std::erase_if(replacement_of(role).retiring,
                  [&](const std::shared_ptr<backend>& b) { return named(added, b->address()); });
  }
  add_outcome out = add(role, added, now);
  std::lock_guard lock(mutex_);
  replacement& r = replacement_of(role);
  for (const probe_target& target : out.waiting) {
    const bool still_waiting = std::any_of(waiting_.begin(), waiting_.end(), [&](const waiting_entry& e) {
      return e.ticket == target.ticket;
    });  // else removed meanwhile
    if (still_waiting) r.awaited.push_back(target.ticket);
  }
  for (const auto& address : removed) {
    const auto found = std::find_if(waiting_.begin(), waiting_.end(), [&](const waiting_entry& e) {
      return e.role == role && e.address == address;
    });
    if (found != waiting_.end()) {
      std::erase(r.awaited, found->ticket);
      waiting_.erase(found);  // a probe in flight finds its ticket gone
      continue;
    }
    auto active = find_active_locked(role, address);
    if (active != nullptr && std::find(r.retiring.begin(), r.retiring.end(), active) == r.retiring.end())
      r.retiring.push_back(std::move(active));
  }
  if (r.awaited.empty()) {
    for (const auto& b : r.retiring) drain_locked(b);
    r.retiring.clear();
  }
  return out;
}

void pool_manager::drain_locked(const std::shared_ptr<backend>& b) {
  if (registry_.remove(b->id()) == nullptr) return;  // removed before
  sched_.remove(*b);
  draining_.push_back(b);  // collect_gone reports it once its load is zero (maybe at once)
}

void pool_manager::settled_locked(backend_role role, std::uint64_t ticket) {
  replacement& r = replacement_of(role);
  if (std::erase(r.awaited, ticket) == 0 || !r.awaited.empty()) return;
  for (const auto& b : r.retiring) drain_locked(b);
  r.retiring.clear();
}

std::vector<probe_target> pool_manager::take_due(clock::time_point now, std::size_t limit) {
  std::vector<probe_target> out;
  std::lock_guard lock(mutex_);
  for (auto& entry : waiting_) {
    if (out.size() >= limit) break;
    if (entry.claimed || entry.next_probe > now) continue;
    entry.claimed = true;
    out.push_back(probe_target{entry.ticket, entry.role, entry.address});
  }
  return out;
}

pool_manager::clock::time_point pool_manager::next_due() const {
  std::lock_guard lock(mutex_);
  clock::time_point due = clock::time_point::max();
  for (const auto& entry : waiting_) {
    if (!entry.claimed) due = std::min(due, entry.next_probe);
  }
  return due;
}

probe_verdict pool_manager::probe_finished(std::uint64_t ticket, bool passed, clock::time_point now) {
  std::lock_guard lock(mutex_);
  const auto found = std::find_if(waiting_.begin(), waiting_.end(),
                                  [ticket](const waiting_entry& e) { return e.ticket == ticket; });
  if (found == waiting_.end()) return probe_verdict::gone;
  const backend_role role = found->role;
  if (passed) {
    auto added = registry_.add(found->role, found->address);
    sched_.add(added, /*probed=*/true);
    waiting_.erase(found);
    settled_locked(role, ticket);  // after the add: the role is never without its new backend
    return probe_verdict::activated;
  }
  ++found->failures;
  const int allowed = std::max(1, settings_.max_waiting_retries);
  found->claimed = false;
  if (found->failures < allowed) {
    found->next_probe = now + settings_.retry_interval;
    return probe_verdict::retry;
  }
  if (found->policy == waiting_policy::bounded) {
    waiting_.erase(found);
    settled_locked(role, ticket);
    return probe_verdict::dropped;
  }
  // Back-off: 2, 4, 8, ... retry intervals, capped (the shift is bounded, so nothing overflows).
  const int doublings = std::min(found->failures - allowed + 1, 20);
  const auto cap = std::max(settings_.max_retry_backoff, settings_.retry_interval);
  auto wait = settings_.retry_interval;
  for (int i = 0; i < doublings && wait < cap; ++i) wait *= 2;
  found->next_probe = now + std::min(wait, cap);
  return found->failures == allowed ? probe_verdict::kept : probe_verdict::backoff;
}

std::vector<instance_info> pool_manager::list() const {
  std::vector<instance_info> out;
  std::lock_guard lock(mutex_);
  const auto set = registry_.snapshot();
  for (const auto role : {backend_role::prefill, backend_role::decode}) {
    for (const auto& b : set->of(role)) {
      const backend_status status = sched_.status(*b);
      instance_state state = instance_state::active;
      if (!status.usable) state = status.healthy ? instance_state::open : instance_state::unhealthy;
      out.push_back(instance_info{role, b->authority(), b->id(), state, status.load});
    }
  }
  for (const auto& entry : waiting_) {
    out.push_back(instance_info{entry.role, entry.address.authority(), 0, instance_state::waiting, {}});
  }
  for (const auto& b : draining_) {
    const backend_load load = sched_.load(*b);
    if (load.inflight == 0 && load.active_tokens == 0 && load.active_kv == 0) continue;  // gone
    out.push_back(instance_info{b->role(), b->authority(), b->id(), instance_state::draining, load});
  }
  return out;
}

std::vector<std::string> pool_manager::current(backend_role role) const {
  std::vector<std::string> out;
  const auto set = registry_.snapshot();
  for (const auto& b : set->of(role)) out.push_back(b->authority());
  return out;
}

std::vector<backend_id> pool_manager::collect_gone() {
  std::vector<backend_id> out;
  std::lock_guard lock(mutex_);
  std::erase_if(draining_, [&](const std::shared_ptr<backend>& b) {
    if (!idle_locked(*b)) return false;
    out.push_back(b->id());
    return true;
  });
  return out;
}

std::size_t pool_manager::waiting() const {
  std::lock_guard lock(mutex_);
  return waiting_.size();
}

}  // namespace pd_proxy
