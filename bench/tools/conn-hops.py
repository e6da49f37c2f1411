#!/usr/bin/env python3
"""Where one proxied connection's time goes, hop by hop, from a capture in the client namespace.

Input: `tshark -r CAPTURE -T fields -e frame.time_epoch -e sll.pkttype -e ip.src -e tcp.srcport -e ip.dst
-e tcp.dstport -e tcp.flags -e tcp.len` of sequential connections (bench/conn-cost.sh): the app's connections to
the sink port (through a SOCKS front on 127.0.0.1, or straight to the sink through the TUN) and the client's
connections to the proxy server on SERVER_PORT. The n-th server connection belongs to the last app connection
opened before it (the app makes one at a time). Prints the median of each hop in µs, and the client's payload
segments to the server before the answer (ClientHello, Finished, request: 3 when they go separately).
  conn-hops.py FIELDS_FILE APP_PORT SERVER_PORT
"""
import statistics
import sys

SYN, ACK, FIN = 0x02, 0x10, 0x01


def main(path, app_port, server_port):
    apps, servers = [], []
    current = {}
    for line in open(path):
        parts = line.split("\t")
        if len(parts) < 8 or not parts[3]:
            continue
        t = float(parts[0]); src, sport, dst, dport = parts[2], int(parts[3]), parts[4], int(parts[5])
        flags = int(parts[6], 16); length = int(parts[7] or 0)
        if app_port in (sport, dport):
            side = "app"; up = dport == app_port; tuple_ = (sport, dport) if up else (dport, sport)
        elif server_port in (sport, dport):
            side = "server"; up = dport == server_port; tuple_ = (sport, dport) if up else (dport, sport)
        else:
            continue
        if flags & SYN and not flags & ACK:
            conn = {"syn": t, "up": [], "down": [], "synack": None, "fin": None}
            current[(side, tuple_)] = conn
            (apps if side == "app" else servers).append(conn)
            continue
        conn = current.get((side, tuple_))
        if conn is None:
            continue
        if flags & SYN and flags & ACK and conn["synack"] is None:
            conn["synack"] = t
        if length > 0:
            conn["up" if up else "down"].append((t, length))
        if flags & FIN and conn["fin"] is None and up:
            conn["fin"] = t

    hops = {}
    segments = []

    def add(name, value):
        if value is not None and value >= 0:
            hops.setdefault(name, []).append(value * 1e6)

    for a, b in zip(apps, apps[1:]):
        add("app's SYN -> its SYN-ACK (front's accept, or the TUN's NAT)", a["synack"] - a["syn"] if a["synack"] else None)
        add("app's FIN -> next app's SYN (teardown, the app's loop)", b["syn"] - a["fin"] if a["fin"] else None)
        add("app SYN -> next app SYN (one connection, all in)", b["syn"] - a["syn"])
    for s in servers:
        owner = None
        for a in apps:
            if a["syn"] <= s["syn"]:
                owner = a
        if owner is None or not s["up"] or not s["down"] or s["synack"] is None:
            continue
        hello = s["up"][0][0]
        flight = [d for d in s["down"] if d[0] > hello]
        if not flight:
            continue
        first_in = flight[0][0]
        after_flight = [u for u in s["up"] if u[0] > first_in]
        if not after_flight:
            continue
        flight_end = max(d[0] for d in flight if d[0] < after_flight[0][0])
        finished = after_flight[0][0]
        answer = [d for d in s["down"] if d[0] > finished]
        request = None
        for u in after_flight:
            if answer and u[0] < answer[0][0]:
                request = u[0]
        segments.append(sum(1 for u in s["up"] if not answer or u[0] < answer[0][0]))
        g = next((u[0] for u in owner["up"] if u[1] == 1), None)
        x = next((d[0] for d in owner["down"] if d[1] == 1), None)
        add("app SYN -> server SYN (accept, SOCKS, route, socket)", s["syn"] - owner["syn"])
        add("server SYN -> SYN-ACK (TCP round trip)", s["synack"] - s["syn"])
        add("SYN-ACK -> ClientHello (client)", hello - s["synack"])
        add("ClientHello -> server's flight (server)", flight_end - hello)
        add("server's flight -> Finished (client)", finished - flight_end)
        if request is not None:
            add("Finished -> request (client)", request - finished)
        if answer:
            add("request -> answer (server, sink)", answer[0][0] - (request or finished))
            if x is not None:
                add("answer -> 1 byte to the app (client)", x - answer[0][0])
        if g is not None:
            add("app's first byte -> request sent", (request or finished) - g if (request or finished) > g else None)
        if x is not None:
            add("total: app SYN -> 1 byte to the app", x - owner["syn"])
            if owner["fin"] is not None:
                add("1 byte to the app -> app's FIN", owner["fin"] - x)
    print("  %d connections paired; client payload segments to the server before the answer: median %s" %
          (len(segments), statistics.median(segments) if segments else "-"))
    for name, values in hops.items():
        print("  %-56s %8.0f µs (p25 %.0f, p75 %.0f)" % (name, statistics.median(values),
              statistics.quantiles(values, n=4)[0] if len(values) > 1 else values[0],
              statistics.quantiles(values, n=4)[2] if len(values) > 1 else values[0]))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
