// --pd-protocol decoder-first (vLLM-Ascend layerwise) end to end: a decoder that calls the proxy's metaserver
// back as the connector does, a prefiller, the exact bytes each received, and every failure path.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <mutex>

#include "pd_proxy/core/flow/request_rewrite.hpp"
#include "proxy_fixture.hpp"
#include "scripted_backend.hpp"

namespace pd_proxy::test {
namespace {

const std::string stream_body = R"({"model":"m","prompt":"hello","max_tokens":6,"stream":true})";
const std::string sse_answer =
    "data: {\"id\":\"cmpl-x-0\",\"choices\":[{\"text\":\"a\"}]}\n\ndata: [DONE]\n\n";

request_spec post(std::string body, std::string target = "/v1/completions") {
  request_spec spec;
  spec.target = std::move(target);
  spec.body = std::move(body);
  return spec;
}

std::string chunked_sse(std::string_view events) {
  std::string out =
      "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n"
      "Connection: close\r\n\r\n";
  char size[32];
  std::snprintf(size, sizeof size, "%zx\r\n", events.size());
  out += size;
  out += events;
  out += "\r\n0\r\n\r\n";
  return out;
}

// The port of an http://127.0.0.1:PORT/... URL.
std::uint16_t port_of(std::string_view url) {
  const auto colon = url.rfind(':');
  return static_cast<std::uint16_t>(std::stoi(std::string(url.substr(colon + 1))));
}

// POSTs every object to the metaserver at once (the connector's thread pool) and returns the statuses.
std::vector<int> call_back(std::uint16_t port, const std::vector<std::string>& objects) {
  net::io_context io;
  std::vector<int> statuses(objects.size(), 0);
  for (std::size_t i = 0; i < objects.size(); ++i) {
    net::co_spawn(
        io,
        [&, i]() -> net::awaitable<void> {
          // Named, not a temporary in the co_await: GCC 12 may destroy such a temporary twice.
          request_spec spec = post(objects[i], "/v1/metaserver");
          auto sending = async_request(port, std::move(spec));
          const auto reply = co_await std::move(sending);
          statuses[i] = reply.status;
        },
        net::detached);
  }
  io.run();
  return statuses;
}

// A layerwise decoder: for each of its vLLM request ids it calls back with its KV parameters, waits for the
// answers, then streams `answer` when every one was 200 (else it waits for KV that never comes: holds the
// connection until the proxy closes it).
class layerwise_decoder {
 public:
  enum class mode { calls_back, silent, fails };

  explicit layerwise_decoder(mode m = mode::calls_back, std::string answer = chunked_sse(sse_answer))
      : answer_(std::move(answer)), mode_(m), backend_([this](const auto& req) { return serve(req); }) {}

  std::uint16_t port() const { return backend_.port(); }
  scripted_backend& backend() { return backend_; }
  std::vector<int> statuses() const {
    std::lock_guard lock(mutex_);
    return statuses_;
  }
  std::vector<std::string> posted() const {
    std::lock_guard lock(mutex_);
    return posted_;
  }

 private:
  scripted_answer serve(const http::request<http::string_body>& req) {
    if (mode_ == mode::fails) return {http_response(500, "application/json", R"({"error":"boom"})")};
    if (mode_ == mode::silent) return {"", /*hold_open=*/true};
    const auto body = parse_json_object(req.body());
    const std::string id(req["X-Request-Id"]);
    std::vector<std::string> ids;
    if (body->contains("messages")) {
      ids.push_back("chatcmpl-" + id);
    } else if ((*body)["prompt"].is_array() && (*body)["prompt"][0].is_string()) {
      for (std::size_t i = 0; i < (*body)["prompt"].size(); ++i)
        ids.push_back("cmpl-" + id + "-" + std::to_string(i));
    } else {
      ids.push_back("cmpl-" + id + "-0");
    }
    std::vector<std::string> objects;
    for (const auto& one : ids) {
      objects.push_back(R"({"token_ids":[],"request_id":")" + one +
                        R"(","do_remote_prefill":false,"do_remote_decode":true,"remote_block_ids":[4,5],)"
                        R"("remote_block_size":128,"remote_engine_id":"d0","remote_host":"127.0.0.1",)"
                        R"("remote_port":7100,"remote_tp_size":1,"remote_pcp_size":1,"remote_dcp_size":1,)"
                        R"("remote_cached_tokens":0})");
    }
    const auto url = (*body)["kv_transfer_params"]["metaserver"].get<std::string>();
    const auto statuses = call_back(port_of(url), objects);
    {
      std::lock_guard lock(mutex_);
      statuses_.insert(statuses_.end(), statuses.begin(), statuses.end());
      posted_.insert(posted_.end(), objects.begin(), objects.end());
    }
    for (const int s : statuses) {
      if (s != 200) return {"", /*hold_open=*/true};
    }
    return {answer_};
  }

