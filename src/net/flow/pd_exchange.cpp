#include "pd_proxy/net/flow/pd_exchange.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>

#include "pd_proxy/core/http/http_wire.hpp"
#include "pd_proxy/core/flow/retry.hpp"
#include "pd_proxy/core/sse/sse_parser.hpp"
#include "pd_proxy/net/backend/backend_stream.hpp"
#include "pd_proxy/net/flow/stop_list.hpp"
#include "pd_proxy/net/timed.hpp"

namespace pd_proxy {
namespace {

using clock = std::chrono::steady_clock;

// Relay read size: one read takes what the decoder sent since the last one, up to this.
constexpr std::size_t relay_buffer_bytes = 8 * 1024;
using relay_buffer = std::array<char, relay_buffer_bytes>;

// A stream whose events never end is forwarded anyway once this much of one event is held back.
constexpr std::size_t max_held_event_bytes = 256 * 1024;

bool is_success(int status) {
  return status >= 200 && status < 300;
}

seconds_d left_until(clock::time_point deadline) {
  if (deadline == clock::time_point::max()) return seconds_d{0};
  return std::max(seconds_d{1e-6}, std::chrono::duration_cast<seconds_d>(deadline - clock::now()));
}

clock::time_point deadline_after(seconds_d limit) {
  return limit.count() <= 0 ? clock::time_point::max() : clock::now() + to_timer_duration(limit);
}

// What one request's legs share.
struct exchange {
  proxy_state& state;
  backend_pool& pool;
  const pd_request& request;
  client_response& response;
  stoppable_request& stop;
  // "<request id>-reprefill<k>" once the k-th new prefill started (a prefiller may still hold the KV under
  // the old id, and a backend refuses a duplicate id); empty before: no allocation on the common path.
  std::string reprefill_id;

