#include "pd_proxy/core/config/man_page.hpp"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cctype>
#include <sstream>
#include <string_view>

#ifndef PD_PROXY_VERSION
#error "PD_PROXY_VERSION must be defined by the build"
#endif

namespace pd_proxy {
namespace {

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

bool is_flag_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-';
}

// `text` for roff: backslashes and dashes escaped (a dash is then a hyphen-minus, as typed on a command
// line).
std::string escape(std::string_view text) {
  std::string out;
  for (const char c : text) {
    if (c == '\\')
      out += "\\e";
    else if (c == '-')
      out += "\\-";
    else
      out += c;
  }
  return out;
}

// escape(), with every word that starts with "--" in bold.
std::string escape_marking_flags(std::string_view text) {
  std::string out;
  std::size_t i = 0;
  while (i < text.size()) {
    const bool flag_starts = starts_with(text.substr(i), "--") && i + 2 < text.size() &&
                             std::isalnum(static_cast<unsigned char>(text[i + 2])) != 0 &&
                             (i == 0 || !is_flag_char(text[i - 1]));
    if (!flag_starts) {
      out += escape(text.substr(i, 1));
      ++i;
      continue;
    }
    std::size_t end = i + 2;
    while (end < text.size() && is_flag_char(text[end])) ++end;
    out += "\\fB" + escape(text.substr(i, end - i)) + "\\fR";
    i = end;
  }
  return out;
}

// One input line as a roff text line: a line that starts with '.' or '\'' would be a request.
std::string text_line(const std::string& escaped) {
  if (!escaped.empty() && (escaped.front() == '.' || escaped.front() == '\'')) return "\\&" + escaped + "\n";
  return escaped + "\n";
}

std::vector<std::string> split_lines(std::string_view text) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start <= text.size()) {
    const auto end = std::min(text.find('\n', start), text.size());
    lines.emplace_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

bool is_blank(std::string_view line) {
  return std::all_of(line.begin(), line.end(), [](char c) { return c == ' ' || c == '\t'; });
}

std::string render_paragraph(const std::vector<std::string>& lines) {
  constexpr std::string_view verbatim_indent = "    ";
  std::string out;
  if (std::all_of(lines.begin(), lines.end(),
                  [&](const auto& l) { return starts_with(l, verbatim_indent); })) {
    out += ".PP\n.RS 4\n.nf\n";
    for (const auto& line : lines) out += text_line(escape(line.substr(verbatim_indent.size())));
    return out + ".fi\n.RE\n";
  }
  auto first = lines.begin();
  if (starts_with(lines.front(), "* ")) {
    out += ".TP\n" + text_line("\\fB" + escape(lines.front().substr(2)) + "\\fR");
    ++first;
  } else {
    out += ".PP\n";
  }
  for (auto line = first; line != lines.end(); ++line) out += text_line(escape_marking_flags(*line));
  return out;
}

std::string render_section(const man_section& section) {
  std::string out = ".SH " + escape(section.title) + "\n";
  std::vector<std::string> paragraph;
  for (const auto& line : split_lines(section.text)) {
    if (!is_blank(line)) {
      paragraph.push_back(line);
      continue;
    }
    if (!paragraph.empty()) out += render_paragraph(paragraph);
    paragraph.clear();
  }
  if (!paragraph.empty()) out += render_paragraph(paragraph);
  return out;
}

// The name of an option's value: the type name without the validators' part ("INT:INT in [0 - 65535]" is
// INT), or the first word of a custom option text ("HOST=localhost ..." is HOST); empty for a flag without
// value.
std::string value_name(const CLI::Option& option) {
  if (option.get_type_size() == 0) return {};
  const std::string& text = option.get_option_text();
  if (text.empty()) return option.get_type_name().substr(0, option.get_type_name().find(':'));
  return text.substr(0, text.find_first_of("= "));
}

// What the validators accept ("INT in [0 - 65535]"), as --help shows it after the type name; or empty.
std::string accepted_values(const CLI::Option& option) {
  const std::string type = option.get_type_name();
  const auto colon = type.find(':');
  return option.get_type_size() == 0 || !option.get_option_text().empty() || colon == std::string::npos
             ? std::string{}
             : type.substr(colon + 1);
}

// Several values per occurrence ("--prefiller-ports 9000 9001"), as --help's "..." says.
bool takes_many(const CLI::Option& option) {
  if (option.get_type_size() == 0) return false;
  if (!option.get_option_text().empty()) return option.get_option_text().find("...") != std::string::npos;
  return option.get_expected_max() >= CLI::detail::expected_max_vector_size && option.get_allow_extra_args();
}

// The default as --help shows it, without an empty list's "[]".
std::string default_value(const CLI::Option& option) {
  const std::string value = option.get_type_size() == 0 ? std::string{} : option.get_default_str();
  return value == "[]" ? std::string{} : value;
}

std::string render_option(const CLI::Option& option) {
  std::string tag;
  for (const auto& name : option.get_snames())
    tag += (tag.empty() ? "" : ", ") + ("\\fB\\-" + escape(name) + "\\fR");
  for (const auto& name : option.get_lnames())
    tag += (tag.empty() ? "" : ", ") + ("\\fB\\-\\-" + escape(name) + "\\fR");
  if (const auto value = value_name(option); !value.empty()) {
    tag += " \\fI" + escape(value) + "\\fR";
    if (takes_many(option)) tag += " \\&...";
  }
  std::string out = ".TP\n" + text_line(tag);
  std::string description = option.get_description();
  if (!description.empty() && description.back() != '.') description += '.';
  out += text_line(escape_marking_flags(description));
  std::string details;
  const auto add_detail = [&details](const std::string& label, const std::string& value) {
    if (!value.empty()) details += (details.empty() ? "" : " ") + label + ": \\fB" + escape(value) + "\\fR.";
  };
  add_detail("Values", accepted_values(option));
  add_detail("Default", default_value(option));
  add_detail("Environment", option.get_envname());
  if (!details.empty()) out += ".br\n" + text_line(details);
  return out;
}

std::string render_options(const CLI::App& app) {
  std::string out = ".SH OPTIONS\n";
  for (const auto& group : app.get_groups()) {
    if (group.empty()) continue;  // hidden, as in --help
    out += ".SS " + escape(group == "Options" ? "General" : group) + "\n";
    for (const auto* option : app.get_options(
             [&group](const CLI::Option* o) { return o->get_group() == group && o->nonpositional(); })) {
      out += render_option(*option);
    }
  }
  return out;
}

std::string upper(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return s;
}

}  // namespace

