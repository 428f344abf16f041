// Sends sd_notify(3) datagrams to $NOTIFY_SOCKET (no libsystemd): the messages come from core/service.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace pd_proxy {

/// Inactive (send does nothing) when not started by systemd with Type=notify. Thread-safe.
class systemd_notifier {
 public:
  /// `notify_socket`: the value of $NOTIFY_SOCKET, if any (a path, or "@name" for an abstract socket).
  explicit systemd_notifier(const std::optional<std::string>& notify_socket);
  ~systemd_notifier();
  systemd_notifier(const systemd_notifier&) = delete;
  systemd_notifier& operator=(const systemd_notifier&) = delete;

  bool active() const { return fd_ >= 0; }
  /// One datagram, without blocking (a full socket buffer drops it); false when inactive or not sent.
  bool send(std::string_view message) const;

 private:
  int fd_ = -1;
  std::string address_;  // sun_path bytes
};

/// CLOCK_MONOTONIC in microseconds, as MONOTONIC_USEC wants it.
std::uint64_t monotonic_usec_now();

}  // namespace pd_proxy
