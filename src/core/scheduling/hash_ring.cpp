#include "pd_proxy/core/scheduling/hash_ring.hpp"

#include <algorithm>
#include <string>

#include "pd_proxy/core/scheduling/request_context_of.hpp"

namespace pd_proxy {
namespace {

bool before(std::uint64_t position_a, backend_id id_a, std::uint64_t position_b, backend_id id_b) {
  return position_a != position_b ? position_a < position_b : id_a < id_b;
}

}  // namespace

void hash_ring::add(backend& b) {
  if (std::any_of(points_.begin(), points_.end(), [&](const point& p) { return p.target == &b; })) return;
  const auto middle = static_cast<std::ptrdiff_t>(points_.size());
  std::string label = b.authority() + "#";
  const std::size_t base = label.size();
  for (std::size_t i = 0; i < points_per_backend; ++i) {
    label.resize(base);
    label += std::to_string(i);
    points_.push_back(point{affinity_hash(label), &b});
  }
  const auto by_position = [](const point& x, const point& y) {
    return before(x.position, x.target->id(), y.position, y.target->id());
  };
  std::sort(points_.begin() + middle, points_.end(), by_position);
  std::inplace_merge(points_.begin(), points_.begin() + middle, points_.end(), by_position);
}

void hash_ring::remove(const backend& b) {
  std::erase_if(points_, [&](const point& p) { return p.target == &b; });
}

std::size_t hash_ring::owner_position(std::uint64_t key) const {
  const auto it = std::lower_bound(points_.begin(), points_.end(), key,
                                   [](const point& p, std::uint64_t k) { return p.position < k; });
  return it == points_.end() ? 0 : static_cast<std::size_t>(it - points_.begin());
}

}  // namespace pd_proxy
