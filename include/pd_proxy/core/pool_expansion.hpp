// Expands the reference proxy's host/port flags into an ordered backend pool.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "pd_proxy/core/backend_address.hpp"

namespace pd_proxy {

/// The four flags of one role as given on the command line (`--prefiller-hosts`, `--prefiller-hosts-num`,
/// `--prefiller-ports`, `--prefiller-ports-inc`, or the decoder ones).
struct pool_flags {
  std::vector<std::string> hosts;
  std::optional<std::vector<long long>> hosts_num;  // repetitions of hosts[i]
  std::vector<long long> ports;
  std::optional<std::vector<long long>> ports_inc;  // count of consecutive ports from ports[i]
};

struct pool_expansion {
  std::vector<backend_address> backends;  // empty when `error` is set
  std::string error;                      // names the offending flag and what was expected

  bool ok() const { return error.empty(); }
};

/// Expands one role's flags exactly as the reference proxy does for consistent input: host i repeated
/// hosts_num[i] times, port i expanded to ports[i] .. ports[i]+ports_inc[i]-1, the two lists paired by
/// position (host-major order). Unlike the reference, inconsistent input is rejected instead of silently
/// truncated: mismatched list lengths (hosts vs ports, counts vs their lists, expanded lists), a host's
/// count that differs from its port's increment (which would pair hosts with the wrong ports), counts < 1, ports outside 1..65535 (including overflow past 65535
/// from an increment), empty host names and an empty pool. `flag_prefix` is "prefiller" or "decoder" and is
/// used in the messages ("--prefiller-hosts-num has 3 values but --prefiller-hosts has 4").
pool_expansion expand_pool(const pool_flags& flags, const std::string& flag_prefix);

}  // namespace pd_proxy
