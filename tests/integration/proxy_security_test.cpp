// API keys and forwarded headers end to end (docs/security.md): the decisions are unit-tested in
// authorization_test and forwarded_headers_test; these check the proxy applies them on the wire.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "proxy_fixture.hpp"
#include "proxy_process.hpp"
#include "scripted_backend.hpp"

namespace pd_proxy::test {
namespace {

const std::string stream_body = R"({"model":"m","prompt":"hello","max_tokens":4,"stream":true})";
const std::string traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

request_spec post(std::vector<std::pair<std::string, std::string>> headers,
                  std::string target = "/v1/completions") {
  request_spec spec;
  spec.target = std::move(target);
  spec.body = stream_body;
  spec.headers = std::move(headers);
  return spec;
}

std::string sse_answer() {
  return http_response(200, "text/event-stream",
                       "data: {\"choices\":[{\"text\":\"a\"}]}\n\ndata: [DONE]\n\n");
}

// A scripted prefiller and decoder that record what they receive.
struct scripted_pair {
  scripted_backend prefiller{[](const auto& req) {
    if (req.target() == "/v1/models")
      return scripted_answer{http_response(200, "application/json", R"({"object":"list","data":[]})")};
    return scripted_answer{prefill_answer_bytes()};
  }};
  scripted_backend decoder{[](const auto& req) {
    if (req.target() == "/v1/models")
      return scripted_answer{http_response(200, "application/json", R"({"object":"list","data":[]})")};
    return scripted_answer{sse_answer()};
  }};
  std::vector<http::request<http::string_body>> all_received() const {
    auto all = prefiller.received();
    const auto more = decoder.received();
    all.insert(all.end(), more.begin(), more.end());
    return all;
  }
};

void expect_401(const http_reply& reply, std::string_view what) {
  EXPECT_EQ(reply.status, 401) << what;
  EXPECT_EQ(std::string(reply.headers["WWW-Authenticate"]), "Bearer") << what;
  const auto body = nlohmann::json::parse(reply.body, nullptr, false);
  ASSERT_TRUE(body.is_object()) << reply.body;
  EXPECT_EQ(body["error"]["type"], "authentication_error") << reply.body;
  EXPECT_EQ(body["error"]["code"], 401) << reply.body;
  EXPECT_TRUE(body["error"]["message"].is_string()) << reply.body;
}

TEST(proxy_security, without_or_with_a_wrong_key_401_and_no_backend_round_trip) {
  scripted_pair backends;
  cluster c({{{}, 0, {backends.prefiller.port()}}}, {{{}, 0, {backends.decoder.port()}}},
            [](proxy_config& config) {
              config.api_keys = {"old-key", "new-key"};
            });
  expect_401(request(c.port(), post({})), "no header");
  expect_401(request(c.port(), post({{"Authorization", "Bearer wrong"}})), "wrong key");
  expect_401(request(c.port(), post({{"Authorization", "Basic b2xkLWtleQ=="}})), "other scheme");
  expect_401(request(c.port(), post({{"Authorization", "Bearer new-ke"}}, "/v1/chat/completions")), "chat");
  request_spec models;
  models.method = http::verb::get;
  models.target = "/v1/models";
  expect_401(request(c.port(), models), "models");
  EXPECT_TRUE(backends.all_received().empty());
}

TEST(proxy_security, the_right_key_is_served_and_never_reaches_a_backend) {
  scripted_pair backends;
  cluster c({{{}, 0, {backends.prefiller.port()}}}, {{{}, 0, {backends.decoder.port()}}},
            [](proxy_config& config) {
              config.api_keys = {"old-key", "new-key"};
              config.backend_api_key = "backend-key";
            });
  for (const char* key : {"old-key", "new-key"}) {
    const auto reply = request(c.port(), post({{"Authorization", std::string("Bearer ") + key}}));
    EXPECT_EQ(reply.status, 200) << key << reply.body;
    EXPECT_NE(reply.body.find("[DONE]"), std::string::npos);
  }
  request_spec models;
  models.method = http::verb::get;
  models.target = "/v1/models";
  models.headers = {{"Authorization", "Bearer new-key"}};
  EXPECT_EQ(request(c.port(), models).status, 200);

  const auto received = backends.all_received();
  ASSERT_GE(received.size(), 5u);  // two prefills, two decodes, at least one /v1/models
  for (const auto& req : received) {
    EXPECT_EQ(std::string(req[http::field::authorization]), "Bearer backend-key") << req.target();
  }
  EXPECT_TRUE(eventually([&] { return c.idle(); }));
}

TEST(proxy_security, health_routes_stay_open) {
  scripted_pair backends;
  cluster c({{{}, 0, {backends.prefiller.port()}}}, {{{}, 0, {backends.decoder.port()}}},
            [](proxy_config& config) { config.api_keys = {"k"}; });
  for (const char* target : {"/health", "/healthcheck", "/ready"}) {
    request_spec spec;
    spec.method = http::verb::get;
    spec.target = target;
    EXPECT_EQ(request(c.port(), spec).status, 200) << target;
  }
}

TEST(proxy_security, forward_client_authorization_sends_the_clients_header_instead) {
  scripted_pair backends;
  cluster c({{{}, 0, {backends.prefiller.port()}}}, {{{}, 0, {backends.decoder.port()}}},
            [](proxy_config& config) {
              config.backend_api_key = "backend-key";
              config.forward_client_authorization = true;
            });
  EXPECT_EQ(request(c.port(), post({{"Authorization", "Bearer user-7"}})).status, 200);
  EXPECT_EQ(request(c.port(), post({})).status, 200);  // no client header: none forwarded, no backend key
  const auto prefills = backends.prefiller.received();
  const auto decodes = backends.decoder.received();
  ASSERT_EQ(prefills.size(), 2u);
  ASSERT_EQ(decodes.size(), 2u);
  EXPECT_EQ(std::string(prefills[0][http::field::authorization]), "Bearer user-7");
  EXPECT_EQ(std::string(decodes[0][http::field::authorization]), "Bearer user-7");
  EXPECT_EQ(prefills[1].count(http::field::authorization), 0u);
  EXPECT_EQ(decodes[1].count(http::field::authorization), 0u);
}

TEST(proxy_security, trace_context_and_request_id_reach_both_legs_unchanged) {
  scripted_pair backends;
  cluster c({{{}, 0, {backends.prefiller.port()}}}, {{{}, 0, {backends.decoder.port()}}});
  const auto reply = request(c.port(), post({{"traceparent", traceparent},
                                             {"tracestate", "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"},
                                             {"X-Request-Id", "trace-req-1"}}));
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(std::string(reply.headers["X-Request-Id"]), "trace-req-1");
  const auto received = backends.all_received();
  ASSERT_EQ(received.size(), 2u);  // the prefill and the decode
  for (const auto& req : received) {
    EXPECT_EQ(std::string(req["traceparent"]), traceparent);
    EXPECT_EQ(std::string(req["tracestate"]), "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7");
    EXPECT_EQ(std::string(req["X-Request-Id"]), "trace-req-1");
    EXPECT_EQ(req.count(http::field::authorization), 0u);
  }
}

// A key file found empty by a reload (a config tool truncates it before writing it again) must not turn
// client authentication off: the reload is refused, logged and counted, and the running keys stay. A --config
// file that sets a key twice is refused the same way. Through the real binary and SIGHUP.
TEST(proxy_security, a_reload_that_finds_no_key_keeps_the_running_keys) {
  scripted_pair backends;
  const std::string base = testing::TempDir() + "pd-proxy-reload-keys-" + std::to_string(::getpid());
  const std::string keys = base + ".keys", config = base + ".toml";
  std::ofstream(keys) << "# rotation\nrunning-key\n";
  std::ofstream(config) << "max-retries = 1\n";
  {
    proxy_process proxy(backends.prefiller.port(), backends.decoder.port(),
                        {"--api-key-file", keys, "--config", config});
    ASSERT_TRUE(proxy.serving()) << proxy.output();
    const auto with_key = post({{"Authorization", "Bearer running-key"}});
    ASSERT_TRUE(eventually([&] { return request(proxy.port(), with_key).status == 200; }));
    expect_401(request(proxy.port(), post({})), "before the reload");

    std::ofstream(keys, std::ios::trunc) << "# being rewritten\n";
    proxy.signal(SIGHUP);
    EXPECT_TRUE(
        proxy.logged("configuration reload rejected, the running configuration stays: --api-key-file"))
        << proxy.output();
    expect_401(request(proxy.port(), post({})), "after the refused reload");
    EXPECT_EQ(request(proxy.port(), with_key).status, 200);

    std::ofstream(keys, std::ios::trunc) << "running-key\n";
    std::ofstream(config, std::ios::trunc) << "max-retries = 1\nmax-retries = 2\n";
    proxy.signal(SIGHUP);
    EXPECT_TRUE(proxy.logged("--config: line 2: 'max-retries' is set again (first on line 1)"))
        << proxy.output();

    request_spec metrics;
    metrics.method = http::verb::get;
    metrics.target = "/metrics";
    const auto exposition = request(proxy.port(), metrics).body;
    EXPECT_NE(exposition.find("pd_proxy_config_reloads_total{result=\"rejected\"} 2"), std::string::npos)
        << exposition;
    EXPECT_NE(exposition.find("pd_proxy_config_reloads_total{result=\"applied\"} 0"), std::string::npos);
    EXPECT_EQ(proxy.output().find("running-key"), std::string::npos) << proxy.output();
    proxy.signal(SIGTERM);
    EXPECT_EQ(proxy.wait_exit(std::chrono::milliseconds(10000)), 0);
  }
  std::remove(keys.c_str());
  std::remove(config.c_str());
}

}  // namespace
}  // namespace pd_proxy::test
