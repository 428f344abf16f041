#include "pd_proxy/core/backends/backend_address.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <array>

namespace pd_proxy {
namespace {

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

bool is_hex_digit(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

bool is_letter(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

char lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

// True for a character no host name or address contains: whitespace and other control characters.
bool is_space_or_control(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u <= 0x20 || u == 0x7f;
}

bool is_zone(std::string_view zone) {
  return !zone.empty() && std::all_of(zone.begin(), zone.end(), [](char c) {
    return is_letter(c) || is_digit(c) || c == '.' || c == '_' || c == '-';
  });
}

// A decimal IPv4 part as canonical dotted-quad writes it: 0-255, no leading zero.
bool is_octet(std::string_view part) {
  if (part.empty() || part.size() > 3 || !std::all_of(part.begin(), part.end(), is_digit)) return false;
  if (part.size() > 1 && part.front() == '0') return false;
  int value = 0;
  for (const char c : part) value = value * 10 + (c - '0');
  return value <= 255;
}

// A label getaddrinfo (through inet_aton) reads as a number: decimal, octal or "0x" hex.
bool is_numeric_label(std::string_view label) {
  if (std::all_of(label.begin(), label.end(), is_digit)) return true;
  return label.size() >= 2 && label[0] == '0' && (label[1] == 'x' || label[1] == 'X') &&
         std::all_of(label.begin() + 2, label.end(), is_hex_digit);
}

bool is_label(std::string_view label) {
  if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') return false;
  return std::all_of(label.begin(), label.end(),
                     [](char c) { return is_letter(c) || is_digit(c) || c == '-'; });
}

// RFC 5952 text of eight 16-bit groups.
std::string format_ipv6(const std::array<unsigned, 8>& groups) {
  std::size_t best = 8, best_len = 0;  // the longest run of zero groups (first on a tie)
  for (std::size_t i = 0; i < 8;) {
    if (groups[i] != 0) {
      ++i;
      continue;
    }
    std::size_t end = i;
    while (end < 8 && groups[end] == 0) ++end;
    if (end - i > best_len) {
      best = i;
      best_len = end - i;
    }
    i = end;
  }
  if (best_len < 2) best = 8;  // a single zero group is written "0", not "::"
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < 8; ++i) {
    if (i == best) {
      out += "::";
      i += best_len - 1;
      continue;
    }
    if (!out.empty() && out.back() != ':') out += ':';
    bool started = false;
    for (int shift = 12; shift >= 0; shift -= 4) {
      const unsigned digit = (groups[i] >> shift) & 0xfu;
      if (digit != 0 || started || shift == 0) {
        out += digits[digit];
        started = true;
      }
    }
  }
  return out;
}

// Why `text` (no brackets, no ':') is refused as an IPv4 address or host name; empty when it is neither
// refused nor accepted here (the caller decides).
std::string name_problem(std::string_view text) {
  std::string_view name = text;
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  if (name.size() > max_host_name_length) {
    return "is longer than " + std::to_string(max_host_name_length) +
           " characters (the most a host name has)";
  }
  const auto last_dot = name.rfind('.');
  const std::string_view last = last_dot == std::string_view::npos ? name : name.substr(last_dot + 1);
  if (is_numeric_label(last)) {
    return "is not an IPv4 address written as dotted-quad (four decimal parts 0-255 without leading zeros, "
           "as 127.0.0.1) nor a host name (a host name's last label is not a number)";
  }
  return "is not a host name (dot-separated labels of 1-63 letters, digits and '-', not starting or ending "
         "with '-')";
}

}  // namespace

std::string_view to_string(backend_role role) {
  return role == backend_role::prefill ? "prefill" : "decode";
}

bool is_ipv6_literal(std::string_view host) {
  return host.find(':') != std::string_view::npos;
}

std::string backend_address::authority() const {
  std::string out;
  out.reserve(host.size() + 8);
  if (is_ipv6_literal(host)) {
    out.append("[").append(host).append("]");
  } else {
    out.append(host);
  }
  out.append(":").append(std::to_string(port));
  return out;
}

std::optional<std::string> canonical_ipv4(std::string_view text) {
  std::string_view rest = text;
  for (int part = 0; part < 4; ++part) {
    const auto dot = rest.find('.');
    const bool last = part == 3;
    if (last != (dot == std::string_view::npos)) return std::nullopt;
    if (!is_octet(rest.substr(0, dot))) return std::nullopt;
    rest = last ? std::string_view{} : rest.substr(dot + 1);
  }
  return std::string(text);
}

std::optional<std::string> canonical_ipv6(std::string_view text) {
  std::string_view address = text;
  std::string_view zone;
  if (const auto percent = text.find('%'); percent != std::string_view::npos) {
    zone = text.substr(percent + 1);
    if (!is_zone(zone)) return std::nullopt;
    address = text.substr(0, percent);
  }
  if (address.empty() || address.size() > 45) return std::nullopt;  // INET6_ADDRSTRLEN - 1
  const std::string copy(address);                                  // inet_pton needs a terminating NUL
  in6_addr parsed{};
  if (::inet_pton(AF_INET6, copy.c_str(), &parsed) != 1) return std::nullopt;
  std::array<unsigned, 8> groups{};
  for (std::size_t i = 0; i < 8; ++i) {
    groups[i] = (static_cast<unsigned>(parsed.s6_addr[2 * i]) << 8) | parsed.s6_addr[2 * i + 1];
  }
  const bool mapped = std::all_of(groups.begin(), groups.begin() + 5, [](unsigned g) { return g == 0; }) &&
                      groups[5] == 0xffff;
  if (mapped && zone.empty()) {
    std::string out;
    for (std::size_t i = 12; i < 16; ++i) {
      if (i > 12) out += '.';
      out += std::to_string(parsed.s6_addr[i]);
    }
    return out;
  }
  std::string out = format_ipv6(groups);
  if (!zone.empty()) out.append("%").append(zone);
  return out;
}

std::optional<std::string> canonical_host_name(std::string_view text) {
  std::string_view name = text;
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  if (name.empty() || name.size() > max_host_name_length) return std::nullopt;
  std::string_view last;
  for (std::string_view rest = name;;) {
    const auto dot = rest.find('.');
    last = rest.substr(0, dot);
    if (!is_label(last)) return std::nullopt;
    if (dot == std::string_view::npos) break;
    rest = rest.substr(dot + 1);
  }
  if (is_numeric_label(last)) return std::nullopt;
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(), lower);
  return out;
}

host_value parse_host(std::string_view text) {
  const auto refuse = [](std::string why) { return host_value{{}, std::move(why)}; };
  if (text.empty()) return refuse("is empty");
  if (std::any_of(text.begin(), text.end(), is_space_or_control)) {
    return refuse("contains whitespace or a control character");
  }
  if (text.front() == '-')
    return refuse("starts with '-', which no host does (a value missing before a flag?)");
  const auto close = text.find(']');
  if (text.front() == '[') {
    if (close == std::string_view::npos) return refuse("has '[' without a closing ']'");
    if (close != text.size() - 1) {
      return refuse("has text after ']' (a port has its own flag; it is not part of the host)");
    }
    const std::string_view inner = text.substr(1, text.size() - 2);
    if (inner.empty()) return refuse("has nothing between '[' and ']'");
    auto v6 = canonical_ipv6(inner);
    if (!v6) {
      return refuse(
          "has brackets around something that is not an IPv6 address (brackets are only for IPv6 "
          "literals such as [::1])");
    }
    return host_value{std::move(*v6), {}};
  }
  if (close != std::string_view::npos) return refuse("has ']' without an opening '['");
  if (text.find('[') != std::string_view::npos) return refuse("has '[' inside the host");
  if (text.find(':') != std::string_view::npos) {
    auto v6 = canonical_ipv6(text);
    if (!v6) {
      return refuse(
          "contains ':' but is not an IPv6 address (a port has its own flag; it is not part of the host)");
    }
    return host_value{std::move(*v6), {}};
  }
  if (auto v4 = canonical_ipv4(text)) return host_value{std::move(*v4), {}};
  if (auto name = canonical_host_name(text)) return host_value{std::move(*name), {}};
  return refuse(name_problem(text));
}

}  // namespace pd_proxy
