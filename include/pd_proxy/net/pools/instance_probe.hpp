// Probing instances added at run time (waiting → active), and the loop that retries those that failed.
#pragma once

#include <atomic>
#include <functional>
#include <vector>

#include "pd_proxy/core/pools/pool_manager.hpp"
#include "pd_proxy/net/net.hpp"
#include "pd_proxy/net/proxy_state.hpp"

namespace pd_proxy {

/// The most probes in flight at once (per call of probe_and_report, and in the retry loop).
inline constexpr std::size_t max_concurrent_probes = 64;

/// GET --health-check-path on `address` on a connection of its own, within --health-check-timeout (5 s when
/// it is 0). Passes on a response head below 500, as an active health check does.
net::awaitable<bool> probe_instance(const proxy_config& config, backend_role role,
                                    const backend_address& address);

/// Probes `targets` (claimed from `pools`) concurrently, each as `config` says, and reports each result to
/// `pools`; logs what changed. Both must outlive the probes.
net::awaitable<void> probe_and_report(pool_manager& pools, const proxy_config& config,
                                      std::vector<probe_target> targets);

/// Retries the probes of waiting instances every --waiting-retry-interval, and reports draining backends
/// whose last request ended (`on_gone`, on the prober's thread). Runs on one executor; start() once, stop()
/// from any thread. The io_context must be destroyed before the prober.
class pool_prober {
 public:
  pool_prober(proxy_state& state, net::any_io_executor executor, std::function<void(backend_id)> on_gone);
  void start();
  void stop();

 private:
  net::awaitable<void> run();

  proxy_state& state_;
  net::any_io_executor executor_;
  std::function<void(backend_id)> on_gone_;
  std::atomic<bool> stopped_{false};
  net::steady_timer* wake_ = nullptr;  // the loop's timer, in its frame; touched on the executor only
};

}  // namespace pd_proxy
