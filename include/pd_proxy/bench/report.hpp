// pd-bench results: per-request records, the run summary (vllm bench serve's fields) and its reports.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "pd_proxy/bench/stats.hpp"
#include "pd_proxy/core/flow/request_rewrite.hpp"

namespace pd_proxy::bench {

struct request_record {
  double start_s = 0;  // when it was sent, seconds since the measured run started
  double ttft_ms = 0;  // to the first token (stream) or the whole answer (non-stream)
  double e2e_ms = 0;
  std::vector<double> itl_ms;  // gaps between token events
  int input_tokens = 0;
  int output_tokens = 0;
  int status = 0;
  std::string error;  // empty when it succeeded; else connect, timeout, transport, http_<status>, sse_error,
                      // incomplete
  int cached_tokens = -1;  // usage.prompt_tokens_details.cached_tokens; -1 when the server sent none

  bool ok() const { return error.empty(); }
  /// Time per output token after the first: (e2e - ttft) / (tokens - 1); 0 for one token.
  double tpot_ms() const;
};

/// Whether an SSE data payload carries generated text: a chunk with a non-empty `choices` whose text or
/// content is not empty. `[DONE]`, the usage event and the chat role event are not tokens.
bool is_token_event(std::string_view data);

/// The counts of a JSON payload's usage object; -1 for a count it does not carry.
struct usage_counts {
  int completion_tokens = -1;  // usage.completion_tokens
  int cached_tokens = -1;      // usage.prompt_tokens_details.cached_tokens
};

/// The usage counts of a JSON payload (an SSE data payload or a whole answer); all -1 without a usage object.
/// Only payloads that contain `"usage":{` are parsed, so token events cost a substring search.
usage_counts usage_of(std::string_view json_text);

/// `usage.completion_tokens` of a JSON payload that has a usage object, else -1.
int completion_tokens_of(std::string_view json_text);

struct run_summary {
  std::size_t completed = 0, failed = 0;
  double duration_s = 0;
  long long total_input_tokens = 0, total_output_tokens = 0;
  long long total_cached_tokens = 0;  // sum of the cached_tokens the successful answers reported
  std::size_t cached_reported = 0;    // successful answers that reported cached_tokens
  double request_throughput = 0, output_throughput = 0, total_token_throughput = 0;
  distribution ttft_ms, tpot_ms, itl_ms, e2el_ms;
  std::vector<std::pair<std::string, std::size_t>> errors;  // kind -> count
  bool partial = false;                                     // interrupted before every request was sent
};

run_summary summarize_run(const std::vector<request_record>& records, double duration_s);

/// The summary in `vllm bench serve`'s JSON field names (mean_ttft_ms, p99_itl_ms, ...), plus `requests` with
/// every record when `with_records`.
json to_json(const run_summary& summary, const std::vector<request_record>& records, bool with_records);

/// A Markdown table of the summary.
std::string to_markdown(const run_summary& summary, std::string_view title);

}  // namespace pd_proxy::bench
