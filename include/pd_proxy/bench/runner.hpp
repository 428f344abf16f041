// pd-bench's load generator: sends prepared requests at a fixed concurrency or a request rate and records
// what each one took.
#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "pd_proxy/bench/report.hpp"
#include "pd_proxy/bench/workload.hpp"
#include "pd_proxy/core/backends/backend_address.hpp"
#include "pd_proxy/core/config/config.hpp"

namespace pd_proxy::bench {

struct run_options {
  backend_address target;  // host and port of the server under test
  std::string path = "/v1/completions";
  std::string api_key;                          // Authorization: Bearer, when set
  std::string session_header = "X-Session-Id";  // carries each request's session, when it has one
  double request_rate = 0;                      // requests/s; 0 or inf: as fast as the concurrency allows
  double burstiness = 1.0;                      // gamma shape of the gaps (1: Poisson)
  std::size_t max_concurrency = 64;             // requests in flight at most (0: unbounded, rate mode only)
  std::size_t num_requests = 0;                 // requests to send (cycling through the prepared ones)
  double duration_s = 0;                        // or: send for this long (when num_requests is 0)
  seconds_d timeout{600};                       // per request: connect, first byte, and between reads
  std::uint64_t seed = 0;
};

struct progress {
  std::size_t done = 0, failed = 0, in_flight = 0;
  double elapsed_s = 0;
};

/// Runs the load on the calling thread and returns every finished request's record (in finishing order)
/// and the measured duration. Requests are sent in the order of `requests` (cycling), each after its
/// arrival gap. Stops sending when `stop` becomes true (Ctrl-C); requests in flight then
/// finish or time out. `on_progress` is called about once a second.
std::vector<request_record> run_load(const run_options& options,
                                     const std::vector<prepared_request>& requests,
                                     const std::atomic<bool>& stop,
                                     const std::function<void(const progress&)>& on_progress,
                                     double& duration_s);

/// Sends `count` warm-up requests (not measured) the way the run will (its concurrency; no rate, no
/// duration), and tells `say` when the warm-up starts and when it ended (how long, how many failed, or that
/// `stop` interrupted it).
void run_warmup(const run_options& options, std::size_t count, const std::vector<prepared_request>& requests,
                const std::atomic<bool>& stop, const std::function<void(std::string_view)>& say);

}  // namespace pd_proxy::bench
