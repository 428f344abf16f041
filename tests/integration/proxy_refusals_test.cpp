// Requests refused before routing (the reader's framing and size checks, --max-connections) are counted in
// pd_proxy_requests_total and written to the access log.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "proxy_fixture.hpp"
#include "scripted_backend.hpp"
#include "text_formats.hpp"

namespace pd_proxy::test {
namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;

// Both Content-Length and Transfer-Encoding: ambiguous framing, refused with 400 before routing.
constexpr std::string_view ambiguous_framing =
    "POST /v1/completions HTTP/1.1\r\nHost: x\r\nX-Request-Id: refused-framing-1\r\nContent-Length: 5\r\n"
    "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n";

// The value of `sample` in `text`; -1 when absent.
double sample_value(const std::string& text, const std::string& sample) {
  const auto s = prometheus_samples(text);
  const auto it = s.find(sample);
  return it == s.end() ? -1 : it->second;
}

http_reply scrape(std::uint16_t port) {
  request_spec spec;
  spec.method = http::verb::get;
  spec.target = "/metrics";
  return request(port, spec);
}

// One connection kept open: it takes the only slot under --max-connections 1.
class held_connection {
 public:
  explicit held_connection(std::uint16_t port) : socket_(io_) {
    socket_.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
  }
  http::response<http::string_body> get(std::string target) {
    http::request<http::string_body> req{http::verb::get, target, 11};
    req.set(http::field::host, "127.0.0.1");
    http::write(socket_, req);
    http::response<http::string_body> res;
    http::read(socket_, buffer_, res);
    return res;
  }

