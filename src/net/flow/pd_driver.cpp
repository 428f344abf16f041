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

using socket_driver = basic_pd_driver<socket_io>;

// What one request's flow owns, kept in the driver's coroutine frame; members go in reverse order (the driver
// refers to the machine).
struct flow_owner {
  inflight_guard in_flight;
  std::unique_ptr<flow_machine> machine;
  recycled_blocks<socket_driver>::pointer driver;
};

}  // namespace

// Not a coroutine: the request's one coroutine frame is the driver's.
net::awaitable<request_outcome> run_pd_flow(const pd_driver_deps& deps, connection_pool& connections,
                                            stop_list& stoppable, flow_request& request,
                                            client_response& response) {
  deps.counters.pd_requests.fetch_add(1, std::memory_order_relaxed);
  flow_settings settings = flow_settings_of(*deps.config);
  if (deps.signals != nullptr) settings.metaserver_url = deps.signals->url();  // the bound port's
  auto machine = deps.protocol.make(settings, request.body, request.request_id);
  request.record.prefill_skipped = machine->prefill_skipped();  // counted when the request ends
  auto driver =
      recycled_blocks<socket_driver>::make(deps, connections, request, response, *machine, stoppable);
  socket_driver& flow = *driver;
  return flow.run_owned(flow_owner{.in_flight = inflight_guard(deps.in_flight),
                                   .machine = std::move(machine),
                                   .driver = std::move(driver)});
}

}  // namespace pd_proxy
