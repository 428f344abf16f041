#!/usr/bin/env bash
# Checks the packaging: the systemd unit (systemd-analyze verify), the Debian package (cpack -G DEB), and,
# as root, that it installs (dpkg -i) and that its example configuration is valid
# (pd-proxy --check-config --config /etc/pd-proxy/pd-proxy.toml); the package is purged again afterwards
# unless it was installed before. Not root: the package is unpacked with dpkg-deb instead and its binary
# checks its configuration from there.
# Usage: scripts/package-check.sh [BUILD_DIR]   (a configured and built tree; default: build)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}

# The unit: systemd-analyze wants the binaries it names to exist; check a copy that points at the build's.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
sed -e "s|/usr/bin/pd-proxy|$(realpath "$build")/pd-proxy|g" packaging/pd-proxy.service >"$work/pd-proxy.service"
# "Failed to ... " lines about the absent /etc files are not errors of the unit; anything else is.
if ! out=$(SYSTEMD_LOG_LEVEL=warning systemd-analyze verify --man=no "$work/pd-proxy.service" 2>&1); then
  echo "$out"
  echo "package-check: systemd-analyze verify failed" >&2
  exit 1
fi
if [ -n "$out" ]; then echo "$out"; fi
echo "package-check: unit verified"

(cd "$build" && cpack -G DEB -B "$work/deb" >/dev/null 2>&1) || { echo "package-check: cpack failed" >&2; exit 1; }
deb=$(ls "$work"/deb/pd-proxy_*.deb)
dpkg-deb --field "$deb" Package Version Depends | sed "s/^/  /"
dpkg-deb --contents "$deb" | awk '{print $6}' | grep -qx './etc/pd-proxy/pd-proxy.toml'
dpkg-deb --contents "$deb" | awk '{print $6}' | grep -qx './usr/lib/systemd/system/pd-proxy.service'
dpkg-deb --contents "$deb" | awk '{print $6}' | grep -qx './usr/bin/pd-proxy'
for page in pd-proxy pd-mock pd-bench; do dpkg-deb --contents "$deb" | awk '{print $6}' | grep -qx "./usr/share/man/man1/$page.1"; done
dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./conffiles | grep -qx '/etc/pd-proxy/pd-proxy.toml'
echo "package-check: built $(basename "$deb")"

if [ "$(id -u)" = 0 ]; then
  installed_before=$(dpkg-query -W -f='${Status}' pd-proxy 2>/dev/null || true)
  dpkg -i "$deb" >/dev/null
  /usr/bin/pd-proxy --check-config --config /etc/pd-proxy/pd-proxy.toml
  case "$installed_before" in *"install ok installed"*) ;; *) dpkg --purge pd-proxy >/dev/null ;; esac
  echo "package-check: dpkg -i and --check-config passed"
else
  echo "package-check: not root, dpkg -i skipped; checking the unpacked package instead"
  dpkg-deb -x "$deb" "$work/root"
  "$work/root/usr/bin/pd-proxy" --check-config --config "$work/root/etc/pd-proxy/pd-proxy.toml"
fi
