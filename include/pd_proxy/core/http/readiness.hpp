// The answers of GET /ready and GET /healthcheck, computed from plain counts: the I/O shell gathers them (the
// scheduler's usable backends, the registry's sizes, the drain flag) and writes what these return.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace pd_proxy {

/// What GET /ready looks at.
struct readiness_inputs {
  std::size_t prefill_usable = 0;  // prefillers a new request may pick now
  std::size_t decode_usable = 0;   // decoders a new request may pick now
  bool draining = false;           // SIGTERM/SIGINT: no new request is served
};

/// A route's own answer: its status and its JSON body.
struct route_answer {
  int status = 200;
  std::string body;
};

/// GET /ready: 200 `{"status":"ready",...}` when a request could be served now (a usable prefiller and
/// decoder, not draining); else 503 `{"status":"not_ready","reason":...}` with the first reason of "proxy
/// shutting down", "no healthy prefill instance", "no healthy decode instance". Both carry `prefill_healthy`
/// and `decode_healthy`.
route_answer ready_answer(const readiness_inputs& in);

/// What GET /healthcheck reports.
struct healthcheck_inputs {
  std::size_t prefill_instances = 0;  // registered prefillers, usable or not
  std::size_t decode_instances = 0;   // registered decoders
  std::int64_t request_num = 0;       // PD requests in flight
  std::size_t prefill_healthy = 0;    // usable prefillers
  std::size_t decode_healthy = 0;     // usable decoders
  std::size_t queued = 0;             // requests waiting for a --max-inflight slot
};

/// GET /healthcheck's body (always 200): `{"status":"ok","prefill_instances":..,"decode_instances":..,
/// "request_num":..,"prefill_healthy":..,"decode_healthy":..,"queued":..}`, in that order.
std::string healthcheck_body(const healthcheck_inputs& in);

}  // namespace pd_proxy
