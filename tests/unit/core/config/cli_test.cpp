#include "pd_proxy/core/config/cli.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <limits>
#include <sstream>
#include <string_view>

namespace pd_proxy {
namespace {

cli_outcome parse_words(std::vector<std::string> args,
                        std::optional<std::string> api_key_env = std::nullopt) {
  std::vector<std::string> words{"pd-proxy"};
  words.insert(words.end(), args.begin(), args.end());
  std::vector<const char*> argv;
  for (const auto& w : words) argv.push_back(w.c_str());
  return parse_command_line(static_cast<int>(argv.size()), argv.data(),
                            [&](const std::string& name) -> std::optional<std::string> {
                              if (name == "OPENAI_API_KEY") return api_key_env;
                              return std::nullopt;
                            });
}

cli_outcome parse(const std::string& line, std::optional<std::string> api_key_env = std::nullopt) {
  std::vector<std::string> words;
  std::istringstream in(line);
  for (std::string w; in >> w;) words.push_back(w);
  return parse_words(std::move(words), std::move(api_key_env));
}

// The longest run of decimal digits in `s` (a range error must not print a 300-digit number).
std::size_t longest_digit_run(std::string_view s) {
  std::size_t longest = 0, run = 0;
  for (const char c : s) {
    run = (c >= '0' && c <= '9') ? run + 1 : 0;
    longest = std::max(longest, run);
  }
  return longest;
}

// A usage error: no config, exit code 2, the flag and every `mentions` in the message, no endless number.
void expect_usage_error(const cli_outcome& r, const std::string& line, const std::string& flag,
                        const std::vector<std::string>& mentions = {}) {
  EXPECT_FALSE(r.config) << line;
  EXPECT_EQ(r.exit_code, 2) << line;
  EXPECT_NE(r.output.find(flag), std::string::npos) << line << " -> " << r.output;
  for (const auto& m : mentions) EXPECT_NE(r.output.find(m), std::string::npos) << line << " -> " << r.output;
  EXPECT_LE(longest_digit_run(r.output), 24u) << line << " -> " << r.output;
  EXPECT_LT(r.output.size(), 400u) << line << " -> " << r.output;
}

const std::vector<std::string> duration_flags{
    "--connect-timeout",     "--prefill-timeout",       "--first-token-timeout",
    "--stream-idle-timeout", "--client-header-timeout", "--client-idle-timeout",
    "--shutdown-timeout",    "--retry-delay",           "--waiting-retry-interval"};

const std::vector<std::string> timeout_flags{
    "--connect-timeout",       "--prefill-timeout",     "--first-token-timeout", "--stream-idle-timeout",
    "--client-header-timeout", "--client-idle-timeout", "--shutdown-timeout"};

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

TEST(cli, the_workers_default_is_the_same_in_code_and_on_the_command_line) {
  const auto r = parse("");
  ASSERT_TRUE(r.config);
  EXPECT_EQ(r.config->workers, proxy_config{}.workers);
  EXPECT_EQ(proxy_config{}.workers, default_workers());
  EXPECT_GE(default_workers(), 1u);
  EXPECT_LE(default_workers(), max_workers);
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
  for (const char* flag : {"--host",
                           "--port",
                           "--prefiller-hosts",
                           "--prefiller-hosts-num",
                           "--prefiller-ports",
                           "--prefiller-ports-inc",
                           "--decoder-hosts",
                           "--decoder-hosts-num",
                           "--decoder-ports",
                           "--decoder-ports-inc",
                           "--max-retries",
                           "--retry-delay",
                           "--max-waiting-retries",
                           "--waiting-retry-interval",
                           "--workers",
                           "--log-level",
                           "--connect-timeout",
                           "--prefill-timeout",
                           "--first-token-timeout",
                           "--stream-idle-timeout",
                           "--max-body-size",
                           "--backend-api-key"}) {
    EXPECT_NE(r.output.find(flag), std::string::npos) << flag;
  }
  EXPECT_NE(r.output.find("33554432"), std::string::npos);
  EXPECT_NE(r.output.find("localhost"), std::string::npos);
}

TEST(cli, durations_must_be_finite) {
  for (const auto& flag : duration_flags) {
    for (const char* value : {"nan", "NaN", "inf", "-inf", "infinity", "+inf", "-nan"}) {
      const std::string line = flag + " " + value;
      expect_usage_error(parse(line), line, flag,
                         {"finite number of seconds", std::string("'") + value + "'"});
    }
  }
}

TEST(cli, durations_beyond_what_a_timer_holds_are_refused_with_a_short_message) {
  for (const auto& flag : duration_flags) {
    for (const std::string& value :
         std::vector<std::string>{"1e10", "1000000000.5", "1e300", "1e400", "1" + std::string(300, '0')}) {
      const std::string line = flag + " " + value;
      expect_usage_error(parse(line), line, flag, {"1000000000 seconds"});
    }
  }
  for (const auto& flag : timeout_flags) {
    const auto r = parse(flag + " 1e300");
    EXPECT_NE(r.output.find("'1e300'"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("0 for no limit"), std::string::npos) << r.output;
  }
}

TEST(cli, durations_up_to_the_maximum_are_accepted) {
  const auto r = parse(
      "--connect-timeout 1e9 --prefill-timeout 0 --first-token-timeout 0.25 --stream-idle-timeout +2 "
      "--client-header-timeout 1e-9 --client-idle-timeout 1000000000 --shutdown-timeout 0 --retry-delay 0 "
      "--waiting-retry-interval 2.5e1");
  ASSERT_TRUE(r.config) << r.output;
  EXPECT_DOUBLE_EQ(r.config->connect_timeout.count(), 1e9);
  EXPECT_DOUBLE_EQ(r.config->prefill_timeout.count(), 0);
  EXPECT_DOUBLE_EQ(r.config->first_token_timeout.count(), 0.25);
  EXPECT_DOUBLE_EQ(r.config->stream_idle_timeout.count(), 2);
  EXPECT_DOUBLE_EQ(r.config->client_header_timeout.count(), 1e-9);
  EXPECT_DOUBLE_EQ(r.config->client_idle_timeout.count(), 1e9);
  EXPECT_DOUBLE_EQ(r.config->shutdown_timeout.count(), 0);
  EXPECT_DOUBLE_EQ(r.config->retry_delay.count(), 0);
  EXPECT_DOUBLE_EQ(r.config->waiting_retry_interval.count(), 25);
}

TEST(cli, durations_refuse_negative_tiny_and_malformed_values) {
  for (const auto& flag : duration_flags) {
    for (const char* value : {"-1", "-1e-300", "1e-10", "1e-400", "abc", "1s", "0x10", "", "1,5", "--"}) {
      const std::string line = flag + " '" + value + "'";
      expect_usage_error(parse_words({flag, value}), line, flag);
    }
  }
}

TEST(cli, integer_range_errors_print_the_value_as_typed_and_stay_short) {
  const std::vector<std::pair<std::string, std::string>> cases{
      {"--port 1e300", "--port"},
      {"--port 1" + std::string(300, '0'), "--port"},
      {"--port -1", "--port"},
      {"--port 8000.5", "--port"},
      {"--max-retries 99999999999999999999", "--max-retries"},
      {"--max-retries -99999999999999999999", "--max-retries"},
      {"--workers 1e400", "--workers"},
      {"--workers 4294967297", "--workers"},
      {"--max-body-size 1e300", "--max-body-size"},
      {"--max-body-size 18446744073709551616", "--max-body-size"},
      {"--max-connections -1", "--max-connections"},
      {"--max-idle-backend-connections 1e300", "--max-idle-backend-connections"},
      {"--max-waiting-retries 99999999999999999999", "--max-waiting-retries"},
      {"--max-buffered-body-bytes 1e300", "--max-buffered-body-bytes"},
      {"--decoder-ports 1e300", "--decoder-ports"},
      {"--decoder-ports-inc 99999999999999999999", "--decoder-ports-inc"},
      {"--prefiller-hosts-num 1e400", "--prefiller-hosts-num"},
  };
  for (const auto& [line, flag] : cases) expect_usage_error(parse(line), line, flag);
  const auto r = parse("--port 1e300");
  EXPECT_NE(r.output.find("'1e300'"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("between 0 and 65535"), std::string::npos) << r.output;
  const auto long_value = parse("--port 1" + std::string(300, '0'));
  EXPECT_NE(long_value.output.find("'10000000000000000000...'"), std::string::npos) << long_value.output;
}

TEST(cli, retry_and_limit_ranges) {
  EXPECT_EQ(parse("--max-retries 0").config->max_retries, 0);  // below 1 means 1, as in the reference
  EXPECT_EQ(parse("--max-retries -5").config->max_retries, -5);
  EXPECT_EQ(parse("--max-retries 100").config->max_retries, 100);
  expect_usage_error(parse("--max-retries 101"), "--max-retries 101", "--max-retries", {"100"});
  EXPECT_EQ(parse("--max-waiting-retries 0").config->max_waiting_retries, 0);
  EXPECT_EQ(parse("--max-waiting-retries 1000000").config->max_waiting_retries, 1000000);
  expect_usage_error(parse("--max-waiting-retries 1000001"), "", "--max-waiting-retries", {"1000000"});
  expect_usage_error(parse("--max-waiting-retries -1"), "", "--max-waiting-retries");
  EXPECT_EQ(parse("--max-idle-backend-connections 0").config->max_idle_backend_connections, 0u);
  EXPECT_EQ(parse("--max-idle-backend-connections 1000000").config->max_idle_backend_connections, 1000000u);
  expect_usage_error(parse("--max-idle-backend-connections 1000001"), "", "--max-idle-backend-connections");
  EXPECT_EQ(parse("--max-body-size 4294967296").config->max_body_size, 4294967296u);
  expect_usage_error(parse("--max-body-size 4294967297"), "", "--max-body-size", {"4294967296"});
  expect_usage_error(parse("--max-body-size 0"), "", "--max-body-size");
  EXPECT_EQ(parse("--max-connections 16777216").config->max_connections, 16777216u);
  expect_usage_error(parse("--max-connections 16777217"), "", "--max-connections");
  expect_usage_error(parse("--max-connections 0"), "", "--max-connections");
  EXPECT_EQ(parse("--workers 1024").config->workers, 1024u);
  expect_usage_error(parse("--workers 1025"), "", "--workers");
  EXPECT_EQ(parse("--port 0").config->port, 0);
  EXPECT_EQ(parse("--port 65535").config->port, 65535);
}

TEST(cli, pool_flags_that_overflowed_are_usage_errors) {
  const std::vector<std::pair<std::string, std::string>> cases{
      {"--decoder-ports-inc 9223372036854775807", "--decoder-ports-inc"},
      {"--decoder-hosts-num 9223372036854775807 --decoder-ports-inc 9223372036854775807", "--decoder-"},
      {"--decoder-hosts-num -9223372036854775808", "--decoder-hosts-num"},
      {"--decoder-ports 9223372036854775807", "--decoder-ports"},
      {"--prefiller-ports-inc 65535", "--prefiller-ports-inc"},
      {"--prefiller-hosts-num 65536 --prefiller-ports-inc 65536", "--prefiller-"},
      {"--decoder-hosts a b --decoder-hosts-num 40000 40000 --decoder-ports 1 1 --decoder-ports-inc 40000 "
       "40000",
       "--decoder-hosts"},
  };
  for (const auto& [line, flag] : cases) expect_usage_error(parse(line), line, flag);
}

TEST(cli, bracketed_ipv6_literals_reach_the_pool_without_brackets) {
  const auto r = parse("--prefiller-hosts [::1] --prefiller-ports 9000");
  ASSERT_TRUE(r.config) << r.output;
  ASSERT_EQ(r.config->prefillers.size(), 1u);
  EXPECT_EQ(r.config->prefillers[0].host, "::1");
  EXPECT_EQ(r.config->prefillers[0].authority(), "[::1]:9000");

  const auto both = parse("--decoder-hosts [::1] ::1 [2001:db8::1] --decoder-ports 1 2 3");
  ASSERT_TRUE(both.config) << both.output;
  ASSERT_EQ(both.config->decoders.size(), 3u);
  EXPECT_EQ(both.config->decoders[0].host, "::1");
  EXPECT_EQ(both.config->decoders[1].host, "::1");
  EXPECT_EQ(both.config->decoders[2].authority(), "[2001:db8::1]:3");

  const auto equals = parse("--prefiller-hosts=[::1] --prefiller-ports=9000");
  ASSERT_TRUE(equals.config) << equals.output;
  EXPECT_EQ(equals.config->prefillers[0].authority(), "[::1]:9000");

  const auto listener = parse("--host [::1]");
  ASSERT_TRUE(listener.config) << listener.output;
  EXPECT_EQ(listener.config->host, "::1");
  EXPECT_EQ(parse("--host ::").config->host, "::");
}

TEST(cli, malformed_brackets_and_hosts_are_usage_errors) {
  for (const std::string flag : {"--prefiller-hosts", "--decoder-hosts", "--host"}) {
    for (const char* value : {"[::1", "::1]", "[]", "[host name]", "[localhost]", "[::1],[::2]", "[a,b]",
                              "localhost:8001", "[::1]:9000", ""}) {
      expect_usage_error(parse_words({flag, value}), flag + " '" + value + "'", flag);
    }
  }
  // CLI11 takes the next word as the required first value even when it is a flag.
  expect_usage_error(parse("--prefiller-hosts --port 1"), "", "--prefiller-hosts", {"'--port'"});
  const auto r = parse("--prefiller-hosts [::1");
  EXPECT_NE(r.output.find("'[::1'"), std::string::npos) << r.output;
}

TEST(cli, a_flag_given_twice_takes_the_last_value) {
  EXPECT_EQ(parse("--port 1 --port 2").config->port, 2);
  EXPECT_EQ(parse("--max-retries 1 --max-retries 5").config->max_retries, 5);
  EXPECT_EQ(parse("--log-level debug --log-level ERROR").config->log_level, "error");
  EXPECT_EQ(parse("--host a --host b").config->host, "b");
  EXPECT_DOUBLE_EQ(parse("--prefill-timeout 1 --prefill-timeout 2").config->prefill_timeout.count(), 2);
  EXPECT_EQ(parse("--backend-api-key x --backend-api-key y").config->backend_api_key, "y");
  EXPECT_EQ(parse("--decode-retry-kv reprefill --decode-retry-kv reuse").config->decode_retry_kv,
            decode_retry_kv::reuse);
  EXPECT_EQ(parse("--workers 3 --workers 2").config->workers, 2u);
  EXPECT_TRUE(
      parse("--ignore-client-half-close --ignore-client-half-close").config->ignore_client_half_close);
  EXPECT_EQ(parse("--max-body-size 7 --max-body-size 9").config->max_body_size, 9u);
}

TEST(cli, a_list_flag_given_twice_takes_the_last_list) {
  const auto r = parse("--prefiller-ports 1 2 --prefiller-ports 3");
  ASSERT_TRUE(r.config) << r.output;
  ASSERT_EQ(r.config->prefillers.size(), 1u);
  EXPECT_EQ(r.config->prefillers[0].authority(), "localhost:3");

  const auto hosts = parse("--decoder-hosts a b --decoder-ports 5 6 --decoder-hosts c --decoder-ports 7");
  ASSERT_TRUE(hosts.config) << hosts.output;
  ASSERT_EQ(hosts.config->decoders.size(), 1u);
  EXPECT_EQ(hosts.config->decoders[0].authority(), "c:7");

  const auto counts = parse(
      "--decoder-hosts-num 4 --decoder-ports-inc 4 --decoder-hosts-num 2 --decoder-ports 9000 "
      "--decoder-ports-inc 2");
  ASSERT_TRUE(counts.config) << counts.output;
  EXPECT_EQ(counts.config->decoders.size(), 2u);

  const auto three =
      parse("--prefiller-hosts a --prefiller-hosts b c --prefiller-hosts d e f --prefiller-ports 1 2 3");
  ASSERT_TRUE(three.config) << three.output;
  EXPECT_EQ(three.config->prefillers.size(), 3u);
  EXPECT_EQ(three.config->prefillers[0].host, "d");
}

TEST(cli, shutdown_timeout_zero_means_no_limit) {
  const auto r = parse("--shutdown-timeout 0");
  ASSERT_TRUE(r.config) << r.output;
  EXPECT_DOUBLE_EQ(r.config->shutdown_timeout.count(), 0);
  const auto help = parse("--help").output;
  const auto at = help.find("--drain-timeout");
  ASSERT_NE(at, std::string::npos);
  EXPECT_NE(help.substr(at, 400).find("0: no limit"), std::string::npos) << help.substr(at, 400);
}

TEST(cli, drain_timeout_and_its_alias_shutdown_timeout_set_the_same_value) {
  EXPECT_DOUBLE_EQ(parse("--drain-timeout 7").config->shutdown_timeout.count(), 7);
  EXPECT_DOUBLE_EQ(parse("--shutdown-timeout 8").config->shutdown_timeout.count(), 8);
  EXPECT_DOUBLE_EQ(proxy_config{}.shutdown_timeout.count(), 30);
}

TEST(cli, reliability_flags_have_the_issue_defaults_and_take_values) {
  const auto d = parse("");
  ASSERT_TRUE(d.config) << d.output;
  EXPECT_EQ(d.config->cb_failure_threshold, 3);
  EXPECT_DOUBLE_EQ(d.config->cb_recovery_timeout.count(), 10);
  EXPECT_DOUBLE_EQ(d.config->cb_max_recovery_timeout.count(), 300);
  EXPECT_DOUBLE_EQ(d.config->health_check_interval.count(), 5);
  EXPECT_EQ(d.config->health_check_path, "/health");
  EXPECT_DOUBLE_EQ(d.config->health_check_timeout.count(), 2);
  EXPECT_EQ(d.config->unhealthy_threshold, 2);
  EXPECT_EQ(d.config->healthy_threshold, 1);
  EXPECT_EQ(d.config->max_inflight, 0u);
  EXPECT_EQ(d.config->max_queue, 1024u);
  EXPECT_DOUBLE_EQ(d.config->queue_timeout.count(), 30);

  const auto r = parse(
      "--cb-failure-threshold 5 --cb-recovery-timeout 1.5 --cb-max-recovery-timeout 60 "
      "--health-check-interval 0 --health-check-path /v1/models --health-check-timeout 0.5 "
      "--unhealthy-threshold 3 --healthy-threshold 2 --max-inflight 100 --max-queue 10 --queue-timeout 2");
  ASSERT_TRUE(r.config) << r.output;
  EXPECT_EQ(r.config->cb_failure_threshold, 5);
  EXPECT_DOUBLE_EQ(r.config->cb_recovery_timeout.count(), 1.5);
  EXPECT_DOUBLE_EQ(r.config->cb_max_recovery_timeout.count(), 60);
  EXPECT_DOUBLE_EQ(r.config->health_check_interval.count(), 0);
  EXPECT_EQ(r.config->health_check_path, "/v1/models");
  EXPECT_DOUBLE_EQ(r.config->health_check_timeout.count(), 0.5);
  EXPECT_EQ(r.config->unhealthy_threshold, 3);
  EXPECT_EQ(r.config->healthy_threshold, 2);
  EXPECT_EQ(r.config->max_inflight, 100u);
  EXPECT_EQ(r.config->max_queue, 10u);
  EXPECT_DOUBLE_EQ(r.config->queue_timeout.count(), 2);
}

TEST(cli, bad_reliability_values_are_refused_naming_the_flag) {
  for (const char* line : {"--health-check-path health", "--unhealthy-threshold 0", "--healthy-threshold -1",
                           "--cb-failure-threshold -1", "--max-inflight -5", "--health-check-interval x"}) {
    const auto r = parse(line);
    EXPECT_FALSE(r.config) << line;
    EXPECT_EQ(r.exit_code, 2) << line;
    const std::string flag(line, std::string_view(line).find(' '));
    EXPECT_NE(r.output.find(flag), std::string::npos) << r.output;
  }
}

TEST(cli, new_flags_have_documented_defaults) {
  const auto r = parse("");
  ASSERT_TRUE(r.config) << r.output;
  EXPECT_EQ(r.config->max_buffered_body_bytes, 268435456u);
  EXPECT_EQ(r.config->decode_retry_kv, decode_retry_kv::reuse);
  EXPECT_FALSE(r.config->ignore_client_half_close);
  EXPECT_LE(r.config->workers, 1024u);
  EXPECT_EQ(r.config->max_waiting_retries, 3);
  EXPECT_EQ(r.config->max_idle_backend_connections, 64u);
  EXPECT_EQ(r.config->max_connections, 16384u);
  EXPECT_DOUBLE_EQ(r.config->shutdown_timeout.count(), 30);
  EXPECT_DOUBLE_EQ(r.config->waiting_retry_interval.count(), 10);
  EXPECT_DOUBLE_EQ(r.config->client_header_timeout.count(), 60);
  EXPECT_DOUBLE_EQ(r.config->client_idle_timeout.count(), 75);
}

TEST(cli, new_flags_parse) {
  const auto r =
      parse("--max-buffered-body-bytes 1024 --decode-retry-kv reprefill --ignore-client-half-close");
  ASSERT_TRUE(r.config) << r.output;
  EXPECT_EQ(r.config->max_buffered_body_bytes, 1024u);
  EXPECT_EQ(r.config->decode_retry_kv, decode_retry_kv::reprefill);
  EXPECT_TRUE(r.config->ignore_client_half_close);
  EXPECT_EQ(parse("--decode-retry-kv reuse").config->decode_retry_kv, decode_retry_kv::reuse);

  expect_usage_error(parse("--max-buffered-body-bytes 0"), "", "--max-buffered-body-bytes");
  expect_usage_error(parse("--max-buffered-body-bytes -1"), "", "--max-buffered-body-bytes");
  expect_usage_error(parse("--decode-retry-kv maybe"), "", "--decode-retry-kv",
                     {"reuse", "reprefill", "'maybe'"});
  expect_usage_error(parse("--decode-retry-kv"), "", "--decode-retry-kv");
  expect_usage_error(parse("--ignore-client-half-close yes"), "", "yes");
}

TEST(cli, pd_protocol_takes_a_registered_family) {
  EXPECT_EQ(parse("").config->pd_protocol, "two-stage");
  const auto r = parse("--pd-protocol two-stage");
  ASSERT_TRUE(r.config) << r.output;
  EXPECT_EQ(r.config->pd_protocol, "two-stage");
  expect_usage_error(parse("--pd-protocol foo"), "--pd-protocol foo", "--pd-protocol",
                     {"'foo'", "two-stage"});
  expect_usage_error(parse("--pd-protocol"), "--pd-protocol", "--pd-protocol");
}

TEST(cli, help_lists_the_new_flags) {
  const auto r = parse("--help");
  for (const char* flag : {"--max-buffered-body-bytes", "--decode-retry-kv", "--ignore-client-half-close",
                           "--shutdown-timeout", "--client-header-timeout", "--client-idle-timeout",
                           "--max-connections", "--max-idle-backend-connections"}) {
    EXPECT_NE(r.output.find(flag), std::string::npos) << flag;
  }
  EXPECT_NE(r.output.find("268435456"), std::string::npos);
}

TEST(cli, never_throws_on_hostile_input) {
  const std::vector<std::vector<std::string>> lines{
      {"--port"},
      {"--port", "--port"},
      {"--prefiller-hosts"},
      {"--prefiller-ports", "1", "--prefiller-ports"},
      {"--decoder-ports-inc", "9223372036854775807", "--decoder-hosts-num", "9223372036854775807"},
      {"--prefill-timeout", std::string(100000, '9')},
      {"--port", std::string(100000, '9')},
      {"--prefiller-hosts", std::string(100000, '[')},
      {"--prefiller-hosts", "[" + std::string(1000, ':') + "]"},
      {"--log-level", std::string(1, '\0')},
      {"--help", "--version"},
      {"positional"},
      {"-x"},
      {"--=1"},
      {"--"},
  };
  for (const auto& words : lines) {
    cli_outcome r;
    EXPECT_NO_THROW(r = parse_words(words));
    if (!r.config) {
      EXPECT_TRUE(r.exit_code == 0 || r.exit_code == 2) << r.exit_code << " " << r.output;
    }
  }
}

TEST(cli, parse_seconds_contract) {
  EXPECT_DOUBLE_EQ(parse_seconds("--x", "1.5", true).value, 1.5);
  EXPECT_DOUBLE_EQ(parse_seconds("--x", "+1e9", true).value, 1e9);
  EXPECT_DOUBLE_EQ(parse_seconds("--x", "-0", true).value, 0);
  const auto nan = parse_seconds("--x", "nan", true);
  EXPECT_EQ(nan.error, "--x: 'nan' must be a finite number of seconds");
  const auto big = parse_seconds("--x", "1e300", true);
  EXPECT_EQ(
      big.error,
      "--x: '1e300' is too large: the maximum is 1000000000 seconds (about 31 years); use 0 for no limit");
  const auto big_delay = parse_seconds("--x", "1e300", false);
  EXPECT_EQ(big_delay.error, "--x: '1e300' is too large: the maximum is 1000000000 seconds (about 31 years)");
  EXPECT_EQ(parse_seconds("--x", "-1", true).error, "--x: '-1' must not be negative");
  EXPECT_FALSE(parse_seconds("--x", "1e-10", true).ok());
}

TEST(cli, parse_integer_contract) {
  EXPECT_EQ(parse_integer("--x", "42", 0, 100).value, 42);
  EXPECT_EQ(parse_integer("--x", "+42", 0, 100).value, 42);
  EXPECT_EQ(parse_integer("--x", "-42", -100, 100).value, -42);
  EXPECT_EQ(parse_integer("--x", "-9223372036854775808", std::numeric_limits<long long>::min(), 0).value,
            std::numeric_limits<long long>::min());
  EXPECT_EQ(parse_integer("--x", "101", 0, 100).error,
            "--x: '101' is out of range (expected an integer between 0 and 100)");
  EXPECT_EQ(parse_integer("--x", "1e3", 0, 100).error,
            "--x: '1e3' is not an integer (expected an integer between 0 and 100)");
  EXPECT_EQ(parse_integer("--x", "101", -5, 100, "at most 100").error,
            "--x: '101' is out of range (expected at most 100)");
  for (const char* bad : {"", "+", "-", " 1", "1 ", "0x10", "1.0", "1e3", "١"}) {
    EXPECT_FALSE(parse_integer("--x", bad, 0, 100).ok()) << bad;
  }
}

TEST(cli, quote_for_message_shortens_long_values) {
  EXPECT_EQ(quote_for_message("1e300"), "'1e300'");
  EXPECT_EQ(quote_for_message(std::string(24, '9')), "'" + std::string(24, '9') + "'");
  EXPECT_EQ(quote_for_message(std::string(25, '9')), "'" + std::string(20, '9') + "...'");
}

TEST(cli, parse_decode_retry_kv_contract) {
  EXPECT_EQ(parse_decode_retry_kv("reuse"), decode_retry_kv::reuse);
  EXPECT_EQ(parse_decode_retry_kv("reprefill"), decode_retry_kv::reprefill);
  EXPECT_EQ(parse_decode_retry_kv("Reuse"), std::nullopt);
  EXPECT_EQ(parse_decode_retry_kv(""), std::nullopt);
  EXPECT_EQ(to_string(decode_retry_kv::reprefill), "reprefill");
}

}  // namespace
}  // namespace pd_proxy

namespace pd_proxy {
namespace {

TEST(cli, a_backend_key_is_trimmed_and_refused_with_a_line_break_inside) {
  const auto from_file = parse("", std::string("sk-abc\n"));
  ASSERT_TRUE(from_file.config) << from_file.output;
  EXPECT_EQ(from_file.config->backend_api_key, "sk-abc");
  const auto injected = parse_words({"--backend-api-key", "k\r\nTransfer-Encoding: chunked"});
  EXPECT_EQ(injected.exit_code, 2);
  EXPECT_NE(injected.output.find("--backend-api-key"), std::string::npos) << injected.output;
  const auto from_env = parse("", std::string("a\nb"));
  EXPECT_EQ(from_env.exit_code, 2);
  EXPECT_NE(from_env.output.find("OPENAI_API_KEY"), std::string::npos) << from_env.output;
}

}  // namespace
}  // namespace pd_proxy

namespace pd_proxy {
namespace {

TEST(cli_scheduling, every_policy_name_is_accepted_for_both_roles_and_others_are_usage_errors) {
  for (const char* name : {"least-loaded", "round-robin", "random", "power-of-two", "prefix-affinity",
                           "session-affinity", "queue-aware"}) {
    const auto r = parse(std::string("--prefill-policy ") + name + " --decode-policy " + name);
    ASSERT_TRUE(r.config) << name << ": " << r.output;
    EXPECT_EQ(r.config->prefill_policy, name);
    EXPECT_EQ(r.config->decode_policy, name);
  }
  expect_usage_error(parse("--prefill-policy cache_aware"), "", "--prefill-policy", {"cache_aware"});
  expect_usage_error(parse("--decode-policy Least-Loaded"), "", "--decode-policy");
}

TEST(cli_scheduling, affinity_load_factor_is_a_number_from_1_to_100) {
  EXPECT_EQ(parse("").config->affinity_load_factor, 1.25);
  EXPECT_EQ(parse("--affinity-load-factor 1").config->affinity_load_factor, 1.0);
  EXPECT_EQ(parse("--affinity-load-factor +1.5").config->affinity_load_factor, 1.5);
  EXPECT_EQ(parse("--affinity-load-factor 100").config->affinity_load_factor, 100.0);
  for (const char* bad : {"0.99", "100.5", "nan", "inf", "-2", "1.5x", "x"})
    expect_usage_error(parse(std::string("--affinity-load-factor ") + bad), bad, "--affinity-load-factor");
  expect_usage_error(parse_words({"--affinity-load-factor", ""}), "empty", "--affinity-load-factor");
}

TEST(cli_scheduling, session_header_must_be_a_header_name) {
  EXPECT_EQ(parse("").config->session_header, "X-Session-Id");
  EXPECT_EQ(parse("--session-header X-Conversation").config->session_header, "X-Conversation");
  for (const char* bad : {"X Id", "X:Y", "", "X-Id\r\nEvil: 1"})
    expect_usage_error(parse_words({"--session-header", bad}), bad, "--session-header");
}

TEST(cli_scheduling, scrape_interval_and_disaggregation_threshold) {
  const auto defaults = parse("");
  EXPECT_EQ(defaults.config->metrics_scrape_interval.count(), 1.0);
  EXPECT_EQ(defaults.config->disagg_min_prompt_tokens, 0u);
  EXPECT_EQ(parse("--metrics-scrape-interval 0").config->metrics_scrape_interval.count(), 0.0);
  EXPECT_EQ(parse("--metrics-scrape-interval 0.25").config->metrics_scrape_interval.count(), 0.25);
  expect_usage_error(parse("--metrics-scrape-interval -1"), "", "--metrics-scrape-interval");
  expect_usage_error(parse("--metrics-scrape-interval soon"), "", "--metrics-scrape-interval");
  EXPECT_EQ(parse("--disagg-min-prompt-tokens 512").config->disagg_min_prompt_tokens, 512u);
  expect_usage_error(parse("--disagg-min-prompt-tokens -1"), "", "--disagg-min-prompt-tokens");
}

}  // namespace
}  // namespace pd_proxy
