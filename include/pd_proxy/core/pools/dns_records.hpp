// DNS discovery's decisions: a `--prefiller-dns NAME:PORT` target, and what a new resolution changes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pd_proxy/core/backends/backend_address.hpp"

namespace pd_proxy {

/// A name resolved every --dns-refresh-interval; each of its A/AAAA records becomes a backend of `role`.
struct dns_target {
  backend_role role = backend_role::prefill;
  std::string name;        // a host name (an IP literal works too: one record)
  std::uint16_t port = 0;  // every record's backend listens here

  bool operator==(const dns_target&) const = default;
};

/// Parses a flag value "NAME:PORT" (an IPv6 literal in brackets). The error names `flag`.
struct dns_target_value {
  dns_target target;
  std::string error;  // empty when accepted
  bool ok() const { return error.empty(); }
};
dns_target_value parse_dns_target(std::string_view flag, std::string_view text, backend_role role);

/// What one lookup of a target gave; discovery logs when this changes, not at every lookup.
enum class lookup_result : std::uint8_t {
  records,    // at least one record
  no_record,  // the lookup succeeded without a record (NXDOMAIN, a name with no A/AAAA record)
  failed,     // the lookup failed or timed out
};
lookup_result classify_lookup(const std::optional<std::vector<backend_address>>& resolved);

/// The records of a lookup as backends of `port`: each address checked and made canonical (parse_host), in
/// order, those parse_host refuses left out. nullopt stays nullopt.
std::optional<std::vector<backend_address>> records_of(
    const std::optional<std::vector<std::string>>& addresses, std::uint16_t port);

/// What a resolution changes: the records that appeared (to add) and those that disappeared (to drain).
struct dns_change {
  std::vector<backend_address> added;
  std::vector<backend_address> removed;
};

/// The difference between the last good resolution and a new one. `resolved` nullopt (the resolution
/// failed) or empty (an NXDOMAIN or a name with no record while the last good one had some) changes
/// nothing: a failed lookup keeps the last good set. Duplicates count once; order follows the inputs.
dns_change diff_records(const std::vector<backend_address>& previous,
                        const std::optional<std::vector<backend_address>>& resolved);

/// The set after applying `resolved` to `previous` (as diff_records decides), duplicates removed.
std::vector<backend_address> next_records(const std::vector<backend_address>& previous,
                                          const std::optional<std::vector<backend_address>>& resolved);

}  // namespace pd_proxy
