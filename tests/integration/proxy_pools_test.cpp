// Run-time pools in the running proxy: /instances add/remove/list, waiting instances that answer later,
// removal while a stream runs, /reset_prefix_cache, DNS discovery with a fake resolver, and add/remove
// cycles while streams run.
#include <gtest/gtest.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "pd_proxy/net/pools/admin_routes.hpp"
#include "proxy_fixture.hpp"
#include "scripted_backend.hpp"

namespace pd_proxy::test {
namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;

const std::string json_body = R"({"model":"m","prompt":"hello","max_tokens":4})";
const std::string stream_body = R"({"model":"m","prompt":"hello","max_tokens":8,"stream":true})";

request_spec post(std::string target, std::string body) {
  request_spec spec;
  spec.target = std::move(target);
  spec.body = std::move(body);
  return spec;
}

request_spec get(std::string target) {
  request_spec spec;
  spec.method = http::verb::get;
  spec.target = std::move(target);
  return spec;
}

std::string instances_body(std::string_view type, const std::vector<std::string>& instances) {
  return json{{"type", type}, {"instances", instances}}.dump();
}

std::string local(std::uint16_t port) {
  return "127.0.0.1:" + std::to_string(port);
}

// The state GET /instances gives `address` of `type`, or "" when it is not listed.
std::string state_of(std::uint16_t proxy, std::string_view type, const std::string& address) {
  const auto reply = request(proxy, get("/instances"));
  if (reply.status != 200) return "status " + std::to_string(reply.status);
  const auto body = json::parse(reply.body);  // named: a range-for over a temporary's member dangles
  for (const auto& i : body["instances"]) {
    if (i["type"] == type && i["address"] == address) return i["state"].get<std::string>();
  }
  return "";
}

bool contains(const json& list, const std::string& address) {
  for (const auto& a : list)
    if (a == address) return true;
  return false;
}

mock::mock_options slow_engines(int count) {
  auto o = fast_engines(count);
  o.timing.decode_ms_per_token = 40;
  return o;
}

TEST(proxy_pools, add_list_remove_and_an_idempotent_add) {
  cluster c({{fast_engines(1)}}, {{fast_engines(1)}});
  mock::mock_server extra(fast_engines(1));
  extra.start();
  const std::string address = local(extra.port(0));

  auto reply = request(c.port(), post("/instances/add", instances_body("decode", {address})));
  ASSERT_EQ(reply.status, 200) << reply.body;
  auto body = json::parse(reply.body);
  EXPECT_TRUE(body["message"].is_string());
  EXPECT_EQ(body["current_prefill_instances"].size(), 1u);
  ASSERT_EQ(body["current_decode_instances"].size(), 2u);  // it answered its probe: active at once
  EXPECT_TRUE(contains(body["current_decode_instances"], address));
  EXPECT_EQ(state_of(c.port(), "decode", address), "active");

  const auto list = json::parse(request(c.port(), get("/instances")).body);
  ASSERT_EQ(list["instances"].size(), 3u);
  for (const auto& i : list["instances"]) {
    EXPECT_EQ(i["state"], "active");
    EXPECT_EQ(i["inflight"], 0);
    EXPECT_TRUE(i.contains("active_tokens"));
  }
  EXPECT_EQ(json::parse(request(c.port(), get("/healthcheck")).body)["decode_instances"], 2);

  // Already present: a no-op, said so.
  reply = request(c.port(), post("/instances/add", instances_body("decode", {address})));
  ASSERT_EQ(reply.status, 200);
  EXPECT_NE(json::parse(reply.body)["message"].get<std::string>().find("already present"), std::string::npos);
  EXPECT_EQ(json::parse(reply.body)["current_decode_instances"].size(), 2u);

  for (int i = 0; i < 10; ++i) ASSERT_EQ(request(c.port(), post("/v1/completions", json_body)).status, 200);
  EXPECT_GT(extra.stats(0).requests.load(), 0u);  // least-loaded ties go round robin

  // A single string is accepted too.
  reply = request(c.port(), post("/instances/remove", R"({"type":"decode","instances":")" + address + "\"}"));
  ASSERT_EQ(reply.status, 200) << reply.body;
  body = json::parse(reply.body);
  EXPECT_EQ(body["current_decode_instances"].size(), 1u);
  EXPECT_FALSE(contains(body["current_decode_instances"], address));
  const auto before = extra.stats(0).requests.load();
  for (int i = 0; i < 10; ++i) ASSERT_EQ(request(c.port(), post("/v1/completions", json_body)).status, 200);
  EXPECT_EQ(extra.stats(0).requests.load(), before);
  EXPECT_EQ(state_of(c.port(), "decode", address), "");

