// setup_logging: the async logger, --log-format json lines, and the dropped-message counter.
#include "pd_proxy/net/logging.hpp"

#include <gtest/gtest.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>

#include "test_client.hpp"

namespace pd_proxy::test {
namespace {

// A sink that keeps what it was given; text() reads it under the sink's own lock, since the logging thread
// writes while the test polls.
class captured_sink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  std::string text() {
    const std::lock_guard lock(mutex_);
    return text_;
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& message) override {
    spdlog::memory_buf_t formatted;
    formatter_->format(message, formatted);
    text_.append(formatted.data(), formatted.size());
  }
  void flush_() override {}

 private:
  std::string text_;
};

// Puts the process's previous default logger back when the test ends, after the logging thread wrote
// everything queued and stopped: declare it after the sinks and streams the test logs to.
class restore_logger {
 public:
  restore_logger() : previous_(spdlog::default_logger()) {}
  ~restore_logger() {
    shutdown_logging();
    spdlog::set_default_logger(previous_);
  }
  restore_logger(const restore_logger&) = delete;
  restore_logger& operator=(const restore_logger&) = delete;

 private:
  std::shared_ptr<spdlog::logger> previous_;
};

TEST(logging, json_lines_parse) {
  auto sink = std::make_shared<captured_sink>();
  restore_logger restore;
  setup_logging({.level = "debug", .format = "json", .queue_size = 1024, .sink = sink});
  spdlog::info("pd-proxy listening on {}:{}", "127.0.0.1", 8000);
  spdlog::warn("request {}: prefill attempt 1/3 on {} failed: \"{}\"\nnext line", "id-1", "h:1", "refused");
  spdlog::debug("invalid UTF-8 \xff here");
  spdlog::trace("below the level: not written");
  spdlog::default_logger()->flush();
  ASSERT_TRUE(eventually([&] {
    const std::string text = sink->text();
    return std::count(text.begin(), text.end(), '\n') >= 3;
  }));
  std::istringstream lines(sink->text());
  std::vector<nlohmann::json> parsed;
  for (std::string line; std::getline(lines, line);) {
    auto json = nlohmann::json::parse(line, nullptr, false);
    ASSERT_TRUE(json.is_object()) << line;
    ASSERT_TRUE(json["ts"].is_string()) << line;
    ASSERT_TRUE(json["level"].is_string()) << line;
    ASSERT_TRUE(json["msg"].is_string()) << line;
    parsed.push_back(std::move(json));
  }
  ASSERT_EQ(parsed.size(), 3u) << sink->text();
  EXPECT_EQ(parsed[0]["level"], "info");
  EXPECT_EQ(parsed[0]["msg"], "pd-proxy listening on 127.0.0.1:8000");
  EXPECT_EQ(parsed[1]["level"], "warning");
  EXPECT_EQ(parsed[1]["msg"], "request id-1: prefill attempt 1/3 on h:1 failed: \"refused\"\nnext line");
  EXPECT_EQ(parsed[2]["level"], "debug");
  EXPECT_EQ(dropped_log_messages(), 0u);
}

TEST(logging, text_format) {
  auto sink = std::make_shared<captured_sink>();
  restore_logger restore;
  setup_logging({.level = "info", .format = "text", .queue_size = 64, .sink = sink});
  spdlog::info("hello {}", 1);
  spdlog::default_logger()->flush();
  ASSERT_TRUE(eventually([&] { return sink->text().find('\n') != std::string::npos; }));
  EXPECT_NE(sink->text().find(" info hello 1\n"), std::string::npos) << sink->text();
}

// A sink whose first write waits until the test lets it go: the logging thread is stuck, as behind a slow
// disk or a blocked pipe.
class stuck_sink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  std::atomic<bool> entered{false};
  std::atomic<int> written{0};
  void release() {
    const std::lock_guard lock(gate_mutex_);
    released_ = true;
    gate_.notify_all();
  }

 protected:
  void sink_it_(const spdlog::details::log_msg&) override {
    entered = true;
    std::unique_lock lock(gate_mutex_);
    gate_.wait(lock, [&] { return released_; });
    ++written;
  }
  void flush_() override {}

 private:
  std::mutex gate_mutex_;
  std::condition_variable gate_;
  bool released_ = false;
};

TEST(logging, a_full_queue_drops_the_oldest_and_counts_instead_of_blocking) {
  auto sink = std::make_shared<stuck_sink>();
  restore_logger restore;
  setup_logging({.level = "info", .format = "json", .queue_size = 4, .sink = sink});
  spdlog::info("first: takes the logging thread");
  if (!eventually([&] { return sink->entered.load(); })) {
    sink->release();
    FAIL() << "the logging thread never wrote";
  }
  for (int i = 0; i < 100; ++i) spdlog::info("message {}", i);  // returns although nothing is written
  EXPECT_GE(dropped_log_messages(), 96u);
  sink->release();
  spdlog::default_logger()->flush();
  EXPECT_TRUE(eventually([&] { return sink->written.load() >= 2; }));
}

}  // namespace
}  // namespace pd_proxy::test
