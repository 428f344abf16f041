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

#include "scripted_backend.hpp"
#include "test_client.hpp"

namespace pd_proxy::test {
namespace {

using namespace std::chrono_literals;

std::uint16_t free_port() {
  net::io_context io;
  tcp::acceptor acceptor(io, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
  return acceptor.local_endpoint().port();
}

// pd-proxy as a child process whose output goes to a file; killed when the test ends.
class proxy_process {
 public:
  proxy_process(std::uint16_t prefill_port, std::uint16_t decode_port, std::vector<std::string> extra = {})
      : port_(free_port()), log_(testing::TempDir() + "pd-proxy-signals-" + std::to_string(port_) + ".log") {
    std::vector<std::string> args{PD_PROXY_BINARY,
                                  "--host",
                                  "127.0.0.1",
                                  "--port",
                                  std::to_string(port_),
                                  "--prefiller-ports",
                                  std::to_string(prefill_port),
                                  "--decoder-ports",
                                  std::to_string(decode_port),
                                  "--prefiller-hosts",
                                  "127.0.0.1",
                                  "--decoder-hosts",
                                  "127.0.0.1",
                                  "--workers",
                                  "1"};
    args.insert(args.end(), extra.begin(), extra.end());
    pid_ = ::fork();
    if (pid_ == 0) {
      const int fd = ::open(log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
  }
  ~proxy_process() {
    if (pid_ > 0 && !exited_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    ::unlink(log_.c_str());
  }

  std::uint16_t port() const { return port_; }
  void signal(int sig) { ::kill(pid_, sig); }

  bool serving() {
    return eventually([&] {
      request_spec spec;
      spec.method = http::verb::get;
      spec.target = "/health";
      spec.timeout = 1000ms;
      return request(port_, spec).status == 200;
    });
  }
  bool logged(std::string_view text) {
    return eventually([&] {
      std::ifstream in(log_);
      std::stringstream all;
      all << in.rdbuf();
      return all.str().find(text) != std::string::npos;
    });
  }
  /// The exit code once the process ended within `limit`, or -1.
  int wait_exit(std::chrono::milliseconds limit) {
    int status = 0;
    const bool ended = eventually([&] { return ::waitpid(pid_, &status, WNOHANG) == pid_; }, limit);
    if (!ended) return -1;
    exited_ = true;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  bool running() { return ::waitpid(pid_, nullptr, WNOHANG) == 0; }

 private:
  std::uint16_t port_;
  std::string log_;
  pid_t pid_ = -1;
  bool exited_ = false;
};

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
