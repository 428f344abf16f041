// --max-inflight: a bound on requests in the PD flow with a bounded FIFO queue for the excess.
#pragma once

#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>

namespace pd_proxy {

/// A request waiting for a slot. granted() is called at most once, outside any lock, from the thread of the
/// request that gave the slot up, or of the drain that closed the queue (the waiter then holds nothing and
/// finds closed() true): implementations hand the news to their own thread (the I/O shell posts to the
/// waiter's executor).
class admission_waiter {
 public:
  virtual ~admission_waiter() = default;
  virtual void granted() = 0;

 private:
  friend class inflight_limit;
  bool granted_ = false;  // guarded by the limit's mutex
};

/// At most `max_inflight` slots held at once; the excess waits, first come first served, in a queue of at
/// most `max_queue`. A slot given up goes straight to the first waiter (so a newcomer can never overtake the
/// queue). Thread-safe; every method is O(1) except withdraw(), O(queue length).
class inflight_limit {
 public:
  enum class verdict { admitted, queued, rejected, closed };

  /// max_inflight 0: no limit (enter always admits and nothing is counted).
  inflight_limit(std::size_t max_inflight, std::size_t max_queue)
      : max_inflight_(max_inflight), max_queue_(max_queue) {}

  bool limited() const { return max_inflight_ > 0; }

  /// admitted: the caller holds a slot (give it up with leave()). queued: `waiter` is in the queue and gets
  /// granted() when a slot is handed to it (it then holds it), unless it withdraws first. rejected: the queue
  /// is full. closed: the queue was closed by a drain and no slot is free.
  verdict enter(const std::shared_ptr<admission_waiter>& waiter);

  /// Closes the queue (the drain began): every waiter leaves it holding nothing and is woken (granted() is
  /// called; withdraw() then returns true), and from now on a request that finds no free slot gets `closed`
  /// instead of a place, so no queued request is ever admitted during the drain. Slots in use are kept.
  void close();
  bool closed() const;

  /// Gives a slot up: to the first waiter if any, else back to the pool.
  void leave();

  /// A queued waiter gives up (timeout, client gone). True: it left the queue and holds nothing. False: a
  /// slot was handed to it first (granted() was or is being called): it holds the slot and must leave().
  bool withdraw(const admission_waiter& waiter);

  std::size_t inflight() const;
  std::size_t queued() const;

 private:
  const std::size_t max_inflight_;
  const std::size_t max_queue_;
  mutable std::mutex mutex_;
  std::size_t inflight_ = 0;
  bool closed_ = false;
  std::deque<std::shared_ptr<admission_waiter>> queue_;
};

/// Holds one slot of an inflight_limit and leaves it on destruction. Move-only.
class inflight_slot {
 public:
  inflight_slot() = default;
  explicit inflight_slot(inflight_limit& limit) : limit_(&limit) {}
  inflight_slot(inflight_slot&& other) noexcept : limit_(other.limit_) { other.limit_ = nullptr; }
  inflight_slot& operator=(inflight_slot&&) = delete;
  inflight_slot(const inflight_slot&) = delete;
  inflight_slot& operator=(const inflight_slot&) = delete;
  ~inflight_slot() {
    if (limit_ != nullptr) limit_->leave();
  }

 private:
  inflight_limit* limit_ = nullptr;
};

}  // namespace pd_proxy
