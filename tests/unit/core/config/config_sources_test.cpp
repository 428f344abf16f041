// --config (TOML), PD_PROXY_* variables and their precedence: command line > environment > file > defaults.
#include "pd_proxy/core/config/config_sources.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <map>

#include "pd_proxy/core/config/cli.hpp"

namespace pd_proxy {
namespace {

// A TOML file in the test's temporary directory, removed at the end.
class temp_file {
 public:
  explicit temp_file(const std::string& text)
      : path_(testing::TempDir() + "pd-proxy-config-" + std::to_string(::getpid()) + "-" +
              std::to_string(counter_++) + ".toml") {
    std::ofstream(path_) << text;
  }
  ~temp_file() { std::remove(path_.c_str()); }
  const std::string& path() const { return path_; }

 private:
  static inline int counter_ = 0;
  std::string path_;
};

cli_outcome run(std::vector<std::string> args, std::map<std::string, std::string> env = {}) {
  std::vector<std::string> words{"pd-proxy"};
  words.insert(words.end(), args.begin(), args.end());
  std::vector<const char*> argv;
  for (const auto& w : words) argv.push_back(w.c_str());
  return parse_command_line(static_cast<int>(argv.size()), argv.data(),
                            [env](const std::string& name) -> std::optional<std::string> {
                              const auto it = env.find(name);
                              if (it == env.end()) return std::nullopt;
                              return it->second;
                            });
}

std::vector<std::string> authorities(const std::vector<backend_address>& pool) {
  std::vector<std::string> out;
  for (const auto& b : pool) out.push_back(b.authority());
  return out;
}

TEST(config_sources, names) {
  EXPECT_EQ(env_name_of("--prefiller-ports"), "PD_PROXY_PREFILLER_PORTS");
  EXPECT_EQ(env_name_of("--port"), "PD_PROXY_PORT");
  EXPECT_EQ(normalize_config_key("prefiller_ports"), "prefiller-ports");
  EXPECT_EQ(normalize_config_key("--prefiller-ports"), "prefiller-ports");
  EXPECT_EQ(normalize_config_key("max-retries"), "max-retries");
}

TEST(config_sources, a_file_sets_every_kind_of_flag_with_either_spelling) {
  const temp_file file(R"(# the seed's topology, smaller
host = "0.0.0.0"
port = 8100
prefiller_hosts = ["10.0.0.1", "10.0.0.2"]   # underscores
prefiller-ports = [
  9000,  # node 1
  9100,  # node 2, with a trailing comma
]
decoder-hosts = ["[::1]"]
decoder-ports = [9200]
decoder-ports-inc = [3]
decoder-hosts-num = [3]
max-retries = 5
retry_delay = 0.5
decode-retry-kv = "reprefill"
ignore-client-half-close = true
log-level = "DEBUG"
backend-api-key = "k#not-a-comment"
)");
  const auto r = run({"--config", file.path()});
  ASSERT_TRUE(r.config) << r.output;
  EXPECT_EQ(r.config->host, "0.0.0.0");
  EXPECT_EQ(r.config->port, 8100);
  EXPECT_EQ(authorities(r.config->prefillers), (std::vector<std::string>{"10.0.0.1:9000", "10.0.0.2:9100"}));
  EXPECT_EQ(authorities(r.config->decoders),
            (std::vector<std::string>{"[::1]:9200", "[::1]:9201", "[::1]:9202"}));
  EXPECT_EQ(r.config->max_retries, 5);
  EXPECT_EQ(r.config->retry_delay.count(), 0.5);
  EXPECT_EQ(r.config->decode_retry_kv, decode_retry_kv::reprefill);
  EXPECT_TRUE(r.config->ignore_client_half_close);
  EXPECT_EQ(r.config->log_level, "debug");
  EXPECT_EQ(r.config->backend_api_key, "k#not-a-comment");
  EXPECT_FALSE(r.check_config);
}

TEST(config_sources, precedence_is_command_line_then_environment_then_file_then_defaults) {
  const temp_file file("port = 8101\nmax-retries = 7\nconnect-timeout = 9\nprefiller-ports = [9001]\n");
  const std::map<std::string, std::string> env{
      {"PD_PROXY_PORT", "8102"}, {"PD_PROXY_MAX_RETRIES", "8"}, {"PD_PROXY_PREFILLER_PORTS", "9002"}};
  const auto r = run({"--config", file.path(), "--port", "8103"}, env);
  ASSERT_TRUE(r.config) << r.output;
  EXPECT_EQ(r.config->port, 8103);                    // command line
  EXPECT_EQ(r.config->max_retries, 8);                // environment over the file
  EXPECT_EQ(r.config->connect_timeout.count(), 9);    // file over the default
  EXPECT_EQ(r.config->prefill_timeout.count(), 600);  // default
  EXPECT_EQ(authorities(r.config->prefillers), (std::vector<std::string>{"localhost:9002"}));
  // The command line's list wins over the environment's whole list.
  const auto r2 =
      run({"--config", file.path(), "--prefiller-ports", "9003", "9004", "--prefiller-hosts", "a", "b"}, env);
  ASSERT_TRUE(r2.config) << r2.output;
  EXPECT_EQ(authorities(r2.config->prefillers), (std::vector<std::string>{"a:9003", "b:9004"}));
}

TEST(config_sources, the_environment_sets_lists_switches_and_the_file_itself) {
  const temp_file file("max-retries = 4\n");
  const auto r = run({}, {{"PD_PROXY_CONFIG", file.path()},
                          {"PD_PROXY_DECODER_HOSTS", "h1, h2"},
                          {"PD_PROXY_DECODER_PORTS", "9000 9001"},
                          {"PD_PROXY_IGNORE_CLIENT_HALF_CLOSE", "yes"},
                          {"PD_PROXY_WORKERS", "3"}});
  ASSERT_TRUE(r.config) << r.output;
  EXPECT_EQ(r.config->max_retries, 4);
  EXPECT_EQ(authorities(r.config->decoders), (std::vector<std::string>{"h1:9000", "h2:9001"}));
  EXPECT_TRUE(r.config->ignore_client_half_close);
  EXPECT_EQ(r.config->workers, 3u);
  const auto off = run({}, {{"PD_PROXY_IGNORE_CLIENT_HALF_CLOSE", "0"}});
  ASSERT_TRUE(off.config) << off.output;
  EXPECT_FALSE(off.config->ignore_client_half_close);
}

TEST(config_sources, bad_values_are_usage_errors_that_name_the_setting) {
  const auto expect_error = [](const cli_outcome& r, const std::string& mention) {
    EXPECT_FALSE(r.config);
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.output.find(mention), std::string::npos) << r.output;
  };
  const temp_file bad_port("port = 70000\n");
  expect_error(run({"--config", bad_port.path()}), "--port: '70000' is out of range");
  const temp_file unknown("prefill-hosts = [\"a\"]\n");
  expect_error(run({"--config", unknown.path()}), "unknown key 'prefill-hosts'");
  const temp_file table("[pools]\nport = 1\n");
  expect_error(run({"--config", table.path()}), "tables");
  const temp_file nested("config = \"other.toml\"\n");
  expect_error(run({"--config", nested.path()}), "config");
  expect_error(run({"--config", "/nonexistent/pd-proxy.toml"}), "/nonexistent/pd-proxy.toml");
  expect_error(run({}, {{"PD_PROXY_PORT", "abc"}}), "--port: 'abc'");
  expect_error(run({}, {{"PD_PROXY_IGNORE_CLIENT_HALF_CLOSE", "maybe"}}),
               "PD_PROXY_IGNORE_CLIENT_HALF_CLOSE");
  // The environment's pools are checked like the command line's.
  expect_error(run({}, {{"PD_PROXY_PREFILLER_PORTS", "1 2"}}), "prefiller");
}

TEST(config_sources, check_config_reports_validity) {
  const temp_file good("port = 8104\n");
  const auto ok = run({"--check-config", "--config", good.path()});
  ASSERT_TRUE(ok.config) << ok.output;
  EXPECT_TRUE(ok.check_config);
  const temp_file bad("port = -1\n");
  const auto invalid = run({"--check-config", "--config", bad.path()});
  EXPECT_FALSE(invalid.config);
  EXPECT_EQ(invalid.exit_code, 2);
}

// TOML forbids setting a key twice; so does --config, in either spelling, naming the second line.
TEST(config_sources, a_key_set_twice_is_refused_with_its_line) {
  const temp_file twice("port = 8100\nmax-retries = 2\nport = 8200\n");
  auto r = run({"--check-config", "--config", twice.path()});
  EXPECT_FALSE(r.config);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("--config: line 3: 'port' is set again (first on line 1)"), std::string::npos)
      << r.output;
  const temp_file spellings("max_retries = 1\n\nmax-retries = 2\n");
  r = run({"--config", spellings.path()});
  EXPECT_FALSE(r.config);
  EXPECT_NE(r.output.find("line 3: 'max-retries' is set again"), std::string::npos) << r.output;
}

