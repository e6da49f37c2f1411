#!/usr/bin/env bash
# Builds dist/sluice_<version>_<arch>.deb from the NativeAOT build (scripts/build-native.sh), and
# dist/sluice-dev_<version>_<arch>.deb when the embedding library (libsluice.so + sluice.h) is built too.
# The units, completions and man page come from the binary itself (`sluice daemon unit --binary /usr/bin/sluice`,
# `sluice gate unit`, `sluice completions`, `sluice man`), so they name the installed paths and match its commands.
# Usage: scripts/package.sh [--version V] [--out DIR] [RID]   (default: the binary's version, dist/, linux-x64)
# No debhelper: dpkg-deb, dpkg-shlibdeps and fakeroot-free ownership (--root-owner-group). docs/packaging.md.
set -euo pipefail
cd "$(dirname "$0")/.."
version=""; out=dist; rid=linux-x64
while [ $# -gt 0 ]; do
  case "$1" in
    --version) version=$2; shift 2;;
    --out) out=$2; shift 2;;
    -*) echo "package.sh: unknown option $1" >&2; exit 2;;
    *) rid=$1; shift;;
  esac
done
case "$rid" in
  linux-x64) arch=amd64; multiarch=x86_64-linux-gnu;;
  linux-arm64) arch=arm64; multiarch=aarch64-linux-gnu;;
  *) echo "package.sh: no Debian architecture for $rid" >&2; exit 2;;
esac
native=artifacts/native/$rid
bin=$native/sluice
[ -x "$bin" ] || { echo "package.sh: $bin is missing; run scripts/build-native.sh $rid first" >&2; exit 1; }
[ -n "$version" ] || version=$("$bin" version | awk '{print $2}')
# Who the package says maintains it; the project has no mail address yet (docs/packaging.md, lintian).
maintainer=${SLUICE_MAINTAINER:-Sluice developers <sluice@localhost>}
mkdir -p "$out"
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
# Reproducible: file times and the man page's date from the last commit.
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}

# --- sluice -------------------------------------------------------------------------------------------
root=$stage/sluice
install -D -m 0755 "$bin" "$root/usr/bin/sluice"
install -d -m 0755 "$root/lib/systemd/system" "$root/etc/sluice" "$root/usr/share/doc/sluice" "$root/usr/share/man/man1" \
  "$root/usr/share/bash-completion/completions" "$root/usr/share/zsh/vendor-completions" "$root/usr/share/fish/vendor_completions.d"
