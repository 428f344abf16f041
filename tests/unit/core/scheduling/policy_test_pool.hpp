// Backends for policy tests: distinct authorities (so a hash ring spreads them) and loads in tokens.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "pd_proxy/core/backends/backend.hpp"
#include "pd_proxy/core/backends/fixed_load.hpp"

namespace pd_proxy {

/// n backends of `role`, ids 1..n, at 127.0.0.1:9000+i.
inline std::vector<std::unique_ptr<backend>> policy_test_pool(std::size_t n,
                                                              backend_role role = backend_role::prefill) {
  std::vector<std::unique_ptr<backend>> out;
  for (std::size_t i = 0; i < n; ++i)
    out.push_back(std::make_unique<backend>(
        i + 1, role, backend_address{"127.0.0.1", static_cast<std::uint16_t>(9000 + i)}));
  return out;
}

/// A load of `t` active tokens and `inflight` requests.
inline fixed_load tokens_load(double t, std::uint32_t inflight = 0) {
  return {fixed_load::units(t), 0, inflight};
}

}  // namespace pd_proxy
