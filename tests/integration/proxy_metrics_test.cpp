// GET /metrics after known traffic, promtool's check of the exposition, and the Grafana dashboard's queries.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>

#include "proxy_fixture.hpp"
#include "text_formats.hpp"

namespace pd_proxy::test {
namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;

request_spec post(std::string body, std::string id) {
  request_spec spec;
  spec.body = std::move(body);
  spec.headers.push_back({"X-Request-Id", std::move(id)});
  return spec;
}

// A port that refuses connections.
backend_group dead_prefiller() {
  backend_group group;
  group.refused = 1;
  return group;
}

http_reply scrape(std::uint16_t port) {
  request_spec spec;
  spec.method = http::verb::get;
  spec.target = "/metrics";
  return request(port, spec);
}

// A scrape once at least `requests` requests were recorded: a request is recorded when its handler ends,
// which may be just after its client read the response.
http_reply scrape_after(std::uint16_t port, double requests) {
  http_reply reply;
  eventually([&] {
    reply = scrape(port);
    const auto s = prometheus_samples(reply.body);
    const auto it = s.find("pd_proxy_request_duration_seconds_count");
    return it != s.end() && it->second >= requests;
  });
  return reply;
}

// The metric family names with a # TYPE line.
std::set<std::string> families_of(const std::string& text) {
  std::set<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("# TYPE ", 0) != 0) continue;
    out.insert(line.substr(7, line.find(' ', 7) - 7));
  }
  return out;
}

cluster streaming_cluster() {
  auto decoders = fast_engines(2);
  decoders.timing.decode_ms_per_token = 5;  // tokens arrive one by one: inter-token latencies to observe
  return cluster({{fast_engines(2)}}, {{decoders}});
}

TEST(proxy_metrics, a_scrape_after_known_traffic_counts_it) {
  auto c = streaming_cluster();
  constexpr int streams = 5;
  constexpr int jsons = 3;
  constexpr int tokens = 6;
  std::vector<std::string> ids;
  for (int i = 0; i < streams + jsons; ++i) {
    const bool stream = i < streams;
    const std::string id = "metrics-test-request-" + std::to_string(i);
    ids.push_back(id);
    const std::string body = std::string(R"({"model":"m","prompt":"hello","max_tokens":)") +
                             std::to_string(tokens) + (stream ? R"(,"stream":true})" : "}");
    const auto reply = request(c.port(), post(body, id));
    ASSERT_EQ(reply.status, 200);
    ASSERT_TRUE(reply.complete);
  }
  request_spec missing;
  missing.method = http::verb::get;
  missing.target = "/no/such/route?x=1";
  EXPECT_EQ(request(c.port(), missing).status, 404);
  ASSERT_TRUE(eventually([&] { return c.idle(); }));

  constexpr double total = streams + jsons;
  const auto reply = scrape_after(c.port(), total + 1);
  ASSERT_EQ(reply.status, 200);
  EXPECT_EQ(reply.headers[http::field::content_type], "text/plain; version=0.0.4");
  ASSERT_FALSE(reply.body.empty());
  EXPECT_EQ(reply.body.back(), '\n');
  const auto s = prometheus_samples(reply.body);
  EXPECT_EQ(s.at(R"(pd_proxy_requests_total{code="200",route="/v1/completions"})"), total);
  EXPECT_EQ(s.at(R"(pd_proxy_requests_total{code="404",route="other"})"), 1);
  EXPECT_EQ(s.at("pd_proxy_inflight_requests"), 0);
  EXPECT_EQ(s.at("pd_proxy_queued_requests"), 0);
  EXPECT_EQ(s.at("pd_proxy_time_to_first_token_seconds_count"), total);
  EXPECT_EQ(s.at(R"(pd_proxy_time_to_first_token_seconds_bucket{le="+Inf"})"), total);
  EXPECT_EQ(s.at("pd_proxy_prefill_duration_seconds_count"), total);
  EXPECT_EQ(s.at("pd_proxy_decode_duration_seconds_count"), total);
  EXPECT_GE(s.at("pd_proxy_request_duration_seconds_count"), total + 1);  // the 404 and scrapes too
  EXPECT_GT(s.at("pd_proxy_request_duration_seconds_sum"), 0);
  // Between the writes of one stream's events: at most one fewer than the pieces it had (tokens, [DONE]).
  EXPECT_GT(s.at("pd_proxy_inter_token_latency_seconds_count"), 0);
  EXPECT_LE(s.at("pd_proxy_inter_token_latency_seconds_count"), streams * (tokens + 1));
  EXPECT_EQ(s.at(R"(pd_proxy_retries_total{role="prefill"})"), 0);
  EXPECT_EQ(s.at(R"(pd_proxy_retries_total{role="decode"})"), 0);
  EXPECT_EQ(s.at("pd_proxy_client_disconnects_total"), 0);
  EXPECT_EQ(s.at("pd_proxy_local_prefills_total"), 0);
  EXPECT_EQ(s.at("pd_proxy_log_dropped_total"), 0);
  EXPECT_EQ(s.count(R"(pd_proxy_build_info{version="0.1.0"})"), 1u);
  for (const auto* server : c.prefill_servers()) {
    for (std::size_t i = 0; i < server->size(); ++i) {
      const std::string labels =
          "{backend=\"127.0.0.1:" + std::to_string(server->port(i)) + "\",role=\"prefill\"}";
      EXPECT_EQ(s.at("pd_proxy_backend_inflight" + labels), 0);
      EXPECT_EQ(s.at("pd_proxy_backend_healthy" + labels), 1);
    }
  }
  for (const auto* server : c.decode_servers()) {
    for (std::size_t i = 0; i < server->size(); ++i) {
      const std::string labels =
          "{backend=\"127.0.0.1:" + std::to_string(server->port(i)) + "\",role=\"decode\"}";
      EXPECT_EQ(s.at("pd_proxy_backend_inflight" + labels), 0);
    }
  }
  EXPECT_GT(s.at("process_resident_memory_bytes"), 0);
  EXPECT_GT(s.at("process_open_fds"), 0);
  EXPECT_GT(s.at("process_start_time_seconds"), 1.6e9);
  EXPECT_GE(s.at("process_cpu_seconds_total"), 0);
  // Cardinality: no request id, prompt or client address in any label.
  for (const auto& id : ids) EXPECT_EQ(reply.body.find(id), std::string::npos) << id;
  EXPECT_EQ(reply.body.find("hello"), std::string::npos);
  EXPECT_EQ(reply.body.find("/no/such/route"), std::string::npos);

  // The scrapes are counted too, once they ended.
  EXPECT_TRUE(eventually([&] {
    const auto again = prometheus_samples(scrape(c.port()).body);
    const auto it = again.find(R"(pd_proxy_requests_total{code="200",route="/metrics"})");
    return it != again.end() && it->second >= 1;
  }));
}

