#include "pd_proxy/core/observe/engine_reports.hpp"

namespace pd_proxy {

void engine_reports::scraped(backend_id id, const engine_load& load) {
  ok_.fetch_add(1, std::memory_order_relaxed);
  std::lock_guard lock(mutex_);
  last_.insert_or_assign(id, load);
}

void engine_reports::failed(backend_id id) {
  failed_.fetch_add(1, std::memory_order_relaxed);
  forget(id);
}

void engine_reports::forget(backend_id id) {
  std::lock_guard lock(mutex_);
  last_.erase(id);
}

std::optional<engine_load> engine_reports::last(backend_id id) const {
  std::lock_guard lock(mutex_);
  const auto found = last_.find(id);
  if (found == last_.end()) return std::nullopt;
  return found->second;
}

}  // namespace pd_proxy
