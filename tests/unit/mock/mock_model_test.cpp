#include <gtest/gtest.h>

#include "pd_proxy/mock/kv_block_table.hpp"
#include "pd_proxy/mock/mock_options.hpp"
#include "pd_proxy/mock/timing_model.hpp"

namespace pd_proxy::mock {
namespace {

using std::chrono::microseconds;
using std::chrono::seconds;

TEST(timing_model, prefill_scales_with_prompt_and_decode_with_batch) {
  const timing_params p{40.0, 15.0, 0.05, 0.0};
  EXPECT_EQ(prefill_time(p, 1000), microseconds(40000));
  EXPECT_EQ(decode_step_time(p, 1), microseconds(15000));
  EXPECT_EQ(decode_step_time(p, 101), microseconds(20000));
  EXPECT_EQ(decode_step_time(no_delay(), 500), microseconds(0));
  EXPECT_EQ(prefill_time(no_delay(), 5000), microseconds(0));
}

TEST(timing_model, prefill_charges_only_uncached_tokens) {
  const timing_params p{40.0, 15.0, 0.05, 0.0};
  EXPECT_EQ(prefill_time(p, 1000, 0), microseconds(40000));
  EXPECT_EQ(prefill_time(p, 1000, 992), microseconds(320));
  EXPECT_EQ(prefill_time(p, 1000, 5000), microseconds(0));
  EXPECT_EQ(prefill_time(p, 1000, -3), microseconds(40000));
}

TEST(kv_block_table, allocates_lowest_ids_and_claims_free_them) {
  kv_block_table t(8, 16);
  const auto t0 = std::chrono::steady_clock::time_point{};
  auto a = t.allocate("a", 33, t0);  // 3 blocks
  ASSERT_TRUE(a);
  EXPECT_EQ(*a, (std::vector<int>{0, 1, 2}));
  auto b = t.allocate("b", 1, t0);
  EXPECT_EQ(*b, (std::vector<int>{3}));
  EXPECT_FALSE(t.allocate("a", 1, t0));   // already holding
  EXPECT_FALSE(t.allocate("c", 80, t0));  // 5 blocks, 4 free
  EXPECT_DOUBLE_EQ(t.usage(), 0.5);
  EXPECT_TRUE(t.claim("a"));
  EXPECT_FALSE(t.claim("a"));
  EXPECT_EQ(*t.allocate("d", 16, t0), (std::vector<int>{0}));
  EXPECT_EQ(t.used_blocks(), 2u);
}

TEST(kv_block_table, unclaimed_blocks_expire) {
  kv_block_table t(4, 16);
  const auto t0 = std::chrono::steady_clock::time_point{};
  t.allocate("old", 16, t0);
  t.allocate("new", 16, t0 + seconds(100));
  EXPECT_EQ(t.expire(t0 + seconds(119), seconds(120)), 0u);
  EXPECT_EQ(t.expire(t0 + seconds(120), seconds(120)), 1u);
  EXPECT_EQ(t.held_requests(), 1u);
  EXPECT_FALSE(t.claim("old"));
  EXPECT_TRUE(t.claim("new"));
  EXPECT_EQ(t.used_blocks(), 0u);
}

mock_cli_outcome parse(std::vector<const char*> args) {
  args.insert(args.begin(), "pd-mock");
  return parse_mock_command_line(static_cast<int>(args.size()), args.data());
}

TEST(mock_options, flags) {
  auto r = parse({"--port", "9000", "--ports-count", "16", "--no-delay", "--fail-first", "2",
                  "--die-after-chunks", "3", "--reject-prefill-400"});
  ASSERT_TRUE(r.options) << r.output;
  EXPECT_EQ(r.options->ports_count, 16);
  EXPECT_EQ(r.options->timing.decode_ms_per_token, 0.0);
  EXPECT_EQ(r.options->faults.fail_first, 2);
  EXPECT_EQ(r.options->faults.die_after_chunks, 3);
  EXPECT_TRUE(r.options->faults.reject_prefill_400);
  EXPECT_EQ(r.options->prefix_cache_blocks, 4096u);  // the default
  auto off = parse({"--prefix-cache-blocks", "0"});
  ASSERT_TRUE(off.options) << off.output;
  EXPECT_EQ(off.options->prefix_cache_blocks, 0u);
  EXPECT_EQ(parse({"--prefix-cache-blocks", "-1"}).exit_code, 2);
  EXPECT_EQ(parse({"--port", "65535", "--ports-count", "2"}).exit_code, 2);
  EXPECT_EQ(parse({"--bogus"}).exit_code, 2);
  EXPECT_EQ(parse({"--help"}).exit_code, 0);
}

}  // namespace
}  // namespace pd_proxy::mock
