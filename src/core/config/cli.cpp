#include "pd_proxy/core/config/cli.hpp"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cctype>
#include <charconv>
#include <climits>
#include <cmath>
#include <cstdlib>
#include <deque>
#include <exception>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <set>
#include <sstream>
#include <thread>
#include <tuple>

#include "pd_proxy/core/backends/bootstrap_ports.hpp"
#include "pd_proxy/core/backends/pool_expansion.hpp"
#include "pd_proxy/core/config/config_sources.hpp"
#include "pd_proxy/core/config/man_page.hpp"
#include "pd_proxy/core/flow/protocols/decoder_first.hpp"
#include "pd_proxy/core/flow/protocols/registry.hpp"
#include "pd_proxy/core/http/authorization.hpp"
#include "pd_proxy/core/scheduling/selection_policy.hpp"

namespace pd_proxy {
namespace {

// The most values one occurrence of a list flag takes (far more than a pool can use; see max_pool_size).
// Below CLI11's "unlimited" marker on purpose: with allow_extra_args off, CLI11 then neither caps a list
// at one value nor reads "[...]" as its own list syntax, so "[::1]" reaches parse_host as typed.
constexpr int max_list_values = 1 << 20;

// Bounds of the numeric flags (documented in docs/configuration.md).
constexpr long long max_port = 65535;
constexpr long long max_pool_count = 65535;  // --*-hosts-num and --*-ports-inc values
constexpr long long max_retries_limit = 100;
constexpr long long max_waiting_retries_limit = 1000000;
constexpr long long max_idle_backend_connections_limit = 1000000;
constexpr long long max_body_size_limit = 4LL * 1024 * 1024 * 1024;               // 4 GiB
constexpr long long max_buffered_body_bytes_limit = 1024LL * 1024 * 1024 * 1024;  // 1 TiB
constexpr long long max_connections_limit = 1LL << 24;                            // 16777216
constexpr long long max_failure_threshold = 1000000;

std::string_view trim_blanks(std::string_view s) {
  const auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!s.empty() && blank(s.front())) s.remove_prefix(1);
  while (!s.empty() && blank(s.back())) s.remove_suffix(1);
  return s;
}

bool has_control_character(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](unsigned char c) { return c < 0x20 || c == 0x7f; });
}

// An HTTP field name (RFC 9110 token): one or more of the visible characters that are not delimiters.
bool is_header_name(std::string_view s) {
  constexpr std::string_view specials = "!#$%&'*+-.^_`|~";
  return !s.empty() && std::all_of(s.begin(), s.end(), [&](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || specials.find(c) != std::string_view::npos;
  });
}

cli_outcome usage_error(const std::string& message) {
  return cli_outcome{std::nullopt, 2, "error: " + message + "\nRun with --help for the list of flags.\n"};
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// The shortest text that reads back as `value` ("0.001", "600"), for --help's defaults.
std::string format_number(double value) {
  char buf[32];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value);
  return ec == std::errc{} ? std::string(buf, end) : std::to_string(value);
}

// Registers flags whose values CLI11 keeps as text, and converts that text into the config after parsing
// with this file's parse_* functions (so every message is ours, and CLI11 converts nothing that can throw or
// print a 300-digit number). A flag given more than once keeps its last occurrence. Conversions run in
// registration order, only for flags that were given (the config's defaults stay as they are).
class flag_set {
 public:
  explicit flag_set(CLI::App& app) : app_(app) {}