"$bin" daemon unit --binary /usr/bin/sluice -c /etc/sluice/config.json > "$root/lib/systemd/system/sluice.service"
"$bin" gate unit --nft /usr/sbin/nft > "$root/lib/systemd/system/sluice-gate.service"
chmod 0644 "$root"/lib/systemd/system/*.service
install -m 0644 packaging/deb/config.json "$root/etc/sluice/config.json"
"$bin" completions bash > "$root/usr/share/bash-completion/completions/sluice"
"$bin" completions zsh > "$root/usr/share/zsh/vendor-completions/_sluice"
"$bin" completions fish > "$root/usr/share/fish/vendor_completions.d/sluice.fish"
"$bin" man | gzip -9n > "$root/usr/share/man/man1/sluice.1.gz"
install -m 0644 packaging/deb/copyright "$root/usr/share/doc/sluice/copyright"
for doc in README.md docs/config.md docs/gate.md docs/api.md; do
  [ -f "$doc" ] && gzip -9nc "$doc" > "$root/usr/share/doc/sluice/$(basename "$doc").gz"
done
changelog() { # $1 package name
  printf '%s (%s) unstable; urgency=medium\n\n  * Built from commit %s.\n\n -- %s  %s\n' \
    "$1" "$version" "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" "$maintainer" "$(date -u -R -d "@$SOURCE_DATE_EPOCH")" | gzip -9n
}
changelog sluice > "$root/usr/share/doc/sluice/changelog.gz"  # a native package (no Debian revision)
chmod 0644 "$root"/usr/share/doc/sluice/* "$root"/usr/share/man/man1/* "$root"/usr/share/*/*completions*/*

install -d "$root/DEBIAN"
install -m 0755 packaging/deb/postinst packaging/deb/prerm packaging/deb/postrm "$root/DEBIAN/"
echo /etc/sluice/config.json > "$root/DEBIAN/conffiles"
# Shared-library dependencies of the native binary (libc, libm, zlib ...), as dpkg-shlibdeps finds them.
mkdir -p "$stage/debian"
printf 'Source: sluice\n\nPackage: sluice\nArchitecture: any\n' > "$stage/debian/control"
depends=$(cd "$stage" && dpkg-shlibdeps -O -e"sluice/usr/bin/sluice" 2>/dev/null | sed -n 's/^shlibs:Depends=//p')
depends=${depends:-libc6}
size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
cat > "$root/DEBIAN/control" <<CONTROL
Package: sluice
Version: $version
Architecture: $arch
Maintainer: $maintainer
Installed-Size: $size
Depends: $depends, libnftables1, nftables, iproute2, passwd, init-system-helpers (>= 1.52)
Recommends: systemd
Section: net
Priority: optional
Description: per-app split-tunneling VPN engine with a fail-shut gate
 Sluice captures host traffic on a TUN device and gives each flow a lane by
 rules: WireGuard, Shadowsocks, SOCKS5 and HTTP proxies, direct, or blocked.
 It answers every DNS query itself and keeps an nftables gate closed for
 protected apps whenever the engine is down (a kill switch).
 .
 This package holds the single native sluice executable, its daemon unit,
 the gate's boot unit, shell completions and the manual page.
CONTROL
(cd "$root" && find . -path ./DEBIAN -prune -o -type f ! -path ./etc/\* -printf '%P\0' | sort -z | xargs -0 md5sum > DEBIAN/md5sums)
chmod 0644 "$root/DEBIAN/control" "$root/DEBIAN/conffiles" "$root/DEBIAN/md5sums"
find "$root" -depth -exec touch --no-dereference -d "@$SOURCE_DATE_EPOCH" {} +
deb=$out/sluice_${version}_${arch}.deb
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
echo "built $deb ($(du -h "$deb" | cut -f1))"

# --- sluice-dev (only when the embedding library is built) --------------------------------------------
lib=$native/libsluice.so
header=""
for h in "$native/sluice.h" "$native/include/sluice.h" include/sluice.h src/Sluice.Embedding/include/sluice.h; do
  [ -f "$h" ] && { header=$h; break; }
done
if [ -f "$lib" ] && [ -n "$header" ]; then
  dev=$stage/sluice-dev
  install -D -m 0644 "$lib" "$dev/usr/lib/$multiarch/libsluice.so"
  install -D -m 0644 "$header" "$dev/usr/include/sluice.h"
  install -d "$dev/usr/share/doc/sluice-dev"
  install -m 0644 packaging/deb/copyright "$dev/usr/share/doc/sluice-dev/copyright"
  changelog sluice-dev > "$dev/usr/share/doc/sluice-dev/changelog.gz"
  install -d "$dev/DEBIAN"
  cat > "$dev/DEBIAN/control" <<CONTROL
Package: sluice-dev
Version: $version
Architecture: $arch
Maintainer: $maintainer
Installed-Size: $(du -sk --exclude=DEBIAN "$dev" | cut -f1)
Depends: $depends
Section: libdevel
Priority: optional
Description: Sluice engine as a C library (libsluice.so, sluice.h)
 The Sluice split-tunneling engine built as a NativeAOT shared library with
 its C header, for embedding it in another program.
CONTROL
  (cd "$dev" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | sort -z | xargs -0 md5sum > DEBIAN/md5sums)
  find "$dev" -depth -exec touch --no-dereference -d "@$SOURCE_DATE_EPOCH" {} +
  dpkg-deb --root-owner-group -Zxz --build "$dev" "$out/sluice-dev_${version}_${arch}.deb" >/dev/null
  echo "built $out/sluice-dev_${version}_${arch}.deb"
else
  echo "no $lib with sluice.h: sluice-dev not built"
fi
