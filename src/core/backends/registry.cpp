#include "pd_proxy/core/backends/registry.hpp"

#include <algorithm>
#include <utility>

namespace pd_proxy {

backend_registry::backend_registry() : current_(std::make_shared<const backend_set>()) {}

std::shared_ptr<backend> backend_registry::add(backend_role role, backend_address address) {
  std::lock_guard lock(writer_);
  auto created = std::make_shared<backend>(next_id_, role, std::move(address));
  auto next = std::make_shared<backend_set>(*current_.load());
  (role == backend_role::prefill ? next->prefillers : next->decoders).push_back(created);
  ++next_id_;  // only once nothing above can throw: an id is used by exactly one backend
  current_.store(std::move(next));
  return created;
}

std::shared_ptr<backend> backend_registry::remove(backend_id id) {
  std::lock_guard lock(writer_);
  auto next = std::make_shared<backend_set>(*current_.load());
  for (auto* pool : {&next->prefillers, &next->decoders}) {
    auto it = std::find_if(pool->begin(), pool->end(), [id](const auto& b) { return b->id() == id; });
    if (it == pool->end()) continue;
    auto removed = std::move(*it);
    pool->erase(it);
    removed->health.store(backend_health::draining, std::memory_order_relaxed);
    current_.store(std::move(next));
    return removed;
  }
  return nullptr;
}

std::shared_ptr<const backend_set> backend_registry::snapshot() const {
  return current_.load(std::memory_order_acquire);
}

}  // namespace pd_proxy
