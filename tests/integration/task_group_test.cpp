// task_group: it counts the coroutines spawned with its token, emit() cancels them, async_wait() completes
// when the last one ended (an exception or a destroyed frame included); and through the real server, the
// drain's last step closes an idle keep-alive client connection cleanly.
#include "pd_proxy/net/client/task_group.hpp"

#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <optional>
#include <stdexcept>
#include <vector>

#include "proxy_fixture.hpp"

namespace pd_proxy::test {
namespace {

using namespace std::chrono_literals;

// Waits on `timer` (which expires never unless the test says so); records how the wait ended.
net::awaitable<void> wait_on(net::steady_timer& timer, std::optional<error_code>& outcome) {
  co_await net::this_coro::throw_if_cancelled(false);
  auto [ec] = co_await timer.async_wait(use_nothrow);
  outcome = ec;
}

net::awaitable<void> wait_then_throw(net::steady_timer& timer) {
  co_await net::this_coro::throw_if_cancelled(false);
  co_await timer.async_wait(use_nothrow);
  throw std::runtime_error("member failed");
}

// A group whose members run on `io`; the group is declared first so that it outlives `io`.
class task_groups : public ::testing::Test {
 protected:
  net::steady_timer& new_timer() {
    timers.push_back(std::make_unique<net::steady_timer>(io, std::chrono::steady_clock::time_point::max()));
    return *timers.back();
  }

  // Starts a member waiting on a new timer; returns the timer.
  net::steady_timer& spawn_waiting(std::optional<error_code>& outcome) {
    auto& timer = new_timer();
    net::co_spawn(io, wait_on(timer, outcome), group.adapt([this](std::exception_ptr e) {
      if (e) ++failures;
    }));
    return timer;
  }

  // Starts a coroutine that awaits the group with `limit`; its result lands in `emptied`.
  void spawn_waiter(std::optional<bool>& emptied, seconds_d limit = seconds_d{0}) {
    net::co_spawn(io, group.async_wait(limit), [&emptied](std::exception_ptr e, bool result) {
      if (e) std::rethrow_exception(e);
      emptied = result;
    });
  }

