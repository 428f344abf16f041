#include "pd_proxy/core/http/http_framing.hpp"

#include <algorithm>
#include <cctype>

namespace pd_proxy {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool is_chunked(std::string_view coding) {
  constexpr std::string_view chunked = "chunked";
  coding = trim(coding);
  return coding.size() == chunked.size() &&
         std::equal(coding.begin(), coding.end(), chunked.begin(),
                    [](char a, char b) { return std::tolower(static_cast<unsigned char>(a)) == b; });
}

}  // namespace

std::optional<framing_refusal> refuse_framing(const request_framing& head) {
  if (head.host_headers > 1) return framing_refusal{errc::bad_request, "more than one Host header"};
  if (head.version >= 11 && head.host_headers == 0) {
    return framing_refusal{errc::bad_request, "an HTTP/1.1 request needs a Host header"};
  }
  if (head.transfer_encoding_headers == 0) return std::nullopt;
  if (head.version < 11) {
    return framing_refusal{errc::bad_request, "Transfer-Encoding is not allowed in HTTP/1.0"};
  }
  if (head.content_length_headers > 0) {
    return framing_refusal{errc::bad_request, "Content-Length and Transfer-Encoding together"};
  }
  if (head.transfer_encoding_headers > 1 || !is_chunked(head.transfer_encoding)) {
    return framing_refusal{errc::not_implemented, "unsupported Transfer-Encoding (only chunked is accepted)"};
  }
  return std::nullopt;
}

}  // namespace pd_proxy
