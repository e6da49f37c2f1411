#!/usr/bin/env python3
"""Peers for the Sluice namespace testbed: the "internet" the client namespace reaches.

serve DIR PORT_HTTP PORT_UDP PORT_ECHO ADDRESS...
    HTTP on [::]:PORT_HTTP (dual stack): /whoami answers the client's address, other paths serve
    files from DIR; UDP echo on each ADDRESS:PORT_UDP; TCP line echo on PORT_ECHO (v4 and v6).
burst HOST PORT COUNT
    opens COUNT TCP connections at once to a line-echo server, sends a line on each, checks the
    echo; prints "ok N" and exits 0 only if all COUNT succeeded.
udp HOST PORT MESSAGE
    sends MESSAGE over UDP, prints the echo (2 s timeout).
udpecho ADDRESS PORT
    a UDP echo on ADDRESS:PORT only (prints "ready").
socks-udp PROXY_HOST PROXY_PORT HOST PORT MESSAGE
    a SOCKS5 UDP ASSOCIATE client (no auth): sends MESSAGE to HOST:PORT through the proxy, prints
    the echo (5 s timeout).
delayline IFACE_A IFACE_B DELAY_MS
    a two-port Ethernet bridge that holds every frame DELAY_MS milliseconds before passing it on, in
    order (prints "ready"): added latency for kernels without the netem qdisc.
"""
import asyncio, functools, hashlib, http.server, os, resource, socket, socketserver, sys, threading

def raise_fd_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

class Handler(http.server.SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        if self.path == "/site":
            # Which server address answered: tells a poisoned answer from the real one.
            local = self.connection.getsockname()[0]
            if local.startswith("::ffff:"):
                local = local[7:]
            body = ("served by " + local + "\n").encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        if self.path == "/whoami":
            host = self.client_address[0]
            if host.startswith("::ffff:"):
                host = host[7:]
            body = (host + "\n").encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        super().do_GET()
    def do_POST(self):
        # /sha256: the hex SHA-256 of the body, so an upload's every byte can be checked at the far end.
        if self.path != "/sha256":
            self.send_error(404)
            return
        left = int(self.headers.get("Content-Length", "0"))
        digest = hashlib.sha256()
        while left > 0:
            chunk = self.rfile.read(min(left, 65536))
            if not chunk:
                break
            digest.update(chunk)
            left -= len(chunk)
        body = (digest.hexdigest() + "\n").encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, fmt, *args):
        sys.stderr.write("http %s %s\n" % (self.client_address[0], fmt % args))

class DualStackServer(http.server.ThreadingHTTPServer):
    address_family = socket.AF_INET6
    daemon_threads = True
    request_queue_size = 4096
    def server_bind(self):
        self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        super().server_bind()