  task_group group;
  net::io_context io;
  std::vector<std::unique_ptr<net::steady_timer>> timers;
  int failures = 0;
};

TEST_F(task_groups, counts_its_members_until_they_complete) {
  std::array<std::optional<error_code>, 3> outcomes;
  for (auto& outcome : outcomes) spawn_waiting(outcome);
  EXPECT_EQ(group.size(), 3u);
  io.poll();
  EXPECT_EQ(group.size(), 3u);
  timers[1]->cancel();
  io.poll();
  EXPECT_EQ(group.size(), 2u);
  ASSERT_TRUE(outcomes[1].has_value());
  EXPECT_EQ(*outcomes[1], net::error::operation_aborted);
  EXPECT_FALSE(outcomes[0].has_value());
  EXPECT_FALSE(outcomes[2].has_value());
}

TEST_F(task_groups, emit_cancels_every_waiting_member) {
  std::array<std::optional<error_code>, 3> outcomes;
  for (auto& outcome : outcomes) spawn_waiting(outcome);
  io.poll();
  group.emit(net::cancellation_type::terminal);
  io.poll();
  EXPECT_EQ(group.size(), 0u);
  for (const auto& outcome : outcomes) {
    ASSERT_TRUE(outcome.has_value());
    EXPECT_EQ(*outcome, net::error::operation_aborted);
  }
  EXPECT_EQ(failures, 0);
}

TEST_F(task_groups, a_wait_completes_when_the_last_member_finishes) {
  std::array<std::optional<error_code>, 3> outcomes;
  for (auto& outcome : outcomes) spawn_waiting(outcome);
  std::optional<bool> emptied;
  spawn_waiter(emptied);
  io.poll();
  for (std::size_t i = 0; i < outcomes.size(); ++i) {
    EXPECT_FALSE(emptied.has_value()) << "before member " << i << " finished";
    timers[i]->cancel();
    io.poll();
    EXPECT_EQ(group.size(), outcomes.size() - i - 1);
  }
  ASSERT_TRUE(emptied.has_value());
  EXPECT_TRUE(*emptied);
}

TEST_F(task_groups, a_wait_on_an_empty_group_completes_at_once) {
  std::optional<bool> emptied;
  spawn_waiter(emptied);
  io.poll();
  ASSERT_TRUE(emptied.has_value());
  EXPECT_TRUE(*emptied);
}

TEST_F(task_groups, a_wait_with_a_limit_ends_false_while_a_member_stays) {
  std::optional<error_code> outcome;
  spawn_waiting(outcome);
  std::optional<bool> emptied;
  spawn_waiter(emptied, seconds_d{0.01});
  for (int i = 0; i < 1000 && !emptied; ++i) io.run_one_for(10ms);  // the member's wait never ends by itself
  ASSERT_TRUE(emptied.has_value());
  EXPECT_FALSE(*emptied);
  EXPECT_EQ(group.size(), 1u);
}

TEST_F(task_groups, a_member_that_throws_is_removed_and_its_exception_reaches_the_handler) {
  auto& timer = new_timer();
  net::co_spawn(io, wait_then_throw(timer), group.adapt([this](std::exception_ptr e) {
    if (e) ++failures;
  }));
  std::optional<bool> emptied;
  spawn_waiter(emptied);
  io.poll();
  EXPECT_EQ(group.size(), 1u);
  timer.cancel();
  io.poll();
  EXPECT_EQ(failures, 1);
  EXPECT_EQ(group.size(), 0u);
  ASSERT_TRUE(emptied.has_value());
  EXPECT_TRUE(*emptied);
}

TEST(task_group_lifetime, a_member_destroyed_suspended_with_its_io_context_leaves_the_group) {
  task_group group;
  bool handler_ran = false;
  {
    std::optional<error_code> outcome;
    net::io_context io;
    net::steady_timer timer(io, std::chrono::steady_clock::time_point::max());
    net::co_spawn(io, wait_on(timer, outcome), group.adapt([&](std::exception_ptr) { handler_ran = true; }));
    io.poll();
    EXPECT_EQ(group.size(), 1u);
  }  // the io_context is destroyed with the member suspended
  EXPECT_EQ(group.size(), 0u);
  EXPECT_FALSE(handler_ran);
}

// Through the real server: the drain's last step cancels a connection that waits for its next request.
TEST(task_group_server, an_idle_keep_alive_connection_is_closed_cleanly_by_the_drain) {
  cluster c({{fast_engines(1)}}, {{fast_engines(1)}});
  net::io_context io;
  tcp::socket client(io);
  client.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), c.port()));
  http::request<http::string_body> req{http::verb::get, "/health", 11};
  req.set(http::field::host, "127.0.0.1");
  http::write(client, req);
  beast::flat_buffer buffer;
  http::response<http::string_body> res;
  http::read(client, buffer, res);
  ASSERT_EQ(res.result_int(), 200);
  ASSERT_TRUE(res.keep_alive());
  EXPECT_EQ(c.state().client_connections.load(), 1u);

  const auto start = std::chrono::steady_clock::now();
  c.proxy().stop(seconds_d{60});
  const auto took = std::chrono::steady_clock::now() - start;
  // An idle connection is no request in flight: the drain does not wait its 60 s for it (a generous bound,
  // not a timing measurement).
  EXPECT_LT(took, 30s);
  EXPECT_EQ(c.state().client_connections.load(), 0u);
  char byte = 0;
  error_code ec;
  client.read_some(net::buffer(&byte, 1), ec);
  EXPECT_EQ(ec, net::error::eof) << ec.message();
}

}  // namespace
}  // namespace pd_proxy::test
