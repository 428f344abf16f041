// ASCII case folding for HTTP tokens (schemes, field names, auth schemes): never the locale's.
#pragma once

#include <cstddef>
#include <string_view>

namespace pd_proxy {

constexpr char ascii_lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

/// Whether `a` and `b` are equal ignoring ASCII case.
constexpr bool iequals_ascii(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  }
  return true;
}

}  // namespace pd_proxy