  /// A single-valued flag stored as text; `convert` turns the text into the config and returns an error.
  void add_text(const std::string& name, std::string initial, const std::string& help,
                const std::string& group, const std::string& type,
                std::function<std::string(const std::string&)> convert) {
    std::string& text = texts_.emplace_back(std::move(initial));
    app_.add_option(name, text, help)
        ->type_name(type)
        ->capture_default_str()
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast)
        ->group(group);
    conversions_.push_back([this, name, &text, convert = std::move(convert)] {
      return app_.count(name) > 0 ? convert(text) : std::string{};
    });
  }

  /// A duration in seconds (see parse_seconds).
  void add_seconds(const std::string& name, seconds_d& target, const std::string& help,
                   const std::string& group, bool zero_means_no_limit) {
    add_text(name, format_number(target.count()), help, group, "SECONDS",
             [name, &target, zero_means_no_limit](const std::string& text) {
               const auto v = parse_seconds(name, text, zero_means_no_limit);
               if (v.ok()) target = seconds_d{v.value};
               return v.error;
             });
  }

  /// An integer within [min, max] (see parse_integer); T holds every value of the range.
  template <class T>
  void add_integer(const std::string& name, T& target, long long min, long long max, const std::string& help,
                   const std::string& group, const std::string& type = "INT", std::string expected = {}) {
    add_text(name, std::to_string(target), help, group, type,
             [name, &target, min, max, expected = std::move(expected)](const std::string& text) {
               const auto v = parse_integer(name, text, min, max, expected);
               if (v.ok()) target = static_cast<T>(v.value);
               return v.error;
             });
  }

  /// A multi-value flag (argparse nargs='+'): values up to the next flag; a later occurrence replaces the
  /// list of an earlier one, as argparse does. Values are kept exactly as typed ("[::1]" included).
  std::vector<std::string>& add_list(const std::string& name, std::vector<std::string> initial,
                                     const std::string& help, const std::string& group,
                                     const std::string& type) {
    std::string shown = type;  // as CLI11 shows an unlimited list, without CLI11's "[...]" around defaults
    for (std::size_t i = 0; i < initial.size(); ++i) shown += (i == 0 ? "=" : " ") + initial[i];
    std::string defaults;  // for the man page, which shows the type and the default apart
    for (const auto& value : initial) defaults += (defaults.empty() ? "" : " ") + value;
    auto& values = lists_.emplace_back(std::move(initial));
    app_.add_option(name, values, help)
        ->type_name(type)
        ->default_str(defaults)
        ->option_text(shown + " ...")
        ->expected(1, max_list_values)
        ->allow_extra_args(false)
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
        ->trigger_on_parse()  // each occurrence stores its list; the next one clears the results first
        ->group(group);
    return values;
  }

  bool given(const std::string& name) const { return app_.count(name) > 0; }

  /// Runs the conversions; the first error, or empty.
  std::string convert_all() const {
    for (const auto& convert : conversions_) {
      if (auto error = convert(); !error.empty()) return error;
    }
    return {};
  }

 private:
  CLI::App& app_;
  std::deque<std::string> texts_;               // stable addresses: CLI11 keeps references
  std::deque<std::vector<std::string>> lists_;  // likewise
  std::vector<std::function<std::string()>> conversions_;
};

struct role_lists {
  std::vector<std::string>* hosts = nullptr;
  std::vector<std::string>* hosts_num = nullptr;
  std::vector<std::string>* ports = nullptr;
  std::vector<std::string>* ports_inc = nullptr;
};

role_lists add_role_flags(flag_set& flags, const std::string& role, const std::string& title,
                          int default_port) {
  const std::string prefix = "--" + role;
  const std::string group = title + " pool";
  role_lists out;
  out.hosts = &flags.add_list(prefix + "-hosts", {"localhost"},
                              title + " hosts (names, IPv4 or IPv6 literals; [::1] and ::1 are the same)",
                              group, "HOST");
  out.hosts_num = &flags.add_list(
      prefix + "-hosts-num", {},
      "How many times each " + role + " host is repeated (one count per host, 1-65535)", group, "COUNT");
  out.ports = &flags.add_list(prefix + "-ports", {std::to_string(default_port)},
                              title + " ports (one per host, 1-65535)", group, "PORT");
  out.ports_inc = &flags.add_list(
      prefix + "-ports-inc", {},
      "How many consecutive ports start at each " + role + " port (a count, not a step; 1-65535)", group,
      "COUNT");
  return out;
}

// Converts one list flag's values to integers in [min, max]; the first error, or empty.
std::string to_integers(const std::string& name, const std::vector<std::string>& texts, long long min,
                        long long max, std::vector<long long>& out) {
  out.clear();
  out.reserve(texts.size());
  for (const auto& text : texts) {
    const auto v = parse_integer(name, text, min, max);
    if (!v.ok()) return v.error;
    out.push_back(v.value);
  }
  return {};
}

pool_expansion expand_role(const flag_set& flags, const role_lists& lists, const std::string& role) {
  const std::string prefix = "--" + role;
  pool_flags pool;
  pool.hosts = *lists.hosts;
  if (auto e = to_integers(prefix + "-ports", *lists.ports, 1, max_port, pool.ports); !e.empty()) {
    return pool_expansion{{}, e};
  }
  if (flags.given(prefix + "-hosts-num")) {
    auto& counts = pool.hosts_num.emplace();
    if (auto e = to_integers(prefix + "-hosts-num", *lists.hosts_num, 1, max_pool_count, counts);
        !e.empty()) {
      return pool_expansion{{}, e};
    }
  }
  if (flags.given(prefix + "-ports-inc")) {
    auto& counts = pool.ports_inc.emplace();
    if (auto e = to_integers(prefix + "-ports-inc", *lists.ports_inc, 1, max_pool_count, counts);
        !e.empty()) {
      return pool_expansion{{}, e};
    }
  }
  return expand_pool(pool, role);
}

// A key goes into a header comparison (and, for the backend key, into a header line): blanks around it are
// dropped, an empty key or one with a control character is refused.
std::string check_key(const std::string& source, std::string& key) {
  key = std::string(trim_blanks(key));
  if (key.empty()) return source + ": the key is empty";
  if (has_control_character(key)) return source + ": the key contains a control character (a line break?)";
  return {};
}

