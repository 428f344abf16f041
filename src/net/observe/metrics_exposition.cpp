#include "pd_proxy/net/observe/metrics_exposition.hpp"

#include <dirent.h>
#include <prometheus/text_serializer.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <limits>
#include <sstream>

#ifndef PD_PROXY_VERSION
#define PD_PROXY_VERSION "unknown"
#endif

namespace pd_proxy {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

MetricFamily family(std::string name, std::string help, MetricType type) {
  MetricFamily f;
  f.name = std::move(name);
  f.help = std::move(help);
  f.type = type;
  return f;
}

ClientMetric value_metric(MetricType type, double value, std::vector<ClientMetric::Label> labels = {}) {
  ClientMetric m;
  m.label = std::move(labels);
  if (type == MetricType::Counter) {
    m.counter.value = value;
  } else {
    m.gauge.value = value;
  }
  return m;
}

MetricFamily single(std::string name, std::string help, MetricType type, double value) {
  MetricFamily f = family(std::move(name), std::move(help), type);
  f.metric.push_back(value_metric(type, value));
  return f;
}

MetricFamily histogram(std::string name, std::string help, const latency_histogram_totals& totals) {
  MetricFamily f = family(std::move(name), std::move(help), MetricType::Histogram);
  ClientMetric m;
  m.histogram.sample_count = totals.count;
  m.histogram.sample_sum = totals.sum;
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < latency_buckets; ++i) {
    cumulative += totals.buckets[i];
    const double bound =
        i < latency_bucket_bounds.size() ? latency_bucket_bounds[i] : std::numeric_limits<double>::infinity();
    m.histogram.bucket.push_back({cumulative, bound});
  }
  f.metric.push_back(std::move(m));
  return f;
}

// The process basics from /proc/self (Linux).
struct process_figures {
  double cpu_seconds = 0;
  double resident_bytes = 0;
  double virtual_bytes = 0;
  double start_time = 0;
  double open_fds = 0;
  double max_fds = 0;
};

process_figures read_process() {
  process_figures p;
  const double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
  const double page = static_cast<double>(::sysconf(_SC_PAGESIZE));
  std::ifstream stat_file("/proc/self/stat");
  std::string stat((std::istreambuf_iterator<char>(stat_file)), std::istreambuf_iterator<char>());
  const auto paren = stat.rfind(')');  // the command name may hold spaces: fields follow its ')'
  if (paren != std::string::npos) {
    std::istringstream fields(stat.substr(paren + 2));
    std::vector<std::string> f;
    for (std::string s; fields >> s;) f.push_back(s);
    // f[0] is field 3 (state): field k is f[k - 3]. strtod: a malformed field reads as 0, never throws.
    const auto number = [&f](std::size_t i) { return std::strtod(f[i].c_str(), nullptr); };
    if (f.size() > 21) {
      p.cpu_seconds = (number(11) + number(12)) / ticks;  // utime, stime
      p.virtual_bytes = number(20);                       // vsize
      p.resident_bytes = number(21) * page;               // rss (pages)
      double boot_time = 0;
      std::ifstream proc_stat("/proc/stat");
      for (std::string key; proc_stat >> key;) {
        if (key == "btime") {
          proc_stat >> boot_time;
          break;
        }
      }
      p.start_time = boot_time + number(19) / ticks;  // starttime, in ticks since boot
    }
  }
  if (DIR* fds = ::opendir("/proc/self/fd")) {
    std::size_t n = 0;
    while (const dirent* entry = ::readdir(fds)) {
      if (entry->d_name[0] != '.') ++n;
    }
    ::closedir(fds);
    p.open_fds = static_cast<double>(n > 0 ? n - 1 : 0);  // not the descriptor reading the directory
  }
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0) p.max_fds = static_cast<double>(limit.rlim_cur);
  return p;
}

ClientMetric::Label label(std::string name, std::string value) {
  return {std::move(name), std::move(value)};
}

}  // namespace

std::vector<backend_gauge> read_backend_gauges(const backend_registry& registry, const scheduler& sched,
                                               const engine_reports& engines) {
  std::vector<backend_gauge> out;
  const auto backends = registry.snapshot();
  for (const auto* pool : {&backends->prefillers, &backends->decoders}) {
    for (const auto& b : *pool) {
      const backend_status status = sched.status(*b);
      out.push_back({b->role(), b->authority(), status.load.inflight,
                     status.healthy && status.breaker != breaker_state::open, engines.last(b->id())});
    }
  }
  return out;
}

