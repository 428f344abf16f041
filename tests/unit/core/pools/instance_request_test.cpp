#include "pd_proxy/core/pools/instance_request.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace pd_proxy {
namespace {

TEST(instance_address, host_port) {
  const auto a = parse_instance_address("10.0.0.1:9000");
  ASSERT_TRUE(a.ok()) << a.error;
  EXPECT_EQ(a.address, (backend_address{"10.0.0.1", 9000}));
  EXPECT_EQ(parse_instance_address("engine-0.vllm.svc:8001").address.host, "engine-0.vllm.svc");
}

TEST(instance_address, ipv6_in_brackets) {
  const auto a = parse_instance_address("[::1]:9000");
  ASSERT_TRUE(a.ok()) << a.error;
  EXPECT_EQ(a.address, (backend_address{"::1", 9000}));
  EXPECT_EQ(a.address.authority(), "[::1]:9000");
}

TEST(instance_address, refused) {
  for (const char* text :
       {"", "10.0.0.1", "10.0.0.1:", ":9000", "::1:9000", "[::1]", "[::1]9000", "[::1:9000", "h:0", "h:65536",
        "h:12345678", "h:-1", "h:+1", "h:8a", "[h]:1", "a b:1", "-x:1"}) {
    EXPECT_FALSE(parse_instance_address(text).ok()) << text;
  }
  EXPECT_NE(parse_instance_address("10.0.0.1").error.find("no port"), std::string::npos);
}

TEST(instances_request, list_and_single_string) {
  auto r = parse_instances_request(R"({"type":"decode","instances":["a:1","[::1]:2","a:1"]})");
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.role, backend_role::decode);
  ASSERT_EQ(r.instances.size(), 2u);  // the duplicate counts once
  EXPECT_EQ(r.instances[1], (backend_address{"::1", 2}));

  r = parse_instances_request(R"({"type":"prefill","instances":"h:8001"})");
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.role, backend_role::prefill);
  ASSERT_EQ(r.instances.size(), 1u);
  EXPECT_EQ(r.instances[0], (backend_address{"h", 8001}));
}

TEST(instances_request, refused) {
  for (const char* body :
       {"", "[]", "{", R"({"instances":["a:1"]})", R"({"type":"both","instances":["a:1"]})",
        R"({"type":1,"instances":["a:1"]})", R"({"type":"prefill"})", R"({"type":"prefill","instances":[]})",
        R"({"type":"prefill","instances":[1]})", R"({"type":"prefill","instances":{"a":1}})",
        R"({"type":"prefill","instances":["a"]})", R"({"type":"decode","instances":["a:1","::1:9000"]})"}) {
    const auto r = parse_instances_request(body);
    EXPECT_FALSE(r.ok()) << body;
    EXPECT_TRUE(r.instances.empty()) << body;
  }
  EXPECT_NE(parse_instances_request(R"({"type":"x","instances":"a:1"})").error.find("not supported"),
            std::string::npos);
}

TEST(instance_address, two_spellings_of_one_address_are_one_instance) {
  EXPECT_EQ(parse_instance_address("[::ffff:127.0.0.1]:9000").address, (backend_address{"127.0.0.1", 9000}));
  EXPECT_EQ(parse_instance_address("[0:0:0:0:0:0:0:1]:9000").address, (backend_address{"::1", 9000}));
  for (const char* text : {"127.1:9000", "2130706433:9000", "127.000.000.001:9000", "127.1.2:9000"}) {
    const auto a = parse_instance_address(text);
    EXPECT_FALSE(a.ok()) << text;
    EXPECT_NE(a.error.find("dotted-quad"), std::string::npos) << a.error;
  }
  const auto r = parse_instances_request(
      R"({"type":"decode","instances":["127.0.0.1:9000","[::ffff:127.0.0.1]:9000","[::1]:9000","[0::1]:9000"]})");
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.instances, (std::vector<backend_address>{{"127.0.0.1", 9000}, {"::1", 9000}}));
}

TEST(instances_request, a_member_written_twice_is_refused) {
  for (const char* body : {R"({"type":"prefill","type":"decode","instances":["127.0.0.1:1"]})",
                           R"({"type":"decode","instances":["127.0.0.1:1"],"instances":["127.0.0.1:2"]})",
                           R"({"type":"decode","t\u0079pe":"prefill","instances":["127.0.0.1:1"]})"}) {
    const auto r = parse_instances_request(body);
    EXPECT_FALSE(r.ok()) << body;
    EXPECT_NE(r.error.find("more than once"), std::string::npos) << r.error;
  }
}

TEST(instances_request, a_host_name_longer_than_253_characters_is_refused) {
  const std::string label(63, 'a');
  const std::string name = label + "." + label + "." + label + "." + label;  // 255 characters
  const auto r = parse_instances_request(R"({"type":"decode","instances":[")" + name + R"(:9000"]})");
  EXPECT_FALSE(r.ok());
  EXPECT_NE(r.error.find("253"), std::string::npos) << r.error;
}

TEST(instances_request, too_many) {
  nlohmann::json body = {{"type", "prefill"}, {"instances", nlohmann::json::array()}};
  for (std::size_t i = 0; i <= max_instances_per_request; ++i) body["instances"].push_back("h:1");
  EXPECT_FALSE(parse_instances_request(body.dump()).ok());
}

TEST(instances_answer, shape) {
  EXPECT_EQ(format_instance_list({"a:1", "[::1]:2"}), "['a:1', '[::1]:2']");
  const auto body = nlohmann::json::parse(instances_answer_body("m", {"a:1"}, {}));
  EXPECT_EQ(body["message"], "m");
  EXPECT_EQ(body["current_prefill_instances"], nlohmann::json::array({"a:1"}));
  EXPECT_EQ(body["current_decode_instances"], nlohmann::json::array());
}

}  // namespace
}  // namespace pd_proxy
