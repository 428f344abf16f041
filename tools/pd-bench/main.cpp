// pd-bench: measures an OpenAI-compatible server (pd-proxy, a vLLM engine, any proxy) the way
// `vllm bench serve` does: TTFT, TPOT, ITL, end-to-end latency, throughput and errors.
#include <fmt/format.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cctype>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "pd_proxy/bench/bench_man_page.hpp"
#include "pd_proxy/bench/plot.hpp"
#include "pd_proxy/bench/runner.hpp"

namespace {

std::atomic<bool> stop_requested{false};
extern "C" void on_signal(int) {
  if (stop_requested.exchange(true)) std::_Exit(130);  // a second Ctrl-C quits at once
}

bool parse_base_url(const std::string& url, pd_proxy::backend_address& out) {
  std::string rest = url;
  if (rest.rfind("http://", 0) == 0) rest = rest.substr(7);
  if (auto slash = rest.find('/'); slash != std::string::npos) rest = rest.substr(0, slash);
  std::string host = rest, port = "80";
  if (!rest.empty() && rest.front() == '[') {
    const auto close = rest.find(']');
    if (close == std::string::npos) return false;
    host = rest.substr(1, close - 1);
    if (close + 1 < rest.size() && rest[close + 1] == ':') port = rest.substr(close + 2);
  } else if (auto colon = rest.rfind(':'); colon != std::string::npos) {
    host = rest.substr(0, colon);
    port = rest.substr(colon + 1);
  }
  const int p = std::atoi(port.c_str());
  if (host.empty() || p < 1 || p > 65535) return false;
  out = {host, static_cast<std::uint16_t>(p)};
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace pd_proxy;
  using namespace pd_proxy::bench;
  CLI::App app{"pd-bench: benchmark an OpenAI-compatible server (TTFT, TPOT, ITL, E2E latency, throughput)",
               "pd-bench"};
  app.option_defaults()->always_capture_default();
  app.get_formatter()->column_width(36);
  std::string base_url = "http://127.0.0.1:8000", api = "completions", model = "mock-model", dataset;
  std::string input_dist = "fixed", output_dist = "fixed", result_json, result_md, plot_dir,
              title = "pd-bench", session_header = "X-Session-Id";
  int input_len = 128, output_len = 128;
  double input_spread = 0, output_spread = 0, rate = 0, burstiness = 1, duration = 0, timeout = 600;
  std::size_t num_prompts = 200, concurrency = 64, warmup = 0;
  bool no_stream = false, ignore_eos = false, no_records = false;
  std::uint64_t seed = 0;
  app.add_option("--base-url", base_url, "Server to measure, http://host:port");
  app.add_option("--api", api, "completions or chat")->check(CLI::IsMember({"completions", "chat"}));
  app.add_option("--model", model, "Model name sent in requests");
  app.add_option("--num-prompts", num_prompts, "Requests to send (0: use --duration)");
  app.add_option("--duration", duration, "Seconds to send for, when --num-prompts is 0");
  app.add_option("--max-concurrency", concurrency, "Requests in flight at most (0: unbounded)");
  app.add_option("--request-rate", rate,
                 "Requests per second, gamma/Poisson arrivals (0: as fast as allowed)");
  app.add_option("--burstiness", burstiness, "Gamma shape of arrival gaps (1: Poisson; lower: burstier)")
      ->check(CLI::PositiveNumber);
  app.add_option("--warmup", warmup, "Requests sent first and not measured");
  app.add_option("--input-len", input_len, "Prompt tokens (synthetic)")->check(CLI::PositiveNumber);
  app.add_option("--output-len", output_len, "max_tokens per request")->check(CLI::PositiveNumber);
  app.add_option("--input-dist", input_dist, "fixed, uniform or normal")
      ->check(CLI::IsMember({"fixed", "uniform", "normal"}));
  app.add_option("--output-dist", output_dist, "fixed, uniform or normal")
      ->check(CLI::IsMember({"fixed", "uniform", "normal"}));
  app.add_option("--input-spread", input_spread, "uniform: ±fraction of the mean; normal: stddev/mean");
  app.add_option("--output-spread", output_spread, "as --input-spread, for output lengths");
  app.add_option("--dataset", dataset,
                 "JSONL file of {\"prompt\":...,\"messages\":[...],\"output_len\":N,\"session\":...} "
                 "instead of synthetic prompts, sent in file order");
  app.add_option("--session-header", session_header, "Header carrying a dataset line's \"session\"")
      ->check(CLI::Validator(
          [](std::string& name) {
            constexpr std::string_view specials = "!#$%&'*+-.^_`|~";
            const bool ok = !name.empty() && std::all_of(name.begin(), name.end(), [&](char c) {
              return std::isalnum(static_cast<unsigned char>(c)) != 0 ||
                     specials.find(c) != std::string_view::npos;
            });
            return ok ? std::string() : "not an HTTP header name: " + name;
          },
          "HEADER", "header name"));
  app.add_flag("--ignore-eos", ignore_eos, "Ask the server to generate every max_tokens token");
  app.add_flag("--no-stream", no_stream, "Non-streaming requests (TTFT is then the whole answer)");
  app.add_option("--timeout", timeout, "Seconds per request for connect, first byte and each read");
  app.add_option("--seed", seed, "Seed for prompts, lengths and arrivals");
  app.add_option("--title", title, "Title of the Markdown report");
  app.add_option("--result-json", result_json, "Write the summary and every request's figures here");
  app.add_flag("--no-request-records", no_records, "Leave per-request figures out of --result-json");
  app.add_option("--result-md", result_md, "Write a Markdown summary here");
  app.add_option("--plot", plot_dir,
                 "Write PNG charts (latency CDFs, throughput over time) here, with gnuplot");
  if (wants_man_page(argc, argv)) {
    std::fputs(render_man_page(app, bench_man_page()).c_str(), stdout);
    return 0;
  }
  CLI11_PARSE(app, argc, argv);

  run_options options;
  if (!parse_base_url(base_url, options.target)) {
    std::fprintf(stderr, "error: --base-url %s: expected http://host:port\n", base_url.c_str());
    return 2;
  }
  options.path = api == "chat" ? "/v1/chat/completions" : "/v1/completions";
  if (const char* key = std::getenv("OPENAI_API_KEY")) options.api_key = key;
  options.request_rate = rate;
  options.burstiness = burstiness;
  options.max_concurrency = concurrency;
  options.num_requests = num_prompts;
  options.duration_s = duration;
  options.timeout = seconds_d{timeout};
  options.seed = seed;
  options.session_header = session_header;
  if (num_prompts == 0 && duration <= 0) {
    std::fprintf(stderr, "error: give --num-prompts or --duration\n");
    return 2;
  }

  const request_shape shape{api == "chat", model, !no_stream, ignore_eos};
  std::vector<prepared_request> requests;
  if (!dataset.empty()) {
    std::ifstream in(dataset);
    if (!in) {
      std::fprintf(stderr, "error: --dataset %s: cannot read\n", dataset.c_str());
      return 2;
    }
    std::stringstream text;
    text << in.rdbuf();
    std::size_t skipped = 0;
    requests = jsonl_requests(shape, text.str(), output_len, skipped);
    if (skipped > 0) std::fprintf(stderr, "warning: %zu dataset line(s) skipped\n", skipped);
  } else {
    const std::size_t count = num_prompts > 0 ? num_prompts : 4096;
    requests = synthetic_requests(shape, count, {*parse_distribution(input_dist), input_len, input_spread},
                                  {*parse_distribution(output_dist), output_len, output_spread}, seed);
  }
  if (requests.empty()) {
    std::fprintf(stderr, "error: no requests to send\n");
    return 2;
  }

  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  const bool tty = ::isatty(STDERR_FILENO) != 0;
  auto show = [&](const progress& p) {
    const auto total = options.num_requests;
    std::fprintf(stderr, "%s[%6.1fs] done %zu%s  in flight %zu  errors %zu  %.1f req/s%s", tty ? "\r" : "",
                 p.elapsed_s, p.done, total > 0 ? fmt::format("/{}", total).c_str() : "", p.in_flight,
                 p.failed, p.elapsed_s > 0 ? static_cast<double>(p.done) / p.elapsed_s : 0.0,
                 tty ? "   " : "\n");
  };

  double duration_s = 0;
  run_warmup(options, warmup, requests, stop_requested, [](std::string_view line) {
    std::fprintf(stderr, "%.*s\n", static_cast<int>(line.size()), line.data());
  });
  const auto records = run_load(options, requests, stop_requested, show, duration_s);
  if (tty) std::fputc('\n', stderr);

  auto summary = summarize_run(records, duration_s);
  summary.partial = stop_requested.load();
  const std::string markdown = to_markdown(summary, title);
  std::fputs(markdown.c_str(), stdout);
  if (!result_json.empty()) {
    std::ofstream(result_json) << to_json(summary, records, !no_records).dump(2) << "\n";
  }
  if (!result_md.empty()) std::ofstream(result_md) << markdown;
  if (!plot_dir.empty()) {
    std::string error;
    if (!write_plots(records, duration_s, plot_dir, title, error)) {
      std::fprintf(stderr, "warning: --plot: %s\n", error.c_str());
    }
  }
  return summary.completed > 0 ? 0 : 1;
}
