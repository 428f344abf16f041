#include "pd_proxy/core/observe/engine_reports.hpp"

#include <gtest/gtest.h>

namespace pd_proxy {
namespace {

TEST(engine_reports, keeps_the_last_good_load_of_each_backend_and_counts_every_scrape) {
  engine_reports reports;
  EXPECT_EQ(reports.last(1), std::nullopt);
  reports.scraped(1, {.running = 3});
  reports.scraped(2, {.running = 5});
  reports.scraped(1, {.running = 4});
  EXPECT_DOUBLE_EQ(reports.last(1)->running, 4);
  EXPECT_DOUBLE_EQ(reports.last(2)->running, 5);
  EXPECT_EQ(reports.scrapes_ok(), 3u);
  EXPECT_EQ(reports.scrapes_failed(), 0u);

  reports.failed(1);  // no longer known
  EXPECT_EQ(reports.last(1), std::nullopt);
  EXPECT_EQ(reports.scrapes_failed(), 1u);

  reports.forget(2);  // left the pools: not a failure
  EXPECT_EQ(reports.last(2), std::nullopt);
  EXPECT_EQ(reports.scrapes_failed(), 1u);
  EXPECT_EQ(reports.scrapes_ok(), 3u);
}

}  // namespace
}  // namespace pd_proxy
