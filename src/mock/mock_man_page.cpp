// The prose of pd-mock(1); the options come from the flag table (core/config/man_page.hpp).
#include "pd_proxy/mock/mock_options.hpp"

namespace pd_proxy::mock {

man_page mock_man_page() {
  man_page page;
  page.program = "pd-mock";
  page.summary = "simulator of vLLM servers in a prefill-decode deployment";
  page.synopses = {"[OPTION]..."};
  page.before_options = {
      {"DESCRIPTION",
       R"(pd-mock behaves like vLLM OpenAI servers in a prefill-decode deployment, so that pd-proxy
can be demonstrated, tested, rehearsed and benchmarked without accelerators. It runs --ports-count
independent engines on --port, --port+1, ...; each has its own state, engine id, KV block table and
counters.

A request whose kv_transfer_params.do_remote_decode is true is served as a prefill: the engine
holds KV blocks and answers one token with the kv_transfer_params a decoder needs. A request whose
do_remote_prefill is true is served as a decode: the engine claims the blocks from the named
prefiller over POST /kv/claim (a local prefill when the claim fails) and generates the tokens.
Other requests are served as by a plain server. The routes are POST /v1/completions,
POST /v1/chat/completions, GET /health, GET /v1/models, GET /metrics, POST /kv/claim and
POST /reset_prefix_cache.

Each engine has a prefix cache, as vLLM's automatic prefix caching: the prompt (the chat messages
in order with their roles) is cut into blocks of --block-tokens tokens, each full block hashed
together with the blocks before it, and the blocks an engine prefilled are kept in an LRU of
--prefix-cache-blocks blocks. A prefill computes only the tokens after the longest run of leading
blocks found; the hits are counted in vllm:prefix_cache_queries_total and
vllm:prefix_cache_hits_total and answered in usage.prompt_tokens_details.cached_tokens.

Delays follow a timing model (prefill time per uncached prompt token, decode step time growing
with the running sequences), and faults can be injected (the Faults options).)"}};
  page.after_options = {{"SIGNALS", R"(* SIGTERM, SIGINT
Stop the engines and exit.)"},
                        {"EXIT STATUS", R"(* 0
Stopped by a signal, or after --help.

* 1
An engine could not start (a port is taken).

* 2
A usage error.)"},
                        {"EXAMPLES", R"(Sixteen engines on ports 9000 to 9015, answering as fast as they can:

    pd-mock --host 127.0.0.1 --port 9000 --ports-count 16 --no-delay

Engines that fail a tenth of the requests with 503:

    pd-mock --port 9100 --ports-count 4 --fail-rate 0.1 --fail-status 503)"},
                        {"SEE ALSO", R"(pd-proxy(1), pd-bench(1).)"}};
  return page;
}

}  // namespace pd_proxy::mock
