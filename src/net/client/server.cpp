#include "pd_proxy/net/client/server.hpp"

#include <spdlog/spdlog.h>

#include <future>
#include <optional>
#include <stdexcept>
#include <utility>

#include "pd_proxy/core/flow/protocols/decoder_first.hpp"
#include "pd_proxy/core/http/request_id.hpp"
#include "pd_proxy/net/client/client_session.hpp"
#include "pd_proxy/net/client/task_group.hpp"
#include "pd_proxy/net/client/tls_context.hpp"
#include "pd_proxy/net/http/client_response.hpp"
#include "pd_proxy/net/observe/refusal.hpp"
#include "pd_proxy/net/observe/request_observer.hpp"
#include "pd_proxy/net/operation_timer.hpp"

namespace pd_proxy {

struct server::worker {
  explicit worker(std::size_t max_idle) : pool(max_idle), io(1), guard(net::make_work_guard(io)) {}
  ~worker() {
    // Idle connections go first, while their io_context lives; leases in coroutine frames that the
    // io_context destroys next then close their connections instead of pooling them.
    pool.close_all();
  }

  connection_pool pool;
  stop_list stoppable;  // its in-flight PD requests, for the drain deadline
  task_group clients;   // its client connection coroutines; outlives `io`, whose destruction ends them
  net::io_context io;
  std::optional<net::executor_work_guard<net::io_context::executor_type>> guard;
  std::thread thread;
};

namespace {

// Counts a client connection for --max-connections from its accept until the coroutine serving it, or the
// handler that was to start that coroutine, is destroyed: the count is exact however the connection ends.
class connection_slot {
 public:
  explicit connection_slot(std::atomic<std::size_t>& n)
      : n_(&n), others_(n.fetch_add(1, std::memory_order_relaxed)) {}
  connection_slot(connection_slot&& other) noexcept
      : n_(std::exchange(other.n_, nullptr)), others_(other.others_) {}
  ~connection_slot() {
    if (n_ != nullptr) n_->fetch_sub(1, std::memory_order_relaxed);
  }
  connection_slot(const connection_slot&) = delete;
  connection_slot& operator=(const connection_slot&) = delete;
  connection_slot& operator=(connection_slot&&) = delete;

  /// The connections that were counted when this one was.
  std::size_t others() const { return others_; }

 private:
  std::atomic<std::size_t>* n_;
  std::size_t others_;
};

net::awaitable<void> serve_connection(tcp::socket socket, [[maybe_unused]] connection_slot slot,
                                      proxy_state& state, connection_pool& pool, stop_list& stoppable) {
  co_await run_client_session(std::move(socket), state, pool, stoppable);
}

// Answers 503 on a connection over --max-connections (without reading its request) and ends it. The
// refusal is counted with route `other` and outcome `rejected`.
net::awaitable<void> refuse_connection(tcp::socket socket, [[maybe_unused]] connection_slot slot,
                                       proxy_state& state) {
  co_await net::this_coro::throw_if_cancelled(false);
  refusal refused;
  refused.request_id = new_request_id();
  const std::string client_address = client_address_for_log(*state.access, socket);
  operation_timer write_timer;
  client_response response(socket, write_timer, refused.request_id, false, false, seconds_d{5});
  co_await response.send_error(errc::overloaded, "too many client connections (--max-connections)");
  refused.status = response.status();
  refused.outcome = request_outcome::rejected;
  refused.bytes_sent = response.bytes_sent();
  refused.answered = std::chrono::system_clock::now();
  record_refusal(state.sinks(), std::move(refused), client_address);
  error_code ignored;
  socket.shutdown(tcp::socket::shutdown_send, ignored);
  socket.close(ignored);
}

// Step 3 of a drain on one worker: cancels its client connections and waits for them for at most `limit`.
// Returns how many are left.
net::awaitable<std::size_t> cancel_connections(task_group& clients, seconds_d limit) {
  clients.emit(net::cancellation_type::terminal);
  co_await clients.async_wait(limit);
  co_return clients.size();
}

void log_exception(std::exception_ptr e) {
  if (!e) return;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    spdlog::error("a client session ended with an unexpected exception: {}", ex.what());
  }
}

}  // namespace

