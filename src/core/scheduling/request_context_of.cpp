#include "pd_proxy/core/scheduling/request_context_of.hpp"

#include <algorithm>

#include "pd_proxy/core/flow/request_rewrite.hpp"

namespace pd_proxy {

std::uint64_t affinity_hash(std::string_view bytes) {
  std::uint64_t h = 0xcbf29ce484222325ULL;  // FNV-1a 64
  for (const char c : bytes) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ULL;
  }
  h ^= h >> 30;  // splitmix64's finalizer
  h *= 0xbf58476d1ce4e5b9ULL;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebULL;
  h ^= h >> 31;
  return h == 0 ? 1 : h;
}

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
