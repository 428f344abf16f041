// Runs one request's flow_machine (core/flow/flow_machine.hpp) on an I/O transport: a table of legs, the
// machine's actions carried out on them, their completions multiplexed back to the machine. A template on
// the transport so that tests/unit/net drive it with a fake one and manual_clock; net/flow/pd_driver.cpp
// instantiates it on sockets.
#pragma once

#include <spdlog/spdlog.h>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "pd_proxy/core/flow/flow_machine.hpp"
#include "pd_proxy/core/flow/flow_request.hpp"
#include "pd_proxy/core/flow/midstream_error.hpp"
#include "pd_proxy/core/flow/retry.hpp"
#include "pd_proxy/core/http/http_wire.hpp"
#include "pd_proxy/core/observe/metrics_shard.hpp"
#include "pd_proxy/core/scheduling/scheduler.hpp"
#include "pd_proxy/core/scheduling/tried_backends.hpp"
#include "pd_proxy/core/sse/relay_framer.hpp"
#include "pd_proxy/core/time/deadline.hpp"
#include "pd_proxy/net/flow/pd_driver_deps.hpp"
#include "pd_proxy/net/flow/signal_board.hpp"
#include "pd_proxy/net/flow/stop_list.hpp"
#include "pd_proxy/net/net.hpp"
#include "pd_proxy/net/operation_timer.hpp"

namespace pd_proxy {

/// Carries out a flow_machine's actions for one request, then returns its outcome. `deps` must outlive it.
/// `Io` names the transport:
///   Io::clock        a steady clock (deadlines, the record's times);
///   Io::connections  what a stream is made from (the worker's connection_pool);
///   Io::stream       one backend exchange, `stream(connections&, const backend&)`, with open(), status(),
///                    content_type(), read_some(), read_all(), done(), request_sent(), close(), abort() as
///                    backend_stream has them;
///   Io::client       the client's response, with send_whole(), send_error(), start_stream(), write_chunk(),
///                    end_stream() and close_after_response() as client_response has them.
/// Asynchronous actions on different legs run concurrently: one alone is awaited in place (the common
/// two-stage case costs no extra coroutine); when several are in flight each runs as a child coroutine and
/// their completions reach the machine in the order they happen. A leg closed by the machine has its
/// operation aborted and its completion dropped. When the client goes away or the machine is done, every
/// operation still in flight is aborted and awaited before the legs (streams, then reservations) go, so
/// every hold is released on every path. Not thread-safe; lives in its request's coroutine frame.
template <class Io>
class basic_pd_driver final : public abortable {
 public:
  using clock = typename Io::clock;
  using stream_type = typename Io::stream;
  using client_type = typename Io::client;
  using connections_type = typename Io::connections;

  basic_pd_driver(const pd_driver_deps& deps, connections_type& connections, flow_request& request,
                  client_type& response, flow_machine& machine, stop_list& stoppable)
      : deps_(deps),
        config_(*deps.config),
        connections_(connections),
        request_(request),
        response_(response),
        machine_(machine),
        stop_(stoppable, *this) {}

  basic_pd_driver(const basic_pd_driver&) = delete;
  basic_pd_driver& operator=(const basic_pd_driver&) = delete;

  /// Carries out the machine's actions until it is done; returns its outcome.
  net::awaitable<request_outcome> run() { return run_owned(nothing_owned{}); }

