// Summary statistics for benchmark samples.
#pragma once

#include <vector>

namespace pd_proxy::bench {

struct distribution {
  double mean = 0, median = 0, std = 0, p90 = 0, p99 = 0, min = 0, max = 0;
  std::size_t count = 0;
};

/// Linear-interpolated percentile (0..100) of sorted values, as numpy's default; 0 for no values.
double percentile(const std::vector<double>& sorted, double p);

/// Mean, median, population standard deviation, p90, p99, min, max of `values` (all 0 when empty).
distribution summarize(std::vector<double> values);

}  // namespace pd_proxy::bench
