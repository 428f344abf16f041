// pd-bench's load generator against pd-mock engines behind the proxy.
#include <gtest/gtest.h>

#include "pd_proxy/bench/runner.hpp"
#include "proxy_fixture.hpp"
#include "scripted_backend.hpp"

namespace pd_proxy::test {
namespace {

TEST(bench_runner, measures_every_request_through_the_proxy) {
  auto decoders = fast_engines(2);
  decoders.timing.decode_ms_per_token = 1;
  cluster c({{fast_engines(1)}}, {{decoders}});
  bench::run_options options;
  options.target = {"127.0.0.1", c.port()};
  options.num_requests = 40;
  options.max_concurrency = 8;
  const auto requests = bench::synthetic_requests({false, "mock-model", true, false}, 40,
                                                  {bench::length_distribution::fixed, 64, 0},
                                                  {bench::length_distribution::fixed, 5, 0}, 1);
  std::atomic<bool> stop{false};
  double duration = 0;
  const auto records = bench::run_load(options, requests, stop, {}, duration);
  ASSERT_EQ(records.size(), 40u);
  const auto summary = bench::summarize_run(records, duration);
  EXPECT_EQ(summary.completed, 40u);
  EXPECT_EQ(summary.total_output_tokens, 200);
  for (const auto& r : records) {
    EXPECT_TRUE(r.ok()) << r.error;
    EXPECT_EQ(r.itl_ms.size(), 4u);
    EXPECT_LE(r.ttft_ms, r.e2e_ms);
  }
  EXPECT_GT(duration, 0);
}

TEST(bench_runner, the_warm_up_says_when_it_starts_and_ends) {
  cluster c({{fast_engines(1)}}, {{fast_engines(1)}});
  bench::run_options options;
  options.target = {"127.0.0.1", c.port()};
  options.max_concurrency = 2;
  const auto requests = bench::synthetic_requests({false, "mock-model", true, false}, 3, {}, {}, 1);
  std::atomic<bool> stop{false};
  std::vector<std::string> said;
  bench::run_warmup(options, 3, requests, stop, [&](std::string_view line) { said.emplace_back(line); });
  ASSERT_EQ(said.size(), 2u);
  EXPECT_EQ(said[0], "warm-up: sending 3 request(s), not measured");
  EXPECT_EQ(said[1].rfind("warm-up done: 3 request(s) in ", 0), 0u) << said[1];
  EXPECT_NE(said[1].find(" 0 failed; measuring now"), std::string::npos) << said[1];
  EXPECT_EQ(c.total(false, &mock::engine_stats::requests), 3u);
}

TEST(bench_runner, sends_the_dataset_in_order_with_its_sessions_and_sums_cached_tokens) {
  const std::string events =
      "data: {\"choices\":[{\"index\":0,\"text\":\"a\"}]}\n\n"
      "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":8,\"completion_tokens\":1,"
      "\"prompt_tokens_details\":{\"cached_tokens\":5}}}\n\n"
      "data: [DONE]\n\n";
  scripted_backend server([&](const http::request<http::string_body>&) {
    return scripted_answer{http_response(200, "text/event-stream", events)};
  });
  bench::run_options options;
  options.target = {"127.0.0.1", server.port()};
  options.path = "/v1/chat/completions";
  options.session_header = "X-Conversation";
  options.num_requests = 3;
  options.max_concurrency = 1;  // one at a time: the server sees the file's order
  std::size_t skipped = 0;
  const auto requests = bench::jsonl_requests({true, "m", true, false},
                                              "{\"prompt\":\"one\",\"session\":\"s1\"}\n"
                                              "{\"messages\":[{\"role\":\"user\",\"content\":\"two\"}]}\n"
                                              "{\"prompt\":\"three\",\"session\":\"s1\"}\n",
                                              1, skipped);
  ASSERT_EQ(requests.size(), 3u);
  std::atomic<bool> stop{false};
  double duration = 0;
  const auto records = bench::run_load(options, requests, stop, {}, duration);
  const auto received = server.received();
  ASSERT_EQ(received.size(), 3u);
  const char* contents[] = {"one", "two", "three"};
  const char* sessions[] = {"s1", "", "s1"};
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ((*parse_json_object(received[i].body()))["messages"][0]["content"], contents[i]);
    EXPECT_EQ(received[i]["X-Conversation"], sessions[i]);
    EXPECT_EQ(received[i].count("X-Session-Id"), 0u);
  }
  const auto summary = bench::summarize_run(records, duration);
  EXPECT_EQ(summary.completed, 3u);
  EXPECT_EQ(summary.total_cached_tokens, 15);
  EXPECT_EQ(summary.cached_reported, 3u);
}

TEST(bench_runner, counts_failures_by_kind) {
  auto failing = fast_engines(1);
  failing.faults.fail_status = 503;
  mock::mock_server engine(failing);
  engine.start();
  bench::run_options options;
  options.target = {"127.0.0.1", engine.port(0)};
  options.num_requests = 5;
  options.max_concurrency = 2;
  const auto requests = bench::synthetic_requests({false, "m", true, false}, 5, {}, {}, 1);
  std::atomic<bool> stop{false};
  double duration = 0;
  const auto summary = bench::summarize_run(bench::run_load(options, requests, stop, {}, duration), duration);
  EXPECT_EQ(summary.failed, 5u);
  ASSERT_EQ(summary.errors.size(), 1u);
  EXPECT_EQ(summary.errors[0].first, "http_503");
}

}  // namespace
}  // namespace pd_proxy::test
