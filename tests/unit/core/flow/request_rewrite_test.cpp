#include "pd_proxy/core/flow/request_rewrite.hpp"

#include <gtest/gtest.h>

#include <random>

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
  EXPECT_EQ(make_prefill_body(c),
            std::string(R"({"model":"m","prompt":"Hi","max_tokens":1,"stream":false,)") +
                R"("temperature":0.7,"min_tokens":1,)" + std::string(six_keys) + "}");
}

TEST(request_rewrite, chat_prefill_forces_max_completion_tokens_only_if_present) {
  const auto with = client(R"({"messages":[{"role":"user","content":"x"}],"max_completion_tokens":99})");
  EXPECT_EQ(make_prefill_body(with),
            std::string(R"({"messages":[{"role":"user","content":"x"}],"max_completion_tokens":1,)") +
                R"("stream":false,"max_tokens":1,"min_tokens":1,)" + std::string(six_keys) + "}");
  const auto without = client(R"({"messages":[{}],"min_tokens":5})");
  EXPECT_EQ(make_prefill_body(without), std::string(R"({"messages":[{}],"min_tokens":1,"stream":false,)") +
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
  // Unchanged members keep the client's own spacing between them; only the space outside them goes.
  EXPECT_EQ(make_decode_body(c, std::nullopt), "{\"prompt\" : \"a b\" ,\n  \"stream\" : true}");
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
  EXPECT_EQ(
      make_decode_body(client(body), kv),
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

TEST(request_rewrite, prompt_logprobs_go_to_the_prefill_and_leave_the_decode_when_asked) {
  const auto c = client(R"({"prompt":"p","prompt_logprobs":3,"n":2})");
  EXPECT_NE(make_prefill_body(c).find(R"("prompt_logprobs":3,"n":2)"), std::string::npos);
  EXPECT_EQ(make_decode_body(c, R"({"a":1})", /*drop_prompt_logprobs=*/true),
            R"({"prompt":"p","n":2,"kv_transfer_params":{"a":1}})");
  EXPECT_EQ(make_decode_body(c, std::nullopt, /*drop_prompt_logprobs=*/true), R"({"prompt":"p","n":2})");
  // Kept otherwise (a skipped prefill: the decoder computes the prompt itself).
  EXPECT_EQ(make_decode_body(c, std::nullopt), R"({"prompt":"p","prompt_logprobs":3,"n":2})");
  // Last, first or alone, and spelled with escapes.
  EXPECT_EQ(make_decode_body(client(R"({"prompt":"p","prompt_logprobs":0})"), std::nullopt, true),
            R"({"prompt":"p"})");
  EXPECT_EQ(make_decode_body(client(R"({"prompt_logprobs":0,"prompt":"p"})"), std::nullopt, true),
            R"({"prompt":"p"})");
  EXPECT_EQ(make_decode_body(client(R"({"prompt_logprobs":-1})"), std::nullopt, true), "{}");
  EXPECT_EQ(make_decode_body(client(R"({"prompt_\u006cogprobs":1,"n":1})"), std::nullopt, true),
            R"({"n":1})");
}

TEST(request_rewrite, escaped_keys_cannot_smuggle_members) {
  // "kv_transfer_params" and "stream" spelled with escapes are still recognised.
  const auto c =
      client(R"({"prompt":"p","kv_transfer_p\u0061rams":{"remote_host":"evil"},"str\u0065am":true})");
  EXPECT_TRUE(c.stream());
  // The unchanged member keeps its key as the client wrote it.
  EXPECT_EQ(make_decode_body(c, std::nullopt), R"({"prompt":"p","str\u0065am":true})");
  EXPECT_EQ(make_decode_body(c, R"({"a":1})"),
            R"({"prompt":"p","kv_transfer_params":{"a":1},"str\u0065am":true})");
  EXPECT_EQ(make_prefill_body(c).find("evil"), std::string::npos);
}

TEST(request_rewrite, kv_params_with_a_number_beyond_a_double_are_forwarded_as_written) {
  // RFC 8259 allows 5e600 and a Python decoder reads it (as inf); nlohmann refuses it, so only the raw text
  // reaches the decoder and extract_kv_transfer_params (nlohmann) has nothing to give.
  const std::string answer = R"({"kv_transfer_params":{"remote_port":5e600,"a":1}})";
  const auto kv = find_kv_transfer_params(answer);
  ASSERT_TRUE(kv);
  EXPECT_EQ(*kv, R"({"remote_port":5e600,"a":1})");
  EXPECT_EQ(make_decode_body(client(R"({"prompt":"p"})"), kv),
            R"({"prompt":"p","kv_transfer_params":{"remote_port":5e600,"a":1}})");
  EXPECT_FALSE(extract_kv_transfer_params(answer));
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
  EXPECT_FALSE(client(R"({"stream":null})").stream());
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

//------------------------------------------------------------------------------
// Item 9: a key written with escapes must not make the proxy re-serialise the body.

TEST(request_rewrite, escaped_key_keeps_the_client_bytes_of_every_other_member) {
  const std::string body =
      R"({"big":123456789012345678901234567890,"h\u0065llo":1e400,"z":-0.0,"a":1.10,"str\u0065am":true,)"
      R"("m":[1.10,1e400,-0.0],"zz":"\u00e9"})";
  const auto c = client(body);
  EXPECT_TRUE(c.stream());
  EXPECT_EQ(make_decode_body(c, std::nullopt), body);
  EXPECT_EQ(make_decode_body(c, R"({"k":1})"),
            body.substr(0, body.size() - 1) + R"(,"kv_transfer_params":{"k":1}})");
  EXPECT_EQ(make_prefill_body(c),
            R"({"big":123456789012345678901234567890,"h\u0065llo":1e400,"z":-0.0,"a":1.10,"stream":false,)"
            R"("m":[1.10,1e400,-0.0],"zz":"\u00e9","max_tokens":1,"min_tokens":1,)" +
                std::string(six_keys) + "}");
}

TEST(client_request, name_is_the_decoded_key) {
  const auto c =
      client(R"({"plain":1,"h\u0065llo":2,"a\"b\\c\/d\b\f\n\r\t":3,"\u00e9\uD83D\uDE00x":4,"\u0000":5})");
  ASSERT_EQ(c.members().size(), 5u);
  EXPECT_EQ(c.name(c.members()[0]), "plain");
  EXPECT_EQ(c.key(c.members()[1]), R"(h\u0065llo)");
  EXPECT_EQ(c.name(c.members()[1]), "hello");
  EXPECT_EQ(c.name(c.members()[2]), "a\"b\\c/d\b\f\n\r\t");
  EXPECT_EQ(c.name(c.members()[3]), "\xC3\xA9\xF0\x9F\x98\x80x");
  EXPECT_EQ(c.name(c.members()[4]), std::string_view("\0", 1));
}

TEST(client_request, a_key_with_an_invalid_escape_is_not_json) {
  for (const char* bad : {R"({"a\x":1})", R"({"\u12G4":1})", R"({"\uD800":1})", R"({"\uDC00":1})",
                          R"({"\uD83D\u0041":1})", R"({"\u00e":1})", R"({"ok":1,"\q":2})"}) {
    const auto checked = client_request::check(bad);
    EXPECT_FALSE(checked.request) << bad;
    EXPECT_EQ(checked.error, "the request body is not a JSON object") << bad;
  }
}

TEST(request_rewrite, escaped_kv_params_cannot_be_smuggled_to_the_decoder) {
  const auto c = client(R"({"kv_transfer_p\u0061rams":{"remote_host":"evil"},"n":1})");
  EXPECT_EQ(make_decode_body(c, std::nullopt), R"({"n":1})");
  EXPECT_EQ(make_decode_body(c, R"({"a":1})"), R"({"kv_transfer_params":{"a":1},"n":1})");
  EXPECT_EQ(make_prefill_body(c).find("evil"), std::string::npos);
  // Two spellings of the same member are one member written twice: refused before any rewrite.
  const auto twice = client_request::check(
      R"({"kv_transfer_p\u0061rams":{"remote_host":"evil"},"\u006bv_transfer_params":{}})");
  EXPECT_FALSE(twice.request);
  EXPECT_EQ(twice.error, "`kv_transfer_params` appears more than once");
}

//------------------------------------------------------------------------------
// Item 4: `stream` values vLLM would coerce to true are rejected, not read as false.

TEST(client_request, stream_must_be_true_false_or_null) {
  for (const char* bad : {R"({"stream":1})", R"({"stream":0})", R"({"stream":"yes"})", R"({"stream":"true"})",
                          R"({"stream":"on"})", R"({"stream":[]})", R"({"stream":{}})", R"({"stream":1.0})",
                          R"({"stream":"null"})", R"({"stream":tru})", R"({"str\u0065am":1})",
                          R"({"stream":true,"stream":1})", R"({"stream":"x","stream":false})"}) {
    const auto checked = client_request::check(bad);
    EXPECT_FALSE(checked.request) << bad;
    EXPECT_EQ(checked.error, "`stream` must be true, false or null") << bad;
    EXPECT_FALSE(client_request::parse(bad)) << bad;
  }
  const auto ok = client_request::check(R"({"stream" : null, "o":{"stream":1}})");
  ASSERT_TRUE(ok.request);
  EXPECT_TRUE(ok.error.empty());
  EXPECT_FALSE(ok.request->stream());
  const auto not_object = client_request::check("[1]");
  EXPECT_FALSE(not_object.request);
  EXPECT_EQ(not_object.error, "the request body is not a JSON object");
}

TEST(client_request, a_repeated_stream_is_refused_however_it_is_spelled) {
  // The proxy and the backend must never disagree about which occurrence counts.
  for (const char* twice : {R"({"stream":true,"stream":false})", R"({"stream":false,"stream":true})",
                            R"({"stream":true,"stream":null})", R"({"stream":false,"str\u0065am":true})"}) {
    const auto checked = client_request::check(twice);
    EXPECT_FALSE(checked.request) << twice;
    EXPECT_EQ(checked.error, "`stream` appears more than once") << twice;
  }
}

//------------------------------------------------------------------------------
// Item 8: a rewritten body is spliced from views of the client's body, not copied.

bool points_into(std::string_view piece, std::string_view text) {
  return !text.empty() && piece.data() >= text.data() &&
         piece.data() + piece.size() <= text.data() + text.size();
}

TEST(spliced_body, unchanged_members_are_one_piece_of_the_clients_text) {
  std::string body = "{";
  for (int i = 0; i < 50000; ++i) body += "\"k" + std::to_string(i) + "\" : " + std::to_string(i) + " ,\n";
  body += R"("stream":true,"max_tokens":5,"kv_transfer_params":{"a":1},)";
  for (int i = 50000; i < 100000; ++i) body += "\"k" + std::to_string(i) + "\":[" + std::to_string(i) + "],";
  body.back() = '}';
  const auto c = client(body);
  ASSERT_EQ(c.members().size(), 100003u);

  const auto prefill = splice_prefill_body(c);
  EXPECT_LE(prefill.pieces.size(), 12u);
  EXPECT_EQ(prefill.size(), prefill.str().size());
  EXPECT_EQ(prefill.str(), make_prefill_body(c));
  const auto decode = splice_decode_body(c, std::string_view(R"({"remote_host":"h"})"));
  EXPECT_LE(decode.pieces.size(), 8u);
  EXPECT_EQ(decode.size(), decode.str().size());
  const auto plain = splice_decode_body(c, std::nullopt);
  EXPECT_LE(plain.pieces.size(), 6u);

  // The first run is the client's text from the first key to the end of the last kept value, separators and
  // all.
  const std::size_t first_run_end = body.find(R"("stream")");
  const std::string_view first_run(body.data() + 1, body.rfind(" ,", first_run_end) - 1);
  bool found = false;
  for (auto piece : prefill.pieces) found = found || piece == first_run;
  EXPECT_TRUE(found);
  for (auto piece : prefill.pieces) {
    if (points_into(piece, c.text())) continue;
    EXPECT_LE(piece.size(), six_keys.size() + 1)
        << "a piece not in the client's text must be a short constant";
  }
}

TEST(spliced_body, pieces_are_views_of_the_client_text_the_kv_text_and_constants) {
  const auto c = client(R"( { "a" : 1 , "stream" : true , "stream_options":{}, "b" : [2] , "c":3 } )");
  const std::string kv = R"({"remote_host":"10.0.0.1"})";
  const auto decode = splice_decode_body(c, std::string_view(kv));
  const auto prefill = splice_prefill_body(c);
  // Constants are string literals, so they outlive any temporary: churn the heap, then read every piece.
  std::vector<std::string> churn;
  for (int i = 0; i < 100; ++i) churn.emplace_back(1000, 'z');
  for (auto piece : decode.pieces) {
    EXPECT_FALSE(piece.empty());
    if (!points_into(piece, c.text()) && !points_into(piece, kv)) {
      EXPECT_LE(piece.size(), 32u) << piece;
    }
  }
  EXPECT_EQ(decode.str(), R"({"a" : 1 , "stream" : true , "stream_options":{}, "b" : [2] , "c":3,)"
                          R"("kv_transfer_params":{"remote_host":"10.0.0.1"}})");
  EXPECT_EQ(prefill.str(), R"({"a" : 1,"stream":false,"b" : [2] , "c":3,"max_tokens":1,"min_tokens":1,)" +
                               std::string(six_keys) + "}");
  EXPECT_EQ(decode.size(), decode.str().size());
  EXPECT_EQ(prefill.size(), prefill.str().size());
}

// The semantics of the rewrites before they were spliced, on a parsed document.
json old_prefill(json body) {
  json out = json::object();
  bool has_stream = false, has_max = false, has_min = false, has_kv = false;
  const json six =
      json::parse(R"({"do_remote_decode":true,"do_remote_prefill":false,"remote_engine_id":null,)"
                  R"("remote_block_ids":null,"remote_host":null,"remote_port":null})");
  for (auto& [key, value] : body.items()) {
    if (key == "stream") {
      out[key] = false;
      has_stream = true;
    } else if (key == "max_tokens") {
      out[key] = 1;
      has_max = true;
    } else if (key == "min_tokens") {
      out[key] = 1;
      has_min = true;
    } else if (key == "max_completion_tokens") {
      out[key] = 1;
    } else if (key == "kv_transfer_params") {
      out[key] = six;
      has_kv = true;
    } else if (key != "stream_options") {
      out[key] = value;
    }
  }
  if (!has_stream) out["stream"] = false;
  if (!has_max) out["max_tokens"] = 1;
  if (!has_min) out["min_tokens"] = 1;
  if (!has_kv) out["kv_transfer_params"] = six;
  return out;
}

json old_decode(json body, const std::optional<json>& kv) {
  json out = json::object();
  for (auto& [key, value] : body.items()) {
    if (key != "kv_transfer_params") {
      out[key] = value;
    } else if (kv) {
      out[key] = *kv;
    }
  }
  if (kv && !out.contains("kv_transfer_params")) out["kv_transfer_params"] = *kv;
  return out;
}

std::string random_space(std::mt19937& rng) {
  static constexpr std::string_view spaces[] = {"", "", "", " ", "\n", "\t", "\r\n  ", "  "};
  return std::string(spaces[rng() % std::size(spaces)]);
}

// Differential: for random bodies (random spacing, escaped keys, every rewritten name), the spliced bodies
// mean exactly what the old rewrites produced; bodies with a name written twice are refused.
TEST(spliced_body, agrees_with_the_old_rewrites_on_random_bodies) {
  const std::vector<std::pair<std::string, std::string>> keys = {
      {R"("model")", R"("m")"},
      {R"("prompt")", R"("p \"q\" \u00e9")"},
      {R"("stream")", "true"},
      {R"("str\u0065am")", "false"},
      {R"("stream")", "null"},
      {R"("stream_options")", R"({"include_usage":true})"},
      {R"("stre\u0061m_options")", "[1]"},
      {R"("max_tokens")", "64"},
      {R"("max_tok\u0065ns")", "7"},
      {R"("min_tokens")", "3"},
      {R"("max_completion_tokens")", "99"},
      {R"("max_completion_token\u0073")", "98"},
      {R"("kv_transfer_params")", R"({"remote_host":"evil"})"},
      {R"("kv_transfer_p\u0061rams")", R"({"remote_port":1})"},
      {R"("temperature")", "0.7"},
      {R"("seed")", "-12"},
      {R"("n")", "[1, {\"x\": [null]}]"},
      {R"("a\"b")", R"("v")"},
      {R"("\u00e9")", "{}"},
  };
  std::mt19937 rng(8);
  for (int round = 0; round < 3000; ++round) {
    std::string body = random_space(rng) + "{" + random_space(rng);
    const int members = static_cast<int>(rng() % 9);
    for (int i = 0; i < members; ++i) {
      const auto& [key, value] = keys[rng() % keys.size()];
      if (i > 0) {
        body += ',';
        body += random_space(rng);
      }
      body += key;
      body += random_space(rng);
      body += ':';
      body += random_space(rng);
      body += value;
      body += random_space(rng);
    }
    body += '}';
    body += random_space(rng);
    const json parsed = json::parse(body);
    const auto c = client_request::parse(body);
    if (parsed.size() < static_cast<std::size_t>(members)) {  // a name written twice (a later one won)
      EXPECT_FALSE(c) << body;
      continue;
    }
    ASSERT_TRUE(c) << body;
    EXPECT_EQ(c->stream(), wants_stream(parsed)) << body;

    const auto prefill = splice_prefill_body(*c);
    ASSERT_EQ(prefill.size(), prefill.str().size());
    ASSERT_EQ(json::parse(prefill.str()), old_prefill(parsed)) << body << "\n" << prefill.str();

    const std::string kv_text = R"({"remote_host":"10.0.0.1","remote_block_ids":[1, 2]})";
    for (const bool with_kv : {false, true}) {
      const auto kv = with_kv ? std::optional<std::string_view>(kv_text) : std::nullopt;
      const auto decode = splice_decode_body(*c, kv);
      ASSERT_EQ(decode.size(), decode.str().size());
      ASSERT_EQ(json::parse(decode.str()),
                old_decode(parsed, with_kv ? std::optional<json>(json::parse(kv_text)) : std::nullopt))
          << body << "\n"
          << decode.str();
    }
  }
}

}  // namespace
}  // namespace pd_proxy
