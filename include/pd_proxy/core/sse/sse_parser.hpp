// Incremental Server-Sent Events parser: observes events in a byte stream without re-encoding it.
#pragma once

#include <cstddef>
#include <cstring>
#include <string>
#include <string_view>

namespace pd_proxy {

/// The longest line, and the longest joined data of one event, that the parser stores.
/// Beyond it the bytes are not stored, only scanned for line endings (see sse_parser); the relay still
/// forwards them unchanged.
inline constexpr std::size_t max_sse_line_bytes = std::size_t{1} << 20;

/// One dispatched event. The views point into the parser and are valid only during the callback.
struct sse_event {
  std::string_view type;  // the `event:` field, empty for the default "message"
  std::string_view data;  // `data:` lines joined with '\n'
  /// A `data:` or `event:` line of the event, or its joined data, exceeded max_sse_line_bytes and was
  /// dropped, with every later field of the event: `type` and `data` hold only what came before, and must not
  /// be taken for the event's meaning.
  bool truncated = false;
};

/// What an event means for the relay.
enum class sse_event_kind {
  token,  // an ordinary data event (a completion chunk), or any truncated event
  done,   // `data: [DONE]`
  error,  // `event: error`, or a JSON object whose first key is "error" (vLLM's and OpenAI's shape)
  empty,  // an event with no data (e.g. only comments or `event:`)
};

/// Classifies a dispatched event. Parses JSON only when the data could be an error object. A truncated
/// event is a token: what the parser kept of it cannot show that it is the end or an error.
sse_event_kind classify(const sse_event& event);

/// Feeds bytes as they arrive, in any split (byte by byte, across CR LF, mid-field), and dispatches
/// complete events per the WHATWG rules (lines end in LF, CR LF or CR; a blank line dispatches; one space
/// after the colon is dropped; comments are ignored). Not thread-safe; one parser per stream.
///
/// Memory is bounded whatever the input. A line longer than max_sse_line_bytes is not stored: it is
/// dropped whole, whatever the split, and only scanned for its ending. If it is a comment or a field other
/// than `data`/`event`, nothing is lost (those are ignored anyway); if it is a `data:` or `event:` line, its
/// event is dispatched with `truncated` set, and nothing more of that event is stored. A `data:` line that
/// fits but would make the event's joined data longer than the bound truncates the event the same way.
/// So the partial line, the event's type and its joined data each hold at most max_sse_line_bytes (their
/// capacity too, and one grown beyond 64 KiB is freed once its line or event is done): at most about
/// 2 × the bound in practice (event types are short), 3 × in the worst case. Line endings are tracked
/// throughout, so later events parse normally, and feed()'s boundaries are the same as without the bound.
class sse_parser {
 public:
  /// Feeds `bytes` and calls `on_event(const sse_event&)` for every event completed by them. Returns the
  /// offset in `bytes` just past the last line ending after which no event was half-built (a dispatched
  /// event, a comment, a blank line), i.e. where the bytes so far can be cut without splitting an event;
  /// npos when there is no such point in `bytes`.
  template <class OnEvent>
  std::size_t feed(std::string_view bytes, OnEvent&& on_event);

  /// True when every byte fed so far belongs to a complete event: nothing is pending in a line or event.
  bool at_event_boundary() const { return line_.empty() && !skipping_line_ && !has_fields_; }

  /// The memory the parser's buffers hold (their capacity), in bytes.
  std::size_t buffered_bytes() const { return line_.capacity() + data_.capacity() + type_.capacity(); }

 private:
  // The first CR or LF at or after `from`, or npos. Two memchr scans: find_first_of is far slower.
  static std::size_t find_line_end(std::string_view bytes, std::size_t from) {
    const char* begin = bytes.data() + from;
    const std::size_t n = bytes.size() - from;
    const void* lf = std::memchr(begin, '\n', n);
    const std::size_t lf_at = lf ? static_cast<std::size_t>(static_cast<const char*>(lf) - begin) : n;
    const void* cr = std::memchr(begin, '\r', lf_at);
    const std::size_t at = cr ? static_cast<std::size_t>(static_cast<const char*>(cr) - begin) : lf_at;
    return at == n ? std::string_view::npos : from + at;
  }

  void process_line(std::string_view line, bool stable, const auto& on_event);

  // The cold paths, out of line (sse_parser.cpp).
  // The line being built (line_, then `rest`) exceeds the bound: notes what kind of line it is, frees
  // line_, and skips the rest of the line unless `ends` (`rest` reaches its ending).
  void overlong_line(std::string_view rest, bool ends);
  // Grows `s` (line_, data_ or type_) to hold `need` bytes, geometrically but to a capacity of at most
  // max_sse_line_bytes (need is within it). Sets large_ when it goes beyond trim_capacity.
  void grow(std::string& s, std::size_t need);
  // Frees the buffers that are empty and grew beyond trim_capacity; clears large_ when none is left.
  void trim();

