#include "pd_proxy/core/config/reload.hpp"

#include <map>
#include <utility>

namespace pd_proxy {
namespace {

// `from` minus `minus` as multisets of authorities, in `from`'s order.
std::vector<backend_address> difference(const std::vector<backend_address>& from,
                                        const std::vector<backend_address>& minus) {
  std::map<std::string, int> left;
  for (const auto& a : minus) ++left[a.authority()];
  std::vector<backend_address> out;
  for (const auto& a : from) {
    auto it = left.find(a.authority());
    if (it != left.end() && it->second > 0) {
      --it->second;
    } else {
      out.push_back(a);
    }
  }
  return out;
}

// Whether a prefiller in both pools has another bootstrap port in `next`.
bool kept_bootstrap_port_changed(const std::vector<backend_address>& old,
                                 const std::vector<backend_address>& next) {
  std::map<std::string, std::optional<std::uint16_t>> ports;
  for (const auto& a : old) ports.emplace(a.authority(), a.bootstrap_port);
  for (const auto& a : next) {
    const auto it = ports.find(a.authority());
    if (it != ports.end() && it->second != a.bootstrap_port) return true;
  }
  return false;
}

// Walks the settings once: a reloadable one is copied from `next` into the plan's config and, when it
// changed, listed as applied; a fixed one keeps its running value and, when it changed, is listed as ignored.
class classifier {
 public:
  classifier(const proxy_config& next, reload_plan& plan) : next_(next), plan_(plan) {}

  template <class T>
  void reloadable(const char* flag, T proxy_config::*member) {
    if (plan_.config.*member == next_.*member) return;
    plan_.config.*member = next_.*member;
    plan_.applied.emplace_back(flag);
  }
  template <class T>
  void fixed(const char* flag, T proxy_config::*member) {
    if (!(plan_.config.*member == next_.*member)) plan_.ignored.emplace_back(flag);
  }

 private:
  const proxy_config& next_;
  reload_plan& plan_;
};

}  // namespace

pool_changes diff_pools(const proxy_config& old, const proxy_config& next) {
  return pool_changes{
      .added_prefillers = difference(next.prefillers, old.prefillers),
      .removed_prefillers = difference(old.prefillers, next.prefillers),
      .added_decoders = difference(next.decoders, old.decoders),
      .removed_decoders = difference(old.decoders, next.decoders),
  };
}

reload_plan plan_reload(const proxy_config& running, const proxy_config& next) {
  reload_plan plan{running, {}, {}, diff_pools(running, next)};
  plan.config.prefillers = next.prefillers;
  plan.config.decoders = next.decoders;
  classifier c(next, plan);
  using pc = proxy_config;
  c.fixed("--host", &pc::host);
  c.fixed("--port", &pc::port);
  c.fixed("--pd-protocol", &pc::pd_protocol);
  c.fixed("--metaserver-url", &pc::metaserver_url);
  c.fixed("--metaserver-max-pending", &pc::metaserver_max_pending);
  c.reloadable("--max-retries", &pc::max_retries);
  c.reloadable("--retry-delay", &pc::retry_delay);
  c.reloadable("--decode-retry-kv", &pc::decode_retry_kv);
  c.reloadable("--usage-from-decoder", &pc::usage_from_decoder);
  c.reloadable("--max-waiting-retries", &pc::max_waiting_retries);
  c.reloadable("--waiting-retry-interval", &pc::waiting_retry_interval);
  c.reloadable("--connect-timeout", &pc::connect_timeout);
  c.reloadable("--prefill-timeout", &pc::prefill_timeout);
  c.reloadable("--first-token-timeout", &pc::first_token_timeout);
  c.reloadable("--stream-idle-timeout", &pc::stream_idle_timeout);
  c.reloadable("--client-header-timeout", &pc::client_header_timeout);
  c.reloadable("--client-idle-timeout", &pc::client_idle_timeout);
  c.reloadable("--drain-timeout", &pc::shutdown_timeout);
  c.fixed("--cb-failure-threshold", &pc::cb_failure_threshold);
  c.fixed("--cb-recovery-timeout", &pc::cb_recovery_timeout);
  c.fixed("--cb-max-recovery-timeout", &pc::cb_max_recovery_timeout);
  c.fixed("--health-check-interval", &pc::health_check_interval);
  c.reloadable("--health-check-path", &pc::health_check_path);
  c.reloadable("--health-check-timeout", &pc::health_check_timeout);
  c.fixed("--unhealthy-threshold", &pc::unhealthy_threshold);
  c.fixed("--healthy-threshold", &pc::healthy_threshold);
  c.fixed("--max-inflight", &pc::max_inflight);
  c.fixed("--max-queue", &pc::max_queue);
  c.reloadable("--queue-timeout", &pc::queue_timeout);
  c.reloadable("--max-body-size", &pc::max_body_size);
  c.fixed("--max-connections", &pc::max_connections);
  c.fixed("--max-idle-backend-connections", &pc::max_idle_backend_connections);
  c.fixed("--max-buffered-body-bytes", &pc::max_buffered_body_bytes);
  c.reloadable("--ignore-client-half-close", &pc::ignore_client_half_close);
  c.reloadable("--prefill-policy", &pc::prefill_policy);
  c.reloadable("--decode-policy", &pc::decode_policy);
  c.reloadable("--affinity-load-factor", &pc::affinity_load_factor);
  c.reloadable("--session-header", &pc::session_header);
  c.fixed("--metrics-scrape-interval", &pc::metrics_scrape_interval);
  c.reloadable("--disagg-min-prompt-tokens", &pc::disagg_min_prompt_tokens);
  c.fixed("--workers", &pc::workers);
  c.reloadable("--log-level", &pc::log_level);
  c.reloadable("--backend-api-key", &pc::backend_api_key);
  c.reloadable("--api-key", &pc::api_keys);  // with --api-key-file and $PD_PROXY_API_KEY
  c.reloadable("--forward-client-authorization", &pc::forward_client_authorization);
  c.reloadable("--admin-api-key", &pc::admin_api_key);
  c.fixed("--tls-cert", &pc::tls_cert);
  c.fixed("--tls-key", &pc::tls_key);
  c.fixed("--log-format", &pc::log_format);
  c.fixed("--access-log", &pc::access_log);
  c.fixed("--prefiller-dns/--decoder-dns", &pc::dns_targets);
  c.fixed("--dns-refresh-interval", &pc::dns_refresh_interval);
  // A prefiller kept by the reload keeps the bootstrap port it was added with; added ones take theirs.
  if (kept_bootstrap_port_changed(running.prefillers, next.prefillers))
    plan.ignored.emplace_back("--prefiller-bootstrap-ports");
  return plan;
}

}  // namespace pd_proxy
