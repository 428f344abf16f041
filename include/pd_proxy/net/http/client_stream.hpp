// A client connection's byte stream: the plain TCP socket, or TLS over it (--tls-cert/--tls-key).
#pragma once

#include <boost/asio/ssl.hpp>

#include "pd_proxy/net/net.hpp"

namespace pd_proxy {

using tls_stream = net::ssl::stream<tcp::socket>;

/// A non-owning view of the stream a client connection's bytes go through; copy it freely, but the socket
/// or TLS stream it refers to must outlive every operation started through it. An AsyncReadStream and
/// AsyncWriteStream: the choice between plain and TLS is one predictable branch per operation, and the plain
/// path goes to the socket's own operations (write_all's inline first send included, see plain_socket).
class client_stream {
 public:
  using executor_type = tcp::socket::executor_type;

  client_stream(tcp::socket& socket) : socket_(&socket) {}  // NOLINT: implicit on purpose, plain is the norm
  explicit client_stream(tls_stream& tls) : socket_(&tls.next_layer()), tls_(&tls) {}

  executor_type get_executor() { return socket_->get_executor(); }
  /// The TCP socket underneath (for options, shutdown and close).
  tcp::socket& socket() const { return *socket_; }
  bool is_tls() const { return tls_ != nullptr; }

  template <class MutableBuffers, class Token>
  auto async_read_some(const MutableBuffers& buffers, Token&& token) {
    return net::async_initiate<Token, void(error_code, std::size_t)>(
        [](auto handler, tcp::socket* socket, tls_stream* tls, const MutableBuffers& b) {
          if (tls != nullptr) {
            tls->async_read_some(b, std::move(handler));
          } else {
            socket->async_read_some(b, std::move(handler));
          }
        },
        token, socket_, tls_, buffers);
  }

  template <class ConstBuffers, class Token>
  auto async_write_some(const ConstBuffers& buffers, Token&& token) {
    return net::async_initiate<Token, void(error_code, std::size_t)>(
        [](auto handler, tcp::socket* socket, tls_stream* tls, const ConstBuffers& b) {
          if (tls != nullptr) {
            tls->async_write_some(b, std::move(handler));
          } else {
            socket->async_write_some(b, std::move(handler));
          }
        },
        token, socket_, tls_, buffers);
  }

 private:
  tcp::socket* socket_;
  tls_stream* tls_ = nullptr;
};

/// The socket write_all may write to directly (non-blocking, inline): the plain socket; none under TLS,
/// whose records must go through the TLS stream.
inline tcp::socket* plain_socket(client_stream& stream) {
  return stream.is_tls() ? nullptr : &stream.socket();
}

}  // namespace pd_proxy
