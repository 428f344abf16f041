#include "pd_proxy/net/proxy_state.hpp"

namespace pd_proxy {

proxy_state::proxy_state(proxy_config c)
    : config(std::move(c)),
      sched(make_policy(config.prefill_policy), make_policy(config.decode_policy)),
      bodies(config.max_buffered_body_bytes) {
  for (const auto& address : config.prefillers) sched.add(backends.add(backend_role::prefill, address));
  for (const auto& address : config.decoders) sched.add(backends.add(backend_role::decode, address));
}

}  // namespace pd_proxy
