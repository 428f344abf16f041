#include "pd_proxy/core/http/forwarded_headers.hpp"

#include <algorithm>

namespace pd_proxy {
namespace {

constexpr std::size_t max_forwarded_value = 8 * 1024;

void append_line(std::string& out, std::string_view name, std::string_view value) {
  if (value.empty() || !forwardable_header_value(value)) return;
  out.append(name).append(": ").append(value).append("\r\n");
}

}  // namespace

bool forwardable_header_value(std::string_view value) {
  return value.size() <= max_forwarded_value && std::none_of(value.begin(), value.end(), [](char c) {
           const auto u = static_cast<unsigned char>(c);
           return (u < 0x20 && u != '\t') || u == 0x7f;
         });
}

std::string forwarded_header_lines(const client_forwarded_values& values) {
  std::string out;
  append_line(out, "traceparent", values.traceparent);
  append_line(out, "tracestate", values.tracestate);
  append_line(out, "Authorization", values.authorization);
  return out;
}

}  // namespace pd_proxy
