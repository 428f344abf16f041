#include "pd_proxy/core/backends/fresh_connection.hpp"

#include <gtest/gtest.h>

namespace pd_proxy {
namespace {

TEST(fresh_connection, a_stale_pooled_connection_is_retried_once_on_a_fresh_one) {
  EXPECT_TRUE(retry_on_fresh_connection(/*reused=*/true, /*client_gone=*/false, /*closed_by_backend=*/true,
                                        /*response_started=*/false));
  EXPECT_FALSE(retry_on_fresh_connection(false, false, true, false));  // a new connection: a real failure
  EXPECT_FALSE(retry_on_fresh_connection(true, true, true, false));    // the client is gone
  EXPECT_FALSE(retry_on_fresh_connection(true, false, false, false));  // e.g. a timeout, not a close
  EXPECT_FALSE(retry_on_fresh_connection(true, false, true, true));    // the backend began to answer
}

}  // namespace
}  // namespace pd_proxy
