#include "pd_proxy/net/service/startup_check.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <cerrno>
#include <cstring>

#include "pd_proxy/core/config/cli.hpp"
#include "pd_proxy/net/client/tls_context.hpp"

namespace pd_proxy {
namespace {

// As access_log's fopen(path, "a"): opened for appending, created when missing (and then removed again).
std::string check_access_log(const std::string& target) {
  if (target == "off" || target == "stdout" || target == "stderr") return {};
  struct stat before {};
  const bool existed = ::stat(target.c_str(), &before) == 0;
  const int fd = ::open(target.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0666);
  if (fd < 0) return "--access-log: cannot open " + quote_for_message(target) + ": " + std::strerror(errno);
  ::close(fd);
  if (!existed) ::unlink(target.c_str());
  return {};
}

std::string check_host(const proxy_config& config) {
  boost::asio::io_context io;
  boost::asio::ip::tcp::resolver resolver(io);
  boost::system::error_code ec;
  const auto results =
      resolver.resolve(config.host, std::to_string(config.port), boost::asio::ip::tcp::resolver::passive, ec);
  if (ec || results.empty())
    return "--host " + quote_for_message(config.host) +
           ": cannot resolve it: " + (ec ? ec.message() : std::string("no address"));
  return {};
}

}  // namespace

std::string check_startup(const proxy_config& config) {
  if (!config.tls_cert.empty()) {
    std::string error;
    if (!make_tls_context(config.tls_cert, config.tls_key, error)) return error;
  }
  if (auto error = check_access_log(config.access_log); !error.empty()) return error;
  return check_host(config);
}

}  // namespace pd_proxy
