#include "pd_proxy/core/scheduling/selection_policy.hpp"

#include "pd_proxy/core/scheduling/least_loaded_policy.hpp"

namespace pd_proxy {

std::unique_ptr<selection_policy> make_policy(const std::string& name, const policy_settings& settings) {
  (void)settings;  // least-loaded has no setting
  if (name == "least-loaded") return std::make_unique<least_loaded_policy>();
  return nullptr;
}

}  // namespace pd_proxy
