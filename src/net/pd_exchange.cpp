#include "pd_proxy/net/pd_exchange.hpp"

#include <spdlog/spdlog.h>

#include <array>
#include <cmath>

#include "pd_proxy/core/http_wire.hpp"
#include "pd_proxy/core/sse_parser.hpp"
#include "pd_proxy/net/backend_exchange.hpp"
#include "pd_proxy/net/timed.hpp"

namespace pd_proxy {
namespace {

using clock = std::chrono::steady_clock;

// Relay read size: one read takes what the decoder sent since the last one, up to this.
constexpr std::size_t relay_buffer_bytes = 8 * 1024;
using relay_buffer = std::array<char, relay_buffer_bytes>;

// A stream whose events never end is forwarded anyway once this much of one event is held back.
constexpr std::size_t max_held_event_bytes = 256 * 1024;

bool is_success(int status) { return status >= 200 && status < 300; }
bool is_retryable_status(int status) { return status == 429 || status >= 500; }

seconds_d backoff(const proxy_config& config, int attempt) {
  return config.retry_delay * std::pow(2.0, attempt - 2);  // before attempt 2: 1x, attempt 3: 2x, ...
}

seconds_d left_until(clock::time_point deadline) {
  if (deadline == clock::time_point::max()) return seconds_d{0};
  return std::max(seconds_d{1e-6}, std::chrono::duration_cast<seconds_d>(deadline - clock::now()));
}

clock::time_point deadline_after(seconds_d limit) {
  return limit.count() <= 0 ? clock::time_point::max() : clock::now() + to_timer_duration(limit);
}

// Why a leg gave up, for the client's error.
struct leg_outcome {
  backend_failure failure = backend_failure::none;
  int status = 0;     // last backend status when it answered with an error
  std::string body;   // that answer's body
};

net::awaitable<void> send_leg_failure(client_response& response, std::string_view leg, const leg_outcome& last) {
  if (last.status != 0) {
    if (!last.body.empty()) {
      co_await response.send_whole(last.status, "application/json", last.body);
    } else {
      co_await response.send_error(errc::backend_failed, std::string(leg) + " backend answered HTTP " +
                                                             std::to_string(last.status) + " on every attempt");
    }
    co_return;
  }
  if (last.failure == backend_failure::timeout) {
    co_await response.send_error(errc::backend_timeout, std::string(leg) + " backend timed out");
  } else {
    co_await response.send_error(errc::backend_failed,
                                 std::string(leg) + " backend failed (" + std::string(to_string(last.failure)) + ")");
  }
}

std::string request_head(const proxy_state& state, std::string_view method, const pd_request& request,
                         const backend_address& address, std::size_t body_size) {
  return format_backend_request_head(
      {method, request.route, address.authority(), request.request_id, state.config.backend_api_key, body_size});
}

//------------------------------------------------------------------------------
// Prefill leg.

struct prefill_result {
  bool ok = false;  // false: the response was written (error) or the client is gone
  prefill_reservation kv_hold;
  std::string kv_transfer_params;  // raw JSON text of the prefiller's object; empty when it sent none
};

net::awaitable<prefill_result> run_prefill(proxy_state& state, backend_pool& pool, const pd_request& request,
                                           client_response& response) {
  const auto& config = state.config;
  const std::string body = make_prefill_body(request.body);
  const double score = prefill_score(request.body.size());
  const int attempts = std::max(1, config.max_retries);
  std::vector<bool> tried(config.prefillers.size());
  leg_outcome last;
  prefill_result result;

  for (int attempt = 1; attempt <= attempts; ++attempt) {
    if (attempt > 1) {
      state.counters.prefill_retries.fetch_add(1, std::memory_order_relaxed);
      if (!co_await sleep_for(backoff(config, attempt))) co_return result;
    }
    auto reservation = state.sched.reserve_prefill(score, tried);
    if (!reservation) {
      co_await response.send_error(errc::no_backend, "no prefill instance is configured");
      co_return result;
    }
    const std::size_t index = reservation->index();
    tried[index] = true;
    const backend_address& address = config.prefillers[index];
    const auto deadline = deadline_after(config.prefill_timeout);

    backend_stream leg(pool, backend_role::prefill, index, address);
    auto failure =
        co_await leg.open(request_head(state, "POST", request, address, body.size()), body, config.connect_timeout,
                          config.prefill_timeout);
    std::string answer;
    if (failure == backend_failure::none) {
      failure = co_await leg.read_all(answer, config.max_body_size, left_until(deadline));
    }
    reservation->prefill_finished();
    if (failure == backend_failure::cancelled) co_return result;
    if (failure != backend_failure::none) {
      spdlog::warn("request {}: prefill attempt {}/{} on {} failed: {}", request.request_id, attempt, attempts,
                   address.authority(), to_string(failure));
      last = {failure, 0, {}};
      continue;
    }
    const int status = leg.status();
    if (is_success(status)) {
      if (const auto kv = find_kv_transfer_params(answer)) {
        result.kv_transfer_params.assign(*kv);
      } else {
        state.counters.local_prefills.fetch_add(1, std::memory_order_relaxed);
        spdlog::warn("request {}: prefiller {} returned no kv_transfer_params; the decoder will prefill locally",
                     request.request_id, address.authority());
      }
      result.ok = true;
      result.kv_hold = std::move(*reservation);
      co_return result;
    }
    if (!is_retryable_status(status)) {
      // The backend's own verdict on the request (e.g. prompt too long): not retried, passed through.
      co_await response.send_whole(status, "application/json", answer);
      co_return result;
    }
    spdlog::warn("request {}: prefill attempt {}/{} on {} answered HTTP {}", request.request_id, attempt, attempts,
                 address.authority(), status);
    last = {backend_failure::none, status, std::move(answer)};
  }
  co_await send_leg_failure(response, "prefill", last);
  co_return result;
}

//------------------------------------------------------------------------------
// Decode leg and relay.

// Relays the decoder's body after its first piece arrived. The first piece is in `buffer[0..first)`.
net::awaitable<void> relay_decode(proxy_state& state, backend_stream& leg, const pd_request& request,
                                  client_response& response, bool stream, relay_buffer& buffer,
                                  std::size_t first) {
  const auto& config = state.config;
  response.start_stream(200, stream ? "text/event-stream; charset=utf-8" : "application/json");
  sse_parser parser;
  std::string held;  // stream: bytes of an event not yet complete, never sent half
  bool saw_done = false;
  auto observe = [&](const sse_event& event) {
    if (classify(event) == sse_event_kind::done) saw_done = true;
  };

  std::size_t n = first;
  while (true) {
    const std::string_view piece(buffer.data(), n);
    const bool last = leg.done();  // the decoder's body is complete: end the response in the same write
    error_code write_ec;
    if (!stream) {
      write_ec = co_await response.write_chunk(piece, {}, last);
    } else {
      const std::size_t cut = parser.feed(piece, observe);
      if (last) {
        write_ec = co_await response.write_chunk(held, piece, /*last=*/true);
      } else if (cut != std::string_view::npos) {
        write_ec = co_await response.write_chunk(held, piece.substr(0, cut));
        held.assign(piece.substr(cut));
      } else {
        held.append(piece);
        if (held.size() > max_held_event_bytes) {
          write_ec = co_await response.write_chunk(held);
          held.clear();
        }
      }
    }
    if (write_ec || last) co_return;  // done, or the client is gone or stalled past the write timeout

    auto [failure, got] = co_await leg.read_some(buffer.data(), buffer.size(), config.stream_idle_timeout);
    if (failure == backend_failure::cancelled) co_return;
    if (failure != backend_failure::none) {
      state.counters.midstream_failures.fetch_add(1, std::memory_order_relaxed);
      spdlog::warn("request {}: decode stream failed after the first byte: {}", request.request_id,
                   to_string(failure));
      response.close_after_response();
      if (!stream) {
        co_await response.end_stream(/*complete=*/false);
        co_return;
      }
      if (!saw_done) {
        const errc code = failure == backend_failure::timeout ? errc::backend_timeout : errc::backend_failed;
        const std::string event = sse_error_event(
            code, failure == backend_failure::timeout ? "decode backend stalled mid-stream"
                                                      : "decode backend failed mid-stream");
        if (co_await response.write_chunk(event)) co_return;
      }
      co_await response.end_stream(/*complete=*/true);
      co_return;
    }
    n = got;
  }
}

net::awaitable<void> run_decode(proxy_state& state, backend_pool& pool, const pd_request& request,
                                client_response& response, prefill_result& prefill) {
  const auto& config = state.config;
  const bool stream = request.body.stream();
  std::string body = make_decode_body(
      request.body, prefill.kv_transfer_params.empty() ? std::nullopt
                                                       : std::optional<std::string_view>(prefill.kv_transfer_params));
  const double score = decode_score(request.body.size());
  const int attempts = std::max(1, config.max_retries);
  std::vector<bool> tried(config.decoders.size());
  leg_outcome last;
  relay_buffer buffer;

  for (int attempt = 1; attempt <= attempts; ++attempt) {
    if (attempt > 1) {
      state.counters.decode_retries.fetch_add(1, std::memory_order_relaxed);
      if (!co_await sleep_for(backoff(config, attempt))) co_return;
    }
    auto reservation = state.sched.reserve_decode(score, tried);
    if (!reservation) {
      co_await response.send_error(errc::no_backend, "no decode instance is configured");
      co_return;
    }
    const std::size_t index = reservation->index();
    tried[index] = true;
    const backend_address& address = config.decoders[index];
    const auto first_byte_deadline = deadline_after(config.first_token_timeout);

    backend_stream leg(pool, backend_role::decode, index, address);
    auto failure = co_await leg.open(request_head(state, "POST", request, address, body.size()), body,
                                     config.connect_timeout, config.first_token_timeout);
    if (failure == backend_failure::cancelled) co_return;
    if (failure == backend_failure::none && !is_success(leg.status())) {
      std::string answer;
      failure = co_await leg.read_all(answer, config.max_body_size, config.stream_idle_timeout);
      if (failure == backend_failure::cancelled) co_return;
      if (failure == backend_failure::none) {
        if (!is_retryable_status(leg.status())) {
          co_await response.send_whole(leg.status(), "application/json", answer);
          co_return;
        }
        spdlog::warn("request {}: decode attempt {}/{} on {} answered HTTP {}", request.request_id, attempt,
                     attempts, address.authority(), leg.status());
        last = {backend_failure::none, leg.status(), std::move(answer)};
        continue;
      }
    }
    std::size_t first = 0;
    if (failure == backend_failure::none) {
      auto [read_failure, n] = co_await leg.read_some(buffer.data(), buffer.size(), left_until(first_byte_deadline));
      failure = read_failure;
      first = n;
      if (failure == backend_failure::none && n == 0) failure = backend_failure::transport;  // empty 200 body
    }
    if (failure == backend_failure::cancelled) co_return;
    if (failure != backend_failure::none) {
      spdlog::warn("request {}: decode attempt {}/{} on {} failed: {}", request.request_id, attempt, attempts,
                   address.authority(), to_string(failure));
      last = {failure, 0, {}};
      continue;
    }
    prefill.kv_hold.release_kv();  // the decoder answered, so it has pulled the KV
    std::string().swap(body);      // no retry can need the prompt any more
    request.body.release();
    co_await relay_decode(state, leg, request, response, stream, buffer, first);
    co_return;
  }
  co_await send_leg_failure(response, "decode", last);
}

}  // namespace

net::awaitable<void> run_pd_exchange(proxy_state& state, backend_pool& pool, const pd_request& request,
                                     client_response& response) {
  inflight_guard inflight(state.request_num);
  state.counters.pd_requests.fetch_add(1, std::memory_order_relaxed);
  auto prefill = co_await run_prefill(state, pool, request, response);
  if (!prefill.ok) co_return;
  co_await run_decode(state, pool, request, response, prefill);
}

}  // namespace pd_proxy
