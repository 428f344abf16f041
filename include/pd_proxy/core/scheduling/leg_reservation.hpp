// One request's share of one backend's load, held by a leg of the request (core/flow/flow_step.hpp).
#pragma once

#include <cstdint>
#include <memory>

#include "pd_proxy/core/backends/backend.hpp"
#include "pd_proxy/core/scheduling/leg_result.hpp"

namespace pd_proxy {

class scheduler;

/// What a leg's reservation holds on its backend. `tokens`: the request's share of the backend's active
/// tokens and one in-flight request (released when the backend's work for the leg is over); `kv`: the KV
/// cache the backend keeps for another leg to pull (a prefiller's, until the decoder answered). A prefill
/// reservation holds both from the pick on, a decode one tokens only.
enum class leg_hold : std::uint8_t { tokens, kv, all };

/// Selection adds `score` to the backend's active_tokens (and to its active_kv for a hold of KV); release()
/// gives a hold back. The destructor releases whatever is still held and reports `abandoned` if nothing was
/// reported, so every path (error, timeout, client abort) releases exactly once, against the backend it was
/// reserved on (even if that backend was removed meanwhile). Move-only.
class leg_reservation {
 public:
  leg_reservation() = default;
  leg_reservation(leg_reservation&& other) noexcept { swap(other); }
  leg_reservation& operator=(leg_reservation&& other) noexcept;
  ~leg_reservation() {
    release(leg_hold::all);
    report(leg_result::abandoned);
  }

  /// The backend reserved on. Precondition: shared() is not null (made by the scheduler, not moved from).
  /// Stays valid after the release (the reservation keeps the backend alive until it is destroyed).
  const backend& target() const { return *backend_; }
  const std::shared_ptr<backend>& shared() const { return backend_; }
  /// True while some load is still held.
  bool active() const { return owner_ != nullptr; }
  /// Gives `hold` back (no-op for what is no longer held).
  void release(leg_hold hold);
  /// Reports the leg's result to the backend's health (once; later calls are ignored). A decode that began
  /// its body reports when the body ended: a stream that breaks is a failure.
  void report(leg_result result);

 private:
  friend class scheduler;
  leg_reservation(scheduler* owner, std::shared_ptr<backend> target, std::int64_t units, bool holds_kv)
      : owner_(owner), scheduler_(owner), backend_(std::move(target)), units_(units), kv_held_(holds_kv) {}
  void swap(leg_reservation& other) noexcept;

  scheduler* owner_ = nullptr;      // until the load is released
  scheduler* scheduler_ = nullptr;  // the one that made it (null: default-constructed or moved from)
  bool reported_ = false;
  std::shared_ptr<backend> backend_;
  std::int64_t units_ = 0;  // the score in fixed_load units, exactly as reserved
  bool tokens_held_ = true;
  bool kv_held_ = false;
};

}  // namespace pd_proxy