  // X-Request-Id of the legs.
  std::string_view backend_request_id() const {
    return reprefill_id.empty() ? request.request_id : std::string_view(reprefill_id);
  }
};

// Why a leg gave up, for the client's error.
struct leg_outcome {
  backend_failure failure = backend_failure::none;
  bool request_sent = false;  // the backend received the whole request (it may have acted on it)
  int status = 0;             // last backend status when it answered with an error
  std::string content_type;   // that answer's Content-Type
  std::string body;           // that answer's body
};

// A backend's own answer, unchanged: its status, Content-Type (JSON when it sent none) and body.
net::awaitable<void> pass_through(client_response& response, int status, std::string_view content_type,
                                  std::string_view body) {
  const std::string_view type = content_type.empty() ? std::string_view("application/json") : content_type;
  co_await response.send_whole(status, type, body);
}

net::awaitable<void> send_shutting_down(client_response& response) {
  co_await response.send_error(errc::shutting_down, "proxy shutting down", retry_after_header);
}

// Named messages, not temporaries inside co_await: GCC 12 mishandles some temporaries of a co_await operand.
net::awaitable<void> send_leg_failure(client_response& response, std::string_view leg,
                                      const leg_outcome& last) {
  if (last.status != 0 && !last.body.empty()) {
    co_await pass_through(response, last.status, last.content_type, last.body);
    co_return;
  }
  std::string message(leg);
  errc code = errc::backend_failed;
  if (last.status != 0) {
    message += " backend answered HTTP " + std::to_string(last.status) + " on every attempt";
  } else if (last.failure == backend_failure::timeout) {
    message += " backend timed out";
    code = errc::backend_timeout;
  } else {
    message += " backend failed (" + std::string(to_string(last.failure)) + ")";
  }
  co_await response.send_error(code, message);
}

std::string request_head(const exchange& x, const backend_address& address, std::size_t body_size) {
  return format_backend_request_head({"POST", x.request.route, address.authority(), x.backend_request_id(),
                                      x.state.config.backend_api_key, body_size});
}

//------------------------------------------------------------------------------
// Prefill leg.

struct prefill_result {
  bool ok = false;  // false: the response was written (error) or the client is gone
  prefill_reservation kv_hold;
  std::string kv_transfer_params;  // raw JSON text of the prefiller's object; empty when it sent none
};

net::awaitable<prefill_result> run_prefill(exchange& x) {
  const auto& config = x.state.config;
  const spliced_body body = splice_prefill_body(x.request.body);
  const double score = prefill_score(x.request.body.size());
  const int attempts = std::max(1, config.max_retries);
  std::vector<bool> tried(config.prefillers.size());
  leg_outcome last;
  prefill_result result;

  for (int attempt = 1; attempt <= attempts; ++attempt) {
    if (attempt > 1) {
      x.state.counters.prefill_retries.fetch_add(1, std::memory_order_relaxed);
      if (!co_await x.stop.sleep_for(retry_backoff(config.retry_delay, attempt)) && !x.stop.stopping()) {
        co_return result;  // the client is gone
      }
    }
    if (x.stop.stopping()) {
      co_await send_shutting_down(x.response);
      co_return result;
    }
    auto reservation = x.state.sched.reserve_prefill(score, tried);
    if (!reservation) {
      co_await x.response.send_error(errc::no_backend, "no prefill instance is configured");
      co_return result;
    }
    const std::size_t index = reservation->index();
    tried[index] = true;
    const backend_address& address = config.prefillers[index];
    const auto deadline = deadline_after(config.prefill_timeout);

    backend_stream leg(x.pool, backend_role::prefill, index, address);
    const current_leg registered(x.stop, leg);
    auto failure = co_await leg.open(request_head(x, address, body.size()), body.pieces,
                                     config.connect_timeout, config.prefill_timeout);
    std::string answer;
    if (failure == backend_failure::none) {
      failure = co_await leg.read_all(answer, config.max_body_size, left_until(deadline));
    }
    reservation->prefill_finished();
    if (failure == backend_failure::cancelled) co_return result;
    if (x.stop.stopping()) {
      co_await send_shutting_down(x.response);
      co_return result;
    }
    if (failure != backend_failure::none) {
      spdlog::warn("request {}: prefill attempt {}/{} on {} failed: {}", x.request.request_id, attempt,
                   attempts, address.authority(), to_string(failure));
      last = {failure, leg.request_sent(), 0, {}, {}};
      continue;
    }
    const int status = leg.status();
    if (is_success(status)) {
      if (const auto kv = find_kv_transfer_params(answer)) {
        result.kv_transfer_params.assign(*kv);
      } else {
        x.state.counters.local_prefills.fetch_add(1, std::memory_order_relaxed);
        spdlog::warn(
            "request {}: prefiller {} returned no kv_transfer_params; the decoder will prefill locally",
            x.request.request_id, address.authority());
      }
      result.ok = true;
      result.kv_hold = std::move(*reservation);
      co_return result;
    }
    if (!is_retryable_status(status)) {
      // The backend's own verdict on the request (e.g. prompt too long): not retried, passed through.
      co_await pass_through(x.response, status, leg.content_type(), answer);
      co_return result;
    }
    spdlog::warn("request {}: prefill attempt {}/{} on {} answered HTTP {}", x.request.request_id, attempt,
                 attempts, address.authority(), status);
    last = {backend_failure::none, true, status, std::string(leg.content_type()), std::move(answer)};
  }
  co_await send_leg_failure(x.response, "prefill", last);
  co_return result;
}

//------------------------------------------------------------------------------
// Decode leg and relay.

// Relays the decoder's body after its first piece arrived. The first piece is in `buffer[0..first)`.
net::awaitable<void> relay_decode(exchange& x, backend_stream& leg, bool stream, relay_buffer& buffer,
                                  std::size_t first) {
  const auto& config = x.state.config;
  auto& response = x.response;
  response.start_stream(200, stream ? "text/event-stream; charset=utf-8" : "application/json");
  sse_parser parser;
  std::string held;              // stream: bytes of an event not yet complete, never sent half...
  bool sent_half_event = false;  // ...unless it outgrew max_held_event_bytes and went out unfinished
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
        sent_half_event = false;
      } else {
        held.append(piece);
        if (held.size() > max_held_event_bytes) {
          write_ec = co_await response.write_chunk(held);
          held.clear();
          sent_half_event = true;
        }
      }
    }
    if (write_ec || last) co_return;  // done, or the client is gone or stalled past the write timeout

    auto [failure, got] = co_await leg.read_some(buffer.data(), buffer.size(), config.stream_idle_timeout);
    if (failure == backend_failure::cancelled) co_return;
    if (failure != backend_failure::none) {
      const bool stopping = x.stop.stopping();
      if (!stopping) {
        x.state.counters.midstream_failures.fetch_add(1, std::memory_order_relaxed);
        spdlog::warn("request {}: decode stream failed after the first byte: {}", x.request.request_id,
                     to_string(failure));
      }
      response.close_after_response();
      if (!stream) {
        co_await response.end_stream(/*complete=*/false);
        co_return;
      }
      if (!saw_done) {
        std::string event;
        if (stopping) {
          event = sse_error_event(errc::shutting_down, "proxy shutting down");
        } else if (failure == backend_failure::timeout) {
          event = sse_error_event(errc::backend_timeout, "decode backend stalled mid-stream");
        } else {
          event = sse_error_event(errc::backend_failed, "decode backend failed mid-stream");
        }
        // What is held is an incomplete event: it is dropped, so the error is an event of its own. When part
        // of that event already went out, a blank line ends it first (the client sees it cut short).
        const std::string_view end_event = sent_half_event ? "\n\n" : "";
        if (co_await response.write_chunk(end_event, event)) co_return;
      }
      co_await response.end_stream(/*complete=*/true);
      co_return;
    }
    n = got;
  }
}

