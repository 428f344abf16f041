#include "pd_proxy/net/backend/connection_pool.hpp"

#include <sys/socket.h>

#include <cerrno>

namespace pd_proxy {
namespace {

// An idle keep-alive connection must have nothing to read: readable means the backend closed it (EOF)
// or sent bytes we never asked for. Either way it is not reusable.
bool looks_open(tcp::socket& socket) {
  if (!socket.is_open()) return false;
  char byte;
  const auto n = ::recv(socket.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

}  // namespace

std::unique_ptr<backend_connection> connection_pool::take_idle(backend_id id) {
  const auto found = entries_.find(id);
  if (found == entries_.end()) return nullptr;
  auto& idle = found->second.idle;
  while (!idle.empty()) {
    auto connection = std::move(idle.back());
    idle.pop_back();
    if (looks_open(connection->socket)) return connection;
  }
  return nullptr;
}

void connection_pool::put_idle(backend_id id, std::unique_ptr<backend_connection> connection) {
  if (closed_ || connection->buffer.size() != 0) return;  // closed by the destructor
  auto& idle = entries_[id].idle;
  if (idle.size() >= max_idle_) return;
  idle.push_back(std::move(connection));
}

tcp::resolver::results_type connection_pool::endpoints(backend_id id) const {
  const auto found = entries_.find(id);
  return found == entries_.end() ? tcp::resolver::results_type() : found->second.endpoints;
}

void connection_pool::set_endpoints(backend_id id, tcp::resolver::results_type endpoints) {
  if (!closed_) entries_[id].endpoints = std::move(endpoints);
}

void connection_pool::forget_endpoints(backend_id id) {
  const auto found = entries_.find(id);
  if (found != entries_.end()) found->second.endpoints = {};
}

void connection_pool::close_all() {
  closed_ = true;
  entries_.clear();
}

}  // namespace pd_proxy
