// A protocol machine's actions decided together, handed to the driver one at a time.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "pd_proxy/core/flow/flow_step.hpp"

namespace pd_proxy {

/// Actions decided together, carried out in order: each but the last is answered with done_sync or started;
/// the last's result is the next event the machine reads. At most `capacity` at once (a ring; adding one more
/// before popping overwrites the first: a machine picks a capacity above what it plans). Not thread-safe.
template <std::size_t capacity>
class basic_action_plan {
 public:
  void clear() { head_ = size_ = 0; }
  /// A new last action, for the caller to fill in (built in place: actions are large).
  flow_action& add(flow_action::kind what, leg_id leg) {
    flow_action& action = actions_[(head_ + size_++) % actions_.size()];
    action = flow_action{.what = what, .leg = leg};
    return action;
  }
  bool empty() const { return size_ == 0; }
  /// The first action planned; the plan must not be empty.
  flow_action pop() {
    const flow_action next = actions_[head_];
    head_ = (head_ + 1) % actions_.size();
    --size_;
    return next;
  }

 private:
  std::array<flow_action, capacity> actions_;
  std::uint8_t head_ = 0;
  std::uint8_t size_ = 0;
};

/// The plan of a machine that decides at most four actions at once.
using action_plan = basic_action_plan<4>;

}  // namespace pd_proxy
