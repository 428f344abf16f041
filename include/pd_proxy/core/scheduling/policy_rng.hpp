// The random source of the randomized policies: small, fast, seedable, the same sequence on every platform.
#pragma once

#include <cstddef>
#include <cstdint>
#include <random>

namespace pd_proxy {

/// splitmix64 (Steele, Lea and Flood): a 64-bit generator with one word of state, enough for picking
/// backends (not for anything secret). Seed 0 draws a seed from std::random_device.
class policy_rng {
 public:
  explicit policy_rng(std::uint64_t seed) : state_(seed != 0 ? seed : random_seed()) {}

  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  /// In [0, n) for n > 0; the modulo's bias is below n / 2^64 (2^-48 for a pool of 65,536).
  std::size_t below(std::size_t n) { return static_cast<std::size_t>(next() % n); }

 private:
  static std::uint64_t random_seed() {
    std::random_device device;
    return (static_cast<std::uint64_t>(device()) << 32) ^ device() ^ 1;
  }
  std::uint64_t state_;
};

}  // namespace pd_proxy
