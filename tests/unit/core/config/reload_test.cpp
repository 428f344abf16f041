#include "pd_proxy/core/config/reload.hpp"

#include <gtest/gtest.h>

#include "pd_proxy/core/scheduling/selection_policy.hpp"

namespace pd_proxy {
namespace {

backend_address at(const std::string& host, std::uint16_t port) {
  return backend_address{host, port};
}

std::vector<std::string> authorities(const std::vector<backend_address>& pool) {
  std::vector<std::string> out;
  for (const auto& b : pool) out.push_back(b.authority());
  return out;
}

using names = std::vector<std::string>;

TEST(reload, pool_difference_per_role) {
  proxy_config old, next;
  old.prefillers = {at("a", 1), at("b", 1), at("c", 1)};
  next.prefillers = {at("c", 1), at("d", 1), at("a", 1)};
  old.decoders = {at("::1", 9000), at("e", 2)};
  next.decoders = {at("e", 2)};
  const auto d = diff_pools(old, next);
  EXPECT_EQ(authorities(d.added_prefillers), names{"d:1"});
  EXPECT_EQ(authorities(d.removed_prefillers), names{"b:1"});
  EXPECT_TRUE(d.added_decoders.empty());
  EXPECT_EQ(authorities(d.removed_decoders), names{"[::1]:9000"});
  EXPECT_FALSE(d.empty());
  EXPECT_TRUE(diff_pools(old, old).empty());
}

TEST(reload, pool_difference_counts_repeated_addresses) {
  proxy_config old, next;
  old.decoders = {at("a", 1), at("a", 1), at("b", 1)};
  next.decoders = {at("a", 1), at("b", 1), at("b", 1)};
  const auto d = diff_pools(old, next);
  EXPECT_EQ(authorities(d.removed_decoders), names{"a:1"});
  EXPECT_EQ(authorities(d.added_decoders), names{"b:1"});
}

TEST(reload, nothing_changed_means_nothing_to_do) {
  proxy_config running;
  running.prefillers = {at("a", 1)};
  const auto plan = plan_reload(running, running);
  EXPECT_TRUE(plan.applied.empty());
  EXPECT_TRUE(plan.ignored.empty());
  EXPECT_TRUE(plan.pools.empty());
}

TEST(reload, reloadable_settings_take_the_new_value) {
  proxy_config running, next;
  next.max_retries = 9;
  next.retry_delay = seconds_d{0.25};
  next.decode_retry_kv = decode_retry_kv::reprefill;
  next.prefill_timeout = seconds_d{1};
  next.first_token_timeout = seconds_d{2};
  next.shutdown_timeout = seconds_d{3};
  next.queue_timeout = seconds_d{4};
  next.log_level = "debug";
  next.backend_api_key = "new-key";
  next.health_check_path = "/ping";
  const auto plan = plan_reload(running, next);
  EXPECT_EQ(plan.config.max_retries, 9);
  EXPECT_EQ(plan.config.retry_delay, seconds_d{0.25});
  EXPECT_EQ(plan.config.decode_retry_kv, decode_retry_kv::reprefill);
  EXPECT_EQ(plan.config.prefill_timeout, seconds_d{1});
  EXPECT_EQ(plan.config.first_token_timeout, seconds_d{2});
  EXPECT_EQ(plan.config.shutdown_timeout, seconds_d{3});
  EXPECT_EQ(plan.config.queue_timeout, seconds_d{4});
  EXPECT_EQ(plan.config.log_level, "debug");
  EXPECT_EQ(plan.config.backend_api_key, "new-key");
  EXPECT_EQ(plan.config.health_check_path, "/ping");
  EXPECT_EQ(plan.applied, (names{"--max-retries", "--retry-delay", "--decode-retry-kv", "--prefill-timeout",
                                 "--first-token-timeout", "--drain-timeout", "--health-check-path",
                                 "--queue-timeout", "--log-level", "--backend-api-key"}));
  EXPECT_TRUE(plan.ignored.empty());
}

TEST(reload, keys_are_reloadable_and_listener_and_discovery_settings_are_not) {
  proxy_config running, next;
  next.api_keys = {"new-client-key", "old-client-key"};
  next.admin_api_key = "new-admin-key";
  next.forward_client_authorization = true;
  next.tls_cert = "/etc/pd-proxy/cert.pem";
  next.access_log = "off";
  next.dns_refresh_interval = seconds_d{30};
  const auto plan = plan_reload(running, next);
  EXPECT_EQ(plan.config.api_keys, next.api_keys);
  EXPECT_EQ(plan.config.admin_api_key, "new-admin-key");
  EXPECT_TRUE(plan.config.forward_client_authorization);
  EXPECT_EQ(plan.config.tls_cert, running.tls_cert);
  EXPECT_EQ(plan.config.access_log, running.access_log);
  EXPECT_EQ(plan.applied, (names{"--api-key", "--forward-client-authorization", "--admin-api-key"}));
  EXPECT_EQ(plan.ignored, (names{"--tls-cert", "--access-log", "--dns-refresh-interval"}));
}

TEST(reload, policies_are_reloadable) {
  proxy_config running, next;
  next.prefill_policy = "round-robin";
  next.decode_policy = "random";
  const auto plan = plan_reload(running, next);
  EXPECT_EQ(plan.config.prefill_policy, "round-robin");
  EXPECT_EQ(plan.config.decode_policy, "random");
  EXPECT_EQ(plan.applied, (names{"--prefill-policy", "--decode-policy"}));
  EXPECT_TRUE(plan.ignored.empty());
}

TEST(reload, scheduling_settings_apply_except_the_scrape_interval) {
  proxy_config running, next;
  next.affinity_load_factor = 2;
  next.session_header = "X-Conversation";
  next.disagg_min_prompt_tokens = 64;
  next.metrics_scrape_interval = seconds_d{5};
  const auto plan = plan_reload(running, next);
  EXPECT_EQ(plan.config.affinity_load_factor, 2);
  EXPECT_EQ(plan.config.session_header, "X-Conversation");
  EXPECT_EQ(plan.config.disagg_min_prompt_tokens, 64u);
  EXPECT_EQ(plan.config.metrics_scrape_interval, running.metrics_scrape_interval);
  EXPECT_EQ(plan.applied,
            (names{"--affinity-load-factor", "--session-header", "--disagg-min-prompt-tokens"}));
  EXPECT_EQ(plan.ignored, (names{"--metrics-scrape-interval"}));
}

TEST(reload, fixed_settings_keep_the_running_value_and_are_reported) {
  proxy_config running, next;
  running.workers = 4;
  next.host = "0.0.0.0";
  next.port = 9999;
  next.workers = 8;
  next.max_inflight = 10;
  next.max_connections = 5;
  next.cb_failure_threshold = 7;
  next.max_retries = 1;  // a reloadable one in the same reload
  const auto plan = plan_reload(running, next);
  EXPECT_EQ(plan.config.host, "localhost");
  EXPECT_EQ(plan.config.port, 8000);
  EXPECT_EQ(plan.config.workers, 4u);
  EXPECT_EQ(plan.config.max_inflight, 0u);
  EXPECT_EQ(plan.config.max_connections, running.max_connections);
  EXPECT_EQ(plan.config.cb_failure_threshold, 3);
  EXPECT_EQ(plan.config.max_retries, 1);
  EXPECT_EQ(plan.ignored, (names{"--host", "--port", "--cb-failure-threshold", "--max-inflight",
                                 "--max-connections", "--workers"}));
  EXPECT_EQ(plan.applied, names{"--max-retries"});
}

TEST(reload, the_pd_protocol_needs_a_restart) {
  proxy_config running, next;
  next.pd_protocol = "another";  // what the command line would check; the plan only compares
  const auto plan = plan_reload(running, next);
  EXPECT_EQ(plan.config.pd_protocol, "two-stage");
  EXPECT_EQ(plan.ignored, names{"--pd-protocol"});
  EXPECT_TRUE(plan.applied.empty());
}

TEST(reload, the_new_pools_become_the_reference_for_the_next_reload) {
  proxy_config running, next;
  running.decoders = {at("a", 1)};
  next.decoders = {at("b", 1)};
  const auto plan = plan_reload(running, next);
  EXPECT_EQ(authorities(plan.config.decoders), names{"b:1"});
  EXPECT_EQ(authorities(plan.pools.added_decoders), names{"b:1"});
  EXPECT_EQ(authorities(plan.pools.removed_decoders), names{"a:1"});
  EXPECT_TRUE(plan_reload(plan.config, next).pools.empty());
}

}  // namespace
}  // namespace pd_proxy

namespace pd_proxy {
namespace {

TEST(policy_settings_of, carries_the_affinity_factor_and_a_report_ttl_of_three_scrapes) {
  proxy_config config;
  config.affinity_load_factor = 2.5;
  config.metrics_scrape_interval = seconds_d{0.5};
  const auto settings = policy_settings_of(config);
  EXPECT_EQ(settings.affinity_load_factor, 2.5);
  EXPECT_EQ(settings.report_ttl, std::chrono::milliseconds(1500));
  EXPECT_EQ(policy_settings_of(proxy_config{}).report_ttl, std::chrono::seconds(3));
}

TEST(reads_session_header, only_when_a_role_uses_session_affinity) {
  proxy_config config;
  EXPECT_FALSE(reads_session_header(config));
  config.decode_policy = "session-affinity";
  EXPECT_TRUE(reads_session_header(config));
  config.decode_policy = "prefix-affinity";
  config.prefill_policy = "session-affinity";
  EXPECT_TRUE(reads_session_header(config));
}

}  // namespace
}  // namespace pd_proxy
