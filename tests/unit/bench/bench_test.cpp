#include <gtest/gtest.h>

#include "pd_proxy/bench/plot.hpp"
#include "pd_proxy/bench/report.hpp"
#include "pd_proxy/bench/stats.hpp"
#include "pd_proxy/bench/workload.hpp"

namespace pd_proxy::bench {
namespace {

TEST(bench_stats, percentiles_interpolate_like_numpy) {
  const std::vector<double> v{1, 2, 3, 4};
  EXPECT_DOUBLE_EQ(percentile(v, 50), 2.5);
  EXPECT_DOUBLE_EQ(percentile(v, 99), 3.97);
  EXPECT_DOUBLE_EQ(percentile(v, 0), 1);
  EXPECT_DOUBLE_EQ(percentile({}, 50), 0);
  const auto d = summarize({4, 1, 3, 2});
  EXPECT_DOUBLE_EQ(d.mean, 2.5);
  EXPECT_DOUBLE_EQ(d.median, 2.5);
  EXPECT_DOUBLE_EQ(d.min, 1);
  EXPECT_DOUBLE_EQ(d.max, 4);
  EXPECT_NEAR(d.std, 1.1180339887, 1e-9);
}

TEST(bench_workload, length_distributions_stay_in_range) {
  std::mt19937_64 rng(1);
  for (int i = 0; i < 1000; ++i) {
    const int u = sample_length({length_distribution::uniform, 100, 0.5}, rng);
    EXPECT_GE(u, 50);
    EXPECT_LE(u, 150);
    EXPECT_GE(sample_length({length_distribution::normal, 10, 2.0}, rng), 1);
  }
  EXPECT_EQ(sample_length({length_distribution::fixed, 3500, 0.9}, rng), 3500);
  EXPECT_FALSE(parse_distribution("zipf"));
}

TEST(bench_workload, synthetic_requests_are_seeded_and_shaped) {
  const request_shape shape{false, "m", true, true};
  const auto a = synthetic_requests(shape, 3, {length_distribution::fixed, 100, 0},
                                    {length_distribution::fixed, 7, 0}, 5);
  const auto b = synthetic_requests(shape, 3, {length_distribution::fixed, 100, 0},
                                    {length_distribution::fixed, 7, 0}, 5);
  ASSERT_EQ(a.size(), 3u);
  EXPECT_EQ(a[0].body, b[0].body);
  EXPECT_NE(a[0].body, a[1].body);
  EXPECT_EQ(a[0].input_tokens, 100);
  EXPECT_EQ(a[0].output_tokens, 7);
  const auto body = *parse_json_object(a[0].body);
  EXPECT_EQ(body["max_tokens"], 7);
  EXPECT_EQ(body["ignore_eos"], true);
  EXPECT_EQ(body["stream_options"]["include_usage"], true);
  const auto chat = make_request({true, "m", false, false}, "hi", 2);
  EXPECT_EQ(chat.body,
            R"({"model":"m","messages":[{"role":"user","content":"hi"}],"max_tokens":2,"stream":false})");
}

TEST(bench_workload, jsonl_dataset) {
  std::size_t skipped = 0;
  const auto r =
      jsonl_requests({false, "m", true, false},
                     "{\"prompt\":\"a\",\"output_len\":5}\n\nnot json\n{\"prompt\":\"b\"}\n", 9, skipped);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].output_tokens, 5);
  EXPECT_EQ(r[1].output_tokens, 9);
  EXPECT_EQ(skipped, 1u);
}

