// The in-flight requests of one worker that the drain deadline can stop.
#pragma once

#include <boost/intrusive/list.hpp>

#include "pd_proxy/core/config/config.hpp"
#include "pd_proxy/net/net.hpp"

namespace pd_proxy {

class stop_list;

/// What the drain deadline interrupts in a request: its backend operations in flight.
class abortable {
 public:
  /// Makes every backend operation in flight complete with an error at once, without resuming anyone.
  virtual void abort_in_flight() = 0;

 protected:
  ~abortable() = default;
};

/// One PD request in flight, linked into its worker's stop_list for its lifetime. When the list is stopped,
/// `stopping()` turns true, the request's backend operations are aborted and its back-off sleep ends, so the
/// request ends with "proxy shutting down" (an SSE error event once bytes were sent) instead of being cut.
class stoppable_request
    : public boost::intrusive::list_base_hook<boost::intrusive::link_mode<boost::intrusive::auto_unlink>> {
 public:
  /// `legs` must outlive the object.
  stoppable_request(stop_list& list, abortable& legs);
  stoppable_request(const stoppable_request&) = delete;
  stoppable_request& operator=(const stoppable_request&) = delete;

  bool stopping() const { return stopping_; }

  /// Sleeps for `d`. False when the sleep was cut short: the request was stopped or the coroutine cancelled.
  net::awaitable<bool> sleep_for(seconds_d d);

 private:
  friend class stop_list;
  void stop();

  abortable& legs_;
  net::steady_timer* sleeping_ = nullptr;  // the timer of a sleep in progress
  bool stopping_ = false;
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