// Client keys, admin key and TLS files, after parsing; the first error, or empty.
std::string security_settings(const CLI::App& app, const env_lookup& env,
                              std::vector<std::string>& client_keys,
                              const std::vector<std::string>& key_files, proxy_config& config) {
  if (client_keys.empty()) {
    if (auto key = env("PD_PROXY_API_KEY"); key && !trim_blanks(*key).empty()) {
      client_keys.push_back(*key);
      if (auto e = check_key("$PD_PROXY_API_KEY", client_keys.back()); !e.empty()) return e;
    }
  } else {
    for (auto& key : client_keys) {
      if (auto e = check_key("--api-key", key); !e.empty()) return e;
    }
  }
  for (const auto& file : key_files) {
    std::error_code ec;
    std::ifstream in(file, std::ios::binary);
    if (!in || std::filesystem::is_directory(file, ec))
      return "--api-key-file: cannot read " + quote_for_message(file);
    const std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    if (in.bad()) return "--api-key-file: cannot read " + quote_for_message(file);
    auto keys = parse_api_key_lines(text);
    // Fail closed: a file emptied by accident (or caught half-written by a reload) must not turn
    // client authentication off.
    if (keys.empty())
      return "--api-key-file " + quote_for_message(file) +
             ": the file holds no key (only blank lines or comments); refusing to turn client "
             "authentication off";
    for (auto& key : keys) {
      if (auto e = check_key("--api-key-file " + quote_for_message(file), key); !e.empty()) return e;
      client_keys.push_back(std::move(key));
    }
  }
  config.api_keys = std::move(client_keys);

  if (app.count("--admin-api-key") > 0) {
    if (auto e = check_key("--admin-api-key", config.admin_api_key); !e.empty()) return e;
  } else if (auto key = env("PD_PROXY_ADMIN_API_KEY"); key && !trim_blanks(*key).empty()) {
    config.admin_api_key = *key;
    if (auto e = check_key("$PD_PROXY_ADMIN_API_KEY", config.admin_api_key); !e.empty()) return e;
  }

  if (config.tls_cert.empty() != config.tls_key.empty())
    return "--tls-cert and --tls-key go together: give both or neither";
  for (const auto* file : {&config.tls_cert, &config.tls_key}) {
    std::error_code ec;
    if (!file->empty() &&
        (!std::ifstream(*file, std::ios::binary) || std::filesystem::is_directory(*file, ec)))
      return std::string(file == &config.tls_cert ? "--tls-cert" : "--tls-key") + ": cannot read " +
             quote_for_message(*file);
  }
  return {};
}

// The flags whose values are secrets.
bool is_key_flag(std::string_view arg) {
  for (const std::string_view flag : {"--api-key", "--admin-api-key", "--backend-api-key"}) {
    if (arg == flag ||
        (arg.size() > flag.size() && arg.substr(0, flag.size()) == flag && arg[flag.size()] == '='))
      return true;
  }
  return false;
}

// CLI11's "The following arguments were not expected: ..." without key material: a flag is named without
// its "=VALUE", and an argument that followed a key flag (`--api-key a b`: b may be a key's second half) or
// an unknown flag (`--api-keys secret`, a typo) is not shown. `args` are the arguments CLI11 parsed.
std::string unexpected_arguments(const std::vector<std::string>& extras,
                                 const std::vector<std::string>& args) {
  const std::set<std::string> unknown(extras.begin(), extras.end());
  std::set<std::string> after_key_flag;
  bool in_key_values = false;
  for (const auto& arg : args) {
    if (!arg.empty() && arg.front() == '-') {
      in_key_values = is_key_flag(arg) || unknown.count(arg) > 0;
    } else if (in_key_values) {
      after_key_flag.insert(arg);
    }
  }
  std::string shown;
  for (const auto& extra : extras) {
    shown += shown.empty() ? "" : ", ";
    if (!extra.empty() && extra.front() == '-') {
      shown += quote_for_message(extra.substr(0, extra.find('=')));
    } else if (after_key_flag.count(extra) > 0) {
      shown += "(a value after a key flag or an unknown flag, not shown)";
    } else {
      shown += quote_for_message(extra);
    }
  }
  return "unexpected argument(s): " + shown +
         " (an unknown flag, or a value too many for its flag: a single-valued flag takes one)";
}

