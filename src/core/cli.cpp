#include "pd_proxy/core/cli.hpp"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdlib>
#include <set>
#include <sstream>
#include <thread>

#include "pd_proxy/core/pool_expansion.hpp"
#include "pd_proxy/core/selection_policy.hpp"

namespace pd_proxy {
namespace {

struct raw_role_flags {
  std::vector<std::string> hosts{"localhost"};
  std::vector<long long> hosts_num;
  std::vector<long long> ports;
  std::vector<long long> ports_inc;
};

void add_role_flags(CLI::App& app, raw_role_flags& f, const std::string& role, const std::string& title) {
  const std::string prefix = "--" + role;
  app.add_option(prefix + "-hosts", f.hosts, title + " hosts (names, IPv4 or IPv6 literals)")
      ->capture_default_str()
      ->group(title + " pool");
  app.add_option(prefix + "-hosts-num", f.hosts_num,
                 "How many times each " + role + " host is repeated (one count per host)")
      ->group(title + " pool");
  app.add_option(prefix + "-ports", f.ports, title + " ports (one per host)")
      ->capture_default_str()
      ->group(title + " pool");
  app.add_option(prefix + "-ports-inc", f.ports_inc,
                 "How many consecutive ports start at each " + role + " port (a count, not a step)")
      ->group(title + " pool");
}

pool_flags to_pool_flags(const CLI::App& app, const raw_role_flags& f, const std::string& role) {
  pool_flags out;
  out.hosts = f.hosts;
  out.ports = f.ports;
  if (app.count("--" + role + "-hosts-num") > 0) out.hosts_num = f.hosts_num;
  if (app.count("--" + role + "-ports-inc") > 0) out.ports_inc = f.ports_inc;
  return out;
}

cli_outcome usage_error(const std::string& message) {
  return cli_outcome{std::nullopt, 2, "error: " + message + "\nRun with --help for the list of flags.\n"};
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// Adds a non-negative duration flag in (fractional) seconds.
void add_seconds(CLI::App& app, const std::string& name, seconds_d& target, double& storage,
                 const std::string& help, const std::string& group) {
  storage = target.count();
  app.add_option(name, storage, help)->capture_default_str()->check(CLI::NonNegativeNumber)->group(group);
}

}  // namespace

env_lookup process_env() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* value = std::getenv(name.c_str());
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  };
}

