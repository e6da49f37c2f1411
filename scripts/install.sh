#!/usr/bin/env bash
# Installs what Sluice needs on Debian 12 (idempotent), then restores and builds the solution.
#   scripts/install.sh            packages + build + the `sluice` launcher in /usr/local/bin
#   scripts/install.sh --deps     packages only
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  iproute2 nftables libnftables1 iputils-ping util-linux procps psmisc  # namespaces, policy routing, gate (libnftables: in process), setpriv
  ethtool                                                    # testbed delay lines: checksums computed before a frame is copied
  curl wget python3 iperf3 dnsutils knot-dnsutils socat dnsmasq-base dnsdist dnsperf  # apps and peers (dnsmasq, dnsdist: DNS/DoH upstreams; wget: a keep-alive HTTP proxy client; kdig: queries pipelined over TCP)
  tshark                                                     # capture oracle for leak tests
  systemd busybox                                            # gate: systemd-analyze verify; udhcpd/udhcpc for TunnelVision
  wireguard-tools wireguard-go                               # WireGuard interop peer
  shadowsocks-libev microsocks dante-server tinyproxy        # proxy interop peers (ss-server/ss-local, SOCKS5, HTTP CONNECT)
  simple-obfs shadowsocks-v2ray-plugin                       # SIP003 plugin servers in front of ss-server
  v2ray trojan openssl python3-cryptography                  # VLESS/Trojan peers; TLS 1.3 peer (s_server); Reality known answers
  python3-grpcio                                             # the gRPC (gun) transport's peer: a grpcio server in front of v2ray
  python3-zstandard                                          # mihomo .mrs rule sets made by an independent encoder (tests)
  redsocks linux-perf strace                                 # transparent-proxy benchmark anchor; where the time goes
  python3-matplotlib                                         # bench/plot-scaling.py (the scaling curve PNG)
  gcc clang zlib1g-dev                                       # NativeAOT (clang, zlib) and the C embedding host (gcc)
  tmux chromium                                              # `status --watch` in a real terminal; dashboard in headless Chromium
  stun-client                                                # a real STUN client (RFC 3489) for the protocol-sniffing e2e
  dpkg-dev lintian                                           # scripts/package.sh: dpkg-shlibdeps; the package's lint
)
# Node.js drives the browser test (playwright-core). A machine that already has node and npm (e.g.
# from NodeSource) keeps them: Debian's nodejs/npm conflict with those.
command -v node >/dev/null && command -v npm >/dev/null || packages+=(nodejs npm)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then echo "install.sh: need root to install: ${missing[*]}" >&2; exit 1; fi
  export DEBIAN_FRONTEND=noninteractive
  echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
  apt-get update -q
  # The peers (ss-server, tinyproxy, dnsdist, ...) are started by the tests inside namespaces; their
  # packages must not start system services on the host, so forbid service starts while installing.
  policy=/usr/sbin/policy-rc.d
  had_policy=0; [ -e "$policy" ] && had_policy=1
  [ $had_policy = 1 ] || { printf '#!/bin/sh\nexit 101\n' > "$policy"; chmod +x "$policy"; }
  apt-get install -y -q --no-install-recommends "${missing[@]}" || status=$?
  [ $had_policy = 1 ] || rm -f "$policy"
  [ "${status:-0}" = 0 ] || exit "$status"
fi

if ! command -v dotnet >/dev/null; then
  echo "install.sh: the .NET 10 SDK (dotnet) is not on PATH; install it (Debian: packages.microsoft.com dotnet-sdk-10.0)" >&2
  exit 1
fi

# playwright-core drives Debian's /usr/bin/chromium; it never downloads a browser.
if [ ! -d tests/e2e-browser/node_modules/playwright-core ]; then
  (cd tests/e2e-browser && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund -q)
fi

[ "${1:-}" = "--deps" ] && exit 0
dotnet restore Sluice.sln -v q
dotnet build Sluice.sln -c Release --no-restore -v q -nologo

# `sluice` on PATH for the development flow: the NativeAOT build (scripts/build-native.sh) when it is at
# least as new as the JIT build, else the JIT build through dotnet. An installed .deb's /usr/bin/sluice
# comes after /usr/local/bin on PATH; remove /usr/local/bin/sluice to use the package's.
launcher=${SLUICE_LAUNCHER:-/usr/local/bin/sluice}
if [ -w "$(dirname "$launcher")" ]; then
  checkout=$PWD dotnet_path=$(command -v dotnet)
  cat > "$launcher.tmp" <<LAUNCHER
#!/bin/sh
# The development \`sluice\` of $checkout, written by scripts/install.sh.
native="$checkout/artifacts/native/linux-x64/sluice"
dll="$checkout/src/Sluice.Cli/bin/Release/net10.0/sluice.dll"
if [ -x "\$native" ] && ! [ "\$dll" -nt "\$native" ]; then exec "\$native" "\$@"; fi
exec "$dotnet_path" "\$dll" "\$@"
LAUNCHER
  chmod 0755 "$launcher.tmp" && mv "$launcher.tmp" "$launcher"
  echo "installed $launcher -> $checkout ($("$launcher" version))"
else
  echo "install.sh: cannot write $launcher (not root); run the JIT build as: dotnet $PWD/src/Sluice.Cli/bin/Release/net10.0/sluice.dll" >&2
fi
