// Engine load in the running proxy: the scraper reads every backend's /metrics (pd-mock's, and scripted
// ones with known values), the role's policy is handed each load through scheduler::report_load, a failing
// /metrics is reported as unknown (the policies then fall back to local accounting), and the proxy's own
// /metrics shows the counts and the last loads.
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <mutex>
#include <optional>

#include "pd_proxy/core/scheduling/selection_policy.hpp"
#include "proxy_fixture.hpp"
#include "scripted_backend.hpp"
#include "text_formats.hpp"

namespace pd_proxy::test {
namespace {

using namespace std::chrono_literals;

// Every engine_load the policies were given, by backend. Thread-safe.
class reported_loads {
 public:
  void record(backend_id id, const engine_load& load) {
    std::lock_guard lock(mutex_);
    last_[id] = load;
    ++counts_[id];
  }
  std::optional<engine_load> last_of(backend_id id) const {
    std::lock_guard lock(mutex_);
    const auto found = last_.find(id);
    if (found == last_.end()) return std::nullopt;
    return found->second;
  }
  std::size_t count_of(backend_id id) const {
    std::lock_guard lock(mutex_);
    const auto found = counts_.find(id);
    return found == counts_.end() ? 0 : found->second;
  }

 private:
  mutable std::mutex mutex_;
  std::map<backend_id, engine_load> last_;
  std::map<backend_id, std::size_t> counts_;
};

// least-loaded, recording what load_reported tells it.
class recording_policy : public selection_policy {
 public:
  explicit recording_policy(std::shared_ptr<reported_loads> log)
      : inner_(make_policy("least-loaded", {.seed = 1})), log_(std::move(log)) {}
  void add(backend& b, const fixed_load& load) override { inner_->add(b, load); }
  void remove(backend& b) override { inner_->remove(b); }
  void load_changed(backend& b, const fixed_load& load) override { inner_->load_changed(b, load); }
  void load_reported(backend& b, const engine_load& load) override { log_->record(b.id(), load); }
  backend* pick(const request_context& request) override { return inner_->pick(request); }

