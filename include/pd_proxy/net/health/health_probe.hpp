// One backend's health-check connection and the check it runs on it.
#pragma once

#include <array>
#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "pd_proxy/core/backends/backend.hpp"
#include "pd_proxy/core/config/config.hpp"
#include "pd_proxy/net/handler_memory.hpp"
#include "pd_proxy/net/net.hpp"

namespace pd_proxy {

/// A check's verdict: passed on an answer whose status is below 500; else why it failed.
struct check_outcome {
  bool passed = false;
  std::string reason;  // empty when passed
};

/// Sends one prebuilt GET to its backend and judges the answer on its head (core/health/check_response),
/// reading into a small fixed buffer. On a kept connection a check costs one write and one read system call,
/// no parser, no coroutine frame and no allocation (the write's and read's handlers live in the probe's
/// handler_memory):
/// with 1,024 backends checked every second, the checks' CPU is mostly those two calls. That is why this one
/// class uses completion handlers, not coroutines (connecting, which is rare, is a coroutine). The connection
/// is kept when the answer allows it; a kept connection found closed by the backend is replaced once within
/// the same check.
///
/// Runs on one single-threaded executor. The probe has no timer of its own: whoever runs the checks calls
/// expire() once `deadline()` has passed, which ends the check in progress as failed ("timed out").
class health_probe : public std::enable_shared_from_this<health_probe> {
 public:
  static constexpr std::size_t capacity = 2048;  // the most of an answer that is read
  /// Called once per start(), never from within start() itself.
  using done_handler = std::function<void(health_probe&, check_outcome)>;

  health_probe(const net::any_io_executor& executor, std::shared_ptr<backend> target, std::string request,
               done_handler done);
  health_probe(const health_probe&) = delete;
  health_probe& operator=(const health_probe&) = delete;

  const std::shared_ptr<backend>& target() const { return target_; }
  /// The deadline of the check in flight (time_point::max() when none, or once it expired).
  std::chrono::steady_clock::time_point deadline() const { return deadline_; }

  /// Starts one check, to end by `deadline` (the connect is bounded by it too). Precondition: no check in
  /// flight, and the probe is owned by a std::shared_ptr (its handlers hold it).
  void start(std::chrono::steady_clock::time_point deadline);
  /// Ends the check in flight as timed out and closes the connection.
  void expire();
  /// Closes the connection; a check in flight ends with an error.
  void close();

 private:
  net::awaitable<void> connect(std::shared_ptr<health_probe> self);  // `self` keeps the probe alive
  void send();
  void on_sent(const error_code& ec);
  void read();
  void on_read(const error_code& ec, std::size_t n);
  /// A reused connection turned out closed before any byte of an answer: once more on a new one.
  void lost();
  void finish(check_outcome outcome);

  std::shared_ptr<backend> target_;
  std::string request_;  // the whole request, built once
  done_handler done_;
  tcp::socket socket_;
  std::chrono::steady_clock::time_point deadline_ = std::chrono::steady_clock::time_point::max();
  bool expired_ = false;
  bool reused_ = false;  // the check runs on a connection kept from an earlier one
  std::size_t received_ = 0;
  std::array<char, capacity> buffer_{};
  handler_memory handler_memory_;  // for the one write or read in flight
};

}  // namespace pd_proxy
