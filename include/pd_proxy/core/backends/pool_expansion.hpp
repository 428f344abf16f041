// Expands the reference proxy's host/port flags into an ordered backend pool.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pd_proxy/core/backends/backend_address.hpp"

namespace pd_proxy {

/// The four flags of one role as given on the command line (`--prefiller-hosts`, `--prefiller-hosts-num`,
/// `--prefiller-ports`, `--prefiller-ports-inc`, or the decoder ones).
struct pool_flags {
  std::vector<std::string> hosts;
  std::optional<std::vector<long long>> hosts_num;  // repetitions of hosts[i]
  std::vector<long long> ports;
  std::optional<std::vector<long long>> ports_inc;  // count of consecutive ports from ports[i]
};

/// The largest pool of one role that expand_pool builds (after expansion).
inline constexpr std::size_t max_pool_size = 65535;

struct pool_expansion {
  std::vector<backend_address> backends;  // empty when `error` is set
  std::string error;                      // names the offending flag and what was expected

  bool ok() const { return error.empty(); }
};

/// Expands one role's flags exactly as the reference proxy does for consistent input: host i repeated
/// hosts_num[i] times, port i expanded to ports[i] .. ports[i]+ports_inc[i]-1, the two lists paired by
/// position (host-major order). Hosts go through parse_host (so "[::1]" becomes "::1", canonical). Unlike the
/// reference, inconsistent input is rejected instead of silently truncated: mismatched list lengths (hosts vs
/// ports, counts vs their lists, expanded lists), a host's count that differs from its port's increment
/// (which would pair hosts with the wrong ports), counts outside 1..65535, ports outside 1..65535 (including
/// past 65535 through an increment), hosts parse_host refuses, an empty pool, a pool of more than
/// max_pool_size backends, and an instance named twice (after parse_host: "127.0.0.1" and
/// "[::ffff:127.0.0.1]" with one port are one instance; a name and an address are two, see backend_address).
/// Any long long value is handled without overflow and without a large allocation before the checks.
/// `flag_prefix` is "prefiller" or "decoder" and is used in the messages ("--prefiller-hosts-num has 3 values
/// but --prefiller-hosts has 4"). Never throws except std::bad_alloc.
pool_expansion expand_pool(const pool_flags& flags, const std::string& flag_prefix);

}  // namespace pd_proxy
