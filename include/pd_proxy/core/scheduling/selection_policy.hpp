// The narrow interface every scheduling policy implements: pick one backend of a role from its loads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace pd_proxy {

/// Load that in-flight requests put on one backend, in the reference proxy's units.
struct backend_load {
  double active_tokens = 0;    // reserved at selection; prefill: until its response, decode: until the end
  double active_kv = 0;        // prefill only: KV held on the prefiller until the decoder's first chunk
  std::uint32_t inflight = 0;  // requests currently holding a reservation on this backend
};

/// Picks a backend. Implementations hold their own state (cursors, RNG) and are called under the
/// scheduler's lock, so they need no locking of their own.
class selection_policy {
 public:
  virtual ~selection_policy() = default;

  /// Returns the index of the chosen backend. `loads` is never empty. `excluded` is either empty (every
  /// backend is a candidate) or has one entry per backend, true for those this request already tried, with
  /// at least one false.
  virtual std::size_t pick(std::span<const backend_load> loads, const std::vector<bool>& excluded) = 0;
};

/// Creates a policy by its command-line name; nullptr for an unknown name. Known: "least-loaded".
std::unique_ptr<selection_policy> make_policy(const std::string& name);

}  // namespace pd_proxy
