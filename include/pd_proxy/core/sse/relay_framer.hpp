// What of a decoder's body goes to the client, and when: whole SSE events in a stream, bytes as they come
// otherwise. Sans-io: the relay coroutine feeds it pieces and writes what it returns.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "pd_proxy/core/flow/answer_rewrite.hpp"
#include "pd_proxy/core/sse/sse_parser.hpp"

namespace pd_proxy {

/// In a stream (SSE) only whole events are sent, so that a failure later can be reported as an event of its
/// own; bytes of an event not yet complete are held. An event that outgrows max_held_event_bytes is sent
/// unfinished anyway (a stream whose events never end must not be held without bound). A JSON body (not a
/// stream) is passed on piece by piece. Not thread-safe; one per response.
class relay_framer {
 public:
  static constexpr std::size_t max_held_event_bytes = 256 * 1024;

  /// A JSON body that is rewritten is held whole up to this size; a longer one is passed on as it is.
  static constexpr std::size_t max_rewritten_body_bytes = 8 * 1024 * 1024;

  explicit relay_framer(bool stream) : stream_(stream) {}

  /// The answer is rewritten as `rewrite` says (core/flow/answer_rewrite.hpp): in a stream, the events it
  /// concerns (its first chunks for prompt_logprobs, the final usage chunk for cached_tokens) are rewritten
  /// in the plan that sends them; a JSON body is held whole and rewritten at its end. Every other byte goes
  /// as it came. Call before the first feed(), only with a rewrite that is not empty; `rewrite` must outlive
  /// the framer. Without it, nothing is scanned beyond the SSE framing.
  void set_rewrite(const answer_rewrite& rewrite) { rewriter_.emplace(rewrite); }

  /// The bytes to write now: `first` then `second` (either may be empty); `last` ends the response.
  struct write_plan {
    std::string_view first;
    std::string_view second;
    bool last = false;

    /// Nothing to write and the response does not end: read the next piece.
    bool idle() const { return first.empty() && second.empty() && !last; }
  };

  /// Takes the next piece of the decoder's body; `last` when it completes the body. The plan's views stay
  /// valid until the next call; call written() once the plan was written and before the piece's storage is
  /// reused.
  write_plan feed(std::string_view piece, bool last);

  /// The plan of the last feed() was written.
  void written();

  /// After the decoder failed mid-stream, the bytes that end the client's stream: empty for a JSON body and
  /// once `data: [DONE]` was relayed; else `error_event`, preceded by a blank line when part of an event was
  /// already sent (the client sees that event cut short). Held bytes of an incomplete event are dropped.
  std::string failure_tail(std::string_view error_event) const;

  bool stream() const { return stream_; }
  bool saw_done() const { return saw_done_; }

 private:
  enum class after_write { nothing, hold_rest, clear_held };

  write_plan feed_held_body(std::string_view piece, bool last);  // a JSON body that is rewritten
  write_plan rewritten(write_plan plan);  // the plan with the events it concerns rewritten

  bool stream_;
  sse_parser parser_;
  std::string held_;       // bytes of an event not yet complete
  std::string_view rest_;  // hold_rest: the piece's bytes after its last complete event
  after_write pending_ = after_write::nothing;
  bool sent_half_event_ = false;  // part of an event went out unfinished (it outgrew the bound)
  bool saw_done_ = false;
  std::optional<answer_rewriter> rewriter_;  // set_rewrite()
  bool rewrite_event_ = false;               // the events of this feed() include one the rewriter concerns
  bool passing_body_ = false;  // the JSON body outgrew max_rewritten_body_bytes: passed on as it is
  std::string rewritten_;      // a rewritten plan's bytes
};

}  // namespace pd_proxy
