// The access log: JSON lines, outcomes of aborted and failed requests, drops, and reopening a renamed file.
#include "pd_proxy/net/observe/access_log.hpp"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "proxy_fixture.hpp"
#include "text_formats.hpp"

namespace pd_proxy::test {
namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;

// A port that refuses connections.
backend_group dead_prefiller() {
  backend_group group;
  group.refused = 1;
  return group;
}

std::string temp_path(std::string_view name) {
  static int n = 0;
  return testing::TempDir() + "pd-proxy-access-" + std::to_string(::getpid()) + "-" + std::to_string(++n) +
         "-" + std::string(name);
}

request_record record_with_id(std::string id) {
  request_record r;
  r.request_id = std::move(id);
  r.method = "GET";
  r.route = request_route::health;
  r.status = 200;
  return r;
}

TEST(access_log, lines_are_json_and_a_renamed_file_is_reopened) {
  const std::string path = temp_path("rotate.log");
  {
    access_log log(path);
    ASSERT_TRUE(log.enabled());
    log.write(record_with_id("before-1"));
    log.write(record_with_id("before-2"));
    ASSERT_TRUE(log.flush());
    ASSERT_EQ(std::rename(path.c_str(), (path + ".1").c_str()), 0);  // logrotate's move
    log.write(record_with_id("still-old"));  // before the reopen: the renamed file gets it
    ASSERT_TRUE(log.flush());
    log.reopen();
    log.write(record_with_id("after"));
    ASSERT_TRUE(log.flush());
  }
  const auto old_lines = json_lines_of(path + ".1");
  ASSERT_EQ(old_lines.size(), 3u);
  EXPECT_EQ(old_lines[0]["request_id"], "before-1");
  EXPECT_EQ(old_lines[2]["request_id"], "still-old");
  const auto new_lines = json_lines_of(path);
  ASSERT_EQ(new_lines.size(), 1u);
  EXPECT_EQ(new_lines[0]["request_id"], "after");
  EXPECT_EQ(new_lines[0]["route"], "/health");
  std::remove(path.c_str());
  std::remove((path + ".1").c_str());
}

TEST(access_log, a_full_queue_drops_and_counts_instead_of_waiting) {
  const std::string path = temp_path("full.log");
  access_log log(path, /*capacity=*/0);
  for (int i = 0; i < 3; ++i) log.write(record_with_id("dropped"));
  EXPECT_EQ(log.dropped(), 3u);
  EXPECT_TRUE(log.flush());
  std::remove(path.c_str());
}

TEST(access_log, off_writes_nothing) {
  access_log log("off");
  EXPECT_FALSE(log.enabled());
  log.write(record_with_id("x"));
  EXPECT_TRUE(log.flush());
  EXPECT_EQ(log.dropped(), 0u);
}

TEST(access_log, an_unopenable_file_fails_at_start) {
  EXPECT_THROW(access_log("/nonexistent-dir/for/sure/access.log"), std::runtime_error);
}

TEST(access_log, every_line_a_full_device_refuses_is_counted) {
  if (::access("/dev/full", W_OK) != 0) GTEST_SKIP() << "no /dev/full";
  access_log log("/dev/full");  // every write fails with ENOSPC
  for (int i = 0; i < 5; ++i) log.write(record_with_id("lost"));
  ASSERT_TRUE(log.flush());
  EXPECT_EQ(log.dropped(), 5u);
  for (int i = 0; i < 3; ++i) log.write(record_with_id("lost-too"));
  ASSERT_TRUE(log.flush());
  EXPECT_EQ(log.dropped(), 8u);
}

TEST(access_log, lines_after_a_failed_reopen_are_counted_until_a_reopen_succeeds) {
  const std::string dir = temp_path("dir");
  ASSERT_EQ(::mkdir(dir.c_str(), 0700), 0);
  const std::string path = dir + "/access.log";
  const std::string rotated = temp_path("rotated.log");
  access_log log(path);
  log.write(record_with_id("kept"));
  ASSERT_TRUE(log.flush());
  ASSERT_EQ(std::rename(path.c_str(), rotated.c_str()), 0);
  ASSERT_EQ(::rmdir(dir.c_str()), 0);  // the path cannot be opened again
  log.reopen();
  for (int i = 0; i < 4; ++i) log.write(record_with_id("lost"));
  ASSERT_TRUE(log.flush());
  EXPECT_EQ(log.dropped(), 4u);

  ASSERT_EQ(::mkdir(dir.c_str(), 0700), 0);
  log.reopen();
  log.write(record_with_id("after"));
  ASSERT_TRUE(log.flush());
  EXPECT_EQ(log.dropped(), 4u);
  const auto lines = json_lines_of(path);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0]["request_id"], "after");
  EXPECT_EQ(json_lines_of(rotated).size(), 1u);
  std::remove(path.c_str());
  std::remove(rotated.c_str());
  ::rmdir(dir.c_str());
}

