#include "pd_proxy/net/client/task_group.hpp"

#include <algorithm>
#include <chrono>

#include "pd_proxy/net/operation_timer.hpp"

namespace pd_proxy {
namespace {

// Registers a wait's timer with the group for the wait's lifetime (its coroutine frame may be destroyed
// suspended).
class waiter_registration {
 public:
  waiter_registration(std::vector<net::steady_timer*>& waiters, net::steady_timer& timer)
      : waiters_(waiters), timer_(timer) {
    waiters_.push_back(&timer_);
  }
  ~waiter_registration() { std::erase(waiters_, &timer_); }
  waiter_registration(const waiter_registration&) = delete;
  waiter_registration& operator=(const waiter_registration&) = delete;

 private:
  std::vector<net::steady_timer*>& waiters_;
  net::steady_timer& timer_;
};

}  // namespace

void task_group::emit(net::cancellation_type type) {
  // Emitting never completes a member inline (cancelled operations complete through their executor), so
  // the list does not change while it is walked.
  for (auto& member : members_) member.emit(type);
}

void task_group::remove(member_list::iterator member) {
  members_.erase(member);
  if (members_.empty()) {
    for (auto* timer : waiters_) timer->cancel();
  }
}

net::awaitable<bool> task_group::async_wait(seconds_d limit) {
  if (members_.empty()) co_return true;
  net::steady_timer wake(co_await net::this_coro::executor);
  if (limit.count() > 0) {
    wake.expires_after(to_timer_duration(limit));
  } else {
    wake.expires_at(std::chrono::steady_clock::time_point::max());
  }
  waiter_registration registration(waiters_, wake);
  while (!members_.empty()) {
    auto [ec] = co_await wake.async_wait(use_nothrow);
    if (!ec) break;                   // the limit passed
    if (co_await cancelled()) break;  // else woken by remove(): check again
  }
  co_return members_.empty();
}

}  // namespace pd_proxy
