#include "pd_proxy/core/config/config_sources.hpp"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cctype>
#include <memory>
#include <sstream>

namespace pd_proxy {
namespace {

// The part of a TOML line before its comment: '#' outside a quoted string starts one.
std::string without_comment(const std::string& line) {
  char quote = 0;
  for (std::size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quote != 0) {
      if (c == '\\' && quote == '"') {
        ++i;  // an escaped character, quote included
      } else if (c == quote) {
        quote = 0;
      }
    } else if (c == '"' || c == '\'') {
      quote = c;
    } else if (c == '#') {
      return line.substr(0, i);
    }
  }
  return line;
}

// How many '[' outside quoted strings are still open at the end of `line` (comment already removed), given
// `depth` open before it.
int open_brackets(const std::string& line, int depth) {
  char quote = 0;
  for (std::size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quote != 0) {
      if (c == '\\' && quote == '"') {
        ++i;
      } else if (c == quote) {
        quote = 0;
      }
    } else if (c == '"' || c == '\'') {
      quote = c;
    } else if (c == '[') {
      ++depth;
    } else if (c == ']') {
      --depth;
    }
  }
  return depth;
}

// CLI11's TOML reader plus what TOML files written by people contain: comments anywhere (also inside a
// multi-line array), trailing commas in arrays, keys with underscores or leading dashes. Keys must be flags
// of `app`; tables ([section]) are refused, since every setting is top-level.
class toml_reader : public CLI::ConfigBase {
 public:
  explicit toml_reader(const CLI::App& app) : app_(app) {
    comment('\0');  // comments are taken out before CLI11 sees the text, quote-aware
  }

  std::vector<CLI::ConfigItem> from_config(std::istream& input) const override {
    // One logical line per key: comments out, a multi-line array joined (CLI11 joins one only when its first
    // line holds more than the '[').
    std::ostringstream cleaned;
    int depth = 0;
    for (std::string line; std::getline(input, line);) {
      line = without_comment(line);
      const bool table = depth == 0 && line.find('=') == std::string::npos;  // "[section]" or blank
      if (!table) depth = open_brackets(line, depth);
      cleaned << line << (depth > 0 ? ' ' : '\n');
    }
    std::istringstream text(cleaned.str());
    auto parsed = CLI::ConfigBase::from_config(text);
    for (auto& item : parsed) {
      if (!item.parents.empty() || item.name == "++" || item.name == "--") {
        throw CLI::ConfigError("--config: tables such as [" +
                               (item.parents.empty() ? item.name : item.parents.front()) +
                               "] are not supported: every key is a flag name at the top level");
      }
      item.name = normalize_config_key(item.name);
      if (app_.get_option_no_throw("--" + item.name) == nullptr) {
        throw CLI::ConfigError("--config: unknown key '" + item.name +
                               "' (keys are flag names without the leading dashes)");
      }
      item.inputs.erase(std::remove_if(item.inputs.begin(), item.inputs.end(),
                                       [](const std::string& v) { return v.empty(); }),
                        item.inputs.end());  // "[1, 2,]"
      if (item.inputs.empty()) {
        throw CLI::ConfigError("--config: '" + item.name + "' has no value");
      }
    }
    return parsed;
  }

 private:
  const CLI::App& app_;
};

bool is_list(const CLI::Option& option) {
  return option.get_expected_max() > 1;
}
bool is_switch(const CLI::Option& option) {
  return option.get_expected_min() == 0;
}

std::optional<bool> parse_switch(std::string value) {
  std::transform(value.begin(), value.end(), value.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (value == "1" || value == "true" || value == "yes" || value == "on") return true;
  if (value == "0" || value == "false" || value == "no" || value == "off") return false;
  return std::nullopt;
}

std::vector<std::string> split_list(const std::string& value) {
  std::vector<std::string> out;
  std::string current;
  for (const char c : value) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ',') {
      if (!current.empty()) out.push_back(std::move(current));
      current.clear();
    } else {
      current += c;
    }
  }
  if (!current.empty()) out.push_back(std::move(current));
  return out;
}

}  // namespace

