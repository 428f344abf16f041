#include "pd_proxy/core/http/authorization.hpp"

#include <cstddef>

#include "pd_proxy/core/http/ascii.hpp"

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

std::optional<access_refusal> refusal_of(api_key_check verdict) {
  switch (verdict) {
    case api_key_check::none:
      return std::nullopt;
    case api_key_check::missing:
      return access_refusal{errc::unauthorized, "missing API key: send 'Authorization: Bearer <key>'",
                            www_authenticate_header};
    case api_key_check::invalid:
      return access_refusal{errc::unauthorized, "invalid API key", www_authenticate_header};
  }
  return std::nullopt;
}

std::optional<access_refusal> refusal_of(admin_access verdict) {
  switch (verdict) {
    case admin_access::allowed:
      return std::nullopt;
    case admin_access::unauthorized:
      return access_refusal{errc::unauthorized, "admin routes need Authorization: Bearer <admin key>",
                            www_authenticate_header};
    case admin_access::forbidden:
      return access_refusal{errc::forbidden,
                            "admin routes are served to loopback clients only (no --admin-api-key is set)",
                            {}};
  }
  return std::nullopt;
}

std::optional<access_refusal> check_access(route_guard guard, std::string_view authorization_header,
                                           bool client_is_loopback, const std::vector<std::string>& api_keys,
                                           const std::string& admin_key) {
  switch (guard) {
    case route_guard::open:
      return std::nullopt;
    case route_guard::api_key:
      return refusal_of(check_api_key(authorization_header, api_keys));
    case route_guard::admin:
      return refusal_of(decide_admin_access(authorization_header, client_is_loopback, admin_key));
  }
  return std::nullopt;
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