cli_outcome parse_or_throw(int argc, const char* const* argv, const env_lookup& env) {
  proxy_config config;

  CLI::App app{
      "pd-proxy: load-balances OpenAI-style requests across prefill-decode disaggregated vLLM servers.\n"
      "Each request is prefilled on one prefiller (max_tokens=1), then decoded and streamed from one "
      "decoder.",
      "pd-proxy"};
  app.option_defaults()->always_capture_default()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  app.set_version_flag("--version", std::string("pd-proxy ") + PD_PROXY_VERSION);
  app.get_formatter()->column_width(40);
  app.footer(help_footer());
  bool check_only = false;
  add_config_file_flags(app, check_only);
  flag_set flags(app);

  flags.add_text(
      "--host", config.host,
      "Address to listen on (localhost: loopback only; 0.0.0.0: all; IPv6 with or without brackets)",
      "Listener", "HOST", [&config](const std::string& text) -> std::string {
        auto host = parse_host(text);
        if (!host.ok()) return "--host value '" + text + "' " + host.error;
        config.host = std::move(host.host);
        return {};
      });
  flags.add_integer("--port", config.port, 0, max_port, "Port to listen on (0: any free port)", "Listener");

  const role_lists prefill = add_role_flags(flags, "prefiller", "Prefiller", 8001);
  const role_lists decode = add_role_flags(flags, "decoder", "Decoder", 8002);
  const auto& bootstrap_ports = flags.add_list(
      "--prefiller-bootstrap-ports", {},
      "Each prefiller's SGLang bootstrap port (one per --prefiller-hosts entry, expanded as the ports; "
      "--pd-protocol sglang-bootstrap sends it as bootstrap_port; none given: null, the engine's default)",
      "Prefiller pool", "PORT");

  std::vector<std::string> prefiller_dns, decoder_dns;
  app.add_option("--prefiller-dns", prefiller_dns,
                 "A name whose every A/AAAA record is a prefiller on PORT, resolved every "
                 "--dns-refresh-interval (repeatable; alongside or instead of --prefiller-hosts)")
      ->type_name("NAME:PORT")
      ->default_str("")  // none, rather than CLI11's "[]"
      ->take_all()
      ->group("Prefiller pool");
  app.add_option("--decoder-dns", decoder_dns,
                 "A name whose every A/AAAA record is a decoder on PORT, resolved every "
                 "--dns-refresh-interval (repeatable; alongside or instead of --decoder-hosts)")
      ->type_name("NAME:PORT")
      ->default_str("")  // none, rather than CLI11's "[]"
      ->take_all()
      ->group("Decoder pool");
  flags.add_seconds("--dns-refresh-interval", config.dns_refresh_interval,
                    "Seconds between resolutions of the --prefiller-dns/--decoder-dns names", "DNS discovery",
                    false);

  flags.add_text("--pd-protocol", config.pd_protocol,
                 "The PD protocol family spoken to the backends: two-stage (vLLM's: prefill with "
                 "max_tokens 1, then decode with the prefiller's kv_transfer_params), sglang-bootstrap "
                 "(SGLang's: one body with bootstrap_host/port/room to a prefiller and a decoder at once) or "
                 "decoder-first (vLLM-Ascend's layerwise: the decoder first, then one prefill with the KV "
                 "parameters it posted to /v1/metaserver)",
                 "Retries", "two-stage", [&config](const std::string& text) -> std::string {
                   if (find_pd_protocol(text) == nullptr) {
                     std::string known;
                     for (const auto& protocol : pd_protocols()) {
                       if (!known.empty()) known += ", ";
                       known += protocol.name;
                     }
                     return "--pd-protocol: unknown value " + quote_for_message(text) + " (expected " +
                            known + ")";
                   }
                   config.pd_protocol = text;
                   return {};
                 });
  flags.add_text("--metaserver-url", config.metaserver_url,
                 "With --pd-protocol decoder-first: the URL decoders call back with their KV parameters "
                 "(default http://HOST:PORT/v1/metaserver from --host/--port; required when --host is a "
                 "wildcard address)",
                 "Retries", "URL", [&config](const std::string& text) -> std::string {
                   if (!is_metaserver_url(text))
                     return "--metaserver-url: " + quote_for_message(text) +
                            " is not an http:// or https:// URL (no spaces, quotes or control characters)";
                   config.metaserver_url = text;
                   return {};
                 });
  flags.add_seconds("--metaserver-timeout", config.metaserver_timeout,
                    "With --pd-protocol decoder-first: seconds a decoder has to call the metaserver back "
                    "once it was sent the request, else the request fails with 504",
                    "Retries", true);
  flags.add_integer("--metaserver-max-pending", config.metaserver_max_pending, 1, 16777216,
                    "With --pd-protocol decoder-first: call-back ids pending at once, all requests together "
                    "(a request beyond it is answered 503)",
                    "Retries", "N");
  flags.add_integer(
      "--max-retries", config.max_retries, INT_MIN, max_retries_limit,
      "Attempts per backend leg (the reference's name; values below 1 mean 1; at most 100). Each "
      "retry goes to a different backend when one exists",
      "Retries", "INT", "an integer of at most 100; values below 1 mean 1");
  flags.add_seconds("--retry-delay", config.retry_delay,
                    "Base delay in seconds before a retry, doubled after each attempt (0: none)", "Retries",
                    false);
  flags.add_text("--decode-retry-kv", std::string(to_string(config.decode_retry_kv)),
                 "What a decode retry sends to the next decoder: reuse (the prefiller's kv_transfer_params "
                 "again) or reprefill (prefill again for fresh ones)",
                 "Retries", "reuse|reprefill", [&config](const std::string& text) -> std::string {
                   const auto mode = parse_decode_retry_kv(text);
                   if (!mode)
                     return "--decode-retry-kv: unknown value " + quote_for_message(text) +
                            " (expected reuse or reprefill)";
                   config.decode_retry_kv = *mode;
                   return {};
                 });
  app.add_flag("--usage-from-decoder", config.usage_from_decoder,
               "Relay the decoder's usage.prompt_tokens_details.cached_tokens as it is (default: the "
               "prefiller's figure, which counts the prefix-cache hits)")
      ->group("Answers");
  flags.add_integer("--max-waiting-retries", config.max_waiting_retries, 0, max_waiting_retries_limit,
                    "Probes of a newly added instance before it is dropped (reference compatibility)",
                    "Retries");
  flags.add_seconds("--waiting-retry-interval", config.waiting_retry_interval,
                    "Seconds between probes of newly added instances (reference compatibility)", "Retries",
                    false);

  flags.add_seconds("--connect-timeout", config.connect_timeout,
                    "Seconds to connect to a backend (0: no limit)", "Timeouts", true);
  flags.add_seconds("--prefill-timeout", config.prefill_timeout,
                    "Seconds for a whole prefill exchange (0: no limit)", "Timeouts", true);
  flags.add_seconds("--first-token-timeout", config.first_token_timeout,
                    "Seconds from sending the decode request to its first byte (0: no limit)", "Timeouts",
                    true);
  flags.add_seconds("--stream-idle-timeout", config.stream_idle_timeout,
                    "Seconds a decode stream, or a client write, may stall (0: no limit)", "Timeouts", true);
  flags.add_seconds("--client-header-timeout", config.client_header_timeout,
                    "Seconds to receive one whole client request (0: no limit)", "Timeouts", true);
  flags.add_seconds("--client-idle-timeout", config.client_idle_timeout,
                    "Seconds an idle keep-alive client connection is kept (0: no limit)", "Timeouts", true);
  flags.add_seconds("--drain-timeout", config.shutdown_timeout,
                    "On SIGTERM/SIGINT, seconds to let in-flight requests finish before exiting (0: no "
                    "limit, wait for all of them)",
                    "Timeouts", true);
  flags.add_seconds("--shutdown-timeout", config.shutdown_timeout, "Alias of --drain-timeout", "Timeouts",
                    true);

  flags.add_integer("--cb-failure-threshold", config.cb_failure_threshold, 0, max_failure_threshold,
                    "Consecutive failed requests on a backend that open its circuit breaker (0: never)",
                    "Health");
  flags.add_seconds("--cb-recovery-timeout", config.cb_recovery_timeout,
                    "Seconds an open breaker keeps a backend out before one trial request; doubled on each "
                    "re-opening",
                    "Health", false);
  flags.add_seconds("--cb-max-recovery-timeout", config.cb_max_recovery_timeout,
                    "The most the doubled recovery timeout reaches, in seconds", "Health", false);
  flags.add_seconds("--health-check-interval", config.health_check_interval,
                    "Seconds between active health checks of each backend (0: no active checks)", "Health",
                    true);
  flags.add_text("--health-check-path", config.health_check_path, "Path of the active health check (GET)",
                 "Health", "PATH", [&config](const std::string& text) -> std::string {
                   if (text.empty() || text.front() != '/' || has_control_character(text) ||
                       text.find(' ') != std::string::npos)
                     return "--health-check-path: " + quote_for_message(text) +
                            " is not a path (expected /health or the like)";
                   config.health_check_path = text;
                   return {};
                 });
  flags.add_seconds("--health-check-timeout", config.health_check_timeout,
                    "Seconds a health check may take (connect included) before it counts as failed", "Health",
                    false);
  flags.add_integer("--unhealthy-threshold", config.unhealthy_threshold, 1, max_failure_threshold,
                    "Consecutive failed checks that mark a backend unhealthy", "Health");
  flags.add_integer("--healthy-threshold", config.healthy_threshold, 1, max_failure_threshold,
                    "Consecutive passed checks that mark an unhealthy backend healthy again", "Health");

  flags.add_integer("--max-inflight", config.max_inflight, 0, max_connections_limit,
                    "Requests in the PD flow at once (0: no limit); the excess waits in a queue", "Overload");
  flags.add_integer("--max-queue", config.max_queue, 0, max_connections_limit,
                    "Requests that may wait for --max-inflight; beyond it 429 at once", "Overload");
  flags.add_seconds("--queue-timeout", config.queue_timeout,
                    "Seconds a request may wait in the queue before it is answered 429 (0: no limit)",
                    "Overload", true);

  flags.add_integer("--max-body-size", config.max_body_size, 1, max_body_size_limit,
                    "Largest client request body in bytes (413 above; at most 4 GiB); also bounds buffered "
                    "backend bodies",
                    "Limits", "BYTES");
  flags.add_integer(
      "--max-buffered-body-bytes", config.max_buffered_body_bytes, 1, max_buffered_body_bytes_limit,
      "Client request body bytes held by all in-flight requests together; beyond it new requests "
      "are answered 503 with Retry-After",
      "Limits", "BYTES");
  flags.add_integer("--max-connections", config.max_connections, 1, max_connections_limit,
                    "Concurrent client connections; more are answered 503 and closed", "Limits");
  flags.add_integer("--max-idle-backend-connections", config.max_idle_backend_connections, 0,
                    max_idle_backend_connections_limit,
                    "Idle keep-alive connections kept per backend per worker", "Limits");

  app.add_flag("--ignore-client-half-close", config.ignore_client_half_close,
               "Serve a request whose client half-closed its write side after sending it (default: treat the "
               "client as gone and cancel the request, as nginx does)")
      ->group("Client connections");

  const std::string policies =
      "least-loaded, round-robin, random, power-of-two, prefix-affinity, session-affinity or queue-aware";
  flags.add_text("--prefill-policy", config.prefill_policy, "Prefiller selection policy: " + policies,
                 "Scheduling", "POLICY", [&config](const std::string& text) -> std::string {
                   if (!make_policy(text))
                     return "--prefill-policy: unknown policy " + quote_for_message(text);
                   config.prefill_policy = text;
                   return {};
                 });
  flags.add_text("--decode-policy", config.decode_policy, "Decoder selection policy: " + policies,
                 "Scheduling", "POLICY", [&config](const std::string& text) -> std::string {
                   if (!make_policy(text))
                     return "--decode-policy: unknown policy " + quote_for_message(text);
                   config.decode_policy = text;
                   return {};
                 });
  flags.add_text(
      "--affinity-load-factor", format_number(config.affinity_load_factor),
      "prefix-affinity and session-affinity keep a key's owner unless its load is above this "
      "factor times the mean load (1-100)",
      "Scheduling", "FACTOR", [&config](const std::string& text) -> std::string {
        std::string_view number = text;  // from_chars takes '-' but not '+'
        if (!number.empty() && number.front() == '+') number.remove_prefix(1);
        double value = 0;
        const auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), value);
        if (number.empty() || end != number.data() + number.size() || ec != std::errc{} ||
            !(value >= 1.0 && value <= 100.0))
          return "--affinity-load-factor: " + quote_for_message(text) + " is not a number from 1 to 100";
        config.affinity_load_factor = value;
        return {};
      });
  flags.add_text("--session-header", config.session_header,
                 "Client header whose value is session-affinity's session key", "Scheduling", "NAME",
                 [&config](const std::string& text) -> std::string {
                   if (!is_header_name(text))
                     return "--session-header: " + quote_for_message(text) + " is not an HTTP header name";
                   config.session_header = text;
                   return {};
                 });
  flags.add_seconds("--metrics-scrape-interval", config.metrics_scrape_interval,
                    "Seconds between reads of each backend's /metrics (engine load for the policies; "
                    "0: never)",
                    "Scheduling", false);
  flags.add_integer("--disagg-min-prompt-tokens", config.disagg_min_prompt_tokens, 0, max_body_size_limit,
                    "A prompt estimated (bytes/4) below this many tokens skips the prefill and goes straight "
                    "to a decoder (0: always disaggregate)",
                    "Scheduling", "TOKENS");

  std::string api_key;
  app.add_option("--backend-api-key", api_key,
                 "Bearer token sent to backends (default: $OPENAI_API_KEY; none when both are unset)")
      ->group("Security");
  std::vector<std::string> client_keys;
  app.add_option("--api-key", client_keys,
                 "Key clients must send as 'Authorization: Bearer KEY' on the OpenAI routes; repeatable "
                 "(rotation). Default: $PD_PROXY_API_KEY; no key: the routes are open")
      ->option_text("KEY")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
      ->allow_extra_args(false)
      ->group("Security");
  std::vector<std::string> key_files;
  app.add_option("--api-key-file", key_files,
                 "File of client keys, one per line (blank lines and # comments ignored); repeatable")
      ->option_text("FILE")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
      ->allow_extra_args(false)
      ->group("Security");
  app.add_flag("--forward-client-authorization", config.forward_client_authorization,
               "Send the client's Authorization header to backends instead of --backend-api-key")
      ->group("Security");
  app.add_option("--admin-api-key", config.admin_api_key,
                 "Bearer token of the admin routes (default: $PD_PROXY_ADMIN_API_KEY; none: admin routes "
                 "serve loopback clients only)")
      ->type_name("KEY")
      ->group("Security");
  app.add_option("--tls-cert", config.tls_cert, "PEM certificate (chain) of the listener; with --tls-key")
      ->type_name("FILE")
      ->group("Security");
  app.add_option("--tls-key", config.tls_key, "PEM private key of the listener; with --tls-cert")
      ->type_name("FILE")
      ->group("Security");
  flags.add_integer("--workers", config.workers, 1, max_workers,
                    "I/O threads (default: number of cores, 1-1024)", "Runtime");
  app.get_option("--workers")->default_str("");  // the build machine's core count is no default to show
  flags.add_text("--log-level", config.log_level,
                 "trace, debug, info, warning, error, critical or off (any case)", "Runtime", "LEVEL",
                 [&config](const std::string& text) -> std::string {
                   static const std::set<std::string> levels{"trace", "debug", "info",     "warning",
                                                             "warn",  "error", "critical", "off"};
                   const std::string level = lower(text);
                   if (levels.count(level) == 0)
                     return "--log-level: unknown level " + quote_for_message(text);
                   config.log_level = level;
                   return {};
                 });
  flags.add_text(
      "--access-log", config.access_log,
      "Access log, one JSON line per request: off, stdout, stderr or a FILE (appended to, reopened "
      "on SIGUSR1)",
      "Runtime", "TARGET", [&config](const std::string& text) -> std::string {
        if (text.empty()) return "--access-log: expected off, stdout, stderr or a file path";
        config.access_log = text;
        return {};
      });

  flags.add_text("--log-format", config.log_format, "Log lines: text or json (one JSON object per line)",
                 "Runtime", "text|json", [&config](const std::string& text) -> std::string {
                   if (text != "text" && text != "json")
                     return "--log-format: unknown format " + quote_for_message(text) +
                            " (expected text or json)";
                   config.log_format = text;
                   return {};
                 });
  const auto sources = arguments_with_environment(app, argc, argv, env);  // also names each flag's variable
  if (wants_man_page(argc, argv)) return cli_outcome{std::nullopt, 0, render_man_page(app, proxy_man_page())};
  if (!sources.error.empty()) return usage_error(sources.error);
  std::vector<const char*> args;
  for (const auto& arg : sources.args) args.push_back(arg.c_str());

  std::ostringstream out, err;
  try {
    app.parse(static_cast<int>(args.size()), args.data());
  } catch (const CLI::ExtrasError&) {
    return usage_error(unexpected_arguments(app.remaining(), sources.args));
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e, out, err);
    if (code == 0) return cli_outcome{std::nullopt, 0, out.str()};
    return cli_outcome{std::nullopt, 2, err.str() + out.str()};
  }

  if (auto error = flags.convert_all(); !error.empty()) return usage_error(error);

  for (const auto& [flag, texts, role] :
       {std::tuple{"--prefiller-dns", &prefiller_dns, backend_role::prefill},
        std::tuple{"--decoder-dns", &decoder_dns, backend_role::decode}}) {
    for (const auto& text : *texts) {
      auto target = parse_dns_target(flag, text, role);
      if (!target.ok()) return usage_error(target.error);
      config.dns_targets.push_back(std::move(target.target));
    }
  }
  if (!config.dns_targets.empty() && config.dns_refresh_interval.count() <= 0) {
    return usage_error("--dns-refresh-interval must be above 0");
  }
  // A role discovered by DNS has no static pool unless its host or port flags are given.
  const auto static_pool = [&flags](const std::string& role, const std::vector<std::string>& dns) {
    return dns.empty() || flags.given("--" + role + "-hosts") || flags.given("--" + role + "-ports");
  };
  if (static_pool("prefiller", prefiller_dns)) {
    auto prefillers = expand_role(flags, prefill, "prefiller");
    if (!prefillers.ok()) return usage_error(prefillers.error);
    config.prefillers = std::move(prefillers.backends);
    if (flags.given("--prefiller-bootstrap-ports")) {
      std::vector<long long> ports, increments;
      std::optional<std::vector<long long>> ports_inc;
      if (auto e = to_integers("--prefiller-bootstrap-ports", bootstrap_ports, 1, max_port, ports);
          !e.empty())
        return usage_error(e);
      if (flags.given("--prefiller-ports-inc")) {
        if (auto e = to_integers("--prefiller-ports-inc", *prefill.ports_inc, 1, max_pool_count, increments);
            !e.empty())
          return usage_error(e);
        ports_inc = std::move(increments);
      }
      if (auto e = apply_bootstrap_ports(ports, prefill.hosts->size(), ports_inc, config.prefillers);
          !e.empty())
        return usage_error(e);
    }
  } else if (flags.given("--prefiller-bootstrap-ports")) {
    return usage_error(
        "--prefiller-bootstrap-ports needs --prefiller-hosts (DNS-discovered prefillers get none)");
  }
  if (static_pool("decoder", decoder_dns)) {
    auto decoders = expand_role(flags, decode, "decoder");
    if (!decoders.ok()) return usage_error(decoders.error);
    config.decoders = std::move(decoders.backends);
  }

  const bool key_from_flag = app.count("--backend-api-key") > 0;
  if (key_from_flag) {
    config.backend_api_key = api_key;
  } else if (auto key = env("OPENAI_API_KEY")) {
    config.backend_api_key = *key;
  }
  // The key goes into a header line: a line break in it would add headers of the operator's choosing to every
  // backend request. Surrounding blanks (a key file's final newline) are dropped; anything else is refused.
  config.backend_api_key = std::string(trim_blanks(config.backend_api_key));
  if (has_control_character(config.backend_api_key)) {
    return usage_error(std::string(key_from_flag ? "--backend-api-key" : "$OPENAI_API_KEY") +
                       ": the key contains a control character (a line break?)");
  }
  if (config.pd_protocol == "decoder-first" && config.metaserver_url.empty() &&
      is_wildcard_host(config.host)) {
    return usage_error("--pd-protocol decoder-first: --host " + quote_for_message(config.host) +
                       " is a wildcard address, which decoders cannot call back: give --metaserver-url");
  }
  if (auto error = security_settings(app, env, client_keys, key_files, config); !error.empty()) {
    return usage_error(error);
  }
  return cli_outcome{std::move(config), 0, {}, check_only};
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
  try {
    return parse_or_throw(argc, argv, env);
  } catch (const std::exception& e) {  // a last resort: every expected problem is reported above
    return usage_error(std::string("cannot parse the command line: ") + e.what());
  } catch (...) {
    return usage_error("cannot parse the command line");
  }
}

