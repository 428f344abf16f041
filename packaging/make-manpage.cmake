# Writes pd-proxy.1, a man page around `pd-proxy --help` (which is written to read like one: groups,
# defaults, environment variables, precedence, signals, exit status).
# Usage: cmake -DPD_PROXY=<binary> -DOUTPUT=<file> -DVERSION=<x.y.z> -P make-manpage.cmake
execute_process(COMMAND ${PD_PROXY} --help OUTPUT_VARIABLE help RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${PD_PROXY} --help failed")
endif()
string(REPLACE "\\" "\\e" help "${help}")
# A line that starts with '.' or an apostrophe would be a roff request: prefix it with \&.
string(REGEX REPLACE "\n([.'])" "\n\\\\&\\1" help "${help}")
file(WRITE ${OUTPUT}
".TH PD-PROXY 1 \"\" \"pd-proxy ${VERSION}\" \"User Commands\"
.SH NAME
pd-proxy \\- prefill-decode disaggregation proxy for vLLM
.SH SYNOPSIS
.B pd-proxy
[\\fIOPTIONS\\fR]
.SH DESCRIPTION
.nf
${help}.fi
.SH FILES
/etc/pd-proxy/pd-proxy.toml, /etc/default/pd-proxy, /usr/lib/systemd/system/pd-proxy.service
.SH SEE ALSO
/usr/share/doc/pd-proxy/configuration.md, /usr/share/doc/pd-proxy/operations.md
")
