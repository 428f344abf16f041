#include "pd_proxy/core/observe/request_record.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <string>

namespace pd_proxy {
namespace {

using namespace std::chrono_literals;

TEST(request_record, outcomes_have_the_access_log_names) {
  EXPECT_EQ(to_string(request_outcome::ok), "ok");
  EXPECT_EQ(to_string(request_outcome::client_abort), "client_abort");
  EXPECT_EQ(to_string(request_outcome::backend_error), "backend_error");
  EXPECT_EQ(to_string(request_outcome::timeout), "timeout");
  EXPECT_EQ(to_string(request_outcome::rejected), "rejected");
}

TEST(request_record, status_outcomes_for_the_proxys_own_answers) {
  EXPECT_EQ(outcome_of_status(200), request_outcome::ok);
  EXPECT_EQ(outcome_of_status(503), request_outcome::ok);  // /ready says not ready: an answer
  EXPECT_EQ(outcome_of_status(404), request_outcome::invalid_request);
  EXPECT_EQ(outcome_of_status(429), request_outcome::rejected);
}

TEST(request_record, routes_are_a_fixed_set) {
  EXPECT_EQ(route_of_path("/v1/completions"), request_route::completions);
  EXPECT_EQ(route_of_path("/v1/chat/completions"), request_route::chat_completions);
  EXPECT_EQ(route_of_path("/metrics"), request_route::metrics);
  EXPECT_EQ(route_of_path("/v1/completions/abc"), request_route::other);
  EXPECT_EQ(to_string(route_of_path("/anything")), "other");
  for (std::size_t i = 0; i < request_route_count; ++i) {
    const auto r = static_cast<request_route>(i);
    if (r != request_route::other) {
      EXPECT_EQ(route_of_path(to_string(r)), r);
    }
  }
}

TEST(request_record, failure_kinds) {
  EXPECT_EQ(failure_kind(backend_failure::connect), "connect");
  EXPECT_EQ(failure_kind(backend_failure::timeout), "timeout");
  EXPECT_EQ(answer_kind(503), "http_5xx");
  EXPECT_EQ(answer_kind(429), "http_429");
}

TEST(request_record, seconds_between_needs_both_points) {
  const request_record::clock::time_point t0 = request_record::clock::time_point{} + 10s;
  EXPECT_DOUBLE_EQ(seconds_between(t0, t0 + 1500ms), 1.5);
  EXPECT_LT(seconds_between({}, t0), 0);
  EXPECT_LT(seconds_between(t0, {}), 0);
  EXPECT_LT(seconds_between(t0 + 1s, t0), 0);
}

TEST(request_record, access_log_line_is_one_json_object) {
  request_record r;
  const auto t0 = request_record::clock::time_point{} + 100s;
  r.request_id = "req-\"1\"\n";
  r.method = "POST";
  r.route = request_route::completions;
  r.status = 200;
  r.outcome = request_outcome::ok;
  r.prefiller = "10.0.0.1:8100";
  r.decoder = "10.0.0.2:8200";
  r.prefill_retries = 1;
  r.decode_retries = 2;
  r.prompt_bytes = 123;
  r.bytes_sent = 4567;
  r.received = t0;
  r.prefill_start = t0 + 1ms;
  r.prefill_done = t0 + 21ms;
  r.first_byte = t0 + 50ms;
  r.end = t0 + 1250ms;
  r.wall_received = std::chrono::system_clock::time_point{} + 1'700'000'000'123ms;
  r.client_address = "127.0.0.1:5555";
  const std::string line = access_log_line(r);
  ASSERT_FALSE(line.empty());
  EXPECT_EQ(line.back(), '\n');
  EXPECT_EQ(line.find('\n'), line.size() - 1);
  const auto j = nlohmann::json::parse(line);
  EXPECT_EQ(j["ts"], "2023-11-14T22:13:20.123Z");
  EXPECT_EQ(j["request_id"], "req-\"1\"\n");
  EXPECT_EQ(j["method"], "POST");
  EXPECT_EQ(j["route"], "/v1/completions");
  EXPECT_EQ(j["status"], 200);
  EXPECT_EQ(j["outcome"], "ok");
  EXPECT_EQ(j["prefiller"], "10.0.0.1:8100");
  EXPECT_EQ(j["decoder"], "10.0.0.2:8200");
  EXPECT_EQ(j["retries"], 3);
  EXPECT_EQ(j["prefill_retries"], 1);
  EXPECT_EQ(j["decode_retries"], 2);
  EXPECT_EQ(j["prompt_bytes"], 123);
  EXPECT_EQ(j["bytes_sent"], 4567);
  EXPECT_DOUBLE_EQ(j["prefill_ms"].get<double>(), 20.0);
  EXPECT_DOUBLE_EQ(j["ttft_ms"].get<double>(), 50.0);
  EXPECT_DOUBLE_EQ(j["duration_ms"].get<double>(), 1250.0);
  EXPECT_EQ(j["client_address"], "127.0.0.1:5555");
  EXPECT_EQ(j["prefill_skipped"], false);
  r.prefill_skipped = true;
  EXPECT_EQ(nlohmann::json::parse(access_log_line(r))["prefill_skipped"], true);
}

TEST(request_record, unreached_times_are_null) {
  request_record r;
  r.method = "GET";
  r.route = request_route::health;
  r.status = 200;
  r.received = request_record::clock::now();
  r.end = r.received + 1ms;
  const auto j = nlohmann::json::parse(access_log_line(r));
  EXPECT_TRUE(j["prefill_ms"].is_null());
  EXPECT_TRUE(j["ttft_ms"].is_null());
  EXPECT_FALSE(j["duration_ms"].is_null());
  EXPECT_EQ(j["prefiller"], "");
}

TEST(request_record, every_byte_json_needs_escaped_is_escaped_and_the_rest_passes) {
  request_record r;
  std::string id;
  for (int c = 0; c < 0x20; ++c) id += static_cast<char>(c);
  id += "\"\\/\x7f h\xc3\xa9";  // quote, backslash, slash, DEL, UTF-8: only the first two are escaped
  r.request_id = id;
  r.client_address = std::string(300, '"');  // the worst case for the line's size
  const std::string line = access_log_line(r);
  EXPECT_NE(line.find(R"("\u0000\u0001)"), std::string::npos) << line;
  EXPECT_NE(line.find(R"(\u001f\"\\/)"), std::string::npos) << line;
  const auto j = nlohmann::json::parse(line);
  EXPECT_EQ(j["request_id"], id);
  EXPECT_EQ(j["client_address"], r.client_address);
}

TEST(request_record, an_escape_anywhere_in_a_word_or_the_tail_is_found) {
  for (std::size_t length = 1; length <= 24; ++length) {
    for (std::size_t at = 0; at < length; ++at) {
      for (const char special : {'"', '\\', '\x01', '\x1f'}) {
        request_record r;
        r.decoder = std::string(length, 'a');
        r.decoder[at] = special;
        const auto j = nlohmann::json::parse(access_log_line(r), nullptr, false);
        ASSERT_TRUE(j.is_object()) << length << " " << at;
        EXPECT_EQ(j["decoder"], r.decoder) << length << " " << at;
      }
    }
  }
}

TEST(request_record, milliseconds_have_three_decimals_rounded_to_the_microsecond) {
  request_record r;
  r.received = request_record::clock::time_point{} + 1h;
  r.first_byte = r.received + 1234500ns;  // 1.2345 ms
  r.end = r.received + 61001ms + 999ns;
  r.prefill_start = r.received + 5ms;
  r.prefill_done = r.received + 4ms;  // before its start: not a duration
  const std::string line = access_log_line(r);
  EXPECT_NE(line.find(R"("ttft_ms":1.235,)"), std::string::npos) << line;
  EXPECT_NE(line.find(R"("duration_ms":61001.001,)"), std::string::npos) << line;
  EXPECT_NE(line.find(R"("prefill_ms":null,)"), std::string::npos) << line;
  EXPECT_NE(line.find(R"({"ts":"1970-01-01T00:00:00.000Z",)"), std::string::npos) << line;
}

TEST(request_record, lines_append_to_what_is_there) {
  request_record r;
  r.request_id = "a";
  std::string text = "previous\n";
  append_access_log_line(text, r);
  append_access_log_line(text, r);
  EXPECT_EQ(text.rfind("previous\n{", 0), 0u);
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 3);
  EXPECT_EQ(text.substr(text.find('\n') + 1, text.find('\n', text.find('\n') + 1) - text.find('\n')),
            access_log_line(r));
}

}  // namespace
}  // namespace pd_proxy
