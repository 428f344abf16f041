#include "pd_proxy/net/client/client_session.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <variant>

#include "pd_proxy/core/http/authorization.hpp"
#include "pd_proxy/core/http/forwarded_headers.hpp"
#include "pd_proxy/core/http/http_wire.hpp"
#include "pd_proxy/core/http/readiness.hpp"
#include "pd_proxy/core/http/request_id.hpp"
#include "pd_proxy/core/http/routes.hpp"
#include "pd_proxy/core/scheduling/request_context_of.hpp"
#include "pd_proxy/net/backend/backend_stream.hpp"
#include "pd_proxy/net/client/admission_wait.hpp"
#include "pd_proxy/net/client/client_request_reader.hpp"
#include "pd_proxy/net/client/metaserver_route.hpp"
#include "pd_proxy/net/client/models_route.hpp"
#include "pd_proxy/net/flow/pd_driver.hpp"
#include "pd_proxy/net/http/client_response.hpp"
#include "pd_proxy/net/observe/metrics_exposition.hpp"
#include "pd_proxy/net/observe/refusal.hpp"
#include "pd_proxy/net/observe/request_observer.hpp"
#include "pd_proxy/net/pools/admin_routes.hpp"

namespace pd_proxy {
namespace {

// GET /healthcheck's counts, gathered from the registry, the scheduler and the admission queue.
healthcheck_inputs healthcheck_inputs_of(const proxy_state& state) {
  const auto backends = state.backends.snapshot();
  return {.prefill_instances = backends->prefillers.size(),
          .decode_instances = backends->decoders.size(),
          .request_num = state.request_num.load(std::memory_order_relaxed),
          .prefill_healthy = state.sched.usable(backend_role::prefill),
          .decode_healthy = state.sched.usable(backend_role::decode),
          .queued = state.admission.queued()};
}

// GET /ready's inputs: the usable backends of each role and the drain flag.
readiness_inputs readiness_inputs_of(const proxy_state& state) {
  return {.prefill_usable = state.sched.usable(backend_role::prefill),
          .decode_usable = state.sched.usable(backend_role::decode),
          .draining = state.draining.load(std::memory_order_relaxed)};
}

// GET /metrics' sources.
metrics_sources metrics_sources_of(proxy_state& state) {
  return {state.metrics,   state.backends,           state.sched,   state.request_num,
          state.admission, state.client_connections, *state.access, state.engines};
}

// The admin routes' sources.
admin_sources admin_sources_of(proxy_state& state) {
  return {state.pools, state.backends, state.config, state.draining, state.other_requests};
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
  request_observer observed(state.sinks(), response, http::to_string(req.method()), label_of(r), request_id,
                            client_address, req.body().size());

  if (r == route::ready && method_allowed(r, req.method_string())) {
    const route_answer ready = ready_answer(readiness_inputs_of(state));  // 503 at once while draining
    co_await response.send_whole(ready.status, "application/json", ready.body);
    co_return response.keep_alive();
  }
  if (r == route::metaserver && state.signals && method_allowed(r, req.method_string())) {
    // Decoders call back while the drain lets their requests finish: served even then.
    using namespace net::experimental::awaitable_operators;
    client_watch watch;
    const auto finished = co_await (serve_metaserver(*state.signals, response, req.body()) ||
                                    watch_client(socket, buffer, config.ignore_client_half_close, watch));
    if (finished.index() == 1) co_return false;
    co_return response.keep_alive() && !watch.pipeline_dropped && !watch.half_closed;
  }
  if (draining) {
    observed.shutting_down();
    co_await response.send_error(errc::shutting_down, "proxy shutting down", retry_after_header);
    co_return false;
  }
  if (r == route::unknown || (r == route::metaserver && !state.signals)) {
    const std::string text = "no route for " + std::string(path);
    co_await response.send_error(errc::not_found, text);
    co_return response.keep_alive();
  }
  const route_guard guard = guard_of(r);
  const auto refused = check_access(guard, std::string_view(req[http::field::authorization]),
                                    guard == route_guard::admin && peer_is_loopback(socket.socket()),
                                    config.api_keys, config.admin_api_key);
  if (refused) {
    co_await response.send_error(refused->code, refused->text, refused->headers);
    co_return response.keep_alive();
  }
  if (const auto wrong_method = check_method(r, req.method_string(), path)) {
    co_await response.send_error(errc::method_not_allowed, wrong_method->text, wrong_method->allow);
    co_return response.keep_alive();
  }
  switch (r) {
    case route::health:
      co_await response.send_whole(200, "application/json", R"({"status":"ok"})");
      co_return response.keep_alive();
    case route::metrics: {
      const std::string exposition = render_metrics(metrics_sources_of(state));
      co_await response.send_whole(200, metrics_content_type, exposition);
      co_return response.keep_alive();
    }
    case route::healthcheck:
      co_await response.send_whole(200, "application/json", healthcheck_body(healthcheck_inputs_of(state)));
      co_return response.keep_alive();
    case route::instances:
    case route::instances_add:
    case route::instances_remove:
    case route::reset_prefix_cache: {
      const admin_sources sources = admin_sources_of(state);
      co_await serve_admin_route(sources, response, req, r);
      co_return response.keep_alive();
    }
    default:
      break;
  }

  using namespace net::experimental::awaitable_operators;
  client_watch watch;
  bool client_gone = false;
  if (r == route::models) {
    inflight_guard inflight(state.other_requests);
    const std::string backend_headers = backend_header_lines(config, req);
    const models_sources sources{state.backends, config_ptr, pool};
    const auto finished = co_await (serve_models(sources, response, request_id, backend_headers) ||
                                    watch_client(socket, buffer, config.ignore_client_half_close, watch));
    client_gone = finished.index() == 1;
  } else {
    const std::string backend_headers = backend_header_lines(config, req);
    auto checked = client_request::check(std::move(req.body()));
    if (!checked.request) {
      co_await response.send_error(errc::bad_request, checked.error);
      co_return response.keep_alive();
    }
    flow_request request(
        r == route::completions ? "/v1/completions" : "/v1/chat/completions", *checked.request,
        message.body_hold, request_id, observed.record(), backend_headers,
        reads_session_header(config) ? std::string_view(req[config.session_header]) : std::string_view{});
    const pd_driver_deps deps{state.sched, state.counters, state.metrics.local(), state.request_num,
                              config_ptr,  state.protocol, state.signals.get()};
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
  const std::string client_address = client_address_for_log(*state.access, socket.socket());
  refusal refused;
  while (true) {
    buffer.reserve(8 * 1024);
    auto message = co_await read_client_request(socket, buffer, limits, read_timer, state.bodies, refused);
    if (!message) {
      record_refusal(state.sinks(), std::move(refused), client_address);
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
