// Command line -> proxy_config, compatible with the reference proxy's flags.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "pd_proxy/core/config.hpp"

namespace pd_proxy {

struct cli_outcome {
  std::optional<proxy_config> config;  // set when the proxy should start
  int exit_code = 0;                   // when config is unset: 0 for --help/--version, 2 for a usage error
  std::string output;                  // help text or the error message, for stdout/stderr
};

/// Looks up an environment variable; nullopt when unset. Injected so tests do not touch the environment.
using env_lookup = std::function<std::optional<std::string>(const std::string&)>;

/// The process environment.
env_lookup process_env();

/// Parses argv. Multi-value flags take space-separated values (argparse nargs='+'). Every problem,
/// including unknown flags and inconsistent pool flags, is a usage error (exit code 2) whose message names
/// the flag. Never throws.
cli_outcome parse_command_line(int argc, const char* const* argv, const env_lookup& env);

}  // namespace pd_proxy
