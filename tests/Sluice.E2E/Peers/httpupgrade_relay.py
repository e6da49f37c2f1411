#!/usr/bin/env python3
"""An httpupgrade server written from sing-box's and V2Ray's published behaviour (no packaged server has it),
in front of a plain-TCP proxy inbound.

httpupgrade_relay.py LISTEN_HOST PORT PATH CERT KEY UPSTREAM_HOST UPSTREAM_PORT

TLS with CERT/KEY (both "-" for none). A request that is not "GET PATH" with "Connection: Upgrade" and
"Upgrade: websocket" gets "404 Not Found"; otherwise "101 Switching Protocols" and from then on the raw bytes are
relayed to UPSTREAM and back (no WebSocket framing), each direction's end passed on as a half-close.
"""
import socket
import ssl
import sys
import threading


def pump(src, dst):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    try:
        dst.shutdown(socket.SHUT_WR)
    except OSError:
        pass


def serve(client, context, path, up_host, up_port):
    if context is not None:
        try:
            client = context.wrap_socket(client, server_side=True)
        except (ssl.SSLError, OSError):
            client.close()
            return
    head = b""
    while b"\r\n\r\n" not in head:
        data = client.recv(4096)
        if not data or len(head) > 8192:
            client.close()
            return
        head += data
    head, rest = head.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    method, target, _ = (lines[0].split(" ") + ["", "", ""])[:3]
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if method != "GET" or target != path or "upgrade" not in headers.get("connection", "").lower() \
            or headers.get("upgrade", "").lower() != "websocket":
        client.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        client.close()
        return
    upstream = socket.create_connection((up_host, up_port))
    client.sendall(b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
    if rest:
        upstream.sendall(rest)
    threading.Thread(target=pump, args=(client, upstream), daemon=True).start()
    pump(upstream, client)


def main():
    host, port, path, cert, key, up_host, up_port = sys.argv[1:8]
    context = None
    if cert != "-":
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((host, int(port)))
    listener.listen(64)
    while True:
        client, _ = listener.accept()
        threading.Thread(target=serve, args=(client, context, path, up_host, int(up_port)), daemon=True).start()


if __name__ == "__main__":
    main()
