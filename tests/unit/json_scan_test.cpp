#include "pd_proxy/core/json_scan.hpp"

#include <gtest/gtest.h>

namespace pd_proxy {
namespace {

TEST(json_scan, finds_top_level_values_of_every_type) {
  const std::string_view doc =
      R"( { "id" : "x\"}{[" , "n":-1.5e3,"arr":[1,{"k":"]"}],"o":{"kv_transfer_params":1},"t":true,"z":null,)"
      R"("kv_transfer_params" : {"remote_block_ids":[[1,2]],"s":"a\\"}} )";
  EXPECT_EQ(find_top_level_member(doc, "id"), R"("x\"}{[")");
  EXPECT_EQ(find_top_level_member(doc, "n"), "-1.5e3");
  EXPECT_EQ(find_top_level_member(doc, "arr"), R"([1,{"k":"]"}])");
  EXPECT_EQ(find_top_level_member(doc, "t"), "true");
  EXPECT_EQ(find_top_level_member(doc, "z"), "null");
  EXPECT_EQ(find_top_level_member(doc, "kv_transfer_params"), R"({"remote_block_ids":[[1,2]],"s":"a\\"})");
  EXPECT_FALSE(find_top_level_member(doc, "k"));  // nested keys are not top-level
}

TEST(json_scan, last_duplicate_wins_and_empty_objects) {
  EXPECT_EQ(find_top_level_member(R"({"a":1,"a":2})", "a"), "2");
  EXPECT_FALSE(find_top_level_member("{}", "a"));
  EXPECT_FALSE(find_top_level_member("[1]", "a"));
}

TEST(json_scan, malformed_input_gives_nothing) {
  for (std::string_view bad : {R"({"a":)", R"({"a":"x)", R"({"a":1 "b":2})", R"({a:1})", R"({"a":[1,2})", ""}) {
    EXPECT_FALSE(find_top_level_member(bad, "a")) << bad;
  }
}

}  // namespace
}  // namespace pd_proxy
