#include "proxy_fixture.hpp"

#include <spdlog/spdlog.h>

namespace pd_proxy::test {

mock::mock_options fast_engines(int count) {
  mock::mock_options o;
  o.port = 0;
  o.ports_count = count;
  o.timing = mock::no_delay();
  o.created = 1700000000;
  return o;
}

namespace {

std::vector<backend_address> start_group(const std::vector<backend_group>& groups,
                                         std::vector<std::unique_ptr<mock::mock_server>>& servers) {
  std::vector<backend_address> out;
  for (const auto& group : groups) {
    if (!group.ports.empty()) {
      for (const auto port : group.ports) out.push_back({"127.0.0.1", port});
      continue;
    }
    if (group.refused > 0) {
      for (int i = 0; i < group.refused; ++i) out.push_back({"127.0.0.1", refused_port()});
      continue;
    }
    auto options = group.options;
    options.port = 0;
    auto server = std::make_unique<mock::mock_server>(options);
    server->start();
    for (std::size_t i = 0; i < server->size(); ++i) out.push_back({"127.0.0.1", server->port(i)});
    servers.push_back(std::move(server));
  }
  return out;
}

}  // namespace

cluster::cluster(std::vector<backend_group> prefill, std::vector<backend_group> decode,
                 const std::function<void(proxy_config&)>& tune,
                 const std::function<void(server&)>& prepare) {
  // spdlog creates its registry on first use; libspdlog is not instrumented, so TSan cannot see that
  // initialisation's guard when two worker threads log first at once. Create it here, before any thread.
  spdlog::default_logger_raw();
  proxy_config config;
  config.host = "127.0.0.1";
  config.port = 0;
  config.workers = 2;
  config.log_level = "off";
  config.access_log = "off";
  // Health checks and circuit breakers off unless a test turns them on: most tests script failures on
  // purpose and count where each request went.
  config.health_check_interval = seconds_d{0};
  config.cb_failure_threshold = 0;
  // No engine load from /metrics either: the engines would see requests the tests do not count.
  config.metrics_scrape_interval = seconds_d{0};
  config.prefillers = start_group(prefill, prefill_);
  config.decoders = start_group(decode, decode_);
  if (tune) tune(config);
  proxy_ = std::make_unique<server>(config);
  if (prepare) prepare(*proxy_);
  proxy_->start();
}

cluster::~cluster() {
  proxy_.reset();
  prefill_.clear();
  decode_.clear();
}

std::vector<mock::mock_server*> cluster::live(
    const std::vector<std::unique_ptr<mock::mock_server>>& servers) {
  std::vector<mock::mock_server*> out;
  for (const auto& s : servers) out.push_back(s.get());
  return out;
}

std::uint64_t cluster::total(bool prefill, std::atomic<std::uint64_t> mock::engine_stats::*counter) const {
  std::uint64_t sum = 0;
  for (const auto& s : prefill ? prefill_ : decode_) {
    for (std::size_t i = 0; i < s->size(); ++i) sum += (s->stats(i).*counter).load();
  }
  return sum;
}

bool cluster::idle() const {
  auto& state = proxy_->state();
  if (state.request_num.load() != 0) return false;
  const auto backends = state.backends.snapshot();
  for (auto role : {backend_role::prefill, backend_role::decode}) {
    for (const auto& b : backends->of(role)) {
      const auto load = state.sched.load(*b);
      if (load.active_tokens != 0 || load.active_kv != 0 || load.inflight != 0) return false;
    }
  }
  return true;
}

}  // namespace pd_proxy::test
