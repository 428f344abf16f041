#include "pd_proxy/core/http/request_id.hpp"

#include <array>
#include <cstdint>
#include <random>

namespace pd_proxy {

bool is_sane_request_id(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  for (const char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                    c == '_' || c == ':' || c == '-';
    if (!ok) return false;
  }
  return true;
}

std::string new_request_id() {
  thread_local std::mt19937_64 engine{std::random_device{}()};
  std::array<std::uint8_t, 16> bytes{};
  for (std::size_t i = 0; i < bytes.size(); i += 8) {
    const std::uint64_t r = engine();
    for (std::size_t k = 0; k < 8; ++k) bytes[i + k] = static_cast<std::uint8_t>(r >> (8 * k));
  }
  bytes[6] = static_cast<std::uint8_t>((bytes[6] & 0x0F) | 0x40);  // version 4
  bytes[8] = static_cast<std::uint8_t>((bytes[8] & 0x3F) | 0x80);  // RFC 4122 variant
  static constexpr char hex[] = "0123456789abcdef";
  std::array<char, 36> text{};  // xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx, written in place, copied once
  std::size_t at = 0;
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) text[at++] = '-';
    text[at++] = hex[bytes[i] >> 4];
    text[at++] = hex[bytes[i] & 0x0F];
  }
  return std::string(text.data(), text.size());
}

std::string choose_request_id(std::string_view client_id) {
  return is_sane_request_id(client_id) ? std::string(client_id) : new_request_id();
}

}  // namespace pd_proxy
