#include "pd_proxy/core/backends/backend_address.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace pd_proxy {
namespace {

TEST(backend_address, canonical_ipv4_is_four_decimal_parts_without_leading_zeros) {
  for (const char* text : {"127.0.0.1", "0.0.0.0", "127.255.255.255", "127.10.100.200"}) {
    EXPECT_EQ(canonical_ipv4(text), std::string(text)) << text;
  }
  // The spellings of 127.0.0.1, and the legacy forms inet_aton reads as other addresses than they
  // seem ("127.1.2" is 127.1.0.2).
  for (const char* text : {"127.1", "2130706433", "127.000.000.001", "127.0.0.01", "0x7f.0.0.1", "0x7f000001",
                           "0177.0.0.1", "127.1.2", "127.0.0.256", "127.0.0.1.", "127.0.0.1.5", ".127.0.0.1",
                           "127..0.1", "", "127.0.0.-1", "127.0.0.+1", "127.0.0.1000"}) {
    EXPECT_FALSE(canonical_ipv4(text).has_value()) << text;
  }
}

TEST(backend_address, canonical_ipv6_follows_rfc5952_and_maps_ipv4_mapped_to_ipv4) {
  for (const auto& [text, canonical] : std::vector<std::pair<std::string, std::string>>{
           {"::1", "::1"},
           {"0:0:0:0:0:0:0:1", "::1"},
           {"0000:0000::0001", "::1"},
           {"::", "::"},
           {"FE80::ABCD", "fe80::abcd"},
           {"fe80:0:0:1:0:0:1:1", "fe80::1:0:0:1:1"},     // the first of two equal runs
           {"fe80:0:0:1:0:0:0:1", "fe80:0:0:1::1"},       // the longest run
           {"fe80:1:0:1:1:1:1:1", "fe80:1:0:1:1:1:1:1"},  // one zero group is not "::"
           {"::ffff:127.0.0.1", "127.0.0.1"},
           {"::FFFF:7f00:1", "127.0.0.1"},
           {"0:0:0:0:0:ffff:127.0.0.2", "127.0.0.2"},
           {"::127.0.0.1", "::7f00:1"},  // IPv4-compatible (deprecated) is another address
           {"fe80::1%eth0", "fe80::1%eth0"},
           {"FE80:0::1%Eth0", "fe80::1%Eth0"},  // the zone is an interface name: kept as written
       }) {
    EXPECT_EQ(canonical_ipv6(text), canonical) << text;
  }
  for (const char* text : {"", ":", ":::", "1:2:3", "::1%", "::1%eth 0", "::ffff:127.000.0.1", "::ffff:127.1",
                           "12345::1", "g::1", "[::1]", "127.0.0.1"}) {
    EXPECT_FALSE(canonical_ipv6(text).has_value()) << text;
  }
}

TEST(backend_address, canonical_host_name_is_rfc1123_lower_case) {
  for (const auto& [text, canonical] :
       std::vector<std::pair<std::string, std::string>>{{"localhost", "localhost"},
                                                        {"LocalHost", "localhost"},
                                                        {"engine-0.vllm.svc", "engine-0.vllm.svc"},
                                                        {"a", "a"},
                                                        {"1a", "1a"},
                                                        {"127.0.0.1.localhost", "127.0.0.1.localhost"},
                                                        {"localhost.", "localhost."}}) {
    EXPECT_EQ(canonical_host_name(text), canonical) << text;
  }
  const std::string label63(63, 'a');
  const std::string name253 = label63 + "." + label63 + "." + label63 + "." + std::string(61, 'b');
  ASSERT_EQ(name253.size(), 253u);
  EXPECT_TRUE(canonical_host_name(name253).has_value());
  EXPECT_TRUE(canonical_host_name(name253 + ".").has_value());
  for (const std::string& text :
       {std::string(""), std::string("."), std::string("a..b"), std::string("-a"), std::string("a-"),
        std::string("a.-b"), std::string("a_b"), std::string("a b"), std::string(label63 + "a"),
        name253 + "c", name253 + "..", std::string("2130706433"), std::string("127.1"),
        std::string("localhost.127"), std::string("0x7f000001"), std::string("0X7F"), std::string("0x"),
        std::string("h\xc3\xa9")}) {
    EXPECT_FALSE(canonical_host_name(text).has_value()) << text;
  }
}

// No accepted name is read by getaddrinfo as a number (it tries inet_aton first).
TEST(backend_address, no_accepted_name_is_an_ipv4_address_to_inet_aton) {
  for (const char* text : {"127.1", "2130706433", "0x7f000001", "0x7f.1", "017700000001", "127.0x0.1", "0x",
                           "0", "localhost", "a.0x1", "1e3", "0x1g"}) {
    const auto host = parse_host(text);
    if (!host.ok()) continue;
    in_addr ignored{};
    EXPECT_TRUE(canonical_ipv4(host.host).has_value() || ::inet_aton(host.host.c_str(), &ignored) == 0)
        << text << " accepted as the name " << host.host;
  }
}

TEST(backend_address, parse_host_gives_one_spelling_per_address) {
  for (const auto& [text, canonical] :
       std::vector<std::pair<std::string, std::string>>{{"127.0.0.1", "127.0.0.1"},
                                                        {"[::ffff:127.0.0.1]", "127.0.0.1"},
                                                        {"::ffff:127.0.0.1", "127.0.0.1"},
                                                        {"[0:0::1]", "::1"},
                                                        {"0:0:0:0:0:0:0:1", "::1"},
                                                        {"LOCALHOST", "localhost"}}) {
    const auto h = parse_host(text);
    ASSERT_TRUE(h.ok()) << text << ": " << h.error;
    EXPECT_EQ(h.host, canonical) << text;
  }
  // A name is not resolved: localhost and 127.0.0.1 stay two hosts (docs/pools.md).
  EXPECT_NE(parse_host("localhost").host, parse_host("127.0.0.1").host);
}

TEST(backend_address, parse_host_refuses_legacy_ipv4_and_bad_names_with_a_reason) {
  for (const char* text : {"127.1", "2130706433", "127.000.000.001", "127.1.2", "0x7f000001"}) {
    const auto h = parse_host(text);
    EXPECT_FALSE(h.ok()) << text;
    EXPECT_NE(h.error.find("dotted-quad"), std::string::npos) << text << ": " << h.error;
  }
  const auto long_name = parse_host(std::string(254, 'a'));
  EXPECT_FALSE(long_name.ok());
  EXPECT_NE(long_name.error.find("253"), std::string::npos) << long_name.error;
  const auto underscore = parse_host("a_b");
  EXPECT_FALSE(underscore.ok());
  EXPECT_NE(underscore.error.find("not a host name"), std::string::npos) << underscore.error;
}

TEST(backend_address, equal_addresses_are_one_instance) {
  EXPECT_EQ((backend_address{parse_host("[::ffff:127.0.0.1]").host, 8000}),
            (backend_address{parse_host("127.0.0.1").host, 8000}));
  EXPECT_NE((backend_address{"127.0.0.1", 8000}), (backend_address{"127.0.0.1", 8001}));
  EXPECT_EQ((backend_address{"::1", 8000}).authority(), "[::1]:8000");
}

}  // namespace
}  // namespace pd_proxy
