#include "pd_proxy/net/proxy_state.hpp"

namespace pd_proxy {

proxy_state::proxy_state(proxy_config c)
    : config(std::move(c)),
      sched(make_policy(config.prefill_policy), make_policy(config.decode_policy), health_settings_of(config),
            /*checked=*/config.health_check_interval.count() > 0),
      bodies(config.max_buffered_body_bytes),
      admission(config.max_inflight, config.max_queue),
      access(std::make_unique<access_log>(config.access_log)) {
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
