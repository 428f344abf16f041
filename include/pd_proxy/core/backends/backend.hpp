// A backend instance (a prefiller or a decoder) as an object with a stable identity.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "pd_proxy/core/backends/backend_address.hpp"
#include "pd_proxy/core/backends/engine_load.hpp"
#include "pd_proxy/core/backends/fixed_load.hpp"
#include "pd_proxy/core/health/backend_health_state.hpp"

namespace pd_proxy {

/// Unique for the life of the process: a removed backend's id is never given to another.
using backend_id = std::uint64_t;

/// Load that in-flight requests put on one backend, in the reference proxy's units (a copy for reading:
/// /healthcheck, metrics, tests; the scheduler accounts in fixed_load).
struct backend_load {
  double active_tokens = 0;    // reserved at selection; prefill: until its response, decode: until the end
  double active_kv = 0;        // prefill only: KV held on the prefiller until the decoder's first chunk
  std::uint32_t inflight = 0;  // requests currently holding a reservation on this backend
};

/// Whether selection may pick the backend: a copy of the scheduler's verdict (health checks and circuit
/// breaker) for lock-free readers; a backend being removed is draining.
enum class backend_health : std::uint8_t { usable, unhealthy, draining };

/// One backend. Created by the registry and shared (std::shared_ptr) by every snapshot and reservation that
/// refers to it, so a removed backend lives until its last request released its load. Its identity, role and
/// address never change; its load is owned by the scheduler (read it through scheduler::load).
class backend : public std::enable_shared_from_this<backend> {
 public:
  backend(backend_id id, backend_role role, backend_address address)
      : id_(id), role_(role), address_(std::move(address)), authority_(address_.authority()) {}
  backend(const backend&) = delete;
  backend& operator=(const backend&) = delete;

  backend_id id() const { return id_; }
  backend_role role() const { return role_; }
  const backend_address& address() const { return address_; }
  /// "host:port" ("[::1]:9000" for IPv6), computed once: the Host header and log/metric label.
  const std::string& authority() const { return authority_; }

  /// The health slot; relaxed reads are enough (a stale value only delays a decision by one request).
  std::atomic<backend_health> health{backend_health::usable};

 private:
  friend class scheduler;

  const backend_id id_;
  const backend_role role_;
  const backend_address address_;
  const std::string authority_;
  // Guarded by the lock of the scheduler's pool for this role (a backend belongs to one scheduler).
  fixed_load load_;
  backend_health_state health_state_;
  bool candidate_ = false;      // in the scheduler's candidates (so no lookup by id says whether it is)
  bool routed_ = false;         // in the policy's index: a candidate that is usable now
  bool load_reported_ = false;  // engine_load_ holds the engine's last report (scheduler::report_load)
  engine_load engine_load_{};
};

}  // namespace pd_proxy