  /// As run(), keeping `owner` in the coroutine's frame until it ends, then destroying it: what owns the
  /// driver (and what the driver refers to) can live there, so a request costs one coroutine frame.
  template <class Owner>
  net::awaitable<request_outcome> run_owned(Owner owner) {
    (void)owner;
    co_await net::this_coro::throw_if_cancelled(false);
    executor_ = co_await net::this_coro::executor;
    flow_event event{.what = flow_event::kind::start};
    while (true) {
      const flow_action action = machine_.resume(event);
      if (action.what == flow_action::kind::done) break;
      bool wait = action.what == flow_action::kind::wait;
      if (!wait && is_asynchronous(action.what)) {
        event = start(action);
        wait = action.then_wait && event.what == flow_event::kind::started;
      } else if (!wait) {
        event = execute(action);
      }
      if (!wait) continue;
      if (!has_lone_) {
        event = co_await next_completion();
        continue;
      }
      // A lone operation with nothing else in flight runs here: its stream's I/O is awaited directly.
      has_lone_ = false;
      leg_state& leg = legs_[lone_.leg];
      if (lone_.what == flow_action::kind::send) {
        std::string head;
        stream_type* stream = prepare_send(lone_, event, head);
        if (stream != nullptr) {
          const auto failure =
              co_await stream->open(head, lone_.body->pieces, config_.connect_timeout, lone_.timeout);
          event = sent(lone_, failure);
        }
      } else if (lone_.what == flow_action::kind::read_body && leg.stream) {
        leg.answer.clear();
        const auto failure =
            co_await leg.stream->read_all(leg.answer, config_.max_body_size, body_limit(lone_));
        event = body_read(lone_, failure);
      } else if (lone_.what == flow_action::kind::read_first_byte && leg.stream) {
        const seconds_d left = time_left<clock>(leg.deadline, clock::now());
        const auto [failure, n] = co_await leg.stream->read_some(buffer_.data(), buffer_.size(), left);
        event = first_read(lone_, failure, n);
      } else {
        event = co_await perform(lone_);
      }
    }
    abort_all();
    if (running_ > 0) co_await children_ended();
    release_legs();
    end_signals();
    co_return machine_.outcome();
  }

  /// The drain deadline: every backend operation in flight fails at once (abortable).
  void abort_in_flight() override {
    for (auto& leg : legs_) {
      if (leg.stream) leg.stream->abort();
    }
    if (inbox_) inbox_->wake();
  }

 private:
  struct nothing_owned {};

  // Operations are keyed by slot: a leg's own (0 .. max_legs-1), the client's answer, the back-off timer, the
  // wait for a call-back.
  static constexpr std::size_t client_slot = max_legs;
  static constexpr std::size_t timer_slot = max_legs + 1;
  static constexpr std::size_t signal_slot = max_legs + 2;
  static constexpr std::size_t slot_count = max_legs + 3;

  struct leg_state {
    std::optional<leg_reservation> reservation;
    std::optional<leg_reservation> retired;  // ended while its operation ran, kept until that one ends
    std::optional<stream_type> stream;
    tried_backends tried;  // backends this leg tried (a fresh reserve forgets them)
    backend_role role = backend_role::prefill;
    typename clock::time_point deadline = clock::time_point::max();  // from its last send
    int attempt = 0;
    int attempts = 0;
    std::string answer;       // the answer read whole
    std::string answer_type;  // its Content-Type (for error answers)
  };

  // An asynchronous action and where it is: queued (started for the machine, not yet run), running as a
  // child coroutine, or completed with `event` waiting for the machine.
  struct operation {
    flow_action action;
    flow_event event;
    bool queued = false;
    bool running = false;
    bool completed = false;
    bool dropped = false;  // its leg was closed: the completion is not reported
    net::cancellation_signal signal;
  };

  static std::size_t slot_of(const flow_action& action) {
    using k = flow_action::kind;
    if (action.what == k::answer_error || action.what == k::pass_through) return client_slot;
    if (action.what == k::back_off) return timer_slot;
    if (action.what == k::await_signal) return signal_slot;
    return action.leg;
  }

  //------------------------------------------------------------------------------
  // Multiplexing

  // The table of operations exists once two were queued at once (never in two-stage).
  std::array<operation, slot_count>& ops() {
    if (!ops_) ops_ = std::make_unique<std::array<operation, slot_count>>();
    return *ops_;
  }

  flow_event start(const flow_action& action) {
    if (action.leg >= max_legs) return bug("an operation on no leg");
    if (!ops_ && !has_lone_) {
      lone_ = action;
      has_lone_ = true;
      return {.what = flow_event::kind::started, .leg = action.leg};
    }
    if (has_lone_) {
      has_lone_ = false;
      queue(lone_);
    }
    if (!queue(action)) return bug("an operation on a busy leg");
    return {.what = flow_event::kind::started, .leg = action.leg};
  }

