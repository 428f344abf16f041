#include "pd_proxy/core/http/routes.hpp"

#include <array>

#include "pd_proxy/core/http/ascii.hpp"

namespace pd_proxy {
namespace {

enum class methods : std::uint8_t { post, get_head };

struct route_entry {
  std::string_view path;
  route id;
  request_route label;
  methods served;
  route_guard guard;
};

// Looked up in this order: the PD routes first (the common case), then the rest.
constexpr std::array<route_entry, 12> table{{
    {"/v1/completions", route::completions, request_route::completions, methods::post, route_guard::api_key},
    {"/v1/chat/completions", route::chat_completions, request_route::chat_completions, methods::post,
     route_guard::api_key},
    {"/healthcheck", route::healthcheck, request_route::healthcheck, methods::get_head, route_guard::open},
    {"/health", route::health, request_route::health, methods::get_head, route_guard::open},
    {"/ready", route::ready, request_route::ready, methods::get_head, route_guard::open},
    {"/v1/models", route::models, request_route::models, methods::get_head, route_guard::api_key},
    {"/metrics", route::metrics, request_route::metrics, methods::get_head, route_guard::open},
    {"/instances", route::instances, request_route::other, methods::get_head, route_guard::admin},
    {"/instances/add", route::instances_add, request_route::other, methods::post, route_guard::admin},
    {"/instances/remove", route::instances_remove, request_route::other, methods::post, route_guard::admin},
    {"/reset_prefix_cache", route::reset_prefix_cache, request_route::other, methods::post,
     route_guard::admin},
    {"/v1/metaserver", route::metaserver, request_route::other, methods::post, route_guard::open},
}};

const route_entry* entry_of(route r) {
  for (const auto& e : table) {
    if (e.id == r) return &e;
  }
  return nullptr;
}

}  // namespace

std::string_view to_string(request_route label) {
  // A labelled route's label is its path; the admin routes and unknown paths share `other`.
  if (label == request_route::other) return "other";
  for (const auto& e : table) {
    if (e.label == label) return e.path;
  }
  return "other";
}

std::string_view path_of(std::string_view target) {
  // Absolute form (RFC 9112 §3.2.2), "http://host:port/path?query": the path starts after the authority.
  for (const std::string_view scheme : {"http://", "https://"}) {
    if (target.size() >= scheme.size() && iequals_ascii(target.substr(0, scheme.size()), scheme)) {
      const std::size_t slash = target.find('/', scheme.size());
      target = slash == std::string_view::npos ? std::string_view("/") : target.substr(slash);
      break;
    }
  }
  return target.substr(0, target.find('?'));
}

route route_of(std::string_view path) {
  for (const auto& e : table) {
    if (e.path == path) return e.id;
  }
  return route::unknown;
}

request_route label_of(route r) {
  const route_entry* e = entry_of(r);
  return e != nullptr ? e->label : request_route::other;
}

request_route route_of_path(std::string_view path) {
  return label_of(route_of(path));
}

route_guard guard_of(route r) {
  const route_entry* e = entry_of(r);
  return e != nullptr ? e->guard : route_guard::open;
}

std::string_view allowed_methods(route r) {
  const route_entry* e = entry_of(r);
  if (e == nullptr) return {};
  return e->served == methods::post ? "POST" : "GET, HEAD";
}

bool method_allowed(route r, std::string_view method) {
  const route_entry* e = entry_of(r);
  if (e == nullptr) return false;
  return e->served == methods::post ? method == "POST" : method == "GET" || method == "HEAD";
}

std::optional<method_refusal> check_method(route r, std::string_view method, std::string_view path) {
  if (method_allowed(r, method)) return std::nullopt;
  method_refusal refusal;
  refusal.text.append(method).append(" is not allowed on ").append(path);
  refusal.allow.append("Allow: ").append(allowed_methods(r)).append("\r\n");
  return refusal;
}

}  // namespace pd_proxy
