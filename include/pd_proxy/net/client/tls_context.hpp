// The listener's TLS context (--tls-cert/--tls-key).
#pragma once

#include <boost/asio/ssl/context.hpp>
#include <memory>
#include <string>

namespace pd_proxy {

/// A server context for TLS 1.2 and later only (SSLv2/3, TLS 1.0/1.1 refused), with the PEM certificate
/// chain `cert_file` and the PEM private key `key_file`, which must match. Null, with `error` set, when a
/// file cannot be read or parsed or the key does not match. The context is shared by every worker
/// (OpenSSL's SSL_CTX is thread-safe once set up); each connection gets its own SSL object.
std::shared_ptr<boost::asio::ssl::context> make_tls_context(const std::string& cert_file,
                                                            const std::string& key_file, std::string& error);

}  // namespace pd_proxy
