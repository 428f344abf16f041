// pd-proxy: command line -> configuration -> logging -> server -> signals (SIGHUP reloads, SIGTERM/SIGINT
// drain) -> drain; systemd is told READY/RELOADING/STOPPING/WATCHDOG on $NOTIFY_SOCKET.
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string_view>
#include <thread>

#include "pd_proxy/core/config/cli.hpp"
#include "pd_proxy/core/service/sd_notify.hpp"
#include "pd_proxy/net/client/server.hpp"
#include "pd_proxy/net/logging.hpp"
#include "pd_proxy/net/service/config_reload.hpp"
#include "pd_proxy/net/service/startup_check.hpp"
#include "pd_proxy/net/service/systemd_notifier.hpp"

namespace {

// Every client stream holds a client and a backend socket: raise the soft descriptor limit to the hard one.
void raise_open_file_limit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &limit);
  }
}

// glibc returns freed memory at the top of a heap to the kernel as soon as more than 128 KiB is free there,
// and a proxy's requests free and reallocate about that much all the time: the trimming and the page faults
// after it cost ~17% of the proxy's CPU (docs/performance.md). Keep up to 16 MiB per arena instead, unless
// the operator chose a threshold with GLIBC_TUNABLES.
void keep_freed_memory() {
  const char* tunables = std::getenv("GLIBC_TUNABLES");
  if (tunables != nullptr &&
      std::string_view(tunables).find("malloc.trim_threshold") != std::string_view::npos)
    return;
  ::mallopt(M_TRIM_THRESHOLD, 16 * 1024 * 1024);
}

// SIGTERM, SIGINT and SIGHUP wait (blocked, pending) until the signal_set that handles them exists, so that
// none takes its default, fatal action in the first milliseconds of the process.
void hold_signals(int how) {
  sigset_t set;
  sigemptyset(&set);
  for (const int signal : {SIGTERM, SIGINT, SIGHUP}) sigaddset(&set, signal);
  sigaddset(&set, SIGUSR1);  // reopens the access log file
  ::pthread_sigmask(how, &set, nullptr);
}

// WATCHDOG=1 every `interval` on `timer`'s executor, until the timer is cancelled or destroyed.
void keep_watchdog_fed(pd_proxy::net::steady_timer& timer, const pd_proxy::systemd_notifier& notifier,
                       std::chrono::microseconds interval) {
  timer.expires_after(interval);
  timer.async_wait([&timer, &notifier, interval](const pd_proxy::error_code& ec) {
    if (ec) return;
    notifier.send(pd_proxy::notify_watchdog());
    keep_watchdog_fed(timer, notifier, interval);
  });
}

}  // namespace

int main(int argc, char** argv) {
  using namespace pd_proxy;
  hold_signals(SIG_BLOCK);
  auto outcome = parse_command_line(argc, argv, process_env());
  if (!outcome.config) {
    std::fputs(outcome.output.c_str(), outcome.exit_code == 0 ? stdout : stderr);
    return outcome.exit_code;
  }
  const proxy_config& config = *outcome.config;
  // Everything start-up does short of binding, so that --check-config (ExecStartPre) accepts only what
  // starts: an invalid TLS pair, an access log that cannot be opened or a host that does not resolve is a
  // configuration error (exit 2) in both.
  if (const auto error = check_startup(config); !error.empty()) {
    std::fprintf(stderr, "error: %s\n", error.c_str());
    return 2;
  }
  if (outcome.check_config) {
    std::puts("configuration OK");
    return 0;
  }
  // Asynchronous: an I/O thread never waits for a log write (a full queue drops its oldest line, counted).
  setup_logging({.level = config.log_level, .format = config.log_format});

  raise_open_file_limit();
  keep_freed_memory();
  try {
    // Signals are caught before the listener opens, so that none can hit the default (fatal) action.
    net::io_context signals_io;
    net::signal_set signals(signals_io, SIGINT, SIGTERM, SIGHUP);
    signals.add(SIGUSR1);
    hold_signals(SIG_UNBLOCK);  // before any worker thread exists: they inherit this mask
    server proxy(config);
    proxy.state().metrics.log_dropped = [] { return dropped_log_messages(); };  // before the workers start
    proxy.start();
    const auto env = process_env();
    const systemd_notifier notifier(env("NOTIFY_SOCKET"));
    notifier.send(notify_ready());
    net::steady_timer watchdog(signals_io);
    const auto watchdog_every = watchdog_interval(env("WATCHDOG_USEC"), env("WATCHDOG_PID"), ::getpid());
    if (notifier.active() && watchdog_every) keep_watchdog_fed(watchdog, notifier, *watchdog_every);
    const pool_change_hook pool_hook = add_and_drain_instances(proxy);  // as /instances/add, /remove
    for (const auto& endpoint : proxy.local_endpoints()) {
      spdlog::info("pd-proxy listening on {}:{} with {} prefiller(s), {} decoder(s), {} worker(s)",
                   endpoint.address().to_string(), endpoint.port(), config.prefillers.size(),
                   config.decoders.size(), config.workers);
    }
    // The first SIGTERM/SIGINT drains (in its own thread, so signals are still handled); a second one ends
    // the drain at once. SIGHUP parses the same command line again, with the environment and the --config
    // file as they are now, and applies what may change at run time (docs/operations.md).
    std::thread drain;
    std::function<void(const error_code&, int)> on_signal = [&](const error_code& ec, int signal) {
      if (ec) return;
      if (signal == SIGUSR1) {
        proxy.state().access->reopen();  // logrotate renamed the access log file
      } else if (signal == SIGHUP && drain.joinable()) {
        spdlog::info("SIGHUP ignored: draining");
      } else if (signal == SIGHUP) {
        notifier.send(notify_reloading(monotonic_usec_now()));
        const auto reparsed = parse_command_line(argc, argv, process_env());
        const auto result = reload_configuration(proxy, reparsed, pool_hook);
        notifier.send(notify_status(result.message));
        notifier.send(notify_ready());
      } else if (!drain.joinable()) {
        const seconds_d drain_timeout = proxy.state().latest_config()->shutdown_timeout;
        notifier.send(notify_stopping());
        watchdog.cancel();  // systemd stops watching a stopping service after TimeoutStopSec anyway
        spdlog::info("signal {}: draining for up to {}", signal,
                     drain_timeout.count() > 0 ? fmt::format("{}s", drain_timeout.count())
                                               : std::string("ever (no limit)"));
        drain = std::thread([&, drain_timeout] {
          proxy.stop(drain_timeout);
          signals_io.stop();
        });
      } else {
        spdlog::info("signal {} during the drain: stopping now", signal);
        proxy.hurry();
      }
      signals.async_wait(on_signal);
    };
    signals.async_wait(on_signal);
    signals_io.run();
    if (drain.joinable()) drain.join();
    spdlog::info("pd-proxy stopped");
  } catch (const std::exception& e) {
    spdlog::critical("{}", e.what());
    shutdown_logging();
    return 1;
  }
  shutdown_logging();
  return 0;
}
