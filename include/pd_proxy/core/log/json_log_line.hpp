// --log-format json: one JSON object per log line (docs/configuration.md, "Logs").
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace pd_proxy {

/// What one log line says.
struct log_record {
  std::string_view ts;       // "2026-12-02T02:06:53.123Z" (UTC, milliseconds)
  std::string_view level;    // "info", "warning", ...
  std::string_view msg;      // the message as logged; invalid UTF-8 is replaced with U+FFFD
  std::uint64_t thread = 0;  // the logging thread's id
  std::string_view logger;   // the logger's name; left out when empty
};

/// `{"ts":...,"level":...,"msg":...,"thread":N[,"logger":...]}` followed by "\n": always one line (line
/// breaks in the message are escaped), always valid JSON.
std::string json_log_line(const log_record& record);

/// The ISO 8601 UTC form of a time in milliseconds since the Unix epoch: "2026-12-02T02:06:53.123Z".
std::string iso8601_utc_millis(std::int64_t millis_since_epoch);

}  // namespace pd_proxy
