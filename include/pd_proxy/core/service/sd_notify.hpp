// The systemd notification protocol (sd_notify(3)) without libsystemd: what to send, and where.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace pd_proxy {

/// The messages pd-proxy sends (newline-separated assignments, one datagram each).
std::string notify_ready();                                  // "READY=1": listening (again, after a reload)
std::string notify_reloading(std::uint64_t monotonic_usec);  // "RELOADING=1\nMONOTONIC_USEC=<now>"
std::string notify_stopping();                               // "STOPPING=1": the drain starts
std::string notify_watchdog();                               // "WATCHDOG=1"
std::string notify_status(std::string_view text);            // "STATUS=<text>" (line breaks as blanks)

/// The socket address (sun_path bytes) for $NOTIFY_SOCKET: an absolute path as is, "@name" as the abstract
/// name (a leading NUL byte). Nullopt when unset, empty, relative, or longer than sun_path (108 bytes).
std::optional<std::string> notify_socket_address(std::optional<std::string_view> notify_socket);

/// How often to send WATCHDOG=1: half of $WATCHDOG_USEC, when it is a positive integer and $WATCHDOG_PID is
/// unset or equals `own_pid`; else nullopt (no watchdog).
std::optional<std::chrono::microseconds> watchdog_interval(std::optional<std::string_view> watchdog_usec,
                                                           std::optional<std::string_view> watchdog_pid,
                                                           long long own_pid);

}  // namespace pd_proxy
