#include "pd_proxy/core/request_rewrite.hpp"

#include <gtest/gtest.h>

namespace pd_proxy {
namespace {

client_request client(std::string text) {
  auto parsed = client_request::parse(text);
  EXPECT_TRUE(parsed.has_value()) << text;
  return parsed ? std::move(*parsed) : *client_request::parse("{}");
}

constexpr std::string_view six_keys =
    R"("kv_transfer_params":{"do_remote_decode":true,"do_remote_prefill":false,"remote_engine_id":null,)"
    R"("remote_block_ids":null,"remote_host":null,"remote_port":null})";

TEST(request_rewrite, completions_prefill_golden) {
  const auto c = client(
      R"({"model":"m","prompt":"Hi","max_tokens":64,"stream":true,"stream_options":{"include_usage":true},"temperature":0.7})");
  EXPECT_EQ(make_prefill_body(c), std::string(R"({"model":"m","prompt":"Hi","max_tokens":1,"stream":false,)") +
                                      R"("temperature":0.7,"min_tokens":1,)" + std::string(six_keys) + "}");
}

TEST(request_rewrite, chat_prefill_forces_max_completion_tokens_only_if_present) {
  const auto with = client(R"({"messages":[{"role":"user","content":"x"}],"max_completion_tokens":99})");
  EXPECT_EQ(make_prefill_body(with),
            std::string(R"({"messages":[{"role":"user","content":"x"}],"max_completion_tokens":1,)") +
                R"("stream":false,"max_tokens":1,"min_tokens":1,)" + std::string(six_keys) + "}");
  const auto without = client(R"({"messages":[],"min_tokens":5})");
  EXPECT_EQ(make_prefill_body(without), std::string(R"({"messages":[],"min_tokens":1,"stream":false,)") +
                                            R"("max_tokens":1,)" + std::string(six_keys) + "}");
}

TEST(request_rewrite, client_kv_params_are_replaced_on_prefill_in_place) {
  const auto c = client(R"({"prompt":"p","kv_transfer_params":{"remote_host":"evil"},"n":1})");
  EXPECT_EQ(make_prefill_body(c), R"({"prompt":"p",)" + std::string(six_keys) +
                                      R"(,"n":1,"stream":false,"max_tokens":1,"min_tokens":1})");
}

TEST(request_rewrite, whitespace_and_empty_objects) {
  const auto c = client(" {\n  \"prompt\" : \"a b\" ,\n  \"stream\" : true\n}\n");
  EXPECT_TRUE(c.stream());
  EXPECT_EQ(make_decode_body(c, std::nullopt), R"({"prompt":"a b","stream":true})");
  EXPECT_EQ(make_decode_body(client("{}"), std::nullopt), "{}");
  EXPECT_EQ(make_prefill_body(client("{ }")),
            R"({"stream":false,"max_tokens":1,"min_tokens":1,)" + std::string(six_keys) + "}");
}

TEST(request_rewrite, decode_body_is_client_body_plus_prefiller_params_byte_for_byte) {
  const std::string body =
      R"({"model":"m","prompt":"żółw 🐢 \"q\" \u00e9","max_tokens":64,"stream":true,)"
      R"("stream_options":{"include_usage":true},"seed":9223372036854775807,"big":18446744073709551615,)"
      R"("neg":-9223372036854775808,"f":1e-7,"g":0.1000,"nested":{"a":[1,{"b":null}],"unknown_field":true}})";
  const std::string answer =
      R"({"id":"x","choices":[{"text":"kv_transfer_params"}],"kv_transfer_params":{"do_remote_prefill":true,)"
      R"("do_remote_decode":false,"remote_block_ids":[[3,4],[5]],"remote_engine_id":"e-1","remote_host":"10.0.0.1",)"
      R"("remote_port":5600,"remote_tp_size":"1","tp_size":1,"x_unknown":{"deep":[1.50,"s"]}},"usage":{}})";
  const auto kv = find_kv_transfer_params(answer);
  ASSERT_TRUE(kv);
  EXPECT_EQ(make_decode_body(client(body), kv),
            body.substr(0, body.size() - 1) +
                R"(,"kv_transfer_params":{"do_remote_prefill":true,"do_remote_decode":false,)"
                R"("remote_block_ids":[[3,4],[5]],"remote_engine_id":"e-1","remote_host":"10.0.0.1","remote_port":5600,)"
                R"("remote_tp_size":"1","tp_size":1,"x_unknown":{"deep":[1.50,"s"]}}})");
}

TEST(request_rewrite, decode_without_prefiller_params_drops_client_params) {
  const auto c = client(R"({"prompt":"p","kv_transfer_params":{"remote_host":"evil"}})");
  EXPECT_EQ(make_decode_body(c, std::nullopt), R"({"prompt":"p"})");
  EXPECT_EQ(make_decode_body(c, R"({"a":1})"), R"({"prompt":"p","kv_transfer_params":{"a":1}})");
}

TEST(request_rewrite, escaped_keys_cannot_smuggle_members) {
  // "kv_transfer_params" and "stream" spelled with escapes are still recognised.
  const auto c = client(R"({"prompt":"p","kv_transfer_p\u0061rams":{"remote_host":"evil"},"str\u0065am":true})");
  EXPECT_TRUE(c.stream());
  EXPECT_EQ(make_decode_body(c, std::nullopt), R"({"prompt":"p","stream":true})");
  EXPECT_EQ(make_prefill_body(c).find("evil"), std::string::npos);
}

TEST(request_rewrite, kv_params_missing_null_empty_or_invalid) {
  EXPECT_FALSE(find_kv_transfer_params(R"({"choices":[]})"));
  EXPECT_FALSE(find_kv_transfer_params(R"({"kv_transfer_params":null})"));
  EXPECT_FALSE(find_kv_transfer_params(R"({"kv_transfer_params":{}})"));
  EXPECT_FALSE(find_kv_transfer_params(R"({"kv_transfer_params":[1]})"));
  EXPECT_FALSE(find_kv_transfer_params(R"({"kv_transfer_params":{"a":}})"));
  EXPECT_FALSE(find_kv_transfer_params("not json"));
  EXPECT_FALSE(find_kv_transfer_params(""));
  EXPECT_EQ((*extract_kv_transfer_params(R"({"kv_transfer_params":{"a":2}})"))["a"], 2);
}

TEST(request_rewrite, non_objects_are_rejected) {
  for (const char* bad : {"[1,2]", "\"s\"", "{\"a\":", "", "{\"a\":1} trailing", "{\"a\" 1}", "{a:1}"}) {
    EXPECT_FALSE(client_request::parse(bad)) << bad;
  }
  EXPECT_FALSE(parse_json_object("{\"a\":\"\xff\"}"));
  EXPECT_TRUE(parse_json_object("  {}  "));
}

TEST(request_rewrite, stream_flag) {
  EXPECT_TRUE(client(R"({"stream":true})").stream());
  EXPECT_FALSE(client(R"({"stream":false})").stream());
  EXPECT_FALSE(client(R"({"stream":"true"})").stream());
  EXPECT_FALSE(client(R"({})").stream());
  EXPECT_TRUE(wants_stream(*parse_json_object(R"({"stream":true})")));
}

TEST(request_rewrite, reference_scores) {
  EXPECT_DOUBLE_EQ(prefill_score(2000), 137.3245);
  EXPECT_DOUBLE_EQ(prefill_score(0), 120.0745);
  EXPECT_DOUBLE_EQ(decode_score(2000), 2000.0);
}

TEST(client_request, release_frees_the_text_and_keeps_the_stream_flag) {
  auto request = client_request::parse(R"({"prompt":")" + std::string(100000, 'x') + R"(","stream":true})");
  ASSERT_TRUE(request);
  request->release();
  EXPECT_EQ(request->size(), 0u);
  EXPECT_TRUE(request->members().empty());
  EXPECT_TRUE(request->text().empty());
  EXPECT_TRUE(request->stream());
}

}  // namespace
}  // namespace pd_proxy
