// A reload while requests run: new requests see the new settings, requests in flight are not disturbed, pool
// changes reach the hook. In process, so that TSan sees the install on the workers against the request path.
#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <thread>

#include "pd_proxy/net/service/config_reload.hpp"
#include "proxy_fixture.hpp"
#include "scripted_backend.hpp"

namespace pd_proxy::test {
namespace {

using namespace std::chrono_literals;

scripted_answer decode_answer(const http::request<http::string_body>&) {
  return scripted_answer{http_response(200, "application/json", R"({"choices":[{"text":"ok"}]})"), false};
}

scripted_answer prefill_answer(const http::request<http::string_body>&) {
  return scripted_answer{prefill_answer_bytes(), false};
}

cli_outcome parsed(const proxy_config& config) {
  return cli_outcome{config, 0, {}};
}

// A group of one backend of the test's own.
std::vector<backend_group> one(std::uint16_t port) {
  backend_group group;
  group.ports = {port};
  return {group};
}

TEST(proxy_reload, new_requests_use_the_reloaded_settings_while_requests_run) {
  scripted_backend prefiller(prefill_answer);
  scripted_backend decoder(decode_answer);
  cluster c(one(prefiller.port()), one(decoder.port()),
            [](proxy_config& config) { config.backend_api_key = "first"; });
  const proxy_config start = *c.state().latest_config();

  std::atomic<bool> stop{false};
  std::atomic<int> ok{0}, failed{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < 3; ++t) {
    clients.emplace_back([&] {
      for (int i = 0; i < 200 && !stop.load(); ++i) {
        request_spec spec;
        spec.body = R"({"prompt":"p","max_tokens":3})";
        (request(c.port(), spec).status == 200 ? ok : failed).fetch_add(1);
      }
    });
  }
  std::vector<pool_changes> hooked;
  for (int i = 0; i < 50; ++i) {
    proxy_config next = start;
    next.backend_api_key = "key-" + std::to_string(i);
    next.max_retries = 1 + i % 3;
    next.port = 1;  // ignored: needs a restart
    const auto result =
        reload_configuration(c.proxy(), parsed(next), [&](const pool_changes& p) { hooked.push_back(p); });
    EXPECT_TRUE(result.accepted);
  }
  stop = true;
  for (auto& t : clients) t.join();
  EXPECT_GT(ok.load(), 0);
  EXPECT_EQ(failed.load(), 0);
  EXPECT_TRUE(hooked.empty());  // the pools did not change

  const auto before = decoder.received().size();
  request_spec spec;
  spec.body = R"({"prompt":"p"})";
  ASSERT_EQ(request(c.port(), spec).status, 200);
  const auto received = decoder.received();
  ASSERT_EQ(received.size(), before + 1);
  EXPECT_EQ(received.back()["Authorization"], "Bearer key-49");
  EXPECT_EQ(prefiller.received().back()["Authorization"], "Bearer key-49");
  EXPECT_EQ(c.state().latest_config()->port, start.port);  // the running port stays
  EXPECT_TRUE(eventually([&] { return c.idle(); }));
}

TEST(proxy_reload, an_invalid_configuration_changes_nothing) {
  scripted_backend prefiller(prefill_answer);
  scripted_backend decoder(decode_answer);
  cluster c(one(prefiller.port()), one(decoder.port()),
            [](proxy_config& config) { config.backend_api_key = "kept"; });
  const auto result =
      reload_configuration(c.proxy(), cli_outcome{std::nullopt, 2, "error: --port: 'x' bad\n"},
                           [](const pool_changes&) { FAIL() << "no pool change expected"; });
  EXPECT_FALSE(result.accepted);
  EXPECT_NE(result.message.find("rejected, the running configuration stays: --port: 'x' bad"),
            std::string::npos);
  EXPECT_EQ(c.state().metrics.reloads_rejected.load(),
            1u);  // pd_proxy_config_reloads_total{result="rejected"}
  EXPECT_EQ(c.state().metrics.reloads_applied.load(), 0u);
  request_spec spec;
  spec.body = R"({"prompt":"p"})";
  ASSERT_EQ(request(c.port(), spec).status, 200);
  EXPECT_EQ(decoder.received().back()["Authorization"], "Bearer kept");
}

TEST(proxy_reload, pool_changes_go_to_the_hook_which_adds_after_a_probe_and_drains) {
  scripted_backend prefiller(prefill_answer);
  scripted_backend decoder(decode_answer);
  scripted_backend second_decoder(decode_answer);
  cluster c(one(prefiller.port()), one(decoder.port()));
  proxy_config next = *c.state().latest_config();
  next.decoders = {backend_address{"127.0.0.1", second_decoder.port()}};
  const auto result = reload_configuration(c.proxy(), parsed(next), add_and_drain_instances(c.proxy()));
  EXPECT_TRUE(result.accepted);
  // The added decoder is registered once it answered its probe, the removed one is gone from then on.
  const auto give_up = std::chrono::steady_clock::now() + 10s;
  std::vector<std::shared_ptr<backend>> decoders;
  while (std::chrono::steady_clock::now() < give_up) {
    decoders = c.state().backends.snapshot()->of(backend_role::decode);
    if (decoders.size() == 1 && decoders.front()->address().port == second_decoder.port()) break;
    std::this_thread::sleep_for(5ms);  // polling the registry, bounded above
  }
  ASSERT_EQ(decoders.size(), 1u);
  EXPECT_EQ(decoders.front()->address().port, second_decoder.port());
  request_spec spec;
  spec.body = R"({"prompt":"p"})";
  ASSERT_EQ(request(c.port(), spec).status, 200);
  // The added decoder got its probe (GET /health) and the completion; the removed one nothing.
  const auto received = second_decoder.received();
  ASSERT_EQ(received.size(), 2u);
  EXPECT_EQ(received.front().method(), http::verb::get);
  EXPECT_EQ(received.back().target(), "/v1/completions");
  EXPECT_TRUE(decoder.received().empty());
}

}  // namespace
}  // namespace pd_proxy::test
