#include "pd_proxy/net/logging.hpp"

#include <spdlog/async.h>
#include <spdlog/async_logger.h>
#include <spdlog/formatter.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <memory>
#include <mutex>

#include "pd_proxy/core/log/json_log_line.hpp"

namespace pd_proxy {
namespace {

// The logging thread's pool, for its overrun counter.
std::mutex pool_mutex;
std::shared_ptr<spdlog::details::thread_pool> current_pool;

// --log-format json: runs on the logging thread, never on an I/O thread.
class json_formatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    const auto millis =
        std::chrono::duration_cast<std::chrono::milliseconds>(msg.time.time_since_epoch()).count();
    const std::string ts = iso8601_utc_millis(millis);
    const auto level = spdlog::level::to_string_view(msg.level);
    const std::string line = json_log_line(
        {ts, std::string_view(level.data(), level.size()),
         std::string_view(msg.payload.data(), msg.payload.size()), static_cast<std::uint64_t>(msg.thread_id),
         std::string_view(msg.logger_name.data(), msg.logger_name.size())});
    dest.append(line.data(), line.data() + line.size());
  }
  std::unique_ptr<spdlog::formatter> clone() const override { return std::make_unique<json_formatter>(); }
};

}  // namespace

void setup_logging(const logging_options& options) {
  auto pool =
      std::make_shared<spdlog::details::thread_pool>(options.queue_size == 0 ? 1 : options.queue_size, 1);
  spdlog::sink_ptr sink =
      options.sink ? options.sink : std::make_shared<spdlog::sinks::stdout_color_sink_mt>();
  if (options.format == "json") {
    sink->set_formatter(std::make_unique<json_formatter>());
  } else {
    sink->set_formatter(std::make_unique<spdlog::pattern_formatter>("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v"));
  }
  auto logger = std::make_shared<spdlog::async_logger>("", std::move(sink), pool,
                                                       spdlog::async_overflow_policy::overrun_oldest);
  logger->set_level(spdlog::level::from_str(options.level == "warn" ? "warning" : options.level));
  logger->flush_on(spdlog::level::err);
  {
    const std::lock_guard lock(pool_mutex);
    current_pool = pool;  // the previous pool, if any, lives on in its logger until that is replaced
  }
  spdlog::set_default_logger(std::move(logger));
}

std::uint64_t dropped_log_messages() {
  const std::lock_guard lock(pool_mutex);
  return current_pool ? static_cast<std::uint64_t>(current_pool->overrun_counter()) : 0;
}

void shutdown_logging() {
  // Queued messages hold the logger: keep a reference here, so that the last one is dropped on this thread
  // after the logging thread has written everything and ended, never on the logging thread itself.
  const auto logger = spdlog::default_logger();
  std::shared_ptr<spdlog::details::thread_pool> pool;
  {
    const std::lock_guard lock(pool_mutex);
    pool = std::move(current_pool);
  }
  if (logger) logger->flush();
  spdlog::shutdown();
  pool.reset();  // writes what is queued, then joins the logging thread
}

}  // namespace pd_proxy
