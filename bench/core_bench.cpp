// Hot pure parts of the proxy: pool expansion, scheduler pick+release, request rewrite, SSE parsing, engine
// /metrics parsing.
#include <benchmark/benchmark.h>

#include <memory>
#include <vector>

#include "pd_proxy/core/backends/pool_expansion.hpp"
#include "pd_proxy/core/backends/registry.hpp"
#include "pd_proxy/core/flow/request_rewrite.hpp"
#include "pd_proxy/core/observe/engine_metrics.hpp"
#include "pd_proxy/core/scheduling/least_loaded_policy.hpp"
#include "pd_proxy/core/scheduling/scheduler.hpp"
#include "pd_proxy/core/sse/sse_parser.hpp"

namespace pd_proxy {
namespace {

void bm_pool_expansion_seed(benchmark::State& state) {
  const pool_flags flags{{"192.0.0.5", "192.0.0.6", "192.0.0.7", "192.0.0.8"},
                         std::vector<long long>{16, 16, 16, 16},
                         {9000, 9000, 9000, 9000},
                         std::vector<long long>{16, 16, 16, 16}};
  for (auto _ : state) benchmark::DoNotOptimize(expand_pool(flags, "decoder"));
}
BENCHMARK(bm_pool_expansion_seed);

// A pool of n backends of each role, added to a least-loaded scheduler.
struct bench_cluster {
  backend_registry registry;
  scheduler sched{make_policy("least-loaded"), make_policy("least-loaded")};
  explicit bench_cluster(std::size_t n) {
    for (auto role : {backend_role::prefill, backend_role::decode})
      for (std::size_t i = 0; i < n; ++i)
        sched.add(registry.add(role, {"10.0.0.1", static_cast<std::uint16_t>(9000 + i)}));
  }
};

// One request's scheduling: reserve a prefiller, finish the prefill, reserve a decoder, release both.
void bm_schedule_request(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  bench_cluster c(n);
  // Keep half the pool busy so picks are not all ties.
  std::vector<leg_reservation> background;
  for (std::size_t i = 0; i < n / 2; ++i)
    background.push_back(*c.sched.reserve_decode(1000.0 + static_cast<double>(i)));
  for (auto _ : state) {
    auto p = c.sched.reserve_prefill(prefill_score(4096));
    p->release(leg_hold::tokens);
    auto d = c.sched.reserve_decode(decode_score(4096));
    p->release(leg_hold::kv);
    benchmark::DoNotOptimize(d->target().id());
  }
}
BENCHMARK(bm_schedule_request)->Arg(8)->Arg(64)->Arg(1024);

// The policy's pick alone (no locking, no load change) among n backends, half of them idle (ties, so the
// cursor moves every pick) and half loaded; two tried backends. O(log n).
void bm_pick_least_loaded(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  std::vector<std::unique_ptr<backend>> pool;
  least_loaded_policy policy;
  for (std::size_t i = 0; i < n; ++i) {
    pool.push_back(std::make_unique<backend>(i + 1, backend_role::decode, backend_address{"10.0.0.1", 9000}));
    const auto units = i % 2 ? fixed_load::units(1000.0 + static_cast<double>(i)) : 0;
    policy.add(*pool.back(), fixed_load{units, 0, 0});
  }
  const std::vector<backend_id> tried{2, 4};
  for (auto _ : state) benchmark::DoNotOptimize(policy.pick({.tried = tried}));
  state.SetComplexityN(state.range(0));
}
BENCHMARK(bm_pick_least_loaded)->Arg(8)->Arg(64)->Arg(1024)->Arg(4096)->Complexity(benchmark::oLogN);

std::string client_body(std::size_t bytes) {
  json body{{"model", "deepseek_r1"}, {"prompt", std::string(bytes, 'x')},           {"max_tokens", 1100},
            {"stream", true},         {"stream_options", {{"include_usage", true}}}, {"temperature", 0.0}};
  return body.dump();
}

// A prefiller's answer with its kv_transfer_params.
constexpr std::string_view prefill_answer =
    R"({"id":"cmpl-1","choices":[{"index":0,"text":" the","finish_reason":"length"}],"usage":{"prompt_tokens":9},)"
    R"("kv_transfer_params":{"do_remote_prefill":true,"do_remote_decode":false,"remote_block_ids":[1,2,3],)"
    R"("remote_engine_id":"e","remote_host":"10.0.0.1","remote_port":5600,"tp_size":1}})";

void bm_rewrite(benchmark::State& state) {
  const std::string text = client_body(static_cast<std::size_t>(state.range(0)));
  for (auto _ : state) {
    auto parsed = client_request::parse(text);
    auto prefill = make_prefill_body(*parsed);
    auto decode = make_decode_body(*parsed, find_kv_transfer_params(prefill_answer));
    benchmark::DoNotOptimize(prefill.data());
    benchmark::DoNotOptimize(decode.data());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) *
                          static_cast<std::int64_t>(text.size()));
}
BENCHMARK(bm_rewrite)->Arg(4 * 1024)->Arg(64 * 1024);

// The same with spliced bodies (views of the client's text), as the proxy writes them.
void bm_splice(benchmark::State& state) {
  const std::string text = client_body(static_cast<std::size_t>(state.range(0)));
  for (auto _ : state) {
    auto parsed = client_request::parse(text);
    auto prefill = splice_prefill_body(*parsed);
    auto decode = splice_decode_body(*parsed, find_kv_transfer_params(prefill_answer));
    benchmark::DoNotOptimize(prefill.pieces.data());
    benchmark::DoNotOptimize(decode.pieces.data());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) *
                          static_cast<std::int64_t>(text.size()));
}
BENCHMARK(bm_splice)->Arg(4 * 1024)->Arg(64 * 1024);

