#include "pd_proxy/core/request_rewrite.hpp"

#include <gtest/gtest.h>

namespace pd_proxy {
namespace {

json client(std::string_view text) {
  auto parsed = parse_json_object(text);
  EXPECT_TRUE(parsed.has_value()) << text;
  return parsed.value_or(json::object());
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

TEST(request_rewrite, client_kv_params_are_replaced_on_prefill) {
  const auto c = client(R"({"prompt":"p","kv_transfer_params":{"remote_host":"evil"}})");
  const std::string body = make_prefill_body(c);
  EXPECT_EQ(body.find("evil"), std::string::npos);
  EXPECT_NE(body.find(six_keys), std::string::npos);
}

TEST(request_rewrite, decode_body_is_client_body_plus_prefiller_params_verbatim) {
  const auto c = client(
      R"({"model":"m","prompt":"żółw 🐢","max_tokens":64,"stream":true,"stream_options":{"include_usage":true},)"
      R"("seed":9223372036854775807,"big":18446744073709551615,"neg":-9223372036854775808,"f":1e-7,)"
      R"("nested":{"a":[1,{"b":null}],"unknown_field":true}})");
  const auto kv = extract_kv_transfer_params(
      R"({"id":"x","choices":[],"kv_transfer_params":{"do_remote_prefill":true,"do_remote_decode":false,)"
      R"("remote_block_ids":[[3,4],[5]],"remote_engine_id":"e-1","remote_host":"10.0.0.1","remote_port":5600,)"
      R"("remote_tp_size":"1","tp_size":1,"x_unknown":{"deep":[1.5,"s"]}}})");
  ASSERT_TRUE(kv);
  EXPECT_EQ(make_decode_body(c, &*kv),
            R"({"model":"m","prompt":"żółw 🐢","max_tokens":64,"stream":true,"stream_options":{"include_usage":true},)"
            R"("seed":9223372036854775807,"big":18446744073709551615,"neg":-9223372036854775808,"f":1e-07,)"
            R"("nested":{"a":[1,{"b":null}],"unknown_field":true},)"
            R"("kv_transfer_params":{"do_remote_prefill":true,"do_remote_decode":false,)"
            R"("remote_block_ids":[[3,4],[5]],"remote_engine_id":"e-1","remote_host":"10.0.0.1","remote_port":5600,)"
            R"("remote_tp_size":"1","tp_size":1,"x_unknown":{"deep":[1.5,"s"]}}})");
}

TEST(request_rewrite, floats_round_trip) {
  const auto c = client(R"({"temperature":0.1,"top_p":0.95,"x":3.141592653589793,"y":1.0000000000000002})");
  EXPECT_EQ(make_decode_body(c, nullptr), R"({"temperature":0.1,"top_p":0.95,"x":3.141592653589793,"y":1.0000000000000002})");
}

TEST(request_rewrite, decode_without_prefiller_params_drops_client_params) {
  const auto c = client(R"({"prompt":"p","kv_transfer_params":{"remote_host":"evil"}})");
  EXPECT_EQ(make_decode_body(c, nullptr), R"({"prompt":"p"})");
}

TEST(request_rewrite, kv_params_missing_null_empty_or_invalid) {
  EXPECT_FALSE(extract_kv_transfer_params(R"({"choices":[]})"));
  EXPECT_FALSE(extract_kv_transfer_params(R"({"kv_transfer_params":null})"));
  EXPECT_FALSE(extract_kv_transfer_params(R"({"kv_transfer_params":{}})"));
  EXPECT_FALSE(extract_kv_transfer_params(R"({"kv_transfer_params":[1]})"));
  EXPECT_FALSE(extract_kv_transfer_params("not json"));
  EXPECT_FALSE(extract_kv_transfer_params(""));
}

TEST(request_rewrite, parse_rejects_non_objects_and_bad_utf8) {
  EXPECT_FALSE(parse_json_object("[1,2]"));
  EXPECT_FALSE(parse_json_object("\"s\""));
  EXPECT_FALSE(parse_json_object("{\"a\":"));
  EXPECT_FALSE(parse_json_object("{\"a\":\"\xff\"}"));
  EXPECT_FALSE(parse_json_object(""));
  EXPECT_TRUE(parse_json_object("  {}  "));
}

TEST(request_rewrite, stream_flag) {
  EXPECT_TRUE(wants_stream(client(R"({"stream":true})")));
  EXPECT_FALSE(wants_stream(client(R"({"stream":false})")));
  EXPECT_FALSE(wants_stream(client(R"({"stream":"yes"})")));
  EXPECT_FALSE(wants_stream(client(R"({})")));
}

TEST(request_rewrite, reference_scores) {
  EXPECT_DOUBLE_EQ(prefill_score(2000), 137.3245);
  EXPECT_DOUBLE_EQ(prefill_score(0), 120.0745);
  EXPECT_DOUBLE_EQ(decode_score(2000), 2000.0);
}

}  // namespace
}  // namespace pd_proxy
