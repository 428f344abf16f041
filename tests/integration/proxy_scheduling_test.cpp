// The selection policies through the real proxy against pd-mock engines on loopback.
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "proxy_fixture.hpp"

namespace pd_proxy::test {
namespace {

request_spec completion(const std::string& prompt, const std::string& header = {},
                        const std::string& value = {}) {
  request_spec spec;
  spec.target = "/v1/completions";
  spec.body = R"({"model":"mock-model","prompt":")" + prompt + R"(","max_tokens":2})";
  if (!header.empty()) spec.headers.push_back({header, value});
  return spec;
}

// The prefillers (engine indexes of the one prefill group) whose recorded requests contain `marker`.
std::set<std::size_t> prefillers_that_saw(cluster& c, int engines, const std::string& marker) {
  std::set<std::size_t> out;
  for (int i = 0; i < engines; ++i)
    for (const auto& r : c.prefill_servers()[0]->recorded(static_cast<std::size_t>(i)))
      if (r.body.find(marker) != std::string::npos) out.insert(static_cast<std::size_t>(i));
  return out;
}

TEST(proxy_scheduling, prefix_affinity_sends_a_shared_prompt_prefix_to_one_prefiller) {
  cluster c({{fast_engines(4)}}, {{fast_engines(2)}},
            [](proxy_config& config) { config.prefill_policy = "prefix-affinity"; });
  // Three system prompts longer than the 1,024-byte key window, each followed by different questions.
  for (int round = 0; round < 4; ++round)
    for (int prompt = 0; prompt < 3; ++prompt) {
      const std::string system(1100, static_cast<char>('a' + prompt));
      const auto reply = request(c.port(), completion(system + " question " + std::to_string(round)));
      ASSERT_EQ(reply.status, 200) << reply.body;
    }
  for (int prompt = 0; prompt < 3; ++prompt)
    EXPECT_EQ(prefillers_that_saw(c, 4, std::string(1100, static_cast<char>('a' + prompt))).size(), 1u);
  EXPECT_TRUE(eventually([&] { return c.idle(); }));
}

TEST(proxy_scheduling, session_affinity_follows_the_configured_header) {
  cluster c({{fast_engines(4)}}, {{fast_engines(2)}}, [](proxy_config& config) {
    config.prefill_policy = "session-affinity";
    config.session_header = "X-Conversation";
  });
  for (int turn = 0; turn < 6; ++turn)
    for (int session = 0; session < 3; ++session) {
      const std::string marker = "session" + std::to_string(session) + "turn" + std::to_string(turn);
      ASSERT_EQ(
          request(c.port(), completion(marker, "X-Conversation", "conversation-" + std::to_string(session)))
              .status,
          200);
    }
  for (int session = 0; session < 3; ++session) {
    std::set<std::size_t> engines;
    for (int turn = 0; turn < 6; ++turn) {
      const auto saw =
          prefillers_that_saw(c, 4, "session" + std::to_string(session) + "turn" + std::to_string(turn));
      engines.insert(saw.begin(), saw.end());
    }
    EXPECT_EQ(engines.size(), 1u) << "session " << session;
  }
}

TEST(proxy_scheduling, round_robin_decoders_visit_every_instance_in_turn) {
  cluster c({{fast_engines(1)}}, {{fast_engines(3)}},
            [](proxy_config& config) { config.decode_policy = "round-robin"; });
  for (int i = 0; i < 9; ++i) ASSERT_EQ(request(c.port(), completion("x" + std::to_string(i))).status, 200);
  for (std::size_t i = 0; i < 3; ++i) EXPECT_EQ(c.decode_servers()[0]->stats(i).decode_requests.load(), 3u);
}

}  // namespace
}  // namespace pd_proxy::test
