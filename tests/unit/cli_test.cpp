#include "pd_proxy/core/cli.hpp"

#include <gtest/gtest.h>

#include <sstream>

namespace pd_proxy {
namespace {

cli_outcome parse(const std::string& line, std::optional<std::string> api_key_env = std::nullopt) {
  std::vector<std::string> words{"pd-proxy"};
  std::istringstream in(line);
  for (std::string w; in >> w;) words.push_back(w);
  std::vector<const char*> argv;
  for (const auto& w : words) argv.push_back(w.c_str());
  return parse_command_line(static_cast<int>(argv.size()), argv.data(),
                            [&](const std::string& name) -> std::optional<std::string> {
                              if (name == "OPENAI_API_KEY") return api_key_env;
                              return std::nullopt;
                            });
}

TEST(cli, seed_guide_command_line_works_unchanged) {
  const auto r = parse(
      "--port 8000 --host 0.0.0.0 --prefiller-hosts 192.0.0.1 192.0.0.2 192.0.0.3 192.0.0.4 "
      "--prefiller-hosts-num 2 2 2 2 --prefiller-ports 9000 9000 9000 9000 --prefiller-ports-inc 2 2 2 2 "
      "--decoder-hosts 192.0.0.5 192.0.0.6 192.0.0.7 192.0.0.8 --decoder-hosts-num 16 16 16 16 "
      "--decoder-ports 9000 9000 9000 9000 --decoder-ports-inc 16 16 16 16");
  ASSERT_TRUE(r.config) << r.output;
  EXPECT_EQ(r.config->host, "0.0.0.0");
  EXPECT_EQ(r.config->port, 8000);
  EXPECT_EQ(r.config->prefillers.size(), 8u);
  EXPECT_EQ(r.config->decoders.size(), 64u);
  EXPECT_EQ(r.config->decoders[63].authority(), "192.0.0.8:9015");
}

TEST(cli, defaults_match_the_reference) {
  const auto r = parse("");
  ASSERT_TRUE(r.config) << r.output;
  EXPECT_EQ(r.config->host, "localhost");
  EXPECT_EQ(r.config->port, 8000);
  ASSERT_EQ(r.config->prefillers.size(), 1u);
  EXPECT_EQ(r.config->prefillers[0].authority(), "localhost:8001");
  EXPECT_EQ(r.config->decoders[0].authority(), "localhost:8002");
  EXPECT_EQ(r.config->max_retries, 3);
  EXPECT_DOUBLE_EQ(r.config->retry_delay.count(), 0.001);
  EXPECT_DOUBLE_EQ(r.config->connect_timeout.count(), 5.0);
  EXPECT_DOUBLE_EQ(r.config->prefill_timeout.count(), 600.0);
  EXPECT_DOUBLE_EQ(r.config->first_token_timeout.count(), 600.0);
  EXPECT_DOUBLE_EQ(r.config->stream_idle_timeout.count(), 300.0);
  EXPECT_EQ(r.config->max_body_size, 32u * 1024 * 1024);
  EXPECT_GE(r.config->workers, 1u);
  EXPECT_TRUE(r.config->backend_api_key.empty());
}

TEST(cli, later_reference_flags_are_accepted) {
  const auto r = parse("--workers 2 --log-level DEBUG --max-waiting-retries 5 --waiting-retry-interval 2.5");
  ASSERT_TRUE(r.config) << r.output;
  EXPECT_EQ(r.config->workers, 2u);
  EXPECT_EQ(r.config->log_level, "debug");
  EXPECT_EQ(r.config->max_waiting_retries, 5);
}

TEST(cli, backend_api_key_from_flag_or_environment) {
  EXPECT_EQ(parse("", "sk-env").config->backend_api_key, "sk-env");
  EXPECT_EQ(parse("--backend-api-key sk-flag", "sk-env").config->backend_api_key, "sk-flag");
}

TEST(cli, usage_errors_exit_2_and_name_the_flag) {
  const std::vector<std::pair<std::string, std::string>> cases{
      {"--no-such-flag", "--no-such-flag"},
      {"--prefiller-hosts a b --prefiller-ports 1", "--prefiller-hosts"},
      {"--decoder-hosts a --decoder-hosts-num 2 --decoder-ports 65535 --decoder-ports-inc 2",
       "--decoder-ports-inc"},
      {"--log-level loud", "--log-level"},
      {"--decode-policy magic", "--decode-policy"},
      {"--port 70000", "--port"},
      {"--workers 0", "--workers"},
  };
  for (const auto& [line, flag] : cases) {
    const auto r = parse(line);
    EXPECT_FALSE(r.config) << line;
    EXPECT_EQ(r.exit_code, 2) << line;
    EXPECT_NE(r.output.find(flag), std::string::npos) << line << " -> " << r.output;
  }
}

TEST(cli, help_lists_every_flag_with_defaults) {
  const auto r = parse("--help");
  EXPECT_FALSE(r.config);
  EXPECT_EQ(r.exit_code, 0);
  for (const char* flag :
       {"--host", "--port", "--prefiller-hosts", "--prefiller-hosts-num", "--prefiller-ports",
        "--prefiller-ports-inc", "--decoder-hosts", "--decoder-hosts-num", "--decoder-ports", "--decoder-ports-inc",
        "--max-retries", "--retry-delay", "--max-waiting-retries", "--waiting-retry-interval", "--workers",
        "--log-level", "--connect-timeout", "--prefill-timeout", "--first-token-timeout", "--stream-idle-timeout",
        "--max-body-size", "--backend-api-key"}) {
    EXPECT_NE(r.output.find(flag), std::string::npos) << flag;
  }
  EXPECT_NE(r.output.find("33554432"), std::string::npos);
  EXPECT_NE(r.output.find("localhost"), std::string::npos);
}

}  // namespace
}  // namespace pd_proxy
