#include "pd_proxy/core/sse/relay_framer.hpp"

namespace pd_proxy {

relay_framer::write_plan relay_framer::feed(std::string_view piece, bool last) {
  pending_ = after_write::nothing;
  if (!stream_) return {piece, {}, last};
  const std::size_t cut = parser_.feed(piece, [this](const sse_event& event) {
    if (classify(event) == sse_event_kind::done) saw_done_ = true;
  });
  if (last) return {held_, piece, true};
  if (cut != std::string_view::npos) {
    rest_ = piece.substr(cut);
    pending_ = after_write::hold_rest;
    return {held_, piece.substr(0, cut), false};
  }
  held_.append(piece);
  if (held_.size() > max_held_event_bytes) {
    pending_ = after_write::clear_held;
    return {held_, {}, false};
  }
  return {};
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
