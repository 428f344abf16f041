// DNS discovery: --prefiller-dns/--decoder-dns names resolved every --dns-refresh-interval; records that
// appear are added (waiting, probed while they resolve, active once a probe passes), records that disappear
// drain.
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "pd_proxy/core/pools/dns_records.hpp"
#include "pd_proxy/net/net.hpp"
#include "pd_proxy/net/proxy_state.hpp"

namespace pd_proxy {

/// Looks a name up. Injectable: tests give a fake, production an asio_dns_resolver.
class dns_resolver {
 public:
  virtual ~dns_resolver() = default;
  /// Every address `name` has (A and AAAA records, as IP literals without brackets), or nullopt when the
  /// lookup failed or took longer than `timeout`. Called on the discovery's executor; `name` lives until
  /// the lookup ends.
  virtual net::awaitable<std::optional<std::vector<std::string>>> resolve(const std::string& name,
                                                                          seconds_d timeout) = 0;
};

/// getaddrinfo through Asio's resolver (its own thread), within the timeout.
class asio_dns_resolver final : public dns_resolver {
 public:
  net::awaitable<std::optional<std::vector<std::string>>> resolve(const std::string& name,
                                                                  seconds_d timeout) override;
};

/// Runs on one executor: start() once, stop() from any thread. The io_context must be destroyed before the
/// discovery (its loop's frame refers to it).
class dns_discovery {
 public:
  dns_discovery(proxy_state& state, net::any_io_executor executor, std::vector<dns_target> targets,
                seconds_d interval, std::shared_ptr<dns_resolver> resolver);
  void start();
  void stop();

 private:
  net::awaitable<void> run();
  net::awaitable<void> refresh(std::size_t i);
  /// Logs what target i's lookups give when it changes (not at every lookup while a name fails).
  void log_lookup_change(std::size_t i, lookup_result result);

  proxy_state& state_;
  net::any_io_executor executor_;
  std::vector<dns_target> targets_;
  std::vector<std::vector<backend_address>> last_good_;  // per target: the records of its last good lookup
  std::vector<lookup_result> last_result_;               // per target: what its last lookup gave
  seconds_d interval_;
  std::shared_ptr<dns_resolver> resolver_;
  std::atomic<bool> stopped_{false};
  net::steady_timer* wake_ = nullptr;  // the loop's timer, in its frame; touched on the executor only
};

}  // namespace pd_proxy
