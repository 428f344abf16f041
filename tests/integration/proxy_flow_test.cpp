// The PD flow through the real proxy against pd-mock engines on loopback.
#include <gtest/gtest.h>

#include "pd_proxy/core/flow/request_rewrite.hpp"
#include "proxy_fixture.hpp"

namespace pd_proxy::test {
namespace {

const std::string completion_stream =
    R"({"model":"mock-model","prompt":"Tell me about caches","max_tokens":5,"stream":true,)"
    R"("stream_options":{"include_usage":true},"temperature":0.5,"seed":9223372036854775807})";
const std::string chat_stream =
    R"({"model":"mock-model","messages":[{"role":"user","content":"Zażółć gęślą jaźń 🐢"}],)"
    R"("max_completion_tokens":4,"stream":true})";

request_spec post(std::string target, std::string body, std::string id = {}) {
  request_spec spec;
  spec.target = std::move(target);
  spec.body = std::move(body);
  if (!id.empty()) spec.headers.push_back({"X-Request-Id", id});
  return spec;
}

TEST(proxy_flow, completions_stream_relays_every_event_and_each_leg_gets_the_right_body) {
  cluster c({{fast_engines(1)}}, {{fast_engines(1)}},
            [](proxy_config& config) { config.backend_api_key = "sk-t"; });
  const auto reply = request(c.port(), post("/v1/completions", completion_stream, "req-42"));
  ASSERT_TRUE(reply.complete) << reply.ec.message();
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(reply.headers[http::field::content_type], "text/event-stream; charset=utf-8");
  EXPECT_EQ(reply.headers["X-Request-Id"], "req-42");
  const auto events = sse_data(reply.body);
  ASSERT_EQ(events.size(), 7u);  // 5 tokens, usage, [DONE]
  EXPECT_EQ(events.back(), "[DONE]");
  EXPECT_NE(events[0].find("\"id\":\"cmpl-req-42\""), std::string::npos);

  const auto prefill = c.prefill_servers()[0]->recorded(0);
  const auto decode = c.decode_servers()[0]->recorded(0);
  ASSERT_EQ(prefill.size(), 1u);
  ASSERT_EQ(decode.size(), 1u);
  EXPECT_EQ(prefill[0].request_id, "req-42");
  EXPECT_EQ(decode[0].request_id, "req-42");
  EXPECT_EQ(prefill[0].authorization, "Bearer sk-t");
  EXPECT_EQ(decode[0].authorization, "Bearer sk-t");
  const auto client = *client_request::parse(completion_stream);
  EXPECT_EQ(prefill[0].body, make_prefill_body(client));
  // The decoder got the client body plus the prefiller's kv_transfer_params, verbatim.
  auto decode_body = *parse_json_object(decode[0].body);
  const json kv = decode_body["kv_transfer_params"];
  EXPECT_EQ(kv["remote_engine_id"], "mock-engine-" + std::to_string(c.prefill_servers()[0]->port(0)));
  EXPECT_EQ(kv["remote_request_id"], "req-42");
  EXPECT_EQ(decode[0].body, make_decode_body(client, dump_json(kv)));
  EXPECT_EQ(c.total(false, &mock::engine_stats::kv_pulls), 1u);
  EXPECT_EQ(c.total(false, &mock::engine_stats::local_prefills), 0u);
  EXPECT_TRUE(eventually([&] { return c.idle(); }));
}

TEST(proxy_flow, relay_is_byte_exact) {
  cluster c({{fast_engines(1)}}, {{fast_engines(1)}});
  const auto via_proxy = request(c.port(), post("/v1/chat/completions", chat_stream, "same-id"));
  // The same request straight to the decoder (it prefills locally; the output format is the same).
  const auto direct =
      request(c.decode_servers()[0]->port(0), post("/v1/chat/completions", chat_stream, "same-id"));
  ASSERT_TRUE(via_proxy.complete);
  ASSERT_TRUE(direct.complete);
  EXPECT_EQ(via_proxy.body, direct.body);
  const auto events = sse_data(via_proxy.body);
  ASSERT_EQ(events.size(), 6u);  // role, 4 tokens, [DONE]
  EXPECT_NE(events[0].find("\"role\":\"assistant\""), std::string::npos);
}

TEST(proxy_flow, non_streaming_both_routes) {
  cluster c({{fast_engines(2)}}, {{fast_engines(2)}});
  for (const char* route : {"/v1/completions", "/v1/chat/completions"}) {
    const std::string body =
        std::string(route) == "/v1/completions"
            ? R"({"model":"m","prompt":"hi","max_tokens":3})"
            : R"({"model":"m","messages":[{"role":"user","content":"hi"}],"max_tokens":3})";
    const auto reply = request(c.port(), post(route, body));
    ASSERT_TRUE(reply.complete) << route;
    EXPECT_EQ(reply.status, 200);
    EXPECT_EQ(reply.headers[http::field::content_type], "application/json");
    auto parsed = parse_json_object(reply.body);
    ASSERT_TRUE(parsed) << reply.body;
    EXPECT_EQ((*parsed)["usage"]["completion_tokens"], 3);
    EXPECT_EQ(reply.headers["X-Request-Id"].size(), 36u);  // a fresh UUID
  }
  EXPECT_TRUE(eventually([&] { return c.idle(); }));
}

TEST(proxy_flow, idle_cluster_spreads_requests_over_every_instance) {
  cluster c({{fast_engines(2)}}, {{fast_engines(4)}});
  for (int i = 0; i < 8; ++i) {
    ASSERT_EQ(request(c.port(), post("/v1/completions", R"({"prompt":"x","max_tokens":1})")).status, 200);
  }
  for (std::size_t i = 0; i < 2; ++i) EXPECT_EQ(c.prefill_servers()[0]->stats(i).prefill_requests.load(), 4u);
  for (std::size_t i = 0; i < 4; ++i) EXPECT_EQ(c.decode_servers()[0]->stats(i).decode_requests.load(), 2u);
}

TEST(proxy_flow, prefiller_without_kv_params_means_local_prefill_on_the_decoder) {
  auto broken_connector = fast_engines(1);
  broken_connector.faults.drop_kv_params = true;
  cluster c({{broken_connector}}, {{fast_engines(1)}});
  const auto reply =
      request(c.port(), post("/v1/completions",
                             R"({"prompt":"x","max_tokens":2,"kv_transfer_params":{"remote_host":"evil"}})"));
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(sse_data(reply.body).size(), 0u);  // not a stream
  EXPECT_EQ(c.state().counters.local_prefills.load(), 1u);
  EXPECT_EQ(c.total(false, &mock::engine_stats::plain_requests), 1u);
  EXPECT_EQ(c.total(false, &mock::engine_stats::local_prefills), 1u);
  // The client's own kv_transfer_params never reach the decoder.
  EXPECT_EQ(c.decode_servers()[0]->recorded(0)[0].body, R"({"prompt":"x","max_tokens":2})");
}

TEST(proxy_flow, health_routes) {
  cluster c({{fast_engines(2)}}, {{fast_engines(3)}});
  request_spec get;
  get.method = http::verb::get;
  get.target = "/healthcheck";
  const auto hc = request(c.port(), get);
  EXPECT_EQ(hc.status, 200);
  EXPECT_EQ(
      *parse_json_object(hc.body),
      *parse_json_object(
          R"({"status":"ok","prefill_instances":2,"decode_instances":3,"request_num":0,"prefill_healthy":2,"decode_healthy":3,"queued":0})"));
  get.target = "/health";
  EXPECT_EQ(request(c.port(), get).status, 200);
  get.target = "/v1/models";
  const auto models = request(c.port(), get);
  EXPECT_EQ(models.status, 200);
  EXPECT_NE(models.body.find("\"id\":\"mock-model\""), std::string::npos);
  get.target = "/nope";
  EXPECT_EQ(request(c.port(), get).status, 404);
  get.target = "/v1/completions";
  EXPECT_EQ(request(c.port(), get).status, 405);
}

TEST(proxy_flow, request_errors_are_openai_shaped) {
  cluster c({{fast_engines(1)}}, {{fast_engines(1)}},
            [](proxy_config& config) { config.max_body_size = 1024; });
  const auto bad = request(c.port(), post("/v1/completions", "{not json"));
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ((*parse_json_object(bad.body))["error"]["code"], 400);
  const auto big =
      request(c.port(), post("/v1/completions", R"({"prompt":")" + std::string(2000, 'x') + "\"}"));
  EXPECT_EQ(big.status, 413);
  EXPECT_EQ((*parse_json_object(big.body))["error"]["type"], "invalid_request_error");
  EXPECT_EQ(c.total(true, &mock::engine_stats::requests), 0u);
}

TEST(proxy_flow, keep_alive_serves_several_requests_on_one_connection) {
  cluster c({{fast_engines(1)}}, {{fast_engines(1)}});
  net::io_context io;
  tcp::socket socket(io);
  socket.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), c.port()));
  beast::flat_buffer buffer;
  for (int i = 0; i < 3; ++i) {
    http::request<http::string_body> req{http::verb::post, "/v1/completions", 11};
    req.set(http::field::host, "x");
    req.body() = R"({"prompt":"x","max_tokens":2,"stream":true})";
    req.prepare_payload();
    http::write(socket, req);
    http::response<http::string_body> res;
    http::read(socket, buffer, res);
    EXPECT_EQ(res.result_int(), 200);
    EXPECT_EQ(sse_data(res.body()).back(), "[DONE]");
  }
  // The backend connections were reused too.
  EXPECT_EQ(c.decode_servers()[0]->stats(0).open_connections.load(), 1);
}

}  // namespace
}  // namespace pd_proxy::test
