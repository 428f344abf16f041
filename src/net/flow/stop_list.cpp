#include "pd_proxy/net/flow/stop_list.hpp"

#include "pd_proxy/net/operation_timer.hpp"

namespace pd_proxy {

stoppable_request::stoppable_request(stop_list& list, abortable& legs) : legs_(legs) {
  list.requests_.push_back(*this);
}

void stoppable_request::stop() {
  stopping_ = true;
  legs_.abort_in_flight();
  if (sleeping_ != nullptr) sleeping_->cancel();
}

net::awaitable<bool> stoppable_request::sleep_for(seconds_d d) {
  if (stopping_) co_return false;
  if (d.count() <= 0) co_return !co_await cancelled();
  net::steady_timer timer(co_await net::this_coro::executor, to_timer_duration(d));
  sleeping_ = &timer;
  auto [ec] = co_await timer.async_wait(use_nothrow);
  sleeping_ = nullptr;
  co_return !ec && !stopping_ && !co_await cancelled();
}

void stop_list::stop_all() {
  for (auto& request : requests_) request.stop();
}

}  // namespace pd_proxy