  // Removing an unknown instance: 200 (as the reference), and the message says nothing was removed.
  reply = request(c.port(), post("/instances/remove", instances_body("prefill", {"127.0.0.1:1"})));
  ASSERT_EQ(reply.status, 200);
  EXPECT_NE(json::parse(reply.body)["message"].get<std::string>().find("nothing to remove"),
            std::string::npos);
  EXPECT_TRUE(eventually([&] { return c.idle(); }));
  extra.stop();
}

TEST(proxy_pools, ipv6_instances_are_written_in_brackets) {
  cluster c({{fast_engines(1)}}, {{fast_engines(1)}},
            [](proxy_config& config) { config.max_waiting_retries = 1; });
  const std::string address = "[::1]:" + std::to_string(refused_port());
  const auto reply = request(c.port(), post("/instances/add", instances_body("prefill", {address})));
  ASSERT_EQ(reply.status, 200) << reply.body;
  // Nothing answers there: after its one probe it was not added.
  EXPECT_FALSE(contains(json::parse(reply.body)["current_prefill_instances"], address));
  EXPECT_TRUE(eventually([&] { return state_of(c.port(), "prefill", address).empty(); }));
}

TEST(proxy_pools, bad_admin_requests_are_400_or_405) {
  cluster c({{fast_engines(1)}}, {{fast_engines(1)}});
  for (const std::string& body :
       {std::string(R"({"type":"both","instances":["127.0.0.1:9000"]})"), std::string(R"({"type":"decode"})"),
        std::string(R"({"type":"decode","instances":["127.0.0.1"]})"),
        std::string(R"({"type":"decode","instances":["::1:9000"]})"),
        std::string(R"({"type":"decode","instances":["host:99999"]})"),
        std::string(R"({"type":"decode","instances":[]})"), std::string("not json"), std::string("[]")}) {
    for (const char* route : {"/instances/add", "/instances/remove"}) {
      const auto reply = request(c.port(), post(route, body));
      EXPECT_EQ(reply.status, 400) << route << " " << body;
      const auto error = json::parse(reply.body, nullptr, false);
      ASSERT_TRUE(error.is_object()) << reply.body;
      EXPECT_EQ(error["error"]["code"], 400);
      EXPECT_TRUE(error["error"]["message"].is_string());
    }
  }
  EXPECT_EQ(request(c.port(), get("/instances/add")).status, 405);
  EXPECT_EQ(request(c.port(), post("/instances", "{}")).status, 405);
  EXPECT_EQ(request(c.port(), get("/reset_prefix_cache")).status, 405);
  // Nothing changed.
  const auto list = json::parse(request(c.port(), get("/instances")).body);
  EXPECT_EQ(list["instances"].size(), 2u);
}

// Issue 20 item 18: one engine under several names was several active decoders.
TEST(proxy_pools, one_engine_is_one_instance_whatever_its_address_spelling) {
  cluster c({{fast_engines(1)}}, {{fast_engines(1)}});
  mock::mock_server extra(fast_engines(1));
  extra.start();
  const std::string port = std::to_string(extra.port(0));
  auto reply = request(c.port(), post("/instances/add", instances_body("decode", {"127.0.0.1:" + port})));
  ASSERT_EQ(reply.status, 200) << reply.body;
  ASSERT_EQ(json::parse(reply.body)["current_decode_instances"].size(), 2u);

  // The IPv4-mapped spelling is the same instance; in one request too.
  reply = request(c.port(), post("/instances/add", instances_body("decode", {"[::ffff:127.0.0.1]:" + port,
                                                                             "[::FFFF:7f00:1]:" + port})));
  ASSERT_EQ(reply.status, 200) << reply.body;
  EXPECT_NE(json::parse(reply.body)["message"].get<std::string>().find("already present"), std::string::npos);
  EXPECT_EQ(json::parse(reply.body)["current_decode_instances"].size(), 2u);

  // Legacy IPv4 forms (inet_aton's: "127.1" is 127.0.0.1, "127.1.2" is 127.1.0.2) are refused, not guessed.
  for (const std::string host : {"127.1", "2130706433", "127.000.000.001", "127.1.2", "0x7f000001"}) {
    reply = request(c.port(), post("/instances/add", instances_body("decode", {host + ":" + port})));
    EXPECT_EQ(reply.status, 400) << host << ": " << reply.body;
    EXPECT_NE(reply.body.find("dotted-quad"), std::string::npos) << reply.body;
  }
  // "type" twice: which one counts would be a guess.
  reply = request(c.port(),
                  post("/instances/add",
                       R"({"type":"prefill","type":"decode","instances":["127.0.0.1:)" + port + R"("]})"));
  EXPECT_EQ(reply.status, 400) << reply.body;
  EXPECT_NE(reply.body.find("more than once"), std::string::npos) << reply.body;
  // A host name longer than 253 characters.
  const std::string label(63, 'a');
  reply =
      request(c.port(), post("/instances/add", instances_body("decode", {label + "." + label + "." + label +
                                                                         "." + label + ":" + port})));
  EXPECT_EQ(reply.status, 400) << reply.body;
  EXPECT_EQ(json::parse(request(c.port(), get("/instances")).body)["instances"].size(), 3u);
  EXPECT_TRUE(eventually([&] { return c.idle(); }));
  extra.stop();
}

