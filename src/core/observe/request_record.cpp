#include "pd_proxy/core/observe/request_record.hpp"

#include <charconv>
#include <ctime>

namespace pd_proxy {

std::string_view to_string(request_route route) {
  switch (route) {
    case request_route::completions:
      return "/v1/completions";
    case request_route::chat_completions:
      return "/v1/chat/completions";
    case request_route::models:
      return "/v1/models";
    case request_route::health:
      return "/health";
    case request_route::healthcheck:
      return "/healthcheck";
    case request_route::ready:
      return "/ready";
    case request_route::metrics:
      return "/metrics";
    case request_route::other:
      return "other";
  }
  return "other";
}

request_route route_of_path(std::string_view path) {
  if (path == "/v1/completions") return request_route::completions;
  if (path == "/v1/chat/completions") return request_route::chat_completions;
  if (path == "/v1/models") return request_route::models;
  if (path == "/health") return request_route::health;
  if (path == "/healthcheck") return request_route::healthcheck;
  if (path == "/ready") return request_route::ready;
  if (path == "/metrics") return request_route::metrics;
  return request_route::other;
}

std::string_view to_string(request_outcome outcome) {
  switch (outcome) {
    case request_outcome::ok:
      return "ok";
    case request_outcome::client_abort:
      return "client_abort";
    case request_outcome::backend_error:
      return "backend_error";
    case request_outcome::timeout:
      return "timeout";
    case request_outcome::rejected:
      return "rejected";
    case request_outcome::no_backend:
      return "no_backend";
    case request_outcome::shutting_down:
      return "shutting_down";
    case request_outcome::backend_rejected:
      return "backend_rejected";
    case request_outcome::invalid_request:
      return "invalid_request";
  }
  return "ok";
}

request_outcome outcome_of(pd_outcome outcome, backend_failure last_failure) {
  switch (outcome) {
    case pd_outcome::pending:
    case pd_outcome::completed:
      return request_outcome::ok;
    case pd_outcome::midstream_error:
    case pd_outcome::backend_error:
      return last_failure == backend_failure::timeout ? request_outcome::timeout
                                                      : request_outcome::backend_error;
    case pd_outcome::passed_through:
      return request_outcome::backend_rejected;
    case pd_outcome::no_backend:
      return request_outcome::no_backend;
    case pd_outcome::shutting_down:
      return request_outcome::shutting_down;
    case pd_outcome::client_gone:
      return request_outcome::client_abort;
    case pd_outcome::rejected:
      return request_outcome::rejected;
  }
  return request_outcome::ok;
}

request_outcome outcome_of_status(int status) {
  if (status == 429) return request_outcome::rejected;
  if (status >= 400 && status < 500) return request_outcome::invalid_request;
  return request_outcome::ok;
}

std::string_view failure_kind(backend_failure failure) {
  return to_string(failure);
}

std::string_view answer_kind(int status) {
  return status == 429 ? "http_429" : "http_5xx";
}

double seconds_between(request_record::clock::time_point from, request_record::clock::time_point to) {
  if (!request_record::reached(from) || !request_record::reached(to) || to < from) return -1;
  return std::chrono::duration<double>(to - from).count();
}

namespace {

void append_escaped(std::string& out, std::string_view text) {
  out += '"';
  std::size_t clean = 0;  // the start of the run of bytes that need no escape, appended as one piece
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    const auto u = static_cast<unsigned char>(c);
    if (c != '"' && c != '\\' && u >= 0x20) continue;  // UTF-8 passes as is
    out.append(text.data() + clean, i - clean);
    clean = i + 1;
    if (u >= 0x20) {
      out += '\\';
      out += c;
    } else {
      static constexpr char hex[] = "0123456789abcdef";
      out += "\\u00";
      out += hex[u >> 4];
      out += hex[u & 0xf];
    }
  }
  out.append(text.data() + clean, text.size() - clean);
  out += '"';
}

void append_number(std::string& out, std::uint64_t n) {
  char text[24];
  const auto end = std::to_chars(text, text + sizeof text, n).ptr;
  out.append(text, end);
}

// Milliseconds with 3 decimals, or null when not reached.
void append_ms(std::string& out, double seconds) {
  if (seconds < 0) {
    out += "null";
    return;
  }
  char text[32];
  const auto end = std::to_chars(text, text + sizeof text, seconds * 1000.0, std::chars_format::fixed, 3).ptr;
  out.append(text, end);
}

void append_field(std::string& out, std::string_view name) {
  out += ",\"";
  out += name;
  out += "\":";
}

void append_timestamp(std::string& out, std::chrono::system_clock::time_point t) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  const std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  // The date and time to the second, formatted once per second per thread (gmtime_r and strftime cost more
  // than the rest of the line).
  thread_local std::time_t cached_seconds = -1;
  thread_local char text[40];
  thread_local std::size_t n = 0;
  if (seconds != cached_seconds) {
    std::tm utc{};
    ::gmtime_r(&seconds, &utc);
    n = std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &utc);
    cached_seconds = seconds;
  }
  out += '"';
  out.append(text, n);
  char fraction[8];
  const int millis = static_cast<int>(ms % 1000);
  fraction[0] = '.';
  fraction[1] = static_cast<char>('0' + millis / 100);
  fraction[2] = static_cast<char>('0' + millis / 10 % 10);
  fraction[3] = static_cast<char>('0' + millis % 10);
  out.append(fraction, 4);
  out += "Z\"";
}

}  // namespace

std::string access_log_line(const request_record& r) {
  std::string out;
  out.reserve(384);
  append_access_log_line(out, r);
  return out;
}

void append_access_log_line(std::string& out, const request_record& r) {
  out += "{\"ts\":";
  append_timestamp(out, r.wall_received);
  append_field(out, "request_id");
  append_escaped(out, r.request_id);
  append_field(out, "method");
  append_escaped(out, r.method);
  append_field(out, "route");
  append_escaped(out, to_string(r.route));
  append_field(out, "status");
  append_number(out, static_cast<std::uint64_t>(r.status < 0 ? 0 : r.status));
  append_field(out, "outcome");
  append_escaped(out, to_string(r.outcome));
  append_field(out, "prefiller");
  append_escaped(out, r.prefiller);
  append_field(out, "decoder");
  append_escaped(out, r.decoder);
  append_field(out, "retries");
  append_number(out, std::uint64_t{r.prefill_retries} + r.decode_retries);
  append_field(out, "prefill_retries");
  append_number(out, r.prefill_retries);
  append_field(out, "decode_retries");
  append_number(out, r.decode_retries);
  append_field(out, "prompt_bytes");
  append_number(out, r.prompt_bytes);
  append_field(out, "bytes_sent");
  append_number(out, r.bytes_sent);
  append_field(out, "prefill_ms");
  append_ms(out, seconds_between(r.prefill_start, r.prefill_done));
  append_field(out, "ttft_ms");
  append_ms(out, seconds_between(r.received, r.first_byte));
  append_field(out, "duration_ms");
  append_ms(out, seconds_between(r.received, r.end));
  append_field(out, "client_address");
  append_escaped(out, r.client_address);
  out += "}\n";
}

}  // namespace pd_proxy
