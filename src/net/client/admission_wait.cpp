#include "pd_proxy/net/client/admission_wait.hpp"

#include <memory>

#include "pd_proxy/net/operation_timer.hpp"

namespace pd_proxy {
namespace {

// A queued request: granted() (from any thread) cancels its timer on its own executor. Holds no I/O object,
// so a posted wake-up that never runs (the worker stopped) destroys nothing that needs the io_context.
class executor_waiter final : public admission_waiter, public std::enable_shared_from_this<executor_waiter> {
 public:
  explicit executor_waiter(net::any_io_executor executor) : executor_(std::move(executor)) {}

  void granted() override {
    net::post(executor_, [self = shared_from_this()] {
      if (self->timer_ != nullptr) self->timer_->cancel();
    });
  }

  // Only on the executor's thread.
  void watch(net::steady_timer* timer) { timer_ = timer; }

 private:
  net::any_io_executor executor_;
  net::steady_timer* timer_ = nullptr;
};

// Leaves the queue when the wait ends in any way (an exception included) without taking the slot, and gives
// back a slot that was granted meanwhile.
class queue_place {
 public:
  queue_place(inflight_limit& limit, const admission_waiter& waiter) : limit_(limit), waiter_(waiter) {}
  queue_place(const queue_place&) = delete;
  queue_place& operator=(const queue_place&) = delete;
  ~queue_place() {
    if (!taken_ && !limit_.withdraw(waiter_)) limit_.leave();
  }
  /// Ends the wait: whether a slot was granted (it is then the caller's).
  bool take() {
    taken_ = true;
    return !limit_.withdraw(waiter_);
  }

 private:
  inflight_limit& limit_;
  const admission_waiter& waiter_;
  bool taken_ = false;
};

}  // namespace

net::awaitable<admission> wait_for_slot(inflight_limit& limit, seconds_d timeout) {
  co_await net::this_coro::throw_if_cancelled(false);
  const auto executor = co_await net::this_coro::executor;
  const auto waiter = std::make_shared<executor_waiter>(executor);
  admission result;
  switch (limit.enter(waiter)) {
    case inflight_limit::verdict::admitted:
      result.outcome = admission::result::admitted;
      result.slot.emplace(limit);
      co_return result;
    case inflight_limit::verdict::rejected:
      result.outcome = admission::result::queue_full;
      co_return result;
    case inflight_limit::verdict::closed:
      result.outcome = admission::result::shutting_down;
      co_return result;
    case inflight_limit::verdict::queued:
      break;
  }
  queue_place place(limit, *waiter);
  // Nothing suspends between enter() and the wait, so a grant (posted to this executor) finds it waiting.
  net::steady_timer timer(executor);
  if (timeout.count() > 0) {
    timer.expires_after(to_timer_duration(timeout));
  } else {
    timer.expires_at(std::chrono::steady_clock::time_point::max());
  }
  waiter->watch(&timer);
  co_await timer.async_wait(use_nothrow);  // cancelled by a grant, or by the client going away
  waiter->watch(nullptr);
  const bool gone = co_await cancelled();
  if (place.take()) {
    result.slot.emplace(limit);  // granted: the slot is ours (left at once if the client is gone)
    result.outcome = gone ? admission::result::cancelled : admission::result::admitted;
    co_return result;
  }
  if (gone) {
    result.outcome = admission::result::cancelled;
  } else {
    result.outcome = limit.closed() ? admission::result::shutting_down : admission::result::timed_out;
  }
  co_return result;
}

}  // namespace pd_proxy
