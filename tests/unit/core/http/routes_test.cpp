#include "pd_proxy/core/http/routes.hpp"

#include <gtest/gtest.h>

namespace pd_proxy {
namespace {

TEST(routes, every_path_has_its_route_and_nothing_else_matches) {
  EXPECT_EQ(route_of("/v1/completions"), route::completions);
  EXPECT_EQ(route_of("/v1/chat/completions"), route::chat_completions);
  EXPECT_EQ(route_of("/v1/models"), route::models);
  EXPECT_EQ(route_of("/health"), route::health);
  EXPECT_EQ(route_of("/healthcheck"), route::healthcheck);
  EXPECT_EQ(route_of("/ready"), route::ready);
  EXPECT_EQ(route_of("/metrics"), route::metrics);
  EXPECT_EQ(route_of("/instances"), route::instances);
  EXPECT_EQ(route_of("/instances/add"), route::instances_add);
  EXPECT_EQ(route_of("/instances/remove"), route::instances_remove);
  EXPECT_EQ(route_of("/reset_prefix_cache"), route::reset_prefix_cache);
  for (const char* path : {"", "/", "/v1/completions/", "/V1/completions", "/health?x", "/instances/",
                           "/v1/models/x", "/readyz"}) {
    EXPECT_EQ(route_of(path), route::unknown) << path;
  }
}

TEST(routes, labels_are_a_fixed_set_and_admin_routes_are_other) {
  EXPECT_EQ(to_string(label_of(route::completions)), "/v1/completions");
  EXPECT_EQ(to_string(label_of(route::chat_completions)), "/v1/chat/completions");
  EXPECT_EQ(to_string(label_of(route::models)), "/v1/models");
  EXPECT_EQ(to_string(label_of(route::health)), "/health");
  EXPECT_EQ(to_string(label_of(route::healthcheck)), "/healthcheck");
  EXPECT_EQ(to_string(label_of(route::ready)), "/ready");
  EXPECT_EQ(to_string(label_of(route::metrics)), "/metrics");
  for (const route r : {route::instances, route::instances_add, route::instances_remove,
                        route::reset_prefix_cache, route::unknown}) {
    EXPECT_EQ(label_of(r), request_route::other);
  }
  EXPECT_EQ(route_of_path("/instances/add"), request_route::other);
  EXPECT_EQ(route_of_path("/ready"), request_route::ready);
}

TEST(routes, guards_the_openai_routes_with_the_api_key_and_the_admin_routes_with_the_admin_key) {
  for (const route r : {route::completions, route::chat_completions, route::models}) {
    EXPECT_EQ(guard_of(r), route_guard::api_key);
  }
  for (const route r : {route::health, route::healthcheck, route::ready, route::metrics, route::unknown}) {
    EXPECT_EQ(guard_of(r), route_guard::open);
  }
  for (const route r :
       {route::instances, route::instances_add, route::instances_remove, route::reset_prefix_cache}) {
    EXPECT_EQ(guard_of(r), route_guard::admin);
  }
}

TEST(routes, methods_per_route) {
  for (const route r : {route::completions, route::chat_completions, route::instances_add,
                        route::instances_remove, route::reset_prefix_cache}) {
    EXPECT_EQ(allowed_methods(r), "POST");
    EXPECT_TRUE(method_allowed(r, "POST"));
    EXPECT_FALSE(method_allowed(r, "GET"));
    EXPECT_FALSE(method_allowed(r, "HEAD"));
  }
  for (const route r :
       {route::models, route::health, route::healthcheck, route::ready, route::metrics, route::instances}) {
    EXPECT_EQ(allowed_methods(r), "GET, HEAD");
    EXPECT_TRUE(method_allowed(r, "GET"));
    EXPECT_TRUE(method_allowed(r, "HEAD"));
    EXPECT_FALSE(method_allowed(r, "POST"));
    EXPECT_FALSE(method_allowed(r, "get"));  // methods are case-sensitive (RFC 9110 §9.1)
  }
  EXPECT_EQ(allowed_methods(route::unknown), "");
  EXPECT_FALSE(method_allowed(route::unknown, "GET"));
}

TEST(routes, a_wrong_method_gets_the_405_text_and_allow_header) {
  EXPECT_FALSE(check_method(route::completions, "POST", "/v1/completions"));
  const auto refused = check_method(route::completions, "GET", "/v1/completions");
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->text, "GET is not allowed on /v1/completions");
  EXPECT_EQ(refused->allow, "Allow: POST\r\n");
  const auto listed = check_method(route::instances, "DELETE", "/instances");
  ASSERT_TRUE(listed);
  EXPECT_EQ(listed->text, "DELETE is not allowed on /instances");
  EXPECT_EQ(listed->allow, "Allow: GET, HEAD\r\n");
}

TEST(routes, path_of_drops_the_query_and_the_absolute_forms_authority) {
  EXPECT_EQ(path_of("/v1/models?x=1"), "/v1/models");
  EXPECT_EQ(path_of("/v1/models"), "/v1/models");
  EXPECT_EQ(path_of("http://localhost:8000/v1/models?x"), "/v1/models");
  EXPECT_EQ(path_of("HTTPS://localhost/ready"), "/ready");
  EXPECT_EQ(path_of("http://localhost"), "/");
  EXPECT_EQ(path_of("?only"), "");
}

}  // namespace
}  // namespace pd_proxy
