#include "pd_proxy/core/scheduling/scheduler.hpp"

#include <algorithm>
#include <cmath>
#include <utility>

namespace pd_proxy {
namespace {

// Loads are sums and differences of the same scores; clamp the float residue so idle means exactly 0.
double settle(double value) { return std::abs(value) < 1e-6 ? 0.0 : value; }

}  // namespace

//------------------------------------------------------------------------------

prefill_reservation& prefill_reservation::operator=(prefill_reservation&& other) noexcept {
  if (this != &other) {
    release_all();
    swap(other);
  }
  return *this;
}

void prefill_reservation::swap(prefill_reservation& other) noexcept {
  std::swap(owner_, other.owner_);
  std::swap(index_, other.index_);
  std::swap(score_, other.score_);
  std::swap(tokens_held_, other.tokens_held_);
  std::swap(kv_held_, other.kv_held_);
}

void prefill_reservation::prefill_finished() {
  if (owner_ == nullptr || !tokens_held_) return;
  tokens_held_ = false;
  owner_->adjust(backend_role::prefill, index_, -score_, 0, -1);
  if (!kv_held_) owner_ = nullptr;
}

void prefill_reservation::release_kv() {
  if (owner_ == nullptr || !kv_held_) return;
  kv_held_ = false;
  owner_->adjust(backend_role::prefill, index_, 0, -score_, 0);
  if (!tokens_held_) owner_ = nullptr;
}

void prefill_reservation::release_all() {
  if (owner_ == nullptr) return;
  scheduler* owner = owner_;
  const double tokens = tokens_held_ ? -score_ : 0;
  const double kv = kv_held_ ? -score_ : 0;
  const int inflight = tokens_held_ ? -1 : 0;
  owner_ = nullptr;
  tokens_held_ = kv_held_ = false;
  owner->adjust(backend_role::prefill, index_, tokens, kv, inflight);
}

//------------------------------------------------------------------------------

decode_reservation& decode_reservation::operator=(decode_reservation&& other) noexcept {
  if (this != &other) {
    release();
    swap(other);
  }
  return *this;
}

void decode_reservation::swap(decode_reservation& other) noexcept {
  std::swap(owner_, other.owner_);
  std::swap(index_, other.index_);
  std::swap(score_, other.score_);
}

void decode_reservation::release() {
  if (owner_ == nullptr) return;
  scheduler* owner = owner_;
  owner_ = nullptr;
  owner->adjust(backend_role::decode, index_, -score_, 0, -1);
}

//------------------------------------------------------------------------------

scheduler::scheduler(std::size_t prefill_count, std::size_t decode_count,
                     std::unique_ptr<selection_policy> prefill, std::unique_ptr<selection_policy> decode)
    : prefill_loads_(prefill_count),
      decode_loads_(decode_count),
      prefill_policy_(std::move(prefill)),
      decode_policy_(std::move(decode)) {}

std::size_t scheduler::pick_locked(backend_role role, const std::vector<bool>& excluded) {
  auto& loads = role == backend_role::prefill ? prefill_loads_ : decode_loads_;
  auto& policy = role == backend_role::prefill ? *prefill_policy_ : *decode_policy_;
  const bool usable =
      excluded.size() == loads.size() && std::find(excluded.begin(), excluded.end(), false) != excluded.end();
  static const std::vector<bool> none;
  return policy.pick(loads, usable ? excluded : none);
}

std::optional<prefill_reservation> scheduler::reserve_prefill(double score, const std::vector<bool>& excluded) {
  std::lock_guard lock(mutex_);
  if (prefill_loads_.empty()) return std::nullopt;
  const std::size_t i = pick_locked(backend_role::prefill, excluded);
  auto& load = prefill_loads_[i];
  load.active_tokens += score;
  load.active_kv += score;
  ++load.inflight;
  return prefill_reservation(this, i, score);
}

std::optional<decode_reservation> scheduler::reserve_decode(double score, const std::vector<bool>& excluded) {
  std::lock_guard lock(mutex_);
  if (decode_loads_.empty()) return std::nullopt;
  const std::size_t i = pick_locked(backend_role::decode, excluded);
  auto& load = decode_loads_[i];
  load.active_tokens += score;
  ++load.inflight;
  return decode_reservation(this, i, score);
}

void scheduler::adjust(backend_role role, std::size_t index, double tokens, double kv, int inflight) {
  std::lock_guard lock(mutex_);
  auto& load = (role == backend_role::prefill ? prefill_loads_ : decode_loads_)[index];
  load.active_tokens = settle(load.active_tokens + tokens);
  load.active_kv = settle(load.active_kv + kv);
  load.inflight = static_cast<std::uint32_t>(static_cast<int>(load.inflight) + inflight);
}

std::size_t scheduler::size(backend_role role) const {
  std::lock_guard lock(mutex_);
  return role == backend_role::prefill ? prefill_loads_.size() : decode_loads_.size();
}

std::vector<backend_load> scheduler::snapshot(backend_role role) const {
  std::lock_guard lock(mutex_);
  return role == backend_role::prefill ? prefill_loads_ : decode_loads_;
}

}  // namespace pd_proxy
