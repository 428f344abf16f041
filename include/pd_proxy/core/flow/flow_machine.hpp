// One request's PD protocol as a sans-io state machine, in the style of Boost.MySQL's algorithms: the driver
// (net/flow/pd_driver) reports what happened as a flow_event and carries out the flow_action it gets back.
// Each protocol family is one implementation in core/flow/protocols/, registered by name in
// core/flow/protocols/registry.hpp; the driver knows none of them.
#pragma once

#include <string_view>

#include "pd_proxy/core/flow/flow_step.hpp"
#include "pd_proxy/core/observe/request_outcome.hpp"

namespace pd_proxy {

/// The decisions of one PD request: which legs to open on which roles, what each sends (splices of the
/// client's bytes), which statuses retry and after what back-off, when holds are released, which leg is
/// relayed to the client and how failures map to the client's error. Not thread-safe; one per request.
class flow_machine {
 public:
  virtual ~flow_machine() = default;

  /// Takes what happened and returns what to do next. An event the machine does not expect ends the request
  /// with a 500 (a driver bug), never undefined behaviour. After `done`, every call returns `done`.
  virtual flow_action resume(const flow_event& event) = 0;

  /// How the request ended; meaningful once resume() returned `done`.
  virtual request_outcome outcome() const = 0;

  /// The leg's decode body carries no kv_transfer_params: the decoder prefills locally (for the counter and
  /// the log). False for protocols without that notion.
  virtual bool local_prefill() const { return false; }

  /// The request skips the prefill hop and goes straight to a decoder, which prefills locally
  /// (--disagg-min-prompt-tokens). Decided when the machine is made, so valid from then on (for the counter
  /// and the log). False for protocols without that notion.
  virtual bool prefill_skipped() const { return false; }
};

}  // namespace pd_proxy
