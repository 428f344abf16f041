#include "pd_proxy/bench/report.hpp"

#include <fmt/format.h>

#include <map>

namespace pd_proxy::bench {

double request_record::tpot_ms() const {
  return output_tokens > 1 ? (e2e_ms - ttft_ms) / (output_tokens - 1) : 0.0;
}

bool is_token_event(std::string_view data) {
  if (data.find("\"choices\":[{") == std::string_view::npos) return false;
  if (data.find("\"content\":\"\"") != std::string_view::npos) return false;  // the chat role event
  return data.find("\"text\":\"\"") == std::string_view::npos;
}

usage_counts usage_of(std::string_view json_text) {
  usage_counts counts;
  if (json_text.find("\"usage\":{") == std::string_view::npos) return counts;
  const auto parsed = parse_json_object(json_text);
  if (!parsed) return counts;
  const auto usage = parsed->find("usage");
  if (usage == parsed->end() || !usage->is_object()) return counts;
  if (const auto tokens = usage->find("completion_tokens");
      tokens != usage->end() && tokens->is_number_integer())
    counts.completion_tokens = tokens->get<int>();
  if (const auto details = usage->find("prompt_tokens_details");
      details != usage->end() && details->is_object()) {
    if (const auto cached = details->find("cached_tokens");
        cached != details->end() && cached->is_number_integer())
      counts.cached_tokens = cached->get<int>();
  }
  return counts;
}

int completion_tokens_of(std::string_view json_text) {
  return usage_of(json_text).completion_tokens;
}

run_summary summarize_run(const std::vector<request_record>& records, double duration_s) {
  run_summary s;
  s.duration_s = duration_s;
  std::vector<double> ttft, tpot, itl, e2el;
  std::map<std::string, std::size_t> errors;
  for (const auto& r : records) {
    if (!r.ok()) {
      ++s.failed;
      ++errors[r.error];
      continue;
    }
    ++s.completed;
    s.total_input_tokens += r.input_tokens;
    s.total_output_tokens += r.output_tokens;
    if (r.cached_tokens >= 0) {
      s.total_cached_tokens += r.cached_tokens;
      ++s.cached_reported;
    }
    ttft.push_back(r.ttft_ms);
    e2el.push_back(r.e2e_ms);
    if (r.output_tokens > 1) tpot.push_back(r.tpot_ms());
    itl.insert(itl.end(), r.itl_ms.begin(), r.itl_ms.end());
  }
  s.ttft_ms = summarize(std::move(ttft));
  s.tpot_ms = summarize(std::move(tpot));
  s.itl_ms = summarize(std::move(itl));
  s.e2el_ms = summarize(std::move(e2el));
  if (duration_s > 0) {
    s.request_throughput = static_cast<double>(s.completed) / duration_s;
    s.output_throughput = static_cast<double>(s.total_output_tokens) / duration_s;
    s.total_token_throughput = static_cast<double>(s.total_input_tokens + s.total_output_tokens) / duration_s;
  }
  s.errors.assign(errors.begin(), errors.end());
  return s;
}

namespace {

void put_distribution(json& out, const char* name, const distribution& d) {
  const std::string n(name);
  out["mean_" + n + "_ms"] = d.mean;
  out["median_" + n + "_ms"] = d.median;
  out["std_" + n + "_ms"] = d.std;
  out["p90_" + n + "_ms"] = d.p90;
  out["p99_" + n + "_ms"] = d.p99;
}

}  // namespace

json to_json(const run_summary& s, const std::vector<request_record>& records, bool with_records) {
  json out{{"completed", s.completed},
           {"failed", s.failed},
           {"partial", s.partial},
           {"duration", s.duration_s},
           {"total_input_tokens", s.total_input_tokens},
           {"total_output_tokens", s.total_output_tokens},
           {"total_cached_tokens", s.total_cached_tokens},
           {"cached_tokens_reported", s.cached_reported},
           {"request_throughput", s.request_throughput},
           {"output_throughput", s.output_throughput},
           {"total_token_throughput", s.total_token_throughput}};
  put_distribution(out, "ttft", s.ttft_ms);
  put_distribution(out, "tpot", s.tpot_ms);
  put_distribution(out, "itl", s.itl_ms);
  put_distribution(out, "e2el", s.e2el_ms);
  json errors = json::object();
  for (const auto& [kind, n] : s.errors) errors[kind] = n;
  out["errors"] = errors;
  if (with_records) {
    json list = json::array();
    for (const auto& r : records) {
      list.push_back(json{{"start_s", r.start_s},
                          {"ttft_ms", r.ttft_ms},
                          {"tpot_ms", r.tpot_ms()},
                          {"e2el_ms", r.e2e_ms},
                          {"itl_ms", r.itl_ms},
                          {"input_tokens", r.input_tokens},
                          {"output_tokens", r.output_tokens},
                          {"cached_tokens", r.cached_tokens},
                          {"status", r.status},
                          {"error", r.error}});
    }
    out["requests"] = std::move(list);
  }
  return out;
}

std::string to_markdown(const run_summary& s, std::string_view title) {
  std::string out = fmt::format("## {}{}\n\n", title, s.partial ? " (interrupted, partial)" : "");
  out += "| metric | value |\n|---|---|\n";
  out += fmt::format("| successful requests | {} |\n| failed requests | {} |\n", s.completed, s.failed);
  out += fmt::format("| duration (s) | {:.2f} |\n", s.duration_s);
  out += fmt::format("| input tokens / output tokens | {} / {} |\n", s.total_input_tokens,
                     s.total_output_tokens);
  if (s.cached_reported > 0) {
    out += fmt::format("| cached prompt tokens (usage, {} answers) | {} ({:.1f} % of input) |\n",
                       s.cached_reported, s.total_cached_tokens,
                       s.total_input_tokens > 0 ? 100.0 * static_cast<double>(s.total_cached_tokens) /
                                                      static_cast<double>(s.total_input_tokens)
                                                : 0.0);
  }
  out += fmt::format("| request throughput (req/s) | {:.2f} |\n", s.request_throughput);
  out += fmt::format("| output token throughput (tok/s) | {:.2f} |\n", s.output_throughput);
  out += fmt::format("| total token throughput (tok/s) | {:.2f} |\n\n", s.total_token_throughput);
  out += "| latency (ms) | mean | median | std | p90 | p99 |\n|---|---|---|---|---|---|\n";
  auto row = [&](const char* name, const distribution& d) {
    out += fmt::format("| {} | {:.2f} | {:.2f} | {:.2f} | {:.2f} | {:.2f} |\n", name, d.mean, d.median, d.std,
                       d.p90, d.p99);
  };
  row("TTFT", s.ttft_ms);
  row("TPOT", s.tpot_ms);
  row("ITL", s.itl_ms);
  row("E2E", s.e2el_ms);
  if (!s.errors.empty()) {
    out += "\n| error | count |\n|---|---|\n";
    for (const auto& [kind, n] : s.errors) out += fmt::format("| {} | {} |\n", kind, n);
  }
  return out;
}

}  // namespace pd_proxy::bench
