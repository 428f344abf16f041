#include "pd_proxy/core/backends/bootstrap_ports.hpp"

namespace pd_proxy {

std::string apply_bootstrap_ports(const std::vector<long long>& ports, std::size_t hosts,
                                  const std::optional<std::vector<long long>>& ports_inc,
                                  std::vector<backend_address>& pool) {
  constexpr long long max_port = 65535;
  const std::string flag = "--prefiller-bootstrap-ports";
  if (ports.size() != hosts) {
    return flag + " has " + std::to_string(ports.size()) + " value(s) but --prefiller-hosts has " +
           std::to_string(hosts) + "; give one bootstrap port per prefiller host";
  }
  std::vector<std::uint16_t> expanded;
  expanded.reserve(pool.size());
  for (std::size_t i = 0; i < ports.size(); ++i) {
    const long long base = ports[i];
    if (base < 1 || base > max_port) {
      return flag + " value " + std::to_string(base) + " must be between 1 and 65535";
    }
    // expand_pool checked the increments (1..65535, as many as the ports).
    const long long n = ports_inc && i < ports_inc->size() ? (*ports_inc)[i] : 1;
    if (n > max_port + 1 - base) {
      return flag + " value " + std::to_string(base) + " with --prefiller-ports-inc " + std::to_string(n) +
             " goes past 65535";
    }
    for (long long k = 0; k < n && expanded.size() < pool.size(); ++k) {
      expanded.push_back(static_cast<std::uint16_t>(base + k));
    }
  }
  if (expanded.size() != pool.size()) {
    return flag + " expands to " + std::to_string(expanded.size()) + " port(s) but the prefiller pool has " +
           std::to_string(pool.size()) + " instance(s)";
  }
  for (std::size_t i = 0; i < pool.size(); ++i) pool[i].bootstrap_port = expanded[i];
  return {};
}

}  // namespace pd_proxy
