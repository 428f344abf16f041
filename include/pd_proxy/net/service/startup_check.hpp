// What start-up does with a configuration short of binding the listener: for --check-config (systemd's
// ExecStartPre) and for the start itself, so that a configuration --check-config accepts starts.
#pragma once

#include <string>

#include "pd_proxy/core/config/config.hpp"

namespace pd_proxy {

/// Loads the TLS context (--tls-cert/--tls-key: both parse, the key matches the certificate), opens the
/// --access-log file for appending (never truncating it; a file the check created is removed again) and
/// resolves --host as the listener does. Empty when all of it works, else a message naming the flag (file
/// paths are named, file contents never).
std::string check_startup(const proxy_config& config);

}  // namespace pd_proxy
