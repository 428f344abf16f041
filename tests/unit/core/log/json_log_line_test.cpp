#include "pd_proxy/core/log/json_log_line.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

using namespace pd_proxy;

TEST(json_log_line, one_parseable_object_per_line) {
  const std::string line = json_log_line(
      {"2026-12-02T02:06:53.123Z", "warning", "request x: \"quoted\"\nsecond line\ttab", 42, ""});
  ASSERT_FALSE(line.empty());
  EXPECT_EQ(line.back(), '\n');
  EXPECT_EQ(line.find('\n'), line.size() - 1);  // one line
  const auto parsed = nlohmann::json::parse(line);
  EXPECT_EQ(parsed["ts"], "2026-12-02T02:06:53.123Z");
  EXPECT_EQ(parsed["level"], "warning");
  EXPECT_EQ(parsed["msg"], "request x: \"quoted\"\nsecond line\ttab");
  EXPECT_EQ(parsed["thread"], 42);
  EXPECT_FALSE(parsed.contains("logger"));
}

TEST(json_log_line, invalid_utf8_is_replaced_not_thrown) {
  const std::string line = json_log_line({"t", "info", "bad \xff\xfe bytes", 1, "pd"});
  const auto parsed = nlohmann::json::parse(line);
  EXPECT_EQ(parsed["logger"], "pd");
  EXPECT_NE(parsed["msg"].get<std::string>().find("bad "), std::string::npos);
}

TEST(json_log_line, iso8601_utc) {
  EXPECT_EQ(iso8601_utc_millis(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(iso8601_utc_millis(1796176013123), "2026-12-02T01:46:53.123Z");
}
