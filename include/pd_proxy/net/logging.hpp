// Process logging: spdlog's asynchronous logger, so that no I/O thread ever waits for a log write.
#pragma once

#include <spdlog/common.h>

#include <cstddef>
#include <cstdint>
#include <string>

namespace pd_proxy {

struct logging_options {
  std::string level = "info";   // --log-level
  std::string format = "text";  // --log-format: text or json
  // Messages waiting for the logging thread; when it is full the oldest waiting one is dropped (and counted)
  // instead of blocking the thread that logs.
  std::size_t queue_size = 8192;
  spdlog::sink_ptr sink = nullptr;  // where lines go; stdout when null (tests pass their own)
};

/// Makes the default spdlog logger an async logger on one background thread with a bounded queue and
/// async_overflow_policy::overrun_oldest, writing `text` ("2026-12-02T02:06:53.123 info msg") or `json` lines
/// (core/log/json_log_line). Call once at startup, before any thread logs; calling it again replaces it.
void setup_logging(const logging_options& options);

/// Log messages dropped because the queue was full, since setup_logging (pd_proxy_log_dropped_total).
/// Thread-safe; 0 before setup_logging.
std::uint64_t dropped_log_messages();

/// Writes out what is queued and stops the logging thread (at exit).
void shutdown_logging();

}  // namespace pd_proxy
