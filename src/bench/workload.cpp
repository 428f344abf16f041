#include "pd_proxy/bench/workload.hpp"

#include <cmath>
#include <limits>
#include <sstream>

#include "pd_proxy/core/flow/request_rewrite.hpp"

namespace pd_proxy::bench {

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
  body["max_tokens"] = output_tokens;
  body["stream"] = shape.stream;
  if (shape.stream) body["stream_options"] = json{{"include_usage", true}};
  if (shape.ignore_eos) body["ignore_eos"] = true;
  return prepared_request{dump_json(body), static_cast<int>((prompt.size() + 3) / 4), output_tokens};
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
    if (!object || !object->contains("prompt") || !(*object)["prompt"].is_string()) {
      ++skipped;
      continue;
    }
    int gen = default_output;
    if (auto it = object->find("output_len"); it != object->end() && it->is_number_integer()) {
      gen = std::max(1, it->get<int>());
    }
    out.push_back(make_request(shape, (*object)["prompt"].get<std::string>(), gen));
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