  std::string answer_;
  mode mode_;
  mutable std::mutex mutex_;
  std::vector<int> statuses_;
  std::vector<std::string> posted_;
  scripted_backend backend_;
};

scripted_backend prefiller(int status = 200) {
  return scripted_backend([status](const auto&) {
    return scripted_answer{
        status == 200 ? http_response(200, "application/json", R"({"id":"p","choices":[{"text":"x"}]})")
                      : http_response(status, "application/json", R"({"error":"busy"})")};
  });
}

auto layerwise_config(double timeout = 30, int retries = 3) {
  return [timeout, retries](proxy_config& config) {
    config.pd_protocol = "decoder-first";
    config.metaserver_timeout = seconds_d{timeout};
    config.max_retries = retries;
  };
}

std::string kv_of(const std::string& body) {
  const auto kv = find_top_level_member(body, "kv_transfer_params");
  return kv ? std::string(*kv) : std::string();
}

TEST(proxy_decoder_first, the_decoder_goes_first_and_calls_back_then_one_prefill) {
  layerwise_decoder decoder;
  auto prefill = prefiller();
  cluster c({{{}, 0, {prefill.port()}}}, {{{}, 0, {decoder.port()}}}, layerwise_config());
  request_spec spec = post(stream_body);
  spec.headers.emplace_back("X-Request-Id", "client-chosen");
  const auto reply = request(c.port(), spec);
  ASSERT_EQ(reply.status, 200) << reply.body;
  EXPECT_EQ(reply.body, sse_answer);  // the decoder's stream, as it was
  EXPECT_EQ(reply.headers["X-Request-Id"], "client-chosen");

  const auto to_decoder = decoder.backend().received();
  ASSERT_EQ(to_decoder.size(), 1u);
  const std::string r(to_decoder[0]["X-Request-Id"]);
  EXPECT_EQ(r.size(), 36u);  // the proxy's secret id, not the client's
  const std::string url = "http://127.0.0.1:" + std::to_string(c.port()) + "/v1/metaserver";
  EXPECT_EQ(to_decoder[0].body(),
            R"({"model":"m","prompt":"hello","max_tokens":6,"stream":true,"kv_transfer_params":)"
            R"({"do_remote_decode":false,"do_remote_prefill":true,"metaserver":")" +
                url + R"("}})");
  EXPECT_EQ(to_decoder[0].target(), "/v1/completions");

  const auto to_prefill = prefill.received();
  ASSERT_EQ(to_prefill.size(), 1u);
  EXPECT_EQ(to_prefill[0]["X-Request-Id"], r);
  ASSERT_EQ(decoder.posted().size(), 1u);
  EXPECT_EQ(to_prefill[0].body(), R"({"model":"m","prompt":"hello","max_tokens":1,"stream":false,)"
                                  R"("min_tokens":1,"kv_transfer_params":)" +
                                      decoder.posted()[0] + "}");
  EXPECT_NE(decoder.posted()[0].find("cmpl-" + r + "-0"), std::string::npos);
  EXPECT_EQ(decoder.statuses(), std::vector<int>{200});
  EXPECT_TRUE(eventually([&] { return c.idle() && c.state().signals->table().size() == 0; }));
}

