#include "pd_proxy/core/scheduling/selection_policy.hpp"

#include "pd_proxy/core/scheduling/least_loaded_policy.hpp"
#include "pd_proxy/core/scheduling/power_of_two_policy.hpp"
#include "pd_proxy/core/scheduling/prefix_affinity_policy.hpp"
#include "pd_proxy/core/scheduling/queue_aware_policy.hpp"
#include "pd_proxy/core/scheduling/random_policy.hpp"
#include "pd_proxy/core/scheduling/round_robin_policy.hpp"
#include "pd_proxy/core/scheduling/session_affinity_policy.hpp"

namespace pd_proxy {

std::unique_ptr<selection_policy> make_policy(std::string_view name, const policy_settings& settings) {
  if (name == "least-loaded") return std::make_unique<least_loaded_policy>();
  if (name == "round-robin") return std::make_unique<round_robin_policy>();
  if (name == "random") return std::make_unique<random_policy>(settings);
  if (name == "power-of-two") return std::make_unique<power_of_two_policy>(settings);
  if (name == "prefix-affinity") return std::make_unique<prefix_affinity_policy>(settings);
  if (name == "session-affinity") return std::make_unique<session_affinity_policy>(settings);
  if (name == "queue-aware") return std::make_unique<queue_aware_policy>(settings);
  return nullptr;
}

}  // namespace pd_proxy
