// pd-mock's configuration and command line.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "pd_proxy/core/config/man_page.hpp"
#include "pd_proxy/mock/timing_model.hpp"

namespace pd_proxy::mock {

/// Faults every engine of the process injects (run another pd-mock process to fault only some engines).
struct fault_options {
  int fail_status = 0;              // answer every request with this status and an OpenAI error (0: off)
  double fail_rate = 0.0;           // fail this fraction of requests (status: fail_status, else 500)
  int fail_first = 0;               // fail the first N requests of each engine
  bool hang = false;                // read requests, never answer (until the client goes away)
  int die_after_chunks = -1;        // close the connection after K stream events (-1: off)
  bool reject_prefill_400 = false;  // answer prefill requests 400, as vLLM does for an over-long prompt
  bool drop_kv_params = false;      // prefill answers carry no kv_transfer_params (a misconfigured connector)
};

struct mock_options {
  std::string host = "127.0.0.1";
  std::uint16_t port = 9000;  // first port; 0 binds ephemeral ports (tests)
  int ports_count = 1;        // engines on port, port+1, ...
  std::string model = "mock-model";
  std::string advertise_host;  // remote_host in kv_transfer_params (default: host)
  timing_params timing;
  int max_num_seqs = 256;                  // running sequences per engine; more wait
  double kv_timeout_s = 120.0;             // a prefiller frees unclaimed KV blocks after this
  double layerwise_kv_timeout_s = 30.0;    // a layerwise decode waits this long for its KV push
  std::size_t kv_blocks = 1 << 16;         // KV blocks per engine
  std::size_t block_tokens = 16;           // tokens per block
  std::size_t prefix_cache_blocks = 4096;  // prefix-cache LRU per engine, in blocks of block_tokens (0: off)
  bool kv_side_channel = true;             // decoders claim KV blocks from the prefiller over HTTP
  // SGLang's PD roles (src/mock/sglang_pairing.cpp): "prefill" or "decode" makes every engine of the process
  // an SGLang engine of that role (requests carry bootstrap_host/port/room); empty: vLLM's roles, read from
  // each request's kv_transfer_params.
  std::string disaggregation_mode;
  double bootstrap_timeout_s = 30.0;  // a decode waits this long for its prefill, a prefill for its decode
  fault_options faults;
  std::uint64_t seed = 0;
  std::int64_t created = 0;  // fixed `created` timestamp for byte-reproducible output (0: the clock)
  std::string log_level = "warning";
};

struct mock_cli_outcome {
  std::optional<mock_options> options;
  int exit_code = 0;  // when options is unset: 0 for --help, 2 for a usage error
  std::string output;
};

/// Parses pd-mock's argv. Never throws. With --help-man, `output` is the man page.
mock_cli_outcome parse_mock_command_line(int argc, const char* const* argv);

/// The prose of pd-mock(1).
man_page mock_man_page();

}  // namespace pd_proxy::mock
