#include "pd_proxy/mock/mock_engine.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <chrono>
#include <limits>

#include "pd_proxy/core/http/http_wire.hpp"
#include "pd_proxy/core/http/request_id.hpp"
#include "pd_proxy/core/http/routes.hpp"
#include "pd_proxy/mock/layerwise_pairing.hpp"
#include "pd_proxy/mock/openai_format.hpp"
#include "pd_proxy/mock/prefix_cache.hpp"
#include "pd_proxy/mock/sglang_pairing.hpp"
#include "pd_proxy/net/backend/backend_connection.hpp"
#include "pd_proxy/net/client/client_request_reader.hpp"
#include "pd_proxy/net/http/client_response.hpp"
#include "pd_proxy/net/operation_timer.hpp"

namespace pd_proxy::mock {
namespace {

constexpr std::size_t max_recorded = 256;
constexpr seconds_d claim_timeout{30.0};  // generous: a busy prefiller answers late, not never

bool flag_true(const json& object, const char* key) {
  auto it = object.find(key);
  return it != object.end() && it->is_boolean() && it->get<bool>();
}

// Sleeps unless `d` is zero; false when cancelled.
net::awaitable<bool> pause(duration d) {
  if (d.count() <= 0) co_return true;
  co_return co_await sleep_for(std::chrono::duration_cast<seconds_d>(d));
}

enum class outcome { served, died };

}  // namespace

//------------------------------------------------------------------------------

class engine {
 public:
  engine(net::io_context& io, const mock_options& options, const tcp::endpoint& endpoint, std::size_t index)
      : io_(io),
        options_(options),
        acceptor_(std::in_place, io),
        kv_(options.kv_blocks, options.block_tokens),
        cache_(options.prefix_cache_blocks, options.block_tokens),
        pushes_(io.get_executor()),
        rng_(options.seed * 1000003 + index) {
    acceptor_->open(endpoint.protocol());
    acceptor_->set_option(net::socket_base::reuse_address(true));
    acceptor_->bind(endpoint);
    acceptor_->listen(net::socket_base::max_listen_connections);
    port_ = acceptor_->local_endpoint().port();
    engine_id_ = "mock-engine-" + std::to_string(port_);
  }

  void start() {
    net::co_spawn(io_, accept_loop(), net::detached);
    net::co_spawn(io_, expiry_loop(), net::detached);
  }

  void stop() {
    error_code ignored;
    acceptor_->close(ignored);
    stopping_ = true;
  }

  /// Destroys the engine's own I/O object while the io_context lives; the engine's plain state must outlive
  /// the io_context, whose destruction destroys coroutine frames that still refer to it.
  void release_io() { acceptor_.reset(); }

  std::uint16_t port() const { return port_; }
  engine_stats stats;

  std::vector<recorded_request> recorded() const {
    std::lock_guard lock(record_mutex_);
    return {records_.begin(), records_.end()};
  }

 private:
  // A slot among --max-num-seqs running sequences; waits in FIFO order for one.
  struct waiter {
    net::steady_timer timer;
    bool granted = false;
  };
  class slot {
   public:
    explicit slot(engine* e) : engine_(e) {}
    slot(slot&& o) noexcept : engine_(std::exchange(o.engine_, nullptr)) {}
    slot& operator=(slot&&) = delete;
    ~slot() {
      if (engine_) engine_->release_slot();
    }
    explicit operator bool() const { return engine_ != nullptr; }

   private:
    engine* engine_;
  };

  // The KV blocks a running sequence holds for its prompt and generated tokens, counted in
  // vllm:kv_cache_usage_perc while it runs (as vLLM counts a running request's blocks).
  class kv_hold {
   public:
    explicit kv_hold(engine* e) : engine_(e) {}
    kv_hold(const kv_hold&) = delete;
    kv_hold& operator=(const kv_hold&) = delete;
    ~kv_hold() { engine_->running_blocks_ -= blocks_; }
    /// Holds the blocks of `tokens` tokens (0 releases them).
    void cover(int tokens) {
      const auto bt = engine_->options_.block_tokens;
      const std::size_t need = (static_cast<std::size_t>(std::max(0, tokens)) + bt - 1) / bt;
      engine_->running_blocks_ += need;
      engine_->running_blocks_ -= blocks_;
      blocks_ = need;
    }

