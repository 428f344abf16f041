// Prefix affinity: requests that start alike go to the same backend, where their prefix is cached.
#pragma once

#include <cstddef>
#include <cstdint>
#include <unordered_map>

#include "pd_proxy/core/scheduling/hash_ring.hpp"
#include "pd_proxy/core/scheduling/load_ordered_index.hpp"
#include "pd_proxy/core/scheduling/selection_policy.hpp"

namespace pd_proxy {

/// Consistent hashing with bounded load (Mirrokni, Thorup and Zadimoghaddam, 2018) on the request's affinity
/// key (prefix_key: a hash of the start of the prompt or chat history, request_context_of.hpp). The key's
/// owner on the hash_ring is chosen unless it is above the bound; then the next backend on the ring that is
/// not, so a hot prefix spills to the same few backends in the same order (where it becomes cached too)
/// instead of everywhere. Load is this proxy's requests in flight on a backend (its reservations); a backend
/// is above the bound when its load exceeds both affinity_load_factor x the mean load of the candidates and
/// the mean + affinity_slack (one request: without it, at low concurrency a single request in flight on the
/// owner would move its key, as SGLang's cache_aware has an absolute threshold beside its relative one).
/// Tried backends are passed over. A request without a key, or whose walk meets max_refusals backends that
/// are above the bound or tried, gets the least loaded untried candidate (least-loaded's order).
///
/// A pick is O(log n) to find the owner plus at most max_refusals backends offered (each of their
/// consecutive points skipped); a load change is O(log n).
class prefix_affinity_policy : public selection_policy {
 public:
  explicit prefix_affinity_policy(const policy_settings& settings)
      : load_factor_(settings.affinity_load_factor < 1 ? 1 : settings.affinity_load_factor) {}

  void add(backend& b, const fixed_load& load) final;
  void remove(backend& b) final;
  void load_changed(backend& b, const fixed_load& load) final;
  backend* pick(const request_context& request) final;

  static constexpr double affinity_slack = 1.0;   // requests a backend may hold above the mean
  static constexpr std::size_t max_refusals = 8;  // backends a walk passes over before least-loaded decides

  /// Exposed for tests: keyed picks whose owner was passed over (the bound or a tried set moved them), and
  /// all keyed picks.
  std::uint64_t passed_over() const { return passed_over_; }
  std::uint64_t keyed_picks() const { return keyed_picks_; }

 protected:
  /// The key a request is routed by (0: none).
  virtual std::uint64_t affinity_key(const request_context& request) const { return request.prefix_key; }

 private:
  /// Whether candidate `b` is above the bound.
  bool above_bound(const backend& b) const;

  double load_factor_;
  hash_ring ring_;
  load_ordered_index by_load_;  // every candidate by least-loaded's key: the fallback
  std::unordered_map<backend_id, std::uint32_t> inflight_;  // every candidate's requests in flight
  std::uint64_t total_inflight_ = 0;                        // their sum
  std::uint64_t passed_over_ = 0;
  std::uint64_t keyed_picks_ = 0;
};

}  // namespace pd_proxy
