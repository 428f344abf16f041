# pd_precompile(target [GTEST]): with PD_PROXY_PCH, precompiles the third-party headers that every I/O-shell
# translation unit parses (Asio, Beast, spdlog, nlohmann/json; GoogleTest with GTEST). Parsing them is about
# half of a test file's compile time at -O0, so a clean build (CI's three) is much faster. Off by default:
# ccache hits need no PCH, and a build without it checks that every file includes what it uses.
function(pd_precompile target)
  if(NOT PD_PROXY_PCH)
    return()
  endif()
  set(headers <boost/asio.hpp> <boost/beast/core.hpp> <boost/beast/http.hpp>
              <boost/asio/experimental/awaitable_operators.hpp> <spdlog/spdlog.h> <nlohmann/json.hpp>
              <string> <vector> <memory> <chrono> <optional> <functional>)
  if("GTEST" IN_LIST ARGN)
    list(APPEND headers <gtest/gtest.h>)
  endif()
  target_precompile_headers(${target} PRIVATE ${headers})
endfunction()
