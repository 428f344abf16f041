// Call-backs from backends to the requests waiting for them (flow_action::expect_signals, decoder-first's
// metaserver): the process's table of pending keys, each request's inbox and the answer a call-back awaits.
// A call-back arrives on any worker; its request lives on one: the two meet through posts, never a shared
// lock held across I/O.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pd_proxy/core/flow/signal_table.hpp"
#include "pd_proxy/net/net.hpp"

namespace pd_proxy {

/// What a call-back is answered: an HTTP status and a JSON body.
struct signal_answer {
  int status = 502;
  std::string body;
};

/// The waiting side of one call-back, on the call-back's executor.
class signal_reply {
 public:
  explicit signal_reply(net::any_io_executor executor) : timer_(executor) {}

  /// Waits until the answer came or the calling coroutine was cancelled (the caller went away).
  net::awaitable<void> wait();
  /// The answer, once it came (nullopt before).
  std::optional<signal_answer> take() { return std::move(answer_); }

 private:
  friend class signal_promise;
  void set(signal_answer answer);  // on the reply's executor

  net::steady_timer timer_;
  std::optional<signal_answer> answer_;
};

/// The answering side of one call-back, held by its request: answers once, from any thread. Destroyed
/// unanswered (the request ended, or its worker stopped, first) it answers 502.
class signal_promise {
 public:
  explicit signal_promise(std::shared_ptr<signal_reply> reply) : reply_(std::move(reply)) {}
  signal_promise(signal_promise&&) noexcept = default;
  signal_promise& operator=(signal_promise&& other) noexcept;
  signal_promise(const signal_promise&) = delete;
  signal_promise& operator=(const signal_promise&) = delete;
  ~signal_promise();

  void answer(int status, std::string body);

 private:
  std::shared_ptr<signal_reply> reply_;  // null once answered
};

class signal_inbox;

/// A key's owner in the table: the request's inbox and the generation of the request's keys.
struct signal_owner {
  std::shared_ptr<signal_inbox> inbox;
  std::uint32_t generation = 0;
  bool operator==(const signal_owner&) const = default;
};

/// One request's call-backs. post() is called from any thread; everything else on the request's executor.
class signal_inbox : public std::enable_shared_from_this<signal_inbox> {
 public:
  struct arrived {
    std::size_t index = 0;  // of the key in the request's keys
    std::string body;
  };

  explicit signal_inbox(net::any_io_executor executor) : executor_(executor), timer_(executor) {}

  /// Any thread: a call-back on key `index` of `generation`, queued on the request's executor.
  void post(std::uint32_t generation, std::size_t index, std::string body, signal_promise promise);

  /// A new set of keys with its deadline (time_point::max(): none): call-backs queued for the old ones are
  /// answered 502 at once; a wait in progress moves to the new deadline. Returns the new generation.
  std::uint32_t renew(std::chrono::steady_clock::time_point deadline);
  std::uint32_t generation() const { return generation_; }
  std::chrono::steady_clock::time_point deadline() const { return deadline_; }

  bool empty() const { return queue_.empty(); }
  /// The oldest queued call-back; its promise waits for answer_all().
  arrived pop();
  /// Waits until a call-back is queued, wake() is called or the deadline passes (or the coroutine is
  /// cancelled).
  net::awaitable<void> wait();
  void wake() { timer_.cancel(); }
  /// Answers every call-back popped and not answered yet.
  void answer_all(int status, std::string_view body);
  /// The request ended: every call-back held or queued is answered `body` with 502, and so is every later
  /// one.
  void close(std::string_view body);

 private:
  struct queued {
    std::uint32_t generation;
    arrived signal;
    signal_promise promise;
  };
  void arrive(std::uint32_t generation, std::size_t index, std::string body, signal_promise promise);

  net::any_io_executor executor_;
  net::steady_timer timer_;
  std::deque<queued> queue_;
  std::vector<signal_promise> popped_;  // answered by answer_all()
  std::uint32_t generation_ = 0;
  std::chrono::steady_clock::time_point deadline_ = std::chrono::steady_clock::time_point::max();
  bool closed_ = false;
  std::string closed_body_;
};

/// The process's call-back keys and where backends call back. Thread-safe.
class signal_board {
 public:
  /// At most `capacity` keys pending at once; `url` is where backends call back (the decoders' metaserver).
  signal_board(std::size_t capacity, std::string url) : table_(capacity), url_(std::move(url)) {}

  signal_table<signal_owner>& table() { return table_; }
  /// Set once before the workers start (the listener's bound port), read-only after.
  const std::string& url() const { return url_; }
  void set_url(std::string url) { url_ = std::move(url); }

  enum class delivery { answered, unknown, gone };
  struct delivered {
    delivery outcome = delivery::unknown;
    signal_answer answer{};  // answered
  };
  /// The call-back route: hands `body` to the request that registered `key` and waits for its answer.
  /// `unknown` when no request waits for `key` (nothing was delivered), `gone` when the calling coroutine
  /// was cancelled while it waited.
  net::awaitable<delivered> deliver(std::string_view key, std::string body);

 private:
  signal_table<signal_owner> table_;
  std::string url_;
};

}  // namespace pd_proxy
