#include "pd_proxy/net/client/tls_context.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <boost/asio/ssl/error.hpp>

namespace pd_proxy {

std::shared_ptr<boost::asio::ssl::context> make_tls_context(const std::string& cert_file,
                                                            const std::string& key_file, std::string& error) {
  namespace ssl = boost::asio::ssl;
  auto context = std::make_shared<ssl::context>(ssl::context::tls_server);
  boost::system::error_code ec;
  context->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                           ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 | ssl::context::single_dh_use,
                       ec);
  if (!ec && SSL_CTX_set_min_proto_version(context->native_handle(), TLS1_2_VERSION) != 1) {
    error = "cannot restrict TLS to version 1.2 and later";
    return nullptr;
  }
  if (!ec) context->use_certificate_chain_file(cert_file, ec);
  if (ec) {
    error = "--tls-cert " + cert_file + ": " + ec.message();
    return nullptr;
  }
  context->use_private_key_file(key_file, ssl::context::pem, ec);
  const bool mismatch = ec && ec.category() == boost::asio::error::get_ssl_category() &&
                        ERR_GET_REASON(static_cast<unsigned long>(ec.value())) == X509_R_KEY_VALUES_MISMATCH;
  if (ec && !mismatch) {
    error = "--tls-key " + key_file + ": " + ec.message();
    return nullptr;
  }
  if (mismatch || SSL_CTX_check_private_key(context->native_handle()) != 1) {
    error = "--tls-key " + key_file + " does not match the certificate of --tls-cert " + cert_file;
    return nullptr;
  }
  return context;
}

}  // namespace pd_proxy
