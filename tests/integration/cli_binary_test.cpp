// The installed binaries' command lines: exit codes and messages.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace {

struct run_result {
  int exit_code;
  std::string output;
};

run_result run(const std::string& command) {
  run_result r{-1, {}};
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return r;
  char buf[4096];
  while (const auto n = std::fread(buf, 1, sizeof buf, pipe)) r.output.append(buf, n);
  const int status = ::pclose(pipe);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

TEST(cli_binary, usage_errors_exit_2_naming_the_flag) {
  const auto r = run(std::string(PD_PROXY_BINARY) + " --prefiller-hosts a b --prefiller-ports 8001");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("--prefiller-hosts"), std::string::npos) << r.output;
  EXPECT_EQ(run(std::string(PD_PROXY_BINARY) + " --unknown-flag").exit_code, 2);
  EXPECT_EQ(run(std::string(PD_PROXY_BINARY) +
                " --decoder-hosts h --decoder-hosts-num 4 --decoder-ports 65534 --decoder-ports-inc 4")
                .exit_code,
            2);
}

// Values that overflowed, aborted with bad_alloc or printed a 300-digit number: exit 2 with a short message.
TEST(cli_binary, hostile_values_exit_2_with_a_short_message) {
  for (const std::string args :
       {"--decoder-ports-inc 9223372036854775807", "--decoder-ports-inc 65535 --decoder-hosts-num 65535",
        "--prefiller-hosts-num 9223372036854775807 --prefiller-ports-inc 9223372036854775807",
        "--prefill-timeout nan", "--stream-idle-timeout 1e10", "--prefill-timeout 1e300", "--port 1e300",
        "--max-retries 99999999999999999999", "--workers 1e400", "--prefiller-hosts [::1",
        "--decode-retry-kv maybe"}) {
    const auto r = run(std::string(PD_PROXY_BINARY) + " " + args);
    EXPECT_EQ(r.exit_code, 2) << args << " -> " << r.output;
    EXPECT_NE(r.output.find(args.substr(0, args.find(' '))), std::string::npos) << args << " -> " << r.output;
    EXPECT_LT(r.output.size(), 300u) << args << " -> " << r.output;
  }
}

TEST(cli_binary, help_exits_0) {
  const auto r = run(std::string(PD_PROXY_BINARY) + " --help");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.output.find("--decoder-ports-inc"), std::string::npos);
  EXPECT_EQ(run(std::string(PD_MOCK_BINARY) + " --help").exit_code, 0);
  EXPECT_EQ(run(std::string(PD_MOCK_BINARY) + " --nope").exit_code, 2);
}

TEST(cli_binary, port_in_use_exits_1) {
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor taken(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
  taken.listen();
  const auto r = run(std::string(PD_PROXY_BINARY) + " --host 127.0.0.1 --port " +
                     std::to_string(taken.local_endpoint().port()));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("cannot listen"), std::string::npos) << r.output;
}

// A file under the test's temporary directory with `content`, removed at the end.
struct temp_file {
  temp_file(const std::string& name, const std::string& content)
      : path(testing::TempDir() + "pd-proxy-cli-" + std::to_string(::getpid()) + "-" + name) {
    std::ofstream(path, std::ios::binary) << content;
  }
  ~temp_file() { std::remove(path.c_str()); }
  std::string path;
};

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream all;
  all << in.rdbuf();
  return all.str();
}

// pd-proxy with `args` on a free loopback port, as --check-config and as a start; both must exit 2 naming
// `mention` (a start that got past its checks would serve until `timeout` ends it: exit 124, not 2).
void expect_check_and_start_exit_2(const std::string& args, const std::string& mention) {
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor probe(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
  const std::string port = std::to_string(probe.local_endpoint().port());
  probe.close();
  const std::string proxy = std::string(PD_PROXY_BINARY) + " --host 127.0.0.1 --port " + port + " " + args;
  for (const std::string mode : {"--check-config ", ""}) {
    const auto r = run("timeout 20 " + proxy + " " + mode);
    EXPECT_EQ(r.exit_code, 2) << mode << args << " -> " << r.output;
    EXPECT_NE(r.output.find(mention), std::string::npos) << mode << args << " -> " << r.output;
    EXPECT_EQ(r.output.find("configuration OK"), std::string::npos) << r.output;
  }
}

// --check-config (systemd's ExecStartPre) does what the start does short of binding: what it accepts starts.
TEST(cli_binary, check_config_refuses_what_the_start_would_refuse) {
  const temp_file unterminated("unterminated.toml", "host = \"127.0.0.1\nmax-retries = 2\n");
  expect_check_and_start_exit_2("--config " + unterminated.path, "--config: line 1: a string has no closing");
  const temp_file twice("twice.toml", "max-retries = 2\n# later, by another hand:\nmax_retries = 5\n");
  expect_check_and_start_exit_2("--config " + twice.path,
                                "--config: line 3: 'max-retries' is set again (first on line 1)");
  const temp_file no_key("no-key", "# keys are being rotated\n\n");
  expect_check_and_start_exit_2("--api-key-file " + no_key.path, "holds no key");
  const std::string missing_dir = testing::TempDir() + "pd-proxy-no-such-dir-" + std::to_string(::getpid());
  expect_check_and_start_exit_2("--access-log " + missing_dir + "/access.log", "--access-log: cannot open");
  expect_check_and_start_exit_2("--access-log " + testing::TempDir(), "--access-log: cannot open");
}

// The check opens the access log as the start does, for appending: an existing file keeps its lines, a file
// that did not exist is not left behind.
TEST(cli_binary, check_config_neither_truncates_nor_leaves_an_access_log) {
  const temp_file existing("access.log", "{\"earlier\":\"line\"}\n");
  auto r = run(std::string(PD_PROXY_BINARY) + " --check-config --access-log " + existing.path);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(read_all(existing.path), "{\"earlier\":\"line\"}\n");
  const std::string fresh = testing::TempDir() + "pd-proxy-cli-fresh-" + std::to_string(::getpid()) + ".log";
  std::remove(fresh.c_str());
  r = run(std::string(PD_PROXY_BINARY) + " --check-config --access-log " + fresh);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_FALSE(std::filesystem::exists(fresh));
}

// $PD_PROXY_API_KEY with a blank or a comma is one key (it used to be split, and the second half printed
// as an unexpected argument); a usage error never prints a key.
TEST(cli_binary, an_api_key_variable_with_blanks_is_one_key_and_never_printed) {
  auto r =
      run("PD_PROXY_API_KEY='part1 secret-part2,part3' " + std::string(PD_PROXY_BINARY) + " --check-config");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output.find("secret-part2"), std::string::npos) << r.output;
  r = run(std::string(PD_PROXY_BINARY) + " --check-config --api-key part1 secret-part2");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_EQ(r.output.find("secret-part2"), std::string::npos) << r.output;
  const temp_file file("key-in-file.toml", "api-key = secret-part2\n");
  r = run(std::string(PD_PROXY_BINARY) + " --check-config --config " + file.path);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_EQ(r.output.find("secret-part2"), std::string::npos) << r.output;
}

}  // namespace
