#include "pd_proxy/core/config/man_page.hpp"

#include <gtest/gtest.h>

#include <CLI/CLI.hpp>

namespace pd_proxy {
namespace {

struct small_app {
  CLI::App app{"demo", "demo"};
  int port = 8000;
  std::vector<std::string> hosts{"localhost"};
  bool quiet = false;
  std::string secret;

  small_app() {
    app.option_defaults()->always_capture_default();
    app.add_option("--port", port, "Port to listen on (0: any)")->group("Listener")->envname("DEMO_PORT");
    app.add_option("--hosts", hosts, "Hosts; see --port")
        ->type_name("HOST")
        ->default_str("localhost")
        ->option_text("HOST=localhost ...")
        ->group("Listener");
    app.add_flag("--quiet", quiet, "Say less")->group("Runtime");
    app.add_option("--secret", secret, "Not shown")->group("");
  }
};

man_page small_page(std::string text) {
  return man_page{"demo", "a demo", {"[OPTION]..."}, {{"DESCRIPTION", std::move(text)}}, {}};
}

TEST(man_page, options_in_their_groups_with_value_default_and_variable) {
  small_app s;
  const auto page = render_man_page(s.app, small_page("Text."));
  EXPECT_NE(page.find(".TH DEMO 1 \"\" \"demo "), std::string::npos);
  EXPECT_NE(page.find(".SH NAME\ndemo \\- a demo\n"), std::string::npos);
  EXPECT_NE(page.find(".SS Listener\n.TP\n\\fB\\-\\-port\\fR \\fIINT\\fR\nPort to listen on (0: any).\n.br\n"
                      "Default: \\fB8000\\fR. Environment: \\fBDEMO_PORT\\fR.\n"),
            std::string::npos)
      << page;
  EXPECT_NE(page.find("\\fB\\-\\-hosts\\fR \\fIHOST\\fR \\&...\nHosts; see \\fB\\-\\-port\\fR.\n.br\n"
                      "Default: \\fBlocalhost\\fR.\n"),
            std::string::npos)
      << page;
  EXPECT_NE(page.find(".SS Runtime\n.TP\n\\fB\\-\\-quiet\\fR\nSay less.\n"), std::string::npos) << page;
  EXPECT_NE(page.find(".SS General\n.TP\n\\fB\\-h\\fR, \\fB\\-\\-help\\fR\n"), std::string::npos) << page;
  EXPECT_EQ(page.find("secret"), std::string::npos) << "an option without a group is hidden, as in --help";
  EXPECT_LT(page.find(".SH DESCRIPTION"), page.find(".SH OPTIONS"));
}

TEST(man_page, prose_paragraphs_tags_and_commands) {
  small_app s;
  const auto page = render_man_page(s.app, small_page("First line\n.starts with a dot\n\n"
                                                      "* SIGHUP\nReloads, see --port.\n\n"
                                                      "    demo --port 1 \\\n      --quiet"));
  EXPECT_NE(page.find(".PP\nFirst line\n\\&.starts with a dot\n"), std::string::npos) << page;
  EXPECT_NE(page.find(".TP\n\\fBSIGHUP\\fR\nReloads, see \\fB\\-\\-port\\fR.\n"), std::string::npos) << page;
  EXPECT_NE(page.find(".RS 4\n.nf\ndemo \\-\\-port 1 \\e\n  \\-\\-quiet\n.fi\n.RE\n"), std::string::npos)
      << page;
}

TEST(man_page, the_hidden_flag_is_recognised_anywhere_after_the_program) {
  const char* with[] = {"tool", "--port", "1", "--help-man"};
  const char* without[] = {"--help-man", "--help"};
  EXPECT_TRUE(wants_man_page(4, with));
  EXPECT_FALSE(wants_man_page(2, without));  // argv[0] is the program
  EXPECT_FALSE(wants_man_page(0, with));
}

}  // namespace
}  // namespace pd_proxy
