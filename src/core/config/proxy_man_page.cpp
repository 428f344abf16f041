// The prose of pd-proxy(1); the options come from the flag table (man_page.hpp).
#include "pd_proxy/core/config/man_page.hpp"

namespace pd_proxy {

man_page proxy_man_page() {
  man_page page;
  page.program = "pd-proxy";
  page.summary = "load-balancing proxy for prefill-decode disaggregated vLLM servers";
  page.synopses = {"[OPTION]...", "--check-config [OPTION]..."};
  page.before_options = {
      {"DESCRIPTION",
       R"(pd-proxy serves OpenAI-style requests (/v1/completions, /v1/chat/completions) with two
pools of vLLM engines. For each request it picks the least-loaded prefiller and sends it the request
with max_tokens=1, takes the kv_transfer_params of its answer, then picks the least-loaded decoder,
sends it the original request with those parameters and relays the decoder's answer (an SSE stream
or JSON) to the client as it arrives. It is a drop-in replacement for vLLM-Ascend's
load_balance_proxy_server_example.py: the same flags, routes and admin API.

Settings come from, in this order of precedence: the command line, the environment (every flag as
PD_PROXY_<FLAG>, see ENVIRONMENT), the TOML file named by --config (one key per flag, spelled as
the flag without its leading dashes), then the defaults listed below. Multi-value flags take
space-separated values (--prefiller-ports 9000 9001). Durations are in seconds and may be
fractional; a timeout of 0 means no limit. A flag given twice takes its last occurrence. Every
problem with the configuration is reported at start-up, naming the flag, with exit status 2.

Besides the OpenAI routes, pd-proxy answers GET /health (the process is up), GET /ready (a
prefiller and a decoder are usable and the proxy is not draining), GET /healthcheck, GET /metrics
(Prometheus) and GET /v1/models, and the admin routes POST /instances/add, POST /instances/remove,
GET /instances and POST /reset_prefix_cache, which serve loopback clients only unless
--admin-api-key is set.)"}};
  page.after_options = {
      {"SIGNALS", R"(* SIGTERM, SIGINT
Drain: close the listener, answer new requests on open connections with 503 and Retry-After, and
let the requests in flight finish for up to --drain-timeout seconds; streams still running then end
with an SSE error event. A second SIGTERM or SIGINT ends the drain at once.

* SIGHUP
Reload: parse the command line again with the environment and the --config file as they are now.
Pools, timeouts, retries, the log level and the keys change for the requests that start afterwards;
the listener, --workers, the connection, in-flight and queue limits and the health-check schedule
need a restart. A configuration that does not validate is
rejected with one log line and the running one stays. Ignored during a drain.

* SIGUSR1
Reopen the --access-log file (after logrotate has moved it).)"},
      {"ENVIRONMENT", R"(* PD_PROXY_<FLAG>
Any flag, in upper case with dashes as underscores: PD_PROXY_PORT=8000,
PD_PROXY_PREFILLER_PORTS="9000 9001". A list holds values separated by blanks or commas; a flag
without value is on for 1, true, yes or on and off for 0, false, no or off. An empty variable counts
as unset. --help, --version and --check-config have none. The variable of each flag is listed under
OPTIONS.

* OPENAI_API_KEY
The bearer token sent to the backends when --backend-api-key is not given.

* NOTIFY_SOCKET
Under systemd (Type=notify) pd-proxy reports READY=1, RELOADING=1, STOPPING=1 and WATCHDOG=1 here.)"},
      {"FILES", R"(* /etc/pd-proxy/pd-proxy.toml
The configuration file of the service (a commented example; --config).

* /etc/default/pd-proxy
The service's environment: PD_PROXY_<FLAG> variables and PD_PROXY_ARGS, extra flags.

* /usr/lib/systemd/system/pd-proxy.service
The systemd unit (Type=notify; systemctl reload sends SIGHUP).

* /usr/share/doc/pd-proxy/
configuration.md (every flag in detail), operations.md (service, reload, upgrades, runbook) and
migrating.md (from the Python proxy).)"},
      {"EXIT STATUS", R"(* 0
After a drain, --help, --version or a valid --check-config.

* 1
The listener could not be opened, or start-up failed after the configuration was read.

* 2
The configuration is invalid (a usage error); the message names the flag.)"},
      {"EXAMPLES", R"(One prefiller and one decoder on this machine:

    pd-proxy --prefiller-hosts 127.0.0.1 --prefiller-ports 8100 \
             --decoder-hosts 127.0.0.1 --decoder-ports 8200

Two prefill hosts with two engines each (ports 9000 and 9001), listening on every address:

    pd-proxy --host 0.0.0.0 --port 8000 \
             --prefiller-hosts 192.0.0.1 192.0.0.2 \
             --prefiller-ports 9000 9000 --prefiller-ports-inc 2 2 \
             --decoder-hosts 192.0.0.5 --decoder-ports 9000

Check the service's configuration, then reload it:

    pd-proxy --check-config --config /etc/pd-proxy/pd-proxy.toml
    systemctl reload pd-proxy)"},
      {"SEE ALSO", R"(pd-mock(1), pd-bench(1), systemctl(1), and /usr/share/doc/pd-proxy/configuration.md,
/usr/share/doc/pd-proxy/operations.md.)"}};
  return page;
}

}  // namespace pd_proxy
