// TLS on the listener, with a real client (curl) and a certificate made at test time (openssl req).
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "proxy_fixture.hpp"
#include "proxy_process.hpp"
#include "scripted_backend.hpp"

namespace pd_proxy::test {
namespace {

// Runs a shell command; its standard output, and its exit status in `status`.
std::string run(const std::string& command, int& status) {
  std::string out;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) {
    status = -1;
    return out;
  }
  std::array<char, 4096> buf;
  for (std::size_t n; (n = std::fread(buf.data(), 1, buf.size(), pipe)) > 0;) out.append(buf.data(), n);
  status = ::pclose(pipe);
  return out;
}

// A self-signed certificate for 127.0.0.1 and localhost, and its key, in a fresh directory.
struct self_signed {
  self_signed() {
    dir = std::filesystem::path(::testing::TempDir()) /
          ("pd_proxy_tls_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    std::filesystem::create_directories(dir);
    cert = (dir / "cert.pem").string();
    key = (dir / "key.pem").string();
    int status = 0;
    run("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 -subj "
        "/CN=localhost "
        "-addext subjectAltName=IP:127.0.0.1,DNS:localhost -keyout " +
            key + " -out " + cert + " 2>/dev/null",
        status);
    ok = status == 0 && std::filesystem::exists(cert) && std::filesystem::exists(key);
  }
  ~self_signed() {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  static inline int counter = 0;
  std::filesystem::path dir;
  std::string cert, key;
  bool ok = false;
};

bool have(const char* tool) {
  int status = 0;
  run(std::string("command -v ") + tool + " >/dev/null 2>&1", status);
  return status == 0;
}

std::string sse_answer() {
  return http_response(200, "text/event-stream",
                       "data: {\"choices\":[{\"text\":\"a\"}]}\n\ndata: {\"choices\":[{\"text\":\"b\"}]}\n\n"
                       "data: [DONE]\n\n");
}

TEST(proxy_tls, a_completion_streams_over_tls_to_curl) {
  if (!have("openssl") || !have("curl"))
    GTEST_SKIP() << "openssl and curl are needed (scripts/install-deps.sh)";
  const self_signed tls;
  ASSERT_TRUE(tls.ok);
  scripted_backend prefiller([](const auto&) { return scripted_answer{prefill_answer_bytes()}; });
  scripted_backend decoder([](const auto&) { return scripted_answer{sse_answer()}; });
  cluster c({{{}, 0, {prefiller.port()}}}, {{{}, 0, {decoder.port()}}}, [&](proxy_config& config) {
    config.tls_cert = tls.cert;
    config.tls_key = tls.key;
  });
  const std::string url = "https://127.0.0.1:" + std::to_string(c.port());
  const std::string body = R"({"model":"m","prompt":"hi","max_tokens":2,"stream":true})";
  int status = 0;
  // Two requests on one connection (keep-alive over TLS), TLS 1.2 at least.
  const std::string out = run("curl -sS -N --max-time 20 --tlsv1.2 --cacert " + tls.cert +
                                  " -H 'Content-Type: application/json' -d '" + body + "' " + url +
                                  "/v1/completions -: -sS --cacert " + tls.cert + " " + url + "/health 2>&1",
                              status);
  EXPECT_EQ(status, 0) << out;
  EXPECT_NE(out.find("data: {\"choices\":[{\"text\":\"a\"}]}"), std::string::npos) << out;
  EXPECT_NE(out.find("data: [DONE]"), std::string::npos) << out;
  EXPECT_NE(out.find(R"({"status":"ok"})"), std::string::npos) << out;
  EXPECT_EQ(decoder.received().size(), 1u);
  EXPECT_TRUE(eventually([&] { return c.idle(); }));
}

TEST(proxy_tls, tls_1_1_and_plain_http_are_refused_and_the_listener_lives_on) {
  if (!have("openssl") || !have("curl"))
    GTEST_SKIP() << "openssl and curl are needed (scripts/install-deps.sh)";
  const self_signed tls;
  ASSERT_TRUE(tls.ok);
  cluster c({{fast_engines(1)}}, {{fast_engines(1)}}, [&](proxy_config& config) {
    config.tls_cert = tls.cert;
    config.tls_key = tls.key;
  });
  // Plain HTTP to the TLS port: the handshake fails and the connection closes (no hang, no crash).
  const std::string plain =
      raw_exchange(c.port(), "GET /health HTTP/1.1\r\nHost: x\r\n\r\n", std::chrono::milliseconds(10000));
  EXPECT_EQ(plain.find("200 OK"), std::string::npos);
  // A client that only speaks TLS 1.1 gets no session.
  int status = 0;
  const std::string url = "https://127.0.0.1:" + std::to_string(c.port()) + "/health";
  run("curl -sS --max-time 10 --tls-max 1.1 --cacert " + tls.cert + " " + url + " >/dev/null 2>&1", status);
  EXPECT_NE(status, 0);
  // A client that gives up mid-handshake (connects, sends nothing, leaves).
  raw_exchange(c.port(), "", std::chrono::milliseconds(50), /*half_close=*/true);
  const std::string out = run("curl -sS --max-time 10 --cacert " + tls.cert + " " + url + " 2>&1", status);
  EXPECT_EQ(status, 0) << out;
  EXPECT_EQ(out, R"({"status":"ok"})");
}

// --check-config (systemd's ExecStartPre) loads the TLS context as the start does: a key that does not match
// the certificate, a key in the certificate's place and /dev/null as the certificate are configuration errors
// (exit 2) in both, where --check-config used to say OK and the start failed with exit 1.
TEST(proxy_tls, check_config_and_the_start_refuse_a_tls_pair_that_does_not_load) {
  if (!have("openssl")) GTEST_SKIP() << "openssl is needed (scripts/install-deps.sh)";
  const self_signed a, b;
  ASSERT_TRUE(a.ok && b.ok);
  // Appended piece by piece: GCC 12 reports a false -Warray-bounds on a chain of string temporaries here.
  std::string proxy = PD_PROXY_BINARY;
  proxy += " --host 127.0.0.1 --port ";
  proxy += std::to_string(free_port());
  proxy += ' ';
  int status = 0;
  std::string out =
      run(proxy + "--check-config --tls-cert " + a.cert + " --tls-key " + a.key + " 2>&1", status);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << out;
  struct pair_case {
    std::string cert, key, mention;
  };
  for (const auto& [cert, key, mention] :
       std::vector<pair_case>{{a.cert, b.key, "does not match the certificate"},
                              {a.key, a.key, "--tls-cert " + a.key},
                              {"/dev/null", a.key, "--tls-cert /dev/null"}}) {
    for (const std::string mode : {"--check-config ", ""}) {
      // A start that got past the check would serve until `timeout` ends it (exit 124).
      out = run("timeout 20 " + proxy + mode + "--tls-cert " + cert + " --tls-key " + key + " 2>&1", status);
      EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 2) << mode << cert << " " << key << ": " << out;
      EXPECT_NE(out.find(mention), std::string::npos) << out;
    }
  }
}

}  // namespace
}  // namespace pd_proxy::test
