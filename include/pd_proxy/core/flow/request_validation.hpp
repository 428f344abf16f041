// The shape checks that keep invalid client input from ever reaching a backend: each problem is the client's
// 400, with a message that names the member.
#pragma once

#include <string>
#include <string_view>

namespace pd_proxy {

class client_request;

/// The client's 400 message when `value` (the raw JSON text of a top-level member, as scanned) is not of the
/// shape the member named `name` (decoded) must have; empty when it is, or when the proxy does not check that
/// member (unknown members are the backend's business). Checked, on both routes, wherever they appear:
/// - `prompt`: a string, or an array of strings, of integers, or of arrays of integers (arrays may be empty);
/// - `messages`: a non-empty array of objects (what is inside a message is the backend's business);
/// - `stream`: `true`, `false` or `null`;
/// - `max_tokens`: a positive integer or `null`;
/// - `max_completion_tokens`, `min_tokens`: a non-negative integer or `null`.
/// An integer is written as one (`-?(0|[1-9][0-9]*)`: `16.0` and `1e3` are not), of any size. Strings
/// in `prompt` are checked against the JSON string grammar (escapes, no raw control characters); an escaped
/// lone surrogate (`"\ud800"`) passes, as Python's json accepts it: it is the backend's business. Never
/// throws, no allocation; O(size of value).
std::string_view member_shape_error(std::string_view name, std::string_view value);

/// The client's 400 message for the first problem of `request` (a scanned body), empty when there is none.
/// In this order: bytes that are not well-formed UTF-8 anywhere in the body ("`prompt` is not valid UTF-8",
/// naming the member they are in), the first member of the wrong shape in body order (member_shape_error),
/// then a top-level member written more than once, compared by decoded names ("`stream` appears more than
/// once": the proxy and the backend must never disagree about which occurrence counts). Allocates only the
/// returned message, and a name index for bodies of more than 32 members. O(n log n) in members, O(n) bytes.
std::string input_error(const client_request& request);

}  // namespace pd_proxy
