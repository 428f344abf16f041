// The installed binaries' command lines: exit codes and messages.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <boost/asio.hpp>
#include <cstdio>
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

}  // namespace
