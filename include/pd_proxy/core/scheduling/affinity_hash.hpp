// The hash behind affinity keys and the hash ring: the same in every process, build and replica.
#pragma once

#include <cstdint>
#include <string_view>

namespace pd_proxy {

/// A 64-bit hash of `bytes` that is the same in every process, build and replica (FNV-1a 64 with a
/// splitmix64 finalizer, so that nearby inputs spread over a hash ring). Never 0, which means "no key".
std::uint64_t affinity_hash(std::string_view bytes);

}  // namespace pd_proxy
