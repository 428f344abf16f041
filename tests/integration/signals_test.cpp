// Signals through the real pd-proxy binary: SIGHUP reloads (nothing changed here) and keeps serving, a second
// SIGTERM ends the drain at once.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <future>
#include <sstream>

#include "proxy_process.hpp"
#include "scripted_backend.hpp"
#include "test_client.hpp"

namespace pd_proxy::test {
namespace {

using namespace std::chrono_literals;

TEST(signals, sighup_reloads_and_keeps_serving) {
  proxy_process proxy(free_port(), free_port());
  ASSERT_TRUE(proxy.serving());
  proxy.signal(SIGHUP);
  EXPECT_TRUE(proxy.logged("configuration reloaded: no setting changed"));
  EXPECT_TRUE(proxy.running());
  EXPECT_TRUE(proxy.serving());
  proxy.signal(SIGTERM);
  EXPECT_EQ(proxy.wait_exit(10000ms), 0);
}

TEST(signals, sigusr1_reopens_the_access_log_file) {
  const std::string path =
      testing::TempDir() + "pd-proxy-access-sigusr1-" + std::to_string(::getpid()) + ".log";
  std::remove(path.c_str());
  std::remove((path + ".1").c_str());
  proxy_process proxy(free_port(), free_port(), {"--access-log", path});
  ASSERT_TRUE(proxy.serving());  // GET /health: a line in the file
  const auto lines = [](const std::string& file) {
    std::ifstream in(file);
    std::size_t n = 0;
    for (std::string line; std::getline(in, line);)
      n += line.find("\"route\":\"/health\"") != std::string::npos;
    return n;
  };
  ASSERT_TRUE(eventually([&] { return lines(path) >= 1; }));
  ASSERT_EQ(std::rename(path.c_str(), (path + ".1").c_str()), 0);
  proxy.signal(SIGUSR1);
  // Requests after the signal go to a new file at the path (poll: the signal is handled asynchronously).
  EXPECT_TRUE(eventually([&] { return proxy.serving() && lines(path) >= 1; }));
  EXPECT_GE(lines(path + ".1"), 1u);
  EXPECT_TRUE(proxy.running());
  proxy.signal(SIGTERM);
  EXPECT_EQ(proxy.wait_exit(10000ms), 0);
  std::remove(path.c_str());
  std::remove((path + ".1").c_str());
}

TEST(signals, a_second_sigterm_ends_the_drain_at_once_with_an_error_event) {
  scripted_backend prefiller([](const auto&) { return scripted_answer{prefill_answer_bytes(), false}; });
  scripted_backend decoder([](const auto& req) {
    if (req.method() == http::verb::get) {  // the health checks
      return scripted_answer{"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", false};
    }
    return scripted_answer{
        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
        "f\r\ndata: {\"a\":1}\n\n\r\n",
        true};
  });
  proxy_process proxy(prefiller.port(), decoder.port(), {"--shutdown-timeout", "600"});
  ASSERT_TRUE(proxy.serving());
  auto stream = std::async(std::launch::async, [&] {
    request_spec spec;
    spec.body = R"({"prompt":"p","stream":true})";
    return request(proxy.port(), spec);
  });
  ASSERT_TRUE(eventually([&] { return decoder.held_open() == 1; }));
  proxy.signal(SIGTERM);
  ASSERT_TRUE(proxy.logged("draining"));
  EXPECT_TRUE(proxy.running());  // the stream keeps the drain waiting
  proxy.signal(SIGTERM);
  EXPECT_EQ(proxy.wait_exit(10000ms), 0);
  const auto reply = stream.get();
  EXPECT_EQ(reply.status, 200);
  EXPECT_TRUE(reply.complete);
  const auto events = sse_data(reply.body);
  ASSERT_EQ(events.size(), 2u) << reply.body;
  EXPECT_NE(events[1].find("proxy shutting down"), std::string::npos);
}

}  // namespace
}  // namespace pd_proxy::test