server::server(proxy_config config) : state_(std::make_unique<proxy_state>(std::move(config))) {
  const auto& cfg = state_->config;
  if (!cfg.tls_cert.empty()) {
    std::string error;
    state_->tls = make_tls_context(cfg.tls_cert, cfg.tls_key, error);
    if (!state_->tls) throw std::runtime_error(error);
  }
  for (unsigned i = 0; i < cfg.workers; ++i) {
    workers_.push_back(std::make_unique<worker>(cfg.max_idle_backend_connections));
  }
  auto& io = workers_.front()->io;
  tcp::resolver resolver(io);
  const auto results = resolver.resolve(cfg.host, std::to_string(cfg.port), tcp::resolver::passive);
  error_code last_error;
  for (const auto& entry : results) {
    auto acceptor = std::make_unique<tcp::acceptor>(io);
    error_code ec;
    const auto endpoint = entry.endpoint();
    acceptor->open(endpoint.protocol(), ec);
    if (!ec) acceptor->set_option(net::socket_base::reuse_address(true), ec);
    if (!ec && endpoint.address().is_v6()) acceptor->set_option(net::ip::v6_only(true), ec);
    if (!ec) acceptor->bind(endpoint, ec);
    if (!ec) acceptor->listen(net::socket_base::max_listen_connections, ec);
    if (ec) {
      last_error = ec;
      spdlog::warn("cannot listen on {}:{}: {}", endpoint.address().to_string(), endpoint.port(),
                   ec.message());
      continue;
    }
    acceptors_.push_back(std::move(acceptor));
    if (cfg.port == 0) break;
  }
  if (acceptors_.empty()) {
    if (!last_error) last_error = net::error::address_in_use;
    throw boost::system::system_error(last_error,
                                      "cannot listen on " + cfg.host + ":" + std::to_string(cfg.port));
  }
  // decoder-first: without --metaserver-url the decoders call back on the port bound (--port 0: a free one).
  if (state_->signals && cfg.metaserver_url.empty()) {
    state_->signals->set_url(default_metaserver_url(cfg.host, acceptors_.front()->local_endpoint().port(),
                                                    /*tls=*/!cfg.tls_cert.empty()));
  }
}

server::~server() {
  shutdown(/*drain_requests=*/false, seconds_d{0});
}

tcp::endpoint server::local_endpoint() const {
  return acceptors_.front()->local_endpoint();
}

std::vector<tcp::endpoint> server::local_endpoints() const {
  std::vector<tcp::endpoint> out;
  for (const auto& a : acceptors_) out.push_back(a->local_endpoint());
  return out;
}

void server::start() {
  if (started_) return;
  started_ = true;
  const auto& cfg = state_->config;
  if (cfg.health_check_interval.count() > 0) {
    health_check_sources sources{state_->backends, state_->sched, state_->config,
                                 [&state = *state_] { return state.current_config(); }};
    checker_ = std::make_unique<health_checker>(std::move(sources), workers_.front()->io.get_executor());
    checker_->start();
  }
  if (cfg.metrics_scrape_interval.count() > 0) {
    metrics_scrape_sources sources{state_->backends, state_->sched, state_->engines, state_->config,
                                   [&state = *state_] { return state.current_config(); }};
    scraper_ = std::make_unique<metrics_scraper>(std::move(sources), workers_.front()->io.get_executor());
    scraper_->start();
  }
  // Run-time pools: a draining backend's per-worker state (idle connections, resolved addresses) goes with
  // its last request.
  prober_ =
      std::make_unique<pool_prober>(*state_, workers_.front()->io.get_executor(), [this](backend_id id) {
        for (auto& w : workers_) net::post(w->io, [&pool = w->pool, id] { pool.forget(id); });
      });
  prober_->start();
  if (!cfg.dns_targets.empty()) {
    if (resolver_ == nullptr) resolver_ = std::make_shared<asio_dns_resolver>();
    discovery_ = std::make_unique<dns_discovery>(*state_, workers_.front()->io.get_executor(),
                                                 cfg.dns_targets, cfg.dns_refresh_interval, resolver_);
    discovery_->start();
  }
  for (auto& w : workers_) {
    w->thread = std::thread([io = &w->io] { io->run(); });
  }
  if (checker_ != nullptr) {
    const seconds_d limit = cfg.health_check_timeout.count() > 0 ? cfg.health_check_timeout : seconds_d{5};
    if (!checker_->wait_first_round(limit)) {
      spdlog::warn(
          "some backends did not answer their first health check within {}s; they get no traffic "
          "until they do",
          limit.count());
    }
  }
  for (auto& acceptor : acceptors_) {
    net::co_spawn(workers_.front()->io, accept_loop(*acceptor), log_exception);
  }
}

