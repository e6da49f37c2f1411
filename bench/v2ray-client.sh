#!/usr/bin/env bash
# Sluice vs v2ray 4.34 as the CLIENT of the same VLESS+TLS and Trojan(+TLS) servers (v2ray in the router
# namespace): TCP throughput and connections/s, (a) through a SOCKS5 front — v2ray's socks inbound vs
# Sluice's `mixed` inbound — and (b) through Sluice's TUN (an app that knows nothing of proxies) against
# the same v2ray socks figure (v2ray has no TUN). One Sluice engine carries both: the TUN takes the app's
# connections to the sink, the mixed inbounds take the SOCKS ones; v2ray's own connections to its server
# are excluded from the TUN (route_exclude_address), so v2ray's path has no Sluice in it.
# Same run, alternating per measurement, median of RUNS (default 3), ratios printed. Each throughput
# measurement also reads the client's CPU time (user+system of the v2ray client or the Sluice process, from
# /proc) and prints CPU seconds per GiB: on a shared machine that says where the time goes when Gbit/s
# only says how much of the machine was left.
# Needs root, v2ray, openssl and a Release build (scripts/install.sh).
#   [WARMUP=3000] [SLICES=5] bench/v2ray-client.sh [RUNS] [MIB_PER_RUN] [CONNECTIONS]
set -euo pipefail
source "$(dirname "$0")/lib.sh"
RUNS=${1:-3}
MIB=${2:-1024}
CONNS=${3:-500}
WARMUP=${WARMUP:-3000}
SLICES=${SLICES:-5}
UUID=b831381d-6324-4d53-ad4f-8cda48b30811
PASSWORD=bench-trojan-password
VLESS_PORT=8445; TROJAN_PORT=8444
V2_VLESS=1080; V2_TROJAN=1082; SL_VLESS=1081; SL_TROJAN=1083; TUN=0

bench_testbed
for ns in "$CLIENT" "$ROUTER"; do
  ip netns exec "$ns" sysctl -qw net.ipv4.tcp_tw_reuse=1 net.ipv4.ip_local_port_range="1024 65535"
done
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=bench.test \
  -addext subjectAltName=DNS:bench.test -keyout "$BENCH_DIR/key.pem" -out "$BENCH_DIR/cert.pem" 2>/dev/null

cat > "$BENCH_DIR/peers.py" <<'PY'
import socket, struct, sys, threading, time
def serve(port, mib):
    # port: MIB MiB of zeros per connection; port+1: one byte, then close (connections/s). Both wait
    # for one request byte first (client-speaks-first, as with every proxy here).
    chunk = bytes(1 << 20)
    def bulk(c):
        try:
            c.recv(1)
            for _ in range(mib): c.sendall(chunk)
        finally: c.close()
    def tiny(c):
        try: c.recv(1); c.sendall(b"x")
        finally: c.close()
    for p, h in ((port, bulk), (port + 1, tiny)):
        s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("0.0.0.0", p)); s.listen(1024)
        threading.Thread(target=lambda s=s, h=h: [threading.Thread(target=h, args=(s.accept()[0],), daemon=True).start() for _ in iter(int, 1)], daemon=True).start()
    print("ready", flush=True); threading.Event().wait()
def open_via(front, host, port):
    # front 0: straight to the host (the TUN carries it); else a SOCKS5 CONNECT through that port.
    if front == 0:
        c = socket.create_connection((host, port)); c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1); return c
    c = socket.create_connection(("127.0.0.1", front))
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    c.sendall(b"\x05\x01\x00"); assert c.recv(2) == b"\x05\x00"
    c.sendall(b"\x05\x01\x00\x01" + socket.inet_aton(host) + struct.pack(">H", port))
    r = b""
    while len(r) < 10: r += c.recv(10 - len(r))
    assert r[1] == 0, r
    return c
def throughput(front, host, port):
    c = open_via(front, host, port); buf = bytearray(1 << 20); total = 0; t = time.perf_counter()
    c.sendall(b"g")
    while True:
        n = c.recv_into(buf)
        if not n: break
        total += n
    print("%.3f" % (total * 8 / (time.perf_counter() - t) / 1e9))
def connect_once(front, host, port):
    c = open_via(front, host, port); c.sendall(b"g"); assert c.recv(1) == b"x"; c.close()
def conns(fronts, host, port, count, slices):
    spent = [0.0] * len(fronts); per = max(1, count // slices)
    for _ in range(slices):
        for i, f in enumerate(fronts):
            t = time.perf_counter()
            for _ in range(per): connect_once(f, host, port)
            spent[i] += time.perf_counter() - t
    print(" ".join("%.0f" % (per * slices / s) for s in spent))
cmd = sys.argv[1]
if cmd == "serve": serve(int(sys.argv[2]), int(sys.argv[3]))
elif cmd == "throughput": throughput(int(sys.argv[2]), sys.argv[3], int(sys.argv[4]))
elif cmd == "conns": conns([int(p) for p in sys.argv[2].split(",")], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]))
PY

