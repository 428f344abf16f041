#include "pd_proxy/mock/sglang_pairing.hpp"

#include <array>
#include <chrono>

#include "pd_proxy/core/http/http_wire.hpp"
#include "pd_proxy/net/backend/backend_connection.hpp"
#include "pd_proxy/net/http/client_response.hpp"
#include "pd_proxy/net/operation_timer.hpp"

namespace pd_proxy::mock {
namespace {

constexpr seconds_d poll_interval{0.005};  // after a failed connection
constexpr seconds_d claim_wait{0.5};       // a claim long-polls this long for its room
constexpr std::uint64_t max_room = 0x7fff'ffff'ffff'ffffULL;

// The first entry of a field that is a scalar or an array; `entries` gets the array's length.
const json* first_entry(const json& value, std::size_t& entries) {
  if (!value.is_array()) return &value;
  entries = value.size();
  return value.empty() ? nullptr : &value.front();
}

}  // namespace

bootstrap_fields read_bootstrap_fields(const json& body) {
  bootstrap_fields out;
  const auto room = body.find("bootstrap_room");
  if (room == body.end() || room->is_null()) {
    out.error = missing_room_message;
    return out;
  }
  std::size_t rooms = 0, hosts = 0, ports = 0;
  const json* r = first_entry(*room, rooms);
  if (r == nullptr || !r->is_number_unsigned() || r->get<std::uint64_t>() > max_room) {
    out.error = "bootstrap_room must be an integer in [0, 2^63-1] (or a list of them)";
    return out;
  }
  out.room = r->get<std::uint64_t>();
  const auto host = body.find("bootstrap_host");
  const json* h = host == body.end() ? nullptr : first_entry(*host, hosts);
  if (h == nullptr || !h->is_string()) {
    out.error = "bootstrap_host must be a string (or a list of them)";
    return out;
  }
  out.host = h->get<std::string>();
  const auto port = body.find("bootstrap_port");
  const json* p = port == body.end() ? nullptr : first_entry(*port, ports);
  if (p != nullptr && !p->is_null()) {
    if (!p->is_number_unsigned() || p->get<std::uint64_t>() < 1 || p->get<std::uint64_t>() > 65535) {
      out.error = "bootstrap_port must be a port number or null (or a list of them)";
      return out;
    }
    out.port = static_cast<std::uint16_t>(p->get<std::uint64_t>());
  }
  if (rooms != hosts || rooms != ports) {
    out.error = "bootstrap_host, bootstrap_port and bootstrap_room must be lists of one length or scalars";
    return out;
  }
  out.entries = rooms;
  return out;
}

net::awaitable<bool> bootstrap_rooms::offer(std::uint64_t room, seconds_d timeout) {
  net::steady_timer wake(co_await net::this_coro::executor);
  wake.expires_after(std::chrono::duration_cast<std::chrono::steady_clock::duration>(timeout));
  auto [entry, fresh] = offered_.try_emplace(room);
  if (!fresh) co_return false;  // the same room twice: the second prefill cannot pair
  entry->second.wake = &wake;
  const auto [first, last] = claimers_.equal_range(room);
  for (auto it = first; it != last; ++it) it->second->cancel();
  co_await wake.async_wait(use_nothrow);
  const bool claimed = entry->second.claimed;
  offered_.erase(entry);
  co_return claimed;
}

bool bootstrap_rooms::claim(std::uint64_t room) {
  const auto it = offered_.find(room);
  if (it == offered_.end() || it->second.claimed) return false;
  it->second.claimed = true;
  it->second.wake->cancel();
  return true;
}

net::awaitable<bool> bootstrap_rooms::await_offer(std::uint64_t room, seconds_d limit) {
  if (offered_.count(room) > 0) co_return true;
  net::steady_timer wake(co_await net::this_coro::executor);
  wake.expires_after(std::chrono::duration_cast<std::chrono::steady_clock::duration>(limit));
  const auto waiting = claimers_.emplace(room, &wake);
  co_await wake.async_wait(use_nothrow);
  claimers_.erase(waiting);
  co_return offered_.count(room) > 0;
}

net::awaitable<std::pair<int, std::string>> answer_bootstrap_claim(bootstrap_rooms& rooms, std::string body) {
  const auto parsed = parse_json_object(body);
  const auto room = parsed ? parsed->find("room") : json::const_iterator{};
  if (!parsed || room == parsed->end() || !room->is_number_unsigned()) {
    co_return std::pair<int, std::string>{
        400, format_error(400, "BadRequestError", "a claim needs {\"room\": N}")};
  }
  const auto n = room->get<std::uint64_t>();
  if (rooms.claim(n) || (co_await rooms.await_offer(n, claim_wait) && rooms.claim(n))) {
    co_return std::pair<int, std::string>{200, R"({"claimed":true})"};
  }
  co_return std::pair<int, std::string>{404, R"({"claimed":false})"};
}

net::awaitable<bool> claim_from_prefill(const bootstrap_fields& fields, std::string_view request_id,
                                        seconds_d timeout) {
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::duration_cast<std::chrono::steady_clock::duration>(timeout);
  const backend_address address{fields.host, fields.port.value_or(default_bootstrap_port)};
  const std::string body = R"({"room":)" + std::to_string(fields.room) + "}";
  const std::string head = format_backend_request_head(
      {"POST", "/bootstrap/claim", address.authority(), request_id, {}, body.size()});
  while (std::chrono::steady_clock::now() < deadline) {
    operation_timer connect_timer;
    auto [ec, connection] = co_await connect_backend(address, seconds_d{1.0}, connect_timer);
    if (!ec) {
      const std::array<net::const_buffer, 2> request{net::buffer(head), net::buffer(body)};
      auto [write_ec, n] = co_await timed(
          [&](auto token) { return net::async_write(connection->socket, request, token); }, seconds_d{5.0});
      http::response<http::string_body> answer;
      if (!write_ec) {
        auto [read_ec, m] = co_await timed(
            [&](auto token) {
              return http::async_read(connection->socket, connection->buffer, answer, token);
            },
            seconds_d{5.0});
        if (!read_ec && answer.result_int() == 200) co_return true;
        if (!read_ec && answer.result_int() == 404) {  // long-polled: ask again at once
          if (co_await cancelled()) co_return false;
          continue;
        }
      }
    }
    if (co_await cancelled() || !co_await sleep_for(poll_interval)) co_return false;
  }
  co_return false;
}

net::awaitable<void> answer_one_token(client_response& response, const completion_spec& spec, bool stream,
                                      std::string_view text) {
  if (!stream) {
    co_await response.send_whole(200, "application/json", format_full_response(spec, text));
    co_return;
  }
  response.start_stream(200, "text/event-stream; charset=utf-8");
  std::string events;
  if (spec.chat) events += format_role_event(spec);
  events += format_token_event(spec, text, /*last=*/true);
  events += done_event;
  if (co_await response.write_chunk(events)) co_return;
  co_await response.end_stream(true);
}

}  // namespace pd_proxy::mock