 private:
  net::io_context io_;
  tcp::socket socket_;
  beast::flat_buffer buffer_;
};

std::string temp_path(std::string_view name) {
  static int n = 0;
  return testing::TempDir() + "pd-proxy-refusals-" + std::to_string(::getpid()) + "-" + std::to_string(++n) +
         "-" + std::string(name);
}

// Every line of the cluster's access log file, once flushed, each parsed as JSON.
std::vector<json> flushed_lines(cluster& c, const std::string& path) {
  EXPECT_TRUE(c.state().access->flush());
  return json_lines_of(path);
}

TEST(proxy_refusals, a_framing_refusal_is_counted_with_its_route) {
  cluster c({{fast_engines(1)}}, {{fast_engines(1)}});
  const std::string out = raw_exchange(c.port(), ambiguous_framing, 5000ms, /*half_close=*/true);
  EXPECT_TRUE(out.starts_with("HTTP/1.1 400 ")) << out;
  const std::string sample = R"(pd_proxy_requests_total{code="400",route="/v1/completions"})";
  double value = -1;
  EXPECT_TRUE(eventually([&] { return (value = sample_value(scrape(c.port()).body, sample)) == 1; }))
      << sample << " = " << value;
}

TEST(proxy_refusals, a_body_over_the_limit_is_counted_as_413) {
  cluster c({{fast_engines(1)}}, {{fast_engines(1)}},
            [](proxy_config& config) { config.max_body_size = 100; });
  const std::string out = raw_exchange(
      c.port(), "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n", 5000ms,
      /*half_close=*/true);
  EXPECT_TRUE(out.starts_with("HTTP/1.1 413 ")) << out;
  EXPECT_NE(out.find("request body exceeds the limit of 100 bytes"), std::string::npos) << out;
  const std::string sample = R"(pd_proxy_requests_total{code="413",route="/v1/chat/completions"})";
  double value = -1;
  EXPECT_TRUE(eventually([&] { return (value = sample_value(scrape(c.port()).body, sample)) == 1; }))
      << sample << " = " << value;
}

TEST(proxy_refusals, a_request_without_a_request_line_is_counted_as_other) {
  cluster c({{fast_engines(1)}}, {{fast_engines(1)}});
  const std::string out = raw_exchange(c.port(), "NOT HTTP AT ALL\r\n\r\n", 5000ms, /*half_close=*/true);
  EXPECT_TRUE(out.starts_with("HTTP/1.1 400 ")) << out;
  const std::string sample = R"(pd_proxy_requests_total{code="400",route="other"})";
  double value = -1;
  EXPECT_TRUE(eventually([&] { return (value = sample_value(scrape(c.port()).body, sample)) == 1; }))
      << sample << " = " << value;
}

TEST(proxy_refusals, a_refused_connection_is_counted_as_other) {
  cluster c({{fast_engines(1)}}, {{fast_engines(1)}},
            [](proxy_config& config) { config.max_connections = 1; });
  held_connection held(c.port());
  ASSERT_EQ(held.get("/health").result_int(), 200);  // the held connection has the slot
  const std::string refused = raw_exchange(c.port(), "GET /health HTTP/1.1\r\nHost: x\r\n\r\n", 5000ms);
  EXPECT_TRUE(refused.starts_with("HTTP/1.1 503 ")) << refused;
  const std::string sample = R"(pd_proxy_requests_total{code="503",route="other"})";
  double value = -1;
  EXPECT_TRUE(eventually([&] { return (value = sample_value(held.get("/metrics").body(), sample)) == 1; }))
      << sample << " = " << value;
}

TEST(proxy_refusals, a_framing_refusal_is_logged_with_its_status_and_outcome) {
  const std::string path = temp_path("framing.log");
  cluster c({{fast_engines(1)}}, {{fast_engines(1)}},
            [&](proxy_config& config) { config.access_log = path; });
  const std::string out = raw_exchange(c.port(), ambiguous_framing, 5000ms, /*half_close=*/true);
  EXPECT_TRUE(out.starts_with("HTTP/1.1 400 ")) << out;
  std::vector<json> lines;
  ASSERT_TRUE(eventually([&] { return (lines = flushed_lines(c, path)).size() == 1; }));
  const json& line = lines[0];
  EXPECT_EQ(line["request_id"], "refused-framing-1");
  EXPECT_EQ(line["method"], "POST");
  EXPECT_EQ(line["route"], "/v1/completions");
  EXPECT_EQ(line["status"], 400);
  EXPECT_EQ(line["outcome"], "invalid_request");
  EXPECT_GT(line["bytes_sent"].get<int>(), 0);
  EXPECT_TRUE(line["duration_ms"].is_null());  // the request was never read whole
  EXPECT_EQ(line["client_address"].get<std::string>().rfind("127.0.0.1:", 0), 0u);
  EXPECT_TRUE(line["ts"].is_string());
  std::remove(path.c_str());
}

TEST(proxy_refusals, a_refused_connection_is_logged_as_rejected) {
  const std::string path = temp_path("connections.log");
  cluster c({{fast_engines(1)}}, {{fast_engines(1)}}, [&](proxy_config& config) {
    config.access_log = path;
    config.max_connections = 1;
  });
  held_connection held(c.port());
  ASSERT_EQ(held.get("/health").result_int(), 200);
  const std::string refused = raw_exchange(c.port(), "GET /health HTTP/1.1\r\nHost: x\r\n\r\n", 5000ms);
  EXPECT_TRUE(refused.starts_with("HTTP/1.1 503 ")) << refused;
  std::vector<json> lines;
  ASSERT_TRUE(eventually([&] { return (lines = flushed_lines(c, path)).size() == 2; }));
  const json& line = lines[0]["status"] == 503 ? lines[0] : lines[1];
  EXPECT_EQ(line["status"], 503);
  EXPECT_EQ(line["outcome"], "rejected");
  EXPECT_EQ(line["route"], "other");
  EXPECT_EQ(line["method"], "");
  EXPECT_NE(refused.find("X-Request-Id: " + line["request_id"].get<std::string>()), std::string::npos)
      << refused;
  EXPECT_EQ(line["client_address"].get<std::string>().rfind("127.0.0.1:", 0), 0u);
  std::remove(path.c_str());
}

}  // namespace
}  // namespace pd_proxy::test
