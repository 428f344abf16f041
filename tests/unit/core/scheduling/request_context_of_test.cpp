// The scheduling inputs a request gives: model, size estimate, prefix and session keys.
#include "pd_proxy/core/scheduling/request_context_of.hpp"

#include <gtest/gtest.h>

#include <string>

#include "pd_proxy/core/flow/request_rewrite.hpp"

namespace pd_proxy {
namespace {

client_request parsed(std::string body) {
  auto request = client_request::parse(std::move(body));
  EXPECT_TRUE(request.has_value());
  return std::move(*request);
}

std::string chat(const std::string& messages) {
  return R"({"model":"m","messages":)" + messages + R"(,"stream":true})";
}

TEST(request_context_of, affinity_hash_is_the_same_in_every_build_and_never_zero) {
  // Pinned: replicas and restarts must agree on every key.
  EXPECT_EQ(affinity_hash("abc"), 0x0dd490490804b508ULL);
  EXPECT_EQ(affinity_hash(""), 0xf52a15e9a9b5e89bULL);
  EXPECT_NE(affinity_hash("abd"), affinity_hash("abc"));
}

TEST(request_context_of, model_size_and_keys_of_a_completion) {
  const auto request = parsed(R"({"model":"deepseek_r1","prompt":"hello world","max_tokens":4})");
  const request_context context = request_context_of(request);
  EXPECT_EQ(context.model, "deepseek_r1");
  EXPECT_EQ(context.estimated_prompt_tokens, request.size() / 4);
  EXPECT_EQ(context.prefix_key, affinity_hash(R"("hello world")"));
  EXPECT_EQ(context.session_key, 0u);
  EXPECT_TRUE(context.tried.empty());
}

TEST(request_context_of, a_request_without_a_prompt_has_no_prefix_key_and_a_session_header_gives_a_key) {
  const auto request = parsed(R"({"model":"m","max_tokens":4})");
  EXPECT_EQ(request_context_of(request).prefix_key, 0u);
  const request_context context = request_context_of(request, "conversation-42");
  EXPECT_EQ(context.session_key, affinity_hash("conversation-42"));
  EXPECT_NE(request_context_of(request, "conversation-43").session_key, context.session_key);
}

TEST(request_context_of, prompts_that_share_the_window_share_the_key_and_differ_after_it) {
  const std::string shared(2000, 'a');
  const auto one = parsed(R"({"prompt":")" + shared + R"(one"})");
  const auto two = parsed(R"({"prompt":")" + shared + R"(two"})");
  EXPECT_EQ(request_context_of(one).prefix_key, request_context_of(two).prefix_key);
  // A window longer than the shared part tells them apart.
  EXPECT_NE(request_context_of(one, {}, 4096).prefix_key, request_context_of(two, {}, 4096).prefix_key);
  EXPECT_NE(request_context_of(parsed(R"({"prompt":"b"})")).prefix_key,
            request_context_of(parsed(R"({"prompt":"c"})")).prefix_key);
}

TEST(request_context_of, the_turns_of_a_conversation_share_the_key_once_the_history_fills_the_window) {
  const std::string system = R"({"role":"system","content":")" + std::string(1100, 's') + R"("})";
  const auto turn1 = parsed(chat("[" + system + R"(,{"role":"user","content":"hi"}])"));
  const auto turn2 =
      parsed(chat("[" + system + R"(,{"role":"user","content":"hi"},)" +
                  R"({"role":"assistant","content":"hello"},{"role":"user","content":"more"}])"));
  EXPECT_EQ(request_context_of(turn1).prefix_key, request_context_of(turn2).prefix_key);
  // The roles are part of the history: the same words from another role are another prefix.
  const auto as_user = parsed(chat(R"([{"role":"user","content":"x"}])"));
  const auto as_system = parsed(chat(R"([{"role":"system","content":"x"}])"));
  EXPECT_NE(request_context_of(as_user).prefix_key, request_context_of(as_system).prefix_key);
}

}  // namespace
}  // namespace pd_proxy
