#include "pd_proxy/core/observe/engine_metrics.hpp"

#include <gtest/gtest.h>

#include <limits>
#include <string>

namespace pd_proxy {
namespace {

// What vLLM's V1 engine (prometheus_client) serves, abridged: HELP/TYPE lines, counters as <family>_total
// with a _created companion, histograms, and the deprecated series next to their replacements.
constexpr std::string_view vllm_v1 = R"(# HELP python_gc_objects_collected_total Objects collected during gc
# TYPE python_gc_objects_collected_total counter
python_gc_objects_collected_total{generation="0"} 12345.0
# HELP vllm:num_requests_running Number of requests in model execution batches.
# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{engine="0",model_name="meta-llama/Llama-3.1-8B-Instruct"} 3.0
# HELP vllm:num_requests_waiting Number of requests waiting to be processed.
# TYPE vllm:num_requests_waiting gauge
vllm:num_requests_waiting{engine="0",model_name="meta-llama/Llama-3.1-8B-Instruct"} 2.0
# HELP vllm:gpu_cache_usage_perc GPU KV-cache usage. 1 means 100 percent usage.DEPRECATED: Use vllm:kv_cache_usage_perc instead.
# TYPE vllm:gpu_cache_usage_perc gauge
vllm:gpu_cache_usage_perc{engine="0",model_name="meta-llama/Llama-3.1-8B-Instruct"} 0.25
# HELP vllm:gpu_prefix_cache_queries_total GPU prefix cache queries. DEPRECATED: Use vllm:prefix_cache_queries instead.
# TYPE vllm:gpu_prefix_cache_queries_total counter
vllm:gpu_prefix_cache_queries_total{engine="0",model_name="meta-llama/Llama-3.1-8B-Instruct"} 1000.0
# HELP vllm:gpu_prefix_cache_queries_created GPU prefix cache queries. DEPRECATED: Use vllm:prefix_cache_queries instead.
# TYPE vllm:gpu_prefix_cache_queries_created gauge
vllm:gpu_prefix_cache_queries_created{engine="0",model_name="meta-llama/Llama-3.1-8B-Instruct"} 1.7473e+09
# HELP vllm:kv_cache_usage_perc KV-cache usage. 1 means 100 percent usage.
# TYPE vllm:kv_cache_usage_perc gauge
vllm:kv_cache_usage_perc{engine="0",model_name="meta-llama/Llama-3.1-8B-Instruct"} 0.25
# HELP vllm:prefix_cache_queries_total Prefix cache queries, in terms of number of queried tokens.
# TYPE vllm:prefix_cache_queries_total counter
vllm:prefix_cache_queries_total{engine="0",model_name="meta-llama/Llama-3.1-8B-Instruct"} 1000.0
# HELP vllm:prefix_cache_queries_created Prefix cache queries, in terms of number of queried tokens.
# TYPE vllm:prefix_cache_queries_created gauge
vllm:prefix_cache_queries_created{engine="0",model_name="meta-llama/Llama-3.1-8B-Instruct"} 1.7473e+09
# HELP vllm:prefix_cache_hits_total Prefix cache hits, in terms of number of cached tokens.
# TYPE vllm:prefix_cache_hits_total counter
vllm:prefix_cache_hits_total{engine="0",model_name="meta-llama/Llama-3.1-8B-Instruct"} 400.0
# HELP vllm:time_to_first_token_seconds Histogram of time to first token in seconds.
# TYPE vllm:time_to_first_token_seconds histogram
vllm:time_to_first_token_seconds_bucket{engine="0",le="0.001",model_name="meta-llama/Llama-3.1-8B-Instruct"} 0.0
vllm:time_to_first_token_seconds_bucket{engine="0",le="+Inf",model_name="meta-llama/Llama-3.1-8B-Instruct"} 7.0
vllm:time_to_first_token_seconds_count{engine="0",model_name="meta-llama/Llama-3.1-8B-Instruct"} 7.0
)";

engine_load parsed(std::string_view text) {
  const auto load = parse_engine_metrics(text);
  EXPECT_TRUE(load.has_value()) << text;
  return load.value_or(engine_load{.known = false});
}

TEST(engine_metrics, reads_a_vllm_v1_exposition) {
  const engine_load load = parsed(vllm_v1);
  EXPECT_TRUE(load.known);
  EXPECT_DOUBLE_EQ(load.running, 3);
  EXPECT_DOUBLE_EQ(load.waiting, 2);
  EXPECT_DOUBLE_EQ(load.kv_cache_usage, 0.25);        // the new gauge only, not also the deprecated one
  EXPECT_DOUBLE_EQ(load.prefix_cache_queries, 1000);  // the new counters only
  EXPECT_DOUBLE_EQ(load.prefix_cache_hits, 400);
  EXPECT_EQ(load.read_at, std::chrono::steady_clock::time_point{});  // the caller's to set
}

TEST(engine_metrics, reads_an_older_vllm_with_the_gpu_series_and_no_engine_label) {
  const engine_load load = parsed(
      "# TYPE vllm:num_requests_running gauge\n"
      "vllm:num_requests_running{model_name=\"m\"} 1.0\n"
      "vllm:num_requests_swapped{model_name=\"m\"} 9.0\n"
      "vllm:num_requests_waiting{model_name=\"m\"} 4.0\n"
      "vllm:gpu_cache_usage_perc{model_name=\"m\"} 0.5\n"
      "vllm:cpu_cache_usage_perc{model_name=\"m\"} 0.75\n"
      "vllm:gpu_prefix_cache_hits_total{model_name=\"m\"} 30.0\n"
      "vllm:gpu_prefix_cache_queries_total{model_name=\"m\"} 90.0\n");
  EXPECT_DOUBLE_EQ(load.running, 1);
  EXPECT_DOUBLE_EQ(load.waiting, 4);
  EXPECT_DOUBLE_EQ(load.kv_cache_usage, 0.5);
  EXPECT_DOUBLE_EQ(load.prefix_cache_hits, 30);
  EXPECT_DOUBLE_EQ(load.prefix_cache_queries, 90);
}

TEST(engine_metrics, sums_the_engines_of_a_data_parallel_server_and_averages_their_kv_usage) {
  const engine_load load = parsed(
      "vllm:num_requests_running{engine=\"0\",model_name=\"m\"} 3\n"
      "vllm:num_requests_running{engine=\"1\",model_name=\"m\"} 5\n"
      "vllm:num_requests_waiting{engine=\"0\",model_name=\"m\"} 0\n"
      "vllm:num_requests_waiting{engine=\"1\",model_name=\"m\"} 7\n"
      "vllm:kv_cache_usage_perc{engine=\"0\",model_name=\"m\"} 0.2\n"
      "vllm:kv_cache_usage_perc{engine=\"1\",model_name=\"m\"} 0.6\n"
      "vllm:prefix_cache_hits_total{engine=\"0\",model_name=\"m\"} 10\n"
      "vllm:prefix_cache_hits_total{engine=\"1\",model_name=\"m\"} 20\n"
      "vllm:prefix_cache_queries_total{engine=\"0\",model_name=\"m\"} 100\n"
      "vllm:prefix_cache_queries_total{engine=\"1\",model_name=\"m\"} 200\n");
  EXPECT_DOUBLE_EQ(load.running, 8);
  EXPECT_DOUBLE_EQ(load.waiting, 7);
  EXPECT_DOUBLE_EQ(load.kv_cache_usage, 0.4);
  EXPECT_DOUBLE_EQ(load.prefix_cache_hits, 30);
  EXPECT_DOUBLE_EQ(load.prefix_cache_queries, 300);
}

TEST(engine_metrics, reads_pd_mock_output) {
  // pd-mock's format: labels engine and model_name, values printed by fmt ("0", "0.125").
  const engine_load load = parsed(
      "# HELP vllm:num_requests_running Number of requests in model execution batches.\n"
      "# TYPE vllm:num_requests_running gauge\n"
      "vllm:num_requests_running{engine=\"0\",model_name=\"mock-model\"} 2\n"
      "# HELP vllm:num_requests_waiting Number of requests waiting to be processed.\n"
      "# TYPE vllm:num_requests_waiting gauge\n"
      "vllm:num_requests_waiting{engine=\"0\",model_name=\"mock-model\"} 0\n"
      "# HELP vllm:kv_cache_usage_perc KV-cache usage. 1 means 100 percent usage.\n"
      "# TYPE vllm:kv_cache_usage_perc gauge\n"
      "vllm:kv_cache_usage_perc{engine=\"0\",model_name=\"mock-model\"} 0.125\n"
      "# TYPE pd_mock_kv_blocks_held gauge\n"
      "pd_mock_kv_blocks_held{engine=\"0\",model_name=\"mock-model\"} 4\n");
  EXPECT_DOUBLE_EQ(load.running, 2);
  EXPECT_DOUBLE_EQ(load.waiting, 0);
  EXPECT_DOUBLE_EQ(load.kv_cache_usage, 0.125);
  EXPECT_DOUBLE_EQ(load.prefix_cache_hits, 0);  // not exported: 0
  EXPECT_DOUBLE_EQ(load.prefix_cache_queries, 0);
}

TEST(engine_metrics, missing_series_read_as_zero_but_one_gauge_is_needed) {
  EXPECT_DOUBLE_EQ(parsed("vllm:num_requests_waiting 6\n").waiting, 6);
  EXPECT_DOUBLE_EQ(parsed("vllm:num_requests_waiting 6\n").running, 0);
  EXPECT_DOUBLE_EQ(parsed("vllm:kv_cache_usage_perc 0.5\n").kv_cache_usage, 0.5);
  EXPECT_DOUBLE_EQ(parsed("vllm:gpu_cache_usage_perc 0.5\n").kv_cache_usage, 0.5);

  EXPECT_EQ(parse_engine_metrics(""), std::nullopt);
  EXPECT_EQ(parse_engine_metrics("\n\n# HELP x y\n"), std::nullopt);
  // Counters alone are not a load report.
  EXPECT_EQ(parse_engine_metrics("vllm:prefix_cache_hits_total 3\nvllm:prefix_cache_queries_total 9\n"),
            std::nullopt);
  // Not vLLM: another exporter, an HTML page, this proxy's own metrics.
  EXPECT_EQ(parse_engine_metrics("<html><body>Not Found</body></html>"), std::nullopt);
  EXPECT_EQ(parse_engine_metrics("# TYPE pd_proxy_inflight_requests gauge\npd_proxy_inflight_requests 0\n"),
            std::nullopt);
  EXPECT_EQ(parse_engine_metrics("sglang:num_running_reqs{model_name=\"m\"} 3.0\n"), std::nullopt);
}

TEST(engine_metrics, the_names_must_match_exactly) {
  const engine_load load = parsed(
      "vllm:num_requests_running 1\n"
      "vllm:num_requests_running_created 1.7e9\n"
      "vllm:num_requests_runningx 50\n"
      "xvllm:num_requests_running 50\n"
      "vllm:prefix_cache_hits 60\n"  // a counter's family name is no sample name
      "vllm:prefix_cache_hits_created 1.7e9\n"
      "VLLM:num_requests_waiting 70\n");
  EXPECT_DOUBLE_EQ(load.running, 1);
  EXPECT_DOUBLE_EQ(load.waiting, 0);
  EXPECT_DOUBLE_EQ(load.prefix_cache_hits, 0);
}

TEST(engine_metrics, crlf_lines_leading_blanks_and_no_final_newline) {
  const engine_load load = parsed(
      "# TYPE vllm:num_requests_running gauge\r\n"
      "vllm:num_requests_running{engine=\"0\"} 2\r\n"
      "\r\n"
      "  \tvllm:num_requests_waiting 3\r\n"
      "vllm:kv_cache_usage_perc\t0.5");
  EXPECT_DOUBLE_EQ(load.running, 2);
  EXPECT_DOUBLE_EQ(load.waiting, 3);
  EXPECT_DOUBLE_EQ(load.kv_cache_usage, 0.5);
}

TEST(engine_metrics, numbers_in_every_form_the_format_allows) {
  EXPECT_DOUBLE_EQ(parsed("vllm:num_requests_running 1e2\n").running, 100);
  EXPECT_DOUBLE_EQ(parsed("vllm:num_requests_running 2.5E+1\n").running, 25);
  EXPECT_DOUBLE_EQ(parsed("vllm:num_requests_running +3\n").running, 3);
  EXPECT_DOUBLE_EQ(parsed("vllm:num_requests_running .5\n").running, 0.5);
  EXPECT_DOUBLE_EQ(parsed("vllm:num_requests_running 7.\n").running, 7);
  EXPECT_DOUBLE_EQ(parsed("vllm:num_requests_running -0\n").running, 0);
  EXPECT_DOUBLE_EQ(parsed("vllm:kv_cache_usage_perc 2.5e-1\n").kv_cache_usage, 0.25);
}

TEST(engine_metrics, a_timestamp_or_an_exemplar_after_the_value_is_ignored) {
  const engine_load load = parsed(
      "vllm:num_requests_running{engine=\"0\"} 4 1712345678901\n"
      "vllm:num_requests_waiting 5\t-1712345678901\n"
      "vllm:prefix_cache_hits_total{engine=\"0\"} 8 # {trace_id=\"abc\"} 1.0 1712345678.9\n"
      "# EOF\n");
  EXPECT_DOUBLE_EQ(load.running, 4);
  EXPECT_DOUBLE_EQ(load.waiting, 5);
  EXPECT_DOUBLE_EQ(load.prefix_cache_hits, 8);
}

TEST(engine_metrics, nan_infinite_negative_and_out_of_range_samples_are_ignored) {
  const engine_load load = parsed(
      "vllm:num_requests_running{engine=\"0\"} NaN\n"
      "vllm:num_requests_running{engine=\"1\"} 2\n"
      "vllm:num_requests_running{engine=\"2\"} +Inf\n"
      "vllm:num_requests_running{engine=\"3\"} -Inf\n"
      "vllm:num_requests_running{engine=\"4\"} -1\n"
      "vllm:num_requests_running{engine=\"5\"} 1e999\n"
      "vllm:num_requests_running{engine=\"6\"} inf\n"
      "vllm:kv_cache_usage_perc{engine=\"0\"} nan\n"
      "vllm:kv_cache_usage_perc{engine=\"1\"} 0.5\n");
  EXPECT_DOUBLE_EQ(load.running, 2);
  EXPECT_DOUBLE_EQ(load.kv_cache_usage, 0.5);  // the mean of the usable samples
  // Only unusable samples of the gauges: no report.
  EXPECT_EQ(parse_engine_metrics("vllm:num_requests_running NaN\nvllm:kv_cache_usage_perc +Inf\n"),
            std::nullopt);
}

TEST(engine_metrics, the_usage_fraction_is_clamped_to_one) {
  EXPECT_DOUBLE_EQ(parsed("vllm:kv_cache_usage_perc 1.5\n").kv_cache_usage, 1);
  EXPECT_DOUBLE_EQ(parsed("vllm:kv_cache_usage_perc{engine=\"0\"} 3\n"
                          "vllm:kv_cache_usage_perc{engine=\"1\"} 0\n")
                       .kv_cache_usage,
                   0.5);
}

TEST(engine_metrics, sums_saturate_at_the_largest_double) {
  const engine_load load = parsed(
      "vllm:num_requests_running{engine=\"0\"} 1.7e308\n"
      "vllm:num_requests_running{engine=\"1\"} 1.7e308\n");
  EXPECT_EQ(load.running, std::numeric_limits<double>::max());
}

TEST(engine_metrics, label_values_may_hold_escapes_commas_braces_and_blanks_around_tokens) {
  const engine_load load = parsed(
      "vllm:num_requests_running{model_name=\"a \\\"quoted\\\" {name}, with\\\\ escapes\\n\",engine=\"0\"} "
      "2\n"
      "vllm:num_requests_running{ engine = \"1\" , model_name=\"} 99\" , } 3\n"
      "vllm:num_requests_waiting{} 4\n"
      "vllm:num_requests_waiting{engine=\"0\"}5\n");
  EXPECT_DOUBLE_EQ(load.running, 5);
  EXPECT_DOUBLE_EQ(load.waiting, 9);
}

TEST(engine_metrics, a_malformed_sample_of_a_series_read_refuses_the_whole_text) {
  const std::string good = "vllm:num_requests_running{engine=\"0\"} 2\n";
  for (const std::string bad : {
           "vllm:num_requests_waiting\n",                     // no value
           "vllm:num_requests_waiting \n",                    // blanks, no value
           "vllm:num_requests_waiting{engine=\"0\"}\n",       // labels, no value
           "vllm:num_requests_waiting=3\n",                   // not a blank after the name
           "vllm:num_requests_waiting{engine=\"0\" 3\n",      // unterminated label set
           "vllm:num_requests_waiting{engine=\"0} 3\n",       // unterminated label value
           "vllm:num_requests_waiting{engine=0} 3\n",         // unquoted label value
           "vllm:num_requests_waiting{=\"0\"} 3\n",           // no label name
           "vllm:num_requests_waiting{engine\"0\"} 3\n",      // no '='
           "vllm:num_requests_waiting{a=\"0\" b=\"1\"} 3\n",  // no comma
           "vllm:num_requests_waiting{a=\"0\",,} 3\n",        // an empty label
           "vllm:num_requests_waiting{a=\"\\\"} 3\n",         // the escape takes the closing quote
           "vllm:num_requests_waiting three\n",               // not a number
           "vllm:num_requests_waiting 1.0.0\n",               // not one number
           "vllm:num_requests_waiting 0x10\n",                // hexadecimal
           "vllm:num_requests_waiting ++1\n",                 // two signs
           "vllm:num_requests_waiting +-1\n",                 //
           "vllm:num_requests_waiting +\n",                   // a sign alone
           "vllm:num_requests_waiting 1,5\n",                 // a decimal comma
           "vllm:prefix_cache_hits_total{engine=\"0\"} ?\n",  // a counter read too
       }) {
    EXPECT_EQ(parse_engine_metrics(good + bad), std::nullopt) << bad;
    EXPECT_EQ(parse_engine_metrics(bad + good), std::nullopt) << bad;
  }
}

TEST(engine_metrics, malformed_lines_of_other_series_are_skipped_unparsed) {
  const engine_load load = parsed(
      "python_info{implementation=\"CPython\" 3\n"
      "vllm:num_requests_swapped{engine=\"0\"} not-a-number\n"
      "vllm:time_to_first_token_seconds_bucket{le=\"+Inf\"\n"
      "garbage line without structure\n"
      "vllm:num_requests_running 2\n");
  EXPECT_DOUBLE_EQ(load.running, 2);
}

TEST(engine_metrics, a_nul_or_other_bytes_in_the_text_are_only_bytes) {
  using namespace std::string_literals;
  const std::string text =
      "vllm:num_requests_running 2\n\0\xff\xfe binary\n# \0 comment\nvllm:num_requests_waiting 1\n"s;
  const engine_load load = parsed(text);
  EXPECT_DOUBLE_EQ(load.running, 2);
  EXPECT_DOUBLE_EQ(load.waiting, 1);
  EXPECT_EQ(parse_engine_metrics("vllm:num_requests_running 2\0\n"s), std::nullopt);
}

TEST(engine_metrics, a_long_text_is_read_in_one_pass) {
  std::string text;
  for (int engine = 0; engine < 1000; ++engine) {
    const std::string labels = "{engine=\"" + std::to_string(engine) + "\",model_name=\"m\"}";
    text += "vllm:num_requests_running" + labels + " 1\n";
    text += "vllm:kv_cache_usage_perc" + labels + " 0.5\n";
    text += "vllm:time_to_first_token_seconds_bucket" + labels + " 12\n";
  }
  const engine_load load = parsed(text);
  EXPECT_DOUBLE_EQ(load.running, 1000);
  EXPECT_DOUBLE_EQ(load.kv_cache_usage, 0.5);
}

}  // namespace
}  // namespace pd_proxy
