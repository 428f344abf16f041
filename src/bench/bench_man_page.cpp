#include "pd_proxy/bench/bench_man_page.hpp"

namespace pd_proxy::bench {

man_page bench_man_page() {
  man_page page;
  page.program = "pd-bench";
  page.summary = "benchmark client for OpenAI-compatible servers";
  page.synopses = {"[OPTION]..."};
  page.before_options = {
      {"DESCRIPTION",
       R"(pd-bench measures an OpenAI-compatible server (pd-proxy, a vLLM engine, another proxy) the
way vllm bench serve does, and reports the same fields under the same JSON names: completed and
failed requests, request and token throughput, and the mean, median, standard deviation, 90th and
99th percentile of the time to first token (TTFT), time per output token (TPOT), inter-token
latency (ITL) and end-to-end latency.

The load is either a fixed number of requests in flight (--max-concurrency) or a request rate
with gamma-distributed gaps (--request-rate, --burstiness), for --num-prompts requests or
--duration seconds, after --warmup requests that are not measured. Prompts are synthetic
(--input-len tokens, --output-len max_tokens, each fixed or drawn from a distribution) or read
from a JSONL --dataset, sent in the file's order: each line a "prompt" or, for chat, a "messages"
array sent as is, an optional "output_len" and an optional "session" sent as the --session-header
header (X-Session-Id).

The summary is printed on stdout as a Markdown table; a progress line is printed every second on
stderr. The bearer token in OPENAI_API_KEY, when set, is sent with every request.)"}};
  page.after_options = {{"SIGNALS", R"(* SIGINT, SIGTERM
Stop sending, let the requests in flight finish and print the partial summary, marked as such. A
second one quits at once.)"},
                        {"ENVIRONMENT", R"(* OPENAI_API_KEY
Sent as Authorization: Bearer with every request.)"},
                        {"EXIT STATUS", R"(* 0
At least one request succeeded (or --help).

* 1
No request succeeded.

* 2
A usage error.)"},
                        {"EXAMPLES", R"(A thousand chat requests, 64 at a time, with long prompts:

    pd-bench --base-url http://127.0.0.1:8000 --api chat \
             --num-prompts 1000 --max-concurrency 64 --warmup 32 \
             --input-len 3500 --output-len 1100 --ignore-eos \
             --result-json run.json --result-md run.md

Ten requests per second for a minute, with charts:

    pd-bench --num-prompts 0 --duration 60 --request-rate 10 \
             --plot plots/)"},
                        {"SEE ALSO", R"(pd-proxy(1), pd-mock(1), gnuplot(1).)"}};
  return page;
}

}  // namespace pd_proxy::bench
