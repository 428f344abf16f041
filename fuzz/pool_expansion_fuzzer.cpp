// Target: pool expansion (expand_pool, parse_host), the CLI's host x port-increment flags -> backends.
//
// Input, as text so that seeds read like command lines:
//   line 1: --prefiller-hosts values, separated by spaces
//   line 2: --prefiller-hosts-num values, or "-" for the flag not given
//   line 3: --prefiller-ports values
//   line 4: --prefiller-ports-inc values, or "-"
//   the rest: one more host text (any bytes, spaces and newlines included), for parse_host alone
// A number that does not parse is 0, one out of range is LLONG_MIN/LLONG_MAX (so every long long occurs).
// Aborts when parse_host accepts a host it documents as refused or is not idempotent, or when expand_pool
// accepts inconsistent flags, or its pool differs from the reference expansion (host i repeated hosts_num[i]
// times, paired by position with ports[i] .. ports[i]+ports_inc[i]-1), or an error does not name its flag.
#include <charconv>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pd_proxy/core/backends/pool_expansion.hpp"

namespace {

using pd_proxy::pool_flags;

void check(bool condition, const char* what) {
  if (!condition) {
    std::fprintf(stderr, "pool_expansion_fuzzer: %s\n", what);
    std::abort();
  }
}

// The next line of `text` (without its '\n'), removed from it.
std::string_view take_line(std::string_view& text) {
  const std::size_t end = text.find('\n');
  const std::string_view line = text.substr(0, end);
  text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
  return line;
}

std::vector<std::string_view> words(std::string_view line) {
  std::vector<std::string_view> out;
  while (!line.empty()) {
    const std::size_t end = line.find(' ');
    if (end != 0) out.push_back(line.substr(0, end));
    if (end == std::string_view::npos) break;
    line.remove_prefix(end + 1);
  }
  return out;
}

long long number(std::string_view word) {
  long long value = 0;
  const auto [end, ec] = std::from_chars(word.data(), word.data() + word.size(), value);
  (void)end;
  if (ec == std::errc::result_out_of_range) return word.front() == '-' ? LLONG_MIN : LLONG_MAX;
  return ec == std::errc() ? value : 0;
}

std::optional<std::vector<long long>> numbers(std::string_view line, bool optional) {
  if (optional && line == "-") return std::nullopt;
  std::vector<long long> out;
  for (const auto w : words(line)) out.push_back(number(w));
  return out;
}

void check_host(std::string_view text) {
  const auto host = pd_proxy::parse_host(text);
  check(host.ok() != host.host.empty(), "a host or an error");
  if (!host.ok()) return;
  for (const char c : host.host)
    check(static_cast<unsigned char>(c) > 0x20 && c != 0x7f, "no space or control");
  check(host.host.front() != '-' && host.host.find_first_of("[]") == std::string::npos,
        "no '-', no brackets");
  const auto again = pd_proxy::parse_host(host.host);
  check(again.ok() && again.host == host.host, "parse_host is idempotent");
  if (text.front() == '[') check(pd_proxy::is_ipv6_literal(host.host), "brackets hold an IPv6 literal");
  check(!host.host.empty() && !pd_proxy::backend_address{host.host, 1}.authority().empty(), "an authority");
}

// The reference's expansion of flags that expand_pool accepted.
std::vector<pd_proxy::backend_address> reference(const pool_flags& f) {
  std::vector<std::string> hosts;
  for (std::size_t i = 0; i < f.hosts.size(); ++i) {
    for (long long k = 0; k < (f.hosts_num ? (*f.hosts_num)[i] : 1); ++k) {
      hosts.push_back(pd_proxy::parse_host(f.hosts[i]).host);
    }
  }
  std::vector<long long> ports;
  for (std::size_t i = 0; i < f.ports.size(); ++i) {
    for (long long k = 0; k < (f.ports_inc ? (*f.ports_inc)[i] : 1); ++k) ports.push_back(f.ports[i] + k);
  }
  check(hosts.size() == ports.size(), "accepted lists expand to the same length");
  std::vector<pd_proxy::backend_address> out;
  for (std::size_t i = 0; i < hosts.size(); ++i) {
    check(ports[i] >= 1 && ports[i] <= 65535, "accepted ports are in range");
    out.push_back({hosts[i], static_cast<std::uint16_t>(ports[i])});
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  pool_flags flags;
  for (const auto w : words(take_line(text))) flags.hosts.emplace_back(w);
  flags.hosts_num = numbers(take_line(text), true);
  flags.ports = *numbers(take_line(text), false);
  flags.ports_inc = numbers(take_line(text), true);
  if (!text.empty()) check_host(text);
  for (const auto& h : flags.hosts) check_host(h);

  const auto pool = pd_proxy::expand_pool(flags, "prefiller");
  check(pool.ok() == !pool.backends.empty(), "backends or an error");
  if (!pool.ok()) {
    check(pool.error.find("--prefiller-") != std::string::npos, "an error names its flag");
    return 0;
  }
  check(pool.backends.size() <= pd_proxy::max_pool_size, "a pool within the bound");
  check(pool.backends == reference(flags), "the pool is the reference's expansion");
  return 0;
}
