#include "pd_proxy/net/client/models_route.hpp"

#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "pd_proxy/core/http/http_wire.hpp"
#include "pd_proxy/core/time/deadline.hpp"
#include "pd_proxy/net/backend/backend_stream.hpp"
#include "pd_proxy/net/operation_timer.hpp"

namespace pd_proxy {
namespace {

using clock = std::chrono::steady_clock;

constexpr seconds_d models_timeout{3.0};
constexpr std::size_t models_fanout = 32;  // backends asked at the same time

// A backend asked; shared so that it outlives its removal from the registry while it is asked.
using models_target = std::shared_ptr<const backend>;

struct models_answer {
  int status;
  std::string content_type;
  std::string body;
};

// The state the request and its attempts share; all of it lives on the worker's one thread.
struct models_race {
  models_race(const net::any_io_executor& executor, std::vector<models_target> all)
      : wake(executor),
        targets(std::move(all)),
        signals(std::make_unique<net::cancellation_signal[]>(targets.size())) {}

  net::steady_timer wake;  // cancelled when an answer won or the last attempt ended
  std::vector<models_target> targets;
  std::unique_ptr<net::cancellation_signal[]> signals;  // one per target, to cancel its attempt
  std::size_t next = 0;                                 // the next target to ask
  std::size_t running = 0;
  std::optional<models_answer> winner;
  std::string backend_headers;                 // forwarded client headers, on every attempt
  std::shared_ptr<const proxy_config> config;  // the request's
  bool decided() const { return winner.has_value() || (running == 0 && next == targets.size()); }
};

void launch_next(const std::shared_ptr<models_race>& race, connection_pool& pool, std::string_view request_id,
                 clock::time_point deadline);

net::awaitable<void> ask_models(std::shared_ptr<models_race> race, connection_pool& pool,
                                std::string request_id, models_target target, clock::time_point deadline) {
  const auto& config = *race->config;
  backend_stream leg(pool, *target);
  std::string_view api_key = config.backend_api_key;
  if (config.forward_client_authorization) api_key = {};  // the client's own header is in backend_headers
  const std::string head = format_backend_request_head(
      {"GET", "/v1/models", target->authority(), request_id, api_key, std::nullopt, race->backend_headers});
  const seconds_d left = time_left<clock>(deadline, clock::now());
  const seconds_d connect =
      config.connect_timeout.count() > 0 ? std::min(config.connect_timeout, left) : left;
  auto failure = co_await leg.open(head, {}, connect, left);
  std::string body;
  if (failure == backend_failure::none)
    failure = co_await leg.read_all(body, config.max_body_size, time_left<clock>(deadline, clock::now()));
  --race->running;
  // An answer with nothing in it is no list of models: a 200 with an empty body is never relayed.
  if (failure == backend_failure::none && leg.status() >= 200 && leg.status() < 300 && !body.empty() &&
      !race->winner) {
    race->winner = models_answer{leg.status(), std::string(leg.content_type()), std::move(body)};
  }
  if (!race->decided() && !co_await cancelled()) launch_next(race, pool, request_id, deadline);
  if (race->decided()) race->wake.cancel();
}

void launch_next(const std::shared_ptr<models_race>& race, connection_pool& pool, std::string_view request_id,
                 clock::time_point deadline) {
  if (race->next == race->targets.size()) return;
  const std::size_t i = race->next++;
  ++race->running;
  net::co_spawn(race->wake.get_executor(),
                ask_models(race, pool, std::string(request_id), race->targets[i], deadline),
                net::bind_cancellation_slot(race->signals[i].slot(), net::detached));
}

}  // namespace

net::awaitable<void> serve_models(const models_sources& sources, client_response& response,
                                  std::string_view request_id, std::string_view backend_headers) {
  // Prefillers and decoders alternate, so that neither role's dead backends can keep the other's from being
  // asked.
  const auto backends = sources.backends.snapshot();
  const auto& prefillers = backends->prefillers;
  const auto& decoders = backends->decoders;
  // Usable backends (healthy, breaker closed) are asked first; the others only after them.
  std::vector<models_target> targets, unusable;
  targets.reserve(prefillers.size() + decoders.size());
  const auto add = [&](const std::shared_ptr<backend>& b) {
    auto& list = b->health.load(std::memory_order_relaxed) == backend_health::usable ? targets : unusable;
    list.push_back(b);
  };
  for (std::size_t i = 0; i < std::max(prefillers.size(), decoders.size()); ++i) {
    if (i < prefillers.size()) add(prefillers[i]);
    if (i < decoders.size()) add(decoders[i]);
  }
  targets.insert(targets.end(), unusable.begin(), unusable.end());
  const auto deadline = clock::now() + to_timer_duration(models_timeout);
  auto race = std::make_shared<models_race>(co_await net::this_coro::executor, std::move(targets));
  race->backend_headers = std::string(backend_headers);
  race->config = sources.config;
  for (std::size_t i = 0; i < models_fanout; ++i) launch_next(race, sources.pool, request_id, deadline);
  if (!race->decided()) {
    race->wake.expires_at(deadline);
    co_await race->wake.async_wait(
        use_nothrow);  // an answer won, all failed, the deadline, or the client left
  }
  for (std::size_t i = 0; i < race->targets.size(); ++i)
    race->signals[i].emit(net::cancellation_type::terminal);
  if (co_await cancelled()) co_return;
  if (race->winner) {
    const auto& answer = *race->winner;
    // Computed first: GCC 12 destroys a conditional's temporary twice inside a co_await expression.
    const std::string_view content_type = answer.content_type.empty() ? std::string_view("application/json")
                                                                      : std::string_view(answer.content_type);
    co_await response.send_whole(answer.status, content_type, answer.body);
  } else {
    co_await response.send_error(errc::no_backend, "no backend answered GET /v1/models");
  }
}

}  // namespace pd_proxy
