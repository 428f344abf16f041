#include "pd_proxy/core/pools/dns_records.hpp"

#include <gtest/gtest.h>

namespace pd_proxy {
namespace {

const backend_address a{"10.0.0.1", 9000}, b{"10.0.0.2", 9000}, c{"fd00::3", 9000};

TEST(dns_target, parses) {
  const auto t =
      parse_dns_target("--decoder-dns", "vllm-decode.ns.svc.cluster.local:8000", backend_role::decode);
  ASSERT_TRUE(t.ok()) << t.error;
  EXPECT_EQ(t.target.name, "vllm-decode.ns.svc.cluster.local");
  EXPECT_EQ(t.target.port, 8000);
  EXPECT_EQ(t.target.role, backend_role::decode);
  const auto bad = parse_dns_target("--prefiller-dns", "name-without-port", backend_role::prefill);
  EXPECT_FALSE(bad.ok());
  EXPECT_NE(bad.error.find("--prefiller-dns"), std::string::npos);
}

TEST(dns_diff, appear_and_disappear) {
  const auto change = diff_records({a, b}, std::vector<backend_address>{b, c});
  EXPECT_EQ(change.added, (std::vector<backend_address>{c}));
  EXPECT_EQ(change.removed, (std::vector<backend_address>{a}));
  EXPECT_EQ(next_records({a, b}, std::vector<backend_address>{b, c}), (std::vector<backend_address>{b, c}));
}

TEST(dns_diff, first_resolution_adds_everything_once) {
  const auto change = diff_records({}, std::vector<backend_address>{a, b, a});
  EXPECT_EQ(change.added, (std::vector<backend_address>{a, b}));
  EXPECT_TRUE(change.removed.empty());
  EXPECT_EQ(next_records({}, std::vector<backend_address>{a, b, a}), (std::vector<backend_address>{a, b}));
}

TEST(dns_diff, failure_keeps_the_last_good_set) {
  EXPECT_TRUE(diff_records({a, b}, std::nullopt).added.empty());
  EXPECT_TRUE(diff_records({a, b}, std::nullopt).removed.empty());
  EXPECT_TRUE(diff_records({a, b}, std::vector<backend_address>{}).removed.empty());
  EXPECT_EQ(next_records({a, b}, std::nullopt), (std::vector<backend_address>{a, b}));
  EXPECT_EQ(next_records({a, b}, std::vector<backend_address>{}), (std::vector<backend_address>{a, b}));
}

TEST(dns_lookup, records_are_canonical_and_classified) {
  const auto records =
      records_of(std::vector<std::string>{"127.0.0.1", "::ffff:127.0.0.2", "::1", "not ok"}, 8002);
  ASSERT_TRUE(records.has_value());
  EXPECT_EQ(*records,
            (std::vector<backend_address>{{"127.0.0.1", 8002}, {"127.0.0.2", 8002}, {"::1", 8002}}));
  EXPECT_FALSE(records_of(std::nullopt, 8002).has_value());
  EXPECT_EQ(classify_lookup(records), lookup_result::records);
  EXPECT_EQ(classify_lookup(std::vector<backend_address>{}), lookup_result::no_record);
  EXPECT_EQ(classify_lookup(std::nullopt), lookup_result::failed);
}

TEST(dns_diff, unchanged) {
  const auto change = diff_records({a, b}, std::vector<backend_address>{b, a});
  EXPECT_TRUE(change.added.empty());
  EXPECT_TRUE(change.removed.empty());
}

}  // namespace
}  // namespace pd_proxy
