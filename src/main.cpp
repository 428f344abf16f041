// pd-proxy: command line -> configuration -> logging -> server -> wait for SIGTERM/SIGINT -> drain.
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string_view>
#include <thread>

#include "pd_proxy/core/config/cli.hpp"
#include "pd_proxy/net/client/server.hpp"

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
  spdlog::set_level(spdlog::level::from_str(config.log_level == "warn" ? "warning" : config.log_level));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");

  raise_open_file_limit();
  keep_freed_memory();
  try {
    // Signals are caught before the listener opens, so that none can hit the default (fatal) action.
    net::io_context signals_io;
    net::signal_set signals(signals_io, SIGINT, SIGTERM, SIGHUP);
    signals.add(SIGUSR1);
    hold_signals(SIG_UNBLOCK);  // before any worker thread exists: they inherit this mask
    server proxy(config);
    proxy.start();
    for (const auto& endpoint : proxy.local_endpoints()) {
      spdlog::info("pd-proxy listening on {}:{} with {} prefiller(s), {} decoder(s), {} worker(s)",
                   endpoint.address().to_string(), endpoint.port(), config.prefillers.size(),
                   config.decoders.size(), config.workers);
    }
    // The first SIGTERM/SIGINT drains (in its own thread, so signals are still handled); a second one ends
    // the drain at once. SIGHUP is logged and ignored until configuration reload gives it a meaning.
    std::thread drain;
    std::function<void(const error_code&, int)> on_signal = [&](const error_code& ec, int signal) {
      if (ec) return;
      if (signal == SIGUSR1) {
        proxy.state().access->reopen();  // logrotate renamed the access log file
      } else if (signal == SIGHUP) {
        spdlog::info("SIGHUP ignored: configuration reload is not supported yet");
      } else if (!drain.joinable()) {
        spdlog::info("signal {}: draining for up to {}", signal,
                     config.shutdown_timeout.count() > 0 ? fmt::format("{}s", config.shutdown_timeout.count())
                                                         : std::string("ever (no limit)"));
        drain = std::thread([&] {
          proxy.stop(config.shutdown_timeout);
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
    return 1;
  }
  return 0;
}
