// Observes one client request: its record is filled in while it runs, and when the observer goes (on every
// path: an answer, an error, the client's departure, a cancelled coroutine) the record reaches the calling
// thread's metrics shard and the access log.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "pd_proxy/core/observe/request_record.hpp"
#include "pd_proxy/net/http/client_response.hpp"
#include "pd_proxy/net/observe/record_sinks.hpp"

namespace pd_proxy {

/// The client's "ip:port" as the access log writes it; empty when the access log is off (nothing is
/// formatted then) or the peer is not known.
std::string client_address_for_log(const access_log& access, const tcp::socket& socket);

class request_observer {
 public:
  /// `route` is the request's label (core/http/routes). `client_address` is copied (with the request id)
  /// only when the access log is on.
  request_observer(record_sinks sinks, const client_response& response, std::string_view method,
                   request_route route, std::string_view request_id, std::string_view client_address,
                   std::size_t prompt_bytes);
  ~request_observer();
  request_observer(const request_observer&) = delete;
  request_observer& operator=(const request_observer&) = delete;

  request_record& record() { return record_; }
  /// The PD flow ended with `outcome` (else the outcome follows the status).
  void pd_ended(request_outcome outcome) { flow_outcome_ = outcome; }
  /// The client went away: client_abort (status 499 when no response head was sent).
  void client_gone() { client_gone_ = true; }
  /// The drain refused the request.
  void shutting_down() { shutting_down_ = true; }

 private:
  record_sinks sinks_;
  const client_response& response_;
  request_record record_;
  std::optional<request_outcome> flow_outcome_;
  bool client_gone_ = false;
  bool shutting_down_ = false;
};

}  // namespace pd_proxy