TEST(proxy_decoder_first, chat_without_stream_gets_the_decoders_json) {
  const std::string json_answer = R"({"id":"chatcmpl-x","choices":[{"message":{"content":"hi"}}]})";
  layerwise_decoder decoder(layerwise_decoder::mode::calls_back,
                            http_response(200, "application/json", json_answer));
  auto prefill = prefiller();
  cluster c({{{}, 0, {prefill.port()}}}, {{{}, 0, {decoder.port()}}}, layerwise_config());
  const std::string body =
      R"({"model":"m","messages":[{"role":"user","content":"hi"}],"max_completion_tokens":5,)"
      R"("stream_options":{"include_usage":true}})";
  const auto reply = request(c.port(), post(body, "/v1/chat/completions"));
  ASSERT_EQ(reply.status, 200) << reply.body;
  EXPECT_EQ(reply.body, json_answer);
  EXPECT_EQ(reply.headers[http::field::content_type], "application/json");
  const auto to_prefill = prefill.received();
  ASSERT_EQ(to_prefill.size(), 1u);
  EXPECT_EQ(to_prefill[0].target(), "/v1/chat/completions");
  EXPECT_EQ(to_prefill[0].body(),
            R"({"model":"m","messages":[{"role":"user","content":"hi"}],"max_completion_tokens":1,)"
            R"("stream":false,"max_tokens":1,"min_tokens":1,"kv_transfer_params":)" +
                decoder.posted()[0] + "}");
  const std::string r(decoder.backend().received()[0]["X-Request-Id"]);
  EXPECT_NE(decoder.posted()[0].find("\"chatcmpl-" + r + "\""), std::string::npos);
  EXPECT_TRUE(eventually([&] { return c.idle(); }));
}

TEST(proxy_decoder_first, a_prompt_list_calls_back_per_prompt_and_sends_one_batch_prefill) {
  layerwise_decoder decoder;
  auto prefill = prefiller();
  cluster c({{{}, 0, {prefill.port()}}}, {{{}, 0, {decoder.port()}}}, layerwise_config());
  const auto reply = request(c.port(), post(R"({"model":"m","prompt":["a","b","c"],"max_tokens":3})"));
  ASSERT_EQ(reply.status, 200) << reply.body;
  EXPECT_EQ(decoder.statuses(), (std::vector<int>{200, 200, 200}));
  const auto to_prefill = prefill.received();
  ASSERT_EQ(to_prefill.size(), 1u);  // the list is prefilled once
  const std::string r(decoder.backend().received()[0]["X-Request-Id"]);
  const auto posted = decoder.posted();
  const auto kv = parse_json_object(kv_of(to_prefill[0].body()));
  ASSERT_TRUE(kv);
  EXPECT_EQ((*kv)["request_id"], "cmpl-" + r + "-0");
  ASSERT_EQ((*kv)["batch_kv_transfer_params"].size(), 3u);
  for (int i = 0; i < 3; ++i) {
    const std::string id = "cmpl-" + r + "-" + std::to_string(i);
    EXPECT_EQ((*kv)["batch_kv_transfer_params"][id], *parse_json_object(posted[i])) << id;
  }
  EXPECT_EQ(*parse_json_object(to_prefill[0].body()).value().find("prompt"), json::array({"a", "b", "c"}));
  EXPECT_TRUE(eventually([&] { return c.idle() && c.state().signals->table().size() == 0; }));
}

