#include "pd_proxy/net/client_session.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <nlohmann/json.hpp>

#include "pd_proxy/core/http_wire.hpp"
#include "pd_proxy/core/request_id.hpp"
#include "pd_proxy/net/backend_exchange.hpp"
#include "pd_proxy/net/client_request_reader.hpp"
#include "pd_proxy/net/client_response.hpp"
#include "pd_proxy/net/pd_exchange.hpp"

namespace pd_proxy {
namespace {

constexpr seconds_d models_timeout{3.0};

std::string healthcheck_body(const proxy_state& state) {
  const nlohmann::ordered_json body = {{"status", "ok"},
                               {"prefill_instances", state.config.prefillers.size()},
                               {"decode_instances", state.config.decoders.size()},
                               {"request_num", state.request_num.load(std::memory_order_relaxed)}};
  return body.dump();
}

// GET /v1/models: the first backend (prefillers, then decoders) that answers 2xx, verbatim.
net::awaitable<void> serve_models(proxy_state& state, backend_pool& pool, client_response& response,
                                  std::string_view request_id) {
  const auto& config = state.config;
  for (auto role : {backend_role::prefill, backend_role::decode}) {
    const auto& backends = role == backend_role::prefill ? config.prefillers : config.decoders;
    for (std::size_t i = 0; i < backends.size(); ++i) {
      backend_stream leg(pool, role, i, backends[i]);
      const std::string head = format_backend_request_head(
          {"GET", "/v1/models", backends[i].authority(), request_id, config.backend_api_key, std::nullopt});
      auto failure = co_await leg.open(head, {}, std::min(config.connect_timeout, models_timeout), models_timeout);
      std::string body;
      if (failure == backend_failure::none) failure = co_await leg.read_all(body, config.max_body_size, models_timeout);
      if (failure == backend_failure::cancelled) co_return;
      if (failure == backend_failure::none && leg.status() >= 200 && leg.status() < 300) {
        co_await response.send_whole(200, "application/json", body);
        co_return;
      }
    }
  }
  co_await response.send_error(errc::no_backend, "no backend answered GET /v1/models");
}

enum class route { completions, chat_completions, healthcheck, health, models, unknown };

route route_of(std::string_view path) {
  if (path == "/v1/completions") return route::completions;
  if (path == "/v1/chat/completions") return route::chat_completions;
  if (path == "/healthcheck") return route::healthcheck;
  if (path == "/health") return route::health;
  if (path == "/v1/models") return route::models;
  return route::unknown;
}

bool method_allowed(route r, http::verb method) {
  switch (r) {
    case route::completions:
    case route::chat_completions: return method == http::verb::post;
    case route::healthcheck:
    case route::health:
    case route::models: return method == http::verb::get;
    case route::unknown: return true;
  }
  return false;
}

// Handles one request that was read whole. Returns false when the connection must end.
net::awaitable<bool> handle_request(proxy_state& state, backend_pool& pool, tcp::socket& socket,
                                    operation_timer& write_timer, beast::flat_buffer& buffer,
                                    http::request<http::string_body>& req) {
  const auto& config = state.config;
  const std::string request_id = choose_request_id(req["X-Request-Id"]);
  client_response response(socket, write_timer, request_id, req.keep_alive(), req.version() == 10,
                           config.stream_idle_timeout);
  const route r = route_of(path_of(req.target()));

  if (r == route::unknown) {
    co_await response.send_error(errc::not_found, "no route for " + std::string(path_of(req.target())));
    co_return response.keep_alive();
  }
  if (!method_allowed(r, req.method())) {
    co_await response.send_error(errc::method_not_allowed,
                                 std::string(req.method_string()) + " is not allowed on " +
                                     std::string(path_of(req.target())));
    co_return response.keep_alive();
  }
  if (r == route::health) {
    co_await response.send_whole(200, "application/json", R"({"status":"ok"})");
    co_return response.keep_alive();
  }
  if (r == route::healthcheck) {
    co_await response.send_whole(200, "application/json", healthcheck_body(state));
    co_return response.keep_alive();
  }

  using namespace net::experimental::awaitable_operators;
  std::variant<std::monostate, std::monostate> finished;
  if (r == route::models) {
    finished = co_await (serve_models(state, pool, response, request_id) || watch_client(socket, buffer));
  } else {
    auto body = client_request::parse(std::move(req.body()));
    if (!body) {
      co_await response.send_error(errc::bad_request, "the request body is not a JSON object");
      co_return response.keep_alive();
    }
    const pd_request request{r == route::completions ? "/v1/completions" : "/v1/chat/completions", *body,
                             request_id};
    finished = co_await (run_pd_exchange(state, pool, request, response) || watch_client(socket, buffer));
  }
  if (finished.index() == 1) {
    state.counters.client_disconnects.fetch_add(1, std::memory_order_relaxed);
    spdlog::debug("request {}: client disconnected; backend legs closed", request_id);
    co_return false;
  }
  co_return response.keep_alive();
}

}  // namespace

net::awaitable<void> run_client_session(tcp::socket socket, proxy_state& state, backend_pool& pool) {
  co_await net::this_coro::throw_if_cancelled(false);
  const auto& config = state.config;
  error_code ignored;
  socket.set_option(tcp::no_delay(true), ignored);
  beast::flat_buffer buffer;  // reads take at most its free capacity (512 bytes when empty): reserved below
  request_limits limits{64 * 1024, config.max_body_size, config.client_header_timeout, config.client_header_timeout,
                        config.stream_idle_timeout};
  operation_timer read_timer, write_timer;  // the connection's, for its requests one after another
  while (true) {
    buffer.reserve(8 * 1024);
    auto request = co_await read_client_request(socket, buffer, limits, read_timer);
    if (!request) break;
    if (buffer.size() == 0) buffer.shrink_to_fit();  // nothing pipelined: hold no read buffer while streaming
    if (!co_await handle_request(state, pool, socket, write_timer, buffer, *request)) break;
    limits.wait_timeout = config.client_idle_timeout;
  }
  socket.shutdown(tcp::socket::shutdown_send, ignored);
  socket.close(ignored);
}

}  // namespace pd_proxy