std::vector<MetricFamily> proxy_collector::Collect() const {
  const metrics_totals totals = sources_.metrics.totals();
  std::vector<MetricFamily> out;

  MetricFamily requests = family("pd_proxy_requests_total",
                                 "Client requests answered, by route and HTTP status", MetricType::Counter);
  for (std::size_t route = 0; route < request_route_count; ++route) {
    for (std::size_t slot = 0; slot < status_slots; ++slot) {
      const std::uint64_t n = totals.requests[route][slot];
      if (n == 0) continue;
      requests.metric.push_back(
          value_metric(MetricType::Counter, static_cast<double>(n),
                       {label("code", std::to_string(first_counted_status + static_cast<int>(slot))),
                        label("route", std::string(to_string(static_cast<request_route>(route))))}));
    }
  }
  out.push_back(std::move(requests));

  out.push_back(single("pd_proxy_inflight_requests", "PD requests in flight (admitted, not ended)",
                       MetricType::Gauge,
                       static_cast<double>(sources_.request_num.load(std::memory_order_relaxed))));
  out.push_back(single("pd_proxy_queued_requests", "Requests waiting for a --max-inflight slot",
                       MetricType::Gauge, static_cast<double>(sources_.admission.queued())));
  out.push_back(single("pd_proxy_client_connections", "Open client connections", MetricType::Gauge,
                       static_cast<double>(sources_.client_connections.load(std::memory_order_relaxed))));

  MetricFamily inflight =
      family("pd_proxy_backend_inflight", "Requests holding a reservation on a backend", MetricType::Gauge);
  MetricFamily healthy = family("pd_proxy_backend_healthy",
                                "1 when new requests may be routed to the backend (health checks passed, "
                                "circuit breaker not open), else 0",
                                MetricType::Gauge);
  MetricFamily engine_running = family("pd_proxy_backend_engine_running",
                                       "Requests running on the backend's engine (vllm:num_requests_running) "
                                       "at the last read of its /metrics; only while those reads succeed",
                                       MetricType::Gauge);
  MetricFamily engine_waiting = family("pd_proxy_backend_engine_waiting",
                                       "Requests waiting in the backend's engine (vllm:num_requests_waiting) "
                                       "at the last read of its /metrics; only while those reads succeed",
                                       MetricType::Gauge);
  MetricFamily engine_kv =
      family("pd_proxy_backend_engine_kv_cache_usage",
             "The backend's engine's KV-cache usage, 0 to 1 (vllm:kv_cache_usage_perc), at "
             "the last read of its /metrics; only while those reads succeed",
             MetricType::Gauge);
  for (const auto& b : read_backend_gauges(sources_.backends, sources_.sched, sources_.engines)) {
    const std::string role(to_string(b.role));
    inflight.metric.push_back(value_metric(MetricType::Gauge, static_cast<double>(b.inflight),
                                           {label("backend", b.backend), label("role", role)}));
    healthy.metric.push_back(value_metric(MetricType::Gauge, b.healthy ? 1 : 0,
                                          {label("backend", b.backend), label("role", role)}));
    if (!b.engine) continue;
    engine_running.metric.push_back(value_metric(MetricType::Gauge, b.engine->running,
                                                 {label("backend", b.backend), label("role", role)}));
    engine_waiting.metric.push_back(value_metric(MetricType::Gauge, b.engine->waiting,
                                                 {label("backend", b.backend), label("role", role)}));
    engine_kv.metric.push_back(value_metric(MetricType::Gauge, b.engine->kv_cache_usage,
                                            {label("backend", b.backend), label("role", role)}));
  }
  out.push_back(std::move(inflight));
  out.push_back(std::move(healthy));
  out.push_back(std::move(engine_running));
  out.push_back(std::move(engine_waiting));
  out.push_back(std::move(engine_kv));

  out.push_back(histogram("pd_proxy_time_to_first_token_seconds",
                          "Request received to the first decode byte written to the client", totals.ttft));
  out.push_back(histogram("pd_proxy_inter_token_latency_seconds",
                          "Time between two writes of relayed SSE events to a streaming client", totals.itl));
  out.push_back(histogram("pd_proxy_prefill_duration_seconds",
                          "Prefill leg: request sent to the prefiller until its answer (last attempt)",
                          totals.prefill));
  out.push_back(histogram("pd_proxy_decode_duration_seconds",
                          "Decode leg: request sent to the decoder until the relay ended (last attempt)",
                          totals.decode));
  out.push_back(histogram("pd_proxy_request_duration_seconds",
                          "Request received until its response ended (or the client went away)",
                          totals.duration));

  MetricFamily retries =
      family("pd_proxy_retries_total", "Backend attempts after the first, by leg", MetricType::Counter);
  for (const backend_role role : {backend_role::prefill, backend_role::decode}) {
    retries.metric.push_back(value_metric(MetricType::Counter,
                                          static_cast<double>(totals.retries[static_cast<std::size_t>(role)]),
                                          {label("role", std::string(to_string(role)))}));
  }
  out.push_back(std::move(retries));
  out.push_back(single("pd_proxy_client_disconnects_total",
                       "Clients that went away before their response ended", MetricType::Counter,
                       static_cast<double>(totals.client_disconnects)));

  MetricFamily errors =
      family("pd_proxy_backend_errors_total",
             "Failed backend attempts, by role, backend and kind (connect, timeout, transport, too_large, "
             "http_429, http_5xx)",
             MetricType::Counter);
  for (const auto& [key, n] : totals.backend_errors) {
    const auto& [role, backend, kind] = key;
    errors.metric.push_back(value_metric(MetricType::Counter, static_cast<double>(n),
                                         {label("backend", backend), label("kind", std::string(kind)),
                                          label("role", std::string(to_string(role)))}));
  }
  out.push_back(std::move(errors));
  out.push_back(single("pd_proxy_local_prefills_total",
                       "Prefills answered without kv_transfer_params (the decoder prefilled locally)",
                       MetricType::Counter, static_cast<double>(totals.local_prefills)));
  out.push_back(
      single("pd_proxy_skipped_prefills_total",
             "Requests whose prompt was estimated below --disagg-min-prompt-tokens: sent straight to "
             "a decoder, which prefilled locally",
             MetricType::Counter, static_cast<double>(totals.skipped_prefills)));
  out.push_back(single("pd_proxy_log_dropped_total",
                       "Log lines dropped because the asynchronous logger's queue was full",
                       MetricType::Counter, static_cast<double>(sources_.metrics.log_dropped())));
  out.push_back(single(
      "pd_proxy_access_log_dropped_total",
      "Access log lines lost: the access log's queue was full, or writing or reopening its file failed",
      MetricType::Counter, static_cast<double>(sources_.access.dropped())));

  MetricFamily reloads =
      family("pd_proxy_config_reloads_total",
             "Configuration reloads (SIGHUP), by result: applied, or rejected (the running "
             "configuration stayed)",
             MetricType::Counter);
  for (const auto& [result, n] : {std::pair{"applied", sources_.metrics.reloads_applied.load()},
                                  std::pair{"rejected", sources_.metrics.reloads_rejected.load()}}) {
    reloads.metric.push_back(
        value_metric(MetricType::Counter, static_cast<double>(n), {label("result", result)}));
  }
  out.push_back(std::move(reloads));

  MetricFamily scrapes =
      family("pd_proxy_metrics_scrapes_total",
             "Reads of the backends' /metrics for their engines' load, by result: ok, or "
             "failed (connect error, timeout, not 200, too large, not a vLLM metrics text)",
             MetricType::Counter);
  for (const auto& [result, n] : {std::pair{"ok", sources_.engines.scrapes_ok()},
                                  std::pair{"failed", sources_.engines.scrapes_failed()}}) {
    scrapes.metric.push_back(
        value_metric(MetricType::Counter, static_cast<double>(n), {label("result", result)}));
  }
  out.push_back(std::move(scrapes));

  MetricFamily build =
      family("pd_proxy_build_info", "The running pd-proxy's version (always 1)", MetricType::Gauge);
  build.metric.push_back(value_metric(MetricType::Gauge, 1, {label("version", PD_PROXY_VERSION)}));
  out.push_back(std::move(build));

  const process_figures p = read_process();
  out.push_back(single("process_cpu_seconds_total", "Total user and system CPU time spent in seconds",
                       MetricType::Counter, p.cpu_seconds));
  out.push_back(single("process_resident_memory_bytes", "Resident memory size in bytes", MetricType::Gauge,
                       p.resident_bytes));
  out.push_back(single("process_virtual_memory_bytes", "Virtual memory size in bytes", MetricType::Gauge,
                       p.virtual_bytes));
  out.push_back(single("process_start_time_seconds",
                       "Start time of the process since the Unix epoch in seconds", MetricType::Gauge,
                       p.start_time));
  out.push_back(single("process_open_fds", "Number of open file descriptors", MetricType::Gauge, p.open_fds));
  out.push_back(
      single("process_max_fds", "Maximum number of open file descriptors", MetricType::Gauge, p.max_fds));
  return out;
}

std::string render_metrics(const metrics_sources& sources) {
  sources.metrics.forget_backend_errors(sources.backends.living_labels());
  const proxy_collector collector(sources);
  const prometheus::TextSerializer serializer;
  return serializer.Serialize(collector.Collect());
}

}  // namespace pd_proxy
