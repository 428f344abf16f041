#include "pd_proxy/net/client/client_session.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <nlohmann/json.hpp>
#include <variant>

#include "pd_proxy/core/http/authorization.hpp"
#include "pd_proxy/core/http/forwarded_headers.hpp"
#include "pd_proxy/core/http/http_wire.hpp"
#include "pd_proxy/core/http/request_id.hpp"
#include "pd_proxy/core/scheduling/request_context_of.hpp"
#include "pd_proxy/net/backend/backend_stream.hpp"
#include "pd_proxy/net/client/admission_wait.hpp"
#include "pd_proxy/net/client/client_request_reader.hpp"
#include "pd_proxy/net/client/models_route.hpp"
#include "pd_proxy/net/flow/pd_driver.hpp"
#include "pd_proxy/net/http/client_response.hpp"
#include "pd_proxy/net/observe/metrics_exposition.hpp"
#include "pd_proxy/net/observe/refusal.hpp"
#include "pd_proxy/net/observe/request_observer.hpp"
#include "pd_proxy/net/pools/admin_routes.hpp"

namespace pd_proxy {
namespace {

std::string healthcheck_body(const proxy_state& state) {
  const auto backends = state.backends.snapshot();
  const nlohmann::ordered_json body = {{"status", "ok"},
                                       {"prefill_instances", backends->prefillers.size()},
                                       {"decode_instances", backends->decoders.size()},
                                       {"request_num", state.request_num.load(std::memory_order_relaxed)},
                                       {"prefill_healthy", state.sched.usable(backend_role::prefill)},
                                       {"decode_healthy", state.sched.usable(backend_role::decode)},
                                       {"queued", state.admission.queued()}};
  return body.dump();
}

// GET /ready: 200 when a request could be served now (a usable prefiller and decoder, not draining).
struct readiness {
  int status;
  std::string body;
};

readiness ready_answer(const proxy_state& state) {
  const std::size_t prefill = state.sched.usable(backend_role::prefill);
  const std::size_t decode = state.sched.usable(backend_role::decode);
  std::string_view reason;
  if (state.draining.load(std::memory_order_relaxed)) {
    reason = "proxy shutting down";
  } else if (prefill == 0) {
    reason = "no healthy prefill instance";
  } else if (decode == 0) {
    reason = "no healthy decode instance";
  }
  nlohmann::ordered_json body = {{"status", reason.empty() ? "ready" : "not_ready"}};
  if (!reason.empty()) body["reason"] = reason;
  body["prefill_healthy"] = prefill;
  body["decode_healthy"] = decode;
  return {reason.empty() ? 200 : 503, body.dump()};
}

enum class route { completions, chat_completions, healthcheck, health, ready, models, unknown, metrics };

route route_of(std::string_view path) {
  if (path == "/v1/completions") return route::completions;
  if (path == "/v1/chat/completions") return route::chat_completions;
  if (path == "/healthcheck") return route::healthcheck;
  if (path == "/health") return route::health;
  if (path == "/ready") return route::ready;
  if (path == "/v1/models") return route::models;
  if (path == "/metrics") return route::metrics;
  return route::unknown;
}

// The methods a route serves, as an Allow header value; HEAD is served wherever GET is.
std::string_view allowed_methods(route r) {
  switch (r) {
    case route::completions:
    case route::chat_completions:
      return "POST";
    case route::healthcheck:
    case route::health:
    case route::ready:
    case route::models:
    case route::metrics:
      return "GET, HEAD";
    case route::unknown:
      return {};
  }
  return {};
}

// The routes behind --api-key: the OpenAI routes. Health, readiness and metrics stay open.
bool needs_api_key(route r) {
  return r == route::completions || r == route::chat_completions || r == route::models;
}

// What of the client's head goes to the backends (docs/security.md): trace context always, Authorization
// only with --forward-client-authorization.
std::string backend_header_lines(const proxy_config& config, const http::request<http::string_body>& req) {
  client_forwarded_values values;
  values.traceparent = std::string_view(req["traceparent"]);
  values.tracestate = std::string_view(req["tracestate"]);
  if (config.forward_client_authorization)
    values.authorization = std::string_view(req[http::field::authorization]);
  return forwarded_header_lines(values);
}

bool method_allowed(route r, http::verb method) {
  if (r == route::completions || r == route::chat_completions) return method == http::verb::post;
  return method == http::verb::get || method == http::verb::head;
}

// The PD flow behind --max-inflight: waits for a slot in the queue, or answers 429 with Retry-After.
net::awaitable<request_outcome> admit_and_run(proxy_state& state, const pd_driver_deps& deps,
                                              connection_pool& pool, stop_list& stoppable,
                                              flow_request& request, client_response& response) {
  co_await net::this_coro::throw_if_cancelled(false);
  const seconds_d queue_timeout = deps.config->queue_timeout;  // reloadable
  auto admitted = co_await wait_for_slot(state.admission, queue_timeout);
  switch (admitted.outcome) {
    case admission::result::admitted:
      co_return co_await run_pd_flow(deps, pool, stoppable, request, response);
    case admission::result::queue_full:
      co_await response.send_error(errc::too_many_requests,
                                   "too many requests in flight and the queue is full", retry_after_header);
      co_return request_outcome::rejected;
    case admission::result::timed_out:
      co_await response.send_error(errc::too_many_requests,
                                   "too many requests in flight: timed out in the queue", retry_after_header);
      co_return request_outcome::rejected;
    case admission::result::shutting_down:  // the drain began while it waited: it never gets a slot
      response.close_after_response();
      co_await response.send_error(errc::shutting_down, "proxy shutting down", retry_after_header);
      co_return request_outcome::shutting_down;
    case admission::result::cancelled:
      break;
  }
  co_return request_outcome::client_abort;
}

// Handles one request that was read whole. Returns false when the connection must end.
net::awaitable<bool> handle_request(proxy_state& state, connection_pool& pool, stop_list& stoppable,
                                    client_stream socket, operation_timer& write_timer,
                                    beast::flat_buffer& buffer, client_message& message,
                                    std::string_view client_address) {
  const auto config_ptr = state.current_config();  // this request's, whatever a reload does meanwhile
  const auto& config = *config_ptr;
  auto& req = message.request;
  const std::string request_id = choose_request_id(req["X-Request-Id"]);
  const bool draining = state.draining.load(std::memory_order_relaxed);
  client_response response(socket, write_timer, request_id, req.keep_alive() && !draining,
                           req.version() == 10, config.stream_idle_timeout);
  if (req.method() == http::verb::head) response.omit_body();
  const std::string_view path = path_of(req.target());
  const route r = route_of(path);
  request_observer observed(state, response, http::to_string(req.method()), path, request_id, client_address,
                            req.body().size());

  if (r == route::ready && (req.method() == http::verb::get || req.method() == http::verb::head)) {
    const readiness ready = ready_answer(state);  // 503 at once while draining
    co_await response.send_whole(ready.status, "application/json", ready.body);
    co_return response.keep_alive();
  }
  if (draining) {
    observed.shutting_down();
    co_await response.send_error(errc::shutting_down, "proxy shutting down", retry_after_header);
    co_return false;
  }
  if (is_admin_route(path)) {  // /instances, /instances/add, /instances/remove, /reset_prefix_cache
    co_await serve_admin_route(state, response, req, peer_is_loopback(socket.socket()));
    co_return response.keep_alive();
  }
  if (r == route::unknown) {
    const std::string text = "no route for " + std::string(path);
    co_await response.send_error(errc::not_found, text);
    co_return response.keep_alive();
  }
  if (needs_api_key(r)) {
    const api_key_check verdict =
        check_api_key(std::string_view(req[http::field::authorization]), config.api_keys);
    if (verdict != api_key_check::none) {
      std::string_view text = "invalid API key";
      if (verdict == api_key_check::missing) text = "missing API key: send 'Authorization: Bearer <key>'";
      co_await response.send_error(errc::unauthorized, text, www_authenticate_header);
      co_return response.keep_alive();
    }
  }
  if (!method_allowed(r, req.method())) {
    const std::string allow = "Allow: " + std::string(allowed_methods(r)) + "\r\n";
    const std::string text = std::string(req.method_string()) + " is not allowed on " + std::string(path);
    co_await response.send_error(errc::method_not_allowed, text, allow);
    co_return response.keep_alive();
  }
  if (r == route::health) {
    co_await response.send_whole(200, "application/json", R"({"status":"ok"})");
    co_return response.keep_alive();
  }
  if (r == route::metrics) {
    const std::string exposition = render_metrics(state);
    co_await response.send_whole(200, metrics_content_type, exposition);
    co_return response.keep_alive();
  }
  if (r == route::healthcheck) {
    co_await response.send_whole(200, "application/json", healthcheck_body(state));
    co_return response.keep_alive();
  }

  using namespace net::experimental::awaitable_operators;
  client_watch watch;
  bool client_gone = false;
  if (r == route::models) {
    inflight_guard inflight(state.other_requests);
    const std::string backend_headers = backend_header_lines(config, req);
    const auto finished = co_await (serve_models(state, pool, response, request_id, backend_headers) ||
                                    watch_client(socket, buffer, config.ignore_client_half_close, watch));
    client_gone = finished.index() == 1;
  } else {
    const std::string backend_headers = backend_header_lines(config, req);
    auto checked = client_request::check(std::move(req.body()));
    if (!checked.request) {
      co_await response.send_error(errc::bad_request, checked.error);
      co_return response.keep_alive();
    }
    flow_request request(r == route::completions ? "/v1/completions" : "/v1/chat/completions",
                         *checked.request, message.body_hold, request_id, observed.record(), backend_headers,
                         std::string_view(req[session_header]));
    const pd_driver_deps deps{state.sched,       state.counters, state.metrics.local(),
                              state.request_num, config_ptr,     state.protocol};
    std::variant<request_outcome, std::monostate> finished;
    if (state.admission.limited()) {
      finished = co_await (admit_and_run(state, deps, pool, stoppable, request, response) ||
                           watch_client(socket, buffer, config.ignore_client_half_close, watch));
    } else {
      finished = co_await (run_pd_flow(deps, pool, stoppable, request, response) ||
                           watch_client(socket, buffer, config.ignore_client_half_close, watch));
    }
    client_gone = finished.index() == 1;
    if (!client_gone) spdlog::debug("request {}: {}", request_id, to_string(std::get<0>(finished)));
    if (!client_gone) observed.pd_ended(std::get<0>(finished));
  }
  if (client_gone) {
    observed.client_gone();
    state.counters.client_disconnects.fetch_add(1, std::memory_order_relaxed);
    spdlog::debug("request {}: client disconnected; backend legs closed", request_id);
    co_return false;
  }
  co_return response.keep_alive() && !watch.pipeline_dropped && !watch.half_closed;
}

// The connection's requests one after another, on its plain or TLS stream.
net::awaitable<void> serve_requests(client_stream socket, proxy_state& state, connection_pool& pool,
                                    stop_list& stoppable) {
  co_await net::this_coro::throw_if_cancelled(false);
  auto config = state.current_config();  // taken again before each request: a reload applies to the next one
  beast::flat_buffer buffer;  // reads take at most its free capacity (512 bytes when empty): reserved below
  request_limits limits{64 * 1024, config->max_body_size, config->client_header_timeout,
                        config->client_header_timeout, config->stream_idle_timeout};
  operation_timer read_timer, write_timer;  // the connection's, for its requests one after another
  const std::string client_address = client_address_for_log(state, socket.socket());
  refusal refused;
  while (true) {
    buffer.reserve(8 * 1024);
    auto message = co_await read_client_request(socket, buffer, limits, read_timer, state.bodies, refused);
    if (!message) {
      record_refusal(state, std::move(refused), client_address);
      break;
    }
    if (buffer.size() == 0) buffer.shrink_to_fit();  // nothing pipelined: hold no read buffer while streaming
    if (!co_await handle_request(state, pool, stoppable, socket, write_timer, buffer, *message,
                                 client_address))
      break;
    if (state.draining.load(std::memory_order_relaxed)) break;
    config = state.current_config();
    limits = request_limits{64 * 1024, config->max_body_size, config->client_header_timeout,
                            config->client_header_timeout, config->stream_idle_timeout};
    limits.wait_timeout = config->client_idle_timeout;
  }
}

}  // namespace

net::awaitable<void> run_client_session(tcp::socket socket, proxy_state& state, connection_pool& pool,
                                        stop_list& stoppable) {
  co_await net::this_coro::throw_if_cancelled(false);
  error_code ignored;
  socket.set_option(tcp::no_delay(true), ignored);
  if (!state.tls) {
    co_await serve_requests(socket, state, pool, stoppable);
    socket.shutdown(tcp::socket::shutdown_send, ignored);
    socket.close(ignored);
    co_return;
  }
  // TLS: the handshake within --client-header-timeout; a failed or slow one closes the connection. The end
  // is a TCP shutdown without close_notify: every response is framed, so the client has it whole already.
  tls_stream tls(std::move(socket), *state.tls);
  operation_timer handshake_timer;
  auto [ec] = co_await handshake_timer.run(
      [&](auto token) { return tls.async_handshake(net::ssl::stream_base::server, token); },
      state.current_config()->client_header_timeout);
  if (!ec) {
    co_await serve_requests(client_stream(tls), state, pool, stoppable);
  } else {
    spdlog::debug("TLS handshake failed: {}", ec.message());
  }
  tls.next_layer().shutdown(tcp::socket::shutdown_send, ignored);
  tls.next_layer().close(ignored);
}

}  // namespace pd_proxy
