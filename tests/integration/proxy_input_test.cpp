// Strict input (issue 10): valid JSON of the wrong shape, a member written twice, invalid UTF-8 and ambiguous
// framing are refused by the proxy itself, and no byte of such a request reaches a backend.
#include <gtest/gtest.h>

#include "pd_proxy/core/flow/request_rewrite.hpp"
#include "proxy_fixture.hpp"
#include "scripted_backend.hpp"

namespace pd_proxy::test {
namespace {

using namespace std::chrono_literals;

constexpr std::string_view completions = "/v1/completions";
constexpr std::string_view chat = "/v1/chat/completions";

request_spec post(std::string_view target, std::string body) {
  request_spec spec;
  spec.target = std::string(target);
  spec.body = std::move(body);
  return spec;
}

// A prefiller and a decoder that record what they receive, and the proxy in front of them.
struct recorded_cluster {
  scripted_backend prefiller{[](const auto&) { return scripted_answer{prefill_answer_bytes(), false}; }};
  scripted_backend decoder{[](const auto&) {
    return scripted_answer{http_response(200, "application/json", R"({"choices":[{"index":0,"text":"ok"}]})"),
                           false};
  }};
  cluster proxy{{{{}, 0, {prefiller.port()}}}, {{{}, 0, {decoder.port()}}}};

