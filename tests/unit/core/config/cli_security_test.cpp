// The security and logging flags: --api-key(-file), $PD_PROXY_API_KEY, --admin-api-key, --tls-*,
// --log-format.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "pd_proxy/core/config/cli.hpp"

namespace pd_proxy {
namespace {

cli_outcome parse_with_env(std::vector<std::string> args, std::map<std::string, std::string> env = {}) {
  std::vector<std::string> words{"pd-proxy"};
  words.insert(words.end(), args.begin(), args.end());
  std::vector<const char*> argv;
  for (const auto& w : words) argv.push_back(w.c_str());
  return parse_command_line(static_cast<int>(argv.size()), argv.data(),
                            [&](const std::string& name) -> std::optional<std::string> {
                              const auto it = env.find(name);
                              if (it == env.end()) return std::nullopt;
                              return it->second;
                            });
}

// A file under the test's temporary directory, removed with the object.
struct temp_file {
  explicit temp_file(const std::string& name, const std::string& content)
      : path(::testing::TempDir() + "pd_proxy_cli_security_" + name) {
    std::ofstream(path, std::ios::binary) << content;
  }
  ~temp_file() { std::remove(path.c_str()); }
  std::string path;
};

TEST(cli_security, no_keys_by_default) {
  const auto out = parse_with_env({});
  ASSERT_TRUE(out.config);
  EXPECT_TRUE(out.config->api_keys.empty());
  EXPECT_TRUE(out.config->admin_api_key.empty());
  EXPECT_FALSE(out.config->forward_client_authorization);
  EXPECT_EQ(out.config->log_format, "text");
  EXPECT_TRUE(out.config->tls_cert.empty());
}

TEST(cli_security, api_key_is_repeatable) {
  const auto out = parse_with_env({"--api-key", "k1", "--api-key", "k2"});
  ASSERT_TRUE(out.config) << out.output;
  EXPECT_EQ(out.config->api_keys, (std::vector<std::string>{"k1", "k2"}));
}

TEST(cli_security, api_key_from_the_environment_unless_given) {
  auto out = parse_with_env({}, {{"PD_PROXY_API_KEY", "env-key"}});
  ASSERT_TRUE(out.config);
  EXPECT_EQ(out.config->api_keys, (std::vector<std::string>{"env-key"}));
  out = parse_with_env({"--api-key", "flag-key"}, {{"PD_PROXY_API_KEY", "env-key"}});
  ASSERT_TRUE(out.config);
  EXPECT_EQ(out.config->api_keys, (std::vector<std::string>{"flag-key"}));
  out = parse_with_env({}, {{"PD_PROXY_API_KEY", ""}});  // set but empty: no key
  ASSERT_TRUE(out.config);
  EXPECT_TRUE(out.config->api_keys.empty());
}

TEST(cli_security, api_key_file) {
  const temp_file file("keys", "# rotation: new key first\nnew-key\n\n  old-key  \n");
  const auto out = parse_with_env({"--api-key", "flag-key", "--api-key-file", file.path});
  ASSERT_TRUE(out.config) << out.output;
  EXPECT_EQ(out.config->api_keys, (std::vector<std::string>{"flag-key", "new-key", "old-key"}));
}

TEST(cli_security, unreadable_key_file_is_a_usage_error) {
  auto out = parse_with_env({"--api-key-file", "/nonexistent/pd-proxy-keys"});
  EXPECT_FALSE(out.config);
  EXPECT_EQ(out.exit_code, 2);
  EXPECT_NE(out.output.find("--api-key-file"), std::string::npos) << out.output;
  out = parse_with_env({"--api-key-file", "/"});  // a directory
  EXPECT_FALSE(out.config);
  EXPECT_EQ(out.exit_code, 2);
}

TEST(cli_security, bad_keys_are_refused) {
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"--api-key", ""}, {"--api-key", "a\nb"}, {"--admin-api-key", "  "}}) {
    const auto out = parse_with_env(args);
    EXPECT_FALSE(out.config) << args[0];
    EXPECT_EQ(out.exit_code, 2);
  }
}

TEST(cli_security, admin_key_from_flag_or_environment) {
  auto out = parse_with_env({"--admin-api-key", "adm"}, {{"PD_PROXY_ADMIN_API_KEY", "env-adm"}});
  ASSERT_TRUE(out.config);
  EXPECT_EQ(out.config->admin_api_key, "adm");
  out = parse_with_env({}, {{"PD_PROXY_ADMIN_API_KEY", "env-adm"}});
  ASSERT_TRUE(out.config);
  EXPECT_EQ(out.config->admin_api_key, "env-adm");
}

