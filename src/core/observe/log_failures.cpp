#include "pd_proxy/core/observe/log_failures.hpp"

#include <algorithm>

namespace pd_proxy {

line_cut cut_after(std::string_view text, std::size_t written) {
  line_cut cut;
  const std::string_view sent = text.substr(0, std::min(written, text.size()));
  const auto last_newline = sent.rfind('\n');
  cut.whole_bytes = last_newline == std::string_view::npos ? 0 : last_newline + 1;
  cut.whole_lines = static_cast<std::size_t>(std::count(sent.begin(), sent.end(), '\n'));
  cut.partial_bytes = sent.size() - cut.whole_bytes;
  return cut;
}

std::optional<std::uint64_t> failure_reports::failed(clock::time_point now, std::uint64_t lost) {
  failing_ = true;
  unreported_ += lost;
  if (last_report_ && now - *last_report_ < interval_) return std::nullopt;
  last_report_ = now;
  const std::uint64_t since = unreported_;
  unreported_ = 0;
  return since;
}

bool failure_reports::succeeded() {
  const bool recovered = failing_;
  failing_ = false;
  return recovered;
}

}  // namespace pd_proxy
