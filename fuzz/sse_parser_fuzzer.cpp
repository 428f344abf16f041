// Target: sse_parser and relay_framer on any bytes, fed in any split.
//
// Input: the decoder's body. It is fed in pieces of 1..256 bytes whose lengths come from a hash of the input
// (so seeds are plain SSE text, and every mutation also changes the split). Aborts when:
// - the events (type, data, truncated) differ from those of the same bytes fed in one piece;
// - a boundary feed() returns is not one: the bytes up to it, fed to a fresh parser, must leave it at an
//   event boundary with exactly the events dispatched so far;
// - the parser holds more than its documented bound;
// - relay_framer does not relay every byte exactly once, in order (as a stream and as a JSON body), or a
//   stream's write that does not end the response stops anywhere but at an event boundary, or saw_done()
//   or failure_tail() contradict the events seen.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "pd_proxy/core/sse/relay_framer.hpp"
#include "pd_proxy/core/sse/sse_parser.hpp"

namespace {

using pd_proxy::relay_framer;
using pd_proxy::sse_event;
using pd_proxy::sse_parser;

struct recorded_event {
  std::string type, data;
  bool truncated;
  pd_proxy::sse_event_kind kind;
  bool operator==(const recorded_event&) const = default;
};

void check(bool condition, const char* what) {
  if (!condition) {
    std::fprintf(stderr, "sse_parser_fuzzer: %s\n", what);
    std::abort();
  }
}

// The piece lengths for `size` bytes: 1..max_piece each, from a small deterministic generator.
std::vector<std::size_t> piece_lengths(std::size_t size, std::size_t max_piece, std::uint32_t seed) {
  std::vector<std::size_t> lengths;
  for (std::size_t done = 0; done < size;) {
    seed = seed * 1103515245u + 12345u;
    const std::size_t n = std::min<std::size_t>(size - done, 1 + (seed >> 16) % max_piece);
    lengths.push_back(n);
    done += n;
  }
  return lengths;
}

std::vector<recorded_event> events_of(std::string_view bytes, sse_parser& parser) {
  std::vector<recorded_event> events;
  parser.feed(bytes, [&](const sse_event& e) {
    events.push_back({std::string(e.type), std::string(e.data), e.truncated, pd_proxy::classify(e)});
  });
  return events;
}

// Whether `prefix` ends at an event boundary of a stream, with `expected` as its events.
bool is_boundary(std::string_view prefix, const std::vector<recorded_event>& expected) {
  sse_parser parser;
  return events_of(prefix, parser) == expected && parser.at_event_boundary();
}

// Relays `body` through a relay_framer in `lengths` pieces; returns what was written.
std::string relay(std::string_view body, const std::vector<std::size_t>& lengths, bool stream,
                  const std::vector<recorded_event>& events) {
  relay_framer framer(stream);
  std::string written;
  std::size_t offset = 0;
  for (std::size_t k = 0; k < lengths.size() || k == 0; ++k) {
    const std::size_t n = k < lengths.size() ? lengths[k] : 0;
    const std::string piece(body.substr(offset, n));  // a buffer of its own, reused storage is not assumed
    offset += n;
    const bool last = offset == body.size();
    const auto plan = framer.feed(piece, last);
    written.append(plan.first);
    written.append(plan.second);
    framer.written();
    check(plan.last == last, "the plan ends the response exactly at the last piece");
    if (stream && !last && !plan.idle()) {
      sse_parser parser;
      events_of(written, parser);
      check(parser.at_event_boundary(), "a stream's write stops at an event boundary");
    }
    if (last) break;
  }
  bool done = false;
  for (const auto& e : events) done = done || e.kind == pd_proxy::sse_event_kind::done;
  check(framer.saw_done() == (stream && done), "saw_done() matches the events");
  const std::string tail = framer.failure_tail("event: error\ndata: {}\n\n");
  check(tail.empty() == (!stream || done), "failure_tail() is empty only for a JSON body or after [DONE]");
  return written;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  std::uint32_t hash = 2166136261u;  // FNV-1a
  for (std::size_t k = 0; k < size; ++k) hash = (hash ^ data[k]) * 16777619u;
  const auto lengths = piece_lengths(body.size(), 1 + (hash & 0xFF), hash >> 8);

  sse_parser whole_parser;
  const std::vector<recorded_event> whole = events_of(body, whole_parser);

  sse_parser parser;
  std::vector<recorded_event> split;
  std::size_t offset = 0;
  for (const std::size_t n : lengths) {
    const std::string piece(body.substr(offset, n));
    const std::size_t boundary = parser.feed(piece, [&](const sse_event& e) {
      split.push_back({std::string(e.type), std::string(e.data), e.truncated, pd_proxy::classify(e)});
    });
    if (boundary != std::string_view::npos) {
      check(boundary <= n, "the boundary lies within the piece");
      check(is_boundary(body.substr(0, offset + boundary), split), "feed() returned a real boundary");
    }
    offset += n;
    check(parser.buffered_bytes() <= 3 * pd_proxy::max_sse_line_bytes + 3 * 64 * 1024, "bounded buffers");
  }
  check(split == whole, "the events do not depend on the split");
  check(parser.at_event_boundary() == whole_parser.at_event_boundary(),
        "the end state does not depend on it");

  check(relay(body, lengths, /*stream=*/true, whole) == body, "a stream is relayed byte for byte");
  check(relay(body, lengths, /*stream=*/false, whole) == body, "a JSON body is relayed byte for byte");
  return 0;
}
