#include "pd_proxy/net/flow/pd_driver.hpp"

#include <spdlog/spdlog.h>

#include <array>
#include <optional>
#include <vector>

#include "pd_proxy/core/flow/retry.hpp"
#include "pd_proxy/core/http/http_wire.hpp"
#include "pd_proxy/core/scheduling/request_context_of.hpp"
#include "pd_proxy/core/sse/relay_framer.hpp"
#include "pd_proxy/core/time/deadline.hpp"
#include "pd_proxy/net/backend/backend_stream.hpp"
#include "pd_proxy/net/operation_timer.hpp"

namespace pd_proxy {
namespace {

using clock = std::chrono::steady_clock;

// Relay read size: one read takes what the decoder sent since the last one, up to this.
constexpr std::size_t relay_buffer_bytes = 8 * 1024;

// Executes one request's pd_flow actions. Lives in the coroutine frame of run_pd_flow.
class pd_driver {
 public:
  pd_driver(proxy_state& state, connection_pool& pool, const pd_request& request, client_response& response,
            stoppable_request& stop)
      : state_(state),
        config_ptr_(state.current_config()),
        config_(*config_ptr_),
        pool_(pool),
        request_(request),
        response_(response),
        stop_(stop),
        record_(request.record),
        shard_(state.metrics.local()),
        flow_(pd_flow_settings::from(config_)),
        context_(request_context_of(request.body, request.session_id)) {}

  net::awaitable<pd_outcome> run() {
    pd_action action = flow_.resume({.what = pd_event::kind::start});
    while (action.what != pd_action::kind::done) {
      pd_event event;
      switch (action.what) {
        case pd_action::kind::send_prefill:
          event = co_await send_prefill(action);
          break;
        case pd_action::kind::send_decode:
          event = co_await send_decode(action);
          break;
        case pd_action::kind::back_off:
          event = co_await back_off(action);
          break;
        case pd_action::kind::relay:
          event = co_await relay();
          break;
        case pd_action::kind::answer_error:
          co_await answer_error(action);
          event.what = pd_event::kind::client_answered;
          break;
        case pd_action::kind::pass_through:
          co_await response_.send_whole(action.status, action.content_type, action.body);
          event.what = pd_event::kind::client_answered;
          break;
        case pd_action::kind::done:
          break;
      }
      action = flow_.resume(event);
    }
    co_return flow_.outcome();
  }

 private:
  // X-Request-Id of the legs: the client's, or "<id>-reprefill<k>" once the k-th new prefill started (a
  // prefiller may still hold the KV under the old id, and a backend refuses a duplicate id).
  std::string_view backend_request_id() const {
    return reprefill_id_.empty() ? request_.request_id : std::string_view(reprefill_id_);
  }

  std::string request_head(const backend& target, std::size_t body_size) const {
    // With --forward-client-authorization the client's Authorization (if any) is in backend_headers instead.
    const std::string_view api_key =
        config_.forward_client_authorization ? std::string_view() : std::string_view(config_.backend_api_key);
    return format_backend_request_head({"POST", request_.route, target.authority(), backend_request_id(),
                                        api_key, body_size, request_.backend_headers});
  }

  request_context context(const std::vector<backend_id>& tried) const {
    request_context context = context_;
    context.tried = tried;
    return context;
  }

  // The role had no backend to reserve: none at all, or none usable (unhealthy or breaker open).
  pd_event no_backend(backend_role role) const {
    return {.what = pd_event::kind::no_backend, .none_usable = state_.sched.size(role) > 0};
  }

  pd_event failed(pd_leg leg, const backend& target, backend_failure failure, bool request_sent) {
    spdlog::warn("request {}: {} attempt {}/{} on {} failed: {}", request_.request_id, to_string(leg),
                 flow_.attempt(leg), flow_.attempts(), target.authority(), to_string(failure));
    shard_.backend_error(role_of(leg), target.authority(), failure_kind(failure));
    record_.last_failure = failure;
    return {.what = pd_event::kind::leg_failed, .failure = failure, .request_sent = request_sent};
  }

