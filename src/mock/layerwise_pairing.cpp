#include "pd_proxy/mock/layerwise_pairing.hpp"

#include <array>

#include "pd_proxy/core/backends/backend_address.hpp"
#include "pd_proxy/core/http/http_wire.hpp"
#include "pd_proxy/net/backend/backend_connection.hpp"
#include "pd_proxy/net/operation_timer.hpp"

namespace pd_proxy::mock {
namespace {

bool is_true(const json& object, const char* key) {
  const auto it = object.find(key);
  return it != object.end() && it->is_boolean() && it->get<bool>();
}

// One POST of `body` to host:port `target` within `limit`: the answer's status, or 0 on a transport error.
net::awaitable<int> post_once(const std::string& host, std::uint16_t port, std::string_view target,
                              std::string_view request_id, const std::string& body, seconds_d limit) {
  const backend_address address{host, port};
  operation_timer connect_timer;
  auto [ec, connection] = co_await connect_backend(address, limit, connect_timer);
  if (ec) co_return 0;
  const std::string head =
      format_backend_request_head({"POST", target, address.authority(), request_id, {}, body.size()});
  const std::array<net::const_buffer, 2> request{net::buffer(head), net::buffer(body)};
  auto [write_ec, n] =
      co_await timed([&](auto token) { return net::async_write(connection->socket, request, token); }, limit);
  if (write_ec) co_return 0;
  http::response<http::string_body> answer;
  auto [read_ec, m] = co_await timed(
      [&](auto token) { return http::async_read(connection->socket, connection->buffer, answer, token); },
      limit);
  if (read_ec) co_return 0;
  co_return answer.result_int();
}

}  // namespace

bool is_layerwise_decode(const json& kv) {
  const auto url = kv.find("metaserver");
  return is_true(kv, "do_remote_prefill") && url != kv.end() && url->is_string();
}

bool is_layerwise_prefill(const json& kv) {
  const auto id = kv.find("request_id");
  const auto host = kv.find("remote_host");
  const auto port = kv.find("remote_port");
  return is_true(kv, "do_remote_decode") && id != kv.end() && id->is_string() && host != kv.end() &&
         host->is_string() && port != kv.end() && port->is_number_integer();
}

std::vector<std::string> layerwise_ids(const json& body, bool chat, std::string_view id) {
  if (chat) return {"chatcmpl-" + std::string(id)};
  const auto prompt = body.find("prompt");
  std::size_t n = 1;
  if (prompt != body.end() && prompt->is_array() && !prompt->empty() && !(*prompt)[0].is_number()) {
    n = prompt->size();
  }
  std::vector<std::string> ids;
  for (std::size_t i = 0; i < n; ++i) ids.push_back("cmpl-" + std::string(id) + "-" + std::to_string(i));
  return ids;
}

bool is_loopback_url(std::string_view url, std::string& host, std::uint16_t& port, std::string& target) {
  constexpr std::string_view scheme = "http://";
  if (!url.starts_with(scheme)) return false;
  url.remove_prefix(scheme.size());
  const std::size_t slash = url.find('/');
  const std::string_view authority = url.substr(0, slash);
  target = slash == std::string_view::npos ? std::string("/") : std::string(url.substr(slash));
  const std::size_t colon = authority.rfind(':');
  if (colon == std::string_view::npos || colon + 1 == authority.size()) return false;
  std::string_view name = authority.substr(0, colon);
  if (name.starts_with("[") && name.ends_with("]")) name = name.substr(1, name.size() - 2);
  if (name != "localhost" && name != "::1" && !name.starts_with("127.")) return false;
  unsigned value = 0;
  for (const char c : authority.substr(colon + 1)) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + static_cast<unsigned>(c - '0');
    if (value > 65535) return false;
  }
  host.assign(name == "localhost" ? std::string_view("127.0.0.1") : name);
  port = static_cast<std::uint16_t>(value);
  return true;
}

