// Conditional disaggregation through the real proxy (--disagg-min-prompt-tokens): a short prompt skips the
// prefill hop and goes straight to a decoder; the counter, the access log and a reload see it.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "pd_proxy/net/service/config_reload.hpp"
#include "proxy_fixture.hpp"
#include "scripted_backend.hpp"
#include "text_formats.hpp"

namespace pd_proxy::test {
namespace {

using json = nlohmann::json;

// 71 bytes: an estimate of 17 tokens.
const std::string short_stream = R"({"model":"mock-model","prompt":"Hi there","max_tokens":4,"stream":true})";
// An estimate of about 600 tokens.
const std::string long_stream =
    R"({"model":"mock-model","prompt":")" + std::string(2400, 'a') + R"(","max_tokens":4,"stream":true})";

request_spec post(std::string body, std::string id) {
  request_spec spec;
  spec.body = std::move(body);
  spec.headers.push_back({"X-Request-Id", std::move(id)});
  return spec;
}

std::map<std::string, double> metrics_of(std::uint16_t port) {
  request_spec spec;
  spec.method = http::verb::get;
  spec.target = "/metrics";
  return prometheus_samples(request(port, spec).body);
}

// The skipped-prefill counter once `requests` completions were answered 200 and recorded (a request is
// recorded when its handler ends, which may be just after its client read the response).
double skipped_after(std::uint16_t port, double requests) {
  std::map<std::string, double> s;
  eventually([&] {
    s = metrics_of(port);
    const auto it = s.find(R"(pd_proxy_requests_total{code="200",route="/v1/completions"})");
    return it != s.end() && it->second >= requests;
  });
  return s.at("pd_proxy_skipped_prefills_total");
}

std::string temp_path(std::string_view name) {
  return testing::TempDir() + "pd-proxy-disagg-" + std::to_string(::getpid()) + "-" + std::string(name);
}

TEST(proxy_disaggregation, a_short_prompt_goes_straight_to_a_decoder_and_a_long_one_is_disaggregated) {
  const std::string log = temp_path("access.log");
  cluster c({{fast_engines(1)}}, {{fast_engines(1)}}, [&](proxy_config& config) {
    config.disagg_min_prompt_tokens = 100;
    config.access_log = log;
  });
  const auto reply = request(c.port(), post(short_stream, "short-1"));
  ASSERT_TRUE(reply.complete) << reply.ec.message();
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(reply.headers[http::field::content_type], "text/event-stream; charset=utf-8");
  const auto events = sse_data(reply.body);
  ASSERT_EQ(events.size(), 5u);  // 4 tokens, [DONE]
  EXPECT_EQ(events.back(), "[DONE]");

  // The prefiller received nothing; the decoder got the client's body byte for byte and prefilled it.
  EXPECT_TRUE(c.prefill_servers()[0]->recorded(0).empty());
  EXPECT_EQ(c.total(true, &mock::engine_stats::prefill_requests), 0u);
  const auto decoded = c.decode_servers()[0]->recorded(0);
  ASSERT_EQ(decoded.size(), 1u);
  EXPECT_EQ(decoded[0].body, short_stream);
  EXPECT_EQ(decoded[0].request_id, "short-1");
  EXPECT_EQ(c.total(false, &mock::engine_stats::plain_requests), 1u);
  EXPECT_EQ(c.total(false, &mock::engine_stats::kv_pulls), 0u);
  EXPECT_EQ(c.state().counters.local_prefills.load(), 0u);  // not the misconfigured connector's alarm
  EXPECT_EQ(skipped_after(c.port(), 1), 1);

  // At or above the threshold: the usual two legs; the counter stays.
  const auto disaggregated = request(c.port(), post(long_stream, "long-1"));
  ASSERT_EQ(disaggregated.status, 200);
  EXPECT_EQ(c.prefill_servers()[0]->recorded(0).size(), 1u);
  EXPECT_EQ(c.total(false, &mock::engine_stats::kv_pulls), 1u);
  EXPECT_EQ(skipped_after(c.port(), 2), 1);
  const auto s = metrics_of(c.port());
  EXPECT_EQ(s.at("pd_proxy_local_prefills_total"), 0);
  EXPECT_EQ(s.at("pd_proxy_prefill_duration_seconds_count"), 1);  // the long one's prefill only

  ASSERT_TRUE(eventually([&] { return c.idle(); }));
  std::vector<json> lines;
  ASSERT_TRUE(eventually([&] {
    EXPECT_TRUE(c.state().access->flush());
    lines.clear();
    for (auto& line : json_lines_of(log)) {
      if (line["route"] == "/v1/completions") lines.push_back(std::move(line));
    }
    return lines.size() == 2;
  }));
  EXPECT_EQ(lines[0]["request_id"], "short-1");
  EXPECT_EQ(lines[0]["prefill_skipped"], true);
  EXPECT_EQ(lines[0]["prefiller"], "");
  EXPECT_EQ(lines[0]["decoder"], "127.0.0.1:" + std::to_string(c.decode_servers()[0]->port(0)));
  EXPECT_TRUE(lines[0]["prefill_ms"].is_null());
  EXPECT_TRUE(lines[0]["ttft_ms"].is_number());
  EXPECT_EQ(lines[1]["request_id"], "long-1");
  EXPECT_EQ(lines[1]["prefill_skipped"], false);
  EXPECT_TRUE(lines[1]["prefill_ms"].is_number());
  std::remove(log.c_str());
}

TEST(proxy_disaggregation, zero_always_disaggregates) {
  cluster c({{fast_engines(1)}}, {{fast_engines(1)}});  // the default: 0
  ASSERT_EQ(request(c.port(), post(R"({"prompt":"x","max_tokens":1})", "tiny")).status, 200);
  EXPECT_EQ(c.prefill_servers()[0]->recorded(0).size(), 1u);
  EXPECT_EQ(skipped_after(c.port(), 1), 0);
}

TEST(proxy_disaggregation, a_skipped_prefills_decode_is_retried_by_the_decode_rules) {
  std::atomic<int> answers{0};
  scripted_backend decoder([&](const http::request<http::string_body>&) {
    if (answers.fetch_add(1) == 0) {
      return scripted_answer{http_response(503, "application/json", R"({"error":"busy"})")};
    }
    return scripted_answer{http_response(200, "application/json", R"({"choices":[{"text":"ok"}]})")};
  });
  backend_group decoders;
  decoders.ports = {decoder.port()};
  cluster c({{fast_engines(1)}}, {decoders}, [](proxy_config& config) {
    config.disagg_min_prompt_tokens = 100;
    config.max_retries = 2;
    config.decode_retry_kv = decode_retry_kv::reprefill;  // a skipped prefill has no KV to prefill again
  });
  const std::string body = R"({"prompt":"hi","max_tokens":2,"kv_transfer_params":{"remote_host":"evil"}})";
  const auto reply = request(c.port(), post(body, "retried"));
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(reply.body, R"({"choices":[{"text":"ok"}]})");
  const auto received = decoder.received();
  ASSERT_EQ(received.size(), 2u);
  for (const auto& r : received) {
    EXPECT_EQ(r.body(), R"({"prompt":"hi","max_tokens":2})");  // the client's own KV params never pass
    EXPECT_EQ(r["X-Request-Id"], "retried");
  }
  EXPECT_TRUE(c.prefill_servers()[0]->recorded(0).empty());
  EXPECT_EQ(skipped_after(c.port(), 1), 1);
  EXPECT_EQ(metrics_of(c.port()).at(R"(pd_proxy_retries_total{role="decode"})"), 1);
}

cli_outcome parsed(const proxy_config& config) {
  return cli_outcome{config, 0, {}};
}

TEST(proxy_disaggregation, the_threshold_is_reloaded_for_new_requests) {
  cluster c({{fast_engines(1)}}, {{fast_engines(1)}});
  const auto prefilled = [&] { return c.prefill_servers()[0]->recorded(0).size(); };
  ASSERT_EQ(request(c.port(), post(short_stream, "before")).status, 200);
  EXPECT_EQ(prefilled(), 1u);

  proxy_config next = *c.state().latest_config();
  next.disagg_min_prompt_tokens = 100;
  ASSERT_TRUE(reload_configuration(c.proxy(), parsed(next), [](const pool_changes&) {}).accepted);
  ASSERT_EQ(request(c.port(), post(short_stream, "skipped")).status, 200);
  EXPECT_EQ(prefilled(), 1u);
  EXPECT_EQ(skipped_after(c.port(), 2), 1);

  next.disagg_min_prompt_tokens = 0;
  ASSERT_TRUE(reload_configuration(c.proxy(), parsed(next), [](const pool_changes&) {}).accepted);
  ASSERT_EQ(request(c.port(), post(short_stream, "after")).status, 200);
  EXPECT_EQ(prefilled(), 2u);
  EXPECT_EQ(skipped_after(c.port(), 3), 1);
  EXPECT_TRUE(eventually([&] { return c.idle(); }));
}

}  // namespace
}  // namespace pd_proxy::test
