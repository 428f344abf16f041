// docs/configuration.md documents every flag of the CLI: the flags are read from --help at run time, so a
// flag added anywhere without its line in the reference fails here.
#include <gtest/gtest.h>

#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "pd_proxy/core/config/cli.hpp"

namespace pd_proxy {
namespace {

std::set<std::string> flags_in_help() {
  const char* argv[] = {"pd-proxy", "--help"};
  const auto help = parse_command_line(2, argv, [](const std::string&) { return std::nullopt; });
  EXPECT_EQ(help.exit_code, 0);
  std::set<std::string> flags;
  // An option line: two blanks, optional short name, then the long name ("  -h,--help", "  --port INT=8000").
  const std::regex option_line(R"(^  (?:-[A-Za-z],)?(--[a-z0-9][a-z0-9-]*))");
  std::istringstream lines(help.output);
  for (std::string line; std::getline(lines, line);) {
    std::smatch m;
    if (std::regex_search(line, m, option_line)) flags.insert(m[1]);
  }
  return flags;
}

std::string read_doc(const std::string& name) {
  std::ifstream in(std::string(PD_PROXY_SOURCE_DIR) + "/docs/" + name);
  std::stringstream all;
  all << in.rdbuf();
  return all.str();
}

TEST(documented_flags, configuration_md_documents_every_flag) {
  const auto flags = flags_in_help();
  ASSERT_GT(flags.size(), 40u);  // the parse of --help found the flags
  EXPECT_TRUE(flags.count("--config"));
  EXPECT_TRUE(flags.count("--prefiller-hosts"));
  const std::string doc = read_doc("configuration.md");
  ASSERT_FALSE(doc.empty());
  for (const auto& flag : flags) {
    // As a table row's first cell, alone or in a list of flags: "| `--port` |", "| `--decoder-hosts`, ...".
    EXPECT_NE(doc.find("`" + flag + "`"), std::string::npos)
        << flag << " is not documented in docs/configuration.md";
  }
}

TEST(documented_flags, every_flag_has_an_environment_variable_in_the_doc_rule) {
  const std::string doc = read_doc("configuration.md");
  EXPECT_NE(doc.find("PD_PROXY_<FLAG>"), std::string::npos);
  EXPECT_NE(doc.find("--check-config"), std::string::npos);
}

}  // namespace
}  // namespace pd_proxy
