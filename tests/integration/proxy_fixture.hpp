// An in-process PD cluster on loopback: pd-mock prefill and decode engines and the proxy, all on port 0.
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "pd_proxy/mock/mock_engine.hpp"
#include "pd_proxy/net/client/server.hpp"
#include "test_client.hpp"

namespace pd_proxy::test {

/// A group of backends: live pd-mock engines, ports that refuse connections, or ports of the test's own.
struct backend_group {
  mock::mock_options options;  // ports_count engines; port is forced to 0
  int refused = 0;             // when > 0, this many dead ports instead of engines
  std::vector<std::uint16_t> ports =
      {};  // when not empty, these 127.0.0.1 ports (e.g. scripted backends) instead
};

mock::mock_options fast_engines(int count);

class cluster {
 public:
  /// Starts every group and the proxy; `tune` edits the proxy config before it starts, `prepare` the
  /// server (e.g. its DNS resolver) before it starts.
  cluster(std::vector<backend_group> prefill, std::vector<backend_group> decode,
          const std::function<void(proxy_config&)>& tune = {},
          const std::function<void(server&)>& prepare = {});
  ~cluster();

  std::uint16_t port() const { return proxy_->local_endpoint().port(); }
  server& proxy() { return *proxy_; }
  proxy_state& state() { return proxy_->state(); }

  /// The live engines of each role, group by group.
  std::vector<mock::mock_server*> prefill_servers() const { return live(prefill_); }
  std::vector<mock::mock_server*> decode_servers() const { return live(decode_); }

  /// Sum of a counter over every engine of a role.
  std::uint64_t total(bool prefill, std::atomic<std::uint64_t> mock::engine_stats::*counter) const;

  /// True when the scheduler holds no load and no request is in flight.
  bool idle() const;

 private:
  static std::vector<mock::mock_server*> live(const std::vector<std::unique_ptr<mock::mock_server>>& servers);

  std::vector<std::unique_ptr<mock::mock_server>> prefill_;
  std::vector<std::unique_ptr<mock::mock_server>> decode_;
  std::unique_ptr<server> proxy_;
};

}  // namespace pd_proxy::test
