#include "pd_proxy/net/observe/access_log.hpp"

#include <spdlog/spdlog.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <stdexcept>
#include <utility>

namespace pd_proxy {

access_log::access_log(const std::string& target, std::size_t capacity)
    : enabled_(target != "off"),
      path_(target == "off" || target == "stdout" || target == "stderr" ? std::string() : target),
      capacity_(capacity) {
  if (!enabled_) return;
  if (target == "stdout") {
    out_ = stdout;
  } else if (target == "stderr") {
    out_ = stderr;
  } else {
    out_ = std::fopen(path_.c_str(), "a");
    if (out_ == nullptr) {
      throw std::runtime_error("--access-log: cannot open " + path_ + ": " + std::strerror(errno));
    }
    owns_out_ = true;
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
  if (owns_out_ && out_ != nullptr) std::fclose(out_);
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

void access_log::open_file() {
  if (owns_out_ && out_ != nullptr) std::fclose(out_);
  out_ = std::fopen(path_.c_str(), "a");
  owns_out_ = out_ != nullptr;
  if (out_ == nullptr) {
    spdlog::error("access log: cannot reopen {}: {}; lines are dropped until the next SIGUSR1", path_,
                  std::strerror(errno));
  }
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

    if (reopen) open_file();
    text.clear();
    for (const auto& record : batch) append_access_log_line(text, record);
    if (out_ != nullptr && !text.empty()) {
      std::fwrite(text.data(), 1, text.size(), out_);  // one call: lines of other writers never interleave
      std::fflush(out_);
    }
    const std::size_t n = batch.size();
    batch.clear();

    lock.lock();
    written_total_ += n;
    written_.notify_all();
    if (stop && queue_.empty()) return;
  }
}

}  // namespace pd_proxy
