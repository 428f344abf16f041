#include "pd_proxy/core/service/sd_notify.hpp"

#include <gtest/gtest.h>

namespace pd_proxy {
namespace {

using namespace std::chrono_literals;

TEST(sd_notify, messages) {
  EXPECT_EQ(notify_ready(), "READY=1");
  EXPECT_EQ(notify_reloading(123456789), "RELOADING=1\nMONOTONIC_USEC=123456789");
  EXPECT_EQ(notify_stopping(), "STOPPING=1");
  EXPECT_EQ(notify_watchdog(), "WATCHDOG=1");
  EXPECT_EQ(notify_status("reload\nrejected"), "STATUS=reload rejected");
}

TEST(sd_notify, socket_address) {
  EXPECT_EQ(notify_socket_address("/run/systemd/notify"), "/run/systemd/notify");
  EXPECT_EQ(notify_socket_address("@pd-proxy/notify"), std::string("\0pd-proxy/notify", 16));
  EXPECT_FALSE(notify_socket_address(std::nullopt));
  EXPECT_FALSE(notify_socket_address(""));
  EXPECT_FALSE(notify_socket_address("@"));
  EXPECT_FALSE(notify_socket_address("relative/path"));
  EXPECT_FALSE(notify_socket_address("/" + std::string(107, 'a')));  // no room for the NUL
  EXPECT_TRUE(notify_socket_address("/" + std::string(106, 'a')));
  EXPECT_TRUE(notify_socket_address("@" + std::string(107, 'a')));
  EXPECT_FALSE(notify_socket_address("@" + std::string(108, 'a')));
}

TEST(sd_notify, watchdog_interval_is_half_of_watchdog_usec_for_this_process) {
  EXPECT_EQ(watchdog_interval("30000000", std::nullopt, 42), 15s);
  EXPECT_EQ(watchdog_interval("30000000", "42", 42), 15s);
  EXPECT_FALSE(watchdog_interval("30000000", "43", 42));  // meant for another process
  EXPECT_FALSE(watchdog_interval(std::nullopt, "42", 42));
  EXPECT_FALSE(watchdog_interval("0", std::nullopt, 42));
  EXPECT_FALSE(watchdog_interval("-5", std::nullopt, 42));
  EXPECT_FALSE(watchdog_interval("10s", std::nullopt, 42));
  EXPECT_FALSE(watchdog_interval("99999999999999999999999", std::nullopt, 42));
  EXPECT_EQ(watchdog_interval("1", std::nullopt, 42), 1us);
}

}  // namespace
}  // namespace pd_proxy
