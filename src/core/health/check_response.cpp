#include "pd_proxy/core/health/check_response.hpp"

#include <charconv>

#include "pd_proxy/core/http/ascii.hpp"

namespace pd_proxy {
namespace {

constexpr std::string_view crlf = "\r\n";

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool contains_token(std::string_view list, std::string_view token) {
  while (!list.empty()) {
    const auto comma = list.find(',');
    if (iequals_ascii(trim(list.substr(0, comma)), token)) return true;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

// "HTTP/1.x SSS reason": the minor version and the status, or false.
bool parse_status_line(std::string_view line, int& minor, unsigned& status) {
  if (line.size() < 12 || line.substr(0, 7) != "HTTP/1." || line[8] != ' ') return false;
  if (line[7] != '0' && line[7] != '1') return false;
  if (line.size() > 12 && line[12] != ' ') return false;
  minor = line[7] - '0';
  const auto digits = line.substr(9, 3);
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), status);
  return ec == std::errc{} && end == digits.data() + digits.size() && status >= 100;
}

}  // namespace

check_response parse_check_response(std::string_view received, std::size_t capacity) {
  check_response answer;
  const auto line_end = received.find(crlf);
  if (line_end == std::string_view::npos) {
    if (received.size() >= capacity) answer.progress = check_response::state::malformed;
    return answer;
  }
  int minor = 0;
  if (!parse_status_line(received.substr(0, line_end), minor, answer.status)) {
    answer.status = 0;
    answer.progress = check_response::state::malformed;
    return answer;
  }
  const auto head_end = received.find("\r\n\r\n", line_end);
  if (head_end == std::string_view::npos) {
    if (received.size() >= capacity) answer.progress = check_response::state::judged;  // no keep-alive
    return answer;
  }
  answer.progress = check_response::state::judged;

  bool keep_alive = minor == 1;
  bool length_known = false;
  std::size_t body_length = 0;
  std::string_view fields = received.substr(line_end + 2, head_end - line_end);  // each field ends in CRLF
  while (!fields.empty()) {
    const auto end = fields.find(crlf);
    const auto field = fields.substr(0, end);
    fields.remove_prefix(end + 2);
    const auto colon = field.find(':');
    if (colon == std::string_view::npos) return answer;  // judged, not kept
    const auto name = field.substr(0, colon);
    const auto value = trim(field.substr(colon + 1));
    if (iequals_ascii(name, "content-length")) {
      std::size_t n = 0;
      const auto [end_ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
      if (length_known || value.empty() || ec != std::errc{} || end_ptr != value.data() + value.size())
        return answer;
      length_known = true;
      body_length = n;
    } else if (iequals_ascii(name, "transfer-encoding")) {
      return answer;
    } else if (iequals_ascii(name, "connection")) {
      if (contains_token(value, "close")) keep_alive = false;
      if (contains_token(value, "keep-alive")) keep_alive = keep_alive || minor == 0;
    }
  }
  const std::size_t head_length = head_end + 4;
  // 204 and 304 carry no body; any other answer needs its length to keep the connection. An interim 1xx
  // answer would be followed by another: not kept.
  const bool bodiless = answer.status == 204 || answer.status == 304;
  if (bodiless) body_length = 0;
  if (!keep_alive || answer.status < 200 || (!length_known && !bodiless) || head_length > capacity ||
      body_length > capacity - head_length)
    return answer;
  answer.keep_alive = true;
  answer.length = head_length + body_length;
  return answer;
}

}  // namespace pd_proxy
