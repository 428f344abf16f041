// A request's prompt_logprobs are the prefiller's, through the real proxy and pd-mock engines: the prefill
// leg is asked for them, the decode leg is not (pd-mock's decoder, like vLLM's, refuses them in a stream and
// knows none of them after a KV pull), and the answer carries the prefiller's where vLLM puts them: a
// completion's choices, a chat response's top level, a stream's first chunk (pd-proxy's extension: vLLM
// refuses prompt_logprobs in a stream).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "pd_proxy/mock/openai_format.hpp"
#include "proxy_fixture.hpp"

namespace pd_proxy::test {
namespace {

using json = nlohmann::json;

const std::string prompt = "The prompt whose logprobs only the prefiller can tell. " + std::string(100, 'x');

json completion(bool stream) {
  json body = {{"model", "mock-model"}, {"prompt", prompt}, {"max_tokens", 4}, {"stream", stream}};
  body["prompt_logprobs"] = 1;
  if (stream) body["stream_options"] = {{"include_usage", true}};
  return body;
}

json chat(bool stream) {
  json body = {{"model", "mock-model"},
               {"messages", json::array({json{{"role", "user"}, {"content", prompt}}})},
               {"max_tokens", 4},
               {"stream", stream},
               {"prompt_logprobs", 0}};
  if (stream) body["stream_options"] = {{"include_usage", true}};
  return body;
}

// What pd-mock's prefiller answers for `body` (the proxy's tests link the same formats).
json prefillers(const json& body) {
  const pd_proxy::json ordered = pd_proxy::json::parse(body.dump());
  return json::parse(pd_proxy::dump_json(mock::format_prompt_logprobs(
      mock::render_prompt(ordered).text, mock::estimate_prompt_tokens(ordered))));
}

http_reply ask(const cluster& c, const json& body, bool is_chat) {
  request_spec spec;
  spec.body = body.dump();
  if (is_chat) spec.target = "/v1/chat/completions";
  auto reply = request(c.port(), spec);
  EXPECT_EQ(reply.status, 200) << reply.body;
  return reply;
}

// The last request engine 0 of the role's first group received, parsed.
json last_body(const std::vector<mock::mock_server*>& servers) {
  const auto recorded = servers.front()->recorded(0);
  EXPECT_FALSE(recorded.empty());
  return recorded.empty() ? json() : json::parse(recorded.back().body);
}

void expect_legs(const cluster& c, const json& client) {
  const json prefill = last_body(c.prefill_servers());
  const json decode = last_body(c.decode_servers());
  EXPECT_EQ(prefill.at("prompt_logprobs"), client.at("prompt_logprobs")) << prefill;
  EXPECT_FALSE(decode.contains("prompt_logprobs")) << decode;
  EXPECT_TRUE(decode.contains("kv_transfer_params")) << decode;
}

TEST(proxy_prompt_logprobs, a_completion_carries_the_prefillers_in_its_choice) {
  cluster c({{fast_engines(1)}}, {{fast_engines(1)}});
  const json client = completion(/*stream=*/false);
  const json answer = json::parse(ask(c, client, false).body);
  const json expected = prefillers(client);
  ASSERT_GT(expected.size(), 2u);
  EXPECT_EQ(answer.at("choices").at(0).at("prompt_logprobs"), expected) << answer;
  EXPECT_NE(answer.at("choices").at(0).at("prompt_logprobs").at(1), nullptr);  // not the decoder's nulls
  // Both rewrites in one answer: the usage's cached_tokens is the prefiller's too (nothing cached yet; the
  // decoder would say prompt_tokens - 1).
  EXPECT_EQ(answer.at("usage").at("prompt_tokens_details").at("cached_tokens"), 0) << answer;
  EXPECT_EQ(answer.at("choices").at(0).at("text").get<std::string>().empty(), false);
  expect_legs(c, client);
  EXPECT_TRUE(eventually([&] { return c.idle(); }));
}

TEST(proxy_prompt_logprobs, a_chat_response_carries_them_at_its_top_level) {
  cluster c({{fast_engines(1)}}, {{fast_engines(1)}});
  const json client = chat(/*stream=*/false);
  const json answer = json::parse(ask(c, client, true).body);
  EXPECT_EQ(answer.at("prompt_logprobs"), prefillers(client)) << answer;
  EXPECT_FALSE(answer.at("choices").at(0).contains("prompt_logprobs"));
  expect_legs(c, client);
}

// The stream's chunks: the first one carries the prompt_logprobs, no other does; the usage chunk carries the
// prefiller's cached_tokens; one [DONE] ends it.
void expect_stream(const std::string& sse, const json& expected, bool is_chat) {
  const auto events = sse_data(sse);
  ASSERT_GE(events.size(), 3u) << sse;
  EXPECT_EQ(events.back(), "[DONE]");
  for (std::size_t i = 0; i + 1 < events.size(); ++i) {
    const json chunk = json::parse(events[i]);
    const json* logprobs = nullptr;
    if (is_chat && chunk.contains("prompt_logprobs")) logprobs = &chunk.at("prompt_logprobs");
    if (!is_chat && !chunk.at("choices").empty() && chunk.at("choices").at(0).contains("prompt_logprobs")) {
      logprobs = &chunk.at("choices").at(0).at("prompt_logprobs");
    }
    if (i == 0) {
      ASSERT_NE(logprobs, nullptr) << events[i];
      EXPECT_EQ(*logprobs, expected);
    } else {
      EXPECT_EQ(logprobs, nullptr) << events[i];
    }
    if (chunk.at("choices").empty()) {
      EXPECT_EQ(i + 2, events.size()) << sse;  // the usage chunk comes last
      EXPECT_EQ(chunk.at("usage").at("prompt_tokens_details").at("cached_tokens"), 0) << events[i];
    }
  }
}

TEST(proxy_prompt_logprobs, a_streams_first_chunk_carries_them_with_the_usage_rewritten_too) {
  for (const bool is_chat : {false, true}) {
    cluster c({{fast_engines(1)}}, {{fast_engines(1)}});
    const json client = is_chat ? chat(true) : completion(true);
    const auto reply = ask(c, client, is_chat);
    expect_stream(reply.body, prefillers(client), is_chat);
    expect_legs(c, client);
    EXPECT_TRUE(eventually([&] { return c.idle(); }));
  }
}

TEST(proxy_prompt_logprobs, a_skipped_prefill_leaves_them_to_the_decoder) {
  cluster c({{fast_engines(1)}}, {{fast_engines(1)}},
            [](proxy_config& config) { config.disagg_min_prompt_tokens = 100000; });
  const json client = completion(/*stream=*/false);
  const json answer = json::parse(ask(c, client, false).body);
  // The decoder prefilled locally and computed them itself.
  EXPECT_EQ(answer.at("choices").at(0).at("prompt_logprobs"), prefillers(client)) << answer;
  EXPECT_EQ(last_body(c.decode_servers()).at("prompt_logprobs"), 1);
  EXPECT_EQ(c.total(/*prefill=*/true, &mock::engine_stats::requests), 0u);
}

}  // namespace
}  // namespace pd_proxy::test
