// UTF-8 well-formedness of raw bytes, fast on ASCII.
#pragma once

#include <string_view>

namespace pd_proxy {

/// The offset of the first byte of `text` that does not begin a well-formed UTF-8 sequence (RFC 3629: no
/// overlong forms, no surrogates U+D800..U+DFFF, nothing above U+10FFFF, no truncated sequence), or npos when
/// all of `text` is well-formed. Checks eight ASCII bytes per step. O(n), no allocation.
std::size_t find_invalid_utf8(std::string_view text);

}  // namespace pd_proxy