TEST(proxy_decoder_first, unknown_missing_and_finished_ids_are_404_and_send_nothing) {
  layerwise_decoder decoder;
  auto prefill = prefiller();
  cluster c({{{}, 0, {prefill.port()}}}, {{{}, 0, {decoder.port()}}}, layerwise_config());
  auto unknown = request(c.port(), post(R"({"request_id":"cmpl-nobody-0"})", "/v1/metaserver"));
  EXPECT_EQ(unknown.status, 404);
  EXPECT_EQ(unknown.body, R"({"detail":"Unknown metaserver request_id: 'cmpl-nobody-0'"})");
  EXPECT_EQ(request(c.port(), post(R"({"remote_port":1})", "/v1/metaserver")).status, 404);
  EXPECT_EQ(request(c.port(), post("not json", "/v1/metaserver")).status, 400);
  request_spec get = post("", "/v1/metaserver");
  get.method = http::verb::get;
  EXPECT_EQ(request(c.port(), get).status, 405);

  ASSERT_EQ(request(c.port(), post(stream_body)).status, 200);
  // The finished request's id is forgotten: the same call-back again finds nothing.
  EXPECT_EQ(request(c.port(), post(decoder.posted()[0], "/v1/metaserver")).status, 404);
  EXPECT_EQ(prefill.received().size(), 1u);
}

TEST(proxy_decoder_first, the_route_is_unknown_under_two_stage) {
  cluster c({{fast_engines(1)}}, {{fast_engines(1)}});
  EXPECT_EQ(request(c.port(), post(R"({"request_id":"x"})", "/v1/metaserver")).status, 404);
  EXPECT_FALSE(c.state().signals);
}

TEST(proxy_decoder_first, the_route_needs_no_api_key_but_the_openai_routes_do) {
  layerwise_decoder decoder;
  auto prefill = prefiller();
  cluster c({{{}, 0, {prefill.port()}}}, {{{}, 0, {decoder.port()}}}, [](proxy_config& config) {
    layerwise_config()(config);
    config.api_keys = {"sk-client"};
  });
  EXPECT_EQ(request(c.port(), post(stream_body)).status, 401);
  request_spec spec = post(stream_body);
  spec.headers.emplace_back("Authorization", "Bearer sk-client");
  const auto reply = request(c.port(), spec);
  EXPECT_EQ(reply.status, 200) << reply.body;  // the decoder called back without a key
  EXPECT_EQ(decoder.statuses(), std::vector<int>{200});
}

TEST(proxy_decoder_first, a_prefill_failing_for_good_closes_the_decoder_at_once) {
  layerwise_decoder decoder;
  auto prefill = prefiller(503);
  cluster c({{{}, 0, {prefill.port()}}}, {{{}, 0, {decoder.port()}}}, layerwise_config(30, 2));
  const auto started = std::chrono::steady_clock::now();
  const auto reply = request(c.port(), post(stream_body));
  EXPECT_EQ(reply.status, 503);  // the prefiller's own last answer
  EXPECT_EQ(prefill.received().size(), 2u);
  // The call-back's answer may reach the decoder just after the client's.
  EXPECT_TRUE(eventually([&] { return decoder.statuses() == std::vector<int>{502}; }));
  // The decoder waited for KV: its connection was closed, not left to its own timeout.
  EXPECT_TRUE(eventually([&] { return decoder.backend().held_open() == 0; }));
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(10));
  EXPECT_TRUE(eventually([&] { return c.idle() && c.state().signals->table().size() == 0; }));
}

TEST(proxy_decoder_first, no_prefiller_reachable_is_a_502_and_the_decoder_is_closed) {
  layerwise_decoder decoder;
  cluster c({{{}, 2}}, {{{}, 0, {decoder.port()}}}, layerwise_config(30, 2));
  const auto reply = request(c.port(), post(stream_body));
  EXPECT_EQ(reply.status, 502);
  // The call-back's answer may reach the decoder just after the client's.
  EXPECT_TRUE(eventually([&] { return decoder.statuses() == std::vector<int>{502}; }));
  EXPECT_TRUE(eventually([&] { return decoder.backend().held_open() == 0; }));
  EXPECT_TRUE(eventually([&] { return c.idle(); }));
}

