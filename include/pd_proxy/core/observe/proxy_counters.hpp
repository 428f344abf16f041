// The process-wide counters of PD requests.
#pragma once

#include <atomic>
#include <cstdint>

namespace pd_proxy {

/// Monotonic counters, updated with relaxed atomics from any worker.
struct proxy_counters {
  std::atomic<std::uint64_t> pd_requests{0};         // PD requests started
  std::atomic<std::uint64_t> local_prefills{0};      // prefiller returned no kv_transfer_params
  std::atomic<std::uint64_t> client_disconnects{0};  // client went away before its response ended
  std::atomic<std::uint64_t> prefill_retries{0};     // prefill attempts after the first
  std::atomic<std::uint64_t> decode_retries{0};      // decode attempts after the first
  std::atomic<std::uint64_t> midstream_failures{0};  // decoder failed after bytes reached the client
};

}  // namespace pd_proxy
