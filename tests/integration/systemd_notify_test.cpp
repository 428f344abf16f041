// The pd-proxy binary under a pretend systemd: a unix datagram socket of the test's own as $NOTIFY_SOCKET
// receives READY=1, RELOADING=1/READY=1 around SIGHUP, STOPPING=1 at the drain, WATCHDOG=1; SIGHUP re-reads
// the --config file (applied, ignored, rejected).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstddef>
#include <cstring>
#include <fstream>
#include <sstream>

#include "test_client.hpp"

extern char** environ;

namespace pd_proxy::test {
namespace {

using namespace std::chrono_literals;

std::uint16_t free_port() {
  net::io_context io;
  tcp::acceptor acceptor(io, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
  return acceptor.local_endpoint().port();
}

// The receiving end of $NOTIFY_SOCKET: an abstract unix datagram socket named after the test process.
class notify_socket {
 public:
  notify_socket()
      : name_("@pd-proxy-notify-test-" + std::to_string(::getpid()) + "-" + std::to_string(n_++)) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path + 1, name_.data() + 1, name_.size() - 1);  // sun_path[0] = 0: abstract
    const auto length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name_.size());
    bound_ = ::bind(fd_, reinterpret_cast<const sockaddr*>(&addr), length) == 0;
  }
  ~notify_socket() { ::close(fd_); }
  bool bound() const { return bound_; }
  const std::string& name() const { return name_; }

  /// The next datagram, or "" when none comes within `limit`.
  std::string receive(std::chrono::milliseconds limit = 10000ms) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(limit.count())) != 1) return {};
    char buffer[4096];
    const auto n = ::recv(fd_, buffer, sizeof buffer, 0);
    return n > 0 ? std::string(buffer, static_cast<std::size_t>(n)) : std::string{};
  }
  /// Datagrams until one contains `text` (true), or none more within `limit` (false). Skips others.
  bool receive_until(std::string_view text, std::chrono::milliseconds limit = 10000ms) {
    for (int i = 0; i < 100; ++i) {
      const auto message = receive(limit);
      if (message.empty()) return false;
      if (message.find(text) != std::string::npos) return true;
    }
    return false;
  }

 private:
  static inline int n_ = 0;
  std::string name_;
  int fd_ = -1;
  bool bound_ = false;
};