std::string quote_for_message(std::string_view text) {
  constexpr std::size_t shown_whole = 24, shown_part = 20;
  if (text.size() <= shown_whole) return "'" + std::string(text) + "'";
  return "'" + std::string(text.substr(0, shown_part)) + "...'";
}

flag_value<double> parse_seconds(std::string_view flag, std::string_view text, bool zero_means_no_limit) {
  const auto fail = [&](std::string_view why) {
    return flag_value<double>{0, std::string(flag) + ": " + quote_for_message(text) + " " + std::string(why)};
  };
  const auto too_large = [&] {
    return fail(zero_means_no_limit
                    ? "is too large: the maximum is 1000000000 seconds (about 31 years); use 0 for no limit"
                    : "is too large: the maximum is 1000000000 seconds (about 31 years)");
  };
  const auto below_resolution = [&] {
    return fail("is below 1 nanosecond, the timers' resolution: give 0 or at least 1e-9");
  };

  std::string_view number = text;  // what from_chars reads: it takes '-' but not '+'
  if (!number.empty() && number.front() == '+') {
    number.remove_prefix(1);
    if (!number.empty() && (number.front() == '+' || number.front() == '-')) number = {};
  }
  if (number.empty()) return fail("is not a number of seconds");
  double value = 0;
  const auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), value);
  if (end != number.data() + number.size() || (ec != std::errc{} && ec != std::errc::result_out_of_range)) {
    return fail("is not a number of seconds");
  }
  if (ec == std::errc::result_out_of_range) {
    // from_chars leaves `value` alone; strtod tells overflow (+-HUGE_VAL) from underflow (about 0). The text
    // is a valid number, so the C locale's decimal point (pd-proxy never sets a locale) reads all of it.
    const std::string copy(number);
    const double approx = std::strtod(copy.c_str(), nullptr);
    if (std::signbit(approx)) return fail("must not be negative");
    return std::fabs(approx) >= 1 ? too_large() : below_resolution();
  }
  if (!std::isfinite(value)) return fail("must be a finite number of seconds");
  if (value < 0) return fail("must not be negative");
  if (value > max_duration_seconds) return too_large();
  if (value > 0 && value < 1e-9) return below_resolution();
  return flag_value<double>{value == 0 ? 0.0 : value, {}};  // -0 becomes 0
}

