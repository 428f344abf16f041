# Installation (cmake --install) and the Debian package (cpack -G DEB). Included by the top CMakeLists.txt.
# The binaries go to <prefix>/bin (see install(TARGETS) there); the unit to <prefix>/lib/systemd/system;
# the example configuration to /etc/pd-proxy and the service's environment file to /etc/default (absolute
# paths, as systemd and dpkg expect them: run `cmake --install` with DESTDIR to stage elsewhere).
set(PD_PROXY_SYSTEMD_UNIT_DIR "lib/systemd/system" CACHE STRING "Where the systemd unit is installed")
set(PD_PROXY_CONFIG_DIR "/etc/pd-proxy" CACHE STRING "Where the example pd-proxy.toml is installed")

install(FILES ${CMAKE_CURRENT_LIST_DIR}/pd-proxy.service DESTINATION ${PD_PROXY_SYSTEMD_UNIT_DIR})
install(FILES ${CMAKE_CURRENT_LIST_DIR}/pd-proxy.toml DESTINATION ${PD_PROXY_CONFIG_DIR})
install(FILES ${CMAKE_CURRENT_LIST_DIR}/pd-proxy.default DESTINATION /etc/default RENAME pd-proxy)
# The man pages: each tool prints its own with --help-man, from the flag table its --help prints
# (packaging/make-manpage.cmake); tests/man/check_man_pages.py renders them.
foreach(tool pd-proxy pd-mock pd-bench)
  add_custom_command(
    OUTPUT ${CMAKE_BINARY_DIR}/${tool}.1
    COMMAND ${CMAKE_COMMAND} -DPROGRAM=$<TARGET_FILE:${tool}> -DOUTPUT=${CMAKE_BINARY_DIR}/${tool}.1
            -P ${CMAKE_CURRENT_LIST_DIR}/make-manpage.cmake
    DEPENDS ${tool} ${CMAKE_CURRENT_LIST_DIR}/make-manpage.cmake
    COMMENT "Writing the ${tool}(1) man page")
  add_custom_target(${tool}-manpage ALL DEPENDS ${CMAKE_BINARY_DIR}/${tool}.1)
  install(FILES ${CMAKE_BINARY_DIR}/${tool}.1 DESTINATION share/man/man1)
endforeach()
install(FILES ${CMAKE_SOURCE_DIR}/docs/configuration.md ${CMAKE_SOURCE_DIR}/docs/operations.md
              ${CMAKE_SOURCE_DIR}/docs/migrating.md
        DESTINATION share/doc/pd-proxy)

set(CPACK_GENERATOR "DEB")
set(CPACK_PACKAGE_NAME "pd-proxy")
set(CPACK_PACKAGE_VERSION "${PROJECT_VERSION}")
set(CPACK_PACKAGE_VENDOR "pd-proxy")
# The Maintainer field: the project has no mailing list or contact address, so the default claims none. Whoever
# distributes the package names themselves: -DPD_PROXY_PACKAGE_MAINTAINER="Full Name <address>".
set(PD_PROXY_PACKAGE_MAINTAINER "pd-proxy developers (no contact address)"
    CACHE STRING "The Debian package's Maintainer field")
set(CPACK_PACKAGE_CONTACT "${PD_PROXY_PACKAGE_MAINTAINER}")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "Prefill-decode disaggregation proxy for vLLM (drop-in for vLLM-Ascend's load_balance_proxy_server)")
set(CPACK_PACKAGING_INSTALL_PREFIX "/usr")
set(CPACK_DEBIAN_FILE_NAME "DEB-DEFAULT")
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${CPACK_PACKAGE_CONTACT}")
set(CPACK_DEBIAN_PACKAGE_SECTION "net")
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)  # dependencies from the binaries' shared libraries
set(CPACK_DEBIAN_PACKAGE_DEPENDS "")
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "systemd")
# The configuration files are the administrator's: an upgrade keeps their edits.
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA "${CMAKE_CURRENT_LIST_DIR}/deb/conffiles")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_STRIP_FILES ON)  # the build keeps debug info (-g); the package does not
include(CPack)