bool wants_man_page(int argc, const char* const* argv) {
  return std::any_of(argv + std::min(argc, 1), argv + argc,
                     [](const char* arg) { return std::string_view(arg) == man_page_flag; });
}

std::string render_man_page(const CLI::App& app, const man_page& page) {
  const std::string name = escape(page.program);
  std::string out = ".\\\" Written by `" + name + " " + escape(man_page_flag) +
                    "` from its flag table (the one --help prints): do not edit.\n";
  out += ".TH " + escape(upper(page.program)) + " 1 \"\" \"" + name + " " + PD_PROXY_VERSION +
         "\" \"User Commands\"\n";
  out += ".nh\n.ad l\n";  // no hyphenation (a flag broken at a dash reads as two), ragged right
  out += ".SH NAME\n" + name + " \\- " + escape(page.summary) + "\n";
  out += ".SH SYNOPSIS\n";
  for (std::size_t i = 0; i < page.synopses.size(); ++i) {
    if (i > 0) out += ".br\n";
    out += text_line("\\fB" + name + "\\fR " + escape_marking_flags(page.synopses[i]));
  }
  for (const auto& section : page.before_options) out += render_section(section);
  out += render_options(app);
  for (const auto& section : page.after_options) out += render_section(section);
  return out;
}

}  // namespace pd_proxy
