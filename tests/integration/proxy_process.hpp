// The real pd-proxy binary as a child process, for tests of signals, reloads and start-up.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace pd_proxy::test {

/// A loopback port that was free a moment ago.
std::uint16_t free_port();

/// pd-proxy listening on 127.0.0.1 with one prefiller and one decoder on the given loopback ports, one
/// worker, no reads of the backends' /metrics, and `extra` arguments; its output goes to a file. Killed
/// (SIGKILL) when the object ends, unless it exited.
class proxy_process {
 public:
  proxy_process(std::uint16_t prefill_port, std::uint16_t decode_port, std::vector<std::string> extra = {});
  ~proxy_process();
  proxy_process(const proxy_process&) = delete;
  proxy_process& operator=(const proxy_process&) = delete;

  std::uint16_t port() const { return port_; }
  void signal(int sig);

  /// GET /health answered 200 within 10 s (polled).
  bool serving();
  /// `text` appeared in the output within 10 s (polled).
  bool logged(std::string_view text);
  /// Everything the process wrote so far.
  std::string output() const;
  /// The exit code once the process ended within `limit`, or -1.
  int wait_exit(std::chrono::milliseconds limit);
  bool running();

 private:
  std::uint16_t port_;
  std::string log_;
  pid_t pid_ = -1;
  bool exited_ = false;
};

}  // namespace pd_proxy::test
