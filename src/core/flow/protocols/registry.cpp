#include "pd_proxy/core/flow/protocols/registry.hpp"

#include <array>

#include "pd_proxy/core/flow/protocols/decoder_first.hpp"
#include "pd_proxy/core/flow/protocols/sglang_bootstrap.hpp"
#include "pd_proxy/core/flow/protocols/two_stage.hpp"

namespace pd_proxy {
namespace {

// Adding a family: its files in core/flow/protocols/, and one line here.
constexpr std::array protocols{
    pd_protocol{"two-stage", &make_two_stage},
    pd_protocol{"sglang-bootstrap", &make_sglang_bootstrap},
    pd_protocol{"decoder-first", &make_decoder_first, /*takes_call_backs=*/true},
};

}  // namespace

std::span<const pd_protocol> pd_protocols() {
  return protocols;
}

const pd_protocol* find_pd_protocol(std::string_view name) {
  for (const auto& protocol : protocols) {
    if (protocol.name == name) return &protocol;
  }
  return nullptr;
}

}  // namespace pd_proxy
