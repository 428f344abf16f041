// Target: parse_engine_metrics on any bytes (an engine's /metrics body).
//
// Input: the body. Aborts when:
// - a load comes back with a value that is not finite, is negative, or (the KV-cache usage) above 1, or not
//   known;
// - the result depends on what it must not: a comment line before the text, a comment line and a series of
//   another exporter after it, or (for a text without CR) LF line ends turned into CRLF.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

#include "pd_proxy/core/observe/engine_metrics.hpp"

namespace {

using pd_proxy::engine_load;

void check(bool condition, const char* what) {
  if (!condition) {
    std::fprintf(stderr, "engine_metrics_fuzzer: %s\n", what);
    std::abort();
  }
}

bool same(const std::optional<engine_load>& a, const std::optional<engine_load>& b) {
  if (a.has_value() != b.has_value()) return false;
  if (!a) return true;
  return a->running == b->running && a->waiting == b->waiting && a->kv_cache_usage == b->kv_cache_usage &&
         a->prefix_cache_hits == b->prefix_cache_hits && a->prefix_cache_queries == b->prefix_cache_queries &&
         a->known == b->known;
}

bool sane(double value) {
  return std::isfinite(value) && value >= 0;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto load = pd_proxy::parse_engine_metrics(text);
  if (load) {
    check(load->known, "a load read is known");
    check(sane(load->running) && sane(load->waiting) && sane(load->prefix_cache_hits) &&
              sane(load->prefix_cache_queries),
          "counts are finite and not negative");
    check(sane(load->kv_cache_usage) && load->kv_cache_usage <= 1, "the usage is a fraction");
  }

  const std::string before = "# HELP vllm:num_requests_running Number of requests.\n" + std::string(text);
  check(same(pd_proxy::parse_engine_metrics(before), load), "a comment line before the text changes nothing");
  const std::string after = std::string(text) + "\n# TYPE up gauge\nup{job=\"x\"} 1\n";
  check(same(pd_proxy::parse_engine_metrics(after), load), "lines of other series after it change nothing");
  if (text.find('\r') == std::string_view::npos) {
    std::string crlf;
    crlf.reserve(text.size() * 2);
    for (const char c : text) {
      if (c == '\n') crlf.push_back('\r');
      crlf.push_back(c);
    }
    check(same(pd_proxy::parse_engine_metrics(crlf), load), "CRLF line ends read as LF ones");
  }
  return 0;
}
