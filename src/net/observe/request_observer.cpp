#include "pd_proxy/net/observe/request_observer.hpp"

namespace pd_proxy {

std::string client_address_for_log(const access_log& access, const tcp::socket& socket) {
  if (!access.enabled()) return {};
  error_code ec;
  const auto peer = socket.remote_endpoint(ec);
  if (ec) return {};
  return peer.address().to_string() + ":" + std::to_string(peer.port());
}

request_observer::request_observer(record_sinks sinks, const client_response& response,
                                   std::string_view method, request_route route, std::string_view request_id,
                                   std::string_view client_address, std::size_t prompt_bytes)
    : sinks_(sinks), response_(response) {
  record_.received = request_record::clock::now();
  record_.method = method;
  record_.route = route;
  record_.prompt_bytes = prompt_bytes;
  if (sinks_.access.enabled()) {
    record_.wall_received = std::chrono::system_clock::now();
    record_.request_id.assign(request_id);
    record_.client_address.assign(client_address);
  }
}

request_observer::~request_observer() {
  record_.end = request_record::clock::now();
  record_.status = response_.status();
  record_.bytes_sent = response_.bytes_sent();
  if (client_gone_) {
    record_.outcome = request_outcome::client_abort;
    if (record_.status == 0) record_.status = 499;  // nginx's "client closed request"
  } else if (shutting_down_) {
    record_.outcome = request_outcome::shutting_down;
  } else if (flow_outcome_) {
    record_.outcome = *flow_outcome_;
  } else if (record_.status == 0) {
    record_.outcome = request_outcome::client_abort;  // ended before any answer: the connection was cut
  } else {
    record_.outcome = outcome_of_status(record_.status);
  }
  if (record_.status == 0) record_.status = 499;  // cancelled before any answer (the connection was cut)
  sinks_.finish(std::move(record_));
}

}  // namespace pd_proxy
