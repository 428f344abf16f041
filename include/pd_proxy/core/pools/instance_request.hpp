// The admin routes' bodies: `/instances/add` and `/instances/remove` requests, and their answers.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "pd_proxy/core/backends/backend_address.hpp"

namespace pd_proxy {

/// The most instances one admin request may name.
inline constexpr std::size_t max_instances_per_request = 1024;

/// An instance as an admin request or a DNS flag names it: "host:port", an IPv6 literal in brackets
/// ("[::1]:9000"). The host goes through parse_host (checked and canonical: "[::ffff:127.0.0.1]:9000" is
/// 127.0.0.1:9000); the port is 1..65535 in decimal.
struct instance_address {
  backend_address address;
  std::string error;  // why the text is refused; empty when accepted

  bool ok() const { return error.empty(); }
};

/// Parses "host:port". A missing port, an IPv6 literal without brackets, a bad host or port is refused.
instance_address parse_instance_address(std::string_view text);

/// A parsed `{"type":"prefill"|"decode","instances":["host:port", ...]}` (a single string is accepted for
/// `instances`). Compatible with the reference proxy's body; unlike it, every problem is an error (a 400).
struct instances_request {
  backend_role role = backend_role::prefill;
  std::vector<backend_address> instances;  // in the order given, canonical, duplicates removed
  std::string error;                       // empty when the body is valid

  bool ok() const { return error.empty(); }
};

/// Parses an admin body. Refused: not a JSON object, a top-level member written twice (as on the completion
/// routes: client_request::check), `type` missing or not "prefill"/"decode", `instances`
/// missing, empty, not a string or an array of strings, more than max_instances_per_request entries, or an
/// entry parse_instance_address refuses (the message names it).
instances_request parse_instances_request(std::string_view body);

/// `['a:1', 'b:2']`, as the reference proxy's messages print a list of instances.
std::string format_instance_list(const std::vector<std::string>& authorities);

/// The 200 answer of both routes:
/// `{"message":…,"current_prefill_instances":[…],"current_decode_instances":[…]}`.
std::string instances_answer_body(std::string_view message, const std::vector<std::string>& prefill,
                                  const std::vector<std::string>& decode);

}  // namespace pd_proxy