cli_outcome parse_command_line(int argc, const char* const* argv, const env_lookup& env) {
  proxy_config config;
  config.workers = std::max(1u, std::thread::hardware_concurrency());

  CLI::App app{
      "pd-proxy: load-balances OpenAI-style requests across prefill-decode disaggregated vLLM servers.\n"
      "Each request is prefilled on one prefiller (max_tokens=1), then decoded and streamed from one decoder.",
      "pd-proxy"};
  app.option_defaults()->always_capture_default();
  app.set_version_flag("--version", std::string("pd-proxy ") + "0.1.0");
  app.get_formatter()->column_width(40);

  int port = config.port;
  app.add_option("--host", config.host, "Address to listen on (localhost: loopback only; 0.0.0.0: all)")
      ->group("Listener");
  app.add_option("--port", port, "Port to listen on")->check(CLI::Range(0, 65535))->group("Listener");

  raw_role_flags prefill;
  prefill.ports = {8001};
  raw_role_flags decode;
  decode.ports = {8002};
  add_role_flags(app, prefill, "prefiller", "Prefiller");
  add_role_flags(app, decode, "decoder", "Decoder");

  double retry_delay = 0, waiting_interval = 0;
  app.add_option("--max-retries", config.max_retries,
                 "Attempts per backend leg (the reference's name; values below 1 mean 1). Each retry goes to "
                 "a different backend when one exists")
      ->group("Retries");
  add_seconds(app, "--retry-delay", config.retry_delay, retry_delay,
              "Base delay in seconds before a retry, doubled after each attempt", "Retries");
  app.add_option("--max-waiting-retries", config.max_waiting_retries,
                 "Probes of a newly added instance before it is dropped (reference compatibility)")
      ->group("Retries");
  add_seconds(app, "--waiting-retry-interval", config.waiting_retry_interval, waiting_interval,
              "Seconds between probes of newly added instances (reference compatibility)", "Retries");

  double connect = 0, prefill_t = 0, first_token = 0, idle = 0, header = 0, client_idle = 0, shutdown = 0;
  add_seconds(app, "--connect-timeout", config.connect_timeout, connect,
              "Seconds to connect to a backend (0: no limit)", "Timeouts");
  add_seconds(app, "--prefill-timeout", config.prefill_timeout, prefill_t,
              "Seconds for a whole prefill exchange (0: no limit)", "Timeouts");
  add_seconds(app, "--first-token-timeout", config.first_token_timeout, first_token,
              "Seconds from sending the decode request to its first byte (0: no limit)", "Timeouts");
  add_seconds(app, "--stream-idle-timeout", config.stream_idle_timeout, idle,
              "Seconds a decode stream, or a client write, may stall (0: no limit)", "Timeouts");
  add_seconds(app, "--client-header-timeout", config.client_header_timeout, header,
              "Seconds to receive one whole client request (0: no limit)", "Timeouts");
  add_seconds(app, "--client-idle-timeout", config.client_idle_timeout, client_idle,
              "Seconds an idle keep-alive client connection is kept (0: no limit)", "Timeouts");
  add_seconds(app, "--shutdown-timeout", config.shutdown_timeout, shutdown,
              "On SIGTERM/SIGINT, seconds to let in-flight requests finish before exiting", "Timeouts");

  app.add_option("--max-body-size", config.max_body_size,
                 "Largest client request body in bytes (413 above); also bounds buffered backend bodies")
      ->check(CLI::PositiveNumber)
      ->group("Limits");
  app.add_option("--max-connections", config.max_connections,
                 "Concurrent client connections; more are answered 503 and closed")
      ->check(CLI::PositiveNumber)
      ->group("Limits");
  app.add_option("--max-idle-backend-connections", config.max_idle_backend_connections,
                 "Idle keep-alive connections kept per backend per worker")
      ->group("Limits");

  app.add_option("--prefill-policy", config.prefill_policy, "Prefiller selection policy: least-loaded")
      ->group("Scheduling");
  app.add_option("--decode-policy", config.decode_policy, "Decoder selection policy: least-loaded")
      ->group("Scheduling");

  std::string api_key;
  app.add_option("--backend-api-key", api_key,
                 "Bearer token sent to backends (default: $OPENAI_API_KEY; none when both are unset)")
      ->group("Security");
  app.add_option("--workers", config.workers, "I/O threads (default: number of cores)")
      ->check(CLI::Range(1u, 1024u))
      ->group("Runtime");
  app.add_option("--log-level", config.log_level,
                 "trace, debug, info, warning, error, critical or off (any case)")
      ->group("Runtime");

  std::ostringstream out, err;
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e, out, err);
    if (code == 0) return cli_outcome{std::nullopt, 0, out.str()};
    return cli_outcome{std::nullopt, 2, err.str() + out.str()};
  }

  config.port = static_cast<std::uint16_t>(port);
  config.retry_delay = seconds_d{retry_delay};
  config.waiting_retry_interval = seconds_d{waiting_interval};
  config.connect_timeout = seconds_d{connect};
  config.prefill_timeout = seconds_d{prefill_t};
  config.first_token_timeout = seconds_d{first_token};
  config.stream_idle_timeout = seconds_d{idle};
  config.client_header_timeout = seconds_d{header};
  config.client_idle_timeout = seconds_d{client_idle};
  config.shutdown_timeout = seconds_d{shutdown};

  config.log_level = lower(config.log_level);
  static const std::set<std::string> levels{"trace", "debug", "info", "warning", "warn", "error", "critical", "off"};
  if (levels.count(config.log_level) == 0) {
    return usage_error("--log-level: unknown level '" + config.log_level + "'");
  }
  if (!make_policy(config.prefill_policy)) {
    return usage_error("--prefill-policy: unknown policy '" + config.prefill_policy + "'");
  }
  if (!make_policy(config.decode_policy)) {
    return usage_error("--decode-policy: unknown policy '" + config.decode_policy + "'");
  }

  auto prefillers = expand_pool(to_pool_flags(app, prefill, "prefiller"), "prefiller");
  if (!prefillers.ok()) return usage_error(prefillers.error);
  auto decoders = expand_pool(to_pool_flags(app, decode, "decoder"), "decoder");
  if (!decoders.ok()) return usage_error(decoders.error);
  config.prefillers = std::move(prefillers.backends);
  config.decoders = std::move(decoders.backends);

  if (app.count("--backend-api-key") > 0) {
    config.backend_api_key = api_key;
  } else if (auto key = env("OPENAI_API_KEY")) {
    config.backend_api_key = *key;
  }
  return cli_outcome{std::move(config), 0, {}};
}

}  // namespace pd_proxy
