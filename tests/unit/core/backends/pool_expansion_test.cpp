#include "pd_proxy/core/backends/pool_expansion.hpp"

#include <gtest/gtest.h>

#include <limits>
#include <utility>

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
  const auto p =
      expand_pool({{"::1", "node-1.example"}, std::nullopt, {9000, 9000}, std::nullopt}, "decoder");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(authorities(p), (std::vector<std::string>{"[::1]:9000", "node-1.example:9000"}));
}

TEST(pool_expansion, bracketed_ipv6_literals_are_stored_without_brackets) {
  const auto p = expand_pool({{"[::1]", "::1", "[fe80::1%eth0]", "[::ffff:192.0.2.1]"},
                              std::nullopt,
                              {9000, 9001, 9002, 9003},
                              std::nullopt},
                             "prefiller");
  ASSERT_TRUE(p.ok()) << p.error;
  EXPECT_EQ(p.backends[0].host, "::1");
  EXPECT_EQ(p.backends[1].host, "::1");
  EXPECT_EQ(authorities(p), (std::vector<std::string>{"[::1]:9000", "[::1]:9001", "[fe80::1%eth0]:9002",
                                                      "192.0.2.1:9003"}));  // IPv4-mapped: its IPv4 address
}

TEST(pool_expansion, an_instance_named_twice_is_refused_however_it_is_spelled) {
  for (const auto& [first, second] :
       std::vector<std::pair<std::string, std::string>>{{"127.0.0.1", "127.0.0.1"},
                                                        {"127.0.0.1", "[::ffff:127.0.0.1]"},
                                                        {"::1", "[0:0::1]"},
                                                        {"localhost", "LOCALHOST"}}) {
    const auto p = expand_pool({{"127.0.0.9", first, second}, std::nullopt, {8002, 8002, 8002}, std::nullopt},
                               "decoder");
    EXPECT_FALSE(p.ok()) << first << " " << second;
    EXPECT_NE(p.error.find("twice"), std::string::npos) << p.error;
    EXPECT_NE(p.error.find("--decoder-hosts"), std::string::npos) << p.error;
    if (first != second) {
      EXPECT_NE(p.error.find("are one address"), std::string::npos) << p.error;
    }
  }
  // Through a count: 127.0.0.1 on 8002-8003 and again on 8003.
  const auto counted = expand_pool(
      {{"127.0.0.1", "127.0.0.1"}, std::vector<long long>{2, 1}, {8002, 8003}, std::vector<long long>{2, 1}},
      "prefiller");
  EXPECT_FALSE(counted.ok());
  EXPECT_NE(counted.error.find("127.0.0.1:8003 twice"), std::string::npos) << counted.error;
  // A name and an address are two instances (names are not resolved), as are two ports of one host.
  EXPECT_TRUE(
      expand_pool({{"localhost", "127.0.0.1"}, std::nullopt, {8002, 8002}, std::nullopt}, "decoder").ok());
  EXPECT_TRUE(
      expand_pool({{"127.0.0.1", "127.0.0.1"}, std::nullopt, {8002, 8003}, std::nullopt}, "decoder").ok());
}

TEST(pool_expansion, legacy_ipv4_forms_are_refused) {
  for (const char* host : {"127.1", "2130706433", "127.000.000.001", "127.1.2", "0x7f000001"}) {
    const auto p = expand_pool({{host}, std::nullopt, {8002}, std::nullopt}, "decoder");
    EXPECT_FALSE(p.ok()) << host;
    EXPECT_NE(p.error.find("dotted-quad"), std::string::npos) << p.error;
  }
}

TEST(pool_expansion, parse_host_accepts_names_ipv4_and_ipv6_with_or_without_brackets) {
  for (const auto& [text, host] :
       std::vector<std::pair<std::string, std::string>>{{"localhost", "localhost"},
                                                        {"node-1.example", "node-1.example"},
                                                        {"192.0.2.1", "192.0.2.1"},
                                                        {"::1", "::1"},
                                                        {"[::1]", "::1"},
                                                        {"[2001:db8::8]", "2001:db8::8"},
                                                        {"fe80::1%eth0", "fe80::1%eth0"}}) {
    const auto h = parse_host(text);
    EXPECT_TRUE(h.ok()) << text << ": " << h.error;
    EXPECT_EQ(h.host, host) << text;
  }
}

TEST(pool_expansion, parse_host_refuses_malformed_brackets_and_stray_colons) {
  for (const char* text : {"",
                           "[::1",
                           "::1]",
                           "[]",
                           "[host name]",
                           "host name",
                           "[localhost]",
                           "[192.0.2.1]",
                           "[::1]:9000",
                           "[::1]x",
                           "a[b]",
                           "[[::1]]",
                           "localhost:8001",
                           "1:2:3",
                           ":::",
                           "[::1],[::2]",
                           "fe80::1%",
                           "fe80::1%eth 0",
                           "tab\there",
                           "--port",
                           "-h"}) {
    const auto h = parse_host(text);
    EXPECT_FALSE(h.ok()) << "'" << text << "' accepted as '" << h.host << "'";
  }
}