net::awaitable<void> server::accept_loop(tcp::acceptor& acceptor) {
  co_await net::this_coro::throw_if_cancelled(false);
  while (acceptor.is_open()) {
    worker& target = *workers_[next_worker_];
    next_worker_ = (next_worker_ + 1) % workers_.size();
    auto [ec, socket] = co_await acceptor.async_accept(target.io, use_nothrow);
    if (ec) {
      if (!acceptor.is_open() || ec == net::error::operation_aborted) co_return;
      spdlog::warn("accept failed: {}", ec.message());
      co_await sleep_for(seconds_d{0.05});  // e.g. out of file descriptors: do not spin
      continue;
    }
    connection_slot slot(state_->client_connections);
    const bool refuse = slot.others() >= state_->config.max_connections;
    // Spawned from the target worker's thread, the only one that touches its task_group.
    net::post(target.io, [&target, &state = *state_, refuse, socket = std::move(socket),
                          slot = std::move(slot)]() mutable {
      if (refuse) {
        net::co_spawn(target.io, refuse_connection(std::move(socket), std::move(slot), state),
                      target.clients.adapt(log_exception));
      } else {
        net::co_spawn(
            target.io,
            serve_connection(std::move(socket), std::move(slot), state, target.pool, target.stoppable),
            target.clients.adapt(log_exception));
      }
    });
  }
}

bool server::wait_for_requests(std::chrono::steady_clock::time_point deadline) {
  // Polled: a notification on every request's end would cost the hot path for the sake of shutdown.
  while (state_->request_num.load() > 0 || state_->other_requests.load() > 0) {
    if (std::chrono::steady_clock::now() >= deadline || hurry_.load()) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

net::any_io_executor server::background_executor() {
  return workers_.front()->io.get_executor();
}

void server::stop(seconds_d drain) {
  shutdown(/*drain_requests=*/true, drain);
}

void server::shutdown(bool drain_requests, seconds_d drain) {
  if (stopped_) return;
  stopped_ = true;
  if (checker_ != nullptr) checker_->stop();
  if (scraper_ != nullptr) scraper_->stop();
  if (prober_ != nullptr) prober_->stop();
  if (discovery_ != nullptr) discovery_->stop();
  if (started_ && drain_requests) {
    state_->draining.store(true);
    state_->admission.close();  // queued requests get 503 now, and none is admitted during the drain
    close_acceptors();
    finish_requests(drain);
    end_connections();
  }
  for (auto& w : workers_) {
    w->guard.reset();
    w->io.stop();
  }
  for (auto& w : workers_) {
    if (w->thread.joinable()) w->thread.join();
  }
  acceptors_.clear();
  workers_.clear();  // destroys pending sessions (releasing their reservations) before the state goes
  checker_.reset();  // after the io_context that ran its checks
  scraper_.reset();  // likewise
  prober_.reset();
  discovery_.reset();
}

void server::close_acceptors() {
  std::promise<void> closed;
  net::post(workers_.front()->io, [this, &closed] {
    for (auto& acceptor : acceptors_) {
      error_code ignored;
      acceptor->close(ignored);
    }
    closed.set_value();
  });
  closed.get_future().wait();
}

void server::finish_requests(seconds_d drain) {
  const auto deadline = drain.count() <= 0 ? std::chrono::steady_clock::time_point::max()
                                           : std::chrono::steady_clock::now() + to_timer_duration(drain);
  if (wait_for_requests(deadline)) return;
  // Past the deadline: every request still in flight ends with "proxy shutting down" (an SSE error event for
  // a stream that started) within a short grace, then whatever is left is cut.
  spdlog::warn("drain: {} request(s) still in flight; ending them", state_->request_num.load());
  for (auto& w : workers_) {
    net::post(w->io, [&requests = w->stoppable] { requests.stop_all(); });
  }
  hurry_.store(false);
  wait_for_requests(std::chrono::steady_clock::now() + stop_grace);
}

void server::end_connections() {
  std::vector<std::future<std::size_t>> left;
  for (auto& w : workers_) {
    std::promise<std::size_t> done;
    left.push_back(done.get_future());
    net::co_spawn(w->io, cancel_connections(w->clients, cancel_grace),
                  [done = std::move(done)](std::exception_ptr e, std::size_t n) mutable {
                    if (e) {
                      done.set_exception(e);
                    } else {
                      done.set_value(n);
                    }
                  });
  }
  std::size_t remaining = 0;
  for (auto& f : left) remaining += f.get();
  if (remaining > 0) spdlog::warn("shutdown: {} client connection(s) did not end; cutting them", remaining);
}

void server::install_config(std::shared_ptr<const proxy_config> next) {
  state_->set_latest_config(next);
  std::vector<std::future<void>> installed;
  for (auto& w : workers_) {
    auto done = std::make_shared<std::promise<void>>();
    installed.push_back(done->get_future());
    net::post(w->io, [state = state_.get(), next, done] {
      state->install_config_on_this_thread(next);
      done->set_value();
    });
  }
  for (auto& f : installed) f.wait_for(std::chrono::seconds(5));
}

void server::hurry() {
  hurry_.store(true);
}

}  // namespace pd_proxy
