// SIGHUP: what a new configuration changes in a running proxy, decided without I/O.
#pragma once

#include <string>
#include <vector>

#include "pd_proxy/core/backends/backend_address.hpp"
#include "pd_proxy/core/config/config.hpp"

namespace pd_proxy {

/// The configured pools' difference, per role, in the new configuration's order (added) and the old one's
/// (removed). An address listed n times counts n times: going from [a, a] to [a] removes one a.
struct pool_changes {
  std::vector<backend_address> added_prefillers;
  std::vector<backend_address> removed_prefillers;
  std::vector<backend_address> added_decoders;
  std::vector<backend_address> removed_decoders;

  bool empty() const {
    return added_prefillers.empty() && removed_prefillers.empty() && added_decoders.empty() &&
           removed_decoders.empty();
  }
};

/// old.prefillers/decoders -> next.prefillers/decoders.
pool_changes diff_pools(const proxy_config& old, const proxy_config& next);

/// What a reload does.
struct reload_plan {
  /// The configuration to run with: `running`'s settings that cannot change at run time, `next`'s others
  /// (its pools included, so that the next reload is compared with them).
  proxy_config config;
  /// Flags whose value changed and takes effect for new requests ("--max-retries"), in flag order.
  std::vector<std::string> applied;
  /// Flags whose value changed but needs a restart ("--port", "--workers"); the running value stays.
  std::vector<std::string> ignored;
  /// Pool additions and removals, for the pool hook (add with probing, drain on removal).
  pool_changes pools;
};

/// Compares the running configuration with a newly parsed and validated one.
/// Reloadable: retries (--max-retries, --retry-delay, --decode-retry-kv, --max-waiting-retries,
/// --waiting-retry-interval), timeouts (--connect/prefill/first-token/stream-idle/client-header/client-idle
/// timeouts, --drain-timeout, --queue-timeout), --max-body-size, --ignore-client-half-close, the health
/// check's path and timeout, --log-level, --backend-api-key, and the pools (through `pools`). Fixed until a
/// restart: --host, --port, --workers, --max-connections, --max-inflight, --max-queue,
/// --max-buffered-body-bytes, --max-idle-backend-connections, the circuit breaker and health-check schedule
/// settings, and the selection policies (built once with the scheduler).
/// A setting not listed here keeps its running value (a new field must be classified in reload.cpp).
reload_plan plan_reload(const proxy_config& running, const proxy_config& next);

}  // namespace pd_proxy
