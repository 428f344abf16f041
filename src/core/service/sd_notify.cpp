#include "pd_proxy/core/service/sd_notify.hpp"

#include <algorithm>
#include <charconv>

namespace pd_proxy {
namespace {

constexpr std::size_t sun_path_size = 108;  // sizeof(sockaddr_un::sun_path) on Linux

std::optional<long long> positive_integer(std::string_view text) {
  if (text.empty() || !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return std::nullopt;
  long long value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size() || value <= 0) return std::nullopt;
  return value;
}

}  // namespace

std::string notify_ready() {
  return "READY=1";
}

std::string notify_reloading(std::uint64_t monotonic_usec) {
  return "RELOADING=1\nMONOTONIC_USEC=" + std::to_string(monotonic_usec);
}

std::string notify_stopping() {
  return "STOPPING=1";
}

std::string notify_watchdog() {
  return "WATCHDOG=1";
}

std::string notify_status(std::string_view text) {
  std::string out = "STATUS=";
  for (const char c : text) out += (c == '\n' || c == '\r') ? ' ' : c;
  return out;
}

std::optional<std::string> notify_socket_address(std::optional<std::string_view> notify_socket) {
  if (!notify_socket || notify_socket->size() < 2) return std::nullopt;
  std::string address(*notify_socket);
  if (address.front() == '@') {
    address.front() = '\0';
  } else if (address.front() != '/') {
    return std::nullopt;
  }
  // A path needs its terminating NUL inside sun_path; an abstract name may fill it.
  if (address.size() > sun_path_size || (address.front() == '/' && address.size() >= sun_path_size))
    return std::nullopt;
  return address;
}

std::optional<std::chrono::microseconds> watchdog_interval(std::optional<std::string_view> watchdog_usec,
                                                           std::optional<std::string_view> watchdog_pid,
                                                           long long own_pid) {
  if (!watchdog_usec) return std::nullopt;
  const auto usec = positive_integer(*watchdog_usec);
  if (!usec) return std::nullopt;
  if (watchdog_pid) {
    const auto pid = positive_integer(*watchdog_pid);
    if (!pid || *pid != own_pid) return std::nullopt;
  }
  return std::chrono::microseconds(std::max<long long>(1, *usec / 2));
}

}  // namespace pd_proxy