TEST(proxy_pools, the_admin_key_is_required_when_set) {
  cluster c({{fast_engines(1)}}, {{fast_engines(1)}},
            [](proxy_config& config) { config.admin_api_key = "admin-secret"; });
  for (const char* wrong : {"", "Bearer nope", "Bearer admin-secretX", "Basic admin-secret"}) {
    auto spec = get("/instances");
    if (*wrong != '\0') spec.headers.emplace_back("Authorization", wrong);
    const auto reply = request(c.port(), spec);
    EXPECT_EQ(reply.status, 401) << wrong;
    EXPECT_EQ(reply.headers["WWW-Authenticate"], "Bearer") << wrong;
    EXPECT_EQ(json::parse(reply.body)["error"]["code"], 401) << reply.body;
  }
  auto add = post("/instances/add", instances_body("decode", {local(refused_port())}));
  const auto refused = request(c.port(), add);
  EXPECT_EQ(refused.status, 401);
  auto list = get("/instances");
  list.headers.emplace_back("Authorization", "Bearer admin-secret");
  const auto reply = request(c.port(), list);
  EXPECT_EQ(reply.status, 200) << reply.body;
  EXPECT_EQ(json::parse(reply.body)["instances"].size(), 2u);
}

TEST(proxy_pools, an_instance_that_answers_later_waits_then_becomes_active) {
  const std::uint16_t later = refused_port();
  cluster c({{fast_engines(1)}}, {{fast_engines(1)}}, [](proxy_config& config) {
    config.waiting_retry_interval = seconds_d{0.05};
    config.max_waiting_retries = 100000;
    config.health_check_interval = seconds_d{0.05};  // active checks on: a probed instance is healthy at once
    config.health_check_timeout = seconds_d{1};
  });
  const std::string address = local(later);
  const auto reply = request(c.port(), post("/instances/add", instances_body("decode", {address})));
  ASSERT_EQ(reply.status, 200) << reply.body;
  const auto body = json::parse(reply.body);
  EXPECT_NE(body["message"].get<std::string>().find("waiting to be added"), std::string::npos);
  EXPECT_FALSE(contains(body["current_decode_instances"], address));
  EXPECT_EQ(state_of(c.port(), "decode", address), "waiting");
  EXPECT_EQ(json::parse(request(c.port(), get("/ready")).body)["decode_healthy"], 1);
  // Added twice while waiting: still one.
  request(c.port(), post("/instances/add", instances_body("decode", {address})));

  mock::mock_options options = fast_engines(1);
  options.port = later;
  mock::mock_server engine(options);
  engine.start();
  ASSERT_TRUE(eventually([&] { return state_of(c.port(), "decode", address) == "active"; }));
  EXPECT_EQ(json::parse(request(c.port(), get("/ready")).body)["decode_healthy"], 2);
  for (int i = 0; i < 10; ++i) ASSERT_EQ(request(c.port(), post("/v1/completions", json_body)).status, 200);
  EXPECT_GT(engine.stats(0).requests.load(), 0u);
  engine.stop();
}

