// The access log: one JSON line per request (core/observe/request_record's access_log_line), written by a
// thread of its own so that an I/O thread never waits for a disk or a pipe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "pd_proxy/core/observe/log_failures.hpp"
#include "pd_proxy/core/observe/request_record.hpp"

namespace pd_proxy {

/// `--access-log off|stdout|stderr|FILE`. Records are queued (bounded: `capacity`) and formatted and written
/// by the writer thread in batches (every 20 ms while records come; an idle writer sleeps until one does);
/// when the queue is full a record is dropped and counted, never waited for. A FILE is opened for appending;
/// reopen() (SIGUSR1, after logrotate renamed it) makes the writer close it and open the path again before
/// its next write. Only whole lines are left in the output: when a write fails part-way (a full file system),
/// the start of a line it wrote is truncated away (a pipe that cannot be truncated gets the line's rest
/// before anything else). Every line not written (a failed write, no file after a failed reopen) is counted
/// in dropped(); the first failure is logged at once, later ones at most once a minute. Thread-safe.
class access_log {
 public:
  /// Throws std::runtime_error when FILE cannot be opened (at start-up, the one place that throws).
  explicit access_log(const std::string& target, std::size_t capacity = 64 * 1024);
  /// Writes what is queued, then stops the writer.
  ~access_log();
  access_log(const access_log&) = delete;
  access_log& operator=(const access_log&) = delete;

  /// False for "off": write() then does nothing (callers may skip filling the record's text fields).
  bool enabled() const { return enabled_; }
  /// Queues `record`'s line. Never blocks on I/O (a short lock to queue it).
  void write(request_record&& record);
  /// Reopens the file before the next write (no-op for off, stdout and stderr).
  void reopen();
  /// Lines lost: the queue was full, a write failed, or no file was open (a failed reopen).
  std::uint64_t dropped() const;
  /// Waits (at most about `limit_ms`) until every record queued before the call was written and flushed.
  /// For tests and shutdown.
  bool flush(int limit_ms = 5000);

 private:
  /// The writer writes what is queued this often (or sooner when the queue is half full).
  static constexpr std::chrono::milliseconds write_interval{20};
  void run();
  /// Closes the output and opens the path again; returns the lines lost (a line a pipe left cut).
  std::uint64_t open_file();
  /// Writes `text` (`lines` whole lines) and returns the number of lines lost.
  std::uint64_t write_lines(std::string_view text, std::uint64_t lines);
  /// Writes the rest of a line a failed write cut (a pipe's); true when nothing is left of it.
  bool finish_partial_line();
  /// Takes back the `n` bytes last written (the start of a line); false when the output cannot be
  /// truncated.
  bool take_back(std::size_t n);
  /// Logs a write failure (rate-limited).
  void report_failure(int error, std::uint64_t lost);

  const bool enabled_;
  const std::string name_;  // the target, for messages
  const std::string path_;  // empty for stdout and stderr
  const std::size_t capacity_;
  // The writer thread's (and the constructor's and destructor's) alone:
  int fd_ = -1;  // -1 after a failed reopen
  bool owns_fd_ = false;
  std::string partial_line_;  // the unwritten rest of a line cut in a pipe
  failure_reports reports_;

  mutable std::mutex mutex_;
  std::condition_variable wake_;     // the writer: work, reopen or stop
  std::condition_variable written_;  // flush(): a batch was written
  std::vector<request_record> queue_;
  std::uint64_t queued_total_ = 0;   // records ever queued
  std::uint64_t written_total_ = 0;  // records ever written (or dropped after being queued)
  std::uint64_t dropped_ = 0;
  bool reopen_ = false;
  bool flush_ = false;  // flush() waits: write now
  bool stop_ = false;
  bool writer_idle_ = false;  // the writer sleeps until a record comes: the next write() wakes it
  std::thread writer_;
};

}  // namespace pd_proxy
