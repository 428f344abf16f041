#include "pd_proxy/core/backends/pool_expansion.hpp"

#include <algorithm>
#include <numeric>
#include <string_view>
#include <tuple>
#include <utility>

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

// The positions (first, second) of two equal backends in `list`, the second as early as possible.
std::optional<std::pair<std::size_t, std::size_t>> first_repeated(const std::vector<backend_address>& list) {
  std::vector<std::size_t> order(list.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  const auto key = [&list](std::size_t i) { return std::tie(list[i].host, list[i].port); };
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return key(a) < key(b); });
  std::optional<std::pair<std::size_t, std::size_t>> found;
  for (std::size_t k = 1; k < order.size(); ++k) {
    if (key(order[k - 1]) != key(order[k])) continue;
    if (!found || order[k] < found->second) found.emplace(order[k - 1], order[k]);
  }
  return found;
}

}  // namespace

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
  std::vector<std::size_t> source;  // per expanded entry: the index of its host in flags.hosts
  hosts.reserve(host_total);
  source.reserve(host_total);
  for (std::size_t i = 0; i < host_names.size(); ++i) {
    const long long n = flags.hosts_num ? (*flags.hosts_num)[i] : 1;
    hosts.insert(hosts.end(), static_cast<std::size_t>(n), host_names[i]);
    source.insert(source.end(), static_cast<std::size_t>(n), i);
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
  if (const auto twice = first_repeated(out.backends)) {
    const auto& [a, b] = *twice;
    const std::string& first = flags.hosts[source[a]];
    const std::string& second = flags.hosts[source[b]];
    std::string why = first == second ? "" : " ('" + first + "' and '" + second + "' are one address)";
    return fail(flag(prefix, "hosts") + " and " + flag(prefix, "ports") + " name instance " +
                out.backends[a].authority() + " twice" + why + "; list each instance once");
  }
  return out;
}

}  // namespace pd_proxy
