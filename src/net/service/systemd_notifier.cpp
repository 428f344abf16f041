#include "pd_proxy/net/service/systemd_notifier.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cstddef>
#include <cstring>

#include "pd_proxy/core/service/sd_notify.hpp"

namespace pd_proxy {

systemd_notifier::systemd_notifier(const std::optional<std::string>& notify_socket) {
  const auto address =
      notify_socket_address(notify_socket ? std::optional<std::string_view>(*notify_socket) : std::nullopt);
  if (!address) return;
  address_ = *address;
  fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
}

systemd_notifier::~systemd_notifier() {
  if (fd_ >= 0) ::close(fd_);
}

bool systemd_notifier::send(std::string_view message) const {
  if (fd_ < 0) return false;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, address_.data(), address_.size());  // fits: notify_socket_address checked it
  // A path's length includes its NUL (zeroed above); an abstract name's does not.
  const auto length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + address_.size() +
                                             (address_.front() == '/' ? 1 : 0));
  const auto sent = ::sendto(fd_, message.data(), message.size(), MSG_NOSIGNAL | MSG_DONTWAIT,
                             reinterpret_cast<const sockaddr*>(&addr), length);
  return sent == static_cast<ssize_t>(message.size());
}

std::uint64_t monotonic_usec_now() {
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<std::uint64_t>(now.tv_sec) * 1000000u + static_cast<std::uint64_t>(now.tv_nsec) / 1000u;
}

}  // namespace pd_proxy