// pd-proxy with `args` and extra environment variables, output to a file.
class child_proxy {
 public:
  child_proxy(std::vector<std::string> args, std::vector<std::string> extra_env)
      : log_(testing::TempDir() + "pd-proxy-notify-" + std::to_string(::getpid()) + ".log") {
    args.insert(args.begin(), PD_PROXY_BINARY);
    std::vector<std::string> env(extra_env);
    for (char** e = environ; *e != nullptr; ++e) env.emplace_back(*e);
    pid_ = ::fork();
    if (pid_ == 0) {
      const int fd = ::open(log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      std::vector<char*> argv, envp;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      for (auto& e : env) envp.push_back(e.data());
      envp.push_back(nullptr);
      ::execve(argv[0], argv.data(), envp.data());
      ::_exit(127);
    }
  }
  ~child_proxy() {
    if (pid_ > 0 && !exited_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    ::unlink(log_.c_str());
  }
  void signal(int sig) { ::kill(pid_, sig); }
  std::string log() const {
    std::ifstream in(log_);
    std::stringstream all;
    all << in.rdbuf();
    return all.str();
  }
  bool logged(std::string_view text) {
    return eventually([&] { return log().find(text) != std::string::npos; });
  }
  int wait_exit(std::chrono::milliseconds limit) {
    int status = 0;
    if (!eventually([&] { return ::waitpid(pid_, &status, WNOHANG) == pid_; }, limit)) return -1;
    exited_ = true;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }

 private:
  std::string log_;
  pid_t pid_ = -1;
  bool exited_ = false;
};

void write_file(const std::string& path, const std::string& text) {
  std::ofstream(path) << text;
}

int health_status(std::uint16_t port) {
  request_spec spec;
  spec.method = http::verb::get;
  spec.target = "/healthcheck";
  spec.timeout = 2000ms;
  return request(port, spec).status;
}

TEST(systemd_notify, ready_reloading_stopping_and_reload_outcomes) {
  notify_socket systemd;
  ASSERT_TRUE(systemd.bound());
  const auto port = free_port();
  const std::string config = testing::TempDir() + "pd-proxy-notify-" + std::to_string(::getpid()) + ".toml";
  write_file(config, "host = \"127.0.0.1\"\nport = " + std::to_string(port) +
                         "\nworkers = 1\nhealth-check-interval = 0\nprefiller-hosts = [\"127.0.0.1\"]\n"
                         "prefiller-ports = [1]\ndecoder-hosts = [\"127.0.0.1\"]\ndecoder-ports = [2]\n");
  child_proxy proxy({"--config", config}, {"NOTIFY_SOCKET=" + systemd.name()});

  ASSERT_TRUE(systemd.receive_until("READY=1")) << proxy.log();
  EXPECT_EQ(health_status(port), 200);

  // A valid change: applied, ignored (the port) and pool changes, between RELOADING=1 and READY=1.
  write_file(config, "host = \"127.0.0.1\"\nport = " + std::to_string(port + 1) +
                         "\nworkers = 1\nhealth-check-interval = 0\nmax-retries = 7\n"
                         "prefiller-hosts = [\"127.0.0.1\"]\nprefiller-ports = [1]\n"
                         "decoder-hosts = [\"127.0.0.1\", \"127.0.0.1\"]\ndecoder-ports = [2, 3]\n");
  proxy.signal(SIGHUP);
  const auto reloading = systemd.receive();
  EXPECT_NE(reloading.find("RELOADING=1\nMONOTONIC_USEC="), std::string::npos) << reloading;
  ASSERT_TRUE(systemd.receive_until("READY=1"));
  EXPECT_TRUE(proxy.logged("configuration reloaded: --max-retries"));
  EXPECT_TRUE(proxy.logged("ignored (needs a restart): --port"));
  EXPECT_TRUE(proxy.logged("decoders +[127.0.0.1:3] -[]"));
  EXPECT_EQ(health_status(port), 200);  // still on the old port

  // An invalid file: one error line, the running configuration stays, READY=1 again.
  write_file(config, "port = \"many\"\n");
  proxy.signal(SIGHUP);
  ASSERT_TRUE(systemd.receive_until("RELOADING=1"));
  ASSERT_TRUE(systemd.receive_until("READY=1"));
  EXPECT_TRUE(proxy.logged("configuration reload rejected, the running configuration stays: --port: 'many'"));
  EXPECT_EQ(health_status(port), 200);

  proxy.signal(SIGTERM);
  EXPECT_TRUE(systemd.receive_until("STOPPING=1"));
  EXPECT_EQ(proxy.wait_exit(10000ms), 0) << proxy.log();
  ::unlink(config.c_str());
}

TEST(systemd_notify, watchdog_is_fed_at_half_the_interval) {
  notify_socket systemd;
  ASSERT_TRUE(systemd.bound());
  const auto port = free_port();
  child_proxy proxy({"--host", "127.0.0.1", "--port", std::to_string(port), "--workers", "1",
                     "--health-check-interval", "0"},
                    {"NOTIFY_SOCKET=" + systemd.name(), "WATCHDOG_USEC=100000"});
  ASSERT_TRUE(systemd.receive_until("READY=1")) << proxy.log();
  EXPECT_TRUE(systemd.receive_until("WATCHDOG=1"));
  EXPECT_TRUE(systemd.receive_until("WATCHDOG=1"));
  proxy.signal(SIGTERM);
  EXPECT_TRUE(systemd.receive_until("STOPPING=1"));
  EXPECT_EQ(proxy.wait_exit(10000ms), 0) << proxy.log();
}

TEST(systemd_notify, check_config_validates_without_serving) {
  const std::string good = testing::TempDir() + "pd-proxy-check-good.toml";
  const std::string bad = testing::TempDir() + "pd-proxy-check-bad.toml";
  write_file(good, "port = 0\nprefiller-ports = [9000]\n");
  write_file(bad, "prefiller-ports = [9000, 9001]\n");
  child_proxy ok({"--check-config", "--config", good}, {});
  EXPECT_EQ(ok.wait_exit(10000ms), 0);
  child_proxy invalid({"--check-config", "--config", bad}, {});
  EXPECT_EQ(invalid.wait_exit(10000ms), 2);
  EXPECT_NE(invalid.log().find("prefiller"), std::string::npos) << invalid.log();
  ::unlink(good.c_str());
  ::unlink(bad.c_str());
}

}  // namespace
}  // namespace pd_proxy::test