// The file size limit (RLIMIT_FSIZE) stands in for a full file system: a write that crosses it is cut short
// and the next one fails (EFBIG). It is set in a child process (a death test) so no other test feels it.
TEST(access_log_death_test, a_write_cut_short_leaves_only_whole_lines_and_counts_the_rest) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  const std::string path = temp_path("cut.log");
  constexpr int records = 50;
  constexpr rlim_t limit = 1000;  // a few lines
  const auto cut_and_check = [&] {
    std::signal(SIGXFSZ, SIG_IGN);  // else crossing the limit kills the process
    const rlimit fsize{limit, limit};
    if (::setrlimit(RLIMIT_FSIZE, &fsize) != 0) std::_Exit(3);
    std::uint64_t dropped = 0;
    {
      access_log log(path);
      for (int i = 0; i < records; ++i) log.write(record_with_id("cut-" + std::to_string(i)));
      if (!log.flush()) std::_Exit(4);
      dropped = log.dropped();
    }
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    const std::string content = text.str();
    if (content.empty() || content.size() > limit || content.back() != '\n') std::_Exit(5);
    std::istringstream lines(content);
    std::uint64_t whole = 0;
    for (std::string line; std::getline(lines, line); ++whole) {
      if (!json::accept(line)) std::_Exit(6);
    }
    std::_Exit(whole + dropped == records ? 0 : 7);
  };
  EXPECT_EXIT(cut_and_check(), testing::ExitedWithCode(0), "");
  std::remove(path.c_str());
}

// The lines a cluster wrote, once its access log is flushed.
std::vector<json> flushed_lines(cluster& c, const std::string& path) {
  EXPECT_TRUE(c.state().access->flush());
  return json_lines_of(path);
}

TEST(access_log, a_completed_request_has_every_field) {
  const std::string path = temp_path("ok.log");
  cluster c({{fast_engines(1)}}, {{fast_engines(1)}},
            [&](proxy_config& config) { config.access_log = path; });
  request_spec spec;
  spec.body = R"({"prompt":"hello","max_tokens":3,"stream":true})";
  spec.headers.push_back({"X-Request-Id", "access-ok-1"});
  ASSERT_EQ(request(c.port(), spec).status, 200);
  ASSERT_TRUE(eventually([&] { return c.idle(); }));
  std::vector<json> lines;
  ASSERT_TRUE(eventually([&] { return (lines = flushed_lines(c, path)).size() == 1; }));
  const json& line = lines[0];
  EXPECT_EQ(line["request_id"], "access-ok-1");
  EXPECT_EQ(line["method"], "POST");
  EXPECT_EQ(line["route"], "/v1/completions");
  EXPECT_EQ(line["status"], 200);
  EXPECT_EQ(line["outcome"], "ok");
  EXPECT_EQ(line["prefiller"], "127.0.0.1:" + std::to_string(c.prefill_servers()[0]->port(0)));
  EXPECT_EQ(line["decoder"], "127.0.0.1:" + std::to_string(c.decode_servers()[0]->port(0)));
  EXPECT_EQ(line["retries"], 0);
  EXPECT_EQ(line["prompt_bytes"], spec.body.size());
  EXPECT_GT(line["bytes_sent"].get<int>(), 0);
  EXPECT_TRUE(line["prefill_ms"].is_number());
  EXPECT_TRUE(line["ttft_ms"].is_number());
  EXPECT_TRUE(line["duration_ms"].is_number());
  EXPECT_GE(line["duration_ms"].get<double>(), line["ttft_ms"].get<double>());
  EXPECT_EQ(line["client_address"].get<std::string>().rfind("127.0.0.1:", 0), 0u);
  EXPECT_TRUE(line["ts"].is_string());
  std::remove(path.c_str());
}

