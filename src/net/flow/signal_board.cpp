#include "pd_proxy/net/flow/signal_board.hpp"

#include <utility>

#include "pd_proxy/net/operation_timer.hpp"

namespace pd_proxy {
namespace {

constexpr std::string_view detail_superseded =
    R"({"detail":"the request moved to another decoder; this call-back is no longer wanted"})";

}  // namespace

//------------------------------------------------------------------------------
// signal_reply, signal_promise

net::awaitable<void> signal_reply::wait() {
  while (!answer_) {
    timer_.expires_at(std::chrono::steady_clock::time_point::max());
    co_await timer_.async_wait(use_nothrow);
    if (answer_) break;
    // Not `!answer_ && co_await ...`: GCC 12 miscompiles this coroutine's frame with a co_await inside &&.
    const bool gone = co_await cancelled();
    if (gone) co_return;
  }
}

void signal_reply::set(signal_answer answer) {
  if (answer_) return;
  answer_ = std::move(answer);
  timer_.cancel();
}

signal_promise& signal_promise::operator=(signal_promise&& other) noexcept {
  if (this != &other) {
    if (reply_) answer(502, R"({"detail":"the request ended before its prefill completed"})");
    reply_ = std::move(other.reply_);
  }
  return *this;
}

signal_promise::~signal_promise() {
  if (reply_) answer(502, R"({"detail":"the request ended before its prefill completed"})");
}

void signal_promise::answer(int status, std::string body) {
  if (!reply_) return;
  auto reply = std::move(reply_);
  reply_.reset();
  auto executor = reply->timer_.get_executor();
  net::post(executor, [reply = std::move(reply), status, body = std::move(body)]() mutable {
    reply->set(signal_answer{status, std::move(body)});
  });
}

//------------------------------------------------------------------------------
// signal_inbox

void signal_inbox::post(std::uint32_t generation, std::size_t index, std::string body,
                        signal_promise promise) {
  net::post(executor_, [self = shared_from_this(), generation, index, body = std::move(body),
                        promise = std::move(promise)]() mutable {
    self->arrive(generation, index, std::move(body), std::move(promise));
  });
}

void signal_inbox::arrive(std::uint32_t generation, std::size_t index, std::string body,
                          signal_promise promise) {
  if (closed_) {
    promise.answer(502, closed_body_);
    return;
  }
  if (generation != generation_) {
    promise.answer(502, std::string(detail_superseded));
    return;
  }
  queue_.push_back(queued{generation, arrived{index, std::move(body)}, std::move(promise)});
  wake();
}

std::uint32_t signal_inbox::renew(std::chrono::steady_clock::time_point deadline) {
  for (auto& q : queue_) q.promise.answer(502, std::string(detail_superseded));
  queue_.clear();
  deadline_ = deadline;
  wake();
  return ++generation_;
}

signal_inbox::arrived signal_inbox::pop() {
  queued next = std::move(queue_.front());
  queue_.pop_front();
  popped_.push_back(std::move(next.promise));
  return std::move(next.signal);
}

net::awaitable<void> signal_inbox::wait() {
  timer_.expires_at(deadline_);
  co_await timer_.async_wait(use_nothrow);
}

void signal_inbox::answer_all(int status, std::string_view body) {
  for (auto& promise : popped_) promise.answer(status, std::string(body));
  popped_.clear();
}

void signal_inbox::close(std::string_view body) {
  closed_ = true;
  closed_body_.assign(body);
  answer_all(502, body);
  for (auto& q : queue_) q.promise.answer(502, closed_body_);
  queue_.clear();
  timer_.cancel();
}

//------------------------------------------------------------------------------
// signal_board

net::awaitable<signal_board::delivered> signal_board::deliver(std::string_view key, std::string body) {
  auto taken = table_.take(key);
  if (!taken) co_return delivered{};
  const net::any_io_executor executor = co_await net::this_coro::executor;
  auto reply = std::make_shared<signal_reply>(executor);
  signal_promise promise(reply);
  taken->first.inbox->post(taken->first.generation, taken->second, std::move(body), std::move(promise));
  co_await reply->wait();
  auto answer = reply->take();
  if (!answer) co_return delivered{.outcome = delivery::gone, .answer = {}};
  co_return delivered{.outcome = delivery::answered, .answer = std::move(*answer)};
}

}  // namespace pd_proxy