// A backend that reads a probe and never answers it.
scripted_backend::script hung() {
  return [](const http::request<http::string_body>&) { return scripted_answer{"", /*hold_open=*/true}; };
}

// Issue 20 item 20: an add no longer waits for probes that hang; it answers them as waiting while they go on.
TEST(proxy_pools, an_add_answers_hung_instances_as_waiting_while_their_probes_go_on) {
  scripted_backend stalled(hung());
  cluster c({{fast_engines(1)}}, {{fast_engines(1)}},
            [](proxy_config& config) { config.health_check_timeout = seconds_d{60}; });
  const std::string address = local(stalled.port());
  const auto reply = request(c.port(), post("/instances/add", instances_body("decode", {address})));
  ASSERT_EQ(reply.status, 200) << reply.body;
  EXPECT_NE(json::parse(reply.body)["message"].get<std::string>().find("waiting to be added"),
            std::string::npos);
  EXPECT_EQ(stalled.held_open(), 1);  // its probe was still in flight when the add answered
  EXPECT_EQ(state_of(c.port(), "decode", address), "waiting");
}

// Issue 20 item 20: an add in progress when the drain begins is answered 503 with Retry-After, not cut.
TEST(proxy_pools, an_add_in_progress_at_the_drain_is_answered_503) {
  scripted_backend stalled(hung());
  cluster c({{fast_engines(1)}}, {{fast_engines(1)}},
            [](proxy_config& config) { config.health_check_timeout = seconds_d{60}; });
  http_reply reply;
  std::thread admin([&] {
    reply = request(c.port(), post("/instances/add", instances_body("decode", {local(stalled.port())})));
  });
  ASSERT_TRUE(eventually([&] { return stalled.held_open() == 1; }));  // the add waits for that probe
  c.proxy().stop(seconds_d{30});
  admin.join();
  EXPECT_EQ(reply.status, 503) << reply.body;
  EXPECT_EQ(reply.headers["Retry-After"], "1");
  const auto error = json::parse(reply.body, nullptr, false);
  ASSERT_TRUE(error.is_object()) << reply.body;
  EXPECT_EQ(error["error"]["code"], 503);
}

TEST(proxy_pools, a_removed_decoder_finishes_its_stream_and_gets_no_new_request) {
  cluster c({{fast_engines(1)}}, {{slow_engines(1)}});
  const auto* slow = c.decode_servers()[0];
  const std::string slow_address = local(slow->port(0));
  mock::mock_server other(fast_engines(1));
  other.start();
  ASSERT_EQ(
      request(c.port(), post("/instances/add", instances_body("decode", {local(other.port(0))}))).status,
      200);
  // Only the slow decoder may take the stream: the other one drains first (it is idle, so it goes at once).
  ASSERT_EQ(
      request(c.port(), post("/instances/remove", instances_body("decode", {local(other.port(0))}))).status,
      200);

  http_reply streamed;
  std::thread client([&] {
    streamed = request(
        c.port(), post("/v1/completions", R"({"model":"m","prompt":"hello","max_tokens":50,"stream":true})"));
  });
  ASSERT_TRUE(eventually([&] { return slow->stats(0).requests.load() == 1; }));
  ASSERT_EQ(
      request(c.port(), post("/instances/add", instances_body("decode", {local(other.port(0))}))).status,
      200);
  const auto removed = request(c.port(), post("/instances/remove", instances_body("decode", {slow_address})));
  ASSERT_EQ(removed.status, 200);
  EXPECT_NE(json::parse(removed.body)["message"].get<std::string>().find("isolated"), std::string::npos);
  // Draining: listed with its request in flight, picked by no new request.
  bool draining = false;
  const auto listed = json::parse(request(c.port(), get("/instances")).body);
  for (const auto& i : listed["instances"]) {
    if (i["address"] == slow_address) draining = i["state"] == "draining" && i["inflight"] == 1;
  }
  EXPECT_TRUE(draining);  // the stream lasts 2 s of the engine's time
  for (int i = 0; i < 5; ++i) ASSERT_EQ(request(c.port(), post("/v1/completions", json_body)).status, 200);
  EXPECT_EQ(slow->stats(0).requests.load(), 1u);

  client.join();
  EXPECT_EQ(streamed.status, 200);
  EXPECT_TRUE(streamed.complete);
  const auto events = sse_data(streamed.body);
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back(), "[DONE]");
  for (const auto& e : events) EXPECT_EQ(e.find("\"error\""), std::string::npos) << e;
  EXPECT_TRUE(eventually([&] { return state_of(c.port(), "decode", slow_address).empty(); }));
  EXPECT_TRUE(eventually([&] { return c.idle(); }));
  other.stop();
}

