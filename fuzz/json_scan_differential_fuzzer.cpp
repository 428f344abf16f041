// Differential target: json_scan (is_valid_json, for_each_top_level_member, find_top_level_member,
// append_json_unescaped) against nlohmann::json on the same bytes. Aborts on any disagreement.
//
// What "agree" means here:
// - Validity: is_valid_json(text) == nlohmann accepts text (strict: one value, whitespace around it), except
//   for three deliberate differences of json_scan, each checked exactly:
//   * Depth: is_valid_json stops at max_depth (128 by default); nlohmann has no limit. Compared with a depth
//     limit no input of libFuzzer's size reaches; the default limit may only reject more.
//   * Numbers beyond a double's range (1e400): RFC 8259 allows them and json_scan accepts them; nlohmann
//     rejects them with out_of_range.406. Only that error may differ.
//   * A UTF-8 byte order mark: nlohmann skips one at the start; json_scan (RFC 8259 §8.1: senders must not
//     add one) rejects it. nlohmann on the text must agree with json_scan on the text after the mark.
//   * A NUL byte: nlohmann's lexer takes a NUL where a token would start for the end of the input, so it
//     accepts `{"a":1}\0garbage` (and `1\0x`); json_scan rejects a NUL anywhere (RFC 8259 has no place for
//     one outside a string, and inside one it is a raw control character, which both reject). nlohmann on
//     the text must agree with json_scan on the text before its first NUL, which is exactly that rule.
//   Invalid UTF-8, lone surrogates, raw control characters in strings and bad escapes are rejected by both:
//   no difference is allowed there.
// - Members: whenever nlohmann accepts an object, for_each_top_level_member accepts it too and yields its
//   members in order, duplicates included (nlohmann's SAX events give every key in order); each key decoded
//   by append_json_unescaped equals nlohmann's key. Duplicate keys: nlohmann keeps the last value, so for
//   each name the last member's raw value text, re-parsed by nlohmann, equals the document's value, and the
//   document has one entry per distinct name. find_top_level_member matches keys as written and also lets
//   the last one win.
// - When nlohmann accepts a value that is not an object, the member scan rejects it. The member scan alone
//   does not validate values (its contract), so a scan that accepts text nlohmann rejects is no disagreement.
#include <climits>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "pd_proxy/core/json/json_scan.hpp"

namespace {

using json = nlohmann::json;

// Records what a strict nlohmann parse saw: validity, the error's id, the top-level object's keys in order.
class key_recorder : public nlohmann::json_sax<json> {
 public:
  std::vector<std::string> top_level_keys;
  bool top_level_object = false;
  int error_id = 0;

  bool null() override { return scalar(); }
  bool boolean(bool) override { return scalar(); }
  bool number_integer(number_integer_t) override { return scalar(); }
  bool number_unsigned(number_unsigned_t) override { return scalar(); }
  bool number_float(number_float_t, const string_t&) override { return scalar(); }
  bool string(string_t&) override { return scalar(); }
  bool binary(binary_t&) override { return scalar(); }
  bool start_object(std::size_t) override {
    if (depth_ == 0) top_level_object = true;
    ++depth_;
    return true;
  }
  bool key(string_t& k) override {
    if (depth_ == 1) top_level_keys.push_back(k);
    return true;
  }
  bool end_object() override {
    --depth_;
    return true;
  }
  bool start_array(std::size_t) override {
    ++depth_;
    return true;
  }
  bool end_array() override {
    --depth_;
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& e) override {
    error_id = e.id;
    return false;
  }

 private:
  bool scalar() { return true; }
  int depth_ = 0;
};

void check(bool condition, const char* what) {
  if (!condition) {
    std::fprintf(stderr, "json_scan disagrees with nlohmann: %s\n", what);
    std::abort();
  }
}

constexpr std::string_view bom = "\xEF\xBB\xBF";
constexpr int number_overflow = 406;  // nlohmann's out_of_range.406

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  key_recorder sax;
  const bool theirs = json::sax_parse(text.begin(), text.end(), &sax, nlohmann::detail::input_format_t::json,
                                      /*strict=*/true);
  const bool ours = pd_proxy::is_valid_json(text, INT_MAX);
  check(!pd_proxy::is_valid_json(text) || ours, "the default depth limit accepted more than no limit");

  // What nlohmann's verdict on `text` is compared with: json_scan's on the text after a byte order mark and
  // before a NUL byte (see the file's comment); json_scan must reject the whole text when it has either.
  std::string_view effective = text;
  const bool has_bom = text.substr(0, bom.size()) == bom;
  if (has_bom) effective.remove_prefix(bom.size());
  const bool has_nul = effective.find('\0') != std::string_view::npos;
  if (has_nul) effective = effective.substr(0, effective.find('\0'));
  check(!(has_bom || has_nul) || !ours, "json_scan accepted a byte order mark or a NUL byte");
  const bool ours_effective = pd_proxy::is_valid_json(effective, INT_MAX);
  check(ours_effective == theirs || (ours_effective && sax.error_id == number_overflow), "validity");

  std::vector<pd_proxy::json_member> members;
  const bool scanned = pd_proxy::for_each_top_level_member(
      text, [&](const pd_proxy::json_member& m) { members.push_back(m); });
  if (scanned && ours) check(theirs || sax.error_id == number_overflow, "a valid scanned object");
  if (!theirs || has_bom || has_nul) return 0;  // the scan does not validate values: nothing more to compare
  check(scanned == sax.top_level_object, "the member scan's acceptance of a valid document");
  if (!scanned) return 0;

  check(members.size() == sax.top_level_keys.size(), "the number of top-level members");
  std::map<std::string, std::string_view> last_value;  // decoded name -> raw value text of its last member
  std::map<std::string_view, std::string_view> last_raw_key_value;
  for (std::size_t k = 0; k < members.size(); ++k) {
    const auto& m = members[k];
    const std::string_view raw_key = text.substr(m.key_pos, m.key_len);
    const std::string_view raw_value = text.substr(m.value_pos, m.value_len);
    std::string name;
    check(pd_proxy::append_json_unescaped(raw_key, name), "a key nlohmann decoded");
    check(name == sax.top_level_keys[k], "a key's decoded name");
    last_value[name] = raw_value;
    last_raw_key_value[raw_key] = raw_value;
  }

  const json document = json::parse(text, nullptr, /*allow_exceptions=*/false);
  check(document.is_object(), "the document of an accepted object");
  check(document.size() == last_value.size(), "the number of distinct names");
  for (const auto& [name, raw_value] : last_value) {
    const json value = json::parse(raw_value, nullptr, /*allow_exceptions=*/false);
    check(!value.is_discarded(), "a member's raw value text parses on its own");
    check(document.contains(name) && document.at(name) == value, "a member's value");
  }
  for (const auto& [raw_key, raw_value] : last_raw_key_value) {
    const auto found = pd_proxy::find_top_level_member(text, raw_key);
    check(found && found->data() == raw_value.data() && found->size() == raw_value.size(),
          "find_top_level_member returns the last member with the key");
  }
  return 0;
}
