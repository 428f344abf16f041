#include "pd_proxy/core/sse/relay_framer.hpp"

namespace pd_proxy {

relay_framer::write_plan relay_framer::feed(std::string_view piece, bool last) {
  pending_ = after_write::nothing;
  if (!stream_) return rewriter_ ? feed_held_body(piece, last) : write_plan{piece, {}, last};
  const std::size_t cut = parser_.feed(piece, [this](const sse_event& event) {
    const sse_event_kind kind = classify(event);
    if (kind == sse_event_kind::done) {
      saw_done_ = true;
    } else if (rewriter_ && kind == sse_event_kind::token && !event.truncated &&
               rewriter_->concerns(event.data)) [[unlikely]] {
      rewrite_event_ = true;
    }
  });
  if (last) return rewritten({held_, piece, true});
  if (cut != std::string_view::npos) {
    rest_ = piece.substr(cut);
    pending_ = after_write::hold_rest;
    return rewritten({held_, piece.substr(0, cut), false});
  }
  held_.append(piece);
  if (held_.size() > max_held_event_bytes) {
    pending_ = after_write::clear_held;
    return {held_, {}, false};
  }
  return {};
}

relay_framer::write_plan relay_framer::rewritten(write_plan plan) {
  if (!rewrite_event_) [[likely]]
    return plan;
  rewrite_event_ = false;
  std::string whole;
  whole.reserve(plan.first.size() + plan.second.size());
  whole.append(plan.first).append(plan.second);
  rewritten_ = rewriter_->rewrite_events(whole);
  return {rewritten_, {}, plan.last};
}

relay_framer::write_plan relay_framer::feed_held_body(std::string_view piece, bool last) {
  if (passing_body_) return {piece, {}, last};
  if (held_.size() + piece.size() > max_rewritten_body_bytes) {
    passing_body_ = true;  // too long to hold: what was held goes now, then the rest as it comes
    pending_ = after_write::clear_held;
    return {held_, piece, last};
  }
  held_.append(piece);
  if (!last) return {};
  auto answer = rewriter_->rewrite_body(held_);
  if (!answer) return {held_, {}, true};
  rewritten_ = std::move(*answer);
  return {rewritten_, {}, true};
}

void relay_framer::written() {
  switch (pending_) {
    case after_write::nothing:
      break;
    case after_write::hold_rest:
      held_.assign(rest_);
      sent_half_event_ = false;
      break;
    case after_write::clear_held:
      held_.clear();
      sent_half_event_ = true;
      break;
  }
  pending_ = after_write::nothing;
  rest_ = {};
}

std::string relay_framer::failure_tail(std::string_view error_event) const {
  if (!stream_ || saw_done_) return {};
  std::string tail = sent_half_event_ ? "\n\n" : "";
  tail.append(error_event);
  return tail;
}

}  // namespace pd_proxy
