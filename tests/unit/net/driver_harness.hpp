// One worker's worth of what basic_pd_driver needs, on the fake transport (fake_io.hpp): a least-loaded
// scheduler with loopback backends, counters, a metrics shard, a stop_list, one client request, and an
// io_context the test runs with poll().
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "../core/scheduling/expect_no_load.hpp"
#include "fake_io.hpp"
#include "pd_proxy/core/admission/body_budget.hpp"
#include "pd_proxy/core/backends/registry.hpp"
#include "pd_proxy/core/config/config.hpp"
#include "pd_proxy/core/flow/flow_request.hpp"
#include "pd_proxy/core/flow/protocols/registry.hpp"
#include "pd_proxy/core/observe/metrics_shard.hpp"
#include "pd_proxy/core/observe/proxy_counters.hpp"
#include "pd_proxy/core/observe/request_record.hpp"
#include "pd_proxy/core/scheduling/scheduler.hpp"
#include "pd_proxy/net/flow/basic_pd_driver.hpp"
#include "pd_proxy/net/flow/pd_driver_deps.hpp"
#include "pd_proxy/net/flow/stop_list.hpp"

namespace pd_proxy::fake {

inline constexpr std::string_view client_body =
    R"({"model":"m","prompt":"Hi","max_tokens":16,"stream":true})";
inline constexpr std::string_view prefill_ok =
    R"({"id":"p","choices":[{"text":"x"}],"kv_transfer_params":{"remote_block_ids":[1,2],"remote_host":"h"}})";
inline constexpr std::string_view first_event = "data: {\"choices\":[{\"text\":\"a\"}]}\n\n";
inline constexpr std::string_view last_event = "data: [DONE]\n\n";

/// The limits the tests assert on (whole seconds and halves: exact in double).
inline proxy_config test_config() {
  proxy_config config;
  config.max_retries = 3;
  config.retry_delay = seconds_d{0};  // the back-off sleeps on a real timer: none in unit tests
  config.connect_timeout = seconds_d{2};
  config.prefill_timeout = seconds_d{7};
  config.first_token_timeout = seconds_d{5};
  config.stream_idle_timeout = seconds_d{3};
  return config;
}

class driver_harness {
 public:
  driver_harness(std::size_t prefill_count, std::size_t decode_count,
                 const proxy_config& config = test_config())
      : config_(std::make_shared<const proxy_config>(config)) {
    manual_clock::reset();
    for (std::size_t i = 0; i < prefill_count; ++i) add(backend_role::prefill, 9000);
    for (std::size_t i = 0; i < decode_count; ++i) add(backend_role::decode, 9100);
  }

  net::io_context ctx;
  backend_registry registry;
  scheduler sched{make_policy("least-loaded"), make_policy("least-loaded")};
  std::vector<std::shared_ptr<backend>> prefillers;
  std::vector<std::shared_ptr<backend>> decoders;
  proxy_counters counters;
  metrics_shard shard;
  std::atomic<std::int64_t> in_flight{0};
  backends scripted;
  client response;
  stop_list stops;
  net::cancellation_signal client_leaves;  // emit(terminal): the client went away
  std::optional<request_outcome> outcome;  // set when run() returned

  std::string prefiller(std::size_t i) const { return std::string(prefillers.at(i)->authority()); }
  std::string decoder(std::size_t i) const { return std::string(decoders.at(i)->authority()); }
  const request_record& record() const { return record_; }
  const flow_request& request() const { return request_; }

  /// Starts the driver on `machine` (which must outlive the run).
  void start(flow_machine& machine) {
    net::co_spawn(ctx, run(machine),
                  net::bind_cancellation_slot(client_leaves.slot(),
                                              [this](std::exception_ptr error, request_outcome result) {
                                                EXPECT_FALSE(error) << "the driver threw";
                                                outcome = result;
                                              }));
  }
  /// Starts the driver on the --pd-protocol two-stage machine.
  void start_two_stage() {
    machine_ = find_pd_protocol("two-stage")->make(flow_settings_of(*config_), body_, request_.request_id);
    start(*machine_);
  }

  /// Runs every handler that is ready, then returns (nothing waits on real time).
  void poll() {
    ctx.restart();
    ctx.poll();
  }
  /// No operation, timer or coroutine of the run is left.
  bool no_work_left() {
    poll();
    return ctx.stopped();
  }

  /// Every backend's load is zero.
  void expect_idle() const {
    for (const auto* pool : {&prefillers, &decoders}) {
      for (const auto& b : *pool) expect_no_load(sched, *b);
    }
  }
  /// The failed attempts counted against `b` in the metrics shard.
  std::uint64_t backend_errors(const backend& b) const {
    metrics_totals totals;
    shard.add_to(totals);
    std::uint64_t n = 0;
    for (const auto& [key, count] : totals.backend_errors) {
      if (std::get<1>(key) == b.authority()) n += count;
    }
    return n;
  }

 private:
  void add(backend_role role, std::uint16_t first_port) {
    auto& pool = role == backend_role::prefill ? prefillers : decoders;
    auto b = registry.add(role, {"127.0.0.1", static_cast<std::uint16_t>(first_port + pool.size())});
    sched.add(b);
    pool.push_back(std::move(b));
  }

  net::awaitable<request_outcome> run(flow_machine& machine) {
    basic_pd_driver<io> driver(deps_, scripted, request_, response, machine, stops);
    co_return co_await driver.run();
  }

  std::shared_ptr<const proxy_config> config_;
  pd_driver_deps deps_{sched, counters, shard, in_flight, config_, *find_pd_protocol("two-stage")};
  body_budget budget_{1024 * 1024};
  body_budget::reservation hold_;
  request_record record_;
  client_request body_ = *client_request::parse(std::string(client_body));
  flow_request request_{"/v1/completions", body_, hold_, "req-1", record_};
  std::unique_ptr<flow_machine> machine_;
};

}  // namespace pd_proxy::fake
