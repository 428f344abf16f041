// The DNS discovery flags: --prefiller-dns, --decoder-dns (repeatable), --dns-refresh-interval.
#include <gtest/gtest.h>

#include "pd_proxy/core/config/cli.hpp"

namespace pd_proxy {
namespace {

cli_outcome parse_args(std::vector<std::string> args) {
  std::vector<std::string> words{"pd-proxy"};
  words.insert(words.end(), args.begin(), args.end());
  std::vector<const char*> argv;
  for (const auto& w : words) argv.push_back(w.c_str());
  return parse_command_line(static_cast<int>(argv.size()), argv.data(),
                            [](const std::string&) -> std::optional<std::string> { return std::nullopt; });
}

TEST(cli_dns, dns_alone_replaces_the_default_pool) {
  const auto r = parse_args({"--decoder-dns", "vllm-decode.default.svc.cluster.local:8000", "--decoder-dns",
                             "[fd00::1]:9000", "--prefiller-dns", "prefill.service.consul:8001"});
  ASSERT_TRUE(r.config) << r.output;
  const auto& c = *r.config;
  EXPECT_TRUE(c.prefillers.empty());  // no localhost:8001 default next to the discovered ones
  EXPECT_TRUE(c.decoders.empty());
  ASSERT_EQ(c.dns_targets.size(), 3u);
  EXPECT_EQ(c.dns_targets[0].role, backend_role::prefill);
  EXPECT_EQ(c.dns_targets[0].name, "prefill.service.consul");
  EXPECT_EQ(c.dns_targets[0].port, 8001);
  EXPECT_EQ(c.dns_targets[1].role, backend_role::decode);
  EXPECT_EQ(c.dns_targets[1].port, 8000);
  EXPECT_EQ(c.dns_targets[2].name, "fd00::1");
  EXPECT_EQ(c.dns_refresh_interval.count(), 5.0);
}

TEST(cli_dns, alongside_host_flags) {
  const auto r = parse_args({"--prefiller-hosts", "10.0.0.1", "--prefiller-ports", "8001", "--prefiller-dns",
                             "p.svc:8001", "--dns-refresh-interval", "0.5"});
  ASSERT_TRUE(r.config) << r.output;
  EXPECT_EQ(r.config->prefillers.size(), 1u);
  EXPECT_EQ(r.config->decoders.size(), 1u);  // the default localhost:8002: no --decoder-dns
  EXPECT_EQ(r.config->dns_targets.size(), 1u);
  EXPECT_EQ(r.config->dns_refresh_interval.count(), 0.5);
}

TEST(cli_dns, refused) {
  for (const auto& args :
       std::vector<std::vector<std::string>>{{"--decoder-dns", "no-port.svc"},
                                             {"--decoder-dns", "::1:9000"},
                                             {"--prefiller-dns", "p.svc:0"},
                                             {"--decoder-dns", "d:1", "--dns-refresh-interval", "0"},
                                             {"--dns-refresh-interval", "-1"}}) {
    const auto r = parse_args(args);
    EXPECT_FALSE(r.config) << args[0] << " " << args[1];
    EXPECT_EQ(r.exit_code, 2);
  }
}

}  // namespace
}  // namespace pd_proxy