void bm_sse_parse(benchmark::State& state) {
  std::string stream;
  for (int i = 0; i < 1024; ++i) {
    stream +=
        R"(data: {"id":"cmpl-1","object":"text_completion","created":1,"model":"m","choices":[{"index":0,)"
        R"("text":" token","logprobs":null,"finish_reason":null,"stop_reason":null}]})"
        "\n\n";
  }
  const auto piece = static_cast<std::size_t>(state.range(0));
  for (auto _ : state) {
    sse_parser parser;
    std::size_t events = 0;
    for (std::size_t pos = 0; pos < stream.size(); pos += piece) {
      parser.feed(std::string_view(stream).substr(pos, piece),
                  [&](const sse_event& e) { events += classify(e) == sse_event_kind::token; });
    }
    benchmark::DoNotOptimize(events);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) *
                          static_cast<std::int64_t>(stream.size()));
}
BENCHMARK(bm_sse_parse)->Arg(64)->Arg(16384);

// A vLLM-like /metrics body of about `range(0)` bytes: the load gauges and counters, then histogram buckets
// (most of a real engine's text, skipped after their names).
void bm_engine_metrics(benchmark::State& state) {
  const std::string labels = R"({engine="0",model_name="meta-llama/Llama-3.1-8B-Instruct"})";
  std::string text =
      "# HELP vllm:num_requests_running Number of requests in model execution batches.\n"
      "# TYPE vllm:num_requests_running gauge\n";
  for (const char* series :
       {"vllm:num_requests_running", "vllm:num_requests_waiting", "vllm:kv_cache_usage_perc",
        "vllm:prefix_cache_queries_total", "vllm:prefix_cache_hits_total"}) {
    text.append(series).append(labels).append(" 0.25\n");
  }
  for (int i = 0; text.size() < static_cast<std::size_t>(state.range(0)); ++i) {
    text += R"(vllm:time_to_first_token_seconds_bucket{engine="0",le=")" + std::to_string(i) +
            R"(",model_name="meta-llama/Llama-3.1-8B-Instruct"} 12.0)"
            "\n";
  }
  for (auto _ : state) benchmark::DoNotOptimize(parse_engine_metrics(text));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) *
                          static_cast<std::int64_t>(text.size()));
}
BENCHMARK(bm_engine_metrics)->Arg(3 * 1024)->Arg(64 * 1024);

}  // namespace
}  // namespace pd_proxy
