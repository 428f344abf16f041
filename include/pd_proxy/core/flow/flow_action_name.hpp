// The names of the flow actions, for logs and test messages.
#pragma once

#include <string_view>

#include "pd_proxy/core/flow/flow_step.hpp"

namespace pd_proxy {

/// The action kind's name as flow_step.hpp spells it ("read_first_byte"), or "?" for a value out of range.
constexpr std::string_view to_string(flow_action::kind what) {
  using k = flow_action::kind;
  switch (what) {
    case k::check_role:
      return "check_role";
    case k::reserve:
      return "reserve";
    case k::send:
      return "send";
    case k::read_body:
      return "read_body";
    case k::read_first_byte:
      return "read_first_byte";
    case k::relay:
      return "relay";
    case k::release:
      return "release";
    case k::report:
      return "report";
    case k::close:
      return "close";
    case k::end_leg:
      return "end_leg";
    case k::back_off:
      return "back_off";
    case k::answer_error:
      return "answer_error";
    case k::pass_through:
      return "pass_through";
    case k::expect_signals:
      return "expect_signals";
    case k::await_signal:
      return "await_signal";
    case k::answer_signals:
      return "answer_signals";
    case k::forget_signals:
      return "forget_signals";
    case k::wait:
      return "wait";
    case k::done:
      return "done";
  }
  return "?";
}

}  // namespace pd_proxy