  bool queue(const flow_action& action) {
    operation& op = ops()[slot_of(action)];
    if (op.queued || (op.running && !op.dropped) || op.completed) return false;
    op.action = action;
    op.queued = true;
    ++queued_;
    return true;
  }

  // The next completion for the machine when operations run concurrently: every queued one becomes a child
  // coroutine and the first completion is awaited.
  net::awaitable<flow_event> next_completion() {
    auto& table = ops();
    for (std::size_t slot = 0; slot < slot_count; ++slot) {
      if (table[slot].queued && !table[slot].running) spawn(slot);
    }
    while (ready_count_ == 0) {
      if (running_ == 0) co_return bug("a wait with nothing in flight");
      wake_->expires_at(clock_max());
      co_await wake_->async_wait(use_nothrow);
      if (co_await cancelled()) {
        abort_all();
        co_return flow_event{.what = flow_event::kind::client_gone};
      }
    }
    co_return take_ready();
  }

  void spawn(std::size_t slot) {
    if (!wake_) wake_.emplace(executor_);
    operation& op = (*ops_)[slot];
    op.queued = false;
    op.running = true;
    op.dropped = false;
    --queued_;
    ++running_;
    net::co_spawn(executor_, perform(op.action),
                  net::bind_cancellation_slot(op.signal.slot(),
                                              [this, slot](std::exception_ptr error, flow_event event) {
                                                completed(slot, error, event);
                                              }));
  }

  void completed(std::size_t slot, std::exception_ptr error, flow_event event) {
    operation& op = (*ops_)[slot];
    op.running = false;
    --running_;
    if (op.dropped) {
      if (slot < max_legs) {  // closed while it ran: its connection goes now, then its ended reservation
        legs_[slot].stream.reset();
        legs_[slot].retired.reset();
      }
      if (op.queued) spawn(slot);  // the leg's next operation waited for this one to end
    } else {
      if (error) event = bug("an operation threw");
      op.event = event;
      op.completed = true;
      ready_[ready_count_++] = static_cast<std::uint8_t>(slot);
    }
    if (wake_) wake_->cancel();
  }

  flow_event take_ready() {
    const std::size_t slot = ready_[0];
    for (std::size_t i = 1; i < ready_count_; ++i) ready_[i - 1] = ready_[i];
    --ready_count_;
    (*ops_)[slot].completed = false;
    return (*ops_)[slot].event;
  }

  // Every operation in flight completes with an error at once; their completions are dropped.
  void abort_all() {
    has_lone_ = false;
    if (!ops_) return;
    for (std::size_t slot = 0; slot < slot_count; ++slot) {
      operation& op = (*ops_)[slot];
      op.queued = false;
      if (!op.running) continue;
      op.dropped = true;
      op.signal.emit(net::cancellation_type::terminal);
      if (slot < max_legs && legs_[slot].stream) legs_[slot].stream->abort();
      if (slot == signal_slot && inbox_) inbox_->wake();
    }
    queued_ = 0;
  }

  // Once the machine is done (after abort_all): no child coroutine outlives the driver.
  net::awaitable<void> children_ended() {
    while (running_ > 0) {
      wake_->expires_at(clock_max());
      co_await wake_->async_wait(use_nothrow);
    }
  }

  // Then the legs go, each stream before its reservation.
  void release_legs() {
    for (auto& leg : legs_) {
      leg.stream.reset();
      leg.retired.reset();
      leg.reservation.reset();
    }
  }

  static std::chrono::steady_clock::time_point clock_max() {
    return std::chrono::steady_clock::time_point::max();
  }

  flow_event bug(std::string_view what) {
    spdlog::error("request {}: PD driver: {}", request_.request_id, what);
    return {.what = flow_event::kind::driver_error};
  }

  //------------------------------------------------------------------------------
  // Synchronous actions

