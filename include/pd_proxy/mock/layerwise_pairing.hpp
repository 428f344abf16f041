// pd-mock's side of vLLM-Ascend's layerwise (decoder-first) PD protocol: a decode engine calls the proxy's
// metaserver back with its KV parameters, as the Mooncake layerwise connector does, and waits for its KV; the
// prefill engine, sent the decoder's parameters, pushes the KV to it (POST /mock/kv_push on the decoder's
// remote_host:remote_port, standing in for the Mooncake transfer). docs/pd-mock.md.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "pd_proxy/core/flow/request_rewrite.hpp"
#include "pd_proxy/core/time/duration.hpp"
#include "pd_proxy/net/net.hpp"

namespace pd_proxy::mock {

/// A decode request in the layerwise protocol: kv_transfer_params.do_remote_prefill true with a `metaserver`.
bool is_layerwise_decode(const json& kv_transfer_params);
/// A prefill request in the layerwise protocol: do_remote_decode true and the decoder's `request_id`,
/// `remote_host` and `remote_port` (the object the decoder posted).
bool is_layerwise_prefill(const json& kv_transfer_params);

/// The vLLM request ids of a layerwise request sent under X-Request-Id `id`: "chatcmpl-<id>" for chat,
/// "cmpl-<id>-<i>" per prompt of a prompt list, else "cmpl-<id>-0".
std::vector<std::string> layerwise_ids(const json& body, bool chat, std::string_view id);

/// An http://127.0.0.1|localhost|[::1]:PORT/... URL: pd-mock calls back nothing but loopback.
bool is_loopback_url(std::string_view url, std::string& host, std::uint16_t& port, std::string& target);

/// What vLLM-Ascend refuses in a layerwise prefill: "" when the body is right, else the 400's message
/// (stream not false, max_tokens not 1, min_tokens not 1, no kv_transfer_params object).
std::string layerwise_prefill_error(const json& body);

/// The decoders' (request id, remote host, remote port) each push of a layerwise prefill goes to: every
/// entry of batch_kv_transfer_params, else the object itself.
struct kv_push_target {
  std::string request_id;
  std::string host;
  std::uint16_t port = 0;
};
std::vector<kv_push_target> layerwise_push_targets(const json& kv_transfer_params);

/// POSTs `body` to the metaserver at host:port `target` as the connector does: up to 3 tries on transport
/// errors, the answer ignored but returned (its status; 0 when every try failed). Each try within `limit`.
net::awaitable<int> post_metaserver(std::string host, std::uint16_t port, std::string target,
                                    std::string body, seconds_d limit);

/// Pushes the KV of `request_id` to the decoder at host:port (POST /mock/kv_push). True on its 200.
net::awaitable<bool> push_kv(std::string host, std::uint16_t port, std::string request_id, seconds_d limit);

/// One decode engine's requests waiting for their KV pushes, by vLLM request id. Single-threaded: the
/// engine's io_context.
class kv_push_waits {
 public:
  class wait_handle;

  explicit kv_push_waits(net::any_io_executor executor) : executor_(executor) {}

  /// Registers `ids`; the handle's wait() returns once every one was pushed. Its destruction forgets them.
  std::unique_ptr<wait_handle> expect(const std::vector<std::string>& ids);
  /// A prefiller's push: false when no request waits for `id`.
  bool push(const std::string& id);

  class wait_handle {
   public:
    wait_handle(kv_push_waits& owner, std::vector<std::string> ids);
    ~wait_handle();
    wait_handle(const wait_handle&) = delete;
    wait_handle& operator=(const wait_handle&) = delete;
    /// True once every id was pushed; false when `limit` passed first or the coroutine was cancelled.
    net::awaitable<bool> wait(seconds_d limit);

   private:
    friend class kv_push_waits;
    kv_push_waits& owner_;
    std::vector<std::string> ids_;
    std::size_t missing_;
    net::steady_timer timer_;
  };

 private:
  net::any_io_executor executor_;
  std::map<std::string, wait_handle*, std::less<>> waiting_;
};

}  // namespace pd_proxy::mock
