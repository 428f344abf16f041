#include "pd_proxy/core/pool_expansion.hpp"

#include <gtest/gtest.h>

namespace pd_proxy {
namespace {

std::vector<std::string> authorities(const pool_expansion& p) {
  std::vector<std::string> out;
  for (const auto& b : p.backends) out.push_back(b.authority());
  return out;
}

TEST(pool_expansion, seed_guide_prefillers_expand_host_major) {
  pool_flags f{{"192.0.0.1", "192.0.0.2", "192.0.0.3", "192.0.0.4"},
               std::vector<long long>{2, 2, 2, 2},
               {9000, 9000, 9000, 9000},
               std::vector<long long>{2, 2, 2, 2}};
  const auto p = expand_pool(f, "prefiller");
  ASSERT_TRUE(p.ok()) << p.error;
  EXPECT_EQ(authorities(p), (std::vector<std::string>{"192.0.0.1:9000", "192.0.0.1:9001", "192.0.0.2:9000",
                                                      "192.0.0.2:9001", "192.0.0.3:9000", "192.0.0.3:9001",
                                                      "192.0.0.4:9000", "192.0.0.4:9001"}));
}

TEST(pool_expansion, seed_guide_decoders_are_64_in_order) {
  pool_flags f{{"192.0.0.5", "192.0.0.6", "192.0.0.7", "192.0.0.8"},
               std::vector<long long>{16, 16, 16, 16},
               {9000, 9000, 9000, 9000},
               std::vector<long long>{16, 16, 16, 16}};
  const auto p = expand_pool(f, "decoder");
  ASSERT_TRUE(p.ok()) << p.error;
  ASSERT_EQ(p.backends.size(), 64u);
  for (std::size_t i = 0; i < 64; ++i) {
    EXPECT_EQ(p.backends[i].host, "192.0.0." + std::to_string(5 + i / 16));
    EXPECT_EQ(p.backends[i].port, 9000 + i % 16);
  }
}

TEST(pool_expansion, plain_lists_pair_by_position) {
  const auto p = expand_pool({{"a", "b"}, std::nullopt, {8001, 9001}, std::nullopt}, "prefiller");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(authorities(p), (std::vector<std::string>{"a:8001", "b:9001"}));
}

TEST(pool_expansion, ipv6_literals_and_names) {
  const auto p = expand_pool({{"::1", "node-1.example"}, std::nullopt, {9000, 9000}, std::nullopt}, "decoder");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(authorities(p), (std::vector<std::string>{"[::1]:9000", "node-1.example:9000"}));
}

struct rejection {
  pool_flags flags;
  std::string must_mention;
};

class pool_rejection : public ::testing::TestWithParam<rejection> {};

TEST_P(pool_rejection, names_the_flag) {
  const auto p = expand_pool(GetParam().flags, "prefiller");
  EXPECT_FALSE(p.ok());
  EXPECT_TRUE(p.backends.empty());
  EXPECT_NE(p.error.find(GetParam().must_mention), std::string::npos) << p.error;
}

INSTANTIATE_TEST_SUITE_P(
    cases, pool_rejection,
    ::testing::Values(
        // Reference quirk: B silently dropped. Rejected here.
        rejection{{{"A", "B"}, std::vector<long long>{2, 2}, {8001, 9001}, std::nullopt}, "--prefiller-hosts"},
        // Reference quirk: ports-inc without hosts-num keeps only one instance. Rejected.
        rejection{{{"A"}, std::nullopt, {8001}, std::vector<long long>{4}}, "--prefiller-ports"},
        // Misaligned counts expand to equal lengths in the reference; still inconsistent per host.
        rejection{{{"A", "B"}, std::vector<long long>{3, 1}, {8001, 9001}, std::vector<long long>{2, 2}},
                  "--prefiller-hosts"},
        rejection{{{"A"}, std::vector<long long>{0}, {8001}, std::nullopt}, "--prefiller-hosts-num"},
        rejection{{{"A"}, std::vector<long long>{-2}, {8001}, std::nullopt}, "--prefiller-hosts-num"},
        rejection{{{"A", "B"}, std::vector<long long>{1}, {8001, 8002}, std::nullopt}, "--prefiller-hosts-num"},
        rejection{{{"A"}, std::nullopt, {8001}, std::vector<long long>{1, 1}}, "--prefiller-ports-inc"},
        rejection{{{"A"}, std::vector<long long>{2}, {65535}, std::vector<long long>{2}},
                  "--prefiller-ports-inc"},
        rejection{{{"A"}, std::nullopt, {70000}, std::nullopt}, "--prefiller-ports"},
        rejection{{{"A"}, std::nullopt, {0}, std::nullopt}, "--prefiller-ports"},
        rejection{{{"A", "B"}, std::nullopt, {8001}, std::nullopt}, "--prefiller-hosts"},
        rejection{{{}, std::nullopt, {8001}, std::nullopt}, "--prefiller-hosts"},
        rejection{{{"A"}, std::nullopt, {}, std::nullopt}, "--prefiller-ports"},
        rejection{{{""}, std::nullopt, {8001}, std::nullopt}, "--prefiller-hosts"},
        rejection{{{"[::1]"}, std::nullopt, {8001}, std::nullopt}, "--prefiller-hosts"}));

}  // namespace
}  // namespace pd_proxy
