// basic_pd_driver with two legs in flight at once, under a test-only protocol (no real protocol opens two
// yet): completions reach the machine in the order they happen with their leg, a leg the machine ends is
// cancelled and never reported, and the client leaving aborts and awaits both.
#include <gtest/gtest.h>

#include <deque>
#include <string>
#include <utility>
#include <vector>

#include "driver_harness.hpp"

namespace pd_proxy::fake {
namespace {

using ev = flow_event::kind;
using act = flow_action::kind;
using seen_event = std::pair<ev, leg_id>;

// Reserves leg 0 on a prefiller and leg 1 on a decoder, sends both, then waits. Once both answered their
// head, the client gets 200 "both". A failed leg ends the other one (cancelling its operation), then itself,
// and answers 502; but with `restart_leg_0`, leg 1's failure ends leg 0 and opens it again on another
// prefiller (its new send waits for the aborted one to end), and leg 0's new head answers 200 "both".
class two_legs final : public flow_machine {
 public:
  std::vector<seen_event> seen;  // every event but done_sync and started
  bool restart_leg_0 = false;

  flow_action resume(const flow_event& event) override {
    if (event.what != ev::done_sync && event.what != ev::started) seen.emplace_back(event.what, event.leg);
    if (done_) return {};
    switch (event.what) {
      case ev::start:
        plan_.push_back(reserve(0, backend_role::prefill));
        plan_.push_back(reserve(1, backend_role::decode));
        plan_.push_back(send(0));
        plan_.push_back(send(1));
        break;
      case ev::done_sync:
      case ev::started:
      case ev::reserved:
        break;
      case ev::head:
        if (++heads_ == 2) {
          plan_.push_back({.what = act::end_leg, .leg = 0});
          plan_.push_back({.what = act::end_leg, .leg = 1});
          plan_.push_back(
              {.what = act::pass_through, .status = 200, .content_type = "text/plain", .text = "both"});
          outcome_ = request_outcome::ok;
        }
        break;
      case ev::leg_failed:
        if (restart_leg_0 && event.leg == 1) {
          restart_leg_0 = false;
          ++heads_;  // leg 1 is over
          plan_.push_back({.what = act::end_leg, .leg = 0});
          plan_.push_back({.what = act::end_leg, .leg = 1});
          plan_.push_back(
              {.what = act::reserve, .leg = 0, .role = backend_role::prefill, .attempt = 2, .attempts = 2});
          plan_.push_back(send(0));
          break;
        }
        plan_.push_back({.what = act::end_leg, .leg = static_cast<leg_id>(1 - event.leg)});
        plan_.push_back({.what = act::end_leg, .leg = event.leg});
        plan_.push_back({.what = act::answer_error, .code = errc::backend_failed, .message = "a leg failed"});
        outcome_ = request_outcome::backend_error;
        break;
      case ev::client_answered:
        return finish(outcome_);
      case ev::client_gone:
        return finish(request_outcome::client_abort);
      default:  // unexpected here
        return finish(request_outcome::backend_error);
    }
    if (plan_.empty()) return {.what = act::wait};
    const flow_action next = plan_.front();
    plan_.pop_front();
    return next;
  }

  request_outcome outcome() const override { return outcome_; }

 private:
  static flow_action reserve(leg_id leg, backend_role role) {
    return {.what = act::reserve, .leg = leg, .role = role, .fresh = true, .attempt = 1, .attempts = 1};
  }
  flow_action send(leg_id leg) const {
    return {.what = act::send, .leg = leg, .timeout = seconds_d{4}, .body = &bodies_[leg]};
  }
  flow_action finish(request_outcome outcome) {
    done_ = true;
    outcome_ = outcome;
    return {};
  }

  std::array<spliced_body, 2> bodies_{spliced_body{{R"({"leg":0})"}}, spliced_body{{R"({"leg":1})"}}};
  std::deque<flow_action> plan_;
  int heads_ = 0;
  bool done_ = false;
  request_outcome outcome_ = request_outcome::ok;
};

struct two_legs_run {
  explicit two_legs_run(std::size_t prefillers = 1) : h(prefillers, 1) {}

  driver_harness h;
  two_legs machine;
  std::shared_ptr<exchange> leg0 = h.scripted.script(h.prefiller(0), {.held = true});
  std::shared_ptr<exchange> leg1 = h.scripted.script(h.decoder(0), {.held = true});

