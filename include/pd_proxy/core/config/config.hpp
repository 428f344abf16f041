// Everything the proxy is configured with; filled by the CLI, read by the I/O layer.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "pd_proxy/core/backends/backend_address.hpp"
#include "pd_proxy/core/flow/flow_settings.hpp"
#include "pd_proxy/core/pools/dns_records.hpp"
#include "pd_proxy/core/time/duration.hpp"

namespace pd_proxy {

/// The most I/O threads the proxy runs (`--workers`).
inline constexpr unsigned max_workers = 1024;

/// One I/O thread per core: std::thread::hardware_concurrency(), at least 1, at most max_workers.
unsigned default_workers();

struct proxy_config;
/// The PD flow's settings out of `config`.
flow_settings flow_settings_of(const proxy_config& config);
/// Whether a configured policy routes by the session key (session-affinity for either role): only then is the
/// --session-header looked up in each request (a header lookup is a scan of the request's fields).
bool reads_session_header(const proxy_config& config);
struct policy_settings;  // core/scheduling/selection_policy.hpp
/// The selection policies' settings out of `config` (a fresh seed: policy_settings::seed stays 0).
policy_settings policy_settings_of(const proxy_config& config);

struct proxy_config {
  // Listener.
  std::string host = "localhost";
  std::uint16_t port = 8000;  // 0 binds an ephemeral port (tests)

  // Pools, expanded from the reference's host/port flags, in pool order.
  std::vector<backend_address> prefillers;
  std::vector<backend_address> decoders;

  // DNS discovery (--prefiller-dns, --decoder-dns): each name is resolved every dns_refresh_interval and
  // every A/AAAA record becomes a backend of the target's role (alongside the pools above).
  std::vector<dns_target> dns_targets;
  seconds_d dns_refresh_interval{5.0};

  // Retries: attempts per leg = max(1, max_retries) (the CLI accepts at most 100); delay before attempt k+1 =
  // retry_delay * 2^(k-1).
  int max_retries = 3;
  // The PD protocol family spoken to the backends (--pd-protocol), a name from core/flow/protocols/registry.
  // Fixed at start-up.
  std::string pd_protocol = "two-stage";
  // decoder-first (docs/protocols.md): the URL decoders call back (--metaserver-url; empty: http://<host>:
  // <port>/v1/metaserver, refused for a wildcard host), how long they have (--metaserver-timeout) and how
  // many call-back ids may be pending at once, all requests together (--metaserver-max-pending).
  std::string metaserver_url;
  seconds_d metaserver_timeout{60.0};
  std::size_t metaserver_max_pending = 65536;
  seconds_d retry_delay{0.001};
  // What a decode retry sends to the next decoder (see decode_retry_kv in core/flow/flow_settings.hpp).
  ::pd_proxy::decode_retry_kv decode_retry_kv = ::pd_proxy::decode_retry_kv::reuse;
  // Answers: the decoder's usage.prompt_tokens_details.cached_tokens is relayed as it is, instead of the
  // prefiller's figure (core/flow/usage_rewrite.hpp).
  bool usage_from_decoder = false;

  // Accepted for compatibility with the reference's later flags; nothing uses them yet (they are to bound
  // the readiness probe of a backend added at run time).
  int max_waiting_retries = 3;
  seconds_d waiting_retry_interval{10.0};

  // Timeouts; zero disables one (no limit).
  seconds_d connect_timeout{5.0};         // TCP connect to a backend
  seconds_d prefill_timeout{600.0};       // whole prefill exchange, send to last byte
  seconds_d first_token_timeout{600.0};   // decode request sent -> first body byte
  seconds_d stream_idle_timeout{300.0};   // between two decode reads, and per client write
  seconds_d client_header_timeout{60.0};  // reading one client request
  seconds_d client_idle_timeout{75.0};    // keep-alive wait for the next client request
  seconds_d shutdown_timeout{30.0};       // --drain-timeout: on SIGTERM/SIGINT wait this long for in-flight
                                          // requests (0: no limit, wait until every one has finished)

  // Health (docs/reliability.md). Circuit breaker: failures in a row that open it (0: never), its first open
  // period and the most the doubling reaches. Active checks: GET health_check_path every
  // health_check_interval (0: no checks) within health_check_timeout; results in a row that flip the state.
  int cb_failure_threshold = 3;
  seconds_d cb_recovery_timeout{10.0};
  seconds_d cb_max_recovery_timeout{300.0};
  seconds_d health_check_interval{5.0};
  std::string health_check_path = "/health";
  seconds_d health_check_timeout{2.0};
  int unhealthy_threshold = 2;
  int healthy_threshold = 1;

  // Overload: at most max_inflight requests in the PD flow (0: no limit); the excess waits in a FIFO queue of
  // at most max_queue requests for at most queue_timeout, else 429.
  std::size_t max_inflight = 0;
  std::size_t max_queue = 1024;
  seconds_d queue_timeout{30.0};

  // Limits.
  std::size_t max_body_size = 32 * 1024 * 1024;   // client request body, and buffered backend bodies
  std::size_t max_connections = 16384;            // concurrent client connections
  std::size_t max_idle_backend_connections = 64;  // kept alive per backend per worker
  // Total bytes of client request bodies held by all in-flight requests together; a new request whose body
  // would go beyond it is answered 503 with Retry-After.
  std::size_t max_buffered_body_bytes = 256 * 1024 * 1024;

  // Client connections. By default a client that half-closes its write side (shutdown(SHUT_WR)) after its
  // request is treated as gone and the request is cancelled, as nginx does; when true the request goes on and
  // the connection is closed after the response.
  bool ignore_client_half_close = false;

  // Scheduling (docs/scheduling.md). Policies by name (core/scheduling/selection_policy.hpp: make_policy);
  // prefix-affinity keeps an owner unless its load is above affinity_load_factor x the mean; the session key
  // of session-affinity comes from the client header session_header.
  std::string prefill_policy = "least-loaded";
  std::string decode_policy = "least-loaded";
  double affinity_load_factor = 1.25;
  std::string session_header = "X-Session-Id";
  // Engine load: every backend's /metrics is read every metrics_scrape_interval (0: never; the policies then
  // see this proxy's own accounting only).
  seconds_d metrics_scrape_interval{1.0};
  // Conditional disaggregation: a prompt estimated (bytes / 4) below this many tokens skips the prefill and
  // goes straight to a decoder (0: always disaggregate).
  std::size_t disagg_min_prompt_tokens = 0;

  // Runtime.
  // I/O threads: by default one per core, as with the CLI.
  unsigned workers = default_workers();
  std::string log_level = "info";
  std::string backend_api_key;  // "Authorization: Bearer" on backend requests; none when empty

  // Security (docs/security.md). Client keys of the OpenAI routes (--api-key, --api-key-file,
  // $PD_PROXY_API_KEY): when any is set those routes require "Authorization: Bearer <one of them>".
  std::vector<std::string> api_keys;
  // Send the client's Authorization header to backends instead of backend_api_key.
  bool forward_client_authorization = false;
  // Bearer token of the admin routes; when empty they serve loopback clients only.
  std::string admin_api_key;
  // TLS on the listener: both set (PEM files) or both empty (plain HTTP).
  std::string tls_cert;
  std::string tls_key;
  // Log lines: "text" (spdlog's default pattern) or "json" (one object per line: ts, level, msg).
  std::string log_format = "text";
  std::string access_log = "stdout";  // --access-log: off, stdout, stderr or a file path
};

}  // namespace pd_proxy
