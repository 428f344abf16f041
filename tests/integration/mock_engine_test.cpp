// pd-mock on its own: the PD handshake done by hand (no proxy), metrics and each fault flag.
#include <gtest/gtest.h>

#include "pd_proxy/core/flow/request_rewrite.hpp"
#include "proxy_fixture.hpp"

namespace pd_proxy::test {
namespace {

request_spec post(std::string body, std::string id = "hand-1", std::string target = "/v1/completions") {
  request_spec spec;
  spec.target = std::move(target);
  spec.body = std::move(body);
  spec.headers.push_back({"X-Request-Id", std::move(id)});
  return spec;
}

const std::string prefill_body =
    R"({"prompt":"a prompt of some length for blocks","max_tokens":1,"stream":false,"kv_transfer_params":)"
    R"({"do_remote_decode":true,"do_remote_prefill":false,"remote_engine_id":null,"remote_block_ids":null,)"
    R"("remote_host":null,"remote_port":null}})";

TEST(mock_engine, handshake_by_hand_prefill_then_decode) {
  mock::mock_server prefiller(fast_engines(1));
  mock::mock_server decoder(fast_engines(1));
  prefiller.start();
  decoder.start();

  const auto p = request(prefiller.port(0), post(prefill_body));
  ASSERT_EQ(p.status, 200) << p.body;
  const auto kv = extract_kv_transfer_params(p.body);
  ASSERT_TRUE(kv);
  EXPECT_EQ((*kv)["do_remote_prefill"], true);
  EXPECT_EQ((*kv)["remote_port"], prefiller.port(0));
  EXPECT_EQ((*kv)["remote_request_id"], "hand-1");
  EXPECT_EQ((*kv)["remote_block_ids"].size(), 1u);  // 9 estimated tokens, 16 per block
  EXPECT_EQ(prefiller.kv_blocks_held(0), 1u);

  json decode =
      *parse_json_object(R"({"prompt":"a prompt of some length for blocks","max_tokens":4,"stream":true,)"
                         R"("stream_options":{"include_usage":true}})");
  decode["kv_transfer_params"] = *kv;
  const auto d = request(decoder.port(0), post(dump_json(decode)));
  ASSERT_EQ(d.status, 200);
  const auto events = sse_data(d.body);
  ASSERT_EQ(events.size(), 6u);  // 4 tokens, usage, [DONE]
  EXPECT_NE(events[4].find("\"choices\":[]"), std::string::npos);
  EXPECT_EQ(decoder.stats(0).kv_pulls.load(), 1u);
  EXPECT_EQ(decoder.stats(0).local_prefills.load(), 0u);
  EXPECT_TRUE(eventually([&] { return prefiller.kv_blocks_held(0) == 0; }));
  // As vLLM: the pulled KV counts as cached but for the last prompt token, which the decoder computes.
  EXPECT_NE(events[4].find("\"prompt_tokens_details\":{\"cached_tokens\":8}"), std::string::npos)
      << events[4];
  EXPECT_EQ(decoder.stats(0).prefix_cache_queries.load(), 0u);
}

TEST(mock_engine, prompt_logprobs_come_from_whoever_computed_the_prompt) {
  mock::mock_server prefiller(fast_engines(1));
  mock::mock_server decoder(fast_engines(1));
  prefiller.start();
  decoder.start();
  json prefill = *parse_json_object(prefill_body);
  prefill["prompt_logprobs"] = 2;
  const auto p = request(prefiller.port(0), post(dump_json(prefill), "plp-1"));
  ASSERT_EQ(p.status, 200) << p.body;
  const json computed = (*parse_json_object(p.body))["choices"][0]["prompt_logprobs"];
  ASSERT_EQ(computed.size(), 9u) << p.body;  // one per estimated prompt token
  EXPECT_TRUE(computed[0].is_null());
  EXPECT_TRUE(computed[1].is_object());

  // The decoder pulled the KV: it computed none of the prompt.
  json decode = {{"prompt", prefill["prompt"]}, {"max_tokens", 2}, {"prompt_logprobs", 2}};
  decode["kv_transfer_params"] = *extract_kv_transfer_params(p.body);
  const auto d = request(decoder.port(0), post(dump_json(decode), "plp-2"));
  ASSERT_EQ(d.status, 200) << d.body;
  EXPECT_EQ((*parse_json_object(d.body))["choices"][0]["prompt_logprobs"], json(json::array_t(9, nullptr)));
  // A plain request computes them as the prefiller does.
  decode.erase("kv_transfer_params");
  const auto plain = request(decoder.port(0), post(dump_json(decode), "plp-3"));
  EXPECT_EQ((*parse_json_object(plain.body))["choices"][0]["prompt_logprobs"], computed);

  // vLLM's checks: none in a stream (0 is allowed), nothing below -1.
  decode["stream"] = true;
  const auto refused = request(decoder.port(0), post(dump_json(decode), "plp-4"));
  EXPECT_EQ(refused.status, 400);
  EXPECT_NE(refused.body.find("`prompt_logprobs` are not available when `stream=True`."), std::string::npos);
  decode["prompt_logprobs"] = 0;
  EXPECT_EQ(request(decoder.port(0), post(dump_json(decode), "plp-5")).status, 200);
  decode["stream"] = false;
  decode["prompt_logprobs"] = -2;
  EXPECT_EQ(request(decoder.port(0), post(dump_json(decode), "plp-6")).status, 400);
}

TEST(mock_engine, mangled_params_are_counted_as_a_local_prefill) {
  mock::mock_server prefiller(fast_engines(1));
  mock::mock_server decoder(fast_engines(1));
  prefiller.start();
  decoder.start();
  auto kv = *extract_kv_transfer_params(request(prefiller.port(0), post(prefill_body)).body);
  kv["remote_engine_id"] = "someone-else";
  json decode = {{"prompt", "p"}, {"max_tokens", 2}, {"kv_transfer_params", kv}};
  EXPECT_EQ(request(decoder.port(0), post(dump_json(decode))).status, 200);
  EXPECT_EQ(decoder.stats(0).kv_pull_failures.load(), 1u);
  EXPECT_EQ(decoder.stats(0).local_prefills.load(), 1u);
  EXPECT_EQ(prefiller.kv_blocks_held(0), 1u);  // still held: nobody claimed it
}

TEST(mock_engine, unclaimed_kv_expires) {
  auto options = fast_engines(1);
  options.kv_timeout_s = 0.05;
  mock::mock_server prefiller(options);
  prefiller.start();
  EXPECT_EQ(request(prefiller.port(0), post(prefill_body)).status, 200);
  EXPECT_TRUE(eventually([&] { return prefiller.stats(0).kv_expired.load() == 1; }));
  EXPECT_EQ(prefiller.kv_blocks_held(0), 0u);
}

TEST(mock_engine, metrics_use_vllm_names) {
  mock::mock_server engine(fast_engines(1));
  engine.start();
  request(engine.port(0), post(R"({"prompt":"abcd","max_tokens":3})"));
  request_spec get;
  get.method = http::verb::get;
  get.target = "/metrics";
  const auto m = request(engine.port(0), get);
  EXPECT_EQ(m.status, 200);
  for (const char* name :
       {"vllm:num_requests_running{", "vllm:num_requests_waiting{", "vllm:kv_cache_usage_perc{",
        "vllm:prompt_tokens_total{", "pd_mock_aborted_requests_total{",
        "# HELP vllm:prefix_cache_queries_total Prefix cache queries, in terms of number of queried tokens.\n"
        "# TYPE vllm:prefix_cache_queries_total counter\nvllm:prefix_cache_queries_total{",
        "# HELP vllm:prefix_cache_hits_total Prefix cache hits, in terms of number of cached tokens.\n"
        "# TYPE vllm:prefix_cache_hits_total counter\nvllm:prefix_cache_hits_total{"}) {
    EXPECT_NE(m.body.find(name), std::string::npos) << name;
  }
  EXPECT_NE(m.body.find("vllm:generation_tokens_total{engine=\"mock-engine-" +
                        std::to_string(engine.port(0)) + "\",model_name=\"mock-model\"} 3\n"),
            std::string::npos)
      << m.body;
  get.target = "/health";
  EXPECT_EQ(request(engine.port(0), get).status, 200);
}

// The value of an engine's metric `name` (one series per engine), or -1 when absent.
double metric_value(std::uint16_t port, const std::string& name) {
  request_spec get;
  get.method = http::verb::get;
  get.target = "/metrics";
  const auto body = request(port, get).body;
  const auto at = body.find("\n" + name + "{");
  if (at == std::string::npos) return -1;
  const auto value = body.find("} ", at);
  return value == std::string::npos ? -1 : std::stod(body.substr(value + 2));
}

int cached_tokens(const std::string& json_text) {
  const auto body = parse_json_object(json_text);
  if (!body || !body->contains("usage")) return -1;
  return (*body)["usage"]["prompt_tokens_details"].value("cached_tokens", -1);
}

// 200 characters: 50 tokens, 3 full blocks of 16.
const std::string long_prompt = std::string(100, 's') + std::string(100, 'q');

TEST(mock_engine, prefix_cache_hits_the_second_identical_prompt) {
  mock::mock_server engine(fast_engines(1));
  engine.start();
  const auto port = engine.port(0);
  const json plain{{"prompt", long_prompt}, {"max_tokens", 2}};
  const auto first = request(port, post(dump_json(plain), "pc-1"));
  ASSERT_EQ(first.status, 200);
  EXPECT_EQ(cached_tokens(first.body), 0) << first.body;

  json streamed = plain;
  streamed["stream"] = true;
  streamed["stream_options"] = json{{"include_usage", true}};
  const auto second = request(port, post(dump_json(streamed), "pc-2"));
  ASSERT_EQ(second.status, 200);
  const auto events = sse_data(second.body);
  ASSERT_EQ(events.size(), 4u);  // 2 tokens, usage, [DONE]
  EXPECT_EQ(cached_tokens(events[2]), 48) << events[2];
  EXPECT_EQ(metric_value(port, "vllm:prefix_cache_queries_total"), 100);
  EXPECT_EQ(metric_value(port, "vllm:prefix_cache_hits_total"), 48);

  // The prefill answer carries its hits too; a longer prompt with the same head hits that head.
  json prefill = *parse_json_object(prefill_body);
  prefill["prompt"] = long_prompt + std::string(80, 'z');
  const auto p = request(port, post(dump_json(prefill), "pc-3"));
  ASSERT_EQ(p.status, 200);
  EXPECT_EQ(cached_tokens(p.body), 48) << p.body;

  // A chat history resent with a new turn hits the turns before it; another role does not.
  const json turn1{{"messages", json::array({json{{"role", "system"}, {"content", long_prompt}}})}};
  json turn2 = turn1;
  turn2["messages"].push_back(json{{"role", "user"}, {"content", std::string(80, 'u')}});
  EXPECT_EQ(cached_tokens(request(port, post(dump_json(turn1), "pc-4", "/v1/chat/completions")).body), 0);
  EXPECT_EQ(cached_tokens(request(port, post(dump_json(turn2), "pc-5", "/v1/chat/completions")).body), 48);
  json other = turn1;
  other["messages"][0]["role"] = "user";
  EXPECT_EQ(cached_tokens(request(port, post(dump_json(other), "pc-6", "/v1/chat/completions")).body), 0);

  request_spec reset = post("", "pc-7", "/reset_prefix_cache");
  EXPECT_EQ(request(port, reset).status, 200);
  EXPECT_EQ(cached_tokens(request(port, post(dump_json(plain), "pc-8")).body), 0);
  EXPECT_EQ(engine.stats(0).prefix_cache_hits.load(), 48u + 48u + 48u);
}

TEST(mock_engine, prefix_cache_blocks_zero_turns_it_off) {
  auto options = fast_engines(1);
  options.prefix_cache_blocks = 0;
  mock::mock_server engine(options);
  engine.start();
  const json plain{{"prompt", long_prompt}, {"max_tokens", 1}};
  request(engine.port(0), post(dump_json(plain), "off-1"));
  EXPECT_EQ(cached_tokens(request(engine.port(0), post(dump_json(plain), "off-2")).body), 0);
  EXPECT_EQ(metric_value(engine.port(0), "vllm:prefix_cache_queries_total"), 0);
  EXPECT_EQ(metric_value(engine.port(0), "vllm:prefix_cache_hits_total"), 0);
}

TEST(mock_engine, kv_cache_usage_counts_running_sequences) {
  auto options = fast_engines(1);
  options.kv_blocks = 64;
  options.timing.decode_ms_per_token = 10;
  mock::mock_server engine(options);
  engine.start();
  const auto port = engine.port(0);
  net::io_context io;
  int status = 0;
  net::co_spawn(
      io, async_request(port, post(dump_json(json{{"prompt", long_prompt}, {"max_tokens", 40}}), "u-1")),
      [&](std::exception_ptr, http_reply r) { status = r.status; });
  double seen = 0;
  std::thread watcher([&] {
    eventually([&] {
      seen = std::max(seen, metric_value(port, "vllm:kv_cache_usage_perc"));
      return seen > 0;
    });
  });
  io.run_for(std::chrono::seconds(30));
  watcher.join();
  EXPECT_EQ(status, 200);
  EXPECT_GE(seen, 4.0 / 64);  // the 50-token prompt's 4 blocks at least
  EXPECT_TRUE(eventually([&] { return metric_value(port, "vllm:kv_cache_usage_perc") == 0; }));
}

TEST(mock_engine, ports_count_serves_independent_engines) {
  mock::mock_server engines(fast_engines(3));
  engines.start();
  for (std::size_t i = 0; i < 3; ++i) EXPECT_EQ(request(engines.port(i), post(prefill_body)).status, 200);
  for (std::size_t i = 0; i < 3; ++i) EXPECT_EQ(engines.stats(i).prefill_requests.load(), 1u);
}

TEST(mock_engine, fail_status_and_fail_first) {
  auto options = fast_engines(1);
  options.faults.fail_status = 503;
  mock::mock_server always(options);
  always.start();
  const auto r = request(always.port(0), post(R"({"prompt":"x"})"));
  EXPECT_EQ(r.status, 503);
  EXPECT_NE(r.body.find("\"object\":\"error\""), std::string::npos);

  auto first = fast_engines(1);
  first.faults.fail_first = 2;
  mock::mock_server flaky(first);
  flaky.start();
  EXPECT_EQ(request(flaky.port(0), post(R"({"prompt":"x"})")).status, 500);
  EXPECT_EQ(request(flaky.port(0), post(R"({"prompt":"x"})")).status, 500);
  EXPECT_EQ(request(flaky.port(0), post(R"({"prompt":"x"})")).status, 200);
}

TEST(mock_engine, fail_rate_is_seeded) {
  auto options = fast_engines(1);
  options.faults.fail_rate = 0.5;
  options.seed = 7;
  auto run = [&] {
    mock::mock_server engine(options);
    engine.start();
    std::string pattern;
    for (int i = 0; i < 20; ++i)
      pattern += request(engine.port(0), post(R"({"prompt":"x"})")).status == 200 ? '.' : 'x';
    return pattern;
  };
  const auto a = run();
  EXPECT_EQ(a, run());  // the same seed fails the same requests
  EXPECT_NE(a.find('x'), std::string::npos);
  EXPECT_NE(a.find('.'), std::string::npos);
}

TEST(mock_engine, hang_never_answers_and_counts_the_abort) {
  auto options = fast_engines(1);
  options.faults.hang = true;
  mock::mock_server engine(options);
  engine.start();
  auto spec = post(R"({"prompt":"x"})");
  spec.timeout = std::chrono::milliseconds(100);
  const auto r = request(engine.port(0), spec);
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.ec, beast::error::timeout);
  EXPECT_TRUE(eventually([&] { return engine.stats(0).aborted.load() == 1; }));
}

TEST(mock_engine, die_after_chunks_truncates_the_stream) {
  auto options = fast_engines(1);
  options.faults.die_after_chunks = 2;
  mock::mock_server engine(options);
  engine.start();
  const auto r = request(engine.port(0), post(R"({"prompt":"x","max_tokens":10,"stream":true})"));
  EXPECT_FALSE(r.complete);
  EXPECT_EQ(sse_data(r.body).size(), 2u);
}

TEST(mock_engine, reject_prefill_400_only_rejects_prefill) {
  auto options = fast_engines(1);
  options.faults.reject_prefill_400 = true;
  mock::mock_server engine(options);
  engine.start();
  EXPECT_EQ(request(engine.port(0), post(prefill_body)).status, 400);
  EXPECT_EQ(request(engine.port(0), post(R"({"prompt":"x"})")).status, 200);
}

TEST(mock_engine, max_num_seqs_makes_excess_requests_wait) {
  auto options = fast_engines(1);
  options.max_num_seqs = 1;
  options.timing.decode_ms_per_token = 5;
  mock::mock_server engine(options);
  engine.start();
  net::io_context io;
  int done = 0;
  int max_waiting = 0;
  for (int i = 0; i < 3; ++i) {
    net::co_spawn(
        io, async_request(engine.port(0), post(R"({"prompt":"x","max_tokens":20})", "w" + std::to_string(i))),
        [&](std::exception_ptr, http_reply r) { done += r.status == 200; });
  }
  std::thread watcher([&] {
    eventually([&] {
      max_waiting = std::max(max_waiting, engine.stats(0).waiting.load());
      return max_waiting >= 1;
    });
  });
  io.run_for(std::chrono::seconds(30));
  watcher.join();
  EXPECT_EQ(done, 3);
  EXPECT_GE(max_waiting, 1);
  EXPECT_TRUE(eventually([&] { return engine.stats(0).running.load() == 0; }));
}

TEST(mock_engine, a_taken_port_in_the_range_fails_cleanly) {
  // The engines bound before the taken port are torn down while their io_context lives (no use after free:
  // the sanitizer build checks it).
  mock::mock_server taken(fast_engines(1));
  const std::uint16_t port = taken.port(0);
  ASSERT_GT(port, 2);
  auto options = fast_engines(3);
  options.port = static_cast<std::uint16_t>(port - 2);
  EXPECT_THROW(mock::mock_server{options}, boost::system::system_error);
}

}  // namespace
}  // namespace pd_proxy::test
