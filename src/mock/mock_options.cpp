#include "pd_proxy/mock/mock_options.hpp"

#include <CLI/CLI.hpp>
#include <sstream>

namespace pd_proxy::mock {

mock_cli_outcome parse_mock_command_line(int argc, const char* const* argv) {
  mock_options o;
  CLI::App app{
      "pd-mock: simulates vLLM OpenAI servers in a prefill-decode deployment (prefill role when\n"
      "kv_transfer_params.do_remote_decode is true, decode role when do_remote_prefill is true, plain "
      "otherwise).",
      "pd-mock"};
  app.option_defaults()->always_capture_default();
  app.get_formatter()->column_width(36);
  int port = o.port;
  bool no_delay_flag = false;
  app.add_option("--host", o.host, "Address to listen on");
  app.add_option("--port", port, "First port")->check(CLI::Range(0, 65535));
  app.add_option("--ports-count", o.ports_count, "Independent engines on port, port+1, ...")
      ->check(CLI::Range(1, 4096));
  app.add_option("--model", o.model, "Served model name");
  app.add_option("--advertise-host", o.advertise_host, "remote_host given to decoders (default: --host)");
  app.add_option("--prefill-us-per-token", o.timing.prefill_us_per_token,
                 "Prefill time per prompt token (us)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--decode-ms-per-token", o.timing.decode_ms_per_token, "Decode step time, one sequence (ms)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--decode-ms-per-seq", o.timing.decode_ms_per_seq, "Added per extra running sequence (ms)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--slow-first-token", o.timing.slow_first_token_ms,
                 "Extra delay before the first token (ms)")
      ->check(CLI::NonNegativeNumber);
  app.add_flag("--no-delay", no_delay_flag, "Set every delay to 0 (proxy overhead benchmarks)");
  app.add_option("--max-num-seqs", o.max_num_seqs, "Running sequences per engine; more wait")
      ->check(CLI::Range(1, 1 << 20));
  app.add_option("--kv-timeout", o.kv_timeout_s, "Seconds a prefiller holds unclaimed KV blocks")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--layerwise-kv-timeout", o.layerwise_kv_timeout_s,
                 "Seconds a layerwise (decoder-first) decode waits for its prefiller's KV push, else 500")
      ->check(CLI::PositiveNumber);
  app.add_option("--kv-blocks", o.kv_blocks, "KV blocks per engine")->check(CLI::PositiveNumber);
  app.add_option("--block-tokens", o.block_tokens, "Tokens per KV block")->check(CLI::PositiveNumber);
  app.add_option("--prefix-cache-blocks", o.prefix_cache_blocks,
                 "Prefix-cache blocks per engine (an LRU of hashed prompt blocks; 0: off)")
      ->check(CLI::Range(std::size_t{0}, std::size_t{1} << 22));
  bool no_side_channel = false;
  app.add_flag("--no-kv-side-channel", no_side_channel,
               "Decoders do not claim KV blocks from prefillers over HTTP (they only check the params)");
  app.add_option(
         "--disaggregation-mode", o.disaggregation_mode,
         "SGLang PD role of every engine: prefill or decode (requests carry bootstrap_host, "
         "bootstrap_port, bootstrap_room; the decode pairs with its prefill by room). Default: vLLM roles "
         "from kv_transfer_params")
      ->check(CLI::IsMember({"", "prefill", "decode"}))
      ->group("SGLang");
  app.add_option(
         "--bootstrap-timeout", o.bootstrap_timeout_s,
         "Seconds an SGLang decode waits for its prefill (and a prefill for its decode) before it fails "
         "the request with 500")
      ->check(CLI::PositiveNumber)
      ->group("SGLang");
  app.add_option("--fail-status", o.faults.fail_status, "Answer every request with this HTTP status")
      ->check(CLI::Range(0, 599))
      ->group("Faults");
  app.add_option("--fail-rate", o.faults.fail_rate, "Fail this fraction of requests")
      ->check(CLI::Range(0.0, 1.0))
      ->group("Faults");
  app.add_option("--fail-first", o.faults.fail_first, "Fail the first N requests of each engine")
      ->check(CLI::NonNegativeNumber)
      ->group("Faults");
  app.add_flag("--hang", o.faults.hang, "Read requests and never answer")->group("Faults");
  app.add_option("--die-after-chunks", o.faults.die_after_chunks,
                 "Close the connection after K stream events")
      ->group("Faults");
  app.add_flag("--reject-prefill-400", o.faults.reject_prefill_400,
               "Answer prefill requests 400 (prompt too long)")
      ->group("Faults");
  app.add_flag("--drop-kv-params", o.faults.drop_kv_params,
               "Prefill answers carry no kv_transfer_params (a misconfigured KV connector)")
      ->group("Faults");
  app.add_option("--seed", o.seed, "Seed for --fail-rate");
  app.add_option("--created", o.created,
                 "Fixed `created` timestamp, for byte-reproducible output (0: clock)");
  app.add_option("--log-level", o.log_level, "trace, debug, info, warning, error, off");

  if (wants_man_page(argc, argv))
    return mock_cli_outcome{std::nullopt, 0, render_man_page(app, mock_man_page())};
  std::ostringstream out, err;
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e, out, err);
    return mock_cli_outcome{std::nullopt, code == 0 ? 0 : 2, code == 0 ? out.str() : err.str() + out.str()};
  }
  o.port = static_cast<std::uint16_t>(port);
  if (o.port != 0 && o.port + o.ports_count - 1 > 65535) {
    return mock_cli_outcome{std::nullopt, 2, "error: --ports-count takes --port past 65535\n"};
  }
  if (no_delay_flag) o.timing = no_delay();
  o.kv_side_channel = !no_side_channel;
  return mock_cli_outcome{std::move(o), 0, {}};
}

}  // namespace pd_proxy::mock
