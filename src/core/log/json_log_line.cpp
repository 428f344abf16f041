#include "pd_proxy/core/log/json_log_line.hpp"

#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>

namespace pd_proxy {

std::string json_log_line(const log_record& record) {
  nlohmann::ordered_json line = {
      {"ts", record.ts}, {"level", record.level}, {"msg", record.msg}, {"thread", record.thread}};
  if (!record.logger.empty()) line["logger"] = record.logger;
  std::string out = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  out.push_back('\n');
  return out;
}

std::string iso8601_utc_millis(std::int64_t millis_since_epoch) {
  using namespace std::chrono;
  const sys_time<milliseconds> t{milliseconds{millis_since_epoch}};
  const auto day = floor<days>(t);
  const year_month_day ymd{day};
  const hh_mm_ss<milliseconds> time{t - day};
  char buf[40];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d.%03dZ", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                static_cast<int>(time.hours().count()), static_cast<int>(time.minutes().count()),
                static_cast<int>(time.seconds().count()), static_cast<int>(time.subseconds().count()));
  return buf;
}

}  // namespace pd_proxy
