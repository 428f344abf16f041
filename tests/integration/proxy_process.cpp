#include "proxy_process.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "test_client.hpp"

namespace pd_proxy::test {

using namespace std::chrono_literals;

std::uint16_t free_port() {
  net::io_context io;
  tcp::acceptor acceptor(io, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
  return acceptor.local_endpoint().port();
}

proxy_process::proxy_process(std::uint16_t prefill_port, std::uint16_t decode_port,
                             std::vector<std::string> extra)
    : port_(free_port()), log_(testing::TempDir() + "pd-proxy-process-" + std::to_string(port_) + ".log") {
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
  // Scripted backends record every request: no reads of their /metrics among them.
  args.insert(args.end(), {"--metrics-scrape-interval", "0"});
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

proxy_process::~proxy_process() {
  if (pid_ > 0 && !exited_) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  ::unlink(log_.c_str());
}

void proxy_process::signal(int sig) {
  ::kill(pid_, sig);
}

bool proxy_process::serving() {
  return eventually([&] {
    request_spec spec;
    spec.method = http::verb::get;
    spec.target = "/health";
    spec.timeout = 1000ms;
    return request(port_, spec).status == 200;
  });
}

std::string proxy_process::output() const {
  std::ifstream in(log_);
  std::stringstream all;
  all << in.rdbuf();
  return all.str();
}

bool proxy_process::logged(std::string_view text) {
  return eventually([&] { return output().find(text) != std::string::npos; });
}

int proxy_process::wait_exit(std::chrono::milliseconds limit) {
  int status = 0;
  const bool ended = eventually([&] { return ::waitpid(pid_, &status, WNOHANG) == pid_; }, limit);
  if (!ended) return -1;
  exited_ = true;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

bool proxy_process::running() {
  return ::waitpid(pid_, nullptr, WNOHANG) == 0;
}

}  // namespace pd_proxy::test
