// SIGHUP: install a newly parsed configuration in a running server (the decisions are core/config/reload).
#pragma once

#include <functional>
#include <string>

#include "pd_proxy/core/config/cli.hpp"
#include "pd_proxy/core/config/reload.hpp"
#include "pd_proxy/net/client/server.hpp"

namespace pd_proxy {

/// Where pool changes go: the one seam between a reload and the run-time pools.
using pool_change_hook = std::function<void(const pool_changes&)>;

/// A hook that changes the pools with proxy_state::add_backend / remove_backend: an added backend is a
/// candidate at once (active health checks then judge it), a removed one takes no new request and its
/// in-flight requests finish against it.
pool_change_hook add_and_remove_backends(proxy_state& state);

/// The hook pd-proxy reloads with: the semantics of POST /instances/add and /instances/remove
/// (docs/pools.md), in the order of pool_manager::replace. An added instance waits until it answers its probe
/// (--max-waiting-retries, --waiting-retry-interval), then is routable; a removed one stays routable until
/// the instances the reload added are active or given up, then takes no new request and drains.
pool_change_hook add_and_drain_instances(server& proxy);

/// The log level's name as pd-proxy's flags spell it ("warning", "warn", ...) applied to spdlog.
void apply_log_level(const std::string& level);

/// A --prefill-policy / --decode-policy that differs from the running one picks from now on (names are
/// valid: the command line checked them); requests in flight keep what they reserved.
void apply_policies(scheduler& sched, const proxy_config& running, const proxy_config& next);

struct reload_result {
  bool accepted = false;
  std::string message;  // the one line that was logged
};

/// `parsed`: the command line parsed again, with the environment and the --config file as they are now.
/// Invalid: one error line is logged and nothing changes. Valid: plan_reload against the running
/// configuration; changes that need a restart are logged as ignored, the others are applied (log level at
/// once, the rest installed on every worker for new requests), and pool changes go to `hook`.
/// Call from a thread that is not a worker's.
reload_result reload_configuration(server& proxy, const cli_outcome& parsed, const pool_change_hook& hook);

}  // namespace pd_proxy
