// A test's check that a backend holds no load: every reservation on it was released.
#pragma once

#include <gtest/gtest.h>

#include "pd_proxy/core/scheduling/scheduler.hpp"

namespace pd_proxy {

inline void expect_no_load(const scheduler& sched, const backend& b) {
  const auto load = sched.load(b);
  EXPECT_EQ(load.active_tokens, 0.0) << b.authority();
  EXPECT_EQ(load.active_kv, 0.0) << b.authority();
  EXPECT_EQ(load.inflight, 0u) << b.authority();
}

}  // namespace pd_proxy
