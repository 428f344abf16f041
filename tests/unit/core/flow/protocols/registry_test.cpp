#include "pd_proxy/core/flow/protocols/registry.hpp"

#include <gtest/gtest.h>

#include <string>

#include "pd_proxy/core/flow/protocols/two_stage.hpp"
#include "pd_proxy/core/flow/request_rewrite.hpp"

namespace pd_proxy {
namespace {

TEST(pd_protocol_registry, two_stage_is_registered_and_the_default) {
  ASSERT_FALSE(pd_protocols().empty());
  EXPECT_EQ(pd_protocols().front().name, "two-stage");
  const pd_protocol* protocol = find_pd_protocol("two-stage");
  ASSERT_NE(protocol, nullptr);
  EXPECT_EQ(protocol->name, "two-stage");

  const auto request = client_request::parse(R"({"prompt":"p"})").value();
  const auto machine = protocol->make(flow_settings{}, request, "r");
  ASSERT_NE(machine, nullptr);
  EXPECT_NE(dynamic_cast<const two_stage*>(machine.get()), nullptr);
  EXPECT_EQ(machine->resume({.what = flow_event::kind::start}).what, flow_action::kind::check_role);
}

TEST(pd_protocol_registry, an_unknown_name_finds_nothing) {
  EXPECT_EQ(find_pd_protocol("foo"), nullptr);
  EXPECT_EQ(find_pd_protocol(""), nullptr);
  EXPECT_EQ(find_pd_protocol("Two-Stage"), nullptr);  // names are exact
  EXPECT_EQ(find_pd_protocol("two_stage"), nullptr);
}

}  // namespace
}  // namespace pd_proxy