def udp_echo(address, port):
    # One socket per address: a wildcard socket would answer from the route's preferred source,
    # not from the address the client sent to, and a connected client drops such answers.
    s = socket.socket(socket.AF_INET6 if ":" in address else socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((address, port))
    while True:
        data, addr = s.recvfrom(65535)
        s.sendto(data, addr)

async def line_echo(reader, writer):
    try:
        line = await reader.readline()
        writer.write(line)
        await writer.drain()
    finally:
        writer.close()

def serve(directory, http_port, udp_port, echo_port, addresses):
    raise_fd_limit()
    for address in addresses:
        threading.Thread(target=udp_echo, args=(address, udp_port), daemon=True).start()
    handler = functools.partial(Handler, directory=directory)
    httpd = DualStackServer(("::", http_port), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    async def main():
        server = await asyncio.start_server(line_echo, host=None, port=echo_port, backlog=4096)  # None: v4 and v6
        print("ready", flush=True)
        async with server:
            await server.serve_forever()
    asyncio.run(main())

async def one(host, port, i):
    reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 20)
    msg = ("hello %d\n" % i).encode()
    writer.write(msg)
    await writer.drain()
    got = await asyncio.wait_for(reader.readline(), 20)
    writer.close()
    return got == msg

async def burst(host, port, count):
    raise_fd_limit()
    results = await asyncio.gather(*(one(host, port, i) for i in range(count)), return_exceptions=True)
    good = sum(1 for r in results if r is True)
    errors = [repr(r) for r in results if r is not True][:3]
    print("ok %d of %d %s" % (good, count, " ".join(errors)), flush=True)
    return good == count

def udp(host, port, message):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(family, socket.SOCK_DGRAM)
    s.settimeout(2)
    s.sendto(message.encode(), (host, port))
    data, _ = s.recvfrom(65535)
    print(data.decode(), flush=True)

def udpecho(address, port):
    threading.Thread(target=udp_echo, args=(address, port), daemon=True).start()
    print("ready", flush=True)
    threading.Event().wait()

def socks_udp(proxy_host, proxy_port, host, port, message):
    import ipaddress, struct
    control = socket.create_connection((proxy_host, proxy_port), timeout=5)
    control.sendall(b"\x05\x01\x00")
    if control.recv(2) != b"\x05\x00":
        sys.exit("proxy refused no-auth")
    control.sendall(b"\x05\x03\x00\x01\x00\x00\x00\x00\x00\x00")
    reply = control.recv(262)
    if len(reply) < 10 or reply[1] != 0:
        sys.exit("UDP ASSOCIATE refused: %r" % reply)
    if reply[3] == 1:
        relay = (socket.inet_ntop(socket.AF_INET, reply[4:8]), struct.unpack(">H", reply[8:10])[0])
    else:
        relay = (socket.inet_ntop(socket.AF_INET6, reply[4:20]), struct.unpack(">H", reply[20:22])[0])
    if relay[0] in ("0.0.0.0", "::"):
        relay = (proxy_host, relay[1])
    ip = ipaddress.ip_address(host)
    header = b"\x00\x00\x00" + (b"\x01" if ip.version == 4 else b"\x04") + ip.packed + struct.pack(">H", port)
    s = socket.socket(socket.AF_INET6 if ":" in relay[0] else socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(5)
    s.sendto(header + message.encode(), relay)
    data, _ = s.recvfrom(65535)
    atyp = data[3]
    skip = 4 + (4 if atyp == 1 else 16 if atyp == 4 else 1 + data[4]) + 2
    print(data[skip:].decode(), flush=True)
    control.close()

def delayline(iface_a, iface_b, delay_ms):
    # AF_PACKET sees every frame on a port, including ones addressed to the far side's MAC; frames
    # this process sent itself come back as PACKET_OUTGOING and are skipped.
    ETH_P_ALL, PACKET_OUTGOING = 3, 4
    ports = []
    for name in (iface_a, iface_b):
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        s.bind((name, 0))
        s.setblocking(False)
        ports.append(s)
    loop = asyncio.new_event_loop()
    delay = delay_ms / 1000.0
    def forward(src, dst):
        while True:
            try:
                frame, address = src.recvfrom(65535)
            except BlockingIOError:
                return
            if address[2] != PACKET_OUTGOING:
                loop.call_later(delay, lambda f=frame: dst.send(f))
    loop.add_reader(ports[0].fileno(), forward, ports[0], ports[1])
    loop.add_reader(ports[1].fileno(), forward, ports[1], ports[0])
    print("ready", flush=True)
    loop.run_forever()

if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "serve":
        serve(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), sys.argv[6:])
    elif cmd == "burst":
        sys.exit(0 if asyncio.run(burst(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))) else 1)
    elif cmd == "udp":
        udp(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    elif cmd == "udpecho":
        udpecho(sys.argv[2], int(sys.argv[3]))
    elif cmd == "delayline":
        delayline(sys.argv[2], sys.argv[3], float(sys.argv[4]))
    elif cmd == "socks-udp":
        socks_udp(sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5]), sys.argv[6])
    else:
        sys.exit("unknown command " + cmd)
