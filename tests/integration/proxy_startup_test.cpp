// Start-up and recovery without a window of 503s: engines that come up a moment after the proxy are found
// within a moment (the back-off of checks on a backend never healthy), and a reload that replaces every
// decoder keeps the old ones routable until the new ones answer.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "pd_proxy/net/service/config_reload.hpp"
#include "proxy_fixture.hpp"

namespace pd_proxy::test {
namespace {

using namespace std::chrono_literals;

request_spec completion() {
  request_spec spec;
  spec.body = R"({"model":"m","prompt":"hello","max_tokens":4})";
  spec.timeout = 10s;
  return spec;
}

// A pd-mock engine on `port` (a free port nothing listens on yet), started now.
std::unique_ptr<mock::mock_server> engine_on(std::uint16_t port) {
  mock::mock_options options = fast_engines(1);
  options.port = port;
  auto engine = std::make_unique<mock::mock_server>(options);
  engine->start();
  return engine;
}

TEST(proxy_startup, engines_started_half_a_second_after_the_proxy_serve_a_request_sent_a_second_later) {
  const std::uint16_t prefill_port = refused_port();
  const std::uint16_t decode_port = refused_port();
  cluster c({{{}, 0, {prefill_port}}}, {{{}, 0, {decode_port}}}, [](proxy_config& config) {
    config.health_check_interval = seconds_d{5};  // the defaults: a whole interval would be 5 s of 503s
    config.health_check_timeout = seconds_d{2};
  });
  // The scenario's own timing (systemd or compose start the engines just after the proxy), not a wait.
  std::this_thread::sleep_for(500ms);
  const auto prefiller = engine_on(prefill_port);
  const auto decoder = engine_on(decode_port);
  std::this_thread::sleep_for(1s);
  const auto reply = request(c.port(), completion());
  EXPECT_EQ(reply.status, 200) << reply.body;
  EXPECT_EQ(decoder->stats(0).requests.load(), 1u);
}

TEST(proxy_reload_replace, a_reload_that_replaces_every_decoder_answers_no_503_meanwhile) {
  const std::uint16_t new_port = refused_port();  // the new decoder comes up only after the reload
  cluster c({{fast_engines(1)}}, {{fast_engines(2)}}, [](proxy_config& config) {
    config.waiting_retry_interval = seconds_d{0.05};
    config.max_waiting_retries = 400;  // 20 s: the test's bound, not the probe's, ends the wait
  });
  proxy_config next = *c.state().latest_config();
  next.decoders = {backend_address{"127.0.0.1", new_port}};

  std::atomic<bool> stop{false};
  std::atomic<int> ok{0}, failed{0};
  std::atomic<int> last_failure{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < 2; ++t) {
    clients.emplace_back([&] {
      const auto give_up = std::chrono::steady_clock::now() + 20s;
      for (int i = 0; i < 5000 && !stop.load() && std::chrono::steady_clock::now() < give_up; ++i) {
        const auto reply = request(c.port(), completion());
        if (reply.status == 200) {
          ok.fetch_add(1);
        } else {
          failed.fetch_add(1);
          last_failure.store(reply.status);
        }
      }
    });
  }
  ASSERT_TRUE(eventually([&] { return ok.load() >= 20; }));
  ASSERT_TRUE(
      reload_configuration(c.proxy(), cli_outcome{next, 0, {}}, add_and_drain_instances(c.proxy())).accepted);
  // Requests keep coming while the new decoder does not answer its probes yet.
  const int at_reload = ok.load() + failed.load();
  ASSERT_TRUE(eventually([&] { return ok.load() + failed.load() >= at_reload + 50; }));
  EXPECT_EQ(c.state().pools.waiting(), 1u);
  const auto engine = engine_on(new_port);
  // The new pool is active once the old decoders are retired: only the new one is registered.
  ASSERT_TRUE(eventually([&] {
    const auto decoders = c.state().backends.snapshot()->of(backend_role::decode);
    return decoders.size() == 1 && decoders.front()->address().port == new_port;
  }));
  const int at_switch = ok.load() + failed.load();
  ASSERT_TRUE(eventually([&] { return ok.load() + failed.load() >= at_switch + 20; }));
  stop = true;
  for (auto& t : clients) t.join();
  EXPECT_EQ(failed.load(), 0) << "last status " << last_failure.load();
  EXPECT_GT(engine->stats(0).requests.load(), 0u);
  EXPECT_TRUE(eventually([&] { return c.idle(); }));
}

}  // namespace
}  // namespace pd_proxy::test
