// Load accounting for both pools and the RAII reservations that guarantee every load is released once.
#pragma once

#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "pd_proxy/core/backends/backend_address.hpp"
#include "pd_proxy/core/scheduling/selection_policy.hpp"

namespace pd_proxy {

class scheduler;

/// A prefiller's share of one request. Selection adds `score` to the prefiller's active_tokens and
/// active_kv; `prefill_finished()` releases the tokens (the prefill response arrived or the leg ended),
/// `release_kv()` releases the KV (the decoder's first chunk arrived, so the KV has been pulled). The
/// destructor releases whatever is still held, so every path (error, timeout, client abort) releases
/// exactly once. Move-only.
class prefill_reservation {
 public:
  prefill_reservation() = default;
  prefill_reservation(prefill_reservation&& other) noexcept { swap(other); }
  prefill_reservation& operator=(prefill_reservation&& other) noexcept;
  ~prefill_reservation() { release_all(); }

  std::size_t index() const { return index_; }
  bool active() const { return owner_ != nullptr; }
  void prefill_finished();
  void release_kv();
  void release_all();

 private:
  friend class scheduler;
  prefill_reservation(scheduler* owner, std::size_t index, double score)
      : owner_(owner), index_(index), score_(score) {}
  void swap(prefill_reservation& other) noexcept;

  scheduler* owner_ = nullptr;
  std::size_t index_ = 0;
  double score_ = 0;
  bool tokens_held_ = true;
  bool kv_held_ = true;
};

/// A decoder's share of one request: `score` on its active_tokens from selection until destruction.
class decode_reservation {
 public:
  decode_reservation() = default;
  decode_reservation(decode_reservation&& other) noexcept { swap(other); }
  decode_reservation& operator=(decode_reservation&& other) noexcept;
  ~decode_reservation() { release(); }

  std::size_t index() const { return index_; }
  bool active() const { return owner_ != nullptr; }
  void release();

 private:
  friend class scheduler;
  decode_reservation(scheduler* owner, std::size_t index, double score)
      : owner_(owner), index_(index), score_(score) {}
  void swap(decode_reservation& other) noexcept;

  scheduler* owner_ = nullptr;
  std::size_t index_ = 0;
  double score_ = 0;
};

/// Owns the load table of both pools and one policy per role. Thread-safe: every method takes one small
/// mutex; no I/O happens under it. Reservations must not outlive the scheduler.
class scheduler {
 public:
  scheduler(std::size_t prefill_count, std::size_t decode_count, std::unique_ptr<selection_policy> prefill,
            std::unique_ptr<selection_policy> decode);

  /// Picks a prefiller (avoiding `excluded` ones while any other exists) and reserves `score` on it.
  /// nullopt only when the pool is empty. `excluded` may be empty or must have one entry per prefiller.
  std::optional<prefill_reservation> reserve_prefill(double score, const std::vector<bool>& excluded = {});
  std::optional<decode_reservation> reserve_decode(double score, const std::vector<bool>& excluded = {});

  std::size_t size(backend_role role) const;
  /// A copy of one role's load table, for /healthcheck, metrics and tests.
  std::vector<backend_load> snapshot(backend_role role) const;

 private:
  friend class prefill_reservation;
  friend class decode_reservation;

  std::size_t pick_locked(backend_role role, const std::vector<bool>& excluded);
  void adjust(backend_role role, std::size_t index, double tokens, double kv, int inflight);

  mutable std::mutex mutex_;
  std::vector<backend_load> prefill_loads_;
  std::vector<backend_load> decode_loads_;
  std::unique_ptr<selection_policy> prefill_policy_;
  std::unique_ptr<selection_policy> decode_policy_;
};

}  // namespace pd_proxy