net::awaitable<void> run_decode(exchange& x, prefill_result& prefill) {
  const auto& config = x.state.config;
  const bool stream = x.request.body.stream();
  auto splice = [&] {
    return splice_decode_body(x.request.body,
                              prefill.kv_transfer_params.empty()
                                  ? std::nullopt
                                  : std::optional<std::string_view>(prefill.kv_transfer_params));
  };
  spliced_body body = splice();
  const double score = decode_score(x.request.body.size());
  const int attempts = std::max(1, config.max_retries);
  std::vector<bool> tried(config.decoders.size());
  leg_outcome last;
  relay_buffer buffer;
  int reprefills = 0;

  for (int attempt = 1; attempt <= attempts; ++attempt) {
    if (attempt > 1) {
      x.state.counters.decode_retries.fetch_add(1, std::memory_order_relaxed);
      if (!co_await x.stop.sleep_for(retry_backoff(config.retry_delay, attempt)) && !x.stop.stopping()) {
        co_return;  // the client is gone
      }
      if (decode_retry_needs_prefill(config.decode_retry_kv, last.request_sent) && !x.stop.stopping()) {
        prefill.kv_hold.release_all();  // the old KV is given up: a new prefill makes its own
        x.reprefill_id = std::string(x.request.request_id) + "-reprefill" + std::to_string(++reprefills);
        prefill = co_await run_prefill(x);
        if (!prefill.ok) co_return;
        body = splice();
      }
    }
    if (x.stop.stopping()) {
      co_await send_shutting_down(x.response);
      co_return;
    }
    auto reservation = x.state.sched.reserve_decode(score, tried);
    if (!reservation) {
      co_await x.response.send_error(errc::no_backend, "no decode instance is configured");
      co_return;
    }
    const std::size_t index = reservation->index();
    tried[index] = true;
    const backend_address& address = config.decoders[index];
    const auto first_byte_deadline = deadline_after(config.first_token_timeout);

    backend_stream leg(x.pool, backend_role::decode, index, address);
    const current_leg registered(x.stop, leg);
    auto failure = co_await leg.open(request_head(x, address, body.size()), body.pieces,
                                     config.connect_timeout, config.first_token_timeout);
    if (failure == backend_failure::cancelled) co_return;
    if (failure == backend_failure::none && !is_success(leg.status())) {
      std::string answer;
      failure = co_await leg.read_all(answer, config.max_body_size, config.stream_idle_timeout);
      if (failure == backend_failure::cancelled) co_return;
      if (failure == backend_failure::none && !x.stop.stopping()) {
        if (!is_retryable_status(leg.status())) {
          co_await pass_through(x.response, leg.status(), leg.content_type(), answer);
          co_return;
        }
        spdlog::warn("request {}: decode attempt {}/{} on {} answered HTTP {}", x.request.request_id, attempt,
                     attempts, address.authority(), leg.status());
        last = {backend_failure::none, true, leg.status(), std::string(leg.content_type()),
                std::move(answer)};
        continue;
      }
    }
    std::size_t first = 0;
    if (failure == backend_failure::none) {
      auto [read_failure, n] =
          co_await leg.read_some(buffer.data(), buffer.size(), left_until(first_byte_deadline));
      failure = read_failure;
      first = n;
      if (failure == backend_failure::none && n == 0) failure = backend_failure::transport;  // empty 200 body
    }
    if (failure == backend_failure::cancelled) co_return;
    if (x.stop.stopping()) {
      co_await send_shutting_down(x.response);
      co_return;
    }
    if (failure != backend_failure::none) {
      spdlog::warn("request {}: decode attempt {}/{} on {} failed: {}", x.request.request_id, attempt,
                   attempts, address.authority(), to_string(failure));
      last = {failure, leg.request_sent(), 0, {}, {}};
      continue;
    }
    prefill.kv_hold.release_kv();  // the decoder answered, so it has pulled the KV
    body = {};                     // no retry can need the prompt any more
    x.request.body.release();
    x.request.body_hold.release();
    co_await relay_decode(x, leg, stream, buffer, first);
    co_return;
  }
  co_await send_leg_failure(x.response, "decode", last);
}

}  // namespace

net::awaitable<void> run_pd_exchange(proxy_state& state, backend_pool& pool, stop_list& stoppable,
                                     const pd_request& request, client_response& response) {
  inflight_guard inflight(state.request_num);
  state.counters.pd_requests.fetch_add(1, std::memory_order_relaxed);
  stoppable_request stop(stoppable);
  exchange x{state, pool, request, response, stop, {}};
  auto prefill = co_await run_prefill(x);
  if (!prefill.ok) co_return;
  co_await run_decode(x, prefill);
}

}  // namespace pd_proxy
