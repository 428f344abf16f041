// Incremental Server-Sent Events parser: observes events in a byte stream without re-encoding it.
#pragma once

#include <cstddef>
#include <cstring>
#include <string>
#include <string_view>

namespace pd_proxy {

/// One dispatched event. The views point into the parser and are valid only during the callback.
struct sse_event {
  std::string_view type;  // the `event:` field, empty for the default "message"
  std::string_view data;  // `data:` lines joined with '\n'
};

/// What an event means for the relay.
enum class sse_event_kind {
  token,  // an ordinary data event (a completion chunk)
  done,   // `data: [DONE]`
  error,  // `event: error`, or a JSON object whose first key is "error" (vLLM's and OpenAI's shape)
  empty,  // an event with no data (e.g. only comments or `event:`)
};

/// Classifies a dispatched event. Parses JSON only when the data could be an error object.
sse_event_kind classify(const sse_event& event);

/// Feeds bytes as they arrive, in any split (byte by byte, across CR LF, mid-field), and dispatches
/// complete events per the WHATWG rules (lines end in LF, CR LF or CR; a blank line dispatches; one space
/// after the colon is dropped; comments are ignored). Memory is bounded by the longest line plus the
/// longest event. Not thread-safe; one parser per stream.
class sse_parser {
 public:
  /// Feeds `bytes` and calls `on_event(const sse_event&)` for every event completed by them. Returns the
  /// offset in `bytes` just past the last line ending after which no event was half-built (a dispatched
  /// event, a comment, a blank line), i.e. where the bytes so far can be cut without splitting an event;
  /// npos when there is no such point in `bytes`.
  template <class OnEvent>
  std::size_t feed(std::string_view bytes, OnEvent&& on_event);

  /// True when every byte fed so far belongs to a complete event: nothing is pending in a line or event.
  bool at_event_boundary() const { return line_.empty() && !has_fields_; }

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

  // Copies a borrowed data view into data_.
  void materialize() {
    if (!borrowed_) return;
    data_.assign(borrowed_data_);
    borrowed_ = false;
  }

  std::string line_;       // partial line carried between feeds
  std::string data_;       // data of the event being built (unless borrowed)
  std::string_view borrowed_data_;  // its single data line, still in the bytes being fed
  bool borrowed_ = false;
  std::string type_;       // event type of the event being built
  bool has_data_ = false;  // at least one data field seen
  bool has_fields_ = false;
  bool pending_cr_ = false;  // last byte was CR: a following LF belongs to the same line ending
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
    if (end == std::string_view::npos) {
      line_.append(bytes.substr(i));
      break;
    }
    if (line_.empty()) {
      process_line(bytes.substr(i, end - i), /*stable=*/true, on_event);
    } else {
      line_.append(bytes.substr(i, end - i));
      process_line(line_, /*stable=*/false, on_event);
      line_.clear();
    }
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
    const std::string_view data = !has_data_ ? std::string_view() : borrowed_ ? borrowed_data_ : std::string_view(data_);
    on_event(sse_event{type_, data});
    borrowed_ = false;
    data_.clear();
    type_.clear();
    has_data_ = false;
    has_fields_ = false;
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
    if (!has_data_ && stable) {
      borrowed_data_ = value;  // the common case, one data line: no copy
      borrowed_ = true;
    } else {
      materialize();
      if (has_data_) data_.push_back('\n');
      data_.append(value);
    }
    has_data_ = true;
  } else if (name == "event") {
    type_.assign(value);
  }
}

}  // namespace pd_proxy
