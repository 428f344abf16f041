#include "pd_proxy/core/admission/body_budget.hpp"

namespace pd_proxy {

body_budget::reservation& body_budget::reservation::operator=(reservation&& other) noexcept {
  if (this != &other) {
    release();
    owner_ = other.owner_;
    bytes_ = other.bytes_;
    other.owner_ = nullptr;
  }
  return *this;
}

void body_budget::reservation::release() {
  if (owner_ == nullptr) return;
  owner_->used_.fetch_sub(bytes_, std::memory_order_relaxed);
  owner_ = nullptr;
}

bool body_budget::reservation::try_grow_to(std::size_t bytes) {
  if (owner_ == nullptr || bytes <= bytes_) return owner_ != nullptr;
  if (!owner_->take(bytes - bytes_)) return false;
  bytes_ = bytes;
  return true;
}

bool body_budget::take(std::size_t bytes) {
  if (bytes > limit_) return false;
  // Compare-and-swap, not add-then-undo: the total never goes past the limit, even for a moment, so a
  // concurrent reservation is never refused because of another one's overshoot.
  std::size_t used = used_.load(std::memory_order_relaxed);
  do {
    if (used > limit_ - bytes) return false;
  } while (!used_.compare_exchange_weak(used, used + bytes, std::memory_order_relaxed));
  return true;
}

std::optional<body_budget::reservation> body_budget::try_reserve(std::size_t bytes) {
  if (!take(bytes)) return std::nullopt;
  return reservation(this, bytes);
}

}  // namespace pd_proxy
