#!/usr/bin/env bash
# What a test run leaves behind on the host: network namespaces, host nftables tables, links, cgroups,
# /etc/netns folders, /tmp folders, WireGuard UAPI sockets, and processes of the programs the tests
# start. `snapshot FILE` records the host before the run; `check FILE` lists what exists now and did
# not then, and exits 1 if anything does. scripts/test.sh runs it around the end-to-end tests.
set -uo pipefail

state() {
  ip netns list 2>/dev/null | awk '{print "netns " $1}'
  nft list tables 2>/dev/null | sed 's/^table /nft /'
  ip -o link show 2>/dev/null | awk -F': ' '{sub(/@.*/, "", $2); print "link " $2}'
  for root in /sys/fs/cgroup/net_cls /sys/fs/cgroup/net_cls,net_prio /sys/fs/cgroup/unified /sys/fs/cgroup; do
    [ -d "$root" ] && find "$root" -maxdepth 3 -type d -iname '*sluice*' 2>/dev/null | sed 's/^/cgroup /'
  done
  [ -d /etc/netns ] && find /etc/netns -mindepth 1 -maxdepth 1 2>/dev/null | sed 's/^/etc-netns /'
  find /tmp -maxdepth 1 -name 'sluice*' 2>/dev/null | sed 's/^/tmp /'
  find "$(readlink -f /var/run)/wireguard" -maxdepth 1 -name '*.sock' 2>/dev/null | sed 's/^/uapi /'
  # Processes of the programs the tests run, by PID (a PID that exists now and not before was started
  # during the run). The comm names are the peers, tools and apps under test.
  ps -eo pid=,comm= | awk '$2 ~ /^(sluice|sluice-demo|wireguard-go|dnsmasq|dnsdist|ss-server|ss-local|obfs-server|obfs-local|v2ray|v2ray-plugin|trojan|microsocks|danted|sockd|tinyproxy|tshark|dumpcap|iperf3|redsocks|openssl|curl.*|dig|socat|nc|ncat|tmux.*|chromium|chrome|node|stunclient|host)$/ {print "proc " $1 " " $2}'
}

case "${1:-}" in
  snapshot) state | sort -u > "$2" ;;
  check)
    # A process the last test ended may still be on its way out (a browser's children): give the host
    # 10 s to settle before calling anything left over.
    for _ in $(seq 10); do
      left=$(comm -13 "$2" <(state | sort -u))
      [ -z "$left" ] && break
      sleep 1
    done
    if [ -n "$left" ]; then
      echo "LEFT OVER after the end-to-end tests (each was created during the run and still exists):"
      echo "$left" | sed 's/^/  /'
      exit 1
    fi
    echo "leftover check: nothing the tests created is left (namespaces, nft tables, links, cgroups, /etc/netns, /tmp, sockets, processes)"
    ;;
  *) echo "usage: $0 snapshot FILE | check FILE" >&2; exit 2 ;;
esac
