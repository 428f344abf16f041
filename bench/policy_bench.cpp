// Every selection policy's cost: a pick and release through the scheduler, and the pick alone, with up to
// 1,024 backends (issue target: pick + release <= 2 us at 1,024, picks O(log n) or better).
#include <benchmark/benchmark.h>

#include <array>
#include <memory>
#include <string>
#include <vector>

#include "pd_proxy/core/backends/registry.hpp"
#include "pd_proxy/core/flow/request_rewrite.hpp"
#include "pd_proxy/core/scheduling/request_context_of.hpp"
#include "pd_proxy/core/scheduling/scheduler.hpp"

namespace pd_proxy {
namespace {

constexpr std::array<const char*, 7> policies{"least-loaded", "round-robin",     "random",
                                              "power-of-two", "prefix-affinity", "session-affinity",
                                              "queue-aware"};

// 64 request contexts with 24 prefix keys and 64 session keys, as a shared-prefix workload has.
std::vector<request_context> contexts() {
  std::vector<request_context> out;
  for (int i = 0; i < 64; ++i)
    out.push_back({.estimated_prompt_tokens = 600,
                   .prefix_key = affinity_hash("system prompt " + std::to_string(i % 24)),
                   .session_key = affinity_hash("session " + std::to_string(i))});
  return out;
}

// One request's scheduling with policy `policies[range(0)]` on both roles and range(1) backends of each:
// reserve a prefiller, finish the prefill, reserve a decoder, release both. Half of each pool is busy, and
// queue-aware has an engine report for every backend.
void bm_policy_schedule_request(benchmark::State& state) {
  const char* name = policies[static_cast<std::size_t>(state.range(0))];
  const auto n = static_cast<std::size_t>(state.range(1));
  state.SetLabel(name);
  backend_registry registry;
  scheduler sched{make_policy(name, {.seed = 1}), make_policy(name, {.seed = 2})};
  for (auto role : {backend_role::prefill, backend_role::decode})
    for (std::size_t i = 0; i < n; ++i) {
      auto b = registry.add(role, {"10.0.0.1", static_cast<std::uint16_t>(9000 + i)});
      sched.add(b);
      sched.report_load(b->id(),
                        {.running = static_cast<double>(i % 7), .waiting = static_cast<double>(i % 3)});
    }
  std::vector<leg_reservation> background;
  for (std::size_t i = 0; i < n / 2; ++i) {
    background.push_back(*sched.reserve_prefill(1000.0 + static_cast<double>(i)));
    background.push_back(*sched.reserve_decode(1000.0 + static_cast<double>(i)));
  }
  const auto requests = contexts();
  std::size_t next = 0;
  for (auto _ : state) {
    const request_context& request = requests[next++ % requests.size()];
    auto p = sched.reserve_prefill(prefill_score(4096), request);
    p->release(leg_hold::tokens);
    auto d = sched.reserve_decode(decode_score(4096), request);
    p->release(leg_hold::kv);
    benchmark::DoNotOptimize(d->target().id());
  }
}
BENCHMARK(bm_policy_schedule_request)->ArgsProduct({{0, 1, 2, 3, 4, 5, 6}, {8, 64, 1024}});

// The pick alone (no lock, no load change) among n backends of which half are loaded, two tried.
void bm_policy_pick(benchmark::State& state) {
  const char* name = policies[static_cast<std::size_t>(state.range(0))];
  const auto n = static_cast<std::size_t>(state.range(1));
  state.SetLabel(name);
  auto policy = make_policy(name, {.seed = 1});
  std::vector<std::unique_ptr<backend>> pool;
  for (std::size_t i = 0; i < n; ++i) {
    pool.push_back(std::make_unique<backend>(
        i + 1, backend_role::prefill, backend_address{"10.0.0.1", static_cast<std::uint16_t>(9000 + i)}));
    const auto units = i % 2 ? fixed_load::units(1000.0 + static_cast<double>(i)) : 0;
    policy->add(*pool.back(), fixed_load{units, 0, static_cast<std::uint32_t>(i % 2)});
    policy->load_reported(*pool.back(), {.running = static_cast<double>(i % 5)});
  }
  const std::vector<backend_id> tried{2, 4};
  auto requests = contexts();
  for (auto& r : requests) r.tried = tried;
  std::size_t next = 0;
  for (auto _ : state) benchmark::DoNotOptimize(policy->pick(requests[next++ % requests.size()]));
  state.SetComplexityN(state.range(1));
}
BENCHMARK(bm_policy_pick)->ArgsProduct({{0, 1, 2, 3, 4, 5, 6}, {8, 64, 1024, 4096}});

}  // namespace
}  // namespace pd_proxy
