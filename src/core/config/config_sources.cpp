#include "pd_proxy/core/config/config_sources.hpp"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cctype>
#include <iterator>
#include <memory>

#include "pd_proxy/core/config/toml_settings.hpp"

namespace pd_proxy {
namespace {

// Reads --config with parse_toml_settings (strict TOML: escapes decoded, duplicate keys refused) and gives
// CLI11 one item per key. Keys are flag names in either spelling (normalize_config_key; `port` and `--port`
// are the same key, so setting both is a duplicate). Every message names --config and the line, never a
// value.
class toml_reader : public CLI::ConfigBase {
 public:
  explicit toml_reader(const CLI::App& app) : app_(app) {}

  std::vector<CLI::ConfigItem> from_config(std::istream& input) const override {
    const std::string text{std::istreambuf_iterator<char>(input), std::istreambuf_iterator<char>()};
    if (input.bad()) throw CLI::ConfigError("--config: the file cannot be read");
    const auto parsed = parse_toml_settings(text, normalize_config_key);
    if (!parsed.ok()) throw CLI::ConfigError("--config: " + parsed.error);
    std::vector<CLI::ConfigItem> out;
    for (const auto& setting : parsed.settings) {
      const std::string where = "--config: line " + std::to_string(setting.line) + ": ";
      const CLI::Option* option = app_.get_option_no_throw("--" + setting.key);
      if (option == nullptr) {
        throw CLI::ConfigError(where + "unknown key '" + setting.key +
                               "' (keys are flag names without the leading dashes)");
      }
      if (setting.is_array && option->get_expected_max() <= 1) {
        throw CLI::ConfigError(where + "'" + setting.key + "' takes one value, not an array");
      }
      if (setting.values.empty()) throw CLI::ConfigError(where + "'" + setting.key + "' has no value");
      CLI::ConfigItem item;
      item.name = setting.key;
      item.inputs = setting.values;
      out.push_back(std::move(item));
    }
    return out;
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

bool reads_its_variable_itself(std::string_view flag) {
  return flag == "--api-key" || flag == "--admin-api-key";
}

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
               "Validate the configuration (file, environment and command line) and do what the start does "
               "short of binding (TLS files, access log, --host), then exit: 0 when valid, 2 with a message "
               "when not")
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
    if (reads_its_variable_itself(flag)) continue;
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