TEST(proxy_metrics, failures_are_counted_by_role_backend_and_kind) {
  cluster c({dead_prefiller(), {fast_engines(1)}}, {{fast_engines(1)}},
            [](proxy_config& config) { config.max_retries = 2; });
  std::vector<std::string> ids;
  for (int i = 0; i < 4; ++i) {
    const auto reply = request(c.port(), post(R"({"prompt":"x","max_tokens":2})", "f-" + std::to_string(i)));
    EXPECT_EQ(reply.status, 200);
  }
  ASSERT_TRUE(eventually([&] { return c.idle(); }));
  const auto s = prometheus_samples(scrape_after(c.port(), 4).body);
  double connect_errors = 0;
  for (const auto& [name, value] : s) {
    if (name.rfind("pd_proxy_backend_errors_total{", 0) == 0) {
      EXPECT_NE(name.find(R"(kind="connect")"), std::string::npos) << name;
      EXPECT_NE(name.find(R"(role="prefill")"), std::string::npos) << name;
      connect_errors += value;
    }
  }
  EXPECT_GE(connect_errors, 1);  // the dead prefiller was picked at least once (ties go round-robin)
  EXPECT_EQ(s.at(R"(pd_proxy_retries_total{role="prefill"})"), connect_errors);
}

// The exposition's lines that name a backend (its gauges and error counters).
std::string backend_series_of(const std::string& text) {
  std::string out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.find("backend=\"") != std::string::npos) out += line + "\n";
  }
  return out;
}

std::size_t error_series_of(const std::string& text) {
  std::size_t n = 0;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) n += line.rfind("pd_proxy_backend_errors_total{", 0) == 0;
  return n;
}

