// One PD request while it runs, in one place (as nghttpx's Downstream): what the client sent, what the proxy
// decided about it and what it keeps for a continuation. The protocol's decisions live in its flow_machine;
// the driver's sockets and reservations in its leg table.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "pd_proxy/core/admission/body_budget.hpp"
#include "pd_proxy/core/flow/request_rewrite.hpp"
#include "pd_proxy/core/observe/request_record.hpp"
#include "pd_proxy/core/scheduling/request_context.hpp"
#include "pd_proxy/core/scheduling/request_context_of.hpp"

namespace pd_proxy {

/// The client's request and what belongs to it for its whole run. The prompt (the client's text, its share of
/// --max-buffered-body-bytes, the views of it in `context`) is freed at the first byte relayed to the client
/// unless a protocol keeps it for a continuation (flow_action::keep_request): then the relayed bytes are
/// kept too, in `generated`, up to `generated_limit`. Not thread-safe; lives in its request's coroutine.
class flow_request {
 public:
  /// `body`, `body_hold`, `record` and the views must outlive the object.
  flow_request(std::string_view path, client_request& checked, body_budget::reservation& hold,
               std::string_view id, request_record& log_record, std::string_view headers = {},
               std::string_view session_id = {})
      : route(path),
        body(checked),
        request_id(id),
        backend_headers(headers),
        record(log_record),
        context(request_context_of(checked, session_id)),
        body_hold_(hold) {}
  flow_request(const flow_request&) = delete;
  flow_request& operator=(const flow_request&) = delete;

  std::string_view route;            // backend path: "/v1/completions" or "/v1/chat/completions"
  client_request& body;              // the client's request, scanned
  std::string_view request_id;       // X-Request-Id of every leg (a machine may send another)
  std::string_view backend_headers;  // forwarded client headers of every leg (forwarded_header_lines)
  request_record& record;            // what the request did: backends, retries, times
  request_context context;           // its scheduling inputs (`tried` is set per reserve)

  /// What the relay sent to the client, kept while keep_generated() (bounded by generated_limit).
  std::string generated;
  static constexpr std::size_t generated_limit = 4 * 1024 * 1024;
  bool keeps_prompt() const { return keep_prompt_; }

  /// Frees the prompt now (no continuation can need it): the client's text, its budget share and the views of
  /// it. Idempotent.
  void release_prompt() {
    context.model = {};
    body.release();
    body_hold_.release();
  }
  /// Keeps the prompt past the first byte and records the relayed bytes (a continuation will need both).
  void keep_for_continuation() { keep_prompt_ = true; }
  /// Appends relayed bytes to `generated` while the prompt is kept; false once `generated_limit` is
  /// reached (the request can no longer be continued exactly).
  bool keep_generated(std::string_view bytes) {
    if (!keep_prompt_) return false;
    if (generated.size() + bytes.size() > generated_limit) return false;
    generated.append(bytes);
    return true;
  }

 private:
  body_budget::reservation& body_hold_;
  bool keep_prompt_ = false;
};

}  // namespace pd_proxy
