#include "pd_proxy/net/flow/pd_driver.hpp"

#include "pd_proxy/core/admission/inflight_guard.hpp"
#include "pd_proxy/core/memory/recycled_blocks.hpp"
#include "pd_proxy/net/backend/backend_stream.hpp"
#include "pd_proxy/net/flow/basic_pd_driver.hpp"
#include "pd_proxy/net/flow/signal_board.hpp"

namespace pd_proxy {
namespace {

struct socket_io {
  using clock = std::chrono::steady_clock;
  using connections = connection_pool;
  using stream = backend_stream;
  using client = client_response;
};

}  // namespace

net::awaitable<request_outcome> run_pd_flow(const pd_driver_deps& deps, connection_pool& connections,
                                            stop_list& stoppable, flow_request& request,
                                            client_response& response) {
  const inflight_guard in_flight(deps.in_flight);
  deps.counters.pd_requests.fetch_add(1, std::memory_order_relaxed);
  flow_settings settings = flow_settings_of(*deps.config);
  if (deps.signals != nullptr) settings.metaserver_url = deps.signals->url();  // the bound port's
  const auto machine = deps.protocol.make(settings, request.body, request.request_id);
  request.record.prefill_skipped = machine->prefill_skipped();  // counted when the request ends
  const auto driver = recycled_blocks<basic_pd_driver<socket_io>>::make(deps, connections, request, response,
                                                                        *machine, stoppable);
  co_return co_await driver->run();
}

}  // namespace pd_proxy
