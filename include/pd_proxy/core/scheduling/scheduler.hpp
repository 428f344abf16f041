// Load accounting for both pools and the RAII reservations that guarantee every load is released once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_map>

#include "pd_proxy/core/backends/backend.hpp"
#include "pd_proxy/core/scheduling/request_context.hpp"
#include "pd_proxy/core/scheduling/selection_policy.hpp"

namespace pd_proxy {

class scheduler;

/// A prefiller's share of one request. Selection adds `score` to the prefiller's active_tokens and
/// active_kv; `prefill_finished()` releases the tokens (the prefill response arrived or the leg ended),
/// `release_kv()` releases the KV (the decoder's first chunk arrived, so the KV has been pulled). The
/// destructor releases whatever is still held, so every path (error, timeout, client abort) releases
/// exactly once, against the backend it was reserved on (even if that backend was removed meanwhile).
/// Move-only.
class prefill_reservation {
 public:
  prefill_reservation() = default;
  prefill_reservation(prefill_reservation&& other) noexcept { swap(other); }
  prefill_reservation& operator=(prefill_reservation&& other) noexcept;
  ~prefill_reservation() { release_all(); }

  /// The backend reserved on. Precondition: shared() is not null (made by the scheduler, not moved from).
  /// Stays valid after the release (the reservation keeps the backend alive until it is destroyed).
  const backend& target() const { return *backend_; }
  const std::shared_ptr<backend>& shared() const { return backend_; }
  /// True while some load is still held.
  bool active() const { return owner_ != nullptr; }
  void prefill_finished();
  void release_kv();
  void release_all();

 private:
  friend class scheduler;
  prefill_reservation(scheduler* owner, std::shared_ptr<backend> target, std::int64_t units)
      : owner_(owner), backend_(std::move(target)), units_(units) {}
  void swap(prefill_reservation& other) noexcept;

  scheduler* owner_ = nullptr;
  std::shared_ptr<backend> backend_;
  std::int64_t units_ = 0;  // the score in fixed_load units, exactly as reserved
  bool tokens_held_ = true;
  bool kv_held_ = true;
};

/// A decoder's share of one request: `score` on its active_tokens from selection until release() or
/// destruction, whichever comes first. Move-only.
class decode_reservation {
 public:
  decode_reservation() = default;
  decode_reservation(decode_reservation&& other) noexcept { swap(other); }
  decode_reservation& operator=(decode_reservation&& other) noexcept;
  ~decode_reservation() { release(); }

  /// As prefill_reservation::target().
  const backend& target() const { return *backend_; }
  const std::shared_ptr<backend>& shared() const { return backend_; }
  bool active() const { return owner_ != nullptr; }
  void release();

 private:
  friend class scheduler;
  decode_reservation(scheduler* owner, std::shared_ptr<backend> target, std::int64_t units)
      : owner_(owner), backend_(std::move(target)), units_(units) {}
  void swap(decode_reservation& other) noexcept;

  scheduler* owner_ = nullptr;
  std::shared_ptr<backend> backend_;
  std::int64_t units_ = 0;
};

/// Owns the load of the backends added to it and one policy per role. Thread-safe: each role has its own
/// mutex (prefill and decode picks never contend), held only for the policy call and a few integer updates;
/// no I/O happens under it. A backend belongs to at most one scheduler. Reservations must not outlive the
/// scheduler.
class scheduler {
 public:
  scheduler(std::unique_ptr<selection_policy> prefill, std::unique_ptr<selection_policy> decode);
  scheduler(const scheduler&) = delete;
  scheduler& operator=(const scheduler&) = delete;

  /// `b` becomes a candidate of its role (no-op if it already is one, or null).
  void add(std::shared_ptr<backend> b);
  /// `b` is picked no more (no-op if it is not a candidate). Load it holds stays on it and is released
  /// against it by the reservations that hold it.
  void remove(const backend& b);

  /// Picks a prefiller (avoiding `request.tried` while an untried one exists) and reserves `score` on it.
  /// nullopt only when the role has no candidate.
  std::optional<prefill_reservation> reserve_prefill(double score, const request_context& request = {});
  std::optional<decode_reservation> reserve_decode(double score, const request_context& request = {});

  /// A consistent copy of `b`'s load, in tokens.
  backend_load load(const backend& b) const;
  /// The number of candidates of `role`.
  std::size_t size(backend_role role) const;

 private:
  friend class prefill_reservation;
  friend class decode_reservation;

  struct pool {
    mutable std::mutex mutex;  // guards everything below and the load of every backend of this role
    std::unique_ptr<selection_policy> policy;
    std::unordered_map<backend_id, std::shared_ptr<backend>> candidates;
  };

  pool& pool_of(backend_role role) { return role == backend_role::prefill ? prefill_ : decode_; }
  const pool& pool_of(backend_role role) const { return role == backend_role::prefill ? prefill_ : decode_; }
  /// Under p.mutex: picks, adds the load, tells the policy. Null when the role has no candidate.
  std::shared_ptr<backend> reserve_locked(pool& p, const request_context& request, std::int64_t tokens,
                                          std::int64_t kv);
  /// Adds the (signed) deltas to `b`'s load under its role's lock and tells the policy if `b` is a candidate.
  void adjust(backend& b, std::int64_t tokens, std::int64_t kv, int inflight);

  pool prefill_;
  pool decode_;
};

}  // namespace pd_proxy
