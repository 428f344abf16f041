#include "pd_proxy/core/backends/pool_expansion.hpp"

#include <arpa/inet.h>

#include <string_view>

namespace pd_proxy {
namespace {

pool_expansion fail(std::string message) {
  return pool_expansion{{}, std::move(message)};
}

std::string flag(const std::string& prefix, std::string_view suffix) {
  return "--" + prefix + "-" + std::string(suffix);
}

std::string count_mismatch(const std::string& prefix, std::string_view a, std::size_t na, std::string_view b,
                           std::size_t nb) {
  return flag(prefix, a) + " has " + std::to_string(na) + " value(s) but " + flag(prefix, b) + " has " +
         std::to_string(nb) + "; they must have the same number of values";
}

constexpr long long max_port = 65535;
constexpr long long max_count = 65535;

// True for a character no host name or address contains: whitespace and other control characters.
bool is_space_or_control(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u <= 0x20 || u == 0x7f;
}

// True when `text` is an IPv6 address with an optional zone ("fe80::1%eth0"), without brackets.
bool is_ipv6_address(std::string_view text) {
  std::string_view address = text;
  if (const auto percent = text.find('%'); percent != std::string_view::npos) {
    const std::string_view zone = text.substr(percent + 1);
    if (zone.empty()) return false;
    for (const char c : zone) {
      const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '.' || c == '_' || c == '-';
      if (!ok) return false;
    }
    address = text.substr(0, percent);
  }
  if (address.empty() || address.size() > 45) return false;  // INET6_ADDRSTRLEN - 1
  const std::string copy(address);                           // inet_pton needs a terminating NUL
  in6_addr parsed{};
  return ::inet_pton(AF_INET6, copy.c_str(), &parsed) == 1;
}

// Why host `text` is refused by parse_host; empty when it is accepted. Checks the text as given.
std::string host_problem(std::string_view text) {
  if (text.empty()) return "is empty";
  for (const char c : text) {
    if (is_space_or_control(c)) return "contains whitespace or a control character";
  }
  if (text.front() == '-') return "starts with '-', which no host does (a value missing before a flag?)";
  const bool opens = text.front() == '[';
  const auto close = text.find(']');
  if (opens) {
    if (close == std::string_view::npos) return "has '[' without a closing ']'";
    if (close != text.size() - 1) {
      return "has text after ']' (a port has its own flag; it is not part of the host)";
    }
    const std::string_view inner = text.substr(1, text.size() - 2);
    if (inner.empty()) return "has nothing between '[' and ']'";
    if (!is_ipv6_address(inner)) {
      return "has brackets around something that is not an IPv6 address (brackets are only for IPv6 "
             "literals such as [::1])";
    }
    return {};
  }
  if (close != std::string_view::npos) return "has ']' without an opening '['";
  if (text.find('[') != std::string_view::npos) return "has '[' inside the host";
  if (text.find(':') != std::string_view::npos && !is_ipv6_address(text)) {
    return "contains ':' but is not an IPv6 address (a port has its own flag; it is not part of the host)";
  }
  return {};
}

}  // namespace

host_value parse_host(std::string_view text) {
  if (auto problem = host_problem(text); !problem.empty()) return host_value{{}, std::move(problem)};
  if (text.front() == '[') text = text.substr(1, text.size() - 2);
  return host_value{std::string(text), {}};
}

pool_expansion expand_pool(const pool_flags& flags, const std::string& prefix) {
  if (flags.hosts.empty()) return fail(flag(prefix, "hosts") + " needs at least one host");
  if (flags.ports.empty()) return fail(flag(prefix, "ports") + " needs at least one port");

  std::vector<std::string> host_names;
  host_names.reserve(flags.hosts.size());
  for (const auto& text : flags.hosts) {
    auto host = parse_host(text);
    if (!host.ok()) return fail(flag(prefix, "hosts") + " value '" + text + "' " + host.error);
    host_names.push_back(std::move(host.host));
  }

  if (flags.hosts.size() != flags.ports.size()) {
    return fail(count_mismatch(prefix, "hosts", flags.hosts.size(), "ports", flags.ports.size()));
  }
  if (flags.hosts_num && flags.hosts_num->size() != flags.hosts.size()) {
    return fail(count_mismatch(prefix, "hosts-num", flags.hosts_num->size(), "hosts", flags.hosts.size()));
  }
  if (flags.ports_inc && flags.ports_inc->size() != flags.ports.size()) {
    return fail(count_mismatch(prefix, "ports-inc", flags.ports_inc->size(), "ports", flags.ports.size()));
  }

  // Ranges first, each compared without arithmetic on the unchecked value, so no value can overflow.
  for (std::size_t i = 0; i < flags.hosts.size(); ++i) {
    const long long n = flags.hosts_num ? (*flags.hosts_num)[i] : 1;
    if (n < 1 || n > max_count) {
      return fail(flag(prefix, "hosts-num") + " value " + std::to_string(n) + " must be between 1 and 65535");
    }
  }
  for (std::size_t i = 0; i < flags.ports.size(); ++i) {
    const long long base = flags.ports[i];
    if (base < 1 || base > max_port) {
      return fail(flag(prefix, "ports") + " value " + std::to_string(base) + " must be between 1 and 65535");
    }
    const long long n = flags.ports_inc ? (*flags.ports_inc)[i] : 1;
    if (n < 1 || n > max_count) {
      return fail(flag(prefix, "ports-inc") + " value " + std::to_string(n) + " must be between 1 and 65535");
    }
    if (n > max_port + 1 - base) {  // base + n - 1 > 65535, with base and n already in 1..65535
      return fail(flag(prefix, "ports-inc") + " value " + std::to_string(n) + " takes port " +
                  std::to_string(base) + " past 65535");
    }
  }

  if (flags.hosts_num && flags.ports_inc) {
    for (std::size_t i = 0; i < flags.hosts.size(); ++i) {
      if ((*flags.hosts_num)[i] != (*flags.ports_inc)[i]) {
        return fail(flag(prefix, "hosts-num") + " gives host " + flags.hosts[i] + " " +
                    std::to_string((*flags.hosts_num)[i]) + " instance(s) but " + flag(prefix, "ports-inc") +
                    " gives its port " + std::to_string(flags.ports[i]) + " " +
                    std::to_string((*flags.ports_inc)[i]) +
                    " port(s); they must match or hosts and ports pair up "
                    "with the wrong partners");
      }
    }
  }

  // Sizes before any allocation: each count is at most 65535, so the sums cannot overflow before they pass
  // max_pool_size (which stops the loop).
  std::size_t host_total = 0, port_total = 0;
  for (std::size_t i = 0; i < flags.hosts.size() && host_total <= max_pool_size; ++i) {
    host_total += static_cast<std::size_t>(flags.hosts_num ? (*flags.hosts_num)[i] : 1);
  }
  for (std::size_t i = 0; i < flags.ports.size() && port_total <= max_pool_size; ++i) {
    port_total += static_cast<std::size_t>(flags.ports_inc ? (*flags.ports_inc)[i] : 1);
  }
  if (host_total > max_pool_size || port_total > max_pool_size) {
    return fail(flag(prefix, "hosts") + " and " + flag(prefix, "hosts-num") + " (with " +
                flag(prefix, "ports") + " and " + flag(prefix, "ports-inc") + ") expand to more than 65535 " +
                prefix + "s; a pool holds at most 65535 backends");
  }

  if (host_total != port_total) {
    return fail(flag(prefix, "hosts") + " expands to " + std::to_string(host_total) + " instance(s) (with " +
                flag(prefix, "hosts-num") + ") but " + flag(prefix, "ports") + " expands to " +
                std::to_string(port_total) + " (with " + flag(prefix, "ports-inc") +
                "); the expanded lists are paired by position and must have the same length");
  }

  std::vector<std::string> hosts;
  hosts.reserve(host_total);
  for (std::size_t i = 0; i < host_names.size(); ++i) {
    const long long n = flags.hosts_num ? (*flags.hosts_num)[i] : 1;
    hosts.insert(hosts.end(), static_cast<std::size_t>(n), host_names[i]);
  }
  std::vector<std::uint16_t> ports;
  ports.reserve(port_total);
  for (std::size_t i = 0; i < flags.ports.size(); ++i) {
    const long long n = flags.ports_inc ? (*flags.ports_inc)[i] : 1;
    for (long long k = 0; k < n; ++k) ports.push_back(static_cast<std::uint16_t>(flags.ports[i] + k));
  }

  pool_expansion out;
  out.backends.reserve(hosts.size());
  for (std::size_t i = 0; i < hosts.size(); ++i) out.backends.push_back({std::move(hosts[i]), ports[i]});
  return out;
}

}  // namespace pd_proxy
