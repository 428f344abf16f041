// The sglang-bootstrap body: the client's bytes plus the three bootstrap members.
#include "pd_proxy/core/flow/bootstrap_body.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace pd_proxy {
namespace {

client_request request_of(std::string_view text) {
  return client_request::parse(std::string(text)).value();
}

std::size_t batch_of(std::string_view text) {
  return bootstrap_batch_size(request_of(text));
}

TEST(bootstrap_body, scalars_for_one_prompt) {
  EXPECT_EQ(batch_of(R"({"model":"m","prompt":"Hi"})"), 0u);
  EXPECT_EQ(batch_of(R"({"model":"m","prompt":[1,2,3]})"), 0u);  // token ids: one prompt
  EXPECT_EQ(batch_of(R"({"model":"m","prompt":[]})"), 0u);
  EXPECT_EQ(batch_of(R"({"model":"m","messages":[{"role":"user","content":"x"}],"n":1})"), 0u);
  EXPECT_EQ(batch_of(R"({"model":"m","prompt":"Hi","n":"3"})"), 0u);  // not an integer: the engine judges
  EXPECT_EQ(batch_of(R"({"model":"m","prompt":"Hi","n":100000000000})"), 0u);  // too many: scalars
}

TEST(bootstrap_body, arrays_for_a_batch) {
  EXPECT_EQ(batch_of(R"({"model":"m","prompt":["a","b , ]","c"]})"), 3u);
  EXPECT_EQ(batch_of(R"({"model":"m","prompt":[[1,2],[3]]})"), 2u);  // token-id lists
  EXPECT_EQ(batch_of(R"({"model":"m","prompt":"Hi","n":4})"), 4u);
  EXPECT_EQ(batch_of(R"({"model":"m","messages":[{"role":"user","content":"x"}],"n":2})"), 2u);
  EXPECT_EQ(batch_of(R"({"model":"m","prompt":["a","b"],"n":3})"),
            2u);  // the engine repeats the list n times
}

TEST(bootstrap_body, members_scalar_and_null_port) {
  EXPECT_EQ(bootstrap_members({"10.0.0.1", std::nullopt}, 0, 42),
            R"(,"bootstrap_host":"10.0.0.1","bootstrap_port":null,"bootstrap_room":42)");
  EXPECT_EQ(bootstrap_members({"::1", 8998}, 0, max_bootstrap_room),
            R"(,"bootstrap_host":"::1","bootstrap_port":8998,"bootstrap_room":9223372036854775807)");
  // A room is masked into [0, 2^63-1].
  EXPECT_EQ(bootstrap_members({"h", 1}, 0, ~std::uint64_t{0}),
            R"(,"bootstrap_host":"h","bootstrap_port":1,"bootstrap_room":9223372036854775807)");
}

TEST(bootstrap_body, members_arrays_have_distinct_rooms) {
  EXPECT_EQ(bootstrap_members({"h", 9000}, 3, max_bootstrap_room - 1),
            R"(,"bootstrap_host":["h","h","h"],"bootstrap_port":[9000,9000,9000],)"
            R"("bootstrap_room":[9223372036854775806,9223372036854775807,0])");
  EXPECT_EQ(bootstrap_members({"h", std::nullopt}, 2, 7),
            R"(,"bootstrap_host":["h","h"],"bootstrap_port":[null,null],"bootstrap_room":[7,8])");
}

TEST(bootstrap_body, splice_keeps_the_client_bytes_and_appends_the_members) {
  const auto r = request_of(R"({ "model" : "m",  "prompt":"Hi\u0021", "max_tokens":16,"stream":true })");
  const std::string members = bootstrap_members({"h", 1}, 0, 5);
  EXPECT_EQ(splice_bootstrap_body(r, members).str(),
            R"({"model" : "m",  "prompt":"Hi\u0021", "max_tokens":16,"stream":true,"bootstrap_host":"h",)"
            R"("bootstrap_port":1,"bootstrap_room":5})");
}

TEST(bootstrap_body, splice_replaces_the_clients_own_bootstrap_members) {
  const auto r = request_of(
      R"({"bootstrap_room":1,"model":"m","bootstrap_host":"evil","prompt":"x","bootstr\u0061p_port":2})");
  EXPECT_EQ(
      splice_bootstrap_body(r, R"(,"bootstrap_host":"h","bootstrap_port":null,"bootstrap_room":9)").str(),
      R"({"model":"m","prompt":"x","bootstrap_host":"h","bootstrap_port":null,"bootstrap_room":9})");
  const auto only = request_of(R"({"bootstrap_room":1})");
  EXPECT_EQ(splice_bootstrap_body(only, R"(,"bootstrap_room":9)").str(), R"({"bootstrap_room":9})");
  const auto empty = request_of(R"({})");
  EXPECT_EQ(splice_bootstrap_body(empty, R"(,"a":1)").str(), R"({"a":1})");
}

TEST(bootstrap_body, rooms_are_random_and_in_range) {
  std::set<std::uint64_t> seen;
  for (int i = 0; i < 64; ++i) {
    const auto room = random_bootstrap_room();
    EXPECT_LE(room, max_bootstrap_room);
    seen.insert(room);
  }
  EXPECT_GT(seen.size(), 60u);
}

}  // namespace
}  // namespace pd_proxy
