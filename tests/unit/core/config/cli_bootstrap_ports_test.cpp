// --prefiller-bootstrap-ports (--pd-protocol sglang-bootstrap): one per --prefiller-hosts entry, expanded as
// the ports; and what a reload does with them.
#include <gtest/gtest.h>

#include "pd_proxy/core/config/cli.hpp"
#include "pd_proxy/core/config/reload.hpp"

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

TEST(cli_bootstrap_ports, none_given_means_null_for_every_prefiller) {
  const auto r = parse_args({"--pd-protocol", "sglang-bootstrap", "--prefiller-hosts", "a", "b",
                             "--prefiller-ports", "8001", "8001"});
  ASSERT_TRUE(r.config) << r.output;
  EXPECT_EQ(r.config->pd_protocol, "sglang-bootstrap");
  for (const auto& p : r.config->prefillers) EXPECT_FALSE(p.bootstrap_port);
}

TEST(cli_bootstrap_ports, one_per_host_expanded_as_the_ports) {
  const auto r = parse_args({"--prefiller-hosts", "a", "b", "--prefiller-ports", "8001", "9001",
                             "--prefiller-ports-inc", "2", "1", "--prefiller-hosts-num", "2", "1",
                             "--prefiller-bootstrap-ports", "8998", "7000"});
  ASSERT_TRUE(r.config) << r.output;
  const auto& pool = r.config->prefillers;
  ASSERT_EQ(pool.size(), 3u);
  EXPECT_EQ(pool[0].authority(), "a:8001");
  EXPECT_EQ(pool[0].bootstrap_port, 8998);
  EXPECT_EQ(pool[1].authority(), "a:8002");
  EXPECT_EQ(pool[1].bootstrap_port, 8999);
  EXPECT_EQ(pool[2].authority(), "b:9001");
  EXPECT_EQ(pool[2].bootstrap_port, 7000);
  for (const auto& d : r.config->decoders) EXPECT_FALSE(d.bootstrap_port);
}

TEST(cli_bootstrap_ports, a_count_other_than_the_hosts_is_a_usage_error) {
  const auto r = parse_args({"--prefiller-hosts", "a", "b", "--prefiller-ports", "8001", "8001",
                             "--prefiller-bootstrap-ports", "8998"});
  EXPECT_FALSE(r.config);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("--prefiller-bootstrap-ports has 1 value(s) but --prefiller-hosts has 2"),
            std::string::npos)
      << r.output;
}

TEST(cli_bootstrap_ports, values_out_of_range_are_refused) {
  for (const auto& bad : {"0", "65536", "x"}) {
    const auto r = parse_args({"--prefiller-bootstrap-ports", bad});
    EXPECT_EQ(r.exit_code, 2) << bad;
    EXPECT_NE(r.output.find("--prefiller-bootstrap-ports"), std::string::npos) << r.output;
  }
  const auto past = parse_args({"--prefiller-ports", "8001", "--prefiller-ports-inc", "3",
                                "--prefiller-hosts-num", "3", "--prefiller-bootstrap-ports", "65534"});
  EXPECT_EQ(past.exit_code, 2);
  EXPECT_NE(past.output.find("goes past 65535"), std::string::npos) << past.output;
}

TEST(cli_bootstrap_ports, the_pd_protocol_lists_both_families) {
  const auto r = parse_args({"--pd-protocol", "nope"});
  EXPECT_NE(r.output.find("two-stage, sglang-bootstrap"), std::string::npos) << r.output;
}

TEST(cli_bootstrap_ports, a_reload_gives_added_prefillers_their_port_and_keeps_the_kept_ones) {
  proxy_config old, next;
  old.prefillers = {backend_address{"a", 1, 8998}};
  next.prefillers = {backend_address{"a", 1, 7000}, backend_address{"b", 1, 7001}};
  const auto plan = plan_reload(old, next);
  ASSERT_EQ(plan.pools.added_prefillers.size(), 1u);
  EXPECT_EQ(plan.pools.added_prefillers[0].bootstrap_port, 7001);
  EXPECT_TRUE(plan.pools.removed_prefillers.empty());
  EXPECT_NE(std::find(plan.ignored.begin(), plan.ignored.end(), "--prefiller-bootstrap-ports"),
            plan.ignored.end());
  next.prefillers[0].bootstrap_port = 8998;
  const auto same = plan_reload(old, next);
  EXPECT_EQ(std::find(same.ignored.begin(), same.ignored.end(), "--prefiller-bootstrap-ports"),
            same.ignored.end());
}

}  // namespace
}  // namespace pd_proxy
