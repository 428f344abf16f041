#include "pd_proxy/net/observe/refusal.hpp"

namespace pd_proxy {

request_outcome refusal_outcome(int status) {
  return status == 503 ? request_outcome::rejected : request_outcome::invalid_request;
}

void record_refusal(record_sinks sinks, refusal&& refused, std::string_view client_address) {
  if (refused.status == 0) return;
  request_record record;
  record.end = request_record::clock::now();  // `received` stays unreached: the request was never read whole
  record.method = refused.method;
  record.route = refused.route;
  record.status = refused.status;
  record.outcome = refused.outcome;
  record.bytes_sent = refused.bytes_sent;
  if (sinks.access.enabled()) {
    record.wall_received = refused.answered;
    record.request_id = std::move(refused.request_id);
    record.client_address.assign(client_address);
  }
  sinks.finish(std::move(record));
}

}  // namespace pd_proxy