std::string layerwise_prefill_error(const json& body) {
  const auto stream = body.find("stream");
  if (stream == body.end() || !stream->is_boolean() || stream->get<bool>())
    return "a layerwise prefill must have \"stream\": false";
  for (const char* key : {"max_tokens", "min_tokens"}) {
    const auto it = body.find(key);
    if (it == body.end() || !it->is_number_integer() || it->get<long long>() != 1)
      return std::string("a layerwise prefill must have \"") + key + "\": 1";
  }
  const auto completion = body.find("max_completion_tokens");
  if (completion != body.end() && (!completion->is_number_integer() || completion->get<long long>() != 1))
    return "a layerwise prefill must have \"max_completion_tokens\": 1 when it has one";
  if (body.contains("stream_options")) return "a layerwise prefill carries no \"stream_options\"";
  const auto kv = body.find("kv_transfer_params");
  if (kv == body.end() || !kv->is_object() || !is_layerwise_prefill(*kv))
    return "a layerwise prefill needs the decoder's kv_transfer_params";
  return {};
}

std::vector<kv_push_target> layerwise_push_targets(const json& kv) {
  std::vector<kv_push_target> out;
  const auto add = [&out](const json& one) {
    if (!is_layerwise_prefill(one)) return;
    out.push_back({one["request_id"].get<std::string>(), one["remote_host"].get<std::string>(),
                   static_cast<std::uint16_t>(one["remote_port"].get<int>())});
  };
  const auto batch = kv.find("batch_kv_transfer_params");
  if (batch != kv.end() && batch->is_object()) {
    for (const auto& [id, one] : batch->items()) add(one);
  } else {
    add(kv);
  }
  return out;
}

net::awaitable<int> post_metaserver(std::string host, std::uint16_t port, std::string target,
                                    std::string body, seconds_d limit) {
  for (int attempt = 1; attempt <= 3; ++attempt) {
    const int status = co_await post_once(host, port, target, {}, body, limit);
    if (status != 0) co_return status;
    if (co_await cancelled()) co_return 0;
  }
  co_return 0;
}

net::awaitable<bool> push_kv(std::string host, std::uint16_t port, std::string request_id, seconds_d limit) {
  const std::string body = dump_json(json{{"request_id", request_id}});
  co_return co_await post_once(host, port, "/mock/kv_push", request_id, body, limit) == 200;
}

//------------------------------------------------------------------------------

std::unique_ptr<kv_push_waits::wait_handle> kv_push_waits::expect(const std::vector<std::string>& ids) {
  auto handle = std::make_unique<wait_handle>(*this, ids);
  for (const auto& id : ids) waiting_[id] = handle.get();
  return handle;
}

bool kv_push_waits::push(const std::string& id) {
  const auto it = waiting_.find(id);
  if (it == waiting_.end()) return false;
  wait_handle* handle = it->second;
  waiting_.erase(it);
  if (handle->missing_ > 0 && --handle->missing_ == 0) handle->timer_.cancel();
  return true;
}

kv_push_waits::wait_handle::wait_handle(kv_push_waits& owner, std::vector<std::string> ids)
    : owner_(owner), ids_(std::move(ids)), missing_(ids_.size()), timer_(owner.executor_) {}

kv_push_waits::wait_handle::~wait_handle() {
  for (const auto& id : ids_) {
    const auto it = owner_.waiting_.find(id);
    if (it != owner_.waiting_.end() && it->second == this) owner_.waiting_.erase(it);
  }
}

net::awaitable<bool> kv_push_waits::wait_handle::wait(seconds_d limit) {
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::duration_cast<std::chrono::steady_clock::duration>(limit);
  while (missing_ > 0 && std::chrono::steady_clock::now() < deadline) {
    timer_.expires_at(deadline);
    co_await timer_.async_wait(use_nothrow);
    if (co_await cancelled()) co_return false;
  }
  co_return missing_ == 0;
}

}  // namespace pd_proxy::mock
