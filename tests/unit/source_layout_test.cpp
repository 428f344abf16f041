// Static checks of the source tree's dependencies that the compiler cannot see (issue 19, item 6 and 7): the
// route decisions live in core/http/routes alone, and net/observe does not depend back on proxy_state.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace pd_proxy {
namespace {

const std::filesystem::path source_dir{PD_PROXY_SOURCE_DIR};

// The C++ files below `folder` (relative to the source tree), with their text.
std::vector<std::pair<std::string, std::string>> files_below(const std::string& folder) {
  std::vector<std::pair<std::string, std::string>> out;
  const auto root = source_dir / folder;
  if (!std::filesystem::is_directory(root)) return out;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(root)) {
    const auto ext = entry.path().extension();
    if (!entry.is_regular_file() || (ext != ".cpp" && ext != ".hpp")) continue;
    std::ifstream in(entry.path());
    std::ostringstream text;
    text << in.rdbuf();
    out.emplace_back(std::filesystem::relative(entry.path(), source_dir).string(), text.str());
  }
  return out;
}

TEST(source_layout, net_observe_takes_narrow_dependencies_not_proxy_state) {
  std::size_t seen = 0;
  for (const std::string folder : {"include/pd_proxy/net/observe", "src/net/observe"}) {
    for (const auto& [name, text] : files_below(folder)) {
      ++seen;
      EXPECT_EQ(text.find("pd_proxy/net/proxy_state.hpp"), std::string::npos) << name;
      EXPECT_EQ(text.find("proxy_state&"), std::string::npos) << name;
    }
  }
  EXPECT_GT(seen, 0u);
}

// A route is chosen by core/http/routes' table: the I/O shell never compares a request path with a literal.
TEST(source_layout, the_proxy_routes_only_through_the_route_table) {
  std::size_t seen = 0;
  for (const auto& [name, text] : files_below("src/net")) {
    ++seen;
    EXPECT_EQ(text.find("path == \""), std::string::npos) << name;
    EXPECT_EQ(text.find("route_of(\""), std::string::npos) << name;
  }
  EXPECT_GT(seen, 0u);
}

}  // namespace
}  // namespace pd_proxy
