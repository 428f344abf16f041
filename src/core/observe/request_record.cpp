#include "pd_proxy/core/observe/request_record.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>
#include <ctime>

namespace pd_proxy {

std::string_view to_string(request_outcome outcome) {
  switch (outcome) {
    case request_outcome::ok:
      return "ok";
    case request_outcome::client_abort:
      return "client_abort";
    case request_outcome::backend_error:
      return "backend_error";
    case request_outcome::timeout:
      return "timeout";
    case request_outcome::rejected:
      return "rejected";
    case request_outcome::no_backend:
      return "no_backend";
    case request_outcome::shutting_down:
      return "shutting_down";
    case request_outcome::backend_rejected:
      return "backend_rejected";
    case request_outcome::invalid_request:
      return "invalid_request";
  }
  return "ok";
}

request_outcome outcome_of_status(int status) {
  if (status == 429) return request_outcome::rejected;
  if (status >= 400 && status < 500) return request_outcome::invalid_request;
  return request_outcome::ok;
}

std::string_view failure_kind(backend_failure failure) {
  return to_string(failure);
}

std::string_view answer_kind(int status) {
  return status == 429 ? "http_429" : "http_5xx";
}

double seconds_between(request_record::clock::time_point from, request_record::clock::time_point to) {
  if (!request_record::reached(from) || !request_record::reached(to) || to < from) return -1;
  return std::chrono::duration<double>(to - from).count();
}

namespace {

// Bytes a JSON string must escape: '"', '\\' and the control characters.
constexpr std::array<bool, 256> escape_table = [] {
  std::array<bool, 256> table{};
  for (int c = 0; c < 0x20; ++c) table[static_cast<std::size_t>(c)] = true;
  table['"'] = table['\\'] = true;
  return table;
}();

// Whether any of the 8 bytes of `word` is one escape_table marks (exact, not only likely: the "has a zero
// byte" and "has a byte below n" word tricks of Hacker's Delight, 6-1).
bool word_needs_escape(std::uint64_t word) {
  constexpr std::uint64_t ones = 0x0101010101010101u, highs = 0x8080808080808080u;
  const auto has_zero_byte = [&](std::uint64_t v) { return (v - ones) & ~v & highs; };
  const std::uint64_t below_space = (word - ones * 0x20) & ~word & highs;
  return (below_space | has_zero_byte(word ^ (ones * '"')) | has_zero_byte(word ^ (ones * '\\'))) != 0;
}

// The most bytes a JSON string of `text` takes: every byte escaped as \u00XX, and the quotes.
std::size_t escaped_bound(std::string_view text) {
  return 6 * text.size() + 2;
}

// Writes the line into room the caller reserved (the writer never checks: the bound is computed first). The
// access log's writer thread formats every request's line: this costs about a fifth of what std::string
// appends and std::to_chars(double) did.
class line_writer {
 public:
  explicit line_writer(char* at) : at_(at) {}
  char* end() const { return at_; }

