// Conditional disaggregation's decision: the prompt estimate and the threshold.
#include "pd_proxy/core/flow/disaggregation.hpp"

#include <gtest/gtest.h>

namespace pd_proxy {
namespace {

static_assert(estimated_prompt_tokens(0) == 0);
static_assert(estimated_prompt_tokens(7) == 1);
static_assert(estimated_prompt_tokens(8) == 2);

TEST(disaggregation, zero_always_disaggregates) {
  for (const std::size_t bytes : {std::size_t{0}, std::size_t{3}, std::size_t{4}, std::size_t{1} << 40}) {
    EXPECT_FALSE(skips_prefill(0, bytes)) << bytes;
  }
}

TEST(disaggregation, a_prompt_estimated_below_the_threshold_skips_the_prefill) {
  // 100 tokens: 400 bytes and more are disaggregated, 399 bytes (99 tokens) and less are not.
  EXPECT_TRUE(skips_prefill(100, 0));
  EXPECT_TRUE(skips_prefill(100, 396));
  EXPECT_TRUE(skips_prefill(100, 399));
  EXPECT_FALSE(skips_prefill(100, 400));
  EXPECT_FALSE(skips_prefill(100, 403));
  EXPECT_FALSE(skips_prefill(100, 1 << 20));
  EXPECT_TRUE(skips_prefill(1, 3));
  EXPECT_FALSE(skips_prefill(1, 4));
}

}  // namespace
}  // namespace pd_proxy
