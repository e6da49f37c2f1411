#!/usr/bin/env python3
"""A V2Ray "gun" (gRPC transport) server built on grpcio, in front of a plain-TCP proxy inbound.

gun_relay.py LISTEN_HOST PORT SERVICE CERT KEY UPSTREAM_HOST UPSTREAM_PORT [LOG]

grpcio (Debian's python3-grpcio) does HTTP/2, TLS (ALPN h2) and the gRPC message framing; this script registers
the stream-stream method /SERVICE/Tun with bytes-in, bytes-out serializers and unwraps each Hunk by hand
(protobuf field 1, length-delimited), relaying the bytes to UPSTREAM (v2ray's plain VLESS or Trojan inbound) and
wrapping what comes back in Hunks. A wrong service name gets grpcio's own UNIMPLEMENTED. LOG, when given, gets one
line per call with the peer's address, so a test can count the HTTP/2 connections the calls came on.
"""
import socket
import sys
import threading
from concurrent import futures

import grpc


def varint(value):
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def read_varint(data, at):
    shift = value = 0
    while True:
        b = data[at]
        at += 1
        value |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return value, at


def hunk_data(message):
    """The bytes of every field 1 (length-delimited) of a Hunk; other fields skipped."""
    out = bytearray()
    at = 0
    while at < len(message):
        key, at = read_varint(message, at)
        wire = key & 7
        if wire == 2:
            length, at = read_varint(message, at)
            if key >> 3 == 1:
                out += message[at:at + length]
            at += length
        elif wire == 0:
            _, at = read_varint(message, at)
        elif wire == 1:
            at += 8
        elif wire == 5:
            at += 4
        else:
            raise ValueError("bad wire type %d" % wire)
    return bytes(out)


def hunk(data):
    return b"\x0a" + varint(len(data)) + data


def main():
    host, port, service, cert, key, up_host, up_port = sys.argv[1:8]
    log = open(sys.argv[8], "a", buffering=1) if len(sys.argv) > 8 else None

    def tun(requests, context):
        if log:
            log.write("call from %s\n" % context.peer())
        upstream = socket.create_connection((up_host, int(up_port)))
        context.add_callback(upstream.close)

        def pump_up():
            try:
                for message in requests:
                    upstream.sendall(hunk_data(message))
                upstream.shutdown(socket.SHUT_WR)
            except Exception:
                pass

        threading.Thread(target=pump_up, daemon=True).start()
        while True:
            try:
                chunk = upstream.recv(32768)
            except OSError:
                return
            if not chunk:
                return
            yield hunk(chunk)

    handler = grpc.method_handlers_generic_handler(service, {"Tun": grpc.stream_stream_rpc_method_handler(tun)})
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=64))
    server.add_generic_rpc_handlers((handler,))
    with open(cert, "rb") as c, open(key, "rb") as k:
        credentials = grpc.ssl_server_credentials([(k.read(), c.read())])
    server.add_secure_port("%s:%s" % (host, port), credentials)
    server.start()
    server.wait_for_termination()


if __name__ == "__main__":
    main()