cat > "$BENCH_DIR/v2ray-server.json" <<JSON
{"log": {"loglevel": "warning"},
 "inbounds": [
  {"listen": "10.200.0.1", "port": $TROJAN_PORT, "protocol": "trojan", "settings": {"clients": [{"password": "$PASSWORD"}]},
   "streamSettings": {"network": "tcp", "security": "tls", "tlsSettings": {"certificates": [{"certificateFile": "$BENCH_DIR/cert.pem", "keyFile": "$BENCH_DIR/key.pem"}]}}},
  {"listen": "10.200.0.1", "port": $VLESS_PORT, "protocol": "vless", "settings": {"clients": [{"id": "$UUID"}], "decryption": "none"},
   "streamSettings": {"network": "tcp", "security": "tls", "tlsSettings": {"certificates": [{"certificateFile": "$BENCH_DIR/cert.pem", "keyFile": "$BENCH_DIR/key.pem"}]}}}],
 "outbounds": [{"protocol": "freedom"}]}
JSON
client_tls='"streamSettings": {"network": "tcp", "security": "tls", "tlsSettings": {"serverName": "bench.test", "allowInsecure": true}}'
cat > "$BENCH_DIR/v2ray-client.json" <<JSON
{"log": {"loglevel": "warning"},
 "inbounds": [
  {"tag": "v", "listen": "127.0.0.1", "port": $V2_VLESS, "protocol": "socks", "settings": {"udp": false}},
  {"tag": "t", "listen": "127.0.0.1", "port": $V2_TROJAN, "protocol": "socks", "settings": {"udp": false}}],
 "outbounds": [
  {"tag": "vless", "protocol": "vless", "settings": {"vnext": [{"address": "10.200.0.1", "port": $VLESS_PORT, "users": [{"id": "$UUID", "encryption": "none"}]}]}, $client_tls},
  {"tag": "trojan", "protocol": "trojan", "settings": {"servers": [{"address": "10.200.0.1", "port": $TROJAN_PORT, "password": "$PASSWORD"}]}, $client_tls}],
 "routing": {"rules": [{"type": "field", "inboundTag": ["v"], "outboundTag": "vless"}, {"type": "field", "inboundTag": ["t"], "outboundTag": "trojan"}]}}
JSON
tls='"tls": {"enabled": true, "server_name": "bench.test", "insecure": true}'
CONFIG=$(cat <<JSON
{"log": {"level": "info"},
 "inbounds": [
  {"type": "tun", "tag": "tun-in", "interface_name": "sluice0", "address": ["172.19.0.1/30"], "auto_route": true,
   "route_exclude_address": ["10.200.0.1/32"]},
  {"type": "mixed", "tag": "mixed-vless", "listen": "127.0.0.1", "listen_port": $SL_VLESS},
  {"type": "mixed", "tag": "mixed-trojan", "listen": "127.0.0.1", "listen_port": $SL_TROJAN}],
 "outbounds": [
  {"type": "vless", "tag": "vless", "server": "10.200.0.1", "server_port": $VLESS_PORT, "uuid": "$UUID", $tls},
  {"type": "trojan", "tag": "trojan", "server": "10.200.0.1", "server_port": $TROJAN_PORT, "password": "$PASSWORD", $tls},
  {"type": "direct", "tag": "direct"}],
 "route": {"rules": [{"inbound": ["mixed-trojan"], "outbound": "trojan"}, {"inbound": ["mixed-vless"], "outbound": "vless"}], "final": "LANE"}}
JSON
)

ip netns exec "$ROUTER" python3 "$BENCH_DIR/peers.py" serve 5201 "$MIB" > "$BENCH_DIR/peers.log" 2>&1 &
BENCH_PIDS+=($!)
ip netns exec "$ROUTER" v2ray -config "$BENCH_DIR/v2ray-server.json" > "$BENCH_DIR/v2ray-server.log" 2>&1 &
BENCH_PIDS+=($!)
for _ in $(seq 50); do grep -q ready "$BENCH_DIR/peers.log" && break; sleep 0.1; done