TEST(bench_workload, jsonl_messages_and_sessions_keep_the_file_order) {
  std::size_t skipped = 0;
  const std::string text =
      R"({"messages":[{"role":"system","content":"abcdefgh"},{"role":"user","content":"ijkl"}],"session":"c1","output_len":3})"
      "\n"
      R"({"prompt":"second","session":"c2"})"
      "\n"
      R"({"prompt":"third"})"
      "\n";
  const auto chat = jsonl_requests({true, "m", true, false}, text, 9, skipped);
  EXPECT_EQ(skipped, 0u);
  ASSERT_EQ(chat.size(), 3u);
  const auto first = *parse_json_object(chat[0].body);
  EXPECT_EQ(first["messages"],
            json::parse(R"([{"role":"system","content":"abcdefgh"},{"role":"user","content":"ijkl"}])"));
  EXPECT_EQ(first["max_tokens"], 3);
  EXPECT_EQ(chat[0].input_tokens, 3);  // 12 characters of content
  EXPECT_EQ(chat[0].session, "c1");
  EXPECT_EQ((*parse_json_object(chat[1].body))["messages"][0]["content"], "second");
  EXPECT_EQ(chat[1].session, "c2");
  EXPECT_EQ((*parse_json_object(chat[2].body))["messages"][0]["content"], "third");
  EXPECT_EQ(chat[2].session, "");

  // For completions, "messages" is ignored: a line with only messages has no prompt.
  const auto completions = jsonl_requests({false, "m", true, false}, text, 9, skipped);
  EXPECT_EQ(skipped, 1u);
  ASSERT_EQ(completions.size(), 2u);
  EXPECT_EQ((*parse_json_object(completions[0].body))["prompt"], "second");
  EXPECT_EQ(completions[0].session, "c2");
}

TEST(bench_workload, jsonl_lines_whose_session_cannot_be_a_header_value_are_skipped) {
  std::size_t skipped = 0;
  const auto r = jsonl_requests({true, "m", true, false},
                                "{\"prompt\":\"a\",\"session\":\"x\\r\\nEvil: 1\"}\n"
                                "{\"prompt\":\"b\",\"session\":7}\n"
                                "{\"messages\":[],\"session\":\"s\"}\n"
                                "{\"messages\":\"not an array\",\"prompt\":\"c\",\"session\":\"s\"}\n",
                                9, skipped);
  EXPECT_EQ(skipped, 3u);
  ASSERT_EQ(r.size(), 1u);  // an unusable "messages" falls back to "prompt"
  EXPECT_EQ((*parse_json_object(r[0].body))["messages"][0]["content"], "c");
  EXPECT_EQ(r[0].session, "s");
}

TEST(bench_workload, arrival_gaps_have_the_requested_rate) {
  const auto gaps = arrival_gaps(20000, 50.0, 1.0, 3);
  double sum = 0;
  for (double g : gaps) sum += g;
  EXPECT_NEAR(sum / 20000, 1.0 / 50.0, 0.001);
  for (double g : arrival_gaps(5, 0, 1.0, 3)) EXPECT_EQ(g, 0);
}

TEST(bench_report, token_events) {
  EXPECT_TRUE(is_token_event(R"({"choices":[{"index":0,"text":" a"}]})"));
  EXPECT_TRUE(is_token_event(R"({"choices":[{"index":0,"delta":{"content":"x"}}]})"));
  EXPECT_FALSE(is_token_event(R"({"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]})"));
  EXPECT_FALSE(is_token_event(R"({"choices":[],"usage":{"completion_tokens":3}})"));
  EXPECT_EQ(completion_tokens_of(R"({"choices":[],"usage":{"completion_tokens":3}})"), 3);
  EXPECT_EQ(completion_tokens_of(R"({"choices":[]})"), -1);
}

TEST(bench_report, usage_counts_carry_the_cached_tokens) {
  const auto both = usage_of(R"({"choices":[],"usage":{"prompt_tokens":40,"completion_tokens":3,)"
                             R"("prompt_tokens_details":{"cached_tokens":32}}})");
  EXPECT_EQ(both.completion_tokens, 3);
  EXPECT_EQ(both.cached_tokens, 32);
  const auto no_details = usage_of(R"({"usage":{"completion_tokens":2,"prompt_tokens_details":null}})");
  EXPECT_EQ(no_details.completion_tokens, 2);
  EXPECT_EQ(no_details.cached_tokens, -1);
  EXPECT_EQ(usage_of(R"({"choices":[{"text":"a"}]})").cached_tokens, -1);

  std::vector<request_record> records(3);
  records[0] = {0, 10, 100, {}, 100, 1, 200, "", 64};
  records[1] = {0, 10, 100, {}, 100, 1, 200, "", -1};  // did not say
  records[2] = {0, 10, 100, {}, 100, 1, 502, "http_502", 16};
  const auto s = summarize_run(records, 1.0);
  EXPECT_EQ(s.total_cached_tokens, 64);
  EXPECT_EQ(s.cached_reported, 1u);
  EXPECT_EQ(to_json(s, records, false)["total_cached_tokens"], 64);
  EXPECT_NE(to_markdown(s, "t").find("| cached prompt tokens (usage, 1 answers) | 64 (32.0 % of input) |"),
            std::string::npos)
      << to_markdown(s, "t");
  records[0].cached_tokens = -1;
  EXPECT_EQ(to_markdown(summarize_run(records, 1.0), "t").find("cached prompt tokens"), std::string::npos);
}

