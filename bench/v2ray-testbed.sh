# The testbed of bench/v2ray-client.sh and bench/conn-cost.sh (sourced after lib.sh, with $MIB set): the
# namespaces, a self-signed certificate, the sink (peers.py: PORT bulk, PORT+1 one byte per connection, and
# the client side of both), v2ray 4.34 as the VLESS+TLS and Trojan+TLS server in the router namespace, the
# v2ray client's config and Sluice's ($CONFIG with LANE for the TUN's final outbound), and the functions
# that start and stop the clients.
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

cp "$ROOT/bench/tools/proxy-peers.py" "$BENCH_DIR/peers.py"

# V2RAY_TICKETS=1: v2ray's server issues TLS session tickets and v2ray's client resumes with them
# (tlsSettings.enableSessionResumption, false by default in 4.34: without it Go's crypto/tls has SessionTicketsDisabled
# on both sides, so nobody resumes); Sluice's own client resumes whenever the server issues tickets.
if [ -n "${V2RAY_TICKETS:-}" ]; then resumption='"enableSessionResumption": true, '; else resumption=''; fi

cat > "$BENCH_DIR/v2ray-server.json" <<JSON
{"log": {"loglevel": "warning"},
 "inbounds": [
  {"listen": "10.200.0.1", "port": $TROJAN_PORT, "protocol": "trojan", "settings": {"clients": [{"password": "$PASSWORD"}]},
   "streamSettings": {"network": "tcp", "security": "tls", "tlsSettings": {$resumption"certificates": [{"certificateFile": "$BENCH_DIR/cert.pem", "keyFile": "$BENCH_DIR/key.pem"}]}}},
  {"listen": "10.200.0.1", "port": $VLESS_PORT, "protocol": "vless", "settings": {"clients": [{"id": "$UUID"}], "decryption": "none"},
   "streamSettings": {"network": "tcp", "security": "tls", "tlsSettings": {$resumption"certificates": [{"certificateFile": "$BENCH_DIR/cert.pem", "keyFile": "$BENCH_DIR/key.pem"}]}}}],
 "outbounds": [{"protocol": "freedom"}]}
JSON
client_tls='"streamSettings": {"network": "tcp", "security": "tls", "tlsSettings": {'"$resumption"'"serverName": "bench.test", "allowInsecure": true}}'
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
# SLUICE_TLS_PIN=1: Sluice checks the server against the certificate as a pinned CA (certificate_path) instead of
# "insecure" (v2ray's client stays on allowInsecure). SLUICE_TLS_EXTRA: more fields for Sluice's tls object, e.g.
# ', "utls": {"enabled": true, "fingerprint": "chrome"}' (Sluice's own TLS 1.3 client instead of SslStream).
if [ -n "${SLUICE_TLS_PIN:-}" ]; then trust='"insecure": false, "certificate_path": "'"$BENCH_DIR/cert.pem"'"'; else trust='"insecure": true'; fi
tls='"tls": {"enabled": true, "server_name": "bench.test", '"$trust${SLUICE_TLS_EXTRA:-}"'}'
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
V2_SERVER_PID=$!; BENCH_PIDS+=("$V2_SERVER_PID")
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

