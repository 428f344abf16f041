// The in-flight requests of one worker that the drain deadline can stop.
#pragma once

#include <boost/intrusive/list.hpp>

#include "pd_proxy/core/config/config.hpp"
#include "pd_proxy/net/net.hpp"

namespace pd_proxy {

class backend_stream;
class stop_list;

/// One PD request in flight, linked into its worker's stop_list for its lifetime. The request tells it which
/// backend leg it is waiting on; when the list is stopped, that leg is aborted and `stopping()` turns true,
/// so the request ends with "proxy shutting down" (an SSE error event once bytes were sent) instead of being
/// cut.
class stoppable_request
    : public boost::intrusive::list_base_hook<boost::intrusive::link_mode<boost::intrusive::auto_unlink>> {
 public:
  explicit stoppable_request(stop_list& list);
  stoppable_request(const stoppable_request&) = delete;
  stoppable_request& operator=(const stoppable_request&) = delete;

  bool stopping() const { return stopping_; }

  /// The leg the request is waiting on now, or nullptr between legs. Must outlive its registration.
  void set_leg(backend_stream* leg) { leg_ = leg; }

  /// Sleeps for `d`. False when the sleep was cut short: the request was stopped or the coroutine cancelled.
  net::awaitable<bool> sleep_for(seconds_d d);

 private:
  friend class stop_list;
  void stop();

  backend_stream* leg_ = nullptr;
  net::steady_timer* sleeping_ = nullptr;  // the timer of a sleep in progress
  bool stopping_ = false;
};

/// Registers `leg` as the request's current leg for this object's scope (which the leg must outlive).
class current_leg {
 public:
  current_leg(stoppable_request& request, backend_stream& leg) : request_(request) { request_.set_leg(&leg); }
  ~current_leg() { request_.set_leg(nullptr); }
  current_leg(const current_leg&) = delete;
  current_leg& operator=(const current_leg&) = delete;

 private:
  stoppable_request& request_;
};

/// Not thread-safe: one per worker, used only on its thread.
class stop_list {
 public:
  /// Stops every linked request (see stoppable_request). Requests started later are not affected.
  void stop_all();

 private:
  friend class stoppable_request;
  boost::intrusive::list<stoppable_request, boost::intrusive::constant_time_size<false>> requests_;
};

}  // namespace pd_proxy
