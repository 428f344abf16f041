#include "pd_proxy/core/scheduling/tried_backends.hpp"

#include <gtest/gtest.h>

#include <vector>

#include "pd_proxy/core/scheduling/request_context.hpp"

namespace pd_proxy {
namespace {

std::vector<backend_id> ids_of(const tried_backends& tried) {
  const auto view = tried.view();
  return {view.begin(), view.end()};
}

TEST(tried_backends, keeps_the_order_in_place_and_past_the_inline_count) {
  tried_backends tried;
  EXPECT_TRUE(tried.view().empty());
  std::vector<backend_id> expected;
  for (backend_id id = 10; id < 10 + 2 * tried_backends::inline_count + 1; ++id) {
    tried.add(id);
    expected.push_back(id);
    EXPECT_EQ(ids_of(tried), expected);
    EXPECT_EQ(tried.size(), expected.size());
  }
}

TEST(tried_backends, clear_forgets_everything_and_starts_in_place_again) {
  tried_backends tried;
  for (backend_id id = 1; id <= tried_backends::inline_count + 2; ++id) tried.add(id);
  tried.clear();
  EXPECT_TRUE(tried.view().empty());
  tried.add(7);
  tried.add(8);
  EXPECT_EQ(ids_of(tried), (std::vector<backend_id>{7, 8}));
}

TEST(tried_backends, feeds_request_context_was_tried) {
  tried_backends tried;
  tried.add(3);
  tried.add(5);
  request_context context;
  context.tried = tried.view();
  EXPECT_TRUE(context.was_tried(3));
  EXPECT_TRUE(context.was_tried(5));
  EXPECT_FALSE(context.was_tried(4));
}

}  // namespace
}  // namespace pd_proxy
