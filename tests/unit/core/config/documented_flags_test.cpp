// The flags the documents name and the flags the programs have agree. docs/configuration.md and pd-proxy(1)
// document every flag of pd-proxy (read from --help at run time, so a flag added anywhere without its line in
// the reference fails here), and every flag that docs/*.md or README.md names exists in the program it is
// given to: pd-proxy, pd-mock and pd-bench by their --help, the project's scripts by their source.
#include <gtest/gtest.h>
#include <stdio.h>

#include <array>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "pd_proxy/core/config/cli.hpp"

namespace pd_proxy {
namespace {

// The flags of a --help text: two blanks, an optional short name, then the long name ("  -h,--help",
// "  --port INT=8000").
std::set<std::string> flags_in(const std::string& help) {
  std::set<std::string> flags;
  const std::regex option_line(R"(^  (?:-[A-Za-z],)?(--[a-z0-9][a-z0-9-]*))");
  std::istringstream lines(help);
  for (std::string line; std::getline(lines, line);) {
    std::smatch m;
    if (std::regex_search(line, m, option_line)) flags.insert(m[1]);
  }
  return flags;
}

std::string proxy_help() {
  const char* argv[] = {"pd-proxy", "--help"};
  const auto help = parse_command_line(2, argv, [](const std::string&) { return std::nullopt; });
  EXPECT_EQ(help.exit_code, 0);
  return help.output;
}

std::set<std::string> flags_in_help() {
  return flags_in(proxy_help());
}

// What `binary --help` prints on stdout.
std::string help_of(const std::string& binary) {
  FILE* pipe = ::popen((binary + " --help").c_str(), "r");
  if (pipe == nullptr) return {};
  std::string out;
  std::array<char, 4096> buf{};
  for (std::size_t n; (n = std::fread(buf.data(), 1, buf.size(), pipe)) > 0;) out.append(buf.data(), n);
  EXPECT_EQ(::pclose(pipe), 0) << binary << " --help";
  return out;
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream all;
  all << in.rdbuf();
  return all.str();
}

const std::filesystem::path source_dir{PD_PROXY_SOURCE_DIR};

std::string read_doc(const std::string& name) {
  return read_file(source_dir / "docs" / name);
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

TEST(documented_flags, man_page_lists_every_flag_in_its_group) {
  const char* argv[] = {"pd-proxy", "--help-man"};
  const auto man = parse_command_line(2, argv, [](const std::string&) { return std::nullopt; });
  ASSERT_EQ(man.exit_code, 0);
  ASSERT_FALSE(man.config);
  EXPECT_EQ(man.output.rfind(".\\\"", 0), 0u) << "a roff comment first";
  for (const std::string section : {"NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "SIGNALS", "ENVIRONMENT",
                                    "FILES", "\"EXIT STATUS\"", "EXAMPLES", "\"SEE ALSO\""}) {
    EXPECT_NE(
        man.output.find("\n.SH " +
                        (section.front() == '"' ? section.substr(1, section.size() - 2) : section) + "\n"),
        std::string::npos)
        << section;
  }
  const auto help = proxy_help();
  for (const auto& flag : flags_in(help)) {
    // An option's tag: ".TP" then "\fB\-\-port\fR ...".
    std::string roff = "\\fB";
    for (const char c : flag) roff += c == '-' ? std::string("\\-") : std::string(1, c);
    const bool tag = man.output.find(".TP\n" + roff + "\\fR") != std::string::npos ||
                     man.output.find("\\fR, " + roff + "\\fR") != std::string::npos;  // "-h, --help"
    EXPECT_TRUE(tag) << flag << " is not in pd-proxy(1)";
  }
  for (const std::string group : {"Listener", "Prefiller pool", "Timeouts", "Security", "Runtime"}) {
    EXPECT_NE(help.find(group + ":"), std::string::npos) << group;
    EXPECT_NE(man.output.find("\n.SS " + group + "\n"), std::string::npos) << group;
  }
}

TEST(documented_flags, help_shows_no_core_count_as_the_default_of_workers) {
  const auto help = proxy_help();
  const auto at = help.find("  --workers");
  ASSERT_NE(at, std::string::npos);
  const std::string line = help.substr(at, help.find('\n', at) - at);
  EXPECT_EQ(line.find("INT="), std::string::npos) << line;  // the default depends on the machine
  EXPECT_NE(line.find("number of cores"), std::string::npos) << line;
}

// Flags that a document names on purpose although no program has them.
const std::map<std::string, std::string> not_flags{
    {"--retry",
     "an argparse prefix of --retry-delay: what pd-proxy refuses (migrating.md, configuration.md)"},
    {"--kv-transfer-config", "vLLM's flag, in operations.md's runbook"},
    {"--api-keys",
     "the unknown flag configuration.md and security.md show refused without echoing its value"},
};

// The programs whose flags the documents show besides the project's, not checked here.
const std::set<std::string> other_programs{"curl",          "cmake",
                                           "ctest",         "cpack",
                                           "vllm",          "systemctl",
                                           "kubectl",       "docker",
                                           "gdb",           "git",
                                           "journalctl",    "taskset",
                                           "apt-get",       "dpkg",
                                           "dpkg-deb",      "xxd",
                                           "promtool",      "nginx",
                                           "clang-format",  "pd_core_bench",
                                           "pd_unit_tests", "pd_integration_tests"};

bool is_project_tool(const std::string& name) {
  return name == "pd-proxy" || name == "pd-mock" || name == "pd-bench";
}

bool is_project_program(const std::string& name) {
  return is_project_tool(name) || name.find('/') != std::string::npos;
}

// The program a path-like word names: a tool of the project ("build/pd-proxy" is pd-proxy), one of its
// scripts ("bench/soak": a file of the tree), another program (as is: curl, cmake, ...), or none (empty).
std::string program_named_by(const std::string& word) {
  const auto slash = word.rfind('/');
  const std::string base = slash == std::string::npos ? word : word.substr(slash + 1);
  if (is_project_tool(base) || other_programs.count(base) > 0) return base;
  if (slash == std::string::npos) return {};
  for (std::size_t at = 0; at != std::string::npos;) {
    const std::string path = word.substr(at);
    for (const std::string dir : {"bench/", "scripts/", "examples/"}) {
      if (path.rfind(dir, 0) == 0 && std::filesystem::is_regular_file(source_dir / path)) return path;
    }
    at = word.find('/', at);
    if (at != std::string::npos) ++at;
  }
  return {};
}

// The programs a text names as commands, each with the offset where its name ends. A program given as a
// flag's value ("--proxy build/pd-proxy") is an argument, not the command.
std::vector<std::pair<std::size_t, std::string>> programs_in(const std::string& text) {
  static const std::regex word(R"([A-Za-z0-9_./-]+)");
  static const std::regex after_flag(R"((^|\s)--[a-z][a-z0-9_-]*\s+$)");
  std::vector<std::pair<std::size_t, std::string>> out;
  for (auto it = std::sregex_iterator(text.begin(), text.end(), word); it != std::sregex_iterator(); ++it) {
    auto program = program_named_by(it->str());
    if (program.empty()) continue;
    const auto start = static_cast<std::size_t>(it->position());
    const std::size_t look_back = std::min<std::size_t>(start, 100);  // a flag and its blanks fit
    if (std::regex_search(text.substr(start - look_back, look_back), after_flag)) continue;
    out.emplace_back(start + it->str().size(), std::move(program));
  }
  return out;
}

struct named_flag {
  std::string flag;
  std::size_t line = 0;
  std::string program;  // the command it is given to; empty when the line names none
};

// Every "--flag" of a document, with the program named before it on its line or on the lines its command
// continues ("\" at the end of the line before). The scripts pass what follows "--" (bench/soak) or
// "--proxy-flag" (bench/slow-streams) to pd-proxy.
std::vector<named_flag> flags_named_in(const std::string& text) {
  static const std::regex flag(R"((^|[^A-Za-z0-9_-])(--[a-z][a-z0-9_-]*[a-z0-9]))");
  static const std::regex to_proxy(R"((^|\s)--\s|--proxy-flag[ =]$)");
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  std::vector<named_flag> out;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const auto& line = lines[i];
    for (auto it = std::sregex_iterator(line.begin(), line.end(), flag); it != std::sregex_iterator(); ++it) {
      named_flag f{(*it)[2].str(), i + 1, {}};
      std::string before = line.substr(0, static_cast<std::size_t>(it->position(2)));
      for (std::size_t j = i;; --j) {
        if (const auto programs = programs_in(before); !programs.empty()) {
          f.program = programs.back().second;
          if (is_project_program(f.program) &&
              std::regex_search(before.substr(programs.back().first), to_proxy))
            f.program = "pd-proxy";
          break;
        }
        if (j == 0 || lines[j - 1].empty() || lines[j - 1].back() != '\\') break;
        before = lines[j - 1] + "\n" + before;
      }
      out.push_back(f);
    }
  }
  return out;
}

// A script's flags: the words of its source, and of the sources next to it with the same name (bench/soak
// runs bench/soak.py) or a shared one (bench/lib.sh).
bool script_has_flag(const std::string& script, const std::string& flag) {
  const auto path = source_dir / script;
  for (const auto& file :
       {path, std::filesystem::path(path.string() + ".py"), path.parent_path() / "lib.sh"}) {
    if (std::filesystem::is_regular_file(file) && read_file(file).find(flag) != std::string::npos)
      return true;
  }
  return false;
}

TEST(documented_flags, every_flag_the_documents_name_exists) {
  for (const auto* tool : {PD_MOCK_BINARY, PD_BENCH_BINARY}) {
    if (!std::filesystem::exists(tool)) GTEST_SKIP() << tool << " is not built (the build builds it)";
  }
  std::map<std::string, std::set<std::string>> flags_of{
      {"pd-proxy", flags_in_help()},
      {"pd-mock", flags_in(help_of(PD_MOCK_BINARY))},
      {"pd-bench", flags_in(help_of(PD_BENCH_BINARY))},
  };
  EXPECT_TRUE(flags_of["pd-mock"].count("--ports-count"));
  EXPECT_TRUE(flags_of["pd-bench"].count("--num-prompts"));
  const auto exists = [&](const std::string& program, const std::string& flag) {
    if (flags_of.count(program) > 0) return flags_of[program].count(flag) > 0;
    return script_has_flag(program, flag);
  };

  std::vector<std::filesystem::path> documents{source_dir / "README.md"};
  for (const auto& entry : std::filesystem::directory_iterator(source_dir / "docs")) {
    if (entry.path().extension() == ".md") documents.push_back(entry.path());
  }
  std::size_t checked = 0;
  for (const auto& document : documents) {
    const std::string text = read_file(document);
    // A flag on a line that names no program belongs to one of the programs the document names, or pd-proxy.
    std::set<std::string> candidates{"pd-proxy"};
    for (const auto& [end, program] : programs_in(text)) {
      if (is_project_program(program)) candidates.insert(program);
    }
    for (const auto& named : flags_named_in(text)) {
      if (not_flags.count(named.flag) > 0) continue;
      const auto where = document.filename().string() + ":" + std::to_string(named.line) + ": " + named.flag;
      if (!named.program.empty()) {
        if (!is_project_program(named.program)) continue;  // curl's, cmake's, ...
        ++checked;
        EXPECT_TRUE(exists(named.program, named.flag)) << where << " is not a flag of " << named.program;
        continue;
      }
      ++checked;
      EXPECT_TRUE(std::any_of(candidates.begin(), candidates.end(),
                              [&](const std::string& program) { return exists(program, named.flag); }))
          << where << " is a flag of none of the programs the document names";
    }
  }
  EXPECT_GT(checked, 500u);  // the documents were read
}

}  // namespace
}  // namespace pd_proxy
