#include "pd_proxy/core/scheduling/load_ordered_index.hpp"

#include <utility>

namespace pd_proxy {

void load_ordered_index::add(backend& b, std::int64_t key) {
  if (where_.contains(b.id())) return;
  const auto [it, inserted] = index_.insert(entry{key, next_order_++, &b});
  where_.emplace(b.id(), it);
}

void load_ordered_index::remove(const backend& b) {
  const auto found = where_.find(b.id());
  if (found == where_.end()) return;
  index_.erase(found->second);
  where_.erase(found);
}

void load_ordered_index::update(const backend& b, std::int64_t key) {
  const auto found = where_.find(b.id());
  if (found == where_.end() || found->second->key == key) return;
  auto node = index_.extract(found->second);  // reuses the node: no allocation
  node.value().key = key;
  found->second = index_.insert(std::move(node)).position;
}

std::int64_t load_ordered_index::key_of(const backend& b) const {
  const auto found = where_.find(b.id());
  return found == where_.end() ? 0 : found->second->key;
}

load_ordered_index::index::const_iterator load_ordered_index::first_untried(index::const_iterator from,
                                                                            index::const_iterator to,
                                                                            const request_context& request) {
  for (; from != to; ++from) {
    ++last_pick_visits_;
    if (!request.was_tried(from->target->id())) break;
  }
  return from;
}

backend* load_ordered_index::pick(const request_context& request) {
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