TEST(proxy_decoder_first, a_decoder_that_never_calls_back_times_out_with_504) {
  layerwise_decoder decoder(layerwise_decoder::mode::silent);
  auto prefill = prefiller();
  cluster c({{{}, 0, {prefill.port()}}}, {{{}, 0, {decoder.port()}}}, layerwise_config(0.3));
  const auto reply = request(c.port(), post(stream_body));
  EXPECT_EQ(reply.status, 504);
  EXPECT_NE(reply.body.find("metaserver"), std::string::npos);
  EXPECT_TRUE(prefill.received().empty());
  EXPECT_TRUE(eventually([&] { return decoder.backend().held_open() == 0; }));
  EXPECT_TRUE(eventually([&] { return c.idle() && c.state().signals->table().size() == 0; }));
}

TEST(proxy_decoder_first, a_decoder_failing_before_its_first_byte_is_retried_on_another) {
  layerwise_decoder broken(layerwise_decoder::mode::fails);
  layerwise_decoder good;
  auto prefill = prefiller();
  cluster c({{{}, 0, {prefill.port()}}}, {{{}, 0, {broken.port(), good.port()}}}, layerwise_config());
  for (int i = 0; i < 2; ++i) {
    const auto reply = request(c.port(), post(stream_body));
    ASSERT_EQ(reply.status, 200) << reply.body;
    EXPECT_EQ(reply.body, sse_answer);
  }
  EXPECT_GE(broken.backend().received().size(), 1u);
  EXPECT_EQ(good.backend().received().size(), 2u);
  EXPECT_EQ(prefill.received().size(), 2u);
  EXPECT_GE(c.state().counters.decode_retries.load(), 1u);
  EXPECT_TRUE(eventually([&] { return c.idle(); }));
}

TEST(proxy_decoder_first, a_client_abort_closes_the_decoder_and_forgets_the_ids) {
  layerwise_decoder decoder(layerwise_decoder::mode::silent);
  auto prefill = prefiller();
  cluster c({{{}, 0, {prefill.port()}}}, {{{}, 0, {decoder.port()}}}, layerwise_config());
  {
    net::io_context io;
    tcp::socket socket(io);
    socket.connect({net::ip::make_address("127.0.0.1"), c.port()});
    const std::string head =
        "POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        "Content-Length: " +
        std::to_string(stream_body.size()) + "\r\n\r\n" + stream_body;
    net::write(socket, net::buffer(head));
    ASSERT_TRUE(eventually([&] { return decoder.backend().held_open() == 1; }));
    EXPECT_EQ(c.state().signals->table().size(), 1u);
  }  // the client goes away
  EXPECT_TRUE(eventually([&] { return decoder.backend().held_open() == 0; }));
  EXPECT_TRUE(eventually([&] { return c.idle() && c.state().signals->table().size() == 0; }));
  EXPECT_TRUE(prefill.received().empty());
}

//------------------------------------------------------------------------------
// With pd-mock engines, which speak the layerwise family

TEST(proxy_decoder_first, pd_mock_engines_stream_and_answer_whole) {
  cluster c({{fast_engines(2)}}, {{fast_engines(2)}}, layerwise_config());
  for (int i = 0; i < 4; ++i) {
    const auto streamed = request(c.port(), post(stream_body));
    ASSERT_EQ(streamed.status, 200) << streamed.body;
    EXPECT_EQ(sse_data(streamed.body).back(), "[DONE]");
    const auto whole = request(c.port(), post(R"({"model":"m","prompt":["a b","c d"],"max_tokens":3})"));
    ASSERT_EQ(whole.status, 200) << whole.body;
    const auto chat = request(
        c.port(),
        post(R"({"model":"m","messages":[{"role":"user","content":"hi"}],"max_tokens":2,"stream":true})",
             "/v1/chat/completions"));
    ASSERT_EQ(chat.status, 200) << chat.body;
  }
  EXPECT_EQ(c.total(true, &mock::engine_stats::prefill_requests), 12u);
  EXPECT_EQ(c.total(false, &mock::engine_stats::kv_pulls), 12u);
  EXPECT_EQ(c.total(false, &mock::engine_stats::local_prefills), 0u);
  EXPECT_TRUE(eventually([&] { return c.idle() && c.state().signals->table().size() == 0; }));
}

