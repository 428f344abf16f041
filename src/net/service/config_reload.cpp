#include "pd_proxy/net/service/config_reload.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <memory>

#include "pd_proxy/net/pools/instance_probe.hpp"

namespace pd_proxy {
namespace {

// The first line of a CLI message, without "error: ".
std::string first_line(const std::string& text) {
  std::string line = text.substr(0, text.find('\n'));
  constexpr std::string_view prefix = "error: ";
  if (line.rfind(prefix, 0) == 0) line.erase(0, prefix.size());
  return line;
}

std::string joined(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) {
    if (!out.empty()) out += ", ";
    out += n;
  }
  return out;
}

std::string authorities(const std::vector<backend_address>& pool) {
  std::string out;
  for (const auto& a : pool) {
    if (!out.empty()) out += ' ';
    out += a.authority();
  }
  return out;
}

void remove_from(proxy_state& state, backend_role role, const std::vector<backend_address>& addresses) {
  for (const auto& address : addresses) {
    const auto set = state.backends.snapshot();
    for (const auto& b : set->of(role)) {
      if (b->address() == address) {
        state.remove_backend(b->id());
        break;
      }
    }
  }
}

}  // namespace

pool_change_hook add_and_remove_backends(proxy_state& state) {
  return [&state](const pool_changes& changes) {
    for (const auto& a : changes.added_prefillers) state.add_backend(backend_role::prefill, a);
    for (const auto& a : changes.added_decoders) state.add_backend(backend_role::decode, a);
    remove_from(state, backend_role::prefill, changes.removed_prefillers);
    remove_from(state, backend_role::decode, changes.removed_decoders);
  };
}

pool_change_hook add_and_drain_instances(server& proxy) {
  return [&proxy](const pool_changes& changes) {
    proxy_state& state = proxy.state();
    const auto now = pool_manager::clock::now();
    const auto apply = [&](backend_role role, const std::vector<backend_address>& added,
                           const std::vector<backend_address>& removed) {
      if (added.empty() && removed.empty()) return;
      // Added first, the removed retired once the added are active or given up: no window without any.
      auto outcome = state.pools.replace(role, added, removed, now);
      if (!outcome.waiting.empty()) {
        net::co_spawn(proxy.background_executor(),
                      probe_and_report(state.pools, state.config, std::move(outcome.waiting)), net::detached);
      }
    };
    apply(backend_role::prefill, changes.added_prefillers, changes.removed_prefillers);
    apply(backend_role::decode, changes.added_decoders, changes.removed_decoders);
  };
}

void apply_log_level(const std::string& level) {
  spdlog::set_level(spdlog::level::from_str(level == "warn" ? "warning" : level));
}

// A policy is replaced when its name or a setting policies read changed (a new policy is given the
// candidates' current loads and their last engine reports, which keep their age).
void apply_policies(scheduler& sched, const proxy_config& running, const proxy_config& next) {
  const bool settings_changed = next.affinity_load_factor != running.affinity_load_factor;
  if (settings_changed || next.prefill_policy != running.prefill_policy)
    sched.set_policy(backend_role::prefill, make_policy(next.prefill_policy, policy_settings_of(next)));
  if (settings_changed || next.decode_policy != running.decode_policy)
    sched.set_policy(backend_role::decode, make_policy(next.decode_policy, policy_settings_of(next)));
}

reload_result reload_configuration(server& proxy, const cli_outcome& parsed, const pool_change_hook& hook) {
  if (!parsed.config) {
    reload_result r{false, "configuration reload rejected, the running configuration stays: " +
                               first_line(parsed.output)};
    // Counted before it is logged: whoever reads the log line finds the count.
    proxy.state().metrics.reloads_rejected.fetch_add(1, std::memory_order_relaxed);
    spdlog::error("{}", r.message);
    return r;
  }
  const auto running = proxy.state().latest_config();
  auto plan = plan_reload(*running, *parsed.config);
  if (!plan.ignored.empty()) {
    spdlog::warn("configuration reload: ignored (needs a restart): {}", joined(plan.ignored));
  }
  if (!plan.pools.empty()) {
    spdlog::info("configuration reload: prefillers +[{}] -[{}], decoders +[{}] -[{}]",
                 authorities(plan.pools.added_prefillers), authorities(plan.pools.removed_prefillers),
                 authorities(plan.pools.added_decoders), authorities(plan.pools.removed_decoders));
  }
  apply_log_level(plan.config.log_level);
  apply_policies(proxy.state().sched, *running, plan.config);
  proxy.install_config(std::make_shared<const proxy_config>(plan.config));
  if (hook && !plan.pools.empty()) hook(plan.pools);
  reload_result r{true, plan.applied.empty() ? std::string("configuration reloaded: no setting changed")
                                             : "configuration reloaded: " + joined(plan.applied)};
  proxy.state().metrics.reloads_applied.fetch_add(1, std::memory_order_relaxed);
  spdlog::info("{}", r.message);
  return r;
}

}  // namespace pd_proxy
