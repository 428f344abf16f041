#include "pd_proxy/net/proxy_state.hpp"

namespace pd_proxy {

proxy_state::proxy_state(proxy_config c)
    : config(std::move(c)),
      sched(config.prefillers.size(), config.decoders.size(), make_policy(config.prefill_policy),
            make_policy(config.decode_policy)),
      bodies(config.max_buffered_body_bytes) {}

}  // namespace pd_proxy
