#include "pd_proxy/core/http/http_wire.hpp"

namespace pd_proxy {

std::string_view reason_phrase(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 101:
      return "Switching Protocols";
    case 103:
      return "Early Hints";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 203:
      return "Non-Authoritative Information";
    case 204:
      return "No Content";
    case 205:
      return "Reset Content";
    case 206:
      return "Partial Content";
    case 300:
      return "Multiple Choices";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 303:
      return "See Other";
    case 304:
      return "Not Modified";
    case 307:
      return "Temporary Redirect";
    case 308:
      return "Permanent Redirect";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 402:
      return "Payment Required";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 406:
      return "Not Acceptable";
    case 407:
      return "Proxy Authentication Required";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 410:
      return "Gone";
    case 411:
      return "Length Required";
    case 412:
      return "Precondition Failed";
    case 413:
      return "Content Too Large";
    case 414:
      return "URI Too Long";
    case 415:
      return "Unsupported Media Type";
    case 416:
      return "Range Not Satisfiable";
    case 417:
      return "Expectation Failed";
    case 421:
      return "Misdirected Request";
    case 422:
      return "Unprocessable Content";
    case 425:
      return "Too Early";
    case 426:
      return "Upgrade Required";
    case 428:
      return "Precondition Required";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 451:
      return "Unavailable For Legal Reasons";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return {};
  }
}

std::string format_response_head(const response_head& head) {
  std::string out;
  out.reserve(192 + head.request_id.size() + head.extra_headers.size());
  out.append("HTTP/1.1 ").append(std::to_string(head.status)).append(" ");
  out.append(reason_phrase(head.status)).append("\r\n");
  out.append("Content-Type: ").append(head.content_type).append("\r\n");
  if (head.content_length) {
    out.append("Content-Length: ").append(std::to_string(*head.content_length)).append("\r\n");
  } else {
    out.append("Transfer-Encoding: chunked\r\n");
  }
  if (head.content_type.starts_with("text/event-stream")) {
    out.append("Cache-Control: no-cache\r\nX-Accel-Buffering: no\r\n");
  }
  if (!head.request_id.empty()) out.append("X-Request-Id: ").append(head.request_id).append("\r\n");
  if (!head.keep_alive) out.append("Connection: close\r\n");
  out.append(head.extra_headers);
  out.append("\r\n");
  return out;
}

std::size_t format_chunk_size(std::size_t n, char (&out)[24]) {
  static constexpr char hex[] = "0123456789abcdef";
  char digits[16];
  std::size_t len = 0;
  do {
    digits[len++] = hex[n & 0xF];
    n >>= 4;
  } while (n != 0);
  std::size_t pos = 0;
  while (len > 0) out[pos++] = digits[--len];
  out[pos++] = '\r';
  out[pos++] = '\n';
  return pos;
}

std::string format_backend_request_head(const backend_request_head& head) {
  std::string out;
  out.reserve(160 + head.target.size() + head.request_id.size() + head.api_key.size() +
              head.extra_headers.size());
  out.append(head.method).append(" ").append(head.target).append(" HTTP/1.1\r\n");
  out.append("Host: ").append(head.authority).append("\r\n");
  if (head.content_length) {
    out.append("Content-Type: application/json\r\nContent-Length: ");
    out.append(std::to_string(*head.content_length)).append("\r\n");
  }
  out.append("Accept: */*\r\n");
  if (!head.request_id.empty()) out.append("X-Request-Id: ").append(head.request_id).append("\r\n");
  if (!head.api_key.empty()) out.append("Authorization: Bearer ").append(head.api_key).append("\r\n");
  out.append(head.extra_headers);
  out.append("\r\n");
  return out;
}

}  // namespace pd_proxy
