#include "pd_proxy/core/config/config.hpp"

#include <algorithm>
#include <thread>

#include "pd_proxy/core/scheduling/selection_policy.hpp"

namespace pd_proxy {

unsigned default_workers() {
  return std::clamp(std::thread::hardware_concurrency(), 1u, max_workers);
}

flow_settings flow_settings_of(const proxy_config& config) {
  return {.attempts = std::max(1, config.max_retries),
          .retry_delay = config.retry_delay,
          .decode_retry_kv = config.decode_retry_kv,
          .prefill_timeout = config.prefill_timeout,
          .first_token_timeout = config.first_token_timeout,
          .stream_idle_timeout = config.stream_idle_timeout,
          .disagg_min_prompt_tokens = config.disagg_min_prompt_tokens,
          .usage_from_prefiller = !config.usage_from_decoder,
          .metaserver_url = config.metaserver_url,
          .metaserver_timeout = config.metaserver_timeout};
}

bool reads_session_header(const proxy_config& config) {
  return config.prefill_policy == "session-affinity" || config.decode_policy == "session-affinity";
}

policy_settings policy_settings_of(const proxy_config& config) {
  policy_settings settings;
  settings.affinity_load_factor = config.affinity_load_factor;
  // An engine report is trusted for three scrape intervals: one late or lost scrape does not discard it.
  settings.report_ttl =
      std::chrono::duration_cast<policy_settings::clock::duration>(3 * config.metrics_scrape_interval);
  return settings;
}

}  // namespace pd_proxy
