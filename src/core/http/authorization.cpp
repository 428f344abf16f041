#include "pd_proxy/core/http/authorization.hpp"

#include <cstddef>

namespace pd_proxy {
namespace {

bool is_blank(char c) {
  return c == ' ' || c == '\t';
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (is_blank(s.front()) || s.front() == '\r')) s.remove_prefix(1);
  while (!s.empty() && (is_blank(s.back()) || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

bool iequals_ascii(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

}  // namespace

std::string_view bearer_token(std::string_view authorization_header) {
  constexpr std::string_view scheme = "bearer";
  const std::string_view value = trim(authorization_header);
  if (value.size() <= scheme.size() || !iequals_ascii(value.substr(0, scheme.size()), scheme) ||
      !is_blank(value[scheme.size()])) {
    return {};
  }
  return trim(value.substr(scheme.size()));
}

bool constant_time_equal(std::string_view a, std::string_view b) {
  // Every byte of `a` is looked at whatever `b` holds; a length mismatch only sets a bit.
  unsigned diff = a.size() == b.size() ? 0U : 1U;
  if (b.empty()) return a.empty();
  for (std::size_t i = 0; i < a.size(); ++i) {
    diff |=
        static_cast<unsigned>(static_cast<unsigned char>(a[i]) ^ static_cast<unsigned char>(b[i % b.size()]));
  }
  return diff == 0;
}

bool bearer_matches(std::string_view authorization_header, const std::vector<std::string>& keys) {
  const std::string_view token = bearer_token(authorization_header);
  if (token.empty()) return false;
  bool matched = false;
  for (const auto& key : keys) matched |= constant_time_equal(token, key);  // no early exit
  return matched;
}

api_key_check check_api_key(std::string_view authorization_header, const std::vector<std::string>& keys) {
  if (keys.empty()) return api_key_check::none;
  if (bearer_token(authorization_header).empty()) return api_key_check::missing;
  return bearer_matches(authorization_header, keys) ? api_key_check::none : api_key_check::invalid;
}

admin_access decide_admin_access(std::string_view authorization_header, bool client_is_loopback,
                                 const std::string& admin_key) {
  if (admin_key.empty()) return client_is_loopback ? admin_access::allowed : admin_access::forbidden;
  const std::string_view token = bearer_token(authorization_header);
  if (!token.empty() && constant_time_equal(token, admin_key)) return admin_access::allowed;
  return admin_access::unauthorized;
}

std::vector<std::string> parse_api_key_lines(std::string_view text) {
  std::vector<std::string> keys;
  while (!text.empty()) {
    const std::size_t end = text.find('\n');
    const std::string_view line = trim(text.substr(0, end));
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
    if (line.empty() || line.front() == '#') continue;
    keys.emplace_back(line);
  }
  return keys;
}

}  // namespace pd_proxy
