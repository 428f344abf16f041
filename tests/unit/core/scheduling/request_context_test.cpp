#include "pd_proxy/core/scheduling/request_context.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace pd_proxy {
namespace {

TEST(request_context, was_tried) {
  const std::vector<backend_id> tried{4, 9};
  const request_context request{.tried = tried, .estimated_prompt_tokens = 12, .model = "m"};
  EXPECT_TRUE(request.was_tried(4));
  EXPECT_TRUE(request.was_tried(9));
  EXPECT_FALSE(request.was_tried(5));
  EXPECT_FALSE(request_context{}.was_tried(4));
  EXPECT_EQ(request_context{}.prefix_key, 0u);
  EXPECT_EQ(request_context{}.session_key, 0u);
}

}  // namespace
}  // namespace pd_proxy
