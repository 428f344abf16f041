// Session affinity: every request of a session goes to the same backend.
#pragma once

#include <cstdint>

#include "pd_proxy/core/scheduling/prefix_affinity_policy.hpp"

namespace pd_proxy {

/// prefix_affinity_policy keyed by the session: the hash of the client's session header (--session-header,
/// default X-Session-Id; request_context::session_key), so a multi-turn or agentic conversation lands where
/// its earlier turns are cached whatever its text. A request without the header is routed by its prefix key
/// as prefix-affinity does. The same bound on load applies: a session whose backend is above
/// --affinity-load-factor x the mean moves to the next backend on the ring.
class session_affinity_policy final : public prefix_affinity_policy {
 public:
  using prefix_affinity_policy::prefix_affinity_policy;

 protected:
  std::uint64_t affinity_key(const request_context& request) const override {
    return request.session_key != 0 ? request.session_key : request.prefix_key;
  }
};

}  // namespace pd_proxy