   private:
    engine* engine_;
    std::size_t blocks_ = 0;
  };

  // Blocks held for prefilled requests not yet claimed and by running sequences, over all blocks.
  double kv_usage() const {
    const auto total = static_cast<double>(kv_.total_blocks());
    if (total <= 0) return 0.0;
    return std::min(1.0, static_cast<double>(kv_.used_blocks() + running_blocks_) / total);
  }

  // Prefills `body` here: looks its blocks up in the prefix cache (counted as vLLM counts: every prompt token
  // queried, the cached ones hit), waits the prefill time of the uncached tokens, then caches the blocks.
  // The cached tokens, or nullopt when cancelled during the wait (nothing is cached then).
  net::awaitable<std::optional<int>> prefill(const json& body, int prompt_tokens) {
    std::vector<block_hash> hashes;
    int cached = 0;
    if (cache_.enabled()) {
      hashes = prompt_block_hashes(render_prompt(body), cache_.block_tokens(), chars_per_token);
      cached = cache_.lookup(hashes, prompt_tokens);
      stats.prefix_cache_queries += static_cast<std::uint64_t>(prompt_tokens);
      stats.prefix_cache_hits += static_cast<std::uint64_t>(cached);
    }
    if (!co_await pause(prefill_time(options_.timing, prompt_tokens, cached))) co_return std::nullopt;
    cache_.insert(hashes);
    co_return cached;
  }

  net::awaitable<slot> acquire_slot() {
    if (running_ < options_.max_num_seqs) {
      ++running_;
      stats.running = running_;
      co_return slot(this);
    }
    waiter w{net::steady_timer(io_, std::chrono::steady_clock::duration::max())};
    waiters_.push_back(&w);
    stats.waiting = static_cast<int>(waiters_.size());
    co_await w.timer.async_wait(use_nothrow);
    if (!w.granted) {
      std::erase(waiters_, &w);
      stats.waiting = static_cast<int>(waiters_.size());
      co_return slot(nullptr);
    }
    co_return slot(this);
  }

  void release_slot() {
    if (!waiters_.empty()) {
      waiter* next = waiters_.front();  // the slot passes to the next waiter; running stays the same
      waiters_.pop_front();
      next->granted = true;
      next->timer.cancel();
      stats.waiting = static_cast<int>(waiters_.size());
      return;
    }
    --running_;
    stats.running = running_;
  }

  net::awaitable<void> accept_loop() {
    co_await net::this_coro::throw_if_cancelled(false);
    while (acceptor_->is_open()) {
      auto [ec, socket] = co_await acceptor_->async_accept(use_nothrow);
      if (ec) {
        if (!acceptor_->is_open()) co_return;
        co_await sleep_for(seconds_d{0.05});
        continue;
      }
      net::co_spawn(io_, session(std::move(socket)), net::detached);
    }
  }

  net::awaitable<void> expiry_loop() {
    co_await net::this_coro::throw_if_cancelled(false);
    while (!stopping_) {
      if (!co_await sleep_for(seconds_d{0.25}) || stopping_) co_return;
      const auto expired = kv_.expire(
          std::chrono::steady_clock::now(),
          std::chrono::duration_cast<std::chrono::steady_clock::duration>(seconds_d{options_.kv_timeout_s}));
      stats.kv_expired += expired;
      stats.kv_blocks_held = kv_.used_blocks();
    }
  }

  net::awaitable<void> session(tcp::socket socket) {
    co_await net::this_coro::throw_if_cancelled(false);
    ++stats.open_connections;
    error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    beast::flat_buffer buffer;
    buffer.reserve(16 * 1024);
    const request_limits limits{64 * 1024, 256 * 1024 * 1024, seconds_d{600}, seconds_d{600}, seconds_d{600}};
    operation_timer read_timer, write_timer;
    refusal refused;  // the engine keeps no request metrics
    while (!stopping_) {
      auto message = co_await read_client_request(socket, buffer, limits, read_timer, bodies_, refused);
      if (!message) break;
      if (!co_await handle(socket, write_timer, buffer, message->request)) break;
    }
    socket.shutdown(tcp::socket::shutdown_send, ignored);
    socket.close(ignored);
    --stats.open_connections;
  }