  pd_event answered(pd_leg leg, const backend& target, int status, std::string_view content_type) {
    if (is_retryable_status(status)) {
      spdlog::warn("request {}: {} attempt {}/{} on {} answered HTTP {}", request_.request_id, to_string(leg),
                   flow_.attempt(leg), flow_.attempts(), target.authority(), status);
      shard_.backend_error(role_of(leg), target.authority(), answer_kind(status));
    }
    answer_type_.assign(is_success_status(status) ? std::string_view()
                                                  : content_type);  // read only on errors
    return {
        .what = pd_event::kind::answered, .status = status, .content_type = answer_type_, .body = answer_};
  }

  net::awaitable<pd_event> send_prefill(const pd_action& action) {
    if (action.release_kv_hold) {
      kv_hold_.release_all();  // the old KV is given up: a new prefill makes its own
      reprefill_id_ = reprefill_request_id(request_.request_id, action.reprefill);
    }
    if (action.first_attempt) tried_prefill_.clear();
    if (action.check_decode_role && !state_.sched.any_usable(backend_role::decode)) {
      pd_event none = no_backend(backend_role::decode);
      none.no_decoder = true;
      co_return none;
    }
    auto reservation =
        state_.sched.reserve_prefill(prefill_score(request_.body.size()), context(tried_prefill_));
    if (!reservation) co_return no_backend(backend_role::prefill);
    const backend& target = reservation->target();
    tried_prefill_.push_back(target.id());
    record_.prefiller.assign(target.authority());
    record_.prefill_start = clock::now();
    record_.prefill_done = {};
    const spliced_body body = splice_prefill_body(request_.body);
    const auto deadline = deadline_after<clock>(config_.prefill_timeout, clock::now());
    const std::string head = request_head(target, body.size());

    backend_stream leg(pool_, target);
    const current_leg registered(stop_, leg);
    auto failure = co_await leg.open(head, body.pieces, config_.connect_timeout, config_.prefill_timeout);
    answer_.clear();
    if (failure == backend_failure::none) {
      const seconds_d left = time_left<clock>(deadline, clock::now());
      failure = co_await leg.read_all(answer_, config_.max_body_size, left);
    }
    reservation->prefill_finished();
    if (failure == backend_failure::cancelled) co_return pd_event{.what = pd_event::kind::client_gone};
    if (stop_.stopping()) co_return pd_event{.what = pd_event::kind::stopped};
    if (failure != backend_failure::none) {
      reservation->report(leg_result::failed);
      co_return failed(pd_leg::prefill, target, failure, leg.request_sent());
    }
    reservation->report(leg_result_of_answer(leg.status()));
    if (is_success_status(leg.status())) {
      pending_hold_ = std::move(*reservation);
      record_.prefill_done = clock::now();
    }
    co_return answered(pd_leg::prefill, target, leg.status(), leg.content_type());
  }

  void take_kv_hold() {
    kv_hold_ = std::move(pending_hold_);
    const std::string_view kv = flow_.kv_transfer_params();
    decode_body_ =
        splice_decode_body(request_.body, kv.empty() ? std::nullopt : std::optional<std::string_view>(kv));
    if (flow_.local_prefill()) {
      record_.local_prefill = true;
      state_.counters.local_prefills.fetch_add(1, std::memory_order_relaxed);
      spdlog::warn(
          "request {}: prefiller {} returned no kv_transfer_params; the decoder will prefill locally",
          request_.request_id, kv_hold_.target().authority());
    }
  }

  // Ends the decode attempt in progress: closes its connection, then releases its reservation.
  void end_decode_attempt() {
    decode_registered_.reset();
    decode_leg_.reset();
    decoder_.release();
  }

