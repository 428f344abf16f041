// pd-bench(1): its prose; the options come from pd-bench's flag table (core/config/man_page.hpp).
#pragma once

#include "pd_proxy/core/config/man_page.hpp"

namespace pd_proxy::bench {

/// The prose of pd-bench(1).
man_page bench_man_page();

}  // namespace pd_proxy::bench
