#include "pd_proxy/core/http/authorization.hpp"

#include <gtest/gtest.h>

using namespace pd_proxy;

TEST(authorization, bearer_token_parsing) {
  EXPECT_EQ(bearer_token("Bearer sk-1"), "sk-1");
  EXPECT_EQ(bearer_token("bearer sk-1"), "sk-1");
  EXPECT_EQ(bearer_token("BEARER   sk-1  "), "sk-1");
  EXPECT_EQ(bearer_token(" Bearer\tsk-1"), "sk-1");
  EXPECT_EQ(bearer_token("Bearer"), "");
  EXPECT_EQ(bearer_token("Bearer "), "");
  EXPECT_EQ(bearer_token("Bearersk-1"), "");
  EXPECT_EQ(bearer_token("Basic c2stMQ=="), "");
  EXPECT_EQ(bearer_token(""), "");
  EXPECT_EQ(bearer_token("sk-1"), "");
}

TEST(authorization, constant_time_equal) {
  EXPECT_TRUE(constant_time_equal("", ""));
  EXPECT_TRUE(constant_time_equal("abc", "abc"));
  EXPECT_FALSE(constant_time_equal("abc", "abd"));
  EXPECT_FALSE(constant_time_equal("abc", "abcabc"));  // a prefix, and a repetition, are not equal
  EXPECT_FALSE(constant_time_equal("abcabc", "abc"));
  EXPECT_FALSE(constant_time_equal("a", ""));
  EXPECT_FALSE(constant_time_equal("", "a"));
}

TEST(authorization, api_key_check_with_several_keys) {
  const std::vector<std::string> keys{"old-key", "new-key"};
  EXPECT_EQ(check_api_key("Bearer old-key", keys), api_key_check::none);
  EXPECT_EQ(check_api_key("Bearer new-key", keys), api_key_check::none);
  EXPECT_EQ(check_api_key("Bearer new-ke", keys), api_key_check::invalid);
  EXPECT_EQ(check_api_key("Bearer new-keyy", keys), api_key_check::invalid);
  EXPECT_EQ(check_api_key("Basic new-key", keys), api_key_check::missing);
  EXPECT_EQ(check_api_key("", keys), api_key_check::missing);
  EXPECT_EQ(check_api_key("new-key", keys), api_key_check::missing);
  EXPECT_TRUE(bearer_matches("bearer new-key", keys));
  EXPECT_FALSE(bearer_matches("Bearer ", keys));
}

TEST(authorization, no_keys_means_open) {
  EXPECT_EQ(check_api_key("", {}), api_key_check::none);
  EXPECT_EQ(check_api_key("Bearer anything", {}), api_key_check::none);
  EXPECT_FALSE(bearer_matches("Bearer anything", {}));
}

TEST(authorization, admin_access_with_key) {
  const std::string key = "admin-secret";
  EXPECT_EQ(decide_admin_access("Bearer admin-secret", false, key), admin_access::allowed);
  EXPECT_EQ(decide_admin_access("Bearer admin-secret", true, key), admin_access::allowed);
  // With a key, loopback is no exemption.
  EXPECT_EQ(decide_admin_access("", true, key), admin_access::unauthorized);
  EXPECT_EQ(decide_admin_access("", false, key), admin_access::unauthorized);
  EXPECT_EQ(decide_admin_access("Bearer admin-secre", false, key), admin_access::unauthorized);
  EXPECT_EQ(decide_admin_access("Basic admin-secret", true, key), admin_access::unauthorized);
}

TEST(authorization, admin_access_without_key_is_loopback_only) {
  EXPECT_EQ(decide_admin_access("", true, ""), admin_access::allowed);
  EXPECT_EQ(decide_admin_access("Bearer whatever", true, ""), admin_access::allowed);
  EXPECT_EQ(decide_admin_access("", false, ""), admin_access::forbidden);
  EXPECT_EQ(decide_admin_access("Bearer whatever", false, ""), admin_access::forbidden);
}

TEST(authorization, key_file_lines) {
  EXPECT_EQ(parse_api_key_lines("k1\n\n# a comment\n  k2  \r\n\t#indented comment\nk3"),
            (std::vector<std::string>{"k1", "k2", "k3"}));
  EXPECT_TRUE(parse_api_key_lines("").empty());
  EXPECT_TRUE(parse_api_key_lines("\n# only\n\n").empty());
}

// The refusal's status, message and header lines, as the client gets them.
void expect_refusal(const std::optional<access_refusal>& refusal, errc code, std::string_view text,
                    std::string_view headers) {
  ASSERT_TRUE(refusal);
  EXPECT_EQ(refusal->code, code);
  EXPECT_EQ(refusal->text, text);
  EXPECT_EQ(refusal->headers, headers);
}

TEST(authorization, api_key_and_admin_refusals_answer_401_or_403) {
  EXPECT_FALSE(refusal_of(api_key_check::none));
  expect_refusal(refusal_of(api_key_check::missing), errc::unauthorized,
                 "missing API key: send 'Authorization: Bearer <key>'", www_authenticate_header);
  expect_refusal(refusal_of(api_key_check::invalid), errc::unauthorized, "invalid API key",
                 www_authenticate_header);
  EXPECT_FALSE(refusal_of(admin_access::allowed));
  expect_refusal(refusal_of(admin_access::unauthorized), errc::unauthorized,
                 "admin routes need Authorization: Bearer <admin key>", www_authenticate_header);
  expect_refusal(refusal_of(admin_access::forbidden), errc::forbidden,
                 "admin routes are served to loopback clients only (no --admin-api-key is set)", "");
}

TEST(authorization, check_access_follows_the_routes_guard) {
  const std::vector<std::string> keys{"sk-1"};
  const std::string admin_key = "admin-secret";
  // Open routes ask nothing, whatever is configured.
  EXPECT_FALSE(check_access(route_guard::open, "", false, keys, admin_key));
  // The API key: the admin key is not one of them.
  EXPECT_FALSE(check_access(route_guard::api_key, "Bearer sk-1", false, keys, admin_key));
  EXPECT_EQ(check_access(route_guard::api_key, "", true, keys, admin_key)->text,
            "missing API key: send 'Authorization: Bearer <key>'");
  EXPECT_EQ(check_access(route_guard::api_key, "Bearer admin-secret", true, keys, admin_key)->text,
            "invalid API key");
  EXPECT_FALSE(check_access(route_guard::api_key, "", false, {}, admin_key));
  // The admin key: an API key is not it; without one, loopback only.
  EXPECT_FALSE(check_access(route_guard::admin, "Bearer admin-secret", false, keys, admin_key));
  EXPECT_EQ(check_access(route_guard::admin, "Bearer sk-1", true, keys, admin_key)->code, errc::unauthorized);
  EXPECT_FALSE(check_access(route_guard::admin, "", true, keys, ""));
  EXPECT_EQ(check_access(route_guard::admin, "", false, keys, "")->code, errc::forbidden);
}
