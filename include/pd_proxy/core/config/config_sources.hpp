// Where settings come from besides the command line: a TOML file (--config) and PD_PROXY_* variables.
// Precedence: command line > environment > file > defaults.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace CLI {
class App;
}

namespace pd_proxy {

/// The environment variable of a flag: "--prefiller-ports" -> "PD_PROXY_PREFILLER_PORTS".
std::string env_name_of(std::string_view flag);

/// A config-file key as a flag name without dashes: "prefiller_ports", "prefiller-ports" and
/// "--prefiller-ports" are all "prefiller-ports".
std::string normalize_config_key(std::string_view key);

/// Adds `--config FILE` (CLI11's config option, read with parse_toml_settings: strict TOML, a key set twice
/// refused with its line; keys in the spellings of normalize_config_key) and `--check-config` (sets
/// `check_only`).
/// Call before any other flag is added, so that both come first in --help.
void add_config_file_flags(CLI::App& app, bool& check_only);

/// Key flags whose variable the security settings read themselves, whole (`PD_PROXY_API_KEY="a,b c"` is
/// one key, as `--api-key "a,b c"` is), so that no part of a key ever reaches CLI11 or its messages:
/// --api-key and --admin-api-key.
bool reads_its_variable_itself(std::string_view flag);

/// The arguments CLI11 parses: argv[0], then one argument per flag set in the environment
/// (`env_name_of(flag)`, as `--flag=VALUE`; a list flag's value is split on blanks and commas into
/// `--flag V1 V2`; a flag without value is given when the variable is 1/true/yes/on, not when
/// 0/false/no/off), then argv[1..]. Since a later occurrence of a flag wins and CLI11 reads the file only for
/// flags not given, this makes the precedence command line > environment > file > defaults. Also sets every
/// option's envname, so --help shows it. --help, --version and --check-config are not read from the
/// environment, nor the flags of reads_its_variable_itself. Returns an error message (naming the variable)
/// for a flag variable that is neither true nor false.
struct environment_arguments {
  std::vector<std::string> args;
  std::string error;
};
environment_arguments arguments_with_environment(
    CLI::App& app, int argc, const char* const* argv,
    const std::function<std::optional<std::string>(const std::string&)>& env);

/// The text after the flag list in --help: sources, precedence, signals, exit codes.
std::string help_footer();

}  // namespace pd_proxy
