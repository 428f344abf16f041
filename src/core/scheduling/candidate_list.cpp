#include "pd_proxy/core/scheduling/candidate_list.hpp"

namespace pd_proxy {

void candidate_list::add(backend& b, const fixed_load& load) {
  if (position_.contains(b.id())) return;
  position_.emplace(b.id(), entries_.size());
  entries_.push_back(entry{&b, load});
}

void candidate_list::remove(const backend& b) {
  const auto found = position_.find(b.id());
  if (found == position_.end()) return;
  const std::size_t at = found->second;
  position_.erase(found);
  entries_.erase(entries_.begin() + static_cast<std::ptrdiff_t>(at));
  for (std::size_t i = at; i < entries_.size(); ++i) position_[entries_[i].target->id()] = i;
}

void candidate_list::load_changed(const backend& b, const fixed_load& load) {
  const auto found = position_.find(b.id());
  if (found != position_.end()) entries_[found->second].load = load;
}

std::size_t candidate_list::first_untried(std::size_t start, const request_context& request) const {
  if (request.tried.empty()) return start;
  const std::size_t n = entries_.size();
  for (std::size_t step = 0; step < n; ++step) {
    const std::size_t i = (start + step) % n;
    if (!request.was_tried(entries_[i].target->id())) return i;
  }
  return n;
}

}  // namespace pd_proxy