TEST(proxy_pools, reset_prefix_cache_is_broadcast_with_its_query) {
  const auto ok = [](const http::request<http::string_body>&) {
    return scripted_answer{http_response(200, "application/json", "")};
  };
  scripted_backend p1(ok), d1(ok), d2(ok);
  cluster c({{{}, 0, {p1.port()}}}, {{{}, 0, {d1.port(), d2.port()}}});
  const auto reply = request(c.port(), post("/reset_prefix_cache?reset_running_requests=true", ""));
  ASSERT_EQ(reply.status, 200) << reply.body;
  const auto body = json::parse(reply.body);
  EXPECT_EQ(body["results"].size(), 3u);
  for (const auto* backend : {&p1, &d1, &d2}) {
    const auto received = backend->received();
    ASSERT_EQ(received.size(), 1u);
    EXPECT_EQ(received[0].method(), http::verb::post);
    EXPECT_EQ(received[0].target(), "/reset_prefix_cache?reset_running_requests=true");
  }
}

TEST(proxy_pools, reset_prefix_cache_is_502_with_the_results_when_one_fails) {
  const auto ok = [](const http::request<http::string_body>&) {
    return scripted_answer{http_response(200, "application/json", "")};
  };
  const auto not_found = [](const http::request<http::string_body>&) {
    return scripted_answer{http_response(404, "application/json", R"({"detail":"Not Found"})")};
  };
  scripted_backend p1(ok), d1(not_found);
  const std::uint16_t dead = refused_port();
  cluster c({{{}, 0, {p1.port()}}}, {{{}, 0, {d1.port(), dead}}});
  const auto reply = request(c.port(), post("/reset_prefix_cache", ""));
  ASSERT_EQ(reply.status, 502) << reply.body;
  const auto body = json::parse(reply.body);
  ASSERT_EQ(body["failed"].size(), 2u);
  EXPECT_TRUE(contains(body["failed"], "http://" + local(d1.port())));
  EXPECT_TRUE(contains(body["failed"], "http://" + local(dead)));
  ASSERT_EQ(body["results"].size(), 3u);
  for (const auto& r : body["results"]) {
    if (r["instance"] == local(p1.port())) {
      EXPECT_EQ(r["ok"], true);
    } else if (r["instance"] == local(d1.port())) {
      EXPECT_EQ(r["status"], 404);
    } else {
      EXPECT_TRUE(r.contains("error")) << r.dump();
    }
  }
  EXPECT_EQ(p1.received().size(), 1u);
}

// A resolver whose answer the test sets; counts lookups.
class fake_resolver final : public dns_resolver {
 public:
  net::awaitable<std::optional<std::vector<std::string>>> resolve(const std::string& name,
                                                                  seconds_d) override {
    std::lock_guard lock(mutex_);
    ++lookups_;
    last_name_ = name;
    co_return answer_;
  }
  void answer(std::optional<std::vector<std::string>> a) {
    std::lock_guard lock(mutex_);
    answer_ = std::move(a);
  }
  int lookups() const {
    std::lock_guard lock(mutex_);
    return lookups_;
  }
  std::string last_name() const {
    std::lock_guard lock(mutex_);
    return last_name_;
  }

 private:
  mutable std::mutex mutex_;
  std::optional<std::vector<std::string>> answer_;
  int lookups_ = 0;
  std::string last_name_;
};

