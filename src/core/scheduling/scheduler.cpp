#include "pd_proxy/core/scheduling/scheduler.hpp"

#include <utility>

namespace pd_proxy {

leg_reservation& leg_reservation::operator=(leg_reservation&& other) noexcept {
  if (this != &other) {
    release(leg_hold::all);
    leg_reservation gone;
    swap(gone);  // drop our backend, then take the other's state
    swap(other);
  }
  return *this;
}

void leg_reservation::swap(leg_reservation& other) noexcept {
  std::swap(owner_, other.owner_);
  std::swap(backend_, other.backend_);
  std::swap(units_, other.units_);
  std::swap(tokens_held_, other.tokens_held_);
  std::swap(kv_held_, other.kv_held_);
  std::swap(scheduler_, other.scheduler_);
  std::swap(reported_, other.reported_);
}

void leg_reservation::report(leg_result result) {
  if (scheduler_ == nullptr || reported_) return;
  reported_ = true;
  scheduler_->report(*backend_, result);
}

void leg_reservation::release(leg_hold hold) {
  if (owner_ == nullptr) return;
  const bool tokens = tokens_held_ && hold != leg_hold::kv;
  const bool kv = kv_held_ && hold != leg_hold::tokens;
  if (!tokens && !kv) return;
  if (tokens) tokens_held_ = false;
  if (kv) kv_held_ = false;
  scheduler* owner = owner_;
  if (!tokens_held_ && !kv_held_) owner_ = nullptr;
  owner->adjust(*backend_, tokens ? -units_ : 0, kv ? -units_ : 0, tokens ? -1 : 0);
}

//------------------------------------------------------------------------------

scheduler::scheduler(std::unique_ptr<selection_policy> prefill, std::unique_ptr<selection_policy> decode,
                     const health_settings& health, bool checked, time_source now)
    : health_(health), checked_(checked), now_(now) {
  prefill_.policy = std::move(prefill);
  decode_.policy = std::move(decode);
}

void scheduler::add(std::shared_ptr<backend> b, bool probed) {
  if (b == nullptr) return;
  role_state& p = state_of(b->role());
  std::lock_guard lock(p.mutex);
  backend& target = *b;
  const auto [it, inserted] = p.candidates.try_emplace(target.id(), std::move(b));
  if (!inserted) return;
  target.candidate_ = true;
  target.health_state_ = backend_health_state(health_, checked_ && !probed);
  target.routed_ = false;
  refresh_locked(p, target, now_());
}

void scheduler::remove(const backend& b) {
  role_state& p = state_of(b.role());
  std::shared_ptr<backend> removed;  // destroyed after the unlock
  std::lock_guard lock(p.mutex);
  const auto found = p.candidates.find(b.id());
  if (found == p.candidates.end() || found->second.get() != &b) return;
  if (found->second->routed_) {
    p.policy->remove(*found->second);
    p.routed.fetch_sub(1, std::memory_order_relaxed);
  }
  found->second->routed_ = false;
  found->second->candidate_ = false;
  removed = std::move(found->second);
  p.candidates.erase(found);
}

void scheduler::set_policy(backend_role role, std::unique_ptr<selection_policy> policy) {
  if (policy == nullptr) return;
  role_state& p = state_of(role);
  std::lock_guard lock(p.mutex);
  for (auto& [id, b] : p.candidates) {
    if (!b->routed_) continue;
    policy->add(*b, b->load_);
    if (b->load_reported_) policy->load_reported(*b, b->engine_load_);
  }
  std::swap(p.policy, policy);  // the old one is destroyed after the unlock
}

bool scheduler::is_candidate_locked(const backend& b) {
  return b.candidate_;
}

void scheduler::refresh_locked(role_state& p, backend& b, clock::time_point now) {
  const bool usable = b.health_state_.usable(now);
  if (usable != b.routed_) {
    if (usable) {
      p.policy->add(b, b.load_);
      if (b.load_reported_) p.policy->load_reported(b, b.engine_load_);
      p.routed.fetch_add(1, std::memory_order_relaxed);
    } else {
      p.policy->remove(b);
      p.routed.fetch_sub(1, std::memory_order_relaxed);
    }
    b.routed_ = usable;
  }
  if (!usable && b.health_state_.breaker(now) == breaker_state::open &&
      b.health_state_.open_until() < p.next_wake)
    p.next_wake = b.health_state_.open_until();
  if (b.health.load(std::memory_order_relaxed) != backend_health::draining) {
    b.health.store(usable ? backend_health::usable : backend_health::unhealthy, std::memory_order_relaxed);
  }
}

void scheduler::wake_locked(role_state& p, clock::time_point now) {
  p.next_wake = clock::time_point::max();
  for (auto& [id, b] : p.candidates) refresh_locked(p, *b, now);  // also finds the next wake
}

std::shared_ptr<backend> scheduler::reserve_locked(role_state& p, const request_context& request,
                                                   std::int64_t tokens, std::int64_t kv) {
  const clock::time_point now = now_();
  if (now >= p.next_wake) wake_locked(p, now);
  backend* picked = p.policy->pick(request);
  if (picked == nullptr) return nullptr;
  picked->health_state_.admit(now);  // true: only usable ones are routed
  if (!picked->health_state_.usable(now)) refresh_locked(p, *picked, now);  // it took the half-open trial
  picked->load_.tokens += tokens;
  picked->load_.kv += kv;
  ++picked->load_.inflight;
  p.policy->load_changed(*picked, picked->load_);
  return picked->shared_from_this();  // a candidate: owned by p.candidates
}

std::optional<leg_reservation> scheduler::reserve(backend_role role, double score,
                                                  const request_context& request) {
  const std::int64_t units = fixed_load::units(score);
  const bool holds_kv = role == backend_role::prefill;
  role_state& p = state_of(role);
  std::shared_ptr<backend> target;
  {
    std::lock_guard lock(p.mutex);
    target = reserve_locked(p, request, units, holds_kv ? units : 0);
  }
  if (target == nullptr) return std::nullopt;
  return leg_reservation(this, std::move(target), units, holds_kv);
}

void scheduler::adjust(backend& b, std::int64_t tokens, std::int64_t kv, int inflight) {
  role_state& p = state_of(b.role());
  std::lock_guard lock(p.mutex);
  b.load_.tokens += tokens;
  b.load_.kv += kv;
  b.load_.inflight = static_cast<std::uint32_t>(static_cast<std::int64_t>(b.load_.inflight) + inflight);
  if (is_candidate_locked(b)) p.policy->load_changed(b, b.load_);
}

void scheduler::report(backend& b, leg_result result) {
  role_state& p = state_of(b.role());
  std::lock_guard lock(p.mutex);
  const clock::time_point now = now_();
  switch (result) {
    case leg_result::succeeded:
      b.health_state_.request_succeeded();
      break;
    case leg_result::failed:
      b.health_state_.request_failed(now);
      break;
    case leg_result::abandoned:
      b.health_state_.request_abandoned();
      break;
  }
  if (is_candidate_locked(b)) refresh_locked(p, b, now);
}

bool scheduler::report_load(backend_id id, const engine_load& load) {
  for (role_state* p : {&prefill_, &decode_}) {
    std::lock_guard lock(p->mutex);
    const auto found = p->candidates.find(id);
    if (found == p->candidates.end()) continue;
    backend& b = *found->second;
    b.engine_load_ = load;
    b.load_reported_ = true;
    if (b.routed_) p->policy->load_reported(b, load);
    return true;
  }
  return false;
}

check_effect scheduler::check_result(backend& b, bool passed) {
  role_state& p = state_of(b.role());
  std::lock_guard lock(p.mutex);
  if (!is_candidate_locked(b)) return {};
  const clock::time_point now = now_();
  check_effect effect{.candidate = true, .was_usable = b.health_state_.usable(now)};
  if (passed) {
    b.health_state_.check_passed();
  } else {
    b.health_state_.check_failed();
  }
  refresh_locked(p, b, now);
  effect.usable = b.health_state_.usable(now);
  effect.healthy = b.health_state_.healthy();
  return effect;
}

backend_status scheduler::status(const backend& b) const {
  const role_state& p = state_of(b.role());
  std::lock_guard lock(p.mutex);
  const clock::time_point now = now_();
  return backend_status{
      .load = {fixed_load::tokens_of(b.load_.tokens), fixed_load::tokens_of(b.load_.kv), b.load_.inflight},
      .candidate = is_candidate_locked(b),
      .healthy = b.health_state_.healthy(),
      .breaker = b.health_state_.breaker(now),
      .usable = is_candidate_locked(b) && b.health_state_.usable(now)};
}

bool scheduler::any_usable(backend_role role) {
  role_state& p = state_of(role);
  if (p.routed.load(std::memory_order_relaxed) > 0) return true;
  std::lock_guard lock(p.mutex);
  const clock::time_point now = now_();
  if (now >= p.next_wake) wake_locked(p, now);
  return p.routed.load(std::memory_order_relaxed) > 0;
}

std::size_t scheduler::usable(backend_role role) const {
  const role_state& p = state_of(role);
  std::lock_guard lock(p.mutex);
  const clock::time_point now = now_();
  std::size_t n = 0;
  for (const auto& [id, b] : p.candidates) n += b->health_state_.usable(now) ? 1 : 0;
  return n;
}

backend_load scheduler::load(const backend& b) const {
  const role_state& p = state_of(b.role());
  std::lock_guard lock(p.mutex);
  return backend_load{fixed_load::tokens_of(b.load_.tokens), fixed_load::tokens_of(b.load_.kv),
                      b.load_.inflight};
}

std::size_t scheduler::size(backend_role role) const {
  const role_state& p = state_of(role);
  std::lock_guard lock(p.mutex);
  return p.candidates.size();
}

}  // namespace pd_proxy