  flow_event execute(const flow_action& action) {
    using k = flow_action::kind;
    if (action.what == k::expect_signals) return expect_signals(action);
    if (action.what == k::answer_signals) {
      if (inbox_) inbox_->answer_all(action.status, action.text);
      return {.what = flow_event::kind::done_sync, .leg = action.leg};
    }
    if (action.what == k::forget_signals) {
      forget_signals();
      return {.what = flow_event::kind::done_sync, .leg = action.leg};
    }
    if (action.what == k::check_role) {
      return {.what = flow_event::kind::role_checked,
              .none_usable = deps_.sched.size(action.role) > 0,
              .usable = deps_.sched.any_usable(action.role)};
    }
    if (action.leg >= max_legs) return bug("an action on no leg");
    leg_state& leg = legs_[action.leg];
    if (action.with_report && leg.reservation) leg.reservation->report(action.result);
    switch (action.what) {
      case k::reserve:
        return reserve(action, leg);
      case k::release:
        if (leg.reservation) leg.reservation->release(action.hold);
        break;
      case k::report:
        if (leg.reservation) leg.reservation->report(action.result);
        break;
      case k::close:
        close(action.leg);
        break;
      case k::end_leg:
        close(action.leg);
        if (running(action.leg) && leg.reservation) {
          // Its aborted operation still runs, and its stream refers to the backend the reservation keeps
          // alive: the holds go now, the reservation when the operation has ended.
          leg.reservation->release(leg_hold::all);
          if (!leg.retired) leg.retired = std::move(leg.reservation);
        }
        leg.reservation.reset();
        break;
      default:
        return bug("an unknown action");
    }
    return {.what = flow_event::kind::done_sync, .leg = action.leg};
  }

  // Closes the leg's connection; an operation running on it is aborted and its completion dropped (the
  // stream goes when it has completed).
  void close(leg_id id) {
    leg_state& leg = legs_[id];
    if (has_lone_ && slot_of(lone_) == id) has_lone_ = false;
    if (!ops_) {
      leg.stream.reset();
      return;
    }
    operation& op = (*ops_)[id];
    if (op.queued) {
      op.queued = false;
      --queued_;
    }
    if (op.completed) drop_ready(id);
    if (op.running) {
      op.dropped = true;
      op.signal.emit(net::cancellation_type::terminal);
      if (leg.stream) leg.stream->abort();
      return;
    }
    leg.stream.reset();
  }

  void drop_ready(std::size_t slot) {
    (*ops_)[slot].completed = false;
    std::size_t kept = 0;
    for (std::size_t i = 0; i < ready_count_; ++i) {
      if (ready_[i] != slot) ready_[kept++] = ready_[i];
    }
    ready_count_ = kept;
  }

  flow_event reserve(const flow_action& action, leg_state& leg) {
    if (leg.reservation) return bug("a reserve on a leg that holds a reservation");
    if (action.fresh) leg.tried.clear();
    leg.role = action.role;
    leg.attempt = action.attempt;
    leg.attempts = action.attempts;
    request_context context = request_.context;
    context.tried = leg.tried.view();
    const std::size_t size = request_.body.size();
    const double score = action.role == backend_role::prefill ? prefill_score(size) : decode_score(size);
    leg.reservation = deps_.sched.reserve(action.role, score, context);
    if (!leg.reservation) {
      leg.reservation.reset();
      return {.what = flow_event::kind::no_backend,
              .leg = action.leg,
              .none_usable = deps_.sched.size(action.role) > 0};
    }
    const backend& target = leg.reservation->target();
    leg.tried.add(target.id());
    (action.role == backend_role::prefill ? request_.record.prefiller : request_.record.decoder)
        .assign(target.authority());
    return {.what = flow_event::kind::reserved, .leg = action.leg, .target = &target};
  }

  //------------------------------------------------------------------------------
  // Asynchronous actions: each completes with the event the machine reads

  // Not a coroutine: hands out the action's own coroutine (one frame per operation).
  net::awaitable<flow_event> perform(const flow_action& action) {
    using k = flow_action::kind;
    switch (action.what) {
      case k::send:
        return send(action);
      case k::read_body:
        return read_body(action);
      case k::read_first_byte:
        return read_first_byte(action);
      case k::relay:
        return relay(action);
      case k::back_off:
        return back_off(action);
      case k::answer_error:
      case k::pass_through:
        return answer(action);
      case k::await_signal:
        return await_signal(action);
      default:
        return unknown();
    }
  }

  net::awaitable<flow_event> unknown() { co_return bug("an unknown asynchronous action"); }

