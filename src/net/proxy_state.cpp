#include "pd_proxy/net/proxy_state.hpp"

#include "pd_proxy/core/flow/protocols/decoder_first.hpp"

namespace pd_proxy {
namespace {

// A worker thread's installed configuration, and the proxy it belongs to (a test process runs several).
struct installed_config {
  const proxy_state* owner = nullptr;
  std::shared_ptr<const proxy_config> config;
};
thread_local installed_config this_thread_config;

}  // namespace

proxy_state::proxy_state(proxy_config c)
    : config(std::move(c)),
      sched(make_policy(config.prefill_policy, policy_settings_of(config)),
            make_policy(config.decode_policy, policy_settings_of(config)), health_settings_of(config),
            /*checked=*/config.health_check_interval.count() > 0),
      protocol(find_pd_protocol(config.pd_protocol) != nullptr ? *find_pd_protocol(config.pd_protocol)
                                                               : pd_protocols().front()),
      bodies(config.max_buffered_body_bytes),
      admission(config.max_inflight, config.max_queue),
      access(std::make_unique<access_log>(config.access_log)),
      pools(backends, sched,
            pool_settings{.max_waiting_retries = config.max_waiting_retries,
                          .retry_interval = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                              config.waiting_retry_interval),
                          .max_waiting = 4096}) {
  if (protocol.takes_call_backs) {
    signals = std::make_unique<signal_board>(
        config.metaserver_max_pending,
        config.metaserver_url.empty()
            ? default_metaserver_url(config.host, config.port, !config.tls_cert.empty())
            : config.metaserver_url);
  }
  for (const auto& address : config.prefillers) add_backend(backend_role::prefill, address);
  for (const auto& address : config.decoders) add_backend(backend_role::decode, address);
}

std::shared_ptr<backend> proxy_state::add_backend(backend_role role, backend_address address) {
  auto added = backends.add(role, std::move(address));
  sched.add(added);
  return added;
}

bool proxy_state::remove_backend(backend_id id) {
  const auto removed = backends.remove(id);
  if (!removed) return false;
  sched.remove(*removed);
  return true;
}

}  // namespace pd_proxy

namespace pd_proxy {

std::shared_ptr<const proxy_config> proxy_state::current_config() const {
  if (this_thread_config.owner == this && this_thread_config.config) return this_thread_config.config;
  return std::shared_ptr<const proxy_config>(std::shared_ptr<const proxy_config>{}, &config);  // not owned
}

void proxy_state::install_config_on_this_thread(std::shared_ptr<const proxy_config> next) const {
  this_thread_config = installed_config{this, std::move(next)};
}

std::shared_ptr<const proxy_config> proxy_state::latest_config() const {
  std::lock_guard lock(latest_mutex_);
  if (latest_) return latest_;
  return std::shared_ptr<const proxy_config>(std::shared_ptr<const proxy_config>{}, &config);
}

void proxy_state::set_latest_config(std::shared_ptr<const proxy_config> next) {
  std::lock_guard lock(latest_mutex_);
  latest_ = std::move(next);
}

}  // namespace pd_proxy