TEST(pool_expansion, huge_counts_and_ports_are_refused_without_overflow) {
  constexpr long long max = std::numeric_limits<long long>::max();
  constexpr long long min = std::numeric_limits<long long>::min();
  // ports-inc near LLONG_MAX: base + n - 1 overflowed (signed overflow, then a huge reserve / bad_alloc).
  for (const long long n : {max, max - 1, min, 65536LL, -1LL}) {
    const auto p =
        expand_pool({{"A"}, std::vector<long long>{n}, {8002}, std::vector<long long>{n}}, "decoder");
    EXPECT_FALSE(p.ok()) << n;
    EXPECT_NE(p.error.find("--decoder-"), std::string::npos) << p.error;
    const auto q = expand_pool({{"A"}, std::nullopt, {8002}, std::vector<long long>{n}}, "decoder");
    EXPECT_NE(q.error.find("--decoder-ports-inc"), std::string::npos) << n << ": " << q.error;
    const auto r = expand_pool({{"A"}, std::vector<long long>{n}, {8002}, std::nullopt}, "decoder");
    EXPECT_NE(r.error.find("--decoder-hosts-num"), std::string::npos) << n << ": " << r.error;
    const auto s = expand_pool({{"A"}, std::nullopt, {n}, std::nullopt}, "decoder");
    EXPECT_NE(s.error.find("--decoder-ports"), std::string::npos) << n << ": " << s.error;
  }
}

TEST(pool_expansion, the_last_port_of_an_increment_may_be_65535) {
  const auto p =
      expand_pool({{"A"}, std::vector<long long>{2}, {65534}, std::vector<long long>{2}}, "decoder");
  ASSERT_TRUE(p.ok()) << p.error;
  EXPECT_EQ(authorities(p), (std::vector<std::string>{"a:65534", "a:65535"}));  // names are lower-cased
}

TEST(pool_expansion, a_pool_may_hold_65535_backends_but_no_more) {
  const auto full =
      expand_pool({{"A"}, std::vector<long long>{65535}, {1}, std::vector<long long>{65535}}, "decoder");
  ASSERT_TRUE(full.ok()) << full.error;
  EXPECT_EQ(full.backends.size(), max_pool_size);

  const auto over = expand_pool(
      {{"A", "B"}, std::vector<long long>{40000, 40000}, {1, 1}, std::vector<long long>{40000, 40000}},
      "decoder");
  EXPECT_FALSE(over.ok());
  EXPECT_NE(over.error.find("65535"), std::string::npos) << over.error;
  EXPECT_NE(over.error.find("--decoder-hosts"), std::string::npos) << over.error;

  // Many hosts with a count each: refused before 65536 x 65535 host copies are allocated.
  pool_flags many{std::vector<std::string>(65536, "h"), std::vector<long long>(65536, 65535),
                  std::vector<long long>(65536, 1), std::vector<long long>(65536, 65535)};
  const auto huge = expand_pool(many, "prefiller");
  EXPECT_FALSE(huge.ok());
  EXPECT_NE(huge.error.find("65535"), std::string::npos) << huge.error;
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
        rejection{{{"A", "B"}, std::vector<long long>{2, 2}, {8001, 9001}, std::nullopt},
                  "--prefiller-hosts"},
        // Reference quirk: ports-inc without hosts-num keeps only one instance. Rejected.
        rejection{{{"A"}, std::nullopt, {8001}, std::vector<long long>{4}}, "--prefiller-ports"},
        // Misaligned counts expand to equal lengths in the reference; still inconsistent per host.
        rejection{{{"A", "B"}, std::vector<long long>{3, 1}, {8001, 9001}, std::vector<long long>{2, 2}},
                  "--prefiller-hosts"},
        rejection{{{"A"}, std::vector<long long>{0}, {8001}, std::nullopt}, "--prefiller-hosts-num"},
        rejection{{{"A"}, std::vector<long long>{-2}, {8001}, std::nullopt}, "--prefiller-hosts-num"},
        rejection{{{"A", "B"}, std::vector<long long>{1}, {8001, 8002}, std::nullopt},
                  "--prefiller-hosts-num"},
        rejection{{{"A"}, std::nullopt, {8001}, std::vector<long long>{1, 1}}, "--prefiller-ports-inc"},
        rejection{{{"A"}, std::vector<long long>{2}, {65535}, std::vector<long long>{2}},
                  "--prefiller-ports-inc"},
        rejection{{{"A"}, std::nullopt, {70000}, std::nullopt}, "--prefiller-ports"},
        rejection{{{"A"}, std::nullopt, {0}, std::nullopt}, "--prefiller-ports"},
        rejection{{{"A", "B"}, std::nullopt, {8001}, std::nullopt}, "--prefiller-hosts"},
        rejection{{{}, std::nullopt, {8001}, std::nullopt}, "--prefiller-hosts"},
        rejection{{{"A"}, std::nullopt, {}, std::nullopt}, "--prefiller-ports"},
        rejection{{{""}, std::nullopt, {8001}, std::nullopt}, "--prefiller-hosts"},
        rejection{{{"[::1"}, std::nullopt, {8001}, std::nullopt}, "--prefiller-hosts"},
        rejection{{{"::1]"}, std::nullopt, {8001}, std::nullopt}, "--prefiller-hosts"},
        rejection{{{"[]"}, std::nullopt, {8001}, std::nullopt}, "--prefiller-hosts"},
        rejection{{{"[host name]"}, std::nullopt, {8001}, std::nullopt}, "--prefiller-hosts"},
        rejection{{{"[localhost]"}, std::nullopt, {8001}, std::nullopt}, "--prefiller-hosts"},
        rejection{{{"localhost:8001"}, std::nullopt, {8001}, std::nullopt}, "--prefiller-hosts"}));

}  // namespace
}  // namespace pd_proxy
