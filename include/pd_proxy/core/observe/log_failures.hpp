// When writing a log fails: which lines a cut-off write took whole (the rest is taken back or lost), and
// when to say so (the first failure at once, then at most once per interval).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace pd_proxy {

/// A write of newline-terminated lines that stopped after `written` bytes.
struct line_cut {
  std::size_t whole_bytes = 0;    // the bytes of the lines written whole
  std::size_t whole_lines = 0;    // those lines
  std::size_t partial_bytes = 0;  // the start of the next line, written: to take back
};

/// Where a write of `text` (whole lines) that stopped after `written` bytes left off.
line_cut cut_after(std::string_view text, std::size_t written);

/// Rate-limits the report of a recurring failure: the first occurrence is reported at once, later ones at
/// most once per `interval`, each report with what was lost since the previous one. The caller passes the
/// time (pure: tests use a manual clock).
class failure_reports {
 public:
  using clock = std::chrono::steady_clock;

  explicit failure_reports(clock::duration interval = std::chrono::minutes(1)) : interval_(interval) {}

  /// A failure at `now` that lost `lost` lines. Returns the lines lost since the last report (this one's
  /// included) when this failure is to be reported now; else nothing (they are carried to the next report).
  std::optional<std::uint64_t> failed(clock::time_point now, std::uint64_t lost);
  /// A write succeeded: true when it follows a failure (say once that writing works again). The next
  /// failure is reported at once only if the interval has passed since the last report.
  bool succeeded();

 private:
  const clock::duration interval_;
  std::optional<clock::time_point> last_report_;  // none yet
  std::uint64_t unreported_ = 0;                  // lines lost since the last report
  bool failing_ = false;                          // the last write failed
};

}  // namespace pd_proxy
