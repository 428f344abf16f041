#include "pd_proxy/net/client/metaserver_route.hpp"

#include <spdlog/spdlog.h>

#include "pd_proxy/core/json/json_scan.hpp"

namespace pd_proxy {
namespace {

// The FastAPI-style error body, {"detail": text} (text JSON-escaped).
std::string detail_body(std::string_view text) {
  std::string out = R"({"detail":")";
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20) {
      out += ' ';
    } else {
      out += c;
    }
  }
  out += "\"}";
  return out;
}

std::string_view trimmed(std::string_view text) {
  const auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!text.empty() && blank(text.front())) text.remove_prefix(1);
  while (!text.empty() && blank(text.back())) text.remove_suffix(1);
  return text;
}

}  // namespace

// No temporary goes into a co_await expression here: GCC 12 may destroy one twice.
net::awaitable<void> serve_metaserver(signal_board& board, client_response& response, std::string& body) {
  const std::string_view object = trimmed(body);
  if (object.empty() || object.front() != '{' || !is_valid_json(object)) {
    const std::string refusal = detail_body("the body is not a JSON object");
    co_await response.send_whole(400, "application/json", refusal);
    co_return;
  }
  // The id as the script prints it: Python's repr ('...'), or None when missing or not a string.
  std::string id;
  bool named = false;
  if (const auto raw = find_top_level_member(object, "request_id");
      raw && raw->size() >= 2 && raw->front() == '"') {
    named = append_json_unescaped(raw->substr(1, raw->size() - 2), id);
  }
  if (!named) {
    const std::string unknown = detail_body("Unknown metaserver request_id: None");
    co_await response.send_whole(404, "application/json", unknown);
    co_return;
  }
  std::string posted(object);
  auto delivery = board.deliver(id, std::move(posted));
  const auto delivered = co_await std::move(delivery);
  switch (delivered.outcome) {
    case signal_board::delivery::unknown:
      spdlog::debug("metaserver: no request waits for request_id {}",
                    id.size() > 200 ? id.substr(0, 200) : id);
      {
        const std::string unknown = detail_body("Unknown metaserver request_id: '" + id + "'");
        co_await response.send_whole(404, "application/json", unknown);
        co_return;
      }
    case signal_board::delivery::gone:
      co_return;
    case signal_board::delivery::answered:
      co_await response.send_whole(delivered.answer.status, "application/json", delivered.answer.body);
      co_return;
  }
}

}  // namespace pd_proxy
