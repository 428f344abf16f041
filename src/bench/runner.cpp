#include "pd_proxy/bench/runner.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <deque>

#include "pd_proxy/core/http/http_wire.hpp"
#include "pd_proxy/core/sse/sse_parser.hpp"
#include "pd_proxy/net/backend/backend_stream.hpp"
#include "pd_proxy/net/operation_timer.hpp"

namespace pd_proxy::bench {
namespace {

using clock = std::chrono::steady_clock;

double ms_between(clock::time_point a, clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

// Shared by the coroutines of one run (one thread).
struct run_state {
  const run_options& options;
  const std::vector<prepared_request>& requests;
  backend target;  // the proxy (or backend) under test
  connection_pool pool;
  clock::time_point started;
  clock::time_point last_finished;
  std::vector<request_record> records;
  std::size_t in_flight = 0;
  std::size_t failed = 0;
  std::deque<net::steady_timer*> waiting;  // dispatchers waiting for a concurrency slot
};

net::awaitable<void> send_one(run_state& run, const prepared_request& request) {
  co_await net::this_coro::throw_if_cancelled(false);
  const auto& options = run.options;
  request_record record;
  record.input_tokens = request.input_tokens;
  const auto sent = clock::now();
  record.start_s = std::chrono::duration<double>(sent - run.started).count();

  backend_stream stream(run.pool, run.target);
  const std::string session_line =
      request.session.empty() ? std::string() : options.session_header + ": " + request.session + "\r\n";
  const std::string head = format_backend_request_head({"POST",
                                                        options.path,
                                                        options.target.authority(),
                                                        {},
                                                        options.api_key,
                                                        request.body.size(),
                                                        session_line});
  const std::string_view request_body = request.body;
  auto failure = co_await stream.open(head, {&request_body, 1}, options.timeout, options.timeout);
  if (failure == backend_failure::none) {
    record.status = stream.status();
    if (record.status < 200 || record.status >= 300) {
      std::string ignored;
      co_await stream.read_all(ignored, 1 << 20, options.timeout);
      record.error = "http_" + std::to_string(record.status);
    } else {
      sse_parser parser;
      std::string body;  // non-streaming answers, for their usage
      bool is_stream = true;
      bool first = true, saw_done = false, saw_error = false;
      int tokens = 0;
      usage_counts usage;
      clock::time_point last{};
      std::array<char, 16384> buffer;
      while (!stream.done()) {
        auto [read_failure, n] = co_await stream.read_some(buffer.data(), buffer.size(), options.timeout);
        if (read_failure != backend_failure::none) {
          failure = read_failure;
          break;
        }
        const auto now = clock::now();
        const std::string_view piece(buffer.data(), n);
        if (first && n > 0) is_stream = piece.substr(0, 1) != "{";
        if (!is_stream) {
          body.append(piece);
          continue;
        }
        parser.feed(piece, [&](const sse_event& event) {
          const auto kind = classify(event);
          if (kind == sse_event_kind::done) saw_done = true;
          if (kind == sse_event_kind::error) saw_error = true;
          if (kind != sse_event_kind::token) return;
          if (is_token_event(event.data)) {
            if (tokens == 0) {
              record.ttft_ms = ms_between(sent, now);
            } else {
              record.itl_ms.push_back(ms_between(last, now));
            }
            last = now;
            ++tokens;
          } else if (const auto counts = usage_of(event.data); counts.completion_tokens >= 0) {
            usage = counts;
          }
        });
        first = false;
      }
      record.e2e_ms = ms_between(sent, clock::now());
      if (failure == backend_failure::none) {
        if (is_stream) {
          record.output_tokens = usage.completion_tokens >= 0 ? usage.completion_tokens : tokens;
          record.cached_tokens = usage.cached_tokens;
          if (saw_error)
            record.error = "sse_error";
          else if (!saw_done || tokens == 0)
            record.error = "incomplete";
        } else {
          record.ttft_ms = record.e2e_ms;
          usage = usage_of(body);
          record.output_tokens = std::max(0, usage.completion_tokens);
          record.cached_tokens = usage.cached_tokens;
        }
      }
    }
  }
  if (failure != backend_failure::none && record.error.empty())
    record.error = std::string(to_string(failure));
  if (record.e2e_ms == 0) record.e2e_ms = ms_between(sent, clock::now());
  if (!record.ok()) ++run.failed;
  run.records.push_back(std::move(record));
  run.last_finished = clock::now();
  --run.in_flight;
  if (!run.waiting.empty()) {
    run.waiting.front()->cancel();
    run.waiting.pop_front();
  }
}

net::awaitable<void> dispatch(run_state& run, const std::atomic<bool>& stop) {
  co_await net::this_coro::throw_if_cancelled(false);
  const auto& options = run.options;
  const std::size_t total = options.num_requests;
  const auto gaps =
      arrival_gaps(total > 0 ? total : 1 << 20, options.request_rate, options.burstiness, options.seed);
  const auto deadline =
      options.duration_s > 0
          ? run.started + std::chrono::duration_cast<clock::duration>(seconds_d{options.duration_s})
          : clock::time_point::max();
  for (std::size_t i = 0; (total == 0 || i < total) && !stop && clock::now() < deadline; ++i) {
    if (gaps[i % gaps.size()] > 0) co_await sleep_for(seconds_d{gaps[i % gaps.size()]});
    while (options.max_concurrency > 0 && run.in_flight >= options.max_concurrency && !stop) {
      net::steady_timer slot(co_await net::this_coro::executor, std::chrono::seconds(1));
      run.waiting.push_back(&slot);
      co_await slot.async_wait(use_nothrow);
      std::erase(run.waiting, &slot);
    }
    if (stop || clock::now() >= deadline) break;
    ++run.in_flight;
    net::co_spawn(co_await net::this_coro::executor, send_one(run, run.requests[i % run.requests.size()]),
                  net::detached);
  }
}

}  // namespace

std::vector<request_record> run_load(const run_options& options,
                                     const std::vector<prepared_request>& requests,
                                     const std::atomic<bool>& stop,
                                     const std::function<void(const progress&)>& on_progress,
                                     double& duration_s) {
  net::io_context io(1);
  const std::size_t idle = options.max_concurrency > 0 ? options.max_concurrency : 4096;
  const auto now = clock::now();
  run_state run{
      options, requests, {1, backend_role::decode, options.target}, connection_pool(idle), now, now, {}, 0,
      0,       {}};
  if (requests.empty()) return {};
  bool dispatching = true;
  net::co_spawn(io, dispatch(run, stop), [&](std::exception_ptr) { dispatching = false; });
  net::co_spawn(
      io,
      [&]() -> net::awaitable<void> {
        while (dispatching || run.in_flight > 0) {
          co_await sleep_for(seconds_d{stop ? 0.05 : 1.0});
          if (on_progress) {
            on_progress({run.records.size(), run.failed, run.in_flight,
                         std::chrono::duration<double>(clock::now() - run.started).count()});
          }
        }
      },
      net::detached);
  io.run();
  duration_s = std::chrono::duration<double>(run.last_finished - run.started).count();
  return std::move(run.records);
}

void run_warmup(const run_options& options, std::size_t count, const std::vector<prepared_request>& requests,
                const std::atomic<bool>& stop, const std::function<void(std::string_view)>& say) {
  if (count == 0) return;
  run_options warm = options;
  warm.num_requests = count;
  warm.duration_s = 0;
  warm.request_rate = 0;
  say(fmt::format("warm-up: sending {} request(s), not measured", count));
  double duration_s = 0;
  const auto records = run_load(warm, requests, stop, {}, duration_s);
  const auto failed = std::count_if(records.begin(), records.end(), [](const auto& r) { return !r.ok(); });
  if (stop) {
    say(fmt::format("warm-up interrupted after {} request(s)", records.size()));
  } else {
    say(fmt::format("warm-up done: {} request(s) in {:.1f} s, {} failed; measuring now", records.size(),
                    duration_s, failed));
  }
}

}  // namespace pd_proxy::bench
