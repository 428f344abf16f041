// Namespace aliases and the one completion token the I/O layer uses.
#pragma once

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace pd_proxy {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using error_code = boost::system::error_code;

/// Every awaited operation returns its error code in a tuple instead of throwing.
inline constexpr auto use_nothrow = net::as_tuple(net::use_awaitable);

}  // namespace pd_proxy