start_v2ray_client() {
  ip netns exec "$CLIENT" v2ray -config "$BENCH_DIR/v2ray-client.json" > "$BENCH_DIR/v2ray-client.log" 2>&1 &
  V2_PID=$!; BENCH_PIDS+=("$V2_PID")
  for _ in $(seq 50); do ip netns exec "$CLIENT" ss -Hltn "sport = :$V2_TROJAN" | grep -q LISTEN && return 0; sleep 0.1; done
  echo "v2ray client did not start" >&2; cat "$BENCH_DIR/v2ray-client.log" >&2; return 1
}
stop_v2ray_client() { kill "$V2_PID" 2>/dev/null; wait "$V2_PID" 2>/dev/null || true; }
peers() { ip netns exec "$CLIENT" python3 "$BENCH_DIR/peers.py" "$@"; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
per_gib() { awk -v t="$1" -v m="$MIB" -v hz="$(getconf CLK_TCK)" 'BEGIN {printf "%.2f", t / hz / (m / 1024)}'; }

declare -A G C U K
for proto in vless trojan; do
  if [ $proto = vless ]; then v2=$V2_VLESS; sl=$SL_VLESS; else v2=$V2_TROJAN; sl=$SL_TROJAN; fi
  for i in $(seq "$RUNS"); do
    start_v2ray_client; bench_start_sluice "${CONFIG/LANE/$proto}"
    # Throughput: the three fronts one after another, the order rotated per run.
    order=(v2 sl tun); for _ in $(seq $(( (i - 1) % 3 ))); do order=("${order[@]:1}" "${order[0]}"); done
    for f in "${order[@]}"; do
      case $f in v2) port=$v2; pid=$V2_PID;; sl) port=$sl; pid=$SLUICE_PID;; tun) port=$TUN; pid=$SLUICE_PID;; esac
      before=$(cpu_ticks "$pid")
      G[$proto,$f]+="$(peers throughput $port "$SERVER_V4" 5201) "
      U[$proto,$f]+="$(per_gib $(( $(cpu_ticks "$pid") - before ))) "
    done
    if [ "$WARMUP" -gt 0 ]; then peers conns "$v2,$sl,$TUN" "$SERVER_V4" 5202 "$WARMUP" 1 > /dev/null; fi
    v2_before=$(cpu_ticks "$V2_PID"); sl_before=$(cpu_ticks "$SLUICE_PID")
    read -r a b c < <(peers conns "$v2,$sl,$TUN" "$SERVER_V4" 5202 "$CONNS" "$SLICES")
    # CPU ms per connection: v2ray's over its own; Sluice's over the mixed and TUN ones together (one process carries both).
    K[$proto,v2]+="$(awk -v t=$(( $(cpu_ticks "$V2_PID") - v2_before )) -v n="$CONNS" -v hz="$(getconf CLK_TCK)" 'BEGIN {printf "%.2f", t * 1000 / hz / n}') "
    K[$proto,sl]+="$(awk -v t=$(( $(cpu_ticks "$SLUICE_PID") - sl_before )) -v n="$CONNS" -v hz="$(getconf CLK_TCK)" 'BEGIN {printf "%.2f", t * 1000 / hz / (2 * n)}') "
    C[$proto,v2]+="$a "; C[$proto,sl]+="$b "; C[$proto,tun]+="$c "
    stop_v2ray_client; bench_stop_sluice
    echo "$proto run $i: Gbit/s v2ray $(echo ${G[$proto,v2]} | awk '{print $NF}') mixed $(echo ${G[$proto,sl]} | awk '{print $NF}') tun $(echo ${G[$proto,tun]} | awk '{print $NF}');" \
      "conn/s v2ray $a mixed $b tun $c; CPU s/GiB v2ray $(echo ${U[$proto,v2]} | awk '{print $NF}') mixed $(echo ${U[$proto,sl]} | awk '{print $NF}') tun $(echo ${U[$proto,tun]} | awk '{print $NF}')"
  done
done
echo "v2ray 4.34 client (socks inbound) vs Sluice, ${MIB} MiB per throughput run, $CONNS connections in $SLICES alternating slices after $WARMUP untimed, median of $RUNS:"
for proto in vless trojan; do
  # shellcheck disable=SC2086
  gv=$(median ${G[$proto,v2]}); gs=$(median ${G[$proto,sl]}); gt=$(median ${G[$proto,tun]})
  # shellcheck disable=SC2086
  cv=$(median ${C[$proto,v2]}); cs=$(median ${C[$proto,sl]}); ct=$(median ${C[$proto,tun]})
  echo "  $proto+TLS throughput: v2ray $gv Gbit/s, sluice mixed $gs ($(ratio "$gs" "$gv")x), sluice TUN $gt ($(ratio "$gt" "$gv")x)"
  # shellcheck disable=SC2086
  echo "  $proto+TLS client CPU per GiB: v2ray $(median ${U[$proto,v2]}) s, sluice mixed $(median ${U[$proto,sl]}) s, sluice TUN $(median ${U[$proto,tun]}) s"
  # shellcheck disable=SC2086
  echo "  $proto+TLS client CPU per connection: v2ray $(median ${K[$proto,v2]}) ms, sluice (mixed and TUN) $(median ${K[$proto,sl]}) ms"
  echo "  $proto+TLS connections/s: v2ray $cv, sluice mixed $cs ($(ratio "$cs" "$cv")x), sluice TUN $ct ($(ratio "$ct" "$cv")x)"
done