TEST(access_log, a_proxy_logging_to_a_full_device_counts_every_lost_line_in_its_metrics) {
  if (::access("/dev/full", W_OK) != 0) GTEST_SKIP() << "no /dev/full";
  cluster c({{fast_engines(1)}}, {{fast_engines(1)}},
            [&](proxy_config& config) { config.access_log = "/dev/full"; });
  constexpr int requests = 7;
  request_spec spec;
  spec.body = R"({"prompt":"hello","max_tokens":2})";
  for (int i = 0; i < requests; ++i) ASSERT_EQ(request(c.port(), spec).status, 200);
  ASSERT_TRUE(eventually([&] { return c.idle(); }));
  const auto lost = [&] { return c.state().access->flush() ? c.state().access->dropped() : 0; };
  ASSERT_TRUE(eventually([&] { return lost() >= static_cast<std::uint64_t>(requests); }));
  EXPECT_EQ(lost(), static_cast<std::uint64_t>(requests));
  request_spec scrape;
  scrape.method = http::verb::get;
  scrape.target = "/metrics";
  const auto samples = prometheus_samples(request(c.port(), scrape).body);
  EXPECT_GE(samples.at("pd_proxy_access_log_dropped_total"), requests);  // the scrape's own line may count
}

TEST(access_log, a_client_abort_is_logged_as_client_abort) {
  const std::string path = temp_path("abort.log");
  auto slow = fast_engines(1);
  slow.timing.decode_ms_per_token = 20;
  cluster c({{fast_engines(1)}}, {{slow}}, [&](proxy_config& config) { config.access_log = path; });
  {
    net::io_context io;
    tcp::socket socket(io);
    socket.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), c.port()));
    http::request<http::string_body> req{http::verb::post, "/v1/completions", 11};
    req.set(http::field::host, "x");
    req.set("X-Request-Id", "access-abort-1");
    req.body() = R"({"prompt":"x","max_tokens":100000,"stream":true})";
    req.prepare_payload();
    http::write(socket, req);
    char buf[256];
    error_code ec;
    socket.read_some(net::buffer(buf), ec);  // the stream began
    ASSERT_FALSE(ec);
    socket.close();
  }
  ASSERT_TRUE(eventually([&] { return c.idle(); }));
  std::vector<json> lines;
  ASSERT_TRUE(eventually([&] { return (lines = flushed_lines(c, path)).size() == 1; }));
  EXPECT_EQ(lines[0]["request_id"], "access-abort-1");
  EXPECT_EQ(lines[0]["outcome"], "client_abort");
  EXPECT_EQ(lines[0]["status"], 200);  // the head had gone out
  EXPECT_TRUE(lines[0]["ttft_ms"].is_number());
  std::remove(path.c_str());
}

TEST(access_log, a_backend_error_is_logged_as_backend_error) {
  const std::string path = temp_path("error.log");
  cluster c({dead_prefiller()}, {{fast_engines(1)}}, [&](proxy_config& config) {
    config.access_log = path;
    config.max_retries = 2;
    config.retry_delay = seconds_d{0};
  });
  request_spec spec;
  spec.body = R"({"prompt":"x","max_tokens":3})";
  spec.headers.push_back({"X-Request-Id", "access-error-1"});
  EXPECT_EQ(request(c.port(), spec).status, 502);
  ASSERT_TRUE(eventually([&] { return c.idle(); }));
  std::vector<json> lines;
  ASSERT_TRUE(eventually([&] { return (lines = flushed_lines(c, path)).size() == 1; }));
  EXPECT_EQ(lines[0]["request_id"], "access-error-1");
  EXPECT_EQ(lines[0]["status"], 502);
  EXPECT_EQ(lines[0]["outcome"], "backend_error");
  EXPECT_EQ(lines[0]["retries"], 1);
  EXPECT_EQ(lines[0]["decoder"], "");
  EXPECT_TRUE(lines[0]["ttft_ms"].is_null());
  std::remove(path.c_str());
}

}  // namespace
}  // namespace pd_proxy::test
