// Round-robin: each candidate in turn, blind to load.
#pragma once

#include <cstddef>

#include "pd_proxy/core/scheduling/candidate_list.hpp"
#include "pd_proxy/core/scheduling/selection_policy.hpp"

namespace pd_proxy {

/// Picks the candidates in pool order, one after the other, skipping tried backends while an untried one
/// exists. A candidate that leaves or comes back keeps the others' turns (the cursor is a position: at most
/// one candidate is passed over or visited twice when the pool changes). O(1) per pick plus one step per
/// tried backend.
class round_robin_policy final : public selection_policy {
 public:
  void add(backend& b, const fixed_load& load) override { candidates_.add(b, load); }
  void remove(backend& b) override { candidates_.remove(b); }
  void load_changed(backend& b, const fixed_load& load) override { (void)b, (void)load; }
  backend* pick(const request_context& request) override;

 private:
  candidate_list candidates_;
  std::size_t cursor_ = 0;  // the position of the next turn
};

}  // namespace pd_proxy