TEST(proxy_pools, dns_discovery_adds_new_records_drains_gone_ones_and_keeps_the_last_good_set) {
  mock::mock_server first(fast_engines(1));
  first.start();
  const std::uint16_t port = first.port(0);
  mock::mock_options second_options = fast_engines(1);
  second_options.host = "127.0.0.2";  // the same port on another loopback address: a second DNS record
  second_options.port = port;
  mock::mock_server second(second_options);
  second.start();

  auto resolver = std::make_shared<fake_resolver>();
  resolver->answer(std::vector<std::string>{"127.0.0.1"});
  cluster c(
      {{fast_engines(1)}}, {},
      [port](proxy_config& config) {
        config.dns_targets = {dns_target{backend_role::decode, "decoders.example.svc", port}};
        config.dns_refresh_interval = seconds_d{0.02};
      },
      [resolver](server& s) { s.set_dns_resolver(resolver); });
  const std::string a = "127.0.0.1:" + std::to_string(port);
  const std::string b = "127.0.0.2:" + std::to_string(port);

  ASSERT_TRUE(eventually([&] { return state_of(c.port(), "decode", a) == "active"; }));
  EXPECT_EQ(resolver->last_name(), "decoders.example.svc");
  ASSERT_EQ(request(c.port(), post("/v1/completions", json_body)).status, 200);

  resolver->answer(std::vector<std::string>{"127.0.0.1", "127.0.0.2"});
  ASSERT_TRUE(eventually([&] { return state_of(c.port(), "decode", b) == "active"; }));

  resolver->answer(std::vector<std::string>{"127.0.0.2"});
  ASSERT_TRUE(eventually([&] { return state_of(c.port(), "decode", a).empty(); }));
  const auto before = first.stats(0).requests.load();
  for (int i = 0; i < 5; ++i) ASSERT_EQ(request(c.port(), post("/v1/completions", json_body)).status, 200);
  EXPECT_EQ(first.stats(0).requests.load(), before);
  EXPECT_GE(second.stats(0).requests.load(), 5u);

  // A failed lookup, then an empty one: the last good set stays.
  resolver->answer(std::nullopt);
  int seen = resolver->lookups();
  ASSERT_TRUE(eventually([&] { return resolver->lookups() >= seen + 3; }));
  resolver->answer(std::vector<std::string>{});
  seen = resolver->lookups();
  ASSERT_TRUE(eventually([&] { return resolver->lookups() >= seen + 3; }));
  EXPECT_EQ(state_of(c.port(), "decode", b), "active");
  ASSERT_EQ(request(c.port(), post("/v1/completions", json_body)).status, 200);
  EXPECT_TRUE(eventually([&] { return c.idle(); }));
  first.stop();
  second.stop();
}

// The lines logged while it lives (it is the default logger then). Create it before the cluster, so that
// no other thread logs while the default logger is swapped.
class captured_log {
 public:
  captured_log() : previous_(spdlog::default_logger()), sink_(std::make_shared<lines_sink>()) {
    auto logger = std::make_shared<spdlog::logger>("captured", sink_);
    logger->set_level(spdlog::level::info);
    spdlog::set_default_logger(std::move(logger));
  }
  ~captured_log() { spdlog::set_default_logger(previous_); }
  captured_log(const captured_log&) = delete;
  captured_log& operator=(const captured_log&) = delete;

  std::size_t count(std::string_view text) const { return sink_->count(text); }

 private:
  class lines_sink final : public spdlog::sinks::base_sink<std::mutex> {
   public:
    std::size_t count(std::string_view text) {
      std::lock_guard lock(mutex_);
      return static_cast<std::size_t>(std::count_if(lines_.begin(), lines_.end(), [&](const std::string& l) {
        return l.find(text) != std::string::npos;
      }));
    }

   protected:
    void sink_it_(const spdlog::details::log_msg& msg) override {
      lines_.emplace_back(msg.payload.data(), msg.payload.size());
    }
    void flush_() override {}

   private:
    std::vector<std::string> lines_;
  };

  std::shared_ptr<spdlog::logger> previous_;
  std::shared_ptr<lines_sink> sink_;
};

// Issue 20 item 20: a name that fails is logged when it begins failing, not at every refresh.
TEST(proxy_pools, a_dns_name_that_fails_is_logged_once_per_change) {
  captured_log log;
  auto resolver = std::make_shared<fake_resolver>();
  resolver->answer(std::nullopt);
  const std::uint16_t port = refused_port();
  {
    cluster c(
        {{fast_engines(1)}}, {},
        [port](proxy_config& config) {
          config.dns_targets = {dns_target{backend_role::decode, "localhost", port}};
          config.dns_refresh_interval = seconds_d{0.01};
        },
        [resolver](server& s) { s.set_dns_resolver(resolver); });
    ASSERT_TRUE(eventually([&] { return resolver->lookups() >= 5; }));
    EXPECT_EQ(log.count("did not resolve"), 1u);
    resolver->answer(std::vector<std::string>{"127.0.0.1"});
    ASSERT_TRUE(eventually([&] { return log.count("resolves again") == 1; }));
    resolver->answer(std::vector<std::string>{});
    int seen = resolver->lookups();
    ASSERT_TRUE(eventually([&] { return resolver->lookups() >= seen + 5; }));
    EXPECT_EQ(log.count("has no record"), 1u);
    resolver->answer(std::nullopt);
    seen = resolver->lookups();
    ASSERT_TRUE(eventually([&] { return resolver->lookups() >= seen + 5; }));
    EXPECT_EQ(log.count("did not resolve"), 2u);
    EXPECT_EQ(log.count("resolves again"), 1u);
  }
}

