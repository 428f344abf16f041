// --prefiller-bootstrap-ports: each prefiller's SGLang bootstrap port (--pd-protocol sglang-bootstrap), one
// per
// --prefiller-hosts entry, expanded as the ports are.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "pd_proxy/core/backends/backend_address.hpp"

namespace pd_proxy {

/// Sets the bootstrap port of every backend of `pool`, the pool expand_pool built from `hosts` host entries
/// and the increments `ports_inc` (--prefiller-ports-inc, if given): entry i's `ports[i]` expands to
/// ports[i], ports[i]+1, ... over as many backends as its port does, in pool order. The error (naming the
/// flag), or empty: a count other than `hosts`, a value outside 1..65535, or one taken past 65535 by its
/// increment. `pool` is unchanged on error.
std::string apply_bootstrap_ports(const std::vector<long long>& ports, std::size_t hosts,
                                  const std::optional<std::vector<long long>>& ports_inc,
                                  std::vector<backend_address>& pool);

}  // namespace pd_proxy
