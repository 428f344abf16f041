# Writes a tool's man page: the roff that `PROGRAM --help-man` prints, made from the same flag table as
# its --help (src/core/config/man_page.cpp), so the page cannot drift from the flags.
# Usage: cmake -DPROGRAM=<binary> -DOUTPUT=<file> -P make-manpage.cmake
execute_process(COMMAND ${PROGRAM} --help-man OUTPUT_VARIABLE page RESULT_VARIABLE rc)
if(NOT rc EQUAL 0 OR NOT page MATCHES "^\\.\\\\\"[^\n]*\n\\.TH ")
  message(FATAL_ERROR "${PROGRAM} --help-man did not print a man page (exit status ${rc})")
endif()
file(WRITE ${OUTPUT} "${page}")