  net::awaitable<flow_event> answer(flow_action action) {
    if (action.what == flow_action::kind::pass_through) {
      co_await response_.send_whole(action.status, action.content_type, action.text);
    } else if (action.retry_after) {
      co_await response_.send_error(action.code, action.message, retry_after_header);
    } else {
      co_await response_.send_error(action.code, action.message);
    }
    co_return flow_event{.what = flow_event::kind::client_answered};
  }

  std::string request_head(const backend& target, std::size_t body_size, std::string_view request_id) const {
    // With --forward-client-authorization the client's Authorization (if any) is in backend_headers instead.
    const std::string_view api_key =
        config_.forward_client_authorization ? std::string_view() : std::string_view(config_.backend_api_key);
    return format_backend_request_head({"POST", request_.route, target.authority(),
                                        request_id.empty() ? request_.request_id : request_id, api_key,
                                        body_size, request_.backend_headers});
  }

  // The machine closed the leg while its operation ran (a child coroutine): whatever the operation's result
  // (an aborted connect fails as `transport`, a read may have completed just before), it is not reported,
  // and the leg's reservation may already be gone.
  bool leg_closed(leg_id id) const { return ops_ && (*ops_)[id].running && (*ops_)[id].dropped; }
  // An operation on the leg runs as a child coroutine.
  bool running(leg_id id) const { return ops_ && (*ops_)[id].running; }

  // The end of an operation on a leg that did not succeed or was closed: the client went away, the leg was
  // closed, the drain stopped the request, or the leg failed (logged and counted here).
  flow_event ended(const flow_action& action, const leg_state& leg, backend_failure failure) {
    if (failure == backend_failure::cancelled || leg_closed(action.leg)) {
      return {.what = flow_event::kind::client_gone};
    }
    if (stop_.stopping()) return {.what = flow_event::kind::stopped, .leg = action.leg};
    const backend& target = leg.reservation->target();
    spdlog::warn("request {}: {} attempt {}/{} on {} failed: {}", request_.request_id, to_string(leg.role),
                 leg.attempt, leg.attempts, target.authority(), to_string(failure));
    deps_.shard.backend_error(leg.role, target.authority(), failure_kind(failure));
    request_.record.last_failure = failure;
    return {.what = flow_event::kind::leg_failed,
            .leg = action.leg,
            .failure = failure,
            .request_sent = leg.stream && leg.stream->request_sent()};
  }

  // Each leg operation is a preparation, one awaited I/O call of the stream and a conclusion, so that run()
  // awaits the I/O itself when the operation runs alone, and a child coroutine when several run.

  // Null (and `error` set) when the leg cannot send.
  // `head` is the request head to send (a local of the awaiting coroutine: freed once the send ended).
  stream_type* prepare_send(const flow_action& action, flow_event& error, std::string& head) {
    leg_state& leg = legs_[action.leg];
    if (!leg.reservation || action.body == nullptr) {
      error = bug("a send without a reservation or body");
      return nullptr;
    }
    const backend& target = leg.reservation->target();
    const auto now = clock::now();
    auto& started =
        leg.role == backend_role::prefill ? request_.record.prefill_start : request_.record.decode_start;
    if constexpr (std::is_same_v<clock, std::chrono::steady_clock>) {
      started = now;  // one clock read on sockets
    } else {
      started = std::chrono::steady_clock::now();
    }
    if (leg.role == backend_role::prefill) request_.record.prefill_done = {};
    if (leg.role == backend_role::decode && machine_.local_prefill()) note_local_prefill();
    leg.deadline = deadline_after<clock>(action.timeout, now);
    head = request_head(target, action.body->size(), action.request_id);
    return &leg.stream.emplace(connections_, target);
  }

  flow_event sent(const flow_action& action, backend_failure failure) {
    leg_state& leg = legs_[action.leg];
    if (failure != backend_failure::none || stop_.stopping() || leg_closed(action.leg)) {
      return ended(action, leg, failure);
    }
    return {.what = flow_event::kind::head,
            .leg = action.leg,
            .status = leg.stream->status(),
            .content_type = leg.stream->content_type()};
  }

