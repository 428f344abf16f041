// What an engine's /metrics says about its load: a reader of the Prometheus text exposition format (0.0.4,
// and the OpenMetrics text) that picks vLLM's scheduler and KV-cache series out of it.
#pragma once

#include <optional>
#include <string_view>

#include "pd_proxy/core/backends/engine_load.hpp"

namespace pd_proxy {

/// The load that `text` (the body of a vLLM engine's GET /metrics) reports, or nullopt when it is not such a
/// report: none of vllm:num_requests_running, vllm:num_requests_waiting and the KV-cache usage gauge has a
/// usable sample, or a sample of a series read here is malformed (a sum missing one of its series would be
/// wrong without a word, so the whole text is refused instead).
///
/// Series read (exact sample names; any labels):
/// - running, waiting: vllm:num_requests_running, vllm:num_requests_waiting;
/// - kv_cache_usage: vllm:kv_cache_usage_perc, or, when the text has none, the older
/// vllm:gpu_cache_usage_perc;
/// - prefix_cache_hits / _queries: vllm:prefix_cache_hits_total and vllm:prefix_cache_queries_total, or,
///   when the text has neither, the older vllm:gpu_prefix_cache_hits_total / _queries_total; 0 when absent.
/// A data-parallel server exports one series per engine (label engine="0", "1"...; model_name too): counts
/// and counters are summed over the series, the usage fraction is their mean (with engines of equal KV size
/// the server's fraction as a whole; vLLM's own balancer sends a new request to the least used engine
/// anyway), each sample clamped to [0, 1]. A series exported twice is counted twice.
///
/// Lines: LF or CRLF; blank lines and comments (# HELP, # TYPE, # EOF...) are skipped; blanks may lead a line
/// and surround label tokens; label values may hold escapes (\\ \" \n), commas and braces. A value is a
/// decimal or exponent number, NaN or [+-]Inf; what follows it (a timestamp, an OpenMetrics exemplar) is
/// ignored. A sample whose value is NaN, infinite or negative is ignored (an engine that has not set the
/// gauge yet). Lines of other series are skipped after their name, unparsed. Sums saturate at the largest
/// double.
///
/// Pure: one pass over `text`, no allocation, no exception; O(text.size()).
std::optional<engine_load> parse_engine_metrics(std::string_view text);

}  // namespace pd_proxy
