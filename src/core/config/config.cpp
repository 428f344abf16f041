#include "pd_proxy/core/config/config.hpp"

#include <algorithm>
#include <thread>

namespace pd_proxy {

unsigned default_workers() {
  return std::clamp(std::thread::hardware_concurrency(), 1u, max_workers);
}

}  // namespace pd_proxy
