#include "pd_proxy/core/flow/bootstrap_body.hpp"

#include <charconv>
#include <random>

#include "pd_proxy/core/json/json_scan.hpp"

namespace pd_proxy {
namespace {

constexpr std::string_view open_brace = "{";
constexpr std::string_view close_brace = "}";
constexpr std::string_view comma = ",";

bool is_bootstrap_member(std::string_view name) {
  return name == "bootstrap_host" || name == "bootstrap_port" || name == "bootstrap_room";
}

// The count of elements of `value` when it is an array of prompts (its first element a string or an array),
// else 0. Elements are skipped, not validated.
std::size_t prompt_list_size(std::string_view value) {
  using namespace json_scan_detail;
  std::size_t i = skip_space(value, 0);
  if (i >= value.size() || value[i] != '[') return 0;
  i = skip_space(value, i + 1);
  if (i >= value.size() || (value[i] != '"' && value[i] != '[')) return 0;  // empty, or token ids
  std::size_t count = 0;
  while (i < value.size()) {
    i = skip_value(value, i);
    if (i == std::string_view::npos) return 0;
    ++count;
    i = skip_space(value, i);
    if (i >= value.size()) return 0;
    if (value[i] == ']') return count;
    if (value[i] != ',') return 0;
    i = skip_space(value, i + 1);
  }
  return 0;
}

// `value` as an integer when it is written as one, else 1.
long long integer_or_one(std::string_view value) {
  long long n = 1;
  const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
  if (ec != std::errc{} || end != value.data() + value.size()) return 1;
  return n;
}

void append_port(std::string& out, const std::optional<std::uint16_t>& port) {
  if (port) {
    out += std::to_string(*port);
  } else {
    out += "null";
  }
}

}  // namespace

std::size_t bootstrap_batch_size(const client_request& request) {
  std::size_t prompts = 0;
  long long n = 1;
  for (const auto& m : request.members()) {
    const std::string_view name = request.name(m);
    if (name == "prompt") {
      prompts = prompt_list_size(request.value(m));
    } else if (name == "n") {
      n = integer_or_one(request.value(m));
    }
  }
  if (prompts > 0) return prompts;
  if (n > 1 && static_cast<unsigned long long>(n) <= max_bootstrap_batch) return static_cast<std::size_t>(n);
  return 0;
}

std::string bootstrap_members(const bootstrap_target& target, std::size_t batch, std::uint64_t first_room) {
  first_room &= max_bootstrap_room;
  // A host is canonical (parse_host): letters, digits, '.', '-', ':', '%', '_'; nothing to escape in JSON.
  std::string host = "\"";
  host += target.host;
  host += '"';
  std::string out;
  if (batch == 0) {
    out.reserve(host.size() + 80);
    out += R"(,"bootstrap_host":)";
    out += host;
    out += R"(,"bootstrap_port":)";
    append_port(out, target.port);
    out += R"(,"bootstrap_room":)";
    out += std::to_string(first_room);
    return out;
  }
  out.reserve(64 + batch * (host.size() + 30));
  out += R"(,"bootstrap_host":[)";
  for (std::size_t i = 0; i < batch; ++i) {
    if (i > 0) out += ',';
    out += host;
  }
  out += R"(],"bootstrap_port":[)";
  for (std::size_t i = 0; i < batch; ++i) {
    if (i > 0) out += ',';
    append_port(out, target.port);
  }
  out += R"(],"bootstrap_room":[)";
  for (std::size_t i = 0; i < batch; ++i) {
    if (i > 0) out += ',';
    out += std::to_string((first_room + i) & max_bootstrap_room);
  }
  out += ']';
  return out;
}

spliced_body splice_bootstrap_body(const client_request& request, std::string_view members) {
  constexpr std::size_t npos = std::string_view::npos;
  const std::string_view text = request.text();
  spliced_body body;
  body.pieces.reserve(8);
  body.pieces.push_back(open_brace);
  std::size_t runs = 0;  // runs of kept members already in the body
  std::size_t run_begin = npos, run_end = 0;
  const auto end_run = [&] {
    if (run_begin == npos) return;
    if (runs > 0) body.pieces.push_back(comma);
    body.pieces.push_back(text.substr(run_begin, run_end - run_begin));
    ++runs;
    run_begin = npos;
  };
  for (const auto& m : request.members()) {
    if (is_bootstrap_member(request.name(m))) {
      end_run();
      continue;
    }
    if (run_begin == npos) run_begin = m.key_pos - 1;  // the opening quote
    run_end = m.value_pos + m.value_len;
  }
  end_run();
  if (!members.empty()) body.pieces.push_back(runs == 0 ? members.substr(1) : members);
  body.pieces.push_back(close_brace);
  return body;
}

std::uint64_t random_bootstrap_room() {
  thread_local std::mt19937_64 engine{[] {
    std::random_device device;
    return (static_cast<std::uint64_t>(device()) << 32) ^ device();
  }()};
  return engine() & max_bootstrap_room;
}

}  // namespace pd_proxy
