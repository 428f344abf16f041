// A man page (roff, man(7) macros) made from a CLI11 app's flag table and the page's prose, so that the page
// lists exactly the options --help lists, in --help's groups and order. pd-proxy, pd-mock and pd-bench print
// theirs with the hidden flag --help-man; the build writes them to pd-proxy.1, pd-mock.1 and pd-bench.1.
#pragma once

#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace pd_proxy {

/// One section of prose. `text` is plain text (no roff): paragraphs separated by blank lines; a paragraph
/// whose lines all start with four blanks is shown as typed (commands); a paragraph whose first line starts
/// with "* " is a tagged paragraph, the rest of that line its tag (in bold) and the next lines its text.
/// Words that start with "--" are set in bold.
struct man_section {
  std::string title;  // "SIGNALS"
  std::string text;
};

/// What a page says besides its options.
struct man_page {
  std::string program;                      // "pd-proxy"
  std::string summary;                      // the NAME line after "pd-proxy - "
  std::vector<std::string> synopses;        // one SYNOPSIS line each, after the program's name
  std::vector<man_section> before_options;  // DESCRIPTION
  std::vector<man_section> after_options;   // SIGNALS, FILES, EXIT STATUS, EXAMPLES, SEE ALSO
};

/// The hidden flag that asks a tool for its man page instead of running.
inline constexpr const char* man_page_flag = "--help-man";

/// True when argv[1..] holds man_page_flag.
bool wants_man_page(int argc, const char* const* argv);

/// The page in roff: NAME, SYNOPSIS, `before_options`, OPTIONS (a subsection per option group of `app`, in
/// --help's order; options without a group, which --help hides, are left out; each with its value's name,
/// description, default and environment variable), then `after_options`. Section 1, the project's version.
std::string render_man_page(const CLI::App& app, const man_page& page);

/// The prose of pd-proxy(1).
man_page proxy_man_page();

}  // namespace pd_proxy
