// timed(), operation_timer and write_all on a real loopback connection: a read that gets no data times out,
// one that gets data in time does not, a shorter limit after a longer one still fires, a cancelled
// coroutine's operation is aborted, not timed out, and a write larger than the socket takes is finished
// asynchronously, or times out when the peer does not read.
#include <gtest/gtest.h>

#include <array>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <chrono>
#include <string>
#include <tuple>

#include "pd_proxy/net/operation_timer.hpp"
#include "pd_proxy/net/write_all.hpp"

namespace pd_proxy {
namespace {

using namespace std::chrono_literals;
using namespace boost::asio::experimental::awaitable_operators;

// A connected pair of loopback sockets, `reader` and `writer`, and a coroutine runner.
class timeouts : public ::testing::Test {
 protected:
  timeouts() : reader(io), writer(io) {
    tcp::acceptor acceptor(io, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
    reader.connect(acceptor.local_endpoint());
    writer = acceptor.accept();
  }

  // Runs `body` as a coroutine for at most 10 s; fails the test when it does not finish.
  template <class Body>
  void run(Body body) {
    bool finished = false;
    net::co_spawn(io, body(), [&](std::exception_ptr e) {
      finished = true;
      if (e) std::rethrow_exception(e);
    });
    io.run_for(10s);
    ASSERT_TRUE(finished) << "the coroutine did not finish within 10 s";
  }

  void send(char value) { net::write(writer, net::buffer(&value, 1)); }

  // The initiating function of a one-byte read into `byte`.
  auto read_one() {
    return [this](auto token) { return reader.async_read_some(net::buffer(&byte, 1), token); };
  }

  net::io_context io;
  tcp::socket reader, writer;
  char byte = 0;
};

TEST_F(timeouts, operation_timer_reads_in_time_then_times_out_when_nothing_comes) {
  run([&]() -> net::awaitable<void> {
    operation_timer timer;
    for (char expected : {'x', 'y', 'z'}) {
      send(expected);
      auto [ec, n] = co_await timer.run(read_one(), seconds_d(30));
      EXPECT_FALSE(ec) << ec.message();
      EXPECT_EQ(byte, expected);
    }
    auto [ec, n] = co_await timer.run(read_one(), seconds_d(0.05));
    EXPECT_EQ(ec, beast::error::timeout);
    send('w');  // the timer is reusable after it fired
    auto [ec2, n2] = co_await timer.run(read_one(), seconds_d(30));
    EXPECT_FALSE(ec2) << ec2.message();
    EXPECT_EQ(byte, 'w');
  });
}

TEST_F(timeouts, operation_timer_fires_on_time_for_a_shorter_limit_after_a_longer_one) {
  run([&]() -> net::awaitable<void> {
    operation_timer timer;
    send('1');
    co_await timer.run(read_one(), seconds_d(3600));  // leaves a wait pending for an hour
    auto [ec, n] = co_await timer.run(read_one(), seconds_d(0.05));
    EXPECT_EQ(ec, beast::error::timeout);
  });
}

TEST_F(timeouts, zero_limit_waits_for_the_operation_alone) {
  run([&]() -> net::awaitable<void> {
    operation_timer timer;
    send('1');
    auto [ec, n] = co_await timer.run(read_one(), seconds_d(0));
    EXPECT_FALSE(ec);
    EXPECT_EQ(byte, '1');
  });
}

TEST_F(timeouts, outer_cancellation_aborts_the_operation) {
  run([&]() -> net::awaitable<void> {
    operation_timer timer;
    error_code read_ec;
    auto read = [&]() -> net::awaitable<void> {
      auto [ec, n] = co_await timer.run(read_one(), seconds_d(30));
      read_ec = ec;
    };
    net::steady_timer soon(io, 10ms);
    co_await (read() || soon.async_wait(net::use_awaitable));  // the timer ends first and cancels the read
    EXPECT_EQ(read_ec, net::error::operation_aborted);
  });
}

TEST_F(timeouts, timed_times_out_and_passes_results_through) {
  run([&]() -> net::awaitable<void> {
    auto [ec, n] = co_await timed(read_one(), seconds_d(0.05));
    EXPECT_EQ(ec, beast::error::timeout);
    send('1');
    auto [ec2, n2] = co_await timed(read_one(), seconds_d(30));
    EXPECT_FALSE(ec2);
    EXPECT_EQ(n2, 1u);
  });
}

TEST_F(timeouts, write_all_finishes_a_large_write_the_peer_reads) {
  const std::string message(8 << 20, 'm');  // far more than a socket buffer takes at once
  std::string received;
  run([&]() -> net::awaitable<void> {
    operation_timer timer;
    auto drain = [&]() -> net::awaitable<void> {
      std::array<char, 65536> chunk;
      while (received.size() < message.size()) {
        auto [ec, n] = co_await writer.async_read_some(net::buffer(chunk), use_nothrow);
        if (ec) co_return;
        received.append(chunk.data(), n);
      }
    };
    std::tuple<error_code, std::size_t> result;
    auto write = [&]() -> net::awaitable<void> {
      result = co_await write_all(reader, net::buffer(message), timer, seconds_d(30));
    };
    co_await (write() && drain());
    EXPECT_FALSE(std::get<0>(result)) << std::get<0>(result).message();
    EXPECT_EQ(std::get<1>(result), message.size());
  });
  EXPECT_EQ(received, message);
}

TEST_F(timeouts, write_all_times_out_when_the_peer_does_not_read) {
  const std::string message(8 << 20, 'm');
  run([&]() -> net::awaitable<void> {
    operation_timer timer;
    auto [ec, n] =
        co_await write_all(reader, net::buffer(message), timer, std::chrono::steady_clock::now() + 50ms);
    EXPECT_EQ(ec, beast::error::timeout);
    EXPECT_GT(n, 0u);  // the inline attempt took what fit
    EXPECT_LT(n, message.size());
  });
}

}  // namespace
}  // namespace pd_proxy
