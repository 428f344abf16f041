// The client connection coroutines of one worker, as a group that can be cancelled and awaited as a whole.
#pragma once

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/consign.hpp>
#include <cstddef>
#include <list>
#include <utility>
#include <vector>

#include "pd_proxy/core/config/config.hpp"
#include "pd_proxy/net/net.hpp"

namespace pd_proxy {

/// Coroutines spawned with a completion token from adapt() are the group's members: each gets its own
/// cancellation slot, which emit() signals, and leaves the group when its completion handler is invoked or
/// destroyed — however the coroutine ended (normally, by an exception, or destroyed suspended with its
/// io_context). Not thread-safe: one per worker, used only on the thread that runs its members' io_context
/// (or after that thread was joined). Must outlive every member's completion handler, hence that io_context.
class task_group {
 public:
  task_group() = default;
  task_group(const task_group&) = delete;
  task_group& operator=(const task_group&) = delete;

  /// A completion token for co_spawn (or any asynchronous operation) that makes the operation a member
  /// until its handler, `token`, has run or is destroyed.
  template <class CompletionToken>
  auto adapt(CompletionToken&& token) {
    const auto member = members_.emplace(members_.end());
    return net::bind_cancellation_slot(
        member->slot(), net::consign(std::forward<CompletionToken>(token), remover(*this, member)));
  }

  /// Signals `type` to every current member; later members are not affected.
  void emit(net::cancellation_type type);

  std::size_t size() const { return members_.size(); }

  /// Completes with true once the group has no member, or with false when `limit` passed first (zero: no
  /// limit) or the awaiting coroutine was cancelled. Any number of coroutines may wait at once.
  net::awaitable<bool> async_wait(seconds_d limit = seconds_d{0});

 private:
  using member_list = std::list<net::cancellation_signal>;

  // Owned by a member's completion handler: takes the member out of the group when the handler goes.
  class remover {
   public:
    remover(task_group& group, member_list::iterator member) : group_(&group), member_(member) {}
    remover(remover&& other) noexcept
        : group_(std::exchange(other.group_, nullptr)), member_(other.member_) {}
    remover(const remover&) = delete;
    remover& operator=(const remover&) = delete;
    remover& operator=(remover&&) = delete;
    ~remover() {
      if (group_ != nullptr) group_->remove(member_);
    }

   private:
    task_group* group_;
    member_list::iterator member_;
  };

  void remove(member_list::iterator member);

  member_list members_;
  std::vector<net::steady_timer*>
      waiters_;  // the timers of the waits in progress, woken when members_ empties
};

}  // namespace pd_proxy