  net::awaitable<flow_event> send(flow_action action) {
    flow_event error;
    std::string head;
    stream_type* stream = prepare_send(action, error, head);
    if (stream == nullptr) co_return error;
    const auto failure =
        co_await stream->open(head, action.body->pieces, config_.connect_timeout, action.timeout);
    co_return sent(action, failure);
  }

  // The limit of a whole-body read: `timeout` from now, else what is left of the leg's deadline.
  seconds_d body_limit(const flow_action& action) const {
    return action.timeout.count() > 0 ? action.timeout
                                      : time_left<clock>(legs_[action.leg].deadline, clock::now());
  }

  flow_event body_read(const flow_action& action, backend_failure failure) {
    leg_state& leg = legs_[action.leg];
    if (failure != backend_failure::none || stop_.stopping() || leg_closed(action.leg)) {
      return ended(action, leg, failure);
    }
    const int status = leg.stream->status();
    const backend& target = leg.reservation->target();
    if (is_retryable_status(status)) {
      spdlog::warn("request {}: {} attempt {}/{} on {} answered HTTP {}", request_.request_id,
                   to_string(leg.role), leg.attempt, leg.attempts, target.authority(), status);
      deps_.shard.backend_error(leg.role, target.authority(), answer_kind(status));
    }
    leg.answer_type.assign(is_success_status(status) ? std::string_view() : leg.stream->content_type());
    if (leg.role == backend_role::prefill && is_success_status(status)) {
      request_.record.prefill_done = std::chrono::steady_clock::now();
    }
    return {.what = flow_event::kind::body,
            .leg = action.leg,
            .status = status,
            .content_type = leg.answer_type,
            .body = leg.answer};
  }

  net::awaitable<flow_event> read_body(flow_action action) {
    leg_state& leg = legs_[action.leg];
    if (!leg.stream) co_return bug("a read on a leg without a connection");
    leg.answer.clear();
    const auto failure = co_await leg.stream->read_all(leg.answer, config_.max_body_size, body_limit(action));
    co_return body_read(action, failure);
  }

  flow_event first_read(const flow_action& action, backend_failure failure, std::size_t n) {
    failure = first_read_failure(failure, n);
    if (failure != backend_failure::none || stop_.stopping() || leg_closed(action.leg)) {
      return ended(action, legs_[action.leg], failure);
    }
    first_leg_ = action.leg;
    first_ = n;
    return {.what = flow_event::kind::first_byte, .leg = action.leg};
  }

  net::awaitable<flow_event> read_first_byte(flow_action action) {
    leg_state& leg = legs_[action.leg];
    if (!leg.stream) co_return bug("a read on a leg without a connection");
    const seconds_d left = time_left<clock>(leg.deadline, clock::now());
    const auto [failure, n] = co_await leg.stream->read_some(buffer_.data(), buffer_.size(), left);
    co_return first_read(action, failure, n);
  }

  void note_local_prefill() {
    if (request_.record.local_prefill) return;
    request_.record.local_prefill = true;
    deps_.counters.local_prefills.fetch_add(1, std::memory_order_relaxed);
    spdlog::warn("request {}: prefiller {} returned no kv_transfer_params; the decoder will prefill locally",
                 request_.request_id, request_.record.prefiller);
  }

  net::awaitable<flow_event> back_off(flow_action action) {
    const bool prefill = action.role == backend_role::prefill;
    (prefill ? deps_.counters.prefill_retries : deps_.counters.decode_retries)
        .fetch_add(1, std::memory_order_relaxed);
    ++(prefill ? request_.record.prefill_retries : request_.record.decode_retries);
    const bool slept = co_await stop_.sleep_for(action.timeout);
    if (stop_.stopping()) co_return flow_event{.what = flow_event::kind::stopped};
    if (!slept) co_return flow_event{.what = flow_event::kind::client_gone};
    co_return flow_event{.what = flow_event::kind::backoff_done, .leg = action.leg};
  }

