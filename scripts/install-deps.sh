#!/usr/bin/env bash
# Installs what pd-proxy needs to build, test and demo, from Debian's packages, when something is missing.
# Usage: scripts/install-deps.sh [extra-package ...]
set -euo pipefail

packages=(g++ cmake ninja-build pkg-config libboost1.81-dev nlohmann-json3-dev libspdlog-dev libcli11-dev
          libgtest-dev libgmock-dev libbenchmark-dev clang-format curl
          libssl-dev openssl  # TLS on the listener; certificates in the tests
          systemd dpkg-dev file python3  # package-check.sh (systemd-analyze, dpkg-shlibdeps), deployment_files test
          groff-base  # the man_pages test renders the man pages
          prometheus-cpp-dev prometheus  # /metrics; promtool in the tests
          "$@")
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "installing: ${missing[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