std::string env_name_of(std::string_view flag) {
  while (!flag.empty() && flag.front() == '-') flag.remove_prefix(1);
  std::string name = "PD_PROXY_";
  for (const char c : flag) {
    name += c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return name;
}

std::string normalize_config_key(std::string_view key) {
  while (!key.empty() && key.front() == '-') key.remove_prefix(1);
  std::string name(key);
  std::replace(name.begin(), name.end(), '_', '-');
  return name;
}

void add_config_file_flags(CLI::App& app, bool& check_only) {
  app.set_config("--config", "",
                 "TOML file of settings: one key per flag, spelled as the flag without the leading dashes "
                 "(dashes or underscores), lists as arrays. Re-read on SIGHUP")
      ->type_name("FILE")
      ->configurable(false)
      ->group("Configuration");
  app.config_formatter(std::make_shared<toml_reader>(app));
  app.add_flag("--check-config", check_only,
               "Validate the configuration (file, environment and command line), then exit: 0 when valid, "
               "2 with a message when not")
      ->configurable(false)
      ->group("Configuration");
}

environment_arguments arguments_with_environment(
    CLI::App& app, int argc, const char* const* argv,
    const std::function<std::optional<std::string>(const std::string&)>& env) {
  environment_arguments out;
  out.args.emplace_back(argc > 0 ? argv[0] : "pd-proxy");
  for (CLI::Option* option : app.get_options()) {
    const auto& names = option->get_lnames();
    if (names.empty()) continue;
    const std::string flag = "--" + names.front();
    if (flag == "--help" || flag == "--version" || flag == "--check-config") continue;
    const std::string variable = env_name_of(flag);
    option->envname(variable);
    const auto value = env(variable);
    if (!value || value->empty()) continue;
    // The command line wins; for a list that means its values replace the environment's, not add to them.
    const bool on_command_line = std::any_of(argv + std::min(argc, 1), argv + argc, [&flag](const char* arg) {
      const std::string_view a(arg);
      return a == flag ||
             (a.size() > flag.size() && a.substr(0, flag.size()) == flag && a[flag.size()] == '=');
    });
    if (on_command_line) continue;
    if (is_switch(*option)) {
      const auto on = parse_switch(*value);
      if (!on) {
        out.error = "$" + variable + ": '" + *value +
                    "' is neither true nor false (expected 1/0, true/false, "
                    "yes/no or on/off)";
        return out;
      }
      if (*on) out.args.push_back(flag);
    } else if (is_list(*option)) {
      auto values = split_list(*value);
      if (values.empty()) continue;
      out.args.push_back(flag);
      out.args.insert(out.args.end(), values.begin(), values.end());
    } else {
      out.args.push_back(flag + "=" + *value);
    }
  }
  for (int i = 1; i < argc; ++i) out.args.emplace_back(argv[i]);
  return out;
}

std::string help_footer() {
  return "Settings come from, in this order of precedence: the command line, the environment (every flag as\n"
         "PD_PROXY_<FLAG>: upper case, dashes as underscores, e.g. PD_PROXY_PREFILLER_PORTS=\"9000 9001\"), "
         "the\n"
         "--config TOML file (e.g. prefiller-ports = [9000, 9001]), then the defaults shown above.\n"
         "\n"
         "Signals: SIGTERM/SIGINT drain (a second one stops at once); SIGHUP re-reads the configuration\n"
         "(pools, timeouts, retries, log level, keys; the listener and --workers need a restart).\n"
         "Under systemd (Type=notify) pd-proxy reports READY=1, RELOADING=1, STOPPING=1 and WATCHDOG=1 on\n"
         "$NOTIFY_SOCKET.\n"
         "\n"
         "Exit status: 0 after a drain, --help, --version or a valid --check-config; 1 when the listener\n"
         "cannot be opened; 2 for an invalid configuration.\n"
         "\n"
         "Documentation: docs/configuration.md, docs/operations.md.\n";
}

}  // namespace pd_proxy
