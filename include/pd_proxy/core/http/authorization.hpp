// Client authentication: API keys on the OpenAI routes, the admin key on admin routes (docs/security.md).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pd_proxy/core/http/error.hpp"
#include "pd_proxy/core/http/routes.hpp"

namespace pd_proxy {

/// The token of an `Authorization: Bearer <token>` header value: the scheme is matched case-insensitively
/// (RFC 9110 §11.1), blanks around the token are dropped. Empty when the header is not a Bearer credential
/// or carries no token.
std::string_view bearer_token(std::string_view authorization_header);

/// Whether `a` and `b` are equal, in a time that depends only on their lengths (never on where they differ).
bool constant_time_equal(std::string_view a, std::string_view b);

/// Whether the header carries `Bearer <k>` for one of `keys` (each compared in constant time, all of them
/// always, so the time does not tell which key matched or how much of one). False when `keys` is empty.
bool bearer_matches(std::string_view authorization_header, const std::vector<std::string>& keys);

/// Why a request to an API-key-protected route is refused, or `none` when it may go on.
enum class api_key_check {
  none,     // no key configured, or a configured key matched
  missing,  // keys are configured and the request has no Bearer token
  invalid,  // a Bearer token that matches no configured key
};

/// The decision for an OpenAI route (`/v1/completions`, `/v1/chat/completions`, `/v1/models`).
api_key_check check_api_key(std::string_view authorization_header, const std::vector<std::string>& keys);

/// The decision for an admin route (`/instances/*`, `/reset_prefix_cache`).
enum class admin_access { allowed, unauthorized /* 401 */, forbidden /* 403 */ };

/// With `admin_key` set, the request must carry `Authorization: Bearer <admin_key>` (else 401), from any
/// address. Without it, admin routes serve loopback clients only (else 403).
admin_access decide_admin_access(std::string_view authorization_header, bool client_is_loopback,
                                 const std::string& admin_key);

/// The header line that goes with a 401 (RFC 6750 §3).
inline constexpr std::string_view www_authenticate_header = "WWW-Authenticate: Bearer\r\n";

/// What a refused request is answered: the error (its status), the message and the extra header lines.
struct access_refusal {
  errc code;
  std::string_view text;
  std::string_view headers;  // complete header lines, or empty
};

/// The answer to an API-key refusal: 401 with WWW-Authenticate, "missing API key: ..." or "invalid API key";
/// nullopt for `none`.
std::optional<access_refusal> refusal_of(api_key_check verdict);
/// The answer to an admin refusal: 401 with WWW-Authenticate, or 403 (loopback only); nullopt for `allowed`.
std::optional<access_refusal> refusal_of(admin_access verdict);

/// The decision for a route that `guard` protects: nullopt when the request may go on, else its refusal.
/// `open` asks nothing; `api_key` is check_api_key against `api_keys`; `admin` is decide_admin_access with
/// `admin_key` (`client_is_loopback` is read only for `admin`).
std::optional<access_refusal> check_access(route_guard guard, std::string_view authorization_header,
                                           bool client_is_loopback, const std::vector<std::string>& api_keys,
                                           const std::string& admin_key);

/// The keys of an `--api-key-file`: one per line, blanks around a key dropped, blank lines and lines whose
/// first non-blank character is `#` ignored.
std::vector<std::string> parse_api_key_lines(std::string_view text);

}  // namespace pd_proxy
