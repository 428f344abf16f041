#include "pd_proxy/core/pool_expansion.hpp"

#include <string_view>

namespace pd_proxy {
namespace {

pool_expansion fail(std::string message) { return pool_expansion{{}, std::move(message)}; }

std::string flag(const std::string& prefix, std::string_view suffix) {
  return "--" + prefix + "-" + std::string(suffix);
}

std::string count_mismatch(const std::string& prefix, std::string_view a, std::size_t na, std::string_view b,
                           std::size_t nb) {
  return flag(prefix, a) + " has " + std::to_string(na) + " value(s) but " + flag(prefix, b) + " has " +
         std::to_string(nb) + "; they must have the same number of values";
}

}  // namespace

pool_expansion expand_pool(const pool_flags& flags, const std::string& prefix) {
  if (flags.hosts.empty()) return fail(flag(prefix, "hosts") + " needs at least one host");
  if (flags.ports.empty()) return fail(flag(prefix, "ports") + " needs at least one port");
  for (const auto& host : flags.hosts) {
    if (host.empty()) return fail(flag(prefix, "hosts") + " contains an empty host name");
    if (host.front() == '[' || host.back() == ']') {
      return fail(flag(prefix, "hosts") + " value '" + host + "': give IPv6 literals without brackets");
    }
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

  if (flags.hosts_num && flags.ports_inc) {
    for (std::size_t i = 0; i < flags.hosts.size(); ++i) {
      if ((*flags.hosts_num)[i] != (*flags.ports_inc)[i]) {
        return fail(flag(prefix, "hosts-num") + " gives host " + flags.hosts[i] + " " +
                    std::to_string((*flags.hosts_num)[i]) + " instance(s) but " + flag(prefix, "ports-inc") +
                    " gives its port " + std::to_string(flags.ports[i]) + " " +
                    std::to_string((*flags.ports_inc)[i]) + " port(s); they must match or hosts and ports pair up "
                    "with the wrong partners");
      }
    }
  }

  std::vector<std::string> hosts;
  for (std::size_t i = 0; i < flags.hosts.size(); ++i) {
    const long long n = flags.hosts_num ? (*flags.hosts_num)[i] : 1;
    if (n < 1 || n > 65535) {
      return fail(flag(prefix, "hosts-num") + " value " + std::to_string(n) + " must be between 1 and 65535");
    }
    hosts.insert(hosts.end(), static_cast<std::size_t>(n), flags.hosts[i]);
  }

  std::vector<std::uint16_t> ports;
  for (std::size_t i = 0; i < flags.ports.size(); ++i) {
    const long long base = flags.ports[i];
    if (base < 1 || base > 65535) {
      return fail(flag(prefix, "ports") + " value " + std::to_string(base) + " must be between 1 and 65535");
    }
    const long long n = flags.ports_inc ? (*flags.ports_inc)[i] : 1;
    if (n < 1) {
      return fail(flag(prefix, "ports-inc") + " value " + std::to_string(n) + " must be at least 1");
    }
    if (base + n - 1 > 65535) {
      return fail(flag(prefix, "ports-inc") + " value " + std::to_string(n) + " takes port " +
                  std::to_string(base) + " past 65535");
    }
    for (long long k = 0; k < n; ++k) ports.push_back(static_cast<std::uint16_t>(base + k));
  }

  if (hosts.size() != ports.size()) {
    return fail(flag(prefix, "hosts") + " expands to " + std::to_string(hosts.size()) + " instance(s) (with " +
                flag(prefix, "hosts-num") + ") but " + flag(prefix, "ports") + " expands to " +
                std::to_string(ports.size()) + " (with " + flag(prefix, "ports-inc") +
                "); the expanded lists are paired by position and must have the same length");
  }

  pool_expansion out;
  out.backends.reserve(hosts.size());
  for (std::size_t i = 0; i < hosts.size(); ++i) out.backends.push_back({std::move(hosts[i]), ports[i]});
  return out;
}

}  // namespace pd_proxy