flag_value<long long> parse_integer(std::string_view flag, std::string_view text, long long min,
                                    long long max, std::string_view expected) {
  const std::string wanted = expected.empty()
                                 ? "an integer between " + std::to_string(min) + " and " + std::to_string(max)
                                 : std::string(expected);
  const auto fail = [&](std::string_view why) {
    return flag_value<long long>{0, std::string(flag) + ": " + quote_for_message(text) + " " +
                                        std::string(why) + " (expected " + wanted + ")"};
  };

  std::string_view number = text;  // what from_chars reads: it takes '-' but not '+'
  if (!number.empty() && number.front() == '+') number.remove_prefix(1);
  std::string_view digits = number;  // after one sign
  if (!text.empty() && text.front() == '-') digits.remove_prefix(1);
  if (digits.empty() ||
      !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return fail("is not an integer");
  }
  long long value = 0;
  const auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), value);
  if (ec == std::errc::result_out_of_range) return fail("is out of range");
  if (ec != std::errc{} || end != number.data() + number.size()) return fail("is not an integer");
  if (value < min || value > max) return fail("is out of range");
  return flag_value<long long>{value, {}};
}

std::optional<decode_retry_kv> parse_decode_retry_kv(std::string_view text) {
  if (text == "reuse") return decode_retry_kv::reuse;
  if (text == "reprefill") return decode_retry_kv::reprefill;
  return std::nullopt;
}

}  // namespace pd_proxy
