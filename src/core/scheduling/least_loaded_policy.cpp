#include "pd_proxy/core/scheduling/least_loaded_policy.hpp"

#include <utility>

namespace pd_proxy {

void least_loaded_policy::add(backend& b, const fixed_load& load) {
  if (where_.contains(b.id())) return;
  const auto [it, inserted] = index_.insert(entry{key(load), next_order_++, &b});
  where_.emplace(b.id(), it);
}

void least_loaded_policy::remove(backend& b) {
  const auto found = where_.find(b.id());
  if (found == where_.end()) return;
  index_.erase(found->second);
  where_.erase(found);
}

void least_loaded_policy::load_changed(backend& b, const fixed_load& load) {
  const auto found = where_.find(b.id());
  if (found == where_.end()) return;
  const std::int64_t k = key(load);
  if (found->second->key == k) return;
  auto node = index_.extract(found->second);  // reuses the node: no allocation
  node.value().key = k;
  found->second = index_.insert(std::move(node)).position;
}

least_loaded_policy::index::const_iterator least_loaded_policy::first_untried(
    index::const_iterator from, index::const_iterator to, const request_context& request) {
  for (; from != to; ++from) {
    ++last_pick_visits_;
    if (!request.was_tried(from->target->id())) break;
  }
  return from;
}

backend* least_loaded_policy::pick(const request_context& request) {
  last_pick_visits_ = 0;
  if (index_.empty()) return nullptr;
  // The least key among untried candidates: every entry before it was tried (at most k of them).
  auto least = first_untried(index_.begin(), index_.end(), request);
  const request_context any{};  // every candidate was tried: all are allowed again
  const request_context& effective = least == index_.end() ? any : request;
  if (least == index_.end()) least = index_.begin();
  const std::int64_t k = least->key;
  // Among the untried entries of key k: the first with order >= cursor_, else (wrapping) the first of all.
  const auto tie_begin = index_.lower_bound(entry{k, cursor_, nullptr});
  const auto tie_end = index_.lower_bound(entry{k + 1, 0, nullptr});
  auto chosen = first_untried(tie_begin, tie_end, effective);
  if (chosen == tie_end) chosen = first_untried(least, tie_begin, effective);
  // `least` is untried (under `effective`) and lies in [least, tie_end), so chosen is a real entry.
  cursor_ = chosen->order + 1;
  return chosen->target;
}

}  // namespace pd_proxy
