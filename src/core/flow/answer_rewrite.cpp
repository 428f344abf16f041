#include "pd_proxy/core/flow/answer_rewrite.hpp"

#include "pd_proxy/core/flow/usage_rewrite.hpp"
#include "pd_proxy/core/sse/data_line_rewrite.hpp"

namespace pd_proxy {

bool answer_rewriter::concerns(std::string_view data) const {
  if (!pending_.done() && !data.empty() && data.front() == '{') return true;
  return !rewrite_->cached_tokens.empty() && is_final_usage_chunk(data);
}

std::string answer_rewriter::rewrite_events(std::string_view sse) {
  return rewrite_data_lines(
      sse, [this](std::string_view data) { return rewrite_chunk(data, /*final_usage_only=*/true); });
}

std::optional<std::string> answer_rewriter::rewrite_body(std::string_view body) {
  return rewrite_chunk(body, /*final_usage_only=*/false);
}

std::optional<std::string> answer_rewriter::rewrite_chunk(std::string_view data, bool final_usage_only) {
  std::optional<std::string> out = with_prompt_logprobs(data, rewrite_->logprobs, pending_);
  if (rewrite_->cached_tokens.empty()) return out;
  const std::string_view answer = out ? std::string_view(*out) : data;
  if (final_usage_only && !is_final_usage_chunk(answer)) return out;
  auto usage = with_cached_tokens(answer, rewrite_->cached_tokens);
  return usage ? std::move(usage) : std::move(out);
}

}  // namespace pd_proxy
