#include "pd_proxy/core/http/readiness.hpp"

#include <nlohmann/json.hpp>
#include <string_view>

namespace pd_proxy {

route_answer ready_answer(const readiness_inputs& in) {
  std::string_view reason;
  if (in.draining) {
    reason = "proxy shutting down";
  } else if (in.prefill_usable == 0) {
    reason = "no healthy prefill instance";
  } else if (in.decode_usable == 0) {
    reason = "no healthy decode instance";
  }
  nlohmann::ordered_json body = {{"status", reason.empty() ? "ready" : "not_ready"}};
  if (!reason.empty()) body["reason"] = reason;
  body["prefill_healthy"] = in.prefill_usable;
  body["decode_healthy"] = in.decode_usable;
  return {reason.empty() ? 200 : 503, body.dump()};
}

std::string healthcheck_body(const healthcheck_inputs& in) {
  const nlohmann::ordered_json body = {{"status", "ok"},
                                       {"prefill_instances", in.prefill_instances},
                                       {"decode_instances", in.decode_instances},
                                       {"request_num", in.request_num},
                                       {"prefill_healthy", in.prefill_healthy},
                                       {"decode_healthy", in.decode_healthy},
                                       {"queued", in.queued}};
  return body.dump();
}

}  // namespace pd_proxy
