#include "pd_proxy/bench/workload.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>

#include "pd_proxy/core/http/forwarded_headers.hpp"

namespace pd_proxy::bench {
namespace {

// The characters pd-mock's token estimate counts in a message's content: a string, or the text of its parts.
std::size_t content_chars(const json& content) {
  if (content.is_string()) return content.get_ref<const std::string&>().size();
  std::size_t n = 0;
  if (content.is_array()) {
    for (const auto& part : content) {
      if (part.is_string()) n += part.get_ref<const std::string&>().size();
      if (part.is_object() && part.contains("text")) n += content_chars(part["text"]);
    }
  }
  return n;
}

bool usable_messages(const json& messages) {
  return messages.is_array() && !messages.empty() &&
         std::all_of(messages.begin(), messages.end(), [](const json& m) { return m.is_object(); });
}

// The body's generation settings, then the prepared request (`chars` of prompt text, 4 to a token).
prepared_request finish(const request_shape& shape, json body, std::size_t chars, int output_tokens) {
  body["max_tokens"] = output_tokens;
  body["stream"] = shape.stream;
  if (shape.stream) body["stream_options"] = json{{"include_usage", true}};
  if (shape.ignore_eos) body["ignore_eos"] = true;
  return prepared_request{dump_json(body), static_cast<int>((chars + 3) / 4), output_tokens, {}};
}

}  // namespace

std::optional<length_distribution> parse_distribution(const std::string& name) {
  if (name == "fixed") return length_distribution::fixed;
  if (name == "uniform") return length_distribution::uniform;
  if (name == "normal") return length_distribution::normal;
  return std::nullopt;
}

int sample_length(const length_spec& spec, std::mt19937_64& rng) {
  double value = spec.mean;
  switch (spec.kind) {
    case length_distribution::fixed:
      break;
    case length_distribution::uniform: {
      const double lo = spec.mean * (1.0 - spec.spread);
      const double hi = spec.mean * (1.0 + spec.spread);
      value = lo < hi ? std::uniform_real_distribution<double>(lo, hi)(rng) : spec.mean;
      break;
    }
    case length_distribution::normal: {
      const double sd = spec.mean * spec.spread;
      value = sd > 0 ? std::normal_distribution<double>(spec.mean, sd)(rng) : spec.mean;
      break;
    }
  }
  return std::max(1, static_cast<int>(std::lround(value)));
}

std::string synthetic_prompt(int tokens, std::mt19937_64& rng) {
  static constexpr char letters[] = "abcdefghijklmnopqrstuvwxyz";
  std::string out;
  out.reserve(static_cast<std::size_t>(tokens) * 4);
  for (int i = 0; i < tokens; ++i) {
    if (i > 0) out.push_back(' ');
    for (int k = 0; k < 3; ++k) out.push_back(letters[rng() % 26]);
  }
  return out;
}

prepared_request make_request(const request_shape& shape, const std::string& prompt, int output_tokens) {
  json body{{"model", shape.model}};
  if (shape.chat) {
    body["messages"] = json::array({json{{"role", "user"}, {"content", prompt}}});
  } else {
    body["prompt"] = prompt;
  }
  return finish(shape, std::move(body), prompt.size(), output_tokens);
}

prepared_request make_chat_request(const request_shape& shape, const json& messages, int output_tokens) {
  std::size_t chars = 0;
  for (const auto& message : messages) {
    if (message.is_object() && message.contains("content")) chars += content_chars(message["content"]);
  }
  return finish(shape, json{{"model", shape.model}, {"messages", messages}}, chars, output_tokens);
}

std::vector<prepared_request> synthetic_requests(const request_shape& shape, std::size_t count,
                                                 const length_spec& input, const length_spec& output,
                                                 std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<prepared_request> out;
  out.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    const int in = sample_length(input, rng);
    const int gen = sample_length(output, rng);
    out.push_back(make_request(shape, synthetic_prompt(in, rng), gen));
  }
  return out;
}

std::vector<prepared_request> jsonl_requests(const request_shape& shape, const std::string& text,
                                             int default_output, std::size_t& skipped) {
  std::vector<prepared_request> out;
  skipped = 0;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    auto object = parse_json_object(line);
    const json* messages = nullptr;
    const json* prompt = nullptr;
    const json* session = nullptr;
    if (object) {
      if (auto it = object->find("messages"); shape.chat && it != object->end() && usable_messages(*it))
        messages = &*it;
      if (auto it = object->find("prompt"); it != object->end() && it->is_string()) prompt = &*it;
      if (auto it = object->find("session"); it != object->end()) session = &*it;
    }
    const bool session_ok = !session || (session->is_string() &&
                                         forwardable_header_value(session->get_ref<const std::string&>()));
    if ((!messages && !prompt) || !session_ok) {
      ++skipped;
      continue;
    }
    int gen = default_output;
    if (auto it = object->find("output_len"); it != object->end() && it->is_number_integer()) {
      gen = std::max(1, it->get<int>());
    }
    auto request = messages ? make_chat_request(shape, *messages, gen)
                            : make_request(shape, prompt->get<std::string>(), gen);
    if (session) request.session = session->get<std::string>();
    out.push_back(std::move(request));
  }
  return out;
}

std::vector<double> arrival_gaps(std::size_t count, double rate, double burstiness, std::uint64_t seed) {
  std::vector<double> gaps(count, 0.0);
  if (!(rate > 0) || std::isinf(rate)) return gaps;
  std::mt19937_64 rng(seed);
  const double shape = burstiness > 0 ? burstiness : 1.0;
  std::gamma_distribution<double> gamma(shape, 1.0 / (rate * shape));
  for (auto& g : gaps) g = gamma(rng);
  return gaps;
}

}  // namespace pd_proxy::bench
