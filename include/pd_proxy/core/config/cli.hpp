// Command line -> proxy_config, compatible with the reference proxy's flags.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "pd_proxy/core/config/config.hpp"

namespace pd_proxy {

struct cli_outcome {
  std::optional<proxy_config> config;  // set when the proxy should start
  int exit_code = 0;                   // when config is unset: 0 for --help/--version, 2 for a usage error
  std::string output;                  // help text or the error message, for stdout/stderr
  bool check_config = false;           // --check-config: config is valid; print nothing more and exit 0
};

/// Looks up an environment variable; nullopt when unset. Injected so tests do not touch the environment.
using env_lookup = std::function<std::optional<std::string>(const std::string&)>;

/// The process environment.
env_lookup process_env();

/// Parses argv, with the environment (PD_PROXY_<FLAG>) and the --config TOML file (config_sources.hpp):
/// command line > environment > file > defaults. Multi-value flags take space-separated values (argparse
/// nargs='+'). A flag given more than once takes its last occurrence, as argparse does (`--port 1 --port 2`
/// is 2; `--prefiller-ports 1 2
/// --prefiller-ports 3` is [3]). IPv6 literals may be given with or without brackets (`::1`, `[::1]`).
/// Every problem, including unknown flags, malformed or out-of-range numbers and inconsistent pool flags, is
/// a usage error (exit code 2) whose message names the flag and quotes the value as typed (long values
/// shortened). Never throws: an unexpected exception is reported as a usage error too.
cli_outcome parse_command_line(int argc, const char* const* argv, const env_lookup& env);

/// The largest duration any flag accepts, in seconds (about 31.7 years). A steady_clock timer counts int64
/// nanoseconds (about 292 years), so now() + this never overflows. 0 is how to ask for no limit.
inline constexpr double max_duration_seconds = 1e9;

/// The result of converting one flag's text: `value` when `error` is empty, else a message naming the flag.
template <class T>
struct flag_value {
  T value{};
  std::string error;

  bool ok() const { return error.empty(); }
};

/// `text` quoted for an error message: 'as typed', or its first 20 characters and "..." when longer than 24.
std::string quote_for_message(std::string_view text);

/// Converts a duration flag's text to seconds: a decimal or scientific number (optional leading '+'), finite,
/// not negative, 0 or at least 1 ns, at most max_duration_seconds. `zero_means_no_limit` only changes the
/// wording of the "too large" message (timeouts: "use 0 for no limit").
flag_value<double> parse_seconds(std::string_view flag, std::string_view text, bool zero_means_no_limit);

/// Converts an integer flag's text: optional sign and decimal digits only (no exponent, no fraction), within
/// [min, max]. The message for a value out of range says "expected " + `expected` when given, else
/// "expected an integer between min and max".
flag_value<long long> parse_integer(std::string_view flag, std::string_view text, long long min,
                                    long long max, std::string_view expected = {});

/// "reuse" or "reprefill" (exactly, as argparse choices); nullopt for anything else.
std::optional<decode_retry_kv> parse_decode_retry_kv(std::string_view text);

}  // namespace pd_proxy
