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
  const std::size_t before = used_.fetch_add(bytes, std::memory_order_relaxed);
  if (before > limit_ - bytes) {
    used_.fetch_sub(bytes, std::memory_order_relaxed);
    return false;
  }
  return true;
}

std::optional<body_budget::reservation> body_budget::try_reserve(std::size_t bytes) {
  if (!take(bytes)) return std::nullopt;
  return reservation(this, bytes);
}

}  // namespace pd_proxy
