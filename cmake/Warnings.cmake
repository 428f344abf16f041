# pd_set_warnings(target): the project's warning set, sanitizers when asked.
function(pd_set_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor)
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    # GCC 12 misreports Asio's coroutine frame allocator (operator new/delete pair in
    # awaitable_frame_base) as mismatched; the pair is correct.
    target_compile_options(${target} PRIVATE -Wno-mismatched-new-delete)
  endif()
  if(PD_PROXY_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
  if(PD_PROXY_SANITIZE MATCHES "thread" AND CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    # Asio's handler recycling uses std::atomic_thread_fence, which TSan cannot model; GCC warns about it.
    target_compile_options(${target} PRIVATE -Wno-tsan)
  endif()
  if(PD_PROXY_SANITIZE)
    set(sanitizers ${PD_PROXY_SANITIZE})
    if(PD_PROXY_SANITIZE MATCHES "undefined")
      # Not part of GCC's "undefined": a double too large for its integer type (a huge timeout, a port count).
      set(sanitizers "${sanitizers},float-cast-overflow")
    endif()
    target_compile_options(${target} PRIVATE -fsanitize=${sanitizers} -fno-omit-frame-pointer)
    target_link_options(${target} PRIVATE -fsanitize=${sanitizers})
  endif()
endfunction()