  void literal(std::string_view text) {
    if (text.empty()) return;  // an empty view's data() may be null, which memcpy must not get
    std::memcpy(at_, text.data(), text.size());
    at_ += text.size();
  }
  // `text` as a JSON string. Eight bytes are checked at a time; a word with a byte to escape, and the tail,
  // byte by byte.
  void escaped(std::string_view text) {
    *at_++ = '"';
    std::size_t clean = 0;  // the start of the run of bytes that need no escape, copied as one piece
    std::size_t i = 0;
    while (i < text.size()) {
      if (i + 8 <= text.size()) {
        std::uint64_t word = 0;
        std::memcpy(&word, text.data() + i, 8);
        if (!word_needs_escape(word)) {
          i += 8;
          continue;
        }
      }
      for (const std::size_t stop = std::min(i + 8, text.size()); i < stop; ++i) {
        const auto u = static_cast<unsigned char>(text[i]);
        if (!escape_table[u]) continue;  // UTF-8 passes as is
        literal(text.substr(clean, i - clean));
        clean = i + 1;
        *at_++ = '\\';
        if (u >= 0x20) {
          *at_++ = static_cast<char>(u);
        } else {
          static constexpr char hex[] = "0123456789abcdef";
          literal("u00");
          *at_++ = hex[u >> 4];
          *at_++ = hex[u & 0xf];
        }
      }
    }
    literal(text.substr(clean));
    *at_++ = '"';
  }
  // `text` quoted as it is: for the fixed names (method, route, outcome), which need no escape.
  void quoted(std::string_view text) {
    *at_++ = '"';
    literal(text);
    *at_++ = '"';
  }
  // ".ddd" for 0 <= n < 1000.
  void thousandths(unsigned n) {
    at_[0] = '.';
    at_[1] = static_cast<char>('0' + n / 100);
    at_[2] = static_cast<char>('0' + n / 10 % 10);
    at_[3] = static_cast<char>('0' + n % 10);
    at_ += 4;
  }
  void number(std::uint64_t n) { at_ = std::to_chars(at_, at_ + 20, n).ptr; }
  // The milliseconds from `from` to `to` with 3 decimals (rounded to the microsecond), or null when either
  // was not reached or `to` is before `from`.
  void millis(request_record::clock::time_point from, request_record::clock::time_point to) {
    if (!request_record::reached(from) || !request_record::reached(to) || to < from) {
      literal("null");
      return;
    }
    const auto micros = static_cast<std::uint64_t>(
                            std::chrono::duration_cast<std::chrono::nanoseconds>(to - from).count() + 500) /
                        1000;
    number(micros / 1000);
    thousandths(static_cast<unsigned>(micros % 1000));
  }
  // "YYYY-MM-DDTHH:MM:SS.mmmZ", quoted.
  void timestamp(std::chrono::system_clock::time_point t) {
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
    const std::time_t seconds = static_cast<std::time_t>(ms / 1000);
    // The date and time to the second, formatted once per second per thread (gmtime_r and strftime cost
    // more than the rest of the line).
    thread_local std::time_t cached_seconds = -1;
    thread_local char text[40];
    thread_local std::size_t n = 0;
    if (seconds != cached_seconds) {
      std::tm utc{};
      ::gmtime_r(&seconds, &utc);
      n = std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &utc);
      cached_seconds = seconds;
    }
    *at_++ = '"';
    literal(std::string_view(text, n));
    thousandths(static_cast<unsigned>(ms % 1000));
    literal("Z\"");
  }

 private:
  char* at_;
};

// The line without its variable strings takes less than this (names, numbers, the timestamp).
constexpr std::size_t fixed_part_bound = 512;

}  // namespace

std::string access_log_line(const request_record& r) {
  std::string out;
  append_access_log_line(out, r);
  return out;
}

void append_access_log_line(std::string& out, const request_record& r) {
  const std::string_view method = r.method, route = to_string(r.route), outcome = to_string(r.outcome);
  const std::size_t bound = fixed_part_bound + escaped_bound(r.request_id) + escaped_bound(method) +
                            escaped_bound(route) + escaped_bound(outcome) + escaped_bound(r.prefiller) +
                            escaped_bound(r.decoder) + escaped_bound(r.client_address);
  const std::size_t start = out.size();
  out.resize(start + bound);
  line_writer w(out.data() + start);
  w.literal("{\"ts\":");
  w.timestamp(r.wall_received);
  w.literal(",\"request_id\":");
  w.escaped(r.request_id);
  w.literal(",\"method\":");
  w.quoted(method);
  w.literal(",\"route\":");
  w.quoted(route);
  w.literal(",\"status\":");
  w.number(static_cast<std::uint64_t>(r.status < 0 ? 0 : r.status));
  w.literal(",\"outcome\":");
  w.quoted(outcome);
  w.literal(",\"prefiller\":");
  w.escaped(r.prefiller);
  w.literal(",\"decoder\":");
  w.escaped(r.decoder);
  w.literal(",\"retries\":");
  w.number(std::uint64_t{r.prefill_retries} + r.decode_retries);
  w.literal(",\"prefill_retries\":");
  w.number(r.prefill_retries);
  w.literal(",\"decode_retries\":");
  w.number(r.decode_retries);
  w.literal(r.prefill_skipped ? ",\"prefill_skipped\":true" : ",\"prefill_skipped\":false");
  w.literal(",\"prompt_bytes\":");
  w.number(r.prompt_bytes);
  w.literal(",\"bytes_sent\":");
  w.number(r.bytes_sent);
  w.literal(",\"prefill_ms\":");
  w.millis(r.prefill_start, r.prefill_done);
  w.literal(",\"ttft_ms\":");
  w.millis(r.received, r.first_byte);
  w.literal(",\"duration_ms\":");
  w.millis(r.received, r.end);
  w.literal(",\"client_address\":");
  w.escaped(r.client_address);
  w.literal("}\n");
  out.resize(static_cast<std::size_t>(w.end() - out.data()));
}

}  // namespace pd_proxy
