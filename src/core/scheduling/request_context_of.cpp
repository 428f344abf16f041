#include "pd_proxy/core/scheduling/request_context_of.hpp"

#include <algorithm>

#include "pd_proxy/core/flow/request_rewrite.hpp"

namespace pd_proxy {

request_context request_context_of(const client_request& request, std::string_view session_id,
                                   std::size_t prefix_bytes) {
  request_context context;
  context.estimated_prompt_tokens = estimated_prompt_tokens(request.size());
  for (const auto& member : request.members()) {
    const std::string_view name = request.name(member);
    const std::string_view value = request.value(member);
    if (name == "model") {
      context.model = value.size() >= 2 && value.front() == '"' && value.back() == '"'
                          ? value.substr(1, value.size() - 2)
                          : value;
    } else if (name == "prompt" || name == "messages") {
      context.prefix_key = affinity_hash(value.substr(0, std::min(prefix_bytes, value.size())));
    }
  }
  if (!session_id.empty()) context.session_key = affinity_hash(session_id);
  return context;
}

}  // namespace pd_proxy
