// Rewrites the `data:` lines of whole SSE events in place, every other byte kept: the shared walk of the
// answer rewrites (core/flow/answer_rewrite.hpp) over the events of one relayed write.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace pd_proxy {

/// `sse` (whole events) with the value of every `data:` line (after `data:` and one optional space) replaced
/// by `rewrite(value)` when that returns a string; every other byte, line endings (LF, CR LF, CR) included,
/// as it was. `rewrite` is `std::optional<std::string>(std::string_view)`, called once per `data:` line in
/// order.
template <class Rewrite>
std::string rewrite_data_lines(std::string_view sse, Rewrite&& rewrite) {
  std::string out;
  out.reserve(sse.size() + 64);
  std::size_t i = 0;
  while (i < sse.size()) {
    std::size_t end = sse.find_first_of("\r\n", i);
    if (end == std::string_view::npos) end = sse.size();
    const std::string_view line = sse.substr(i, end - i);
    std::optional<std::string> rewritten;
    std::size_t value_at = 0;
    if (line.starts_with("data:")) {
      value_at = line.starts_with("data: ") ? 6 : 5;
      rewritten = rewrite(line.substr(value_at));
    }
    if (rewritten) {
      out.append(line.substr(0, value_at)).append(*rewritten);
    } else {
      out.append(line);
    }
    std::size_t next = end;
    if (next < sse.size() && sse[next] == '\r') ++next;
    if (next < sse.size() && sse[next] == '\n') ++next;
    out.append(sse.substr(end, next - end));
    i = next;
  }
  return out;
}

}  // namespace pd_proxy