  // Makes room for `need` bytes in `s`: a no-op unless it must grow.
  void make_room(std::string& s, std::size_t need) {
    if (need > s.capacity()) [[unlikely]]
      grow(s, need);
  }

  // Stops storing the event being built; what was stored stays for its dispatch.
  void truncate() {
    materialize();
    truncated_ = true;
  }

  // Copies a borrowed data view into data_.
  void materialize() {
    if (!borrowed_) return;
    make_room(data_, borrowed_data_.size());
    data_.assign(borrowed_data_);
    borrowed_ = false;
  }

  static constexpr std::size_t trim_capacity = 64 * 1024;

  std::string line_;                // partial line carried between feeds, at most max_sse_line_bytes
  std::string data_;                // data of the event being built (unless borrowed), at most the bound
  std::string_view borrowed_data_;  // its single data line, still in the bytes being fed
  bool borrowed_ = false;
  std::string type_;       // event type of the event being built
  bool has_data_ = false;  // at least one data field seen
  bool has_fields_ = false;
  bool truncated_ = false;      // the event being built lost a field to the bound: store nothing more of it
  bool skipping_line_ = false;  // the line being fed exceeded the bound: drop its bytes up to its ending
  bool large_ = false;          // a buffer may hold more than trim_capacity: trim() when a line or event ends
  bool pending_cr_ = false;     // last byte was CR: a following LF belongs to the same line ending
};

//------------------------------------------------------------------------------

template <class OnEvent>
std::size_t sse_parser::feed(std::string_view bytes, OnEvent&& on_event) {
  std::size_t boundary = std::string_view::npos;
  std::size_t i = 0;
  if (pending_cr_ && !bytes.empty()) {
    pending_cr_ = false;
    if (bytes[0] == '\n') {
      i = 1;
      if (!has_fields_) boundary = 1;
    }
  }
  while (i < bytes.size()) {
    const std::size_t end = find_line_end(bytes, i);
    const std::string_view rest = bytes.substr(i, end == std::string_view::npos ? end : end - i);
    if (skipping_line_) [[unlikely]] {
      skipping_line_ = end == std::string_view::npos;  // until the over-long line ends
    } else if (line_.size() + rest.size() > max_sse_line_bytes) [[unlikely]] {
      overlong_line(rest, /*ends=*/end != std::string_view::npos);
    } else if (end == std::string_view::npos) {
      make_room(line_, line_.size() + rest.size());
      line_.append(rest);
    } else if (line_.empty()) {
      process_line(rest, /*stable=*/true, on_event);
    } else {
      make_room(line_, line_.size() + rest.size());
      line_.append(rest);
      process_line(line_, /*stable=*/false, on_event);
      line_.clear();
      if (large_) [[unlikely]]
        trim();
    }
    if (end == std::string_view::npos) break;
    i = end + 1;
    if (bytes[end] == '\r') {
      if (i < bytes.size()) {
        if (bytes[i] == '\n') ++i;
      } else {
        pending_cr_ = true;
      }
    }
    if (!has_fields_) boundary = i;
  }
  materialize();  // a borrowed data view must not outlive `bytes`
  return boundary;
}

void sse_parser::process_line(std::string_view line, bool stable, const auto& on_event) {
  if (line.empty()) {
    if (!has_fields_) return;
    const std::string_view data = !has_data_  ? std::string_view()
                                  : borrowed_ ? borrowed_data_
                                              : std::string_view(data_);
    on_event(sse_event{type_, data, truncated_});
    borrowed_ = false;
    data_.clear();
    type_.clear();
    has_data_ = false;
    has_fields_ = false;
    truncated_ = false;
    if (large_) [[unlikely]]
      trim();
    return;
  }
  if (line.front() == ':') return;  // comment
  has_fields_ = true;
  const std::size_t colon = line.find(':');
  const std::string_view name = line.substr(0, colon);
  std::string_view value;
  if (colon != std::string_view::npos) {
    value = line.substr(colon + 1);
    if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  }
  if (name == "data") {
    if (truncated_) [[unlikely]] {
      // nothing more of this event is stored
    } else if (!has_data_ && stable) {
      borrowed_data_ = value;  // the common case, one data line: no copy (a line fits the bound)
      borrowed_ = true;
    } else {
      materialize();
      const std::size_t need = data_.size() + (has_data_ ? 1 : 0) + value.size();
      if (need > max_sse_line_bytes) [[unlikely]] {
        truncated_ = true;
      } else {
        make_room(data_, need);
        if (has_data_) data_.push_back('\n');
        data_.append(value);
      }
    }
    has_data_ = true;
  } else if (name == "event" && !truncated_) {
    make_room(type_, value.size());  // a line fits the bound
    type_.assign(value);
  }
}

}  // namespace pd_proxy