  // Relays the leg's body to the client; its first piece is in buffer_[0, first_).
  net::awaitable<flow_event> relay(flow_action action) {
    leg_state& leg = legs_[action.leg];
    if (!leg.stream || first_leg_ != action.leg) co_return bug("a relay of a leg whose body did not begin");
    if (action.keep_request) {
      request_.keep_for_continuation();
    } else {
      // No retry can need the prompt any more, nor the answers read whole; but a send still in flight on
      // another leg writes views of it (two legs sent at once): then it goes with the request.
      if (!sending_elsewhere(action.leg)) request_.release_prompt();
      for (std::size_t i = 0; i < max_legs; ++i) {
        if (!running(static_cast<leg_id>(i))) legs_[i].answer = {};
      }
    }
    auto& stream = *leg.stream;
    const bool sse = request_.body.stream();
    relay_framer framer(sse);
    if (action.rewrite) framer.set_rewrite(*action.rewrite);
    response_.start_stream(200, sse ? "text/event-stream; charset=utf-8" : "application/json");
    std::size_t n = first_;
    while (true) {
      const std::string_view piece(buffer_.data(), n);
      if (request_.keeps_prompt()) request_.keep_generated(piece);
      const auto plan = framer.feed(piece, stream.done());
      if (!plan.idle()) {
        // Done, or the client is gone or stalled past the write timeout.
        if (co_await response_.write_chunk(plan.first, plan.second, plan.last)) {
          co_return flow_event{.what = flow_event::kind::client_gone};
        }
        framer.written();
        written_to_client(sse);
      }
      if (plan.last) co_return flow_event{.what = flow_event::kind::relay_ended, .leg = action.leg};

      auto [failure, got] = co_await stream.read_some(buffer_.data(), buffer_.size(), action.timeout);
      if (failure == backend_failure::cancelled || leg_closed(action.leg)) {
        co_return flow_event{.what = flow_event::kind::client_gone};
      }
      if (failure != backend_failure::none)
        co_return co_await end_after_failure(action, leg, framer, failure);
      n = got;
    }
  }

  // A send on a leg other than `id` is queued or running (never in two-stage: no table exists).
  bool sending_elsewhere(leg_id id) const {
    if (!ops_) return false;
    for (std::size_t slot = 0; slot < max_legs; ++slot) {
      const operation& op = (*ops_)[slot];
      if (slot != id && (op.queued || (op.running && !op.dropped)) &&
          op.action.what == flow_action::kind::send)
        return true;
    }
    return false;
  }

  // A relayed piece reached the client: the first is the request's first token; for streams the time since
  // the previous write is an inter-token latency.
  void written_to_client(bool sse) {
    const auto now = std::chrono::steady_clock::now();
    if (!request_record::reached(request_.record.first_byte)) {
      request_.record.first_byte = now;
    } else if (sse) {
      deps_.shard.itl.observe(std::chrono::duration<double>(now - last_write_).count());
    }
    last_write_ = now;
  }

  net::awaitable<flow_event> end_after_failure(const flow_action& action, const leg_state& leg,
                                               const relay_framer& framer, backend_failure failure) {
    const bool stopping = stop_.stopping();
    if (!stopping) {
      deps_.counters.midstream_failures.fetch_add(1, std::memory_order_relaxed);
      deps_.shard.backend_error(leg.role, leg.reservation->target().authority(), failure_kind(failure));
      request_.record.last_failure = failure;
      spdlog::warn("request {}: {} stream failed after the first byte: {}", request_.request_id,
                   to_string(leg.role), to_string(failure));
    }
    const flow_event ended{
        .what = flow_event::kind::relay_ended, .leg = action.leg, .failure = failure, .stopping = stopping};
    response_.close_after_response();
    if (!framer.stream()) {
      co_await response_.end_stream(/*complete=*/false);
      co_return ended;
    }
    const auto error = midstream_error(stopping, failure);
    const std::string event = sse_error_event(error.code, error.message);
    const std::string tail = framer.failure_tail(event);
    // Not `!tail.empty() && co_await ...`: GCC 12 can miscompile a coroutine frame with a co_await inside &&.
    if (!tail.empty()) {
      if (co_await response_.write_chunk(tail)) co_return ended;
    }
    co_await response_.end_stream(/*complete=*/true);
    co_return ended;
  }

  //------------------------------------------------------------------------------
  // Call-backs (expect_signals): only a machine that registers keys makes the inbox

