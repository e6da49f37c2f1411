# The peers of the proxy benchmarks (bench/proxy-throughput.sh, bench/v2ray-testbed.sh): a sink in the router
# namespace and the client's measurements through a front (a SOCKS5 port, or 0: straight to the host, which a TUN
# carries).
#   serve PORT MIB                       PORT: MIB MiB of zeros per connection; PORT+1: one byte, then close
#   throughput FRONT HOST PORT           Gbit/s of one bulk download
#   many FRONT HOST PORT COUNT           COUNT one-byte connections, one after another
#   conns FRONTS HOST PORT COUNT SLICES [PARALLEL]
#                                        connections/s through each front in turn (comma-separated), in slices; PARALLEL
#                                        (default 1: one at a time, the rate is one connection's latency) connectors at once
# Both servers wait for one request byte first, as client-speaks-first protocols do (ss-local holds the request back
# until the client sends something, so a server-first test would time its wait).
import concurrent.futures, socket, struct, sys, threading, time
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
    # A connection that gets no answer in 20 s fails the run naming itself, instead of hanging it.
    c = open_via(front, host, port); c.settimeout(20)
    try:
        c.sendall(b"g"); assert c.recv(1) == b"x"
    except socket.timeout:
        raise SystemExit("no answer in 20 s through front %d on %s:%d -> %s:%d" % ((front,) + c.getsockname() + (host, port)))
    c.close()
def many(front, host, port, count):
    for _ in range(count): connect_once(front, host, port)
def conns(fronts, host, port, count, slices, parallel=1):
    per = max(parallel, count // slices // parallel * parallel); spent = [0.0] * len(fronts)
    pool = concurrent.futures.ThreadPoolExecutor(parallel) if parallel > 1 else None
    for _ in range(slices):
        for i, f in enumerate(fronts):
            t = time.perf_counter()
            if pool is None: many(f, host, port, per)
            else:
                for job in [pool.submit(many, f, host, port, per // parallel) for _ in range(parallel)]: job.result()  # re-raises a failure
            spent[i] += time.perf_counter() - t
    print(" ".join("%.0f" % (per * slices / s) for s in spent))
cmd = sys.argv[1]
if cmd == "serve": serve(int(sys.argv[2]), int(sys.argv[3]))
elif cmd == "throughput": throughput(int(sys.argv[2]), sys.argv[3], int(sys.argv[4]))
elif cmd == "many": many(int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
elif cmd == "conns": conns([int(p) for p in sys.argv[2].split(",")], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]), int(sys.argv[7]) if len(sys.argv) > 7 else 1)
