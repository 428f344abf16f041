#include "pd_proxy/mock/prefix_cache.hpp"

#include <gtest/gtest.h>

#include "pd_proxy/mock/openai_format.hpp"

namespace pd_proxy::mock {
namespace {

// 16 tokens of 4 characters per block, as pd-mock's defaults.
std::vector<block_hash> hashes_of(const json& request) {
  return prompt_block_hashes(render_prompt(request), 16, chars_per_token);
}

json completion(std::string prompt) {
  return json{{"prompt", std::move(prompt)}};
}

json chat(std::vector<std::pair<std::string, std::string>> messages) {
  json out{{"messages", json::array()}};
  for (auto& [role, content] : messages)
    out["messages"].push_back(json{{"role", role}, {"content", content}});
  return out;
}

TEST(prompt_block_hashes, only_full_blocks_chained_on_what_precedes_them) {
  EXPECT_EQ(hashes_of(completion(std::string(63, 'a'))).size(), 1u);  // 16 tokens: one full block
  EXPECT_TRUE(hashes_of(completion(std::string(60, 'a'))).empty());   // 15 tokens
  const auto a = hashes_of(completion(std::string(64, 'a') + std::string(64, 'b') + "tail"));
  ASSERT_EQ(a.size(), 2u);
  // The same second block after another first block hashes differently: a hit implies the whole prefix.
  const auto b = hashes_of(completion(std::string(64, 'x') + std::string(64, 'b')));
  ASSERT_EQ(b.size(), 2u);
  EXPECT_NE(a[0], b[0]);
  EXPECT_NE(a[1], b[1]);
  // A shared first block hashes the same whatever follows it.
  const auto c = hashes_of(completion(std::string(64, 'a') + std::string(64, 'c')));
  EXPECT_EQ(a[0], c[0]);
  EXPECT_NE(a[1], c[1]);
  EXPECT_EQ(hashes_of(completion(std::string(64, 'a'))), std::vector<block_hash>{a[0]});
}

TEST(prompt_block_hashes, chat_roles_and_message_boundaries_count) {
  const std::string text(64, 'q');
  const auto user = hashes_of(chat({{"user", text}}));
  ASSERT_EQ(user.size(), 1u);
  EXPECT_NE(user, hashes_of(chat({{"system", text}})));
  EXPECT_NE(user, hashes_of(chat({{"user", text.substr(0, 30)}, {"user", text.substr(30)}})));
  // The whole history in order: a next turn shares the blocks of the turns before it.
  const auto turn1 = hashes_of(chat({{"system", std::string(100, 's')}, {"user", std::string(100, 'u')}}));
  const auto turn2 = hashes_of(chat({{"system", std::string(100, 's')},
                                     {"user", std::string(100, 'u')},
                                     {"assistant", std::string(100, 'a')},
                                     {"user", "and then?"}}));
  ASSERT_EQ(turn1.size(), 3u);  // 200 characters: 50 tokens
  ASSERT_GE(turn2.size(), 3u);
  EXPECT_TRUE(std::equal(turn1.begin(), turn1.end(), turn2.begin()));
}

TEST(render_prompt, counts_what_the_token_estimate_counts) {
  const json requests[] = {
      completion("hello there"),
      completion(std::string(401, 'x')),
      json{{"prompt", json::array({"ab", "cde", json{{"text", "fgh"}}})}},
      json{{"prompt", json::array({1, 2, 3, 70000})}},
      chat({{"system", "be brief"}, {"user", "what is a KV cache?"}}),
      json{{"messages",
            json::array({json{{"role", "user"},
                              {"content", json::array({json{{"type", "text"}, {"text", "part one"}},
                                                       json{{"type", "image_url"}}})}},
                         json{{"role", "assistant"}}})}},
      json::object(),
  };
  for (const auto& request : requests) {
    const auto rendered = render_prompt(request);
    const auto tokens = (rendered.text.size() + chars_per_token - 1) / chars_per_token;
    EXPECT_EQ(estimate_prompt_tokens(request), static_cast<int>(std::max<std::size_t>(1, tokens)))
        << request.dump();
  }
  const auto ids = render_prompt(json{{"prompt", json::array({1, 2})}});
  EXPECT_EQ(ids.text, std::string("\x01\0\0\0\x02\0\0\0", 8));
  const auto messages = render_prompt(chat({{"system", "ab"}, {"user", "cd"}}));
  EXPECT_EQ(messages.text, "abcd");
  ASSERT_EQ(messages.parts.size(), 2u);
  EXPECT_EQ(messages.parts[1].offset, 2u);
  EXPECT_EQ(messages.parts[1].label, "user");
}

TEST(prefix_cache, lookup_counts_the_leading_run_and_keeps_one_token_to_compute) {
  prefix_cache cache(16, 16);
  const std::vector<block_hash> prompt{1, 2, 3, 4};
  EXPECT_EQ(cache.lookup(prompt, 70), 0);
  cache.insert(prompt);
  EXPECT_EQ(cache.size(), 4u);
  EXPECT_EQ(cache.lookup(prompt, 70), 64);  // 4 full blocks of a 70-token prompt
  EXPECT_EQ(cache.lookup(prompt, 64), 48);  // a prompt of exactly 4 blocks computes its last block
  EXPECT_EQ(cache.lookup(std::vector<block_hash>{1, 2, 9, 4}, 70), 32);  // stops at the first miss
  EXPECT_EQ(cache.lookup(std::vector<block_hash>{9, 2, 3}, 70), 0);
  EXPECT_EQ(cache.lookup(prompt, 1), 0);
  cache.clear();
  EXPECT_EQ(cache.size(), 0u);
  EXPECT_EQ(cache.lookup(prompt, 70), 0);
}

TEST(prefix_cache, evicts_the_least_recent_blocks_tail_first) {
  prefix_cache cache(4, 16);
  cache.insert(std::vector<block_hash>{1, 2, 3});  // recency: 1 2 3
  cache.insert(std::vector<block_hash>{7, 8});     // 7 8 1 2 3 -> 3 evicted
  EXPECT_FALSE(cache.contains(3));
  EXPECT_EQ(cache.size(), 4u);
  EXPECT_EQ(cache.lookup(std::vector<block_hash>{1, 2, 3}, 100), 32);
  cache.insert(std::vector<block_hash>{1, 2});  // refreshed: 1 2 7 8
  cache.insert(std::vector<block_hash>{5});     // 5 1 2 7 -> 8 evicted
  EXPECT_TRUE(cache.contains(1));
  EXPECT_TRUE(cache.contains(7));
  EXPECT_FALSE(cache.contains(8));
  // A prompt longer than the cache keeps its head.
  cache.insert(std::vector<block_hash>{10, 11, 12, 13, 14, 15});
  EXPECT_EQ(cache.size(), 4u);
  EXPECT_EQ(cache.lookup(std::vector<block_hash>{10, 11, 12, 13, 14, 15}, 1000), 64);
}

TEST(prefix_cache, capacity_zero_is_off) {
  prefix_cache cache(0, 16);
  EXPECT_FALSE(cache.enabled());
  cache.insert(std::vector<block_hash>{1, 2});
  EXPECT_EQ(cache.size(), 0u);
  EXPECT_EQ(cache.lookup(std::vector<block_hash>{1, 2}, 100), 0);
}

}  // namespace
}  // namespace pd_proxy::mock