  void record(const http::request<http::string_body>& req) {
    std::lock_guard lock(record_mutex_);
    records_.push_back({std::string(req.target()), std::string(req["X-Request-Id"]),
                        std::string(req[http::field::authorization]), req.body()});
    if (records_.size() > max_recorded) records_.pop_front();
  }

  net::awaitable<bool> handle(tcp::socket& socket, operation_timer& write_timer, beast::flat_buffer& buffer,
                              http::request<http::string_body>& req) {
    const std::string_view path = path_of(req.target());
    std::string request_id(req["X-Request-Id"]);
    if (request_id.empty()) request_id = new_request_id();
    client_response response(socket, write_timer, request_id, req.keep_alive(), req.version() == 10,
                             seconds_d{600});

    if (req.method() == http::verb::get && path == "/health") {
      co_await response.send_whole(200, "application/json", "");
    } else if (req.method() == http::verb::get && path == "/v1/models") {
      co_await response.send_whole(200, "application/json", models_body());
    } else if (req.method() == http::verb::get && path == "/metrics") {
      co_await response.send_whole(200, "text/plain; version=0.0.4", metrics_body());
    } else if (req.method() == http::verb::post && path == "/kv/claim") {
      co_await serve_claim(req, response);
    } else if (req.method() == http::verb::post && path == "/bootstrap/claim") {
      const auto [status, text] = co_await answer_bootstrap_claim(rooms_, req.body());
      co_await response.send_whole(status, "application/json", text);
    } else if (req.method() == http::verb::post && path == "/mock/kv_push") {
      const auto pushed = parse_json_object(req.body());
      const bool waited = pushed && pushes_.push(pushed->value("request_id", std::string()));
      co_await response.send_whole(waited ? 200 : 404, "application/json",
                                   waited ? "{}" : R"({"waited":false})");
    } else if (req.method() == http::verb::post && path == "/reset_prefix_cache") {
      cache_.clear();
      co_await response.send_whole(200, "application/json", "");
    } else if (req.method() == http::verb::post &&
               (path == "/v1/completions" || path == "/v1/chat/completions")) {
      using namespace net::experimental::awaitable_operators;
      record(req);
      client_watch watch;
      auto finished = co_await (generate(socket, req, path == "/v1/chat/completions", request_id, response) ||
                                watch_client(socket, buffer, /*ignore_half_close=*/false, watch));
      if (finished.index() == 1) {
        ++stats.aborted;
        co_return false;
      }
      if (std::get<0>(finished) == outcome::died) co_return false;
    } else {
      co_await response.send_whole(404, "application/json", format_error(404, "NotFoundError", "Not Found"));
    }
    co_return response.keep_alive();
  }

  std::string models_body() const {
    return dump_json(json{{"object", "list"},
                          {"data", json::array({json{{"id", options_.model},
                                                     {"object", "model"},
                                                     {"created", 0},
                                                     {"owned_by", "vllm"},
                                                     {"root", options_.model},
                                                     {"parent", nullptr},
                                                     {"max_model_len", 32768}}})}});
  }