  net::awaitable<pd_event> send_decode(const pd_action& action) {
    if (action.keep_kv_hold) take_kv_hold();
    if (action.first_attempt) tried_decode_.clear();
    auto reservation =
        state_.sched.reserve_decode(decode_score(request_.body.size()), context(tried_decode_));
    if (!reservation) co_return no_backend(backend_role::decode);
    decoder_ = std::move(*reservation);  // held until the relay ends, or released when the attempt fails
    const backend& target = decoder_.target();
    tried_decode_.push_back(target.id());
    record_.decoder.assign(target.authority());
    record_.decode_start = clock::now();
    const auto first_byte_deadline = deadline_after<clock>(config_.first_token_timeout, clock::now());
    const std::string head = request_head(target, decode_body_.size());

    auto& leg = decode_leg_.emplace(pool_, target);
    decode_registered_.emplace(stop_, leg);
    auto failure =
        co_await leg.open(head, decode_body_.pieces, config_.connect_timeout, config_.first_token_timeout);
    if (failure == backend_failure::cancelled) co_return pd_event{.what = pd_event::kind::client_gone};
    if (failure == backend_failure::none && !is_success_status(leg.status())) {
      answer_.clear();
      failure = co_await leg.read_all(answer_, config_.max_body_size, config_.stream_idle_timeout);
      if (failure == backend_failure::cancelled) co_return pd_event{.what = pd_event::kind::client_gone};
      if (failure == backend_failure::none && !stop_.stopping()) {
        const pd_event event = answered(pd_leg::decode, target, leg.status(), leg.content_type());
        decoder_.report(leg_result_of_answer(leg.status()));
        end_decode_attempt();
        co_return event;
      }
    }
    first_ = 0;
    if (failure == backend_failure::none) {
      const seconds_d left = time_left<clock>(first_byte_deadline, clock::now());
      auto [read_failure, n] = co_await leg.read_some(buffer_.data(), buffer_.size(), left);
      failure = read_failure;
      first_ = n;
      failure = first_read_failure(failure, n);
    }
    if (failure == backend_failure::cancelled) co_return pd_event{.what = pd_event::kind::client_gone};
    if (stop_.stopping()) {
      end_decode_attempt();
      co_return pd_event{.what = pd_event::kind::stopped};
    }
    if (failure != backend_failure::none) {
      const pd_event event = failed(pd_leg::decode, target, failure, leg.request_sent());
      decoder_.report(leg_result::failed);
      end_decode_attempt();
      co_return event;
    }
    co_return pd_event{.what = pd_event::kind::first_byte};
  }

  net::awaitable<pd_event> back_off(const pd_action& action) {
    auto& retries =
        action.leg == pd_leg::prefill ? state_.counters.prefill_retries : state_.counters.decode_retries;
    retries.fetch_add(1, std::memory_order_relaxed);
    ++(action.leg == pd_leg::prefill ? record_.prefill_retries : record_.decode_retries);
    const bool slept = co_await stop_.sleep_for(action.delay);
    if (stop_.stopping()) co_return pd_event{.what = pd_event::kind::stopped};
    if (!slept) co_return pd_event{.what = pd_event::kind::client_gone};
    co_return pd_event{.what = pd_event::kind::backoff_done};
  }

  net::awaitable<void> answer_error(const pd_action& action) {
    if (action.retry_after) {
      co_await response_.send_error(action.code, action.message, retry_after_header);
    } else {
      co_await response_.send_error(action.code, action.message);
    }
  }

  // Relays the decoder's body; its first piece is in buffer_[0, first_).
  net::awaitable<pd_event> relay() {
    kv_hold_.release_kv();  // the decoder answered, so it has pulled the KV
    decode_body_ = {};      // no retry can need the prompt any more
    context_.model = {};    // a view of it
    answer_ = {};           // nor the prefill's answer
    request_.body.release();
    request_.body_hold.release();

    auto& leg = *decode_leg_;
    const bool stream = request_.body.stream();
    relay_framer framer(stream);
    response_.start_stream(200, stream ? "text/event-stream; charset=utf-8" : "application/json");
    std::size_t n = first_;
    while (true) {
      const auto plan = framer.feed(std::string_view(buffer_.data(), n), leg.done());
      if (!plan.idle()) {
        // Done, or the client is gone or stalled past the write timeout.
        if (co_await response_.write_chunk(plan.first, plan.second, plan.last)) {
          co_return pd_event{.what = pd_event::kind::client_gone};
        }
        framer.written();
        written_to_client(stream);
      }
      if (plan.last) {
        decoder_.report(leg_result::succeeded);
        co_return pd_event{.what = pd_event::kind::relay_ended};
      }

      auto [failure, got] =
          co_await leg.read_some(buffer_.data(), buffer_.size(), config_.stream_idle_timeout);
      if (failure == backend_failure::cancelled) co_return pd_event{.what = pd_event::kind::client_gone};
      if (failure != backend_failure::none) {
        co_return co_await end_after_failure(framer, failure);
      }
      n = got;
    }
  }

