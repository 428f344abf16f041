// Everything the proxy is configured with; filled by the CLI, read by the I/O layer.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "pd_proxy/core/backend_address.hpp"

namespace pd_proxy {

using seconds_d = std::chrono::duration<double>;

struct proxy_config {
  // Listener.
  std::string host = "localhost";
  std::uint16_t port = 8000;  // 0 binds an ephemeral port (tests)

  // Pools, expanded from the reference's host/port flags, in pool order.
  std::vector<backend_address> prefillers;
  std::vector<backend_address> decoders;

  // Retries: attempts per leg = max(1, max_retries); delay before attempt k+1 = retry_delay * 2^(k-1).
  int max_retries = 3;
  seconds_d retry_delay{0.001};

  // Accepted for compatibility with the reference's later flags (used by /instances/add).
  int max_waiting_retries = 3;
  seconds_d waiting_retry_interval{10.0};

  // Timeouts; zero disables one.
  seconds_d connect_timeout{5.0};        // TCP connect to a backend
  seconds_d prefill_timeout{600.0};      // whole prefill exchange, send to last byte
  seconds_d first_token_timeout{600.0};  // decode request sent -> first body byte
  seconds_d stream_idle_timeout{300.0};  // between two decode reads, and per client write
  seconds_d client_header_timeout{60.0};  // reading one client request
  seconds_d client_idle_timeout{75.0};    // keep-alive wait for the next client request
  seconds_d shutdown_timeout{30.0};       // SIGTERM/SIGINT: wait this long for in-flight requests

  // Limits.
  std::size_t max_body_size = 32 * 1024 * 1024;  // client request body, and buffered backend bodies
  std::size_t max_connections = 16384;           // concurrent client connections
  std::size_t max_idle_backend_connections = 64;  // kept alive per backend per worker

  // Policies.
  std::string prefill_policy = "least-loaded";
  std::string decode_policy = "least-loaded";

  // Runtime.
  unsigned workers = 1;  // I/O threads
  std::string log_level = "info";
  std::string backend_api_key;  // "Authorization: Bearer" on backend requests; none when empty
};

}  // namespace pd_proxy
