// One backend's /metrics connection and the scrape it runs on it.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>

#include "pd_proxy/core/backends/backend.hpp"
#include "pd_proxy/core/backends/engine_load.hpp"
#include "pd_proxy/net/net.hpp"

namespace pd_proxy {

/// A scrape's result: the engine's load, or why there is none.
struct scrape_outcome {
  std::optional<engine_load> load;  // read_at not set (the caller's)
  std::string reason;               // empty when `load` is set
};

/// The memory one scrape reads into, lent by the caller for the scrape's duration: a few sets (one per scrape
/// in flight) serve every probe, so an idle probe holds its socket only. Empty between scrapes.
struct scrape_buffers {
  static constexpr std::size_t read_size = 16 * 1024;   // bytes per receive: a small engine's answer in one
  static constexpr std::size_t kept_body = 256 * 1024;  // body capacity kept for the next scrape, at most

  scrape_buffers() { read.reserve(read_size); }
  beast::flat_buffer read;  // what the socket gave and the parser did not take yet
  std::string body;         // the answer's body
};

/// Sends one prebuilt GET /metrics to its backend and reads the engine load from the answer
/// (core/observe/engine_metrics). One kept-alive connection per backend, as health_probe keeps: a kept
/// connection found closed by the backend before any byte of an answer (its idle timeout) is replaced once
/// within the same scrape. The answer is read by Beast's parser (Content-Length, chunked or
/// close-delimited), its body bounded by max_answer_bytes; an answer that is not 200, larger, not a vLLM
/// metrics text, or late fails the scrape.
///
/// Runs on one single-threaded executor; one scrape at a time.
class metrics_probe : public std::enable_shared_from_this<metrics_probe> {
 public:
  static constexpr std::size_t max_answer_bytes = 1024 * 1024;

  metrics_probe(const net::any_io_executor& executor, std::shared_ptr<backend> target, std::string request);
  metrics_probe(const metrics_probe&) = delete;
  metrics_probe& operator=(const metrics_probe&) = delete;

  const std::shared_ptr<backend>& target() const { return target_; }
  /// Whether close() was called since the last scrape began (a scrape in flight then ends with an error).
  bool closed() const { return closed_; }
  /// Whether the last scrape that ended failed (false before the first).
  bool failing() const { return failing_; }

  /// Reads the engine's /metrics once into `buffers`, by `deadline` (the connect is bounded by it too), and
  /// leaves `buffers` empty. Never throws on I/O errors. Precondition: no scrape in flight, and the probe and
  /// `buffers` outlive it (the caller holds them).
  net::awaitable<scrape_outcome> scrape(std::chrono::steady_clock::time_point deadline,
                                        scrape_buffers& buffers);
  /// Closes the connection; a scrape in flight ends with an error.
  void close();

 private:
  /// One exchange on the current connection (a new one when there is none). `lost` is set when a kept
  /// connection failed before any byte of the answer.
  net::awaitable<scrape_outcome> exchange(std::chrono::steady_clock::time_point deadline,
                                          scrape_buffers& buffers, bool& lost);

  std::shared_ptr<backend> target_;
  std::string request_;  // the whole request, built once
  tcp::socket socket_;
  bool closed_ = false;
  bool failing_ = false;
};

}  // namespace pd_proxy
