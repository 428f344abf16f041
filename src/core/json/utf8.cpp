#include "pd_proxy/core/json/utf8.hpp"

#include <bit>
#include <cstdint>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace pd_proxy {
namespace {

// The index of the first byte >= 0x80 at or after `i`, or t.size(): 64 bytes per step with SSE2, else 8.
std::size_t skip_ascii(std::string_view t, std::size_t i) {
#if defined(__SSE2__)
  const auto load = [&](std::size_t k) {
    return _mm_loadu_si128(reinterpret_cast<const __m128i*>(t.data() + k));
  };
  while (i + 64 <= t.size()) {  // four blocks at once while all is ASCII
    const __m128i any =
        _mm_or_si128(_mm_or_si128(load(i), load(i + 16)), _mm_or_si128(load(i + 32), load(i + 48)));
    if (_mm_movemask_epi8(any) != 0) break;
    i += 64;
  }
  while (i + 16 <= t.size()) {
    const auto high = static_cast<unsigned>(_mm_movemask_epi8(load(i)));
    if (high != 0) return i + static_cast<std::size_t>(std::countr_zero(high));
    i += 16;
  }
#else
  constexpr std::uint64_t high_bits = 0x8080808080808080ULL;
  while (i + 8 <= t.size()) {
    std::uint64_t word;
    std::memcpy(&word, t.data() + i, sizeof word);
    if ((word & high_bits) != 0) break;
    i += 8;
  }
#endif
  while (i < t.size() && static_cast<unsigned char>(t[i]) < 0x80) ++i;
  return i;
}

bool continuation(unsigned char c) {
  return (c & 0xC0) == 0x80;
}

// The length of the well-formed multi-byte sequence at `t[i]` (a byte >= 0x80), or 0.
std::size_t sequence_length(std::string_view t, std::size_t i) {
  const auto at = [&](std::size_t k) { return k < t.size() ? static_cast<unsigned char>(t[k]) : 0; };
  const unsigned char c = at(i);
  if (c >= 0xC2 && c <= 0xDF) return continuation(at(i + 1)) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    const unsigned char c1 = at(i + 1);
    const bool ok1 = c == 0xE0   ? (c1 >= 0xA0 && c1 <= 0xBF)  // no overlong form
                     : c == 0xED ? (c1 >= 0x80 && c1 <= 0x9F)  // no surrogate
                                 : continuation(c1);
    return ok1 && continuation(at(i + 2)) ? 3 : 0;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    const unsigned char c1 = at(i + 1);
    const bool ok1 = c == 0xF0   ? (c1 >= 0x90 && c1 <= 0xBF)  // no overlong form
                     : c == 0xF4 ? (c1 >= 0x80 && c1 <= 0x8F)  // at most U+10FFFF
                                 : continuation(c1);
    return ok1 && continuation(at(i + 2)) && continuation(at(i + 3)) ? 4 : 0;
  }
  return 0;
}

}  // namespace

std::size_t find_invalid_utf8(std::string_view t) {
  std::size_t i = skip_ascii(t, 0);
  while (i < t.size()) {
    const std::size_t n = sequence_length(t, i);
    if (n == 0) return i;
    i = skip_ascii(t, i + n);
  }
  return std::string_view::npos;
}

}  // namespace pd_proxy
