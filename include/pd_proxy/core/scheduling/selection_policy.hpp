// The narrow interface every scheduling policy implements: keep an index of one role's backends, pick one.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "pd_proxy/core/backends/backend.hpp"
#include "pd_proxy/core/backends/fixed_load.hpp"
#include "pd_proxy/core/scheduling/request_context.hpp"

namespace pd_proxy {

/// Picks a backend of one role. The scheduler tells the policy which backends are candidates and every
/// change of their load, so the policy keeps its own index current and a pick need not scan the pool.
/// Implementations hold their own state (index, cursors, RNG) and are called under the scheduler's lock
/// for their role, so they need no locking of their own. No method does I/O; pick() does not allocate or
/// throw.
class selection_policy {
 public:
  virtual ~selection_policy() = default;

  /// `b` (with its current `load`) becomes a candidate. Called once per backend, before any other call
  /// naming it. `b` stays valid until remove(b) returns.
  virtual void add(backend& b, const fixed_load& load) = 0;
  /// `b` is no longer a candidate: the policy forgets it and never returns it again.
  virtual void remove(backend& b) = 0;
  /// The load of candidate `b` is now `load` (a reservation was made or released on it).
  virtual void load_changed(backend& b, const fixed_load& load) = 0;
  /// The chosen candidate, or nullptr only when there is no candidate. Does not change any load (the
  /// scheduler reserves on the result and reports it through load_changed).
  virtual backend* pick(const request_context& request) = 0;
};

/// Creates a policy by its command-line name; nullptr for an unknown name. Known: "least-loaded".
std::unique_ptr<selection_policy> make_policy(const std::string& name);

}  // namespace pd_proxy
