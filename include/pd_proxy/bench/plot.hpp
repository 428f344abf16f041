// pd-bench charts: data files and a gnuplot script, rendered to PNG when gnuplot is installed.
#pragma once

#include <string>
#include <vector>

#include "pd_proxy/bench/report.hpp"

namespace pd_proxy::bench {

/// Writes `dir`/latency.dat (TTFT and E2E CDFs), `dir`/throughput.dat (completions and tokens per second),
/// `dir`/plots.gp, and runs gnuplot on it to draw `dir`/latency_cdf.png and `dir`/throughput.png. Returns
/// false with `error` set when the folder cannot be written or gnuplot is missing or fails (the data and
/// script are still there).
bool write_plots(const std::vector<request_record>& records, double duration_s, const std::string& dir,
                 const std::string& title, std::string& error);

}  // namespace pd_proxy::bench
