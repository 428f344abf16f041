// Prefix affinity: requests that start alike go to the same backend, where their prefix is cached.
#pragma once

#include <cstdint>

#include "pd_proxy/core/scheduling/hash_ring.hpp"
#include "pd_proxy/core/scheduling/load_ordered_index.hpp"
#include "pd_proxy/core/scheduling/selection_policy.hpp"

namespace pd_proxy {

/// Consistent hashing with bounded load (Mirrokni, Thorup and Zadimoghaddam, 2018) on the request's affinity
/// key (prefix_key: a hash of the start of the prompt or chat history, request_context_of.hpp). The key's
/// owner on the hash_ring is chosen unless its load is above affinity_load_factor x the mean load of the
/// candidates; then the next backend on the ring that is not, so a hot prefix spills to the same few
/// backends in the same order (where it becomes cached too) instead of everywhere. Tried backends are passed
/// over. A request without a key, or one whose every untried candidate is above the bound, gets the least
/// loaded untried candidate. Load is the least-loaded key (active_tokens + 0.3 * active_kv of this proxy's
/// reservations).
///
/// A pick is O(log n) to find the owner plus one step per point passed over (few while the bound holds:
/// at least one candidate is at or below the mean); a load change is O(log n).
class prefix_affinity_policy : public selection_policy {
 public:
  explicit prefix_affinity_policy(const policy_settings& settings)
      : load_factor_(settings.affinity_load_factor < 1 ? 1 : settings.affinity_load_factor) {}

  void add(backend& b, const fixed_load& load) final;
  void remove(backend& b) final;
  void load_changed(backend& b, const fixed_load& load) final;
  backend* pick(const request_context& request) final;

  /// Picks of requests with a key that went to a backend other than the key's owner (the bound or a tried
  /// set moved them), and all picks of requests with a key.
  std::uint64_t passed_over() const { return passed_over_; }
  std::uint64_t keyed_picks() const { return keyed_picks_; }

 protected:
  /// The key a request is routed by (0: none).
  virtual std::uint64_t affinity_key(const request_context& request) const { return request.prefix_key; }

 private:
  /// Whether a candidate with least-loaded key `key` is above the bound.
  bool above_bound(std::int64_t key) const;

  double load_factor_;
  hash_ring ring_;
  load_ordered_index by_load_;   // every candidate with its load: the fallback and the loads the bound reads
  std::int64_t total_load_ = 0;  // the sum of the candidates' keys
  std::uint64_t passed_over_ = 0;
  std::uint64_t keyed_picks_ = 0;
};

}  // namespace pd_proxy
