// The reference proxy's least-loaded policy with fair tie-breaking.
#pragma once

#include "pd_proxy/core/scheduling/selection_policy.hpp"

namespace pd_proxy {

/// Lowest priority wins, priority = active_tokens + 0.3 * active_kv (the reference's formula; decoders have
/// no KV term). The reference breaks ties by pool index, so an idle cluster sends everything to index 0
/// (vllm-ascend #3124). Here ties go to the first candidate at or after a cursor that advances past every
/// pick, so consecutive requests to an idle cluster visit every instance in turn. A full scan is O(n); with
/// n <= a few thousand backends that is cheaper than keeping a heap consistent under concurrent releases.
class least_loaded_policy final : public selection_policy {
 public:
  std::size_t pick(std::span<const backend_load> loads, const std::vector<bool>& excluded) override;

  static double priority(const backend_load& load) { return load.active_tokens + 0.3 * load.active_kv; }

 private:
  std::size_t cursor_ = 0;
};

}  // namespace pd_proxy
