// pd-bench workloads: synthetic prompts with length distributions, JSONL datasets, arrival times.
#pragma once

#include <optional>
#include <random>
#include <string>
#include <vector>

#include "pd_proxy/core/flow/request_rewrite.hpp"

namespace pd_proxy::bench {

enum class length_distribution { fixed, uniform, normal };

/// Parses "fixed", "uniform" or "normal".
std::optional<length_distribution> parse_distribution(const std::string& name);

struct length_spec {
  length_distribution kind = length_distribution::fixed;
  int mean = 128;
  double spread = 0.0;  // uniform: values in mean*(1±spread); normal: stddev = mean*spread
};

/// One sample, at least 1.
int sample_length(const length_spec& spec, std::mt19937_64& rng);

struct request_shape {
  bool chat = false;
  std::string model;
  bool stream = true;
  bool ignore_eos = false;
};

/// One prepared request: its body, the lengths it asks for and its session.
struct prepared_request {
  std::string body;
  int input_tokens = 0;   // estimated (about 4 characters per token)
  int output_tokens = 0;  // max_tokens asked for
  std::string session;    // sent as the session header (run_options::session_header) when not empty
};

/// A prompt of about `tokens` tokens: random short words, so no two prompts share a long prefix.
std::string synthetic_prompt(int tokens, std::mt19937_64& rng);

/// The request body for a prompt (completions) or a single user message (chat).
prepared_request make_request(const request_shape& shape, const std::string& prompt, int output_tokens);

/// The chat request body for a messages array, sent as is; input tokens are estimated from the messages'
/// text content (4 characters per token, as pd-mock counts them).
prepared_request make_chat_request(const request_shape& shape, const json& messages, int output_tokens);

/// Synthetic requests with the given length distributions.
std::vector<prepared_request> synthetic_requests(const request_shape& shape, std::size_t count,
                                                 const length_spec& input, const length_spec& output,
                                                 std::uint64_t seed);

/// Requests from JSONL text, in the file's order: each line an object with "prompt" (a string) and/or, for
/// chat, "messages" (a non-empty array of message objects, sent as is; it wins over "prompt" for chat and is
/// ignored for completions), an optional "output_len" (else `default_output`) and an optional "session" (a
/// string sent as the session header). Lines without a usable prompt, or whose session could not be sent in
/// a header (a control character, more than 8 KiB), are skipped and counted in `skipped`.
std::vector<prepared_request> jsonl_requests(const request_shape& shape, const std::string& text,
                                             int default_output, std::size_t& skipped);

/// Gaps in seconds between `count` request arrivals at `rate` requests/s with gamma-distributed gaps of
/// shape `burstiness` (1 = Poisson, smaller = burstier), as `vllm bench serve` does. An infinite rate
/// gives zero gaps.
std::vector<double> arrival_gaps(std::size_t count, double rate, double burstiness, std::uint64_t seed);

}  // namespace pd_proxy::bench