  std::string metrics_body() const {
    const std::string labels = "{engine=\"" + engine_id_ + "\",model_name=\"" + options_.model + "\"}";
    std::string out;
    auto metric = [&](const char* name, const char* type, const char* help, double value) {
      out.append("# HELP ").append(name).append(" ").append(help).append("\n# TYPE ").append(name);
      out.append(" ").append(type).append("\n").append(name).append(labels).append(" ");
      out.append(fmt::format("{}", value)).append("\n");
    };
    metric("vllm:num_requests_running", "gauge", "Number of requests in model execution batches.",
           stats.running);
    metric("vllm:num_requests_waiting", "gauge", "Number of requests waiting to be processed.",
           stats.waiting);
    metric("vllm:kv_cache_usage_perc", "gauge", "KV-cache usage. 1 means 100 percent usage.", kv_usage());
    metric("vllm:prefix_cache_queries_total", "counter",
           "Prefix cache queries, in terms of number of queried tokens.",
           static_cast<double>(stats.prefix_cache_queries));
    metric("vllm:prefix_cache_hits_total", "counter",
           "Prefix cache hits, in terms of number of cached tokens.",
           static_cast<double>(stats.prefix_cache_hits));
    metric("vllm:prompt_tokens_total", "counter", "Number of prefill tokens processed.",
           static_cast<double>(stats.prompt_tokens));
    metric("vllm:generation_tokens_total", "counter", "Number of generation tokens processed.",
           static_cast<double>(stats.generation_tokens));
    metric("pd_mock_prefill_requests_total", "counter", "Requests served in the prefill role.",
           static_cast<double>(stats.prefill_requests));
    metric("pd_mock_decode_requests_total", "counter", "Requests served in the decode role.",
           static_cast<double>(stats.decode_requests));
    metric("pd_mock_plain_requests_total", "counter", "Requests without PD parameters.",
           static_cast<double>(stats.plain_requests));
    metric("pd_mock_local_prefills_total", "counter", "Requests prefilled here without a remote KV.",
           static_cast<double>(stats.local_prefills));
    metric("pd_mock_kv_pull_failures_total", "counter", "Decode requests whose KV could not be claimed.",
           static_cast<double>(stats.kv_pull_failures));
    metric("pd_mock_kv_blocks_held", "gauge", "KV blocks held for prefilled requests not yet claimed.",
           static_cast<double>(kv_.used_blocks()));
    metric("pd_mock_kv_expired_total", "counter", "Prefilled requests whose KV expired unclaimed.",
           static_cast<double>(stats.kv_expired));
    metric("pd_mock_aborted_requests_total", "counter", "Requests aborted by a client disconnect.",
           static_cast<double>(stats.aborted));
    metric("pd_mock_injected_failures_total", "counter", "Requests failed by fault injection.",
           static_cast<double>(stats.failed));
    return out;
  }

  net::awaitable<void> serve_claim(const http::request<http::string_body>& req, client_response& response) {
    auto body = parse_json_object(req.body());
    const auto id = body ? body->value("remote_request_id", std::string()) : std::string();
    const auto engine_id = body ? body->value("remote_engine_id", std::string()) : std::string();
    if (engine_id == engine_id_ && kv_.claim(id)) {
      stats.kv_blocks_held = kv_.used_blocks();
      co_await response.send_whole(200, "application/json", R"({"claimed":true})");
    } else {
      co_await response.send_whole(404, "application/json", R"({"claimed":false})");
    }
  }

  // Claims the KV named by a decode request's params from its prefiller. False when they are unusable.
  net::awaitable<bool> claim_remote_kv(const json& kv, std::string_view request_id) {
    const auto host = kv.find("remote_host");
    const auto port = kv.find("remote_port");
    const auto blocks = kv.find("remote_block_ids");
    if (host == kv.end() || !host->is_string() || port == kv.end() || !port->is_number_integer() ||
        blocks == kv.end() || !blocks->is_array() || blocks->empty()) {
      co_return false;
    }
    if (!options_.kv_side_channel) co_return true;
    const json claim{{"remote_request_id", kv.value("remote_request_id", std::string(request_id))},
                     {"remote_engine_id", kv.value("remote_engine_id", std::string())}};
    const std::string body = dump_json(claim);
    const backend_address address{host->get<std::string>(), static_cast<std::uint16_t>(port->get<int>())};
    operation_timer connect_timer;
    auto [ec, connection] = co_await connect_backend(address, claim_timeout, connect_timer);
    if (ec) co_return false;
    const std::string head =
        format_backend_request_head({"POST", "/kv/claim", address.authority(), request_id, {}, body.size()});
    const std::array<net::const_buffer, 2> request{net::buffer(head), net::buffer(body)};
    auto [write_ec, n] = co_await timed(
        [&](auto token) { return net::async_write(connection->socket, request, token); }, claim_timeout);
    if (write_ec) co_return false;
    http::response<http::string_body> answer;
    auto [read_ec, m] = co_await timed(
        [&](auto token) { return http::async_read(connection->socket, connection->buffer, answer, token); },
        claim_timeout);
    co_return !read_ec && answer.result_int() == 200;
  }

