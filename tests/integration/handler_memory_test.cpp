// handler_memory: one block for an object's pending operation, reused by each operation started from the last
// one's handler, with operator new only for what does not fit or comes while the block is taken.
#include "pd_proxy/net/handler_memory.hpp"

#include <gtest/gtest.h>

#include <array>
#include <functional>

#include "pd_proxy/net/net.hpp"

namespace pd_proxy {
namespace {

TEST(handler_memory, the_block_serves_one_request_at_a_time_and_new_the_rest) {
  handler_memory memory;
  void* first = memory.allocate(64);
  void* second = memory.allocate(64);  // the block is taken
  EXPECT_NE(first, second);
  EXPECT_EQ(memory.fallbacks(), 1u);
  memory.deallocate(second);
  memory.deallocate(first);
  EXPECT_EQ(memory.allocate(64), first);  // free again
  memory.deallocate(first);
  void* large = memory.allocate(handler_memory::size + 1);
  EXPECT_NE(large, first);
  EXPECT_EQ(memory.fallbacks(), 2u);
  memory.deallocate(large);
}

// Each read's handler starts the next read, as health_probe's do: the whole chain uses the one block.
TEST(handler_memory, a_chain_of_reads_on_a_socket_allocates_nothing) {
  net::io_context io;
  tcp::acceptor acceptor(io, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
  tcp::socket reader(io);
  reader.connect(acceptor.local_endpoint());
  tcp::socket writer = acceptor.accept();
  handler_memory memory;
  std::array<char, 16> buffer{};
  int reads = 0;
  std::function<void()> read = [&] {
    reader.async_read_some(net::buffer(buffer), net::bind_allocator(handler_allocator<void>(memory),
                                                                    [&](const error_code& ec, std::size_t) {
                                                                      if (ec || ++reads == 100) return;
                                                                      read();
                                                                      net::write(writer, net::buffer("x", 1));
                                                                    }));
  };
  read();
  net::write(writer, net::buffer("x", 1));
  io.run_for(std::chrono::seconds(10));
  EXPECT_EQ(reads, 100);
  EXPECT_EQ(memory.fallbacks(), 0u);
}

}  // namespace
}  // namespace pd_proxy