TEST(proxy_metrics, removed_backends_leave_no_series_behind) {
  cluster c({{fast_engines(1)}}, {{fast_engines(1)}}, [](proxy_config& config) {
    config.max_retries = 3;
    config.retry_delay = seconds_d{0};
  });
  const std::string before = scrape(c.port()).body;
  const std::string backends_before = backend_series_of(before);
  ASSERT_EQ(error_series_of(before), 0u);

  constexpr int added = 16;
  auto failing = fast_engines(added);
  failing.faults.fail_status = 503;  // healthy to the probe, every completion fails
  mock::mock_server engines(failing);
  engines.start();
  std::vector<std::string> addresses;
  for (int i = 0; i < added; ++i) {
    addresses.push_back("127.0.0.1:" + std::to_string(engines.port(static_cast<std::size_t>(i))));
  }
  request_spec add;
  add.target = "/instances/add";
  add.body = json{{"type", "decode"}, {"instances", addresses}}.dump();
  auto reply = request(c.port(), add);
  ASSERT_EQ(reply.status, 200) << reply.body;
  ASSERT_EQ(json::parse(reply.body)["current_decode_instances"].size(), static_cast<std::size_t>(added + 1));

  // Requests until every added decoder failed at least once (each attempt may pick a failing one).
  std::string during;
  for (int i = 0; i < 40 * added && error_series_of(during) < static_cast<std::size_t>(added); ++i) {
    (void)request(c.port(), post(R"({"prompt":"x","max_tokens":2})", "churn-" + std::to_string(i)));
    if (i % 8 == 7) during = scrape(c.port()).body;
  }
  during = scrape(c.port()).body;
  ASSERT_GE(error_series_of(during), 1u);
  EXPECT_GT(during.size(), before.size());

  request_spec remove = add;
  remove.target = "/instances/remove";
  reply = request(c.port(), remove);
  ASSERT_EQ(reply.status, 200) << reply.body;
  ASSERT_TRUE(eventually([&] { return c.idle(); }));
  std::string after;
  EXPECT_TRUE(eventually([&] {
    after = scrape(c.port()).body;
    return backend_series_of(after) == backends_before;
  })) << backend_series_of(after);
  EXPECT_EQ(error_series_of(after), 0u);
  // The rest differs only by the new requests_total series and the numbers' digits.
  EXPECT_LT(after.size(), before.size() + 1024);
  engines.stop();
}

TEST(proxy_metrics, the_exposition_passes_promtool_check_metrics) {
  if (std::system("command -v promtool > /dev/null 2>&1") != 0) GTEST_SKIP() << "promtool is not installed";
  auto c = streaming_cluster();
  ASSERT_EQ(request(c.port(), post(R"({"prompt":"x","max_tokens":3,"stream":true})", "p-1")).status, 200);
  const auto reply = scrape(c.port());
  ASSERT_EQ(reply.status, 200);
  const std::string path = testing::TempDir() + "pd-proxy-metrics-" + std::to_string(c.port()) + ".txt";
  std::ofstream(path) << reply.body;
  const std::string command = "promtool check metrics < " + path + " 2>&1";
  std::FILE* pipe = ::popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string output;
  char buf[512];
  while (const std::size_t n = std::fread(buf, 1, sizeof buf, pipe)) output.append(buf, n);
  const int status = ::pclose(pipe);
  std::remove(path.c_str());
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << output;
  EXPECT_EQ(output, "") << output;  // no lint warnings either
}

void collect_exprs(const json& j, std::vector<std::string>& out) {
  if (j.is_object()) {
    for (const auto& [key, value] : j.items()) {
      if ((key == "expr" || key == "query" || key == "definition") && value.is_string()) {
        out.push_back(value.get<std::string>());
      } else {
        collect_exprs(value, out);
      }
    }
  } else if (j.is_array()) {
    for (const auto& value : j) collect_exprs(value, out);
  }
}

TEST(proxy_metrics, every_metric_the_grafana_dashboard_queries_is_exported) {
  std::ifstream in(std::string(PD_PROXY_SOURCE_DIR) + "/deploy/grafana/pd-proxy.json");
  ASSERT_TRUE(in.good());
  const json dashboard = json::parse(in);
  std::vector<std::string> exprs;
  collect_exprs(dashboard, exprs);
  ASSERT_FALSE(exprs.empty());
  std::set<std::string> queried;
  const std::regex name(R"((pd_proxy_[a-z_]+|process_[a-z_]+))");
  for (const auto& expr : exprs) {
    for (auto it = std::sregex_iterator(expr.begin(), expr.end(), name); it != std::sregex_iterator(); ++it) {
      std::string metric = (*it)[1].str();
      for (const std::string suffix : {"_bucket", "_sum", "_count"}) {
        if (metric.size() > suffix.size() && metric.ends_with(suffix)) {
          metric.resize(metric.size() - suffix.size());
          break;
        }
      }
      queried.insert(metric);
    }
  }
  auto c = streaming_cluster();
  const auto exported = families_of(scrape(c.port()).body);
  for (const auto& metric : queried) EXPECT_EQ(exported.count(metric), 1u) << metric << " is not exported";
  for (const std::string wanted :
       {"pd_proxy_time_to_first_token_seconds", "pd_proxy_inter_token_latency_seconds",
        "pd_proxy_requests_total", "pd_proxy_inflight_requests", "pd_proxy_queued_requests",
        "pd_proxy_backend_inflight", "pd_proxy_backend_healthy", "pd_proxy_retries_total",
        "pd_proxy_backend_errors_total"}) {
    EXPECT_EQ(queried.count(wanted), 1u) << wanted << " is not on the dashboard";
  }
}

}  // namespace
}  // namespace pd_proxy::test
