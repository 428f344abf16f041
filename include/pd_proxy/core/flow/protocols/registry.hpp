// The PD protocol families pd-proxy speaks, by the name --pd-protocol takes.
#pragma once

#include <memory>
#include <span>
#include <string_view>

#include "pd_proxy/core/flow/flow_machine.hpp"
#include "pd_proxy/core/flow/flow_settings.hpp"

namespace pd_proxy {

class client_request;

/// Makes one request's machine. `request` (the client's checked request) and `request_id` must outlive it.
using make_flow_machine = std::unique_ptr<flow_machine> (*)(const flow_settings& settings,
                                                            const client_request& request,
                                                            std::string_view request_id);

struct pd_protocol {
  std::string_view name;  // as --pd-protocol takes it
  make_flow_machine make;
  // Its backends call the proxy back (flow_action::expect_signals): the process keeps a call-back table and
  // serves POST /v1/metaserver.
  bool takes_call_backs = false;
};

/// Every registered family, the default ("two-stage") first.
std::span<const pd_protocol> pd_protocols();

/// The family called `name`, or null.
const pd_protocol* find_pd_protocol(std::string_view name);

}  // namespace pd_proxy