 private:
  std::unique_ptr<selection_policy> inner_;
  std::shared_ptr<reported_loads> log_;
};

std::shared_ptr<reported_loads> record_reports(cluster& c) {
  auto log = std::make_shared<reported_loads>();
  for (const auto role : {backend_role::prefill, backend_role::decode})
    c.state().sched.set_policy(role, std::make_unique<recording_policy>(log));
  return log;
}

void quick_scrapes(proxy_config& c) {
  c.metrics_scrape_interval = seconds_d{0.05};
}

constexpr std::string_view engine_text =
    "# TYPE vllm:num_requests_running gauge\n"
    "vllm:num_requests_running{engine=\"0\",model_name=\"m\"} 3\n"
    "vllm:num_requests_running{engine=\"1\",model_name=\"m\"} 1\n"
    "vllm:num_requests_waiting{engine=\"0\",model_name=\"m\"} 2\n"
    "vllm:kv_cache_usage_perc{engine=\"0\",model_name=\"m\"} 0.5\n"
    "vllm:kv_cache_usage_perc{engine=\"1\",model_name=\"m\"} 0.25\n"
    "vllm:prefix_cache_hits_total{engine=\"0\",model_name=\"m\"} 40\n"
    "vllm:prefix_cache_queries_total{engine=\"0\",model_name=\"m\"} 100\n";

// A kept-alive answer to GET /metrics: the engine text while `healthy`, else a 500; 404 for other paths.
scripted_backend::script engine_metrics(const std::atomic<bool>& healthy) {
  return [&healthy](const http::request<http::string_body>& req) {
    std::string body = "{}";
    int status = 404;
    if (req.target() == "/metrics") {
      status = healthy.load() ? 200 : 500;
      body = healthy.load() ? std::string(engine_text) : "Internal Server Error";
    }
    return scripted_answer{.bytes = "HTTP/1.1 " + std::to_string(status) +
                                    " X\r\nContent-Type: text/plain\r\nContent-Length: " +
                                    std::to_string(body.size()) + "\r\n\r\n" + body,
                           .hold_open = false,
                           .keep_alive = true,
                           .drop = false};
  };
}

backend_group ports(std::uint16_t port) {
  backend_group group;
  group.ports = {port};
  return group;
}

std::map<std::string, double> proxy_metrics(cluster& c) {
  request_spec spec;
  spec.method = http::verb::get;
  spec.target = "/metrics";
  return prometheus_samples(request(c.port(), spec).body);
}

double sample(const std::map<std::string, double>& samples, const std::string& key) {
  const auto found = samples.find(key);
  return found == samples.end() ? -1 : found->second;
}

TEST(metrics_scraper, hands_each_engines_load_to_its_roles_policy) {
  std::atomic<bool> healthy{true};
  scripted_backend decoder(engine_metrics(healthy));
  cluster c({{.options = fast_engines(1)}}, {ports(decoder.port())}, quick_scrapes);
  const auto log = record_reports(c);
  const auto backends = c.state().backends.snapshot();
  const backend_id prefiller = backends->prefillers.at(0)->id();
  const backend_id decode = backends->decoders.at(0)->id();
  const auto before = std::chrono::steady_clock::now();

  ASSERT_TRUE(eventually([&] { return log->count_of(decode) > 0 && log->count_of(prefiller) > 0; }));
  const auto engine = log->last_of(decode).value();
  EXPECT_TRUE(engine.known);
  EXPECT_DOUBLE_EQ(engine.running, 4);  // summed over the engines
  EXPECT_DOUBLE_EQ(engine.waiting, 2);
  EXPECT_DOUBLE_EQ(engine.kv_cache_usage, 0.375);  // their mean
  EXPECT_DOUBLE_EQ(engine.prefix_cache_hits, 40);
  EXPECT_DOUBLE_EQ(engine.prefix_cache_queries, 100);
  EXPECT_GE(engine.read_at, before - 10s);  // the scrape may have ended before `before`
  EXPECT_LE(engine.read_at, std::chrono::steady_clock::now());

  // pd-mock exports what vLLM does: an idle engine.
  const auto mock = log->last_of(prefiller).value();
  EXPECT_TRUE(mock.known);
  EXPECT_DOUBLE_EQ(mock.running, 0);
  EXPECT_DOUBLE_EQ(mock.waiting, 0);

  // Again and again, every interval, on one kept connection: every request the decoder got is a GET /metrics.
  ASSERT_TRUE(eventually([&] { return log->count_of(decode) >= 3; }));
  for (const auto& req : decoder.received()) {
    EXPECT_EQ(req.method(), http::verb::get);
    EXPECT_EQ(req.target(), "/metrics");
    EXPECT_TRUE(req.keep_alive());
  }

  // The proxy's /metrics: the counts, and the last load of each engine.
  const std::string labels = "{backend=\"127.0.0.1:" + std::to_string(decoder.port()) + "\",role=\"decode\"}";
  std::map<std::string, double> s;
  ASSERT_TRUE(eventually([&] {
    s = proxy_metrics(c);
    return sample(s, "pd_proxy_metrics_scrapes_total{result=\"ok\"}") >= 2;
  }));
  EXPECT_EQ(sample(s, "pd_proxy_metrics_scrapes_total{result=\"failed\"}"), 0);
  EXPECT_EQ(sample(s, "pd_proxy_backend_engine_running" + labels), 4);
  EXPECT_EQ(sample(s, "pd_proxy_backend_engine_waiting" + labels), 2);
  EXPECT_EQ(sample(s, "pd_proxy_backend_engine_kv_cache_usage" + labels), 0.375);
}

TEST(metrics_scraper, a_failing_metrics_endpoint_is_reported_unknown_until_it_answers_again) {
  std::atomic<bool> healthy{true};
  scripted_backend decoder(engine_metrics(healthy));
  cluster c({{.options = fast_engines(1)}}, {ports(decoder.port())}, quick_scrapes);
  const auto log = record_reports(c);
  const backend_id decode = c.state().backends.snapshot()->decoders.at(0)->id();
  const std::string labels = "{backend=\"127.0.0.1:" + std::to_string(decoder.port()) + "\",role=\"decode\"}";

  ASSERT_TRUE(eventually([&] {
    const auto last = log->last_of(decode);
    return last && last->known;
  }));
  healthy = false;
  ASSERT_TRUE(eventually([&] {
    const auto last = log->last_of(decode);
    return last && !last->known;
  }));
  std::map<std::string, double> s;
  ASSERT_TRUE(eventually([&] {
    s = proxy_metrics(c);
    return sample(s, "pd_proxy_metrics_scrapes_total{result=\"failed\"}") >= 1 &&
           sample(s, "pd_proxy_backend_engine_running" + labels) == -1;  // no gauge: not known
  }));

  healthy = true;
  ASSERT_TRUE(eventually([&] {
    const auto last = log->last_of(decode);
    return last && last->known && last->running == 4;
  }));
}

TEST(metrics_scraper, a_dead_backend_is_reported_unknown) {
  backend_group dead;
  dead.refused = 1;
  cluster c({{.options = fast_engines(1)}}, {dead}, quick_scrapes);
  const auto log = record_reports(c);
  const backend_id decode = c.state().backends.snapshot()->decoders.at(0)->id();
  ASSERT_TRUE(eventually([&] { return log->count_of(decode) >= 2; }));
  EXPECT_FALSE(log->last_of(decode)->known);
}

TEST(metrics_scraper, follows_backends_added_and_removed_at_run_time) {
  std::atomic<bool> healthy{true};
  scripted_backend added(engine_metrics(healthy));
  cluster c({{.options = fast_engines(1)}}, {{.options = fast_engines(1)}}, quick_scrapes);
  const auto log = record_reports(c);
  const auto b = c.state().add_backend(backend_role::decode, {"127.0.0.1", added.port()});
  ASSERT_TRUE(eventually([&] {
    const auto last = log->last_of(b->id());
    return last && last->known && last->running == 4;
  }));
  ASSERT_TRUE(c.state().remove_backend(b->id()));
  // Its scrapes stop: once the scraper has seen the change, the backend gets no more requests.
  ASSERT_TRUE(eventually([&] {
    const std::size_t seen = added.received().size();
    std::this_thread::sleep_for(200ms);  // four intervals without a scrape
    return added.received().size() == seen;
  }));
}

TEST(metrics_scraper, an_interval_of_zero_reads_no_metrics) {
  std::atomic<bool> healthy{true};
  scripted_backend decoder(engine_metrics(healthy));
  cluster c({{.options = fast_engines(1)}}, {ports(decoder.port())}, [](proxy_config& config) {
    config.metrics_scrape_interval = seconds_d{0};
    config.health_check_interval = seconds_d{0.02};  // a clock the test can see: the health checks
  });
  ASSERT_TRUE(eventually([&] { return decoder.received().size() >= 5; }));
  for (const auto& req : decoder.received()) EXPECT_EQ(req.target(), "/health");
  EXPECT_EQ(sample(proxy_metrics(c), "pd_proxy_metrics_scrapes_total{result=\"ok\"}"), 0);
}

}  // namespace
}  // namespace pd_proxy::test
