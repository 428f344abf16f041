#include "pd_proxy/core/pools/instance_request.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "pd_proxy/core/backends/backend_address.hpp"
#include "pd_proxy/core/flow/request_rewrite.hpp"

namespace pd_proxy {
namespace {

instance_address refuse(std::string_view text, std::string_view why) {
  const std::string shown = text.size() <= 64 ? std::string(text) : std::string(text.substr(0, 60)) + "...";
  return instance_address{{}, "instance '" + shown + "' " + std::string(why)};
}

}  // namespace

instance_address parse_instance_address(std::string_view text) {
  if (text.empty()) return refuse(text, "is empty (expected host:port)");
  std::string_view host;
  std::string_view port;
  if (text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos) return refuse(text, "has '[' without a closing ']'");
    host = text.substr(0, close + 1);
    const std::string_view rest = text.substr(close + 1);
    if (rest.empty()) return refuse(text, "has no port (expected [v6-address]:port)");
    if (rest.front() != ':') return refuse(text, "has text after ']' that is not ':port'");
    port = rest.substr(1);
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return refuse(text, "has no port (expected host:port)");
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) {
      return refuse(text, "is an IPv6 address without brackets (expected [v6-address]:port)");
    }
  }
  if (port.empty()) return refuse(text, "has no port (expected host:port)");
  if (port.size() > 5 ||
      !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return refuse(text, "has a port that is not a number of 1-65535");
  }
  const long value = std::stol(std::string(port));
  if (value < 1 || value > 65535) return refuse(text, "has a port that is not a number of 1-65535");
  auto parsed_host = parse_host(host);
  if (!parsed_host.ok()) return refuse(text, "has a host that " + parsed_host.error);
  return instance_address{{std::move(parsed_host.host), static_cast<std::uint16_t>(value)}, {}};
}

instances_request parse_instances_request(std::string_view body) {
  instances_request out;
  const auto fail = [&out](std::string why) {
    out.instances.clear();
    out.error = std::move(why);
    return out;
  };
  const auto doc = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) return fail("the body must be a JSON object");
  // The completion routes' checks: a member written twice ("type" as "prefill", then as "decode") is refused,
  // since which one counts would be a guess.
  if (auto checked = client_request::check(std::string(body)); !checked.request) {
    return fail(std::move(checked.error));
  }
  const auto type = doc.find("type");
  if (type == doc.end() || !type->is_string()) {
    return fail("'type' is missing: expected \"prefill\" or \"decode\"");
  }
  const auto& type_text = type->get_ref<const std::string&>();
  if (type_text == "prefill") {
    out.role = backend_role::prefill;
  } else if (type_text == "decode") {
    out.role = backend_role::decode;
  } else {
    const std::string shown = type_text.size() <= 32 ? type_text : type_text.substr(0, 28) + "...";
    return fail("Instance type '" + shown + "' is not supported. Only 'prefill' and 'decode' are allowed.");
  }
  const auto instances = doc.find("instances");
  if (instances == doc.end()) return fail("'instances' is missing: expected \"host:port\" or a list of them");
  std::vector<const nlohmann::json*> entries;
  if (instances->is_string()) {
    entries.push_back(&*instances);
  } else if (instances->is_array()) {
    if (instances->size() > max_instances_per_request) {
      return fail("'instances' has more than " + std::to_string(max_instances_per_request) + " entries");
    }
    for (const auto& entry : *instances) {
      if (!entry.is_string()) return fail("'instances' must hold strings \"host:port\"");
      entries.push_back(&entry);
    }
  } else {
    return fail("'instances' must be \"host:port\" or a list of them");
  }
  if (entries.empty()) return fail("'instances' is empty");
  for (const auto* entry : entries) {
    auto parsed = parse_instance_address(entry->get_ref<const std::string&>());
    if (!parsed.ok()) return fail(std::move(parsed.error));
    if (std::find(out.instances.begin(), out.instances.end(), parsed.address) == out.instances.end()) {
      out.instances.push_back(std::move(parsed.address));
    }
  }
  return out;
}

std::string format_instance_list(const std::vector<std::string>& authorities) {
  std::string out = "[";
  for (std::size_t i = 0; i < authorities.size(); ++i) {
    if (i > 0) out += ", ";
    out += "'" + authorities[i] + "'";
  }
  return out + "]";
}

std::string instances_answer_body(std::string_view message, const std::vector<std::string>& prefill,
                                  const std::vector<std::string>& decode) {
  const nlohmann::ordered_json body = {
      {"message", message}, {"current_prefill_instances", prefill}, {"current_decode_instances", decode}};
  return body.dump();
}

}  // namespace pd_proxy
