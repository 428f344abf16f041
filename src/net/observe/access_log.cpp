#include "pd_proxy/net/observe/access_log.hpp"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <stdexcept>
#include <utility>

namespace pd_proxy {
namespace {

int open_for_appending(const std::string& path) {
  return ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0666);
}

}  // namespace

access_log::access_log(const std::string& target, std::size_t capacity)
    : enabled_(target != "off"),
      name_(target),
      path_(target == "off" || target == "stdout" || target == "stderr" ? std::string() : target),
      capacity_(capacity) {
  if (!enabled_) return;
  if (target == "stdout") {
    fd_ = STDOUT_FILENO;
  } else if (target == "stderr") {
    fd_ = STDERR_FILENO;
  } else {
    fd_ = open_for_appending(path_);
    if (fd_ < 0) {
      throw std::runtime_error("--access-log: cannot open " + path_ + ": " + std::strerror(errno));
    }
    owns_fd_ = true;
  }
  queue_.reserve(1024);
  writer_ = std::thread([this] { run(); });
}

access_log::~access_log() {
  if (!enabled_) return;
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_one();
  writer_.join();
  if (owns_fd_) ::close(fd_);
}

void access_log::write(request_record&& record) {
  if (!enabled_) return;
  bool wake = false;
  {
    std::lock_guard lock(mutex_);
    if (queue_.size() >= capacity_) {
      ++dropped_;
      return;
    }
    queue_.push_back(std::move(record));
    ++queued_total_;
    wake = std::exchange(writer_idle_, false) || queue_.size() == capacity_ / 2;
  }
  // While records come, the writer wakes every write_interval by itself: a request costs no wake-up (a futex
  // call) and no write(2) of its own. Only the first record after an idle spell, or a queue filling up
  // faster, wakes it.
  if (wake) wake_.notify_one();
}

void access_log::reopen() {
  if (!enabled_ || path_.empty()) return;
  {
    std::lock_guard lock(mutex_);
    reopen_ = true;
  }
  wake_.notify_one();
}

std::uint64_t access_log::dropped() const {
  std::lock_guard lock(mutex_);
  return dropped_;
}

bool access_log::flush(int limit_ms) {
  if (!enabled_) return true;
  std::unique_lock lock(mutex_);
  const std::uint64_t target = queued_total_;
  flush_ = true;
  wake_.notify_one();
  return written_.wait_for(lock, std::chrono::milliseconds(limit_ms),
                           [&] { return written_total_ >= target; });
}

std::uint64_t access_log::open_file() {
  if (owns_fd_) ::close(fd_);
  const std::uint64_t lost = partial_line_.empty() ? 0 : 1;  // a FIFO's cut line stays cut
  partial_line_.clear();
  fd_ = open_for_appending(path_);
  owns_fd_ = fd_ >= 0;
  if (fd_ < 0) {
    spdlog::error("access log: cannot reopen {}: {}; lines are dropped (and counted) until the next SIGUSR1",
                  path_, std::strerror(errno));
  }
  return lost;
}

bool access_log::take_back(std::size_t n) {
  const off_t end = ::lseek(fd_, 0, SEEK_CUR);  // after our last write (O_APPEND moved it to the end)
  return end >= static_cast<off_t>(n) && ::ftruncate(fd_, end - static_cast<off_t>(n)) == 0;
}

bool access_log::finish_partial_line() {
  while (!partial_line_.empty()) {
    const ssize_t n = ::write(fd_, partial_line_.data(), partial_line_.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    partial_line_.erase(0, static_cast<std::size_t>(n));
  }
  return true;
}

void access_log::report_failure(int error, std::uint64_t lost) {
  const auto since = reports_.failed(failure_reports::clock::now(), lost);
  if (!since) return;
  spdlog::error(
      "access log: cannot write to {}: {}; {} line(s) lost since the last report (counted in "
      "pd_proxy_access_log_dropped_total; this is logged at most once a minute)",
      name_, error != 0 ? std::strerror(error) : "no file open", *since);
}

std::uint64_t access_log::write_lines(std::string_view text, std::uint64_t lines) {
  if (fd_ < 0) {
    report_failure(0, lines);
    return lines;
  }
  if (!finish_partial_line()) {  // an earlier line's rest goes first, or nothing may follow it
    report_failure(errno, lines);
    return lines;
  }
  std::size_t written = 0;
  int error = 0;
  while (written < text.size()) {
    const ssize_t n = ::write(fd_, text.data() + written, text.size() - written);
    if (n > 0) {
      written += static_cast<std::size_t>(n);
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      error = n < 0 ? errno : ENOSPC;
      break;
    }
  }
  if (written == text.size()) {
    if (reports_.succeeded()) spdlog::warn("access log: writing to {} again", name_);
    return 0;
  }
  const line_cut cut = cut_after(text, written);
  std::uint64_t lost = lines - cut.whole_lines;
  if (cut.partial_bytes > 0 && !take_back(cut.partial_bytes)) {
    // Not a file (a pipe): the line's start is out; its rest goes first next time. It is not lost yet.
    const std::size_t end = text.find('\n', written);
    partial_line_.assign(text.substr(written, end - written + 1));
    --lost;
  }
  report_failure(error, lost);
  return lost;
}

void access_log::run() {
  std::vector<request_record> batch;
  batch.reserve(1024);
  std::string text;
  std::unique_lock lock(mutex_);
  while (true) {
    const auto urgent = [&] { return stop_ || reopen_ || flush_; };
    if (queue_.empty() && !urgent()) {
      // Idle: sleep until a record comes (an idle proxy's writer never wakes), then gather for a while.
      writer_idle_ = true;
      wake_.wait(lock, [&] { return urgent() || !queue_.empty(); });
      writer_idle_ = false;
    }
    wake_.wait_for(lock, write_interval,
                   [&] { return urgent() || (capacity_ > 0 && queue_.size() >= capacity_ / 2); });
    flush_ = false;
    const bool reopen = std::exchange(reopen_, false);
    batch.swap(queue_);
    const bool stop = stop_;
    lock.unlock();

    std::uint64_t lost = reopen ? open_file() : 0;
    text.clear();
    for (const auto& record : batch) append_access_log_line(text, record);
    const std::size_t n = batch.size();
    // One write(2) for the batch as a rule: lines of other writers of the file never interleave with ours.
    if (n > 0) lost += write_lines(text, n);
    batch.clear();

    lock.lock();
    dropped_ += lost;
    written_total_ += n;
    written_.notify_all();
    if (stop && queue_.empty()) return;
  }
}

}  // namespace pd_proxy
