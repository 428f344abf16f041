#!/usr/bin/env bash
# Checks the packaging without touching the machine's installed packages: builds the Debian package
# (cpack -G DEB) into a temporary directory, checks its fields and contents, unpacks it there (dpkg-deb -x, never
# dpkg -i) and runs the unpacked binaries (--version or --help, --check-config of the packaged example configuration),
# verifies the packaged systemd unit (systemd-analyze verify) and that its Documentation= points at files the
# package ships, and checks that the container image's runtime stage provides every shared library the packaged
# binaries load (tests/deploy/check_runtime_libs.py). The temporary directory is removed at the end.
# Usage: scripts/package-check.sh [BUILD_DIR]   (a configured and built tree; default: build)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
fail() { echo "package-check: FAILED: $*" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$build" && cpack -G DEB -B "$work/deb" >"$work/cpack.log" 2>&1) || { cat "$work/cpack.log"; fail "cpack"; }
deb=$(ls "$work"/deb/pd-proxy_*.deb)
dpkg-deb --field "$deb" Package Version Maintainer Depends | sed "s/^/  /"
contents=$(dpkg-deb --contents "$deb" | awk '{print $6}')
for f in ./etc/pd-proxy/pd-proxy.toml ./etc/default/pd-proxy ./usr/lib/systemd/system/pd-proxy.service \
         ./usr/bin/pd-proxy ./usr/bin/pd-mock ./usr/bin/pd-bench ./usr/share/man/man1/pd-proxy.1 \
         ./usr/share/man/man1/pd-mock.1 ./usr/share/man/man1/pd-bench.1; do
  grep -qx "$f" <<<"$contents" || fail "$(basename "$deb") lacks $f"
done
dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./conffiles | grep -qx '/etc/pd-proxy/pd-proxy.toml' ||
  fail "/etc/pd-proxy/pd-proxy.toml is not a conffile"
# The Maintainer field claims no address that does not exist (reserved example domains, localhost).
maintainer=$(dpkg-deb --field "$deb" Maintainer)
if grep -qiE '@([^>]*\.)?(example(\.(com|org|net))?|invalid|localhost|test)>?$' <<<"$maintainer"; then
  fail "Maintainer '$maintainer' gives an address that does not exist"
fi
echo "package-check: built $(basename "$deb")"

root="$work/root"
dpkg-deb -x "$deb" "$root"
"$root/usr/bin/pd-proxy" --version || fail "the packaged pd-proxy --version"
for tool in pd-mock pd-bench; do
  "$root/usr/bin/$tool" --help >/dev/null || fail "the packaged $tool --help"
done
"$root/usr/bin/pd-proxy" --check-config --config "$root/etc/pd-proxy/pd-proxy.toml" ||
  fail "the packaged example configuration does not pass --check-config"
echo "package-check: the unpacked binaries run; the packaged example configuration passes --check-config"

# The packaged unit. systemd-analyze wants the binaries it names to exist: check a copy pointing at the unpacked
# ones. "Failed to ... " lines about the absent /etc files are not errors of the unit; anything else is.
unit="$root/usr/lib/systemd/system/pd-proxy.service"
sed -e "s|/usr/bin/pd-proxy|$root/usr/bin/pd-proxy|g" "$unit" >"$work/pd-proxy.service"
if ! out=$(SYSTEMD_LOG_LEVEL=warning systemd-analyze verify --man=no "$work/pd-proxy.service" 2>&1); then
  echo "$out"
  fail "systemd-analyze verify"
fi
if [ -n "$out" ]; then echo "$out"; fi
# Documentation= names only what the package installs: man:PAGE(SECTION) and file:/PATH.
read -ra uris <<<"$(sed -n 's/^Documentation=//p' "$unit" | tr '\n' ' ')"
[ ${#uris[@]} -gt 0 ] || fail "the unit has no Documentation="
for uri in "${uris[@]}"; do
  case "$uri" in
    man:*\(*\)) page=${uri#man:}; section=${page#*\(}; section=${section%\)}; page=${page%%\(*}
                ls "$root/usr/share/man/man$section/$page.$section"* >/dev/null 2>&1 ||
                  fail "Documentation=$uri: the package has no such man page" ;;
    file:/*) [ -f "$root${uri#file:}" ] || fail "Documentation=$uri: the package has no such file" ;;
    *) fail "Documentation=$uri: not a man: or file: URI of something the package ships" ;;
  esac
done
echo "package-check: unit verified; Documentation= points at the packaged docs"

# The container image installs this package: every library its binaries load must come with its Depends.
python3 tests/deploy/check_runtime_libs.py packaging/Dockerfile --deb "$deb" \
  "$root/usr/bin/pd-proxy" "$root/usr/bin/pd-mock" "$root/usr/bin/pd-bench" || fail "runtime libraries"
echo "package-check: passed (nothing was installed on this machine)"