  // A layerwise decode: calls the metaserver back for each of its ids (concurrently, as the connector's
  // thread pool), then waits for every id's KV push. Nullopt once the KV is in; else the status and message.
  net::awaitable<std::optional<std::pair<int, std::string>>> receive_layerwise_kv(
      const json& kv, const json& body, bool chat, const std::string& request_id, int prompt_tokens) {
    std::string host, target;
    std::uint16_t port = 0;
    if (!is_loopback_url(kv["metaserver"].get<std::string>(), host, port, target)) {
      co_return std::pair{400, std::string("pd-mock calls back loopback metaserver URLs only")};
    }
    const auto ids = layerwise_ids(body, chat, request_id);
    const auto waiting = pushes_.expect(ids);
    json blocks = json::array();
    const auto count = std::min<std::size_t>(
        1024, (static_cast<std::size_t>(std::max(prompt_tokens, 1)) + options_.block_tokens - 1) /
                  options_.block_tokens);
    for (std::size_t i = 0; i < count; ++i) blocks.push_back(i);
    for (const auto& id : ids) {
      const json callback{
          {"token_ids", json::array()},
          {"request_id", id},
          {"do_remote_prefill", false},
          {"do_remote_decode", true},
          {"remote_block_ids", blocks},
          {"remote_block_size", options_.block_tokens},
          {"remote_engine_id", engine_id_},
          {"remote_host", options_.advertise_host.empty() ? options_.host : options_.advertise_host},
          {"remote_port", port_},
          {"remote_tp_size", 1},
          {"remote_pcp_size", 1},
          {"remote_dcp_size", 1},
          {"remote_cached_tokens", 0}};
      net::co_spawn(io_, post_metaserver(host, port, target, dump_json(callback), claim_timeout),
                    net::detached);
    }
    if (!co_await waiting->wait(seconds_d{options_.layerwise_kv_timeout_s})) {
      co_return std::pair{500,
                          std::string("the prefiller's KV did not arrive within --layerwise-kv-timeout")};
    }
    co_return std::nullopt;
  }

  std::optional<int> injected_failure() {
    const auto& f = options_.faults;
    const int status = f.fail_status != 0 ? f.fail_status : 500;
    const auto n = ++request_count_;
    if (f.fail_first > 0 && n <= static_cast<std::uint64_t>(f.fail_first)) return status;
    if (f.fail_status != 0 && f.fail_rate <= 0 && f.fail_first <= 0) return status;
    if (f.fail_rate > 0 && std::uniform_real_distribution<double>(0, 1)(rng_) < f.fail_rate) return status;
    return std::nullopt;
  }

