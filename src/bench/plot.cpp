#include "pd_proxy/bench/plot.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace pd_proxy::bench {

bool write_plots(const std::vector<request_record>& records, double duration_s, const std::string& dir,
                 const std::string& title, std::string& error) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  std::vector<double> ttft, e2el;
  for (const auto& r : records) {
    if (!r.ok()) continue;
    ttft.push_back(r.ttft_ms);
    e2el.push_back(r.e2e_ms);
  }
  std::sort(ttft.begin(), ttft.end());
  std::sort(e2el.begin(), e2el.end());
  {
    std::ofstream out(dir + "/latency.dat");
    if (!out) {
      error = "cannot write " + dir;
      return false;
    }
    out << "# fraction ttft_ms e2el_ms\n";
    for (std::size_t i = 0; i < ttft.size(); ++i) {
      out << fmt::format("{:.5f} {:.3f} {:.3f}\n",
                         static_cast<double>(i + 1) / static_cast<double>(ttft.size()), ttft[i], e2el[i]);
    }
  }
  {
    const auto seconds = static_cast<std::size_t>(std::ceil(std::max(duration_s, 1.0)));
    std::vector<double> done(seconds + 1), tokens(seconds + 1);
    for (const auto& r : records) {
      if (!r.ok()) continue;
      const auto at = std::min(seconds, static_cast<std::size_t>((r.start_s * 1000 + r.e2e_ms) / 1000));
      done[at] += 1;
      tokens[at] += r.output_tokens;
    }
    std::ofstream out(dir + "/throughput.dat");
    out << "# second requests_per_s output_tokens_per_s\n";
    for (std::size_t s = 0; s <= seconds; ++s) out << fmt::format("{} {} {}\n", s, done[s], tokens[s]);
  }
  {
    std::ofstream out(dir + "/plots.gp");
    out << "set terminal pngcairo size 900,500 noenhanced\n"
        << "set grid\nset key bottom right\n"
        << "set output '" << dir << "/latency_cdf.png'\n"
        << "set title '" << title << ": latency CDF'\nset xlabel 'ms'\nset ylabel 'fraction of requests'\n"
        << "set logscale x\n"
        << "plot '" << dir
        << "/latency.dat' using 2:1 with lines lw 2 title 'TTFT', '' using 3:1 with lines lw 2 "
        << "title 'end to end'\n"
        << "unset logscale x\nset key top right\n"
        << "set output '" << dir << "/throughput.png'\n"
        << "set title '" << title << ": throughput over time'\nset xlabel 'second'\nset ylabel 'requests/s'\n"
        << "set y2label 'output tokens/s'\nset ytics nomirror\nset y2tics\n"
        << "plot '" << dir
        << "/throughput.dat' using 1:2 with steps lw 2 title 'requests/s', '' using 1:3 axes x1y2 "
        << "with steps lw 2 title 'output tokens/s'\n";
  }
  const std::string command = "gnuplot '" + dir + "/plots.gp' 2>&1";
  if (std::system("command -v gnuplot > /dev/null 2>&1") != 0) {
    error = "gnuplot is not installed (apt-get install gnuplot-nox); data and script are in " + dir;
    return false;
  }
  if (std::system(command.c_str()) != 0) {
    error = "gnuplot failed on " + dir + "/plots.gp";
    return false;
  }
  return true;
}

}  // namespace pd_proxy::bench