TEST(cli_security, forward_client_authorization_flag) {
  const auto out = parse_with_env({"--forward-client-authorization"});
  ASSERT_TRUE(out.config);
  EXPECT_TRUE(out.config->forward_client_authorization);
}

TEST(cli_security, tls_files_go_together_and_must_be_readable) {
  const temp_file cert("cert.pem", "cert"), key("key.pem", "key");
  auto out = parse_with_env({"--tls-cert", cert.path, "--tls-key", key.path});
  ASSERT_TRUE(out.config) << out.output;
  EXPECT_EQ(out.config->tls_cert, cert.path);
  EXPECT_EQ(out.config->tls_key, key.path);
  out = parse_with_env({"--tls-cert", cert.path});
  EXPECT_FALSE(out.config);
  EXPECT_EQ(out.exit_code, 2);
  out = parse_with_env({"--tls-cert", cert.path, "--tls-key", "/nonexistent/key.pem"});
  EXPECT_FALSE(out.config);
  EXPECT_EQ(out.exit_code, 2);
}

TEST(cli_security, log_format) {
  auto out = parse_with_env({"--log-format", "json"});
  ASSERT_TRUE(out.config);
  EXPECT_EQ(out.config->log_format, "json");
  out = parse_with_env({"--log-format", "xml"});
  EXPECT_FALSE(out.config);
  EXPECT_EQ(out.exit_code, 2);
}

// Fail closed: a key file with no key (empty, blank or comments only; e.g. truncated by a config tool while a
// reload reads it) is an error, not "no keys" (which would open the routes).
TEST(cli_security, a_key_file_without_a_key_is_refused) {
  for (const std::string content : {"", "\n\n", "# keys rotated on Mondays\n  \n# old-key\n"}) {
    const temp_file file("no_key", content);
    const auto out = parse_with_env({"--api-key-file", file.path});
    EXPECT_FALSE(out.config) << content;
    EXPECT_EQ(out.exit_code, 2);
    EXPECT_NE(out.output.find("--api-key-file"), std::string::npos) << out.output;
    EXPECT_NE(out.output.find("holds no key"), std::string::npos) << out.output;
    // Also when other keys are given: the file was meant to hold keys.
    EXPECT_FALSE(parse_with_env({"--api-key", "k", "--api-key-file", file.path}).config);
  }
}

// $PD_PROXY_API_KEY is one key, whatever it holds, like --api-key's value; no part of it is ever printed.
TEST(cli_security, api_key_variable_is_one_key_and_never_echoed) {
  for (const std::string key : {"part1,part2", "part1 part2", "[part1,part2]", "  part1 part2\t"}) {
    const auto out = parse_with_env({}, {{"PD_PROXY_API_KEY", key}});
    ASSERT_TRUE(out.config) << out.output;
    ASSERT_EQ(out.config->api_keys.size(), 1u) << key;
    EXPECT_NE(out.config->api_keys.front().find("part1"), std::string::npos);
    EXPECT_NE(out.config->api_keys.front().find("part2"), std::string::npos);
  }
  auto out = parse_with_env({}, {{"PD_PROXY_ADMIN_API_KEY", "adm part2,part3"}});
  ASSERT_TRUE(out.config) << out.output;
  EXPECT_EQ(out.config->admin_api_key, "adm part2,part3");
  // An invalid key from the variable: refused, naming the variable, not the key.
  out = parse_with_env({}, {{"PD_PROXY_API_KEY", "part1\npart2"}});
  EXPECT_FALSE(out.config);
  EXPECT_NE(out.output.find("$PD_PROXY_API_KEY"), std::string::npos) << out.output;
  EXPECT_EQ(out.output.find("part"), std::string::npos) << out.output;
}

// A key written apart from its flag (`--api-key part1 part2`, a key with a blank not quoted): the left-over
// part is not printed in the usage error.
TEST(cli_security, usage_errors_never_print_key_material) {
  for (const std::vector<std::string>& args : {std::vector<std::string>{"--api-key", "part1", "part2"},
                                               {"--admin-api-key", "part1", "part2"},
                                               {"--backend-api-key=part1", "part2"},
                                               {"--api-keys=part1"},
                                               {"--api-keys", "part1"}}) {
    const auto out = parse_with_env(args);
    EXPECT_FALSE(out.config) << args[0];
    EXPECT_EQ(out.exit_code, 2);
    EXPECT_EQ(out.output.find("part"), std::string::npos) << out.output;
    EXPECT_NE(out.output.find("unexpected argument"), std::string::npos) << out.output;
  }
  // Other left-overs are named, so that the message still helps.
  const auto out = parse_with_env({"--ignore-client-half-close", "yes"});
  EXPECT_NE(out.output.find("'yes'"), std::string::npos) << out.output;
}

}  // namespace
}  // namespace pd_proxy