  net::awaitable<outcome> generate(tcp::socket& socket, const http::request<http::string_body>& req,
                                   bool chat, std::string request_id, client_response& response) {
    co_await net::this_coro::throw_if_cancelled(false);
    ++stats.requests;
    auto body = parse_json_object(req.body());
    if (!body) {
      co_await response.send_whole(
          400, "application/json",
          format_error(400, "BadRequestError", "The request body is not a JSON object."));
      co_return outcome::served;
    }
    if (options_.faults.hang) {
      co_await sleep_for(seconds_d{1e9});  // until the client goes away
      co_return outcome::served;
    }
    if (auto status = injected_failure()) {
      ++stats.failed;
      co_await response.send_whole(
          *status, "application/json",
          format_error(*status, "InternalServerError", "injected failure (pd-mock)"));
      co_return outcome::served;
    }
    const json kv = body->contains("kv_transfer_params") && (*body)["kv_transfer_params"].is_object()
                        ? (*body)["kv_transfer_params"]
                        : json::object();
    // SGLang's roles are the engine's; the request must carry its bootstrap fields (sglang_pairing.hpp).
    const bool sglang = !options_.disaggregation_mode.empty();
    const bootstrap_fields bootstrap = sglang ? read_bootstrap_fields(*body) : bootstrap_fields{};
    if (!bootstrap.error.empty()) {
      co_await response.send_whole(400, "application/json",
                                   format_error(400, "BadRequestError", bootstrap.error));
      co_return outcome::served;
    }
    // vLLM's prompt_logprobs checks (entrypoints/openai protocol, check_logprobs).
    const auto asked_logprobs = sglang ? body->end() : body->find("prompt_logprobs");
    const bool wants_logprobs = asked_logprobs != body->end() && !asked_logprobs->is_null();
    if (wants_logprobs) {
      std::string error;
      if (!asked_logprobs->is_number_integer()) {
        error = "`prompt_logprobs` must be an integer.";
      } else if (const auto n = asked_logprobs->get<long long>(); wants_stream(*body) && (n > 0 || n == -1)) {
        error = "`prompt_logprobs` are not available when `stream=True`.";
      } else if (n < -1) {
        error = "`prompt_logprobs` must be a positive value or -1.";
      }
      if (!error.empty()) {
        co_await response.send_whole(400, "application/json", format_error(400, "BadRequestError", error));
        co_return outcome::served;
      }
    }
    const seconds_d bootstrap_timeout{options_.bootstrap_timeout_s};
    const bool prefill_role =
        sglang ? options_.disaggregation_mode == "prefill" : flag_true(kv, "do_remote_decode");
    const bool decode_role = sglang ? options_.disaggregation_mode == "decode"
                                    : !prefill_role && flag_true(kv, "do_remote_prefill");
    const int prompt_tokens = estimate_prompt_tokens(*body);
    const bool layerwise = prefill_role ? is_layerwise_prefill(kv) : decode_role && is_layerwise_decode(kv);
    if (layerwise && prefill_role) {
      if (const auto error = layerwise_prefill_error(*body); !error.empty()) {
        ++stats.failed;
        co_await response.send_whole(400, "application/json", format_error(400, "BadRequestError", error));
        co_return outcome::served;
      }
    }

    if (prefill_role && options_.faults.reject_prefill_400) {
      ++stats.failed;
      co_await response.send_whole(
          400, "application/json",
          format_error(400, "BadRequestError",
                       "This model's maximum context length is 32768 tokens. However, you requested " +
                           std::to_string(prompt_tokens + 1) + " tokens in the messages."));
      co_return outcome::served;
    }

    auto held = co_await acquire_slot();
    if (!held) co_return outcome::served;  // cancelled while waiting
    kv_hold kv_held(this);
    kv_held.cover(prompt_tokens);

    const std::int64_t now =
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
            .count();
    completion_spec spec{chat,           response_id(chat, request_id),
                         options_.model, options_.created ? options_.created : now,
                         prompt_tokens,  0,
                         std::nullopt,   0,
                         std::nullopt};

    if (prefill_role) {
      ++stats.prefill_requests;
      const auto cached = co_await prefill(*body, prompt_tokens);
      if (!cached) co_return outcome::served;
      spec.cached_tokens = *cached;
      stats.prompt_tokens += static_cast<std::uint64_t>(prompt_tokens);
      stats.generation_tokens += 1;
      if (sglang) {
        // The KV goes to the decoder that claims the room; the answer comes once it did.
        if (!co_await rooms_.offer(bootstrap.room, bootstrap_timeout)) {
          if (co_await cancelled()) co_return outcome::served;
          co_await response.send_whole(500, "application/json",
                                       format_error(500, "InternalServerError",
                                                    "KV transfer timed out: no decode "
                                                    "claimed the bootstrap room"));
          co_return outcome::served;
        }
        spec.completion_tokens = 1;
        co_await answer_one_token(response, spec, wants_stream(*body), token_text(request_id, 0));
        co_return outcome::served;
      }
      if (layerwise) {  // the KV goes to the decoders now; the answer carries none
        spec.completion_tokens = 1;
        for (const auto& target : layerwise_push_targets(kv)) {
          if (!co_await push_kv(target.host, target.port, target.request_id, claim_timeout)) {
            co_await response.send_whole(
                500, "application/json",
                format_error(500, "InternalServerError", "KV push to " + target.request_id + " failed"));
            co_return outcome::served;
          }
        }
        co_await response.send_whole(200, "application/json",
                                     format_full_response(spec, token_text(request_id, 0)));
        co_return outcome::served;
      }
      kv_held.cover(0);  // the KV table holds them from here
      auto blocks = kv_.allocate(request_id, prompt_tokens, std::chrono::steady_clock::now());
      if (!blocks) {
        co_await response.send_whole(503, "application/json",
                                     format_error(503, "ServiceUnavailableError", "KV cache is full"));
        co_return outcome::served;
      }
      stats.kv_blocks_held = kv_.used_blocks();
      spec.completion_tokens = 1;
      if (wants_logprobs)
        spec.prompt_logprobs = format_prompt_logprobs(render_prompt(*body).text, prompt_tokens);
      spec.kv_transfer_params =
          json{{"do_remote_prefill", true},
               {"do_remote_decode", false},
               {"remote_block_ids", *blocks},
               {"remote_engine_id", engine_id_},
               {"remote_host", options_.advertise_host.empty() ? options_.host : options_.advertise_host},
               {"remote_port", port_},
               {"tp_size", 1},
               {"remote_request_id", request_id}};
      if (options_.faults.drop_kv_params) {
        kv_.claim(request_id);  // nobody will pull it
        spec.kv_transfer_params.reset();
      }
      co_await response.send_whole(200, "application/json",
                                   format_full_response(spec, token_text(request_id, 0)));
      co_return outcome::served;
    }

    bool local_prefill = true;
    if (decode_role) {
      ++stats.decode_requests;
      if (layerwise) {
        if (auto error = co_await receive_layerwise_kv(kv, *body, chat, request_id, prompt_tokens)) {
          ++stats.kv_pull_failures;
          co_await response.send_whole(error->first, "application/json",
                                       format_error(error->first, "BadRequestError", error->second));
          co_return outcome::served;
        }
        ++stats.kv_pulls;
        local_prefill = false;
        spec.cached_tokens = std::max(0, prompt_tokens - 1);
      } else if (sglang ? co_await claim_from_prefill(bootstrap, request_id, bootstrap_timeout)
                        : co_await claim_remote_kv(kv, request_id)) {
        ++stats.kv_pulls;
        local_prefill = false;
        // As vLLM's num_cached_tokens: the prompt's KV came from the prefiller but for the last token, which
        // the decoder computes. The decoder's own prefix cache is neither queried nor filled.
        spec.cached_tokens = std::max(0, prompt_tokens - 1);
        // Nor did it compute the prompt's logits: it cannot tell their logprobs.
        if (wants_logprobs) spec.prompt_logprobs = unknown_prompt_logprobs(prompt_tokens);
      } else {
        ++stats.kv_pull_failures;
      }
      if (co_await cancelled()) co_return outcome::served;
      if (sglang && local_prefill) {  // SGLang's decode aborts: there is no local prefill
        co_await response.send_whole(
            500, "application/json",
            format_error(500, "InternalServerError",
                         "KV transfer failed: the prefill of the bootstrap room never "
                         "showed up"));
        co_return outcome::served;
      }
    } else {
      ++stats.plain_requests;
    }
    if (local_prefill) {
      ++stats.local_prefills;
      stats.prompt_tokens += static_cast<std::uint64_t>(prompt_tokens);
      const auto cached = co_await prefill(*body, prompt_tokens);
      if (!cached) co_return outcome::served;
      spec.cached_tokens = *cached;
      if (wants_logprobs)
        spec.prompt_logprobs = format_prompt_logprobs(render_prompt(*body).text, prompt_tokens);
    }
    spec.completion_tokens = requested_tokens(*body, chat);
    const auto first_delay = std::chrono::duration_cast<duration>(
        std::chrono::duration<double, std::milli>(options_.timing.slow_first_token_ms));
    if (!co_await pause(first_delay)) co_return outcome::served;

    const int die_after = options_.faults.die_after_chunks;
    if (!wants_stream(*body)) {
      std::string text;
      for (int i = 0; i < spec.completion_tokens; ++i) {
        if (!co_await pause(decode_step_time(options_.timing, running_))) co_return outcome::served;
        text += token_text(request_id, i);
        ++stats.generation_tokens;
        kv_held.cover(prompt_tokens + i + 1);
      }
      const std::string full = format_full_response(spec, text);
      if (die_after >= 0) {
        response.start_stream(200, "application/json");
        co_await response.write_chunk(std::string_view(full).substr(0, full.size() / 2));
        error_code ignored;
        socket.close(ignored);
        co_return outcome::died;
      }
      co_await response.send_whole(200, "application/json", full);
      co_return outcome::served;
    }

    const auto stream_options = body->find("stream_options");
    const bool include_usage = stream_options != body->end() && stream_options->is_object() &&
                               flag_true(*stream_options, "include_usage");
    response.start_stream(200, "text/event-stream; charset=utf-8");
    // Events with no delay between them go out in one write, as a server under no load would send them.
    std::string pending;
    int events = 0;
    auto flush = [&]() -> net::awaitable<bool> {
      if (pending.empty()) co_return true;
      const bool ok = !co_await response.write_chunk(pending);
      pending.clear();
      co_return ok;
    };
    auto send = [&](std::string event) -> net::awaitable<bool> {
      if (die_after >= 0 && events >= die_after) {
        co_await flush();
        error_code ignored;
        socket.close(ignored);
        co_return false;
      }
      ++events;
      pending += event;
      co_return true;
    };
    if (chat && !co_await send(format_role_event(spec))) co_return outcome::died;
    for (int i = 0; i < spec.completion_tokens; ++i) {
      const auto step = decode_step_time(options_.timing, running_);
      if (step.count() > 0 && (!co_await flush() || !co_await pause(step))) co_return outcome::served;
      ++stats.generation_tokens;
      kv_held.cover(prompt_tokens + i + 1);
      if (!co_await send(
              format_token_event(spec, token_text(request_id, i), i + 1 == spec.completion_tokens))) {
        co_return outcome::died;
      }
    }
    if (include_usage && !co_await send(format_usage_event(spec))) co_return outcome::died;
    if (!co_await send(std::string(done_event))) co_return outcome::died;
    if (!co_await flush()) co_return outcome::served;
    co_await response.end_stream(true);
    co_return outcome::served;
  }

