// pd-mock's servers: engines that behave like vLLM OpenAI servers in a PD deployment.
#pragma once

#include <atomic>
#include <deque>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "pd_proxy/mock/kv_block_table.hpp"
#include "pd_proxy/mock/mock_options.hpp"
#include "pd_proxy/net/net.hpp"

namespace pd_proxy::mock {

/// Counters of one engine; read from any thread.
struct engine_stats {
  std::atomic<std::uint64_t> requests{0};          // generation requests received
  std::atomic<std::uint64_t> prefill_requests{0};  // role prefill (do_remote_decode)
  std::atomic<std::uint64_t> decode_requests{0};   // role decode (do_remote_prefill)
  std::atomic<std::uint64_t> plain_requests{0};    // no PD params
  std::atomic<std::uint64_t> local_prefills{0};  // prefilled here without a remote KV (plain or pull failed)
  std::atomic<std::uint64_t> kv_pulls{0};        // KV claimed from a prefiller
  std::atomic<std::uint64_t> kv_pull_failures{0};  // params present but the claim failed
  std::atomic<std::uint64_t> kv_expired{0};        // prefill KV freed by --kv-timeout
  std::atomic<std::uint64_t> aborted{0};           // the client went away mid-request
  std::atomic<std::uint64_t> failed{0};            // faults injected
  std::atomic<std::uint64_t> prompt_tokens{0};
  std::atomic<std::uint64_t> generation_tokens{0};
  std::atomic<std::uint64_t> prefix_cache_queries{0};  // prompt tokens looked up in the prefix cache
  std::atomic<std::uint64_t> prefix_cache_hits{0};     // of which the cache served
  std::atomic<int> running{0};
  std::atomic<int> waiting{0};
  std::atomic<int> open_connections{0};
  std::atomic<std::size_t> kv_blocks_held{0};
};

/// A request as the engine received it (for tests and debugging).
struct recorded_request {
  std::string target;
  std::string request_id;     // X-Request-Id
  std::string authorization;  // Authorization header
  std::string body;
};

class engine;

/// One process's engines on one io_context thread. Construction binds every port (throws
/// boost::system::system_error on failure); start() runs the thread; stop() ends it. Thread-safe accessors.
class mock_server {
 public:
  explicit mock_server(mock_options options);
  ~mock_server();
  mock_server(const mock_server&) = delete;
  mock_server& operator=(const mock_server&) = delete;

  void start();
  void stop();

  std::size_t size() const;
  std::uint16_t port(std::size_t engine_index) const;
  const engine_stats& stats(std::size_t engine_index) const;
  /// The last requests (up to 256) engine `engine_index` received, oldest first.
  std::vector<recorded_request> recorded(std::size_t engine_index) const;
  /// KV blocks engine `engine_index` holds for prefilled requests not yet claimed.
  std::size_t kv_blocks_held(std::size_t engine_index) const;

 private:
  mock_options options_;
  std::vector<std::unique_ptr<engine>> engines_;  // outlives io_: its destruction destroys frames using them
  net::io_context io_{1};
  std::thread thread_;
  bool started_ = false;
};

}  // namespace pd_proxy::mock
