#include "pd_proxy/core/observe/engine_metrics.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <system_error>

namespace pd_proxy {
namespace {

// The series read, in the order of series_names.
enum class series : std::uint8_t {
  running,
  waiting,
  kv_cache_usage,
  gpu_cache_usage,  // vLLM before 0.9 (deprecated since, still exported by some versions next to the new one)
  prefix_cache_hits,
  prefix_cache_queries,
  gpu_prefix_cache_hits,  // vLLM before 0.9
  gpu_prefix_cache_queries,
};
constexpr std::array<std::string_view, 8> series_names{
    "vllm:num_requests_running",        "vllm:num_requests_waiting",
    "vllm:kv_cache_usage_perc",         "vllm:gpu_cache_usage_perc",
    "vllm:prefix_cache_hits_total",     "vllm:prefix_cache_queries_total",
    "vllm:gpu_prefix_cache_hits_total", "vllm:gpu_prefix_cache_queries_total",
};
constexpr std::string_view series_prefix = "vllm:";

struct accumulator {
  double sum = 0;
  std::size_t samples = 0;

  void add(double value) {
    sum = std::min(sum + value, std::numeric_limits<double>::max());  // +Inf only by overflow: saturated
    ++samples;
  }
  double mean() const { return samples == 0 ? 0 : sum / static_cast<double>(samples); }
};

constexpr bool is_blank(char c) {
  return c == ' ' || c == '\t';
}

constexpr bool is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == ':';
}

std::string_view skip_blanks(std::string_view s) {
  while (!s.empty() && is_blank(s.front())) s.remove_prefix(1);
  return s;
}

std::size_t name_length(std::string_view s) {
  std::size_t n = 0;
  while (n < s.size() && is_name_char(s[n])) ++n;
  return n;
}

// `s` starts after a sample's '{': what follows its '}', or nullopt when the label set is malformed.
std::optional<std::string_view> skip_labels(std::string_view s) {
  s = skip_blanks(s);
  for (;;) {
    if (s.empty()) return std::nullopt;
    if (s.front() == '}') return s.substr(1);  // also after a trailing comma
    const std::size_t n = name_length(s);
    if (n == 0) return std::nullopt;
    s = skip_blanks(s.substr(n));
    if (s.empty() || s.front() != '=') return std::nullopt;
    s = skip_blanks(s.substr(1));
    if (s.empty() || s.front() != '"') return std::nullopt;
    std::size_t i = 1;
    while (i < s.size() && s[i] != '"') i += s[i] == '\\' ? 2 : 1;  // an escape takes the next character
    if (i >= s.size()) return std::nullopt;                         // unterminated
    s = skip_blanks(s.substr(i + 1));
    if (s.empty()) return std::nullopt;
    if (s.front() == ',') {
      s = skip_blanks(s.substr(1));
    } else if (s.front() != '}') {
      return std::nullopt;
    }
  }
}

// A sample's value token: the number, NaN for a value that is out of double's range, or nullopt when the
// token is not a number.
std::optional<double> parse_value(std::string_view token) {
  if (!token.empty() && token.front() == '+') {
    token.remove_prefix(1);  // from_chars takes a '-' only
    if (!token.empty() && (token.front() == '-' || token.front() == '+')) return std::nullopt;
  }
  if (token.empty()) return std::nullopt;
  double value = 0;
  const char* end = token.data() + token.size();
  const auto [stop, ec] = std::from_chars(token.data(), end, value);
  if (stop != end) return std::nullopt;
  if (ec == std::errc::result_out_of_range) return std::numeric_limits<double>::quiet_NaN();
  if (ec != std::errc{}) return std::nullopt;
  return value;
}

// The series a sample name is, or nullopt for any other.
std::optional<series> series_of(std::string_view name) {
  for (std::size_t i = 0; i < series_names.size(); ++i) {
    if (series_names[i] == name) return static_cast<series>(i);
  }
  return std::nullopt;
}

}  // namespace

std::optional<engine_load> parse_engine_metrics(std::string_view text) {
  std::array<accumulator, series_names.size()> found{};
  while (!text.empty()) {
    const std::size_t newline = text.find('\n');
    std::string_view line = text.substr(0, newline);
    text.remove_prefix(newline == std::string_view::npos ? text.size() : newline + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    line = skip_blanks(line);
    if (!line.starts_with(series_prefix)) continue;  // a comment, a blank line or another exporter's series
    const std::size_t n = name_length(line);
    const auto which = series_of(line.substr(0, n));
    if (!which) continue;
    line.remove_prefix(n);
    if (!line.empty() && line.front() == '{') {
      const auto rest = skip_labels(line.substr(1));
      if (!rest) return std::nullopt;
      line = *rest;
    } else if (line.empty() || !is_blank(line.front())) {
      return std::nullopt;  // the name must end at a label set or a blank
    }
    line = skip_blanks(line);
    std::size_t token = 0;
    while (token < line.size() && !is_blank(line[token])) ++token;
    const auto value = parse_value(line.substr(0, token));
    if (!value) return std::nullopt;
    if (!std::isfinite(*value) || *value < 0) continue;  // not set yet, or nonsense: no sample
    const bool fraction = *which == series::kv_cache_usage || *which == series::gpu_cache_usage;
    found[static_cast<std::size_t>(*which)].add(fraction ? std::min(*value, 1.0) : *value);
  }

  const auto& at = [&found](series s) -> const accumulator& { return found[static_cast<std::size_t>(s)]; };
  const accumulator& usage =
      at(series::kv_cache_usage).samples > 0 ? at(series::kv_cache_usage) : at(series::gpu_cache_usage);
  if (at(series::running).samples == 0 && at(series::waiting).samples == 0 && usage.samples == 0)
    return std::nullopt;
  const bool current_prefix =
      at(series::prefix_cache_hits).samples > 0 || at(series::prefix_cache_queries).samples > 0;
  engine_load load;
  load.running = at(series::running).sum;
  load.waiting = at(series::waiting).sum;
  load.kv_cache_usage = usage.mean();
  load.prefix_cache_hits = at(current_prefix ? series::prefix_cache_hits : series::gpu_prefix_cache_hits).sum;
  load.prefix_cache_queries =
      at(current_prefix ? series::prefix_cache_queries : series::gpu_prefix_cache_queries).sum;
  load.known = true;
  return load;
}

}  // namespace pd_proxy