  net::io_context& io_;
  const mock_options& options_;
  std::optional<tcp::acceptor> acceptor_;
  std::uint16_t port_ = 0;
  std::string engine_id_;
  kv_block_table kv_;
  prefix_cache cache_;
  bootstrap_rooms rooms_;           // --disaggregation-mode prefill: rooms offered to decoders
  kv_push_waits pushes_;            // layerwise decodes waiting for their KV
  std::size_t running_blocks_ = 0;  // KV blocks of running sequences (kv_hold)
  std::mt19937_64 rng_;
  std::uint64_t request_count_ = 0;
  int running_ = 0;
  std::deque<waiter*> waiters_;
  bool stopping_ = false;
  body_budget bodies_{std::numeric_limits<std::size_t>::max()};  // the engine bounds bodies per request only
  mutable std::mutex record_mutex_;
  std::deque<recorded_request> records_;
};

//------------------------------------------------------------------------------

mock_server::mock_server(mock_options options) : options_(std::move(options)) {
  const auto address = net::ip::make_address(options_.host);
  try {
    for (int i = 0; i < options_.ports_count; ++i) {
      const std::uint16_t port = options_.port == 0 ? 0 : static_cast<std::uint16_t>(options_.port + i);
      engines_.push_back(
          std::make_unique<engine>(io_, options_, tcp::endpoint(address, port), engines_.size()));
    }
  } catch (...) {
    // The destructor does not run for a constructor that throws, and io_ is destroyed before engines_: the
    // engines built so far must drop their acceptors while io_ lives (a port of the range was taken).
    for (auto& e : engines_) e->release_io();
    throw;
  }
}

mock_server::~mock_server() {
  stop();
  for (auto& e : engines_) e->release_io();
}

void mock_server::start() {
  if (started_) return;
  started_ = true;
  for (auto& e : engines_) e->start();
  thread_ = std::thread([this] { io_.run(); });
}

void mock_server::stop() {
  if (thread_.joinable()) {
    net::post(io_, [this] {
      for (auto& e : engines_) e->stop();
      io_.stop();
    });
    thread_.join();
  }
}

std::size_t mock_server::size() const {
  return engines_.size();
}
std::uint16_t mock_server::port(std::size_t i) const {
  return engines_[i]->port();
}
const engine_stats& mock_server::stats(std::size_t i) const {
  return engines_[i]->stats;
}
std::vector<recorded_request> mock_server::recorded(std::size_t i) const {
  return engines_[i]->recorded();
}
std::size_t mock_server::kv_blocks_held(std::size_t i) const {
  return engines_[i]->stats.kv_blocks_held.load();
}

}  // namespace pd_proxy::mock
