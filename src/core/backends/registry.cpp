#include "pd_proxy/core/backends/registry.hpp"

#include <algorithm>
#include <utility>

namespace pd_proxy {

namespace {

// Distinguishes registries whose lifetimes do not overlap but whose addresses may be the same.
std::atomic<std::uint64_t> next_instance{1};

// One thread's last snapshot. Weak: a cache never keeps a set (or the backends in it) alive.
struct cached_snapshot {
  std::uint64_t registry = 0;
  std::uint64_t version = 0;
  std::weak_ptr<const backend_set> set;
};

}  // namespace

backend_registry::backend_registry()
    : current_(std::make_shared<const backend_set>()),
      instance_(next_instance.fetch_add(1, std::memory_order_relaxed)) {}

std::shared_ptr<backend> backend_registry::add(backend_role role, backend_address address) {
  std::lock_guard lock(writer_);
  auto created = std::make_shared<backend>(next_id_, role, std::move(address));
  auto next = std::make_shared<backend_set>(*current_);
  (role == backend_role::prefill ? next->prefillers : next->decoders).push_back(created);
  ++next_id_;  // only once nothing above can throw: an id is used by exactly one backend
  current_ = std::move(next);
  version_.fetch_add(1, std::memory_order_release);
  return created;
}

std::shared_ptr<backend> backend_registry::remove(backend_id id) {
  std::lock_guard lock(writer_);
  auto next = std::make_shared<backend_set>(*current_);
  for (auto* pool : {&next->prefillers, &next->decoders}) {
    auto it = std::find_if(pool->begin(), pool->end(), [id](const auto& b) { return b->id() == id; });
    if (it == pool->end()) continue;
    auto removed = std::move(*it);
    pool->erase(it);
    removed->health.store(backend_health::draining, std::memory_order_relaxed);
    if (departing_.size() >= 2 * swept_size_ + 64) sweep_departed();  // bounded, amortised O(1) per remove
    departing_.push_back({removed, {removed->role(), removed->authority()}});
    current_ = std::move(next);
    version_.fetch_add(1, std::memory_order_release);
    return removed;
  }
  return nullptr;
}

void backend_registry::sweep_departed() const {
  std::erase_if(departing_, [](const departing& d) { return d.held.expired(); });
  swept_size_ = departing_.size();
}

std::set<backend_label> backend_registry::living_labels() const {
  std::lock_guard lock(writer_);
  sweep_departed();
  std::set<backend_label> out;
  for (const auto* pool : {&current_->prefillers, &current_->decoders}) {
    for (const auto& b : *pool) out.emplace(b->role(), b->authority());
  }
  for (const auto& d : departing_) out.insert(d.label);
  return out;
}

std::shared_ptr<const backend_set> backend_registry::snapshot() const {
  thread_local cached_snapshot cache;
  if (cache.registry == instance_ && cache.version == version_.load(std::memory_order_acquire)) {
    // Unchanged since this thread's last snapshot: current_ still holds that set, unless a writer is
    // replacing it right now (then the lock fails and the mutex decides).
    if (auto set = cache.set.lock()) return set;
  }
  std::lock_guard lock(writer_);
  cache.registry = instance_;
  cache.version = version_.load(std::memory_order_relaxed);
  cache.set = current_;
  return current_;
}

}  // namespace pd_proxy
