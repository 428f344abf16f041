#include "pd_proxy/mock/openai_format.hpp"

#include <algorithm>
#include <array>
#include <functional>

namespace pd_proxy::mock {
namespace {

json usage_of(const completion_spec& spec) {
  return json{{"prompt_tokens", spec.prompt_tokens},
              {"total_tokens", spec.prompt_tokens + spec.completion_tokens},
              {"completion_tokens", spec.completion_tokens},
              {"prompt_tokens_details", json{{"cached_tokens", spec.cached_tokens}}}};
}

json chunk_head(const completion_spec& spec) {
  return json{{"id", spec.id},
              {"object", spec.chat ? "chat.completion.chunk" : "text_completion"},
              {"created", spec.created},
              {"model", spec.model}};
}

std::string as_event(const json& value) {
  return "data: " + dump_json(value) + "\n\n";
}

std::size_t text_length(const json& value) {
  if (value.is_string()) return value.get_ref<const std::string&>().size();
  std::size_t n = 0;
  if (value.is_array()) {
    for (const auto& part : value) {
      if (part.is_string()) n += part.get_ref<const std::string&>().size();
      if (part.is_object() && part.contains("text")) n += text_length(part["text"]);
    }
  }
  return n;
}

void append_text(const json& value, std::string& out) {
  if (value.is_string()) {
    out += value.get_ref<const std::string&>();
    return;
  }
  if (value.is_array()) {
    for (const auto& part : value) {
      if (part.is_string()) out += part.get_ref<const std::string&>();
      if (part.is_object() && part.contains("text")) append_text(part["text"], out);
    }
  }
}

bool token_ids(const json& prompt) {
  return prompt.is_array() && !prompt.empty() && prompt.front().is_number();
}

}  // namespace

std::string response_id(bool chat, std::string_view request_id) {
  return std::string(chat ? "chatcmpl-" : "cmpl-") + std::string(request_id);
}

std::string token_text(std::string_view request_id, int i) {
  static constexpr std::array<std::string_view, 16> words{
      " the",   " cache", " moves", " from",    " prefill", " to",    " decode",  " and",
      " every", " token", " flows", " through", " one",     " proxy", " quickly", "."};
  const std::size_t h = std::hash<std::string_view>{}(request_id);
  return std::string(words[(h + static_cast<std::size_t>(i) * 7) % words.size()]);
}

std::string format_full_response(const completion_spec& spec, std::string_view text) {
  json body{{"id", spec.id},
            {"object", spec.chat ? "chat.completion" : "text_completion"},
            {"created", spec.created},
            {"model", spec.model}};
  json choice;
  if (spec.chat) {
    choice = json{{"index", 0},
                  {"message", json{{"role", "assistant"}, {"content", text}, {"tool_calls", json::array()}}},
                  {"logprobs", nullptr},
                  {"finish_reason", "length"},
                  {"stop_reason", nullptr}};
  } else {
    choice = json{{"index", 0},
                  {"text", text},
                  {"logprobs", nullptr},
                  {"finish_reason", "length"},
                  {"stop_reason", nullptr},
                  {"prompt_logprobs", spec.prompt_logprobs ? *spec.prompt_logprobs : json(nullptr)}};
  }
  body["choices"] = json::array({choice});
  body["usage"] = usage_of(spec);
  if (spec.chat) body["prompt_logprobs"] = spec.prompt_logprobs ? *spec.prompt_logprobs : json(nullptr);
  body["kv_transfer_params"] = spec.kv_transfer_params ? *spec.kv_transfer_params : json(nullptr);
  return dump_json(body);
}

std::string format_role_event(const completion_spec& spec) {
  json chunk = chunk_head(spec);
  chunk["choices"] = json::array({json{{"index", 0},
                                       {"delta", json{{"role", "assistant"}, {"content", ""}}},
                                       {"logprobs", nullptr},
                                       {"finish_reason", nullptr}}});
  return as_event(chunk);
}

std::string format_token_event(const completion_spec& spec, std::string_view token, bool last) {
  json chunk = chunk_head(spec);
  json choice;
  if (spec.chat) {
    choice = json{{"index", 0}, {"delta", json{{"content", token}}}, {"logprobs", nullptr}};
  } else {
    choice = json{{"index", 0}, {"text", token}, {"logprobs", nullptr}};
  }
  choice["finish_reason"] = last ? json("length") : json(nullptr);
  choice["stop_reason"] = nullptr;
  chunk["choices"] = json::array({choice});
  return as_event(chunk);
}

std::string format_usage_event(const completion_spec& spec) {
  json chunk = chunk_head(spec);
  chunk["choices"] = json::array();
  chunk["usage"] = usage_of(spec);
  return as_event(chunk);
}

std::string format_error(int status, std::string_view type, std::string_view message) {
  return dump_json(
      json{{"object", "error"}, {"message", message}, {"type", type}, {"param", nullptr}, {"code", status}});
}

int estimate_prompt_tokens(const json& request) {
  std::size_t chars = 0;
  if (auto it = request.find("prompt"); it != request.end()) {
    if (token_ids(*it)) {
      chars = it->size() * chars_per_token;  // a token-id prompt
    } else {
      chars = text_length(*it);
    }
  }
  if (auto it = request.find("messages"); it != request.end() && it->is_array()) {
    for (const auto& message : *it) {
      if (message.is_object() && message.contains("content")) chars += text_length(message["content"]);
    }
  }
  return static_cast<int>(std::max<std::size_t>(1, (chars + chars_per_token - 1) / chars_per_token));
}

rendered_prompt render_prompt(const json& request) {
  rendered_prompt out;
  if (auto it = request.find("prompt"); it != request.end()) {
    if (token_ids(*it)) {
      static_assert(chars_per_token == 4, "a token id renders as its 4 bytes");
      for (const auto& id : *it) {
        const auto v = static_cast<std::uint32_t>(id.is_number_integer() ? id.get<std::int64_t>() : 0);
        for (int i = 0; i < 4; ++i) out.text.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
      }
    } else if (it->is_array()) {
      for (const auto& part : *it) {
        out.parts.push_back({out.text.size(), {}});
        if (part.is_string()) out.text += part.get_ref<const std::string&>();
        if (part.is_object() && part.contains("text")) append_text(part["text"], out.text);
      }
    } else {
      append_text(*it, out.text);
    }
  }
  if (auto it = request.find("messages"); it != request.end() && it->is_array()) {
    for (const auto& message : *it) {
      if (!message.is_object()) continue;
      const auto role = message.find("role");
      out.parts.push_back({out.text.size(), role != message.end() && role->is_string()
                                                ? role->get<std::string>()
                                                : std::string()});
      if (message.contains("content")) append_text(message["content"], out.text);
    }
  }
  return out;
}

json format_prompt_logprobs(std::string_view prompt, int prompt_tokens) {
  json out = json::array({nullptr});
  for (int i = 1; i < prompt_tokens; ++i) {
    const std::size_t at = std::min(prompt.size(), static_cast<std::size_t>(i) * chars_per_token);
    const std::string_view text = prompt.substr(at, chars_per_token);
    std::uint64_t h = 14695981039346656037ull;  // FNV-1a
    for (const char c : text) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
    const auto id = std::to_string(h % 32000);
    const double logprob = -static_cast<double>((h >> 20) % 900 + 1) / 100.0;
    out.push_back(json{{id, json{{"logprob", logprob}, {"rank", 1}, {"decoded_token", text}}}});
  }
  return out;
}

json unknown_prompt_logprobs(int prompt_tokens) {
  return json::array_t(static_cast<std::size_t>(std::max(1, prompt_tokens)), nullptr);
}

int requested_tokens(const json& request, bool chat) {
  auto read = [&](const char* key) -> std::optional<long long> {
    auto it = request.find(key);
    if (it == request.end() || !it->is_number_integer()) return std::nullopt;
    return it->get<long long>();
  };
  std::optional<long long> n;
  if (chat) n = read("max_completion_tokens");
  if (!n) n = read("max_tokens");
  return static_cast<int>(std::clamp<long long>(n.value_or(16), 1, 1 << 20));
}

}  // namespace pd_proxy::mock
