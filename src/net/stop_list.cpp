#include "pd_proxy/net/stop_list.hpp"

#include "pd_proxy/net/backend_exchange.hpp"

namespace pd_proxy {

stoppable_request::stoppable_request(stop_list& list) {
  list.requests_.push_back(*this);
}

void stoppable_request::stop() {
  stopping_ = true;
  if (leg_ != nullptr) leg_->abort();
}

void stop_list::stop_all() {
  for (auto& request : requests_) request.stop();
}

}  // namespace pd_proxy
