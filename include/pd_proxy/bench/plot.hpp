// pd-bench charts: data files and a gnuplot script, rendered to PNG when gnuplot is installed.
#pragma once

#include <string>
#include <vector>

#include "pd_proxy/bench/report.hpp"

namespace pd_proxy::bench {

/// Successful requests per second of the run: each in the second it completed. `seconds` + 1 entries (a
/// later completion counts in the last).
std::vector<double> completions_per_second(const std::vector<request_record>& records, std::size_t seconds);

/// Output tokens per second of the run, counted when they arrived: a stream's token events at its start +
/// TTFT + the inter-token gaps (a non-streamed answer's one event at its end), each with an equal share of
/// the request's output tokens (the usage may count more tokens than events). Successful requests only.
/// `seconds` + 1 entries (later tokens count in the last).
std::vector<double> output_tokens_per_second(const std::vector<request_record>& records, std::size_t seconds);

/// Writes `dir`/latency.dat (TTFT and E2E CDFs), `dir`/throughput.dat (completions and tokens per second, as
/// above), `dir`/plots.gp, and runs gnuplot on it to draw `dir`/latency_cdf.png and `dir`/throughput.png.
/// Returns false with `error` set when the folder cannot be written or gnuplot is missing or fails (the data
/// and script are still there).
bool write_plots(const std::vector<request_record>& records, double duration_s, const std::string& dir,
                 const std::string& title, std::string& error);

}  // namespace pd_proxy::bench