  flow_event expect_signals(const flow_action& action) {
    if (deps_.signals == nullptr) return bug("expect_signals without a call-back table");
    if (!inbox_) inbox_ = std::make_shared<signal_inbox>(executor_);
    forget_signals();
    const auto now = std::chrono::steady_clock::now();
    const auto deadline =
        action.timeout.count() > 0
            ? now + std::chrono::duration_cast<std::chrono::steady_clock::duration>(action.timeout)
            : std::chrono::steady_clock::time_point::max();
    const std::uint32_t generation = inbox_->renew(deadline);
    signal_keys_.assign(action.keys.begin(), action.keys.end());
    const auto added = deps_.signals->table().add(signal_keys_, signal_owner{inbox_, generation});
    if (added != signal_table<signal_owner>::add_result::added) {
      spdlog::warn("request {}: {} call-back ids refused ({})", request_.request_id, signal_keys_.size(),
                   added == signal_table<signal_owner>::add_result::full ? "the table is full"
                                                                         : "an id is pending already");
      signal_keys_.clear();
      return {.what = flow_event::kind::signals_refused, .leg = action.leg};
    }
    spdlog::debug("request {}: awaiting call-backs for {} ids, first {}", request_.request_id,
                  signal_keys_.size(), signal_keys_.empty() ? std::string() : signal_keys_.front());
    return {.what = flow_event::kind::done_sync, .leg = action.leg};
  }

  // The keys that did not call back leave the table: a late call-back on them finds nothing.
  void forget_signals() {
    if (inbox_ && !signal_keys_.empty()) {
      deps_.signals->table().remove(signal_keys_, signal_owner{inbox_, inbox_->generation()});
    }
    signal_keys_.clear();
  }

  // The request ended: its keys are forgotten and every call-back still waiting is answered.
  void end_signals() {
    if (!inbox_) return;
    forget_signals();
    inbox_->close(R"({"detail":"the request ended before its prefill completed"})");
    inbox_.reset();
  }

  net::awaitable<flow_event> await_signal(flow_action action) {
    if (!inbox_) co_return bug("an await_signal without expect_signals");
    while (inbox_->empty()) {
      if (stop_.stopping()) co_return flow_event{.what = flow_event::kind::stopped, .leg = action.leg};
      if (std::chrono::steady_clock::now() >= inbox_->deadline()) {
        co_return flow_event{.what = flow_event::kind::signal_timeout, .leg = action.leg};
      }
      co_await inbox_->wait();
      if (co_await cancelled()) co_return flow_event{.what = flow_event::kind::client_gone};
    }
    auto arrived = inbox_->pop();
    signal_body_ = std::move(arrived.body);
    co_return flow_event{
        .what = flow_event::kind::signal, .leg = action.leg, .key = arrived.index, .body = signal_body_};
  }

  const pd_driver_deps& deps_;
  const proxy_config& config_;  // the request's snapshot, kept alive by deps_.config
  connections_type& connections_;
  flow_request& request_;
  client_type& response_;
  flow_machine& machine_;
  stoppable_request stop_;
  net::any_io_executor executor_;
  std::array<leg_state, max_legs> legs_;
  flow_action lone_;  // the one operation started, while no table exists (has_lone_)
  bool has_lone_ = false;
  std::unique_ptr<std::array<operation, slot_count>> ops_;  // see ops()
  std::array<std::uint8_t, slot_count> ready_{};            // completed operations' slots, oldest first
  std::size_t ready_count_ = 0;
  std::size_t queued_ = 0;
  std::size_t running_ = 0;
  std::optional<net::steady_timer> wake_;  // woken by every completion of a child coroutine
  std::array<char, 8 * 1024> buffer_;      // relay reads; the first piece of the body that began
  std::size_t first_ = 0;
  leg_id first_leg_ = max_legs;
  std::chrono::steady_clock::time_point last_write_{};  // the relay's last write to the client
  std::shared_ptr<signal_inbox> inbox_;                 // see expect_signals (never in two-stage)
  std::vector<std::string> signal_keys_;                // the keys registered now
  std::string signal_body_;                             // the body of the last `signal` event
};

}  // namespace pd_proxy
