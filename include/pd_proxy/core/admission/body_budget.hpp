// A process-wide bound on the bytes of client request bodies that requests in flight hold.
#pragma once

#include <atomic>
#include <cstddef>
#include <optional>

namespace pd_proxy {

/// Thread-safe (one relaxed atomic). Reservations must not outlive the budget.
class body_budget {
 public:
  /// Bytes held by one request's body; given back on release() or destruction, exactly once. Move-only.
  class reservation {
   public:
    reservation() = default;
    reservation(reservation&& other) noexcept : owner_(other.owner_), bytes_(other.bytes_) {
      other.owner_ = nullptr;
    }
    reservation& operator=(reservation&& other) noexcept;
    ~reservation() { release(); }

    std::size_t bytes() const { return owner_ != nullptr ? bytes_ : 0; }
    /// Grows the reservation to `bytes` in all (a body read in pieces); false, and unchanged, when that would
    /// take the budget's total past its limit. Never shrinks it.
    bool try_grow_to(std::size_t bytes);
    void release();

   private:
    friend class body_budget;
    reservation(body_budget* owner, std::size_t bytes) : owner_(owner), bytes_(bytes) {}

    body_budget* owner_ = nullptr;
    std::size_t bytes_ = 0;
  };

  explicit body_budget(std::size_t limit) : limit_(limit) {}
  body_budget(const body_budget&) = delete;
  body_budget& operator=(const body_budget&) = delete;

  /// Reserves `bytes`, or returns nullopt when that would take the total held past the limit. A body larger
  /// than the whole limit is refused even when nothing else is held.
  std::optional<reservation> try_reserve(std::size_t bytes);

  std::size_t used() const { return used_.load(std::memory_order_relaxed); }
  std::size_t limit() const { return limit_; }

 private:
  bool take(std::size_t bytes);

  const std::size_t limit_;
  std::atomic<std::size_t> used_{0};
};

}  // namespace pd_proxy