TEST(bench_report, summary_uses_vllm_field_names) {
  std::vector<request_record> records(2);
  records[0] = {0, 10, 110, {50, 50}, 100, 3, 200, ""};
  records[1] = {0, 0, 5, {}, 100, 0, 502, "http_502"};
  const auto s = summarize_run(records, 2.0);
  EXPECT_EQ(s.completed, 1u);
  EXPECT_EQ(s.failed, 1u);
  EXPECT_DOUBLE_EQ(s.request_throughput, 0.5);
  EXPECT_DOUBLE_EQ(s.tpot_ms.mean, 50);
  const auto j = to_json(s, records, true);
  for (const char* key : {"completed", "request_throughput", "output_throughput", "mean_ttft_ms",
                          "median_tpot_ms", "p99_itl_ms", "std_e2el_ms", "total_output_tokens"}) {
    EXPECT_TRUE(j.contains(key)) << key;
  }
  EXPECT_EQ(j["errors"]["http_502"], 1);
  EXPECT_EQ(j["requests"].size(), 2u);
  EXPECT_NE(to_markdown(s, "t").find("| TTFT | 10.00 |"), std::string::npos);
}

TEST(bench_report, the_markdown_summary_has_a_std_column) {
  std::vector<request_record> records(2);
  records[0] = {0, 10, 100, {}, 1, 1, 200, ""};
  records[1] = {0, 30, 100, {}, 1, 1, 200, ""};
  const std::string md = to_markdown(summarize_run(records, 1.0), "t");
  EXPECT_NE(md.find("| latency (ms) | mean | median | std | p90 | p99 |"), std::string::npos) << md;
  EXPECT_NE(md.find("| TTFT | 20.00 | 20.00 | 10.00 | 28.00 | 29.80 |"), std::string::npos) << md;
}

TEST(bench_plot, output_tokens_count_in_the_second_they_arrived) {
  std::vector<request_record> records(3);
  // Sent at 0.5 s, first token at 1.0 s, then one every 400 ms: 1.0, 1.4, 1.8, 2.2, 2.6 s.
  records[0] = {0.5, 500, 2100, {400, 400, 400, 400}, 10, 5, 200, ""};
  // Not streamed: its 6 tokens arrive with the answer at 3.5 s.
  records[1] = {0.5, 3000, 3000, {}, 10, 6, 200, ""};
  // Failed: not counted.
  records[2] = {0, 100, 100, {}, 10, 4, 502, "http_502"};
  const auto tokens = output_tokens_per_second(records, 4);
  ASSERT_EQ(tokens.size(), 5u);
  EXPECT_DOUBLE_EQ(tokens[0], 0);
  EXPECT_DOUBLE_EQ(tokens[1], 3);
  EXPECT_DOUBLE_EQ(tokens[2], 2);
  EXPECT_DOUBLE_EQ(tokens[3], 6);
  EXPECT_DOUBLE_EQ(tokens[4], 0);
  const auto done = completions_per_second(records, 4);
  EXPECT_EQ(done, (std::vector<double>{0, 0, 1, 1, 0}));  // at 2.6 s and 3.5 s
}

TEST(bench_plot, usage_tokens_are_spread_over_the_events_and_late_ones_count_in_the_last_second) {
  std::vector<request_record> records(1);
  // Two events (at 0.2 s and 1.2 s) for 8 tokens of usage: 4 each; a 0-second plot counts all in second 0.
  records[0] = {0, 200, 1300, {1000}, 10, 8, 200, ""};
  EXPECT_EQ(output_tokens_per_second(records, 2), (std::vector<double>{4, 4, 0}));
  EXPECT_EQ(output_tokens_per_second(records, 0), (std::vector<double>{8}));
}

}  // namespace
}  // namespace pd_proxy::bench