// Issue 20 item 14: a DNS record whose engine is still loading when it appears stays a candidate: probed
// (with back-off) past --max-waiting-retries, and active once the engine answers. The real resolver, on
// localhost.
TEST(proxy_pools, a_dns_record_whose_engine_loads_late_becomes_active) {
  std::atomic<bool> loading{true};
  scripted_backend engine([&loading](const http::request<http::string_body>&) {
    return scripted_answer{http_response(loading.load() ? 503 : 200, "application/json", "{}")};
  });
  const std::uint16_t port = engine.port();
  cluster c({{fast_engines(1)}}, {}, [port](proxy_config& config) {
    config.dns_targets = {dns_target{backend_role::decode, "localhost", port}};
    config.dns_refresh_interval = seconds_d{0.02};
    config.max_waiting_retries = 1;
    config.waiting_retry_interval = seconds_d{0.01};
  });
  const std::string address = local(port);
  // Probed past its one allowed retry, and still waiting (it used to be dropped, and never added again).
  ASSERT_TRUE(eventually([&] { return engine.received().size() >= 4; }));
  EXPECT_EQ(state_of(c.port(), "decode", address), "waiting");
  loading = false;
  EXPECT_TRUE(eventually([&] { return state_of(c.port(), "decode", address) == "active"; }));
}

// The issue's stress test: 1,000 add/remove cycles of a decoder while streams run (run it under TSan too).
TEST(proxy_pools_stress, a_thousand_add_remove_cycles_while_streams_run) {
  cluster c({{fast_engines(1)}}, {{fast_engines(1)}});
  mock::mock_server churned(fast_engines(1));
  churned.start();
  const backend_address address{"127.0.0.1", churned.port(0)};
  const std::string body = instances_body("decode", {address.authority()});

  std::atomic<bool> stop{false};
  std::atomic<int> streams{0}, bad{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < 4; ++t) {
    clients.emplace_back([&] {
      while (!stop.load()) {
        const auto reply = request(c.port(), post("/v1/completions", stream_body));
        const auto events = sse_data(reply.body);
        if (reply.status != 200 || !reply.complete || events.empty() || events.back() != "[DONE]") ++bad;
        ++streams;
      }
    });
  }
  auto& pools = c.state().pools;
  int cycles = 0;
  for (; cycles < 1000; ++cycles) {
    if (cycles % 100 == 0) {  // now and then through the routes, probe included
      const auto added = request(c.port(), post("/instances/add", body));
      const auto removed = request(c.port(), post("/instances/remove", body));
      if (added.status != 200 || removed.status != 200) break;
      continue;
    }
    const auto added = pools.add(backend_role::decode, {address}, pool_manager::clock::now());
    if (added.waiting.size() != 1u) break;
    if (pools.probe_finished(added.waiting[0].ticket, true, pool_manager::clock::now()) !=
        probe_verdict::activated)
      break;
    if (cycles % 10 == 0) std::this_thread::sleep_for(1ms);  // let some streams land on it
    const auto removed = pools.remove(backend_role::decode, {address});
    if (removed.removed.size() + removed.draining.size() != 1u) break;
  }
  stop = true;
  EXPECT_EQ(cycles, 1000);
  for (auto& t : clients) t.join();
  EXPECT_GT(streams.load(), 0);
  EXPECT_EQ(bad.load(), 0);
  EXPECT_TRUE(eventually([&] { return c.state().request_num.load() == 0; }));
  EXPECT_EQ(c.state().request_num.load(), 0);
  EXPECT_TRUE(eventually([&] { return c.idle(); }));
  // Every removed backend ended its load: nothing is left draining, and the pools are as configured.
  EXPECT_TRUE(eventually([&] { return pools.list().size() == 2; }));
  EXPECT_EQ(pools.current(backend_role::decode).size(), 1u);
  churned.stop();
}

}  // namespace
}  // namespace pd_proxy::test
