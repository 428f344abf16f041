// The answer's usage.prompt_tokens_details.cached_tokens is the prefiller's figure (its prefix-cache hits),
// not the decoder's (which pulled the whole prompt's KV), through the real proxy and pd-mock engines; with
// --usage-from-decoder it is the decoder's.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "proxy_fixture.hpp"

namespace pd_proxy::test {
namespace {

using json = nlohmann::json;

// About 150 tokens: several of pd-mock's 16-token cache blocks.
const std::string prompt = "A long shared system prompt that every turn repeats. " + std::string(520, 'x');

std::string completion(bool stream, bool include_usage) {
  json body = {{"model", "mock-model"}, {"prompt", prompt}, {"max_tokens", 4}, {"stream", stream}};
  if (include_usage) body["stream_options"] = {{"include_usage", true}};
  return body.dump();
}

// The usage object of an answer: the body's for JSON, the final usage chunk's for a stream.
json usage_of(const http_reply& reply, bool stream) {
  EXPECT_EQ(reply.status, 200) << reply.body;
  if (!stream) return json::parse(reply.body).at("usage");
  json usage;
  for (const auto& data : sse_data(reply.body)) {
    if (data == "[DONE]") continue;
    const json chunk = json::parse(data);
    if (chunk.at("choices").empty()) usage = chunk.at("usage");
  }
  EXPECT_FALSE(usage.is_null()) << reply.body;
  return usage;
}

json ask(std::uint16_t port, bool stream) {
  request_spec spec;
  spec.body = completion(stream, /*include_usage=*/stream);
  return usage_of(request(port, spec), stream);
}

TEST(proxy_usage, cached_tokens_are_the_prefillers_in_streams_and_bodies) {
  for (const bool stream : {true, false}) {
    cluster c({{fast_engines(1)}}, {{fast_engines(1)}});
    // First time: nothing was cached on the prefiller (the decoder would say prompt_tokens - 1).
    const json first = ask(c.port(), stream);
    EXPECT_GT(first.at("prompt_tokens").get<int>(), 32);
    EXPECT_EQ(first.at("prompt_tokens_details").at("cached_tokens"), 0) << first << " stream " << stream;
    // Second time: the prefiller's prefix cache has the prompt's whole blocks.
    const json second = ask(c.port(), stream);
    const int cached = second.at("prompt_tokens_details").at("cached_tokens").get<int>();
    EXPECT_GT(cached, 0) << second;
    EXPECT_EQ(cached % 16, 0) << second;  // whole blocks, as the prefiller counts them
    EXPECT_NE(cached, second.at("prompt_tokens").get<int>() - 1) << second;
    // Every other usage member is the decoder's.
    EXPECT_EQ(second.at("completion_tokens"), 4);
    EXPECT_EQ(second.at("total_tokens").get<int>(), second.at("prompt_tokens").get<int>() + 4);
    EXPECT_TRUE(eventually([&] { return c.idle(); }));
  }
}

TEST(proxy_usage, usage_from_decoder_relays_the_decoders_figure) {
  cluster c({{fast_engines(1)}}, {{fast_engines(1)}},
            [](proxy_config& config) { config.usage_from_decoder = true; });
  for (const bool stream : {true, false}) {
    const json usage = ask(c.port(), stream);
    EXPECT_EQ(usage.at("prompt_tokens_details").at("cached_tokens").get<int>(),
              usage.at("prompt_tokens").get<int>() - 1)
        << usage;
  }
}

TEST(proxy_usage, a_stream_without_a_usage_chunk_is_relayed_as_the_decoder_sent_it) {
  cluster c({{fast_engines(1)}}, {{fast_engines(1)}});
  request_spec spec;
  spec.body = completion(/*stream=*/true, /*include_usage=*/false);
  const auto reply = request(c.port(), spec);
  ASSERT_EQ(reply.status, 200);
  const auto events = sse_data(reply.body);
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back(), "[DONE]");
  for (const auto& data : events) EXPECT_EQ(data.find("usage\":{"), std::string::npos) << data;
}

}  // namespace
}  // namespace pd_proxy::test
