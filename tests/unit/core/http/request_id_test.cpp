#include "pd_proxy/core/http/request_id.hpp"

#include <gtest/gtest.h>

#include <set>

namespace pd_proxy {
namespace {

TEST(request_id, sane_ids_are_kept) {
  EXPECT_EQ(choose_request_id("abc-123_x.y:z"), "abc-123_x.y:z");
  EXPECT_EQ(choose_request_id(std::string(128, 'a')), std::string(128, 'a'));
}

TEST(request_id, unsafe_ids_are_replaced) {
  for (const std::string& bad : {std::string(), std::string(129, 'a'), std::string("a b"),
                                 std::string("a\r\nb"), std::string("\"q\""), std::string("ü")}) {
    const std::string id = choose_request_id(bad);
    EXPECT_NE(id, bad);
    EXPECT_EQ(id.size(), 36u);
  }
}

TEST(request_id, uuids_are_v4_and_distinct) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    const std::string id = new_request_id();
    ASSERT_EQ(id.size(), 36u);
    EXPECT_EQ(id[14], '4');
    EXPECT_TRUE(id[19] == '8' || id[19] == '9' || id[19] == 'a' || id[19] == 'b');
    EXPECT_TRUE(is_sane_request_id(id));
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 1000u);
}

}  // namespace
}  // namespace pd_proxy
