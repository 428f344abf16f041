// pd-mock: command line -> engines -> wait for SIGTERM/SIGINT.
#include <spdlog/spdlog.h>

#include <cstdio>

#include "pd_proxy/mock/mock_engine.hpp"

int main(int argc, char** argv) {
  using namespace pd_proxy;
  auto outcome = mock::parse_mock_command_line(argc, argv);
  if (!outcome.options) {
    std::fputs(outcome.output.c_str(), outcome.exit_code == 0 ? stdout : stderr);
    return outcome.exit_code;
  }
  spdlog::set_level(spdlog::level::from_str(outcome.options->log_level));
  try {
    mock::mock_server server(*outcome.options);
    server.start();
    std::printf("pd-mock serving %zu engine(s) on %s ports %u..%u\n", server.size(),
                outcome.options->host.c_str(), server.port(0), server.port(server.size() - 1));
    std::fflush(stdout);
    net::io_context signals_io;
    net::signal_set signals(signals_io, SIGINT, SIGTERM);
    signals.async_wait([](const error_code&, int) {});
    signals_io.run();
    server.stop();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "pd-mock: %s\n", e.what());
    return 1;
  }
  return 0;
}
