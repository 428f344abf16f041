// The access log: one JSON line per request (core/observe/request_record's access_log_line), written by a
// thread of its own so that an I/O thread never waits for a disk or a pipe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "pd_proxy/core/observe/request_record.hpp"

namespace pd_proxy {

/// `--access-log off|stdout|stderr|FILE`. Records are queued (bounded: `capacity`) and formatted and written
/// by the writer thread in batches (every 20 ms while records come; an idle writer sleeps until one does);
/// when the queue is full a record is dropped and counted, never waited for. A FILE is opened for appending;
/// reopen() (SIGUSR1, after logrotate renamed it) makes the writer close it and open the path again before
/// its next write. Thread-safe.
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
  /// Records dropped because the queue was full.
  std::uint64_t dropped() const;
  /// Waits (at most about `limit_ms`) until every record queued before the call was written and flushed.
  /// For tests and shutdown.
  bool flush(int limit_ms = 5000);

 private:
  /// The writer writes what is queued this often (or sooner when the queue is half full).
  static constexpr std::chrono::milliseconds write_interval{20};
  void run();
  void open_file();

  const bool enabled_;
  const std::string path_;  // empty for stdout and stderr
  const std::size_t capacity_;
  std::FILE* out_ = nullptr;
  bool owns_out_ = false;

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