// Strings are TOML strings: escapes decoded; an unterminated one is an error, not part of the value.
TEST(config_sources, strings_are_read_as_toml_reads_them) {
  const temp_file file(R"(backend-api-key = "a\tb"
health-check-path = '/he\alth'
access-log = """
/var/log/pd-proxy/access.log"""
)");
  auto r = run({"--config", file.path()});
  ASSERT_FALSE(r.config);  // a tab is a control character: refused as a key, which proves it was decoded
  EXPECT_NE(r.output.find("--backend-api-key: the key contains a control character"), std::string::npos)
      << r.output;
  const temp_file decoded("backend-api-key = \"caf\\u00e9\"\nhealth-check-path = '/he\\alth'\n");
  r = run({"--config", decoded.path()});
  ASSERT_TRUE(r.config) << r.output;
  EXPECT_EQ(r.config->backend_api_key, "caf\xC3\xA9");
  EXPECT_EQ(r.config->health_check_path, "/he\\alth");
  const temp_file unterminated("host = \"127.0.0.1\nport = 8100\n");
  r = run({"--check-config", "--config", unterminated.path()});
  EXPECT_FALSE(r.config);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("--config: line 1: a string has no closing"), std::string::npos) << r.output;
}

// A TOML error never quotes the value: it may be a key.
TEST(config_sources, file_errors_never_print_a_value) {
  for (const std::string text :
       {"api-key = \"sk-part1\n", "api-key = sk-part1\n", "api-key = \"sk-part1\" \"sk-part2\"\n",
        "api-key = [\"sk-part1\", sk-part2]\n", "admin-api-key = [\"sk-part1\", \"sk-part2\"]\n"}) {
    const temp_file file(text);
    const auto r = run({"--config", file.path()});
    EXPECT_FALSE(r.config) << text;
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_EQ(r.output.find("sk-part"), std::string::npos) << r.output;
  }
}

TEST(config_sources, help_names_the_environment_variables_and_the_precedence) {
  const auto r = run({"--help"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.output.find("PD_PROXY_PREFILLER_PORTS"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("--config"), std::string::npos);
  EXPECT_NE(r.output.find("precedence"), std::string::npos);
  EXPECT_EQ(r.output.find("PD_PROXY_HELP"), std::string::npos);
}

}  // namespace
}  // namespace pd_proxy
