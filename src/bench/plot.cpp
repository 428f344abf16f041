#include "pd_proxy/bench/plot.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace pd_proxy::bench {

namespace {

std::size_t second_of(double seconds_since_start, std::size_t last) {
  return std::min(last, static_cast<std::size_t>(std::max(0.0, seconds_since_start)));
}

}  // namespace

std::vector<double> completions_per_second(const std::vector<request_record>& records, std::size_t seconds) {
  std::vector<double> done(seconds + 1);
  for (const auto& r : records) {
    if (r.ok()) done[second_of(r.start_s + r.e2e_ms / 1000, seconds)] += 1;
  }
  return done;
}

std::vector<double> output_tokens_per_second(const std::vector<request_record>& records,
                                             std::size_t seconds) {
  std::vector<double> tokens(seconds + 1);
  for (const auto& r : records) {
    if (!r.ok() || r.output_tokens <= 0) continue;
    const double per_event = r.output_tokens / static_cast<double>(r.itl_ms.size() + 1);
    double at_ms = r.ttft_ms;  // the first event (a non-streamed answer's ttft is its end)
    tokens[second_of(r.start_s + at_ms / 1000, seconds)] += per_event;
    for (const double gap : r.itl_ms) {
      at_ms += gap;
      tokens[second_of(r.start_s + at_ms / 1000, seconds)] += per_event;
    }
  }
  return tokens;
}

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
    const auto done = completions_per_second(records, seconds);
    const auto tokens = output_tokens_per_second(records, seconds);
    std::ofstream out(dir + "/throughput.dat");
    out << "# second requests_per_s output_tokens_per_s (tokens counted in the second they arrived)\n";
    for (std::size_t s = 0; s <= seconds; ++s) out << fmt::format("{} {} {:.1f}\n", s, done[s], tokens[s]);
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
