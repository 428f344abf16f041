#include "pd_proxy/core/observe/log_failures.hpp"

#include <gtest/gtest.h>

namespace pd_proxy {
namespace {

using namespace std::chrono_literals;

TEST(line_cut, a_write_cut_mid_line_keeps_the_whole_lines_and_takes_back_the_rest) {
  const std::string_view text = "{\"a\":1}\n{\"b\":2}\n{\"c\":3}\n";
  const line_cut all = cut_after(text, text.size());
  EXPECT_EQ(all.whole_bytes, text.size());
  EXPECT_EQ(all.whole_lines, 3u);
  EXPECT_EQ(all.partial_bytes, 0u);

  const line_cut mid = cut_after(text, 12);  // the first line and 4 bytes of the second
  EXPECT_EQ(mid.whole_bytes, 8u);
  EXPECT_EQ(mid.whole_lines, 1u);
  EXPECT_EQ(mid.partial_bytes, 4u);

  const line_cut none = cut_after(text, 0);
  EXPECT_EQ(none.whole_bytes, 0u);
  EXPECT_EQ(none.whole_lines, 0u);
  EXPECT_EQ(none.partial_bytes, 0u);

  const line_cut first_only = cut_after(text, 5);
  EXPECT_EQ(first_only.whole_lines, 0u);
  EXPECT_EQ(first_only.partial_bytes, 5u);
}

TEST(failure_reports, the_first_failure_at_once_then_at_most_once_per_interval_with_the_lines_since) {
  failure_reports reports(60s);
  const failure_reports::clock::time_point t0{};  // a manual clock
  EXPECT_EQ(reports.failed(t0 + 1000s, 3), 3u);
  EXPECT_EQ(reports.failed(t0 + 1001s, 2), std::nullopt);
  EXPECT_EQ(reports.failed(t0 + 1059s, 1), std::nullopt);
  EXPECT_EQ(reports.failed(t0 + 1060s, 4), 7u);  // 2 + 1 carried, and these 4
  EXPECT_EQ(reports.failed(t0 + 1061s, 1), std::nullopt);
  EXPECT_EQ(reports.failed(t0 + 1200s, 1), 2u);
}

TEST(failure_reports, recovery_is_said_once_and_does_not_reset_the_interval) {
  failure_reports reports(60s);
  const failure_reports::clock::time_point t0{};
  EXPECT_FALSE(reports.succeeded());  // nothing failed yet
  EXPECT_EQ(reports.failed(t0 + 10s, 1), 1u);
  EXPECT_TRUE(reports.succeeded());
  EXPECT_FALSE(reports.succeeded());
  EXPECT_EQ(reports.failed(t0 + 20s, 1), std::nullopt);  // a flapping disk logs once a minute, not more
  EXPECT_EQ(reports.failed(t0 + 70s, 1), 2u);
}

}  // namespace
}  // namespace pd_proxy
