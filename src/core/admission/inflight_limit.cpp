#include "pd_proxy/core/admission/inflight_limit.hpp"

#include <algorithm>

namespace pd_proxy {

inflight_limit::verdict inflight_limit::enter(const std::shared_ptr<admission_waiter>& waiter) {
  if (!limited()) return verdict::admitted;
  std::lock_guard lock(mutex_);
  if (inflight_ < max_inflight_ && queue_.empty()) {
    ++inflight_;
    return verdict::admitted;
  }
  if (closed_) return verdict::closed;
  if (queue_.size() >= max_queue_) return verdict::rejected;
  waiter->granted_ = false;
  queue_.push_back(waiter);
  return verdict::queued;
}

void inflight_limit::leave() {
  if (!limited()) return;
  std::shared_ptr<admission_waiter> next;
  {
    std::lock_guard lock(mutex_);
    if (queue_.empty()) {
      if (inflight_ > 0) --inflight_;
      return;
    }
    next = std::move(queue_.front());  // the slot passes to it: inflight_ stays the same
    queue_.pop_front();
    next->granted_ = true;
  }
  next->granted();
}

void inflight_limit::close() {
  std::deque<std::shared_ptr<admission_waiter>> refused;
  {
    std::lock_guard lock(mutex_);
    closed_ = true;
    refused.swap(queue_);  // granted_ stays false: each holds nothing
  }
  for (const auto& waiter : refused) waiter->granted();
}

bool inflight_limit::closed() const {
  std::lock_guard lock(mutex_);
  return closed_;
}

bool inflight_limit::withdraw(const admission_waiter& waiter) {
  std::lock_guard lock(mutex_);
  if (waiter.granted_) return false;
  const auto found =
      std::find_if(queue_.begin(), queue_.end(), [&](const auto& queued) { return queued.get() == &waiter; });
  if (found != queue_.end()) queue_.erase(found);
  return true;
}

std::size_t inflight_limit::inflight() const {
  std::lock_guard lock(mutex_);
  return inflight_;
}

std::size_t inflight_limit::queued() const {
  std::lock_guard lock(mutex_);
  return queue_.size();
}

}  // namespace pd_proxy