  bool backends_untouched() const { return prefiller.received().empty() && decoder.received().empty(); }
};

// Asserts a 400 whose OpenAI-shaped error message is exactly `message`.
void expect_refused(const http_reply& reply, std::string_view message, std::string_view what) {
  EXPECT_EQ(reply.status, 400) << what << ": " << reply.body;
  const auto body = parse_json_object(reply.body);
  ASSERT_TRUE(body) << what << ": " << reply.body;
  EXPECT_EQ((*body)["error"]["message"], message) << what;
  EXPECT_EQ((*body)["error"]["type"], "invalid_request_error") << what;
  EXPECT_EQ((*body)["error"]["code"], 400) << what;
}

struct refusal {
  std::string_view target;
  std::string body;
  std::string_view message;
};

constexpr std::string_view bad_prompt =
    "`prompt` must be a string, an array of strings, an array of integers or an array of arrays of integers";
constexpr std::string_view bad_messages = "`messages` must be a non-empty array of objects";
constexpr std::string_view bad_stream = "`stream` must be true, false or null";
constexpr std::string_view bad_max_tokens = "`max_tokens` must be a positive integer or null";
constexpr std::string_view bad_max_completion_tokens =
    "`max_completion_tokens` must be a non-negative integer or null";
constexpr std::string_view bad_min_tokens = "`min_tokens` must be a non-negative integer or null";

void expect_all_refused(const std::vector<refusal>& cases) {
  recorded_cluster c;
  for (const auto& r : cases) {
    expect_refused(request(c.proxy.port(), post(r.target, r.body)), r.message, r.body);
  }
  EXPECT_TRUE(c.backends_untouched());
  EXPECT_TRUE(eventually([&] { return c.proxy.idle(); }));
}

//------------------------------------------------------------------------------

TEST(proxy_input, each_wrong_shape_is_a_400_naming_the_field_without_a_backend_round_trip) {
  expect_all_refused({
      {completions, R"({"model":"m","prompt":42})", bad_prompt},
      {completions, R"({"model":"m","prompt":null})", bad_prompt},
      {completions, R"({"model":"m","prompt":{"text":"hi"}})", bad_prompt},
      {completions, R"({"model":"m","prompt":[1,"a"]})", bad_prompt},
      {completions, R"({"model":"m","prompt":[1.5]})", bad_prompt},
      {completions, R"({"model":"m","prompt":[[1],[2.0]]})", bad_prompt},
      {completions, R"({"model":"m","prompt":[["a"]]})", bad_prompt},
      {completions, R"({"model":"m","prompt":[[[1]]]})", bad_prompt},
      {completions, R"({"model":"m","prompt":[1,,2]})", bad_prompt},
      {chat, R"({"model":"m","messages":[]})", bad_messages},
      {chat, R"({"model":"m","messages":"hi"})", bad_messages},
      {chat, R"({"model":"m","messages":{"role":"user","content":"hi"}})", bad_messages},
      {chat, R"({"model":"m","messages":[{"role":"user","content":"hi"},"again"]})", bad_messages},
      {chat, R"({"model":"m","messages":null})", bad_messages},
      {completions, R"({"model":"m","prompt":"p","stream":"true"})", bad_stream},
      {chat, R"({"model":"m","messages":[{}],"stream":1})", bad_stream},
      {completions, R"({"model":"m","prompt":"p","max_tokens":0})", bad_max_tokens},
      {completions, R"({"model":"m","prompt":"p","max_tokens":-5})", bad_max_tokens},
      {completions, R"({"model":"m","prompt":"p","max_tokens":16.0})", bad_max_tokens},
      {completions, R"({"model":"m","prompt":"p","max_tokens":"16"})", bad_max_tokens},
      {chat, R"({"model":"m","messages":[{}],"max_completion_tokens":-1})", bad_max_completion_tokens},
      {chat, R"({"model":"m","messages":[{}],"max_completion_tokens":true})", bad_max_completion_tokens},
      {completions, R"({"model":"m","prompt":"p","min_tokens":-1})", bad_min_tokens},
      {completions, R"({"model":"m","prompt":"p","min_tokens":[2]})", bad_min_tokens},
  });
}

TEST(proxy_input, a_member_written_twice_is_a_400_naming_it) {
  expect_all_refused({
      {completions, R"({"stream":false,"model":"m","prompt":"p","stream":true})",
       "`stream` appears more than once"},
      {completions, R"({"model":"m","prompt":"p","stream":true,"str\u0065am":false})",
       "`stream` appears more than once"},
      {completions,
       R"({"model":"m","prompt":"p","kv_transfer_params":{},"kv_transfer_params":{"remote_host":"x"}})",
       "`kv_transfer_params` appears more than once"},
      {chat, R"({"model":"m","messages":[{}],"model":"n"})", "`model` appears more than once"},
  });
}

TEST(proxy_input, invalid_utf8_is_a_400_naming_the_member_that_holds_it) {
  expect_all_refused({
      {completions, "{\"model\":\"m\",\"prompt\":\"caf\xE9\"}", "`prompt` is not valid UTF-8"},
      {completions, "{\"model\":\"m\",\"prompt\":\"\xC0\xAF\"}", "`prompt` is not valid UTF-8"},  // overlong
      {completions, "{\"model\":\"m\",\"prompt\":\"\xED\xA0\x80\"}",
       "`prompt` is not valid UTF-8"},  // surrogate
      {completions, "{\"model\":\"m\",\"prompt\":\"\xF4\x90\x80\x80\"}", "`prompt` is not valid UTF-8"},
      {chat, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"\xFF\"}]}",
       "`messages` is not valid UTF-8"},
      {completions, "{\"model\":\"m\",\"prompt\":\"p\",\"user\":\"\x80\"}", "`user` is not valid UTF-8"},
      {completions, "{\"model\":\"m\",\"prompt\":\"p\",\"\xFE\":1}", "a member name is not valid UTF-8"},
  });
}

TEST(proxy_input, valid_shapes_reach_the_backends_unchanged) {
  recorded_cluster c;
  const std::vector<std::pair<std::string_view, std::string>> accepted = {
      {completions, R"({"model":"m","prompt":[[1,2,3],[4]],"max_tokens":null,"stream":null})"},
      {completions, R"({"model":"m","prompt":[1,2,3],"max_tokens":16,"min_tokens":0})"},
      {completions, R"({"model":"m","prompt":["a","b"],"stream":false})"},
      {completions, "{\"model\":\"m\",\"prompt\":\"caf\xC3\xA9 \\ud800\",\"max_tokens\":1}"},
      {chat, R"({"model":"m","messages":[{"role":"user","content":"hi"}],"max_completion_tokens":0})"},
  };
  for (const auto& [target, body] : accepted) {
    const auto reply = request(c.proxy.port(), post(target, body));
    EXPECT_EQ(reply.status, 200) << body << ": " << reply.body;
  }
  const auto decoded = c.decoder.received();
  ASSERT_EQ(decoded.size(), accepted.size());
  for (std::size_t k = 0; k < accepted.size(); ++k) {
    // The decoder gets the client's bytes, plus the prefiller's kv_transfer_params.
    const std::string& body = accepted[k].second;
    EXPECT_TRUE(decoded[k].body().starts_with(body.substr(0, body.size() - 1))) << decoded[k].body();
  }
  EXPECT_EQ(c.prefiller.received().size(), accepted.size());
}

//------------------------------------------------------------------------------
// Ambiguous framing: a 400 and a close, never a second request taken from the body.

TEST(proxy_input, ambiguous_framing_is_a_400_and_a_close) {
  recorded_cluster c;
  const std::string body = R"({"model":"m","prompt":"p"})";
  const std::string smuggled = "GET /health HTTP/1.1\r\nHost: x\r\n\r\n";
  const std::string head = "POST /v1/completions HTTP/1.1\r\nHost: x\r\n";
  const std::vector<std::string> ambiguous = {
      // Two Content-Lengths that disagree.
      head + "Content-Length: " + std::to_string(body.size()) + "\r\nContent-Length: 3\r\n\r\n" + body,
      head + "Content-Length: " + std::to_string(body.size()) + ", 3\r\n\r\n" + body,
      // Content-Length with Transfer-Encoding, in either order.
      head + "Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n",
      // Bad chunk sizes: not hex, negative, past 64 bits, a chunk longer than its size.
      head + "Transfer-Encoding: chunked\r\n\r\nzz\r\n" + body + "\r\n0\r\n\r\n",
      head + "Transfer-Encoding: chunked\r\n\r\n-1a\r\n" + body + "\r\n0\r\n\r\n",
      head + "Transfer-Encoding: chunked\r\n\r\n10000000000000001a\r\n" + body + "\r\n0\r\n\r\n",
      head + "Transfer-Encoding: chunked\r\n\r\n3\r\n" + body + "\r\n0\r\n\r\n",
      head + "Transfer-Encoding: chunked\r\n\r\n 1a\r\n" + body + "\r\n0\r\n\r\n",
  };
  for (const auto& bytes : ambiguous) {
    const std::string out = raw_exchange(c.proxy.port(), bytes + smuggled, 5000ms, /*half_close=*/true);
    EXPECT_TRUE(out.starts_with("HTTP/1.1 400 ")) << bytes << "\n-> " << out;
    EXPECT_NE(out.find("Connection: close"), std::string::npos) << out;
    EXPECT_EQ(out.find("HTTP/1.1", 1), std::string::npos) << "a second response: " << out;
  }
  // A chunk size over --max-body-size: 413, and the same close.
  const std::string huge = raw_exchange(
      c.proxy.port(), head + "Transfer-Encoding: chunked\r\n\r\nffffffffff\r\n" + body + smuggled, 5000ms,
      /*half_close=*/true);
  EXPECT_TRUE(huge.starts_with("HTTP/1.1 413 ")) << huge;
  EXPECT_EQ(huge.find("HTTP/1.1", 1), std::string::npos) << "a second response: " << huge;
  EXPECT_TRUE(c.backends_untouched());
  // Two Content-Lengths that agree are one length (RFC 9110 §8.6): the request is served.
  const std::string same =
      raw_exchange(c.proxy.port(),
                   head + "Connection: close\r\nContent-Length: " + std::to_string(body.size()) +
                       "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body,
                   10000ms);
  EXPECT_TRUE(same.starts_with("HTTP/1.1 200 ")) << same;
  EXPECT_EQ(c.prefiller.received().size(), 1u);
  EXPECT_EQ(c.decoder.received().size(), 1u);
}

}  // namespace
}  // namespace pd_proxy::test