TEST(proxy_decoder_first, pd_mock_prefill_refusals_close_the_decoder) {
  auto rejecting = fast_engines(1);
  rejecting.faults.reject_prefill_400 = true;
  cluster c({{rejecting}}, {{fast_engines(1)}}, layerwise_config());
  const auto reply = request(c.port(), post(stream_body));
  EXPECT_EQ(reply.status, 400);
  EXPECT_NE(reply.body.find("maximum context length"), std::string::npos);
  EXPECT_TRUE(eventually([&] {
    return c.idle() && c.total(false, &mock::engine_stats::aborted) == 1u &&
           c.decode_servers()[0]->stats(0).open_connections == 0;
  }));
}

TEST(pd_mock_layerwise, the_prefill_role_refuses_what_vllm_ascend_refuses) {
  mock::mock_server engine(fast_engines(1));
  engine.start();
  const std::string kv =
      R"("kv_transfer_params":{"do_remote_decode":true,"do_remote_prefill":false,"request_id":"cmpl-r-0",)"
      R"("remote_host":"127.0.0.1","remote_port":)" +
      std::to_string(refused_port()) + "}";
  EXPECT_EQ(request(engine.port(0),
                    post(R"({"prompt":"x","max_tokens":1,"stream":true,"min_tokens":1,)" + kv + "}"))
                .status,
            400);  // stream must be false
  EXPECT_EQ(request(engine.port(0),
                    post(R"({"prompt":"x","max_tokens":5,"stream":false,"min_tokens":1,)" + kv + "}"))
                .status,
            400);  // max_tokens must be 1
  // Right fields, but the decoder it pushes to is gone.
  EXPECT_EQ(request(engine.port(0),
                    post(R"({"prompt":"x","max_tokens":1,"stream":false,"min_tokens":1,)" + kv + "}"))
                .status,
            500);
}

TEST(pd_mock_layerwise, the_decode_role_calls_back_and_times_out_without_its_prefill) {
  std::atomic<int> calls{0};
  std::string posted;
  std::mutex mutex;
  scripted_backend metaserver([&](const http::request<http::string_body>& req) {
    ++calls;
    std::lock_guard lock(mutex);
    posted = req.body();
    return scripted_answer{http_response(200, "application/json", R"({"status":"ok"})")};
  });
  auto options = fast_engines(1);
  options.layerwise_kv_timeout_s = 0.2;
  mock::mock_server engine(options);
  engine.start();
  request_spec spec = post(R"({"prompt":"x","max_tokens":2,"kv_transfer_params":{"do_remote_decode":false,)"
                           R"("do_remote_prefill":true,"metaserver":"http://127.0.0.1:)" +
                           std::to_string(metaserver.port()) + R"(/v1/metaserver"}})");
  spec.headers.emplace_back("X-Request-Id", "R1");
  const auto reply = request(engine.port(0), spec);
  EXPECT_EQ(reply.status, 500);
  EXPECT_NE(reply.body.find("layerwise-kv-timeout"), std::string::npos);
  EXPECT_EQ(calls.load(), 1);
  std::lock_guard lock(mutex);
  const auto object = parse_json_object(posted);
  ASSERT_TRUE(object);
  EXPECT_EQ((*object)["request_id"], "cmpl-R1-0");
  EXPECT_EQ((*object)["do_remote_decode"], true);
  EXPECT_EQ((*object)["remote_port"], engine.port(0));

  // A metaserver that is not on loopback is never called.
  const auto refused =
      request(engine.port(0), post(R"({"prompt":"x","kv_transfer_params":{"do_remote_prefill":true,)"
                                   R"("metaserver":"http://10.1.2.3:80/v1/metaserver"}})"));
  EXPECT_EQ(refused.status, 400);
}

}  // namespace
}  // namespace pd_proxy::test