  // Starts the run: both legs are sent and wait for the test.
  void start() {
    h.start(machine);
    h.poll();
    ASSERT_TRUE(leg0->waiting());
    ASSERT_TRUE(leg1->waiting());
    EXPECT_EQ(leg0->sent, R"({"leg":0})");
    EXPECT_EQ(leg1->sent, R"({"leg":1})");
    EXPECT_GT(h.sched.load(*h.prefillers[0]).inflight, 0u);
    EXPECT_GT(h.sched.load(*h.decoders[0]).inflight, 0u);
    EXPECT_EQ(machine.seen, (std::vector<seen_event>{{ev::start, 0}, {ev::reserved, 0}, {ev::reserved, 1}}));
  }
  exchange& leg(leg_id id) { return id == 0 ? *leg0 : *leg1; }
  // What the machine saw after start().
  std::vector<seen_event> seen_after_sends() const {
    return {machine.seen.begin() + std::min<std::ptrdiff_t>(3, std::ssize(machine.seen)), machine.seen.end()};
  }
  // Both legs' streams and reservations are gone and no coroutine is left.
  void expect_clean() {
    EXPECT_TRUE(leg0->destroyed);
    EXPECT_TRUE(leg1->destroyed);
    h.expect_idle();
    EXPECT_TRUE(h.no_work_left());
  }
};

// Lets leg `first` answer its head, then leg `second`: the machine sees each completion as it happens.
void answer_in_order(leg_id first, leg_id second) {
  two_legs_run run;
  run.start();
  run.leg(first).allow();
  run.h.poll();
  EXPECT_EQ(run.seen_after_sends(), (std::vector<seen_event>{{ev::head, first}}));
  EXPECT_FALSE(run.h.outcome);
  run.leg(second).allow();
  run.h.poll();
  ASSERT_EQ(run.h.outcome, request_outcome::ok);
  EXPECT_EQ(run.seen_after_sends(),
            (std::vector<seen_event>{{ev::head, first}, {ev::head, second}, {ev::client_answered, 0}}));
  EXPECT_EQ(run.h.response.body, "both");
  EXPECT_EQ(run.leg0->aborts + run.leg1->aborts, 0);
  run.expect_clean();
}

TEST(pd_driver_concurrency, reports_both_completions_leg_1_first) {
  answer_in_order(1, 0);
}

TEST(pd_driver_concurrency, reports_both_completions_leg_0_first) {
  answer_in_order(0, 1);
}

TEST(pd_driver_concurrency, reports_completions_that_happen_together_each_once) {
  two_legs_run run;
  run.start();
  run.leg0->allow();
  run.leg1->allow();
  run.h.poll();
  ASSERT_EQ(run.h.outcome, request_outcome::ok);
  const auto seen = run.seen_after_sends();
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[0].first, ev::head);
  EXPECT_EQ(seen[1].first, ev::head);
  EXPECT_NE(seen[0].second, seen[1].second);
  EXPECT_EQ(run.h.response.body, "both");
  run.expect_clean();
}

// Leg 1's open fails with `failure` while leg 0's is in flight, and the machine ends leg 0: leg 0's stream is
// aborted (its operation then completes with `abort_failure`; none: as backend_stream's reads, `cancelled`),
// its completion never reaches the machine nor counts against its backend, and the client gets the error.
void fail_leg_1_during_leg_0(backend_failure failure, backend_failure abort_failure) {
  two_legs_run run;
  run.leg0->abort_failure = abort_failure;
  run.leg1->open_failure = failure;
  run.leg1->sent_before_failure = true;
  run.start();
  run.leg1->allow();
  run.h.poll();

  ASSERT_EQ(run.h.outcome, request_outcome::backend_error);
  EXPECT_EQ(run.leg0->aborts, 1);
  EXPECT_EQ(run.seen_after_sends(), (std::vector<seen_event>{{ev::leg_failed, 1}, {ev::client_answered, 0}}));
  EXPECT_TRUE(run.h.response.error_sent);
  EXPECT_EQ(run.h.response.code, errc::backend_failed);
  EXPECT_EQ(run.h.response.message, "a leg failed");
  EXPECT_EQ(run.h.backend_errors(*run.h.decoders[0]), 1u);
  EXPECT_EQ(run.h.backend_errors(*run.h.prefillers[0]), 0u);  // cancelled, not failed
  EXPECT_EQ(run.h.record().last_failure, failure);
  run.expect_clean();
}

TEST(pd_driver_concurrency, a_failed_leg_cancels_the_other_which_is_never_reported) {
  fail_leg_1_during_leg_0(backend_failure::transport, backend_failure::none);
}

// backend_stream's open, aborted while connecting, fails as `transport` although its coroutine was cancelled
// (before the fix, the driver counted it against the prefiller and read the leg's released reservation).
TEST(pd_driver_concurrency, a_cancelled_leg_whose_stream_fails_otherwise_is_not_counted) {
  fail_leg_1_during_leg_0(backend_failure::connect, backend_failure::transport);
}

// Leg 0 answered too, but after leg 1's failure: its completion waits for the machine, which ends leg 0
// first. The completion is dropped unreported.
TEST(pd_driver_concurrency, a_completion_not_yet_reported_is_dropped_when_its_leg_ends) {
  two_legs_run run;
  run.leg1->open_failure = backend_failure::transport;
  run.start();
  run.leg1->allow();
  run.leg0->allow();
  run.h.poll();

  ASSERT_EQ(run.h.outcome, request_outcome::backend_error);
  EXPECT_EQ(run.leg0->aborts, 0);  // it had completed
  EXPECT_EQ(run.seen_after_sends(), (std::vector<seen_event>{{ev::leg_failed, 1}, {ev::client_answered, 0}}));
  EXPECT_EQ(run.h.response.code, errc::backend_failed);
  run.expect_clean();
}

// The machine ends leg 0 and at once opens it again elsewhere: the new send runs once the aborted one has
// ended, and only its completion is reported.
TEST(pd_driver_concurrency, a_leg_opened_again_runs_after_its_cancelled_operation_ended) {
  two_legs_run run(2);
  run.machine.restart_leg_0 = true;
  run.leg1->open_failure = backend_failure::connect;
  auto again = run.h.scripted.script(run.h.prefiller(1), {.held = true});
  run.start();
  run.leg1->allow();
  run.h.poll();

  EXPECT_EQ(run.leg0->aborts, 1);
  EXPECT_TRUE(run.leg0->destroyed);
  ASSERT_TRUE(again->waiting());
  EXPECT_EQ(again->sent, R"({"leg":0})");
  expect_no_load(run.h.sched, *run.h.prefillers[0]);  // the ended leg's reservation is gone
  EXPECT_GT(run.h.sched.load(*run.h.prefillers[1]).inflight, 0u);
  again->allow();
  run.h.poll();
  ASSERT_EQ(run.h.outcome, request_outcome::ok);
  EXPECT_EQ(run.seen_after_sends(),
            (std::vector<seen_event>{
                {ev::leg_failed, 1}, {ev::reserved, 0}, {ev::head, 0}, {ev::client_answered, 0}}));
  EXPECT_EQ(run.h.backend_errors(*run.h.prefillers[0]), 0u);
  EXPECT_TRUE(again->destroyed);
  run.expect_clean();
}

TEST(pd_driver_concurrency, a_client_gone_aborts_and_awaits_both_legs) {
  two_legs_run run;
  run.start();
  run.h.client_leaves.emit(net::cancellation_type::terminal);
  run.h.poll();

  ASSERT_EQ(run.h.outcome, request_outcome::client_abort);
  EXPECT_GE(run.leg0->aborts, 1);
  EXPECT_GE(run.leg1->aborts, 1);
  EXPECT_EQ(run.machine.seen.back(), (seen_event{ev::client_gone, 0}));
  EXPECT_FALSE(run.h.response.ended);
  EXPECT_EQ(run.h.backend_errors(*run.h.prefillers[0]), 0u);
  EXPECT_EQ(run.h.backend_errors(*run.h.decoders[0]), 0u);
  run.expect_clean();
}

TEST(pd_driver_concurrency, the_drain_stops_both_legs) {
  two_legs_run run;
  run.start();
  run.h.stops.stop_all();
  run.h.poll();

  // Both operations end `stopped`; the test machine takes the first as unexpected and ends the request.
  ASSERT_TRUE(run.h.outcome);
  EXPECT_EQ(run.leg0->aborts, 1);
  EXPECT_EQ(run.leg1->aborts, 1);
  ASSERT_FALSE(run.seen_after_sends().empty());
  EXPECT_EQ(run.seen_after_sends()[0].first, ev::stopped);
  run.expect_clean();
}

}  // namespace
}  // namespace pd_proxy::fake
