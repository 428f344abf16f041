#include "pd_proxy/core/pools/dns_records.hpp"

#include <algorithm>

#include "pd_proxy/core/pools/instance_request.hpp"

namespace pd_proxy {
namespace {

bool contains(const std::vector<backend_address>& list, const backend_address& a) {
  return std::find(list.begin(), list.end(), a) != list.end();
}

// A resolution that replaces the last good set: it succeeded and has at least one record.
bool usable(const std::optional<std::vector<backend_address>>& resolved) {
  return resolved.has_value() && !resolved->empty();
}

}  // namespace

dns_target_value parse_dns_target(std::string_view flag, std::string_view text, backend_role role) {
  auto parsed = parse_instance_address(text);
  if (!parsed.ok()) {
    return dns_target_value{{}, std::string(flag) + ": " + parsed.error + " (expected NAME:PORT)"};
  }
  return dns_target_value{{role, std::move(parsed.address.host), parsed.address.port}, {}};
}

lookup_result classify_lookup(const std::optional<std::vector<backend_address>>& resolved) {
  if (!resolved) return lookup_result::failed;
  return resolved->empty() ? lookup_result::no_record : lookup_result::records;
}

std::optional<std::vector<backend_address>> records_of(
    const std::optional<std::vector<std::string>>& addresses, std::uint16_t port) {
  if (!addresses) return std::nullopt;
  std::vector<backend_address> out;
  for (const auto& text : *addresses) {
    auto host = parse_host(text);
    if (host.ok()) out.push_back(backend_address{std::move(host.host), port});
  }
  return out;
}

dns_change diff_records(const std::vector<backend_address>& previous,
                        const std::optional<std::vector<backend_address>>& resolved) {
  dns_change out;
  if (!usable(resolved)) return out;
  for (const auto& a : *resolved) {
    if (!contains(previous, a) && !contains(out.added, a)) out.added.push_back(a);
  }
  for (const auto& a : previous) {
    if (!contains(*resolved, a) && !contains(out.removed, a)) out.removed.push_back(a);
  }
  return out;
}

std::vector<backend_address> next_records(const std::vector<backend_address>& previous,
                                          const std::optional<std::vector<backend_address>>& resolved) {
  if (!usable(resolved)) return previous;
  std::vector<backend_address> out;
  for (const auto& a : *resolved) {
    if (!contains(out, a)) out.push_back(a);
  }
  return out;
}

}  // namespace pd_proxy