  // A relayed piece reached the client: the first is the request's first token; for streams the time
  // since the previous write is an inter-token latency.
  void written_to_client(bool stream) {
    const auto now = clock::now();
    if (!request_record::reached(record_.first_byte)) {
      record_.first_byte = now;
    } else if (stream) {
      shard_.itl.observe(std::chrono::duration<double>(now - last_write_).count());
    }
    last_write_ = now;
  }

  static backend_role role_of(pd_leg leg) {
    return leg == pd_leg::prefill ? backend_role::prefill : backend_role::decode;
  }

  net::awaitable<pd_event> end_after_failure(const relay_framer& framer, backend_failure failure) {
    const bool stopping = stop_.stopping();
    if (!stopping) {
      decoder_.report(leg_result::failed);
      state_.counters.midstream_failures.fetch_add(1, std::memory_order_relaxed);
      shard_.backend_error(backend_role::decode, record_.decoder, failure_kind(failure));
      record_.last_failure = failure;
      spdlog::warn("request {}: decode stream failed after the first byte: {}", request_.request_id,
                   to_string(failure));
    }
    const pd_event ended{.what = pd_event::kind::relay_ended, .failure = failure, .stopping = stopping};
    response_.close_after_response();
    if (!framer.stream()) {
      co_await response_.end_stream(/*complete=*/false);
      co_return ended;
    }
    const auto error = midstream_error(stopping, failure);
    const std::string event = sse_error_event(error.code, error.message);
    const std::string tail = framer.failure_tail(event);
    if (!tail.empty() && co_await response_.write_chunk(tail)) co_return ended;
    co_await response_.end_stream(/*complete=*/true);
    co_return ended;
  }

  proxy_state& state_;
  std::shared_ptr<const proxy_config> config_ptr_;  // this request's (reloadable settings), kept to its end
  const proxy_config& config_;
  connection_pool& pool_;
  const pd_request& request_;
  client_response& response_;
  stoppable_request& stop_;
  request_record& record_;  // the request's record: backends, retries and times
  metrics_shard& shard_;    // this worker's metrics (the request stays on its worker)
  pd_flow flow_;
  request_context
      context_;  // the request's scheduling inputs; `model` is a view of its body (until the relay)
  std::string reprefill_id_;  // empty before the first re-prefill: no allocation on the common path
  std::vector<backend_id> tried_prefill_;
  std::vector<backend_id> tried_decode_;
  prefill_reservation pending_hold_;  // a prefill that answered 2xx, until the flow makes it the KV hold
  prefill_reservation kv_hold_;       // the KV the decoder is to pull, held on its prefiller
  spliced_body decode_body_;
  std::string answer_;       // the last backend answer read whole
  std::string answer_type_;  // its Content-Type
  decode_reservation decoder_;
  std::optional<backend_stream> decode_leg_;
  std::optional<current_leg> decode_registered_;  // after decode_leg_: unregisters before it goes
  std::array<char, relay_buffer_bytes> buffer_;
  std::size_t first_ = 0;           // bytes of the decoder's first piece in buffer_
  clock::time_point last_write_{};  // the relay's last write to the client
};

}  // namespace

net::awaitable<pd_outcome> run_pd_flow(proxy_state& state, connection_pool& pool, stop_list& stoppable,
                                       const pd_request& request, client_response& response) {
  inflight_guard inflight(state.request_num);
  state.counters.pd_requests.fetch_add(1, std::memory_order_relaxed);
  stoppable_request stop(stoppable);
  pd_driver driver(state, pool, request, response, stop);
  co_return co_await driver.run();
}

}  // namespace pd_proxy
