# Connections/s through a SOCKS5 proxy (sluice's mixed inbound) to a one-byte server, cold and warm.
#   python3 conns.py serve PORT                          the server: reads one byte, answers "x", closes
#   python3 conns.py run PROXY_PORT HOST PORT N WARM     prints "COLD WARM": conn/s of the first N connections,
#                                                        then of N more after WARM untimed ones
# Before the cold phase the client warms itself and the server without the proxy: CONNS_CLIENT_WARM (default 300)
# connections straight to HOST:PORT. A fresh python3 ran its first ~50 connections at a third of its later rate
# against an engine already warmed by 4,500 (its own first sockets, the server's first threads), which the cold
# figure charged to the engine.
# With CONNS_BUCKET=K in the environment, run also prints to stderr the rate of each K connections of the
# cold and the warm phase ("cold: 812 1650 1710 ...") so a slow start shows where it is.
import os, socket, struct, sys, threading, time
def serve(port):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("0.0.0.0", port)); s.listen(1024)
    def one(c):
        try: c.recv(1); c.sendall(b"x")
        finally: c.close()
    print("ready", flush=True)
    while True: threading.Thread(target=one, args=(s.accept()[0],), daemon=True).start()
def once(proxy, host, port):
    c = socket.create_connection(("127.0.0.1", proxy)); c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    c.sendall(b"\x05\x01\x00"); assert c.recv(2) == b"\x05\x00"
    c.sendall(b"\x05\x01\x00\x01" + socket.inet_aton(host) + struct.pack(">H", port))
    r = b""
    while len(r) < 10: r += c.recv(10 - len(r))
    c.sendall(b"g"); assert c.recv(1) == b"x"; c.close()
def direct(host, port):
    c = socket.create_connection((host, port)); c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    c.sendall(b"g"); assert c.recv(1) == b"x"; c.close()
def rate(proxy, host, port, n, phase):
    bucket = int(os.environ.get("CONNS_BUCKET", "0"))
    t = b = time.perf_counter()
    rates = []
    for i in range(n):
        once(proxy, host, port)
        if bucket and (i + 1) % bucket == 0:
            now = time.perf_counter(); rates.append("%.0f" % (bucket / (now - b))); b = now
    if rates: print(phase + ": " + " ".join(rates), file=sys.stderr, flush=True)
    return n / (time.perf_counter() - t)
if sys.argv[1] == "serve": serve(int(sys.argv[2]))
else:
    proxy, host, port, n, warm = int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
    for _ in range(int(os.environ.get("CONNS_CLIENT_WARM", "300"))): direct(host, port)
    cold = rate(proxy, host, port, n, "cold")
    for _ in range(warm): once(proxy, host, port)
    print("%.0f %.0f" % (cold, rate(proxy, host, port, n, "warm")))
