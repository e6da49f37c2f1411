# Junk for the soak's floods: random datagrams, and for kind "dns" every other one a query for a random name.
#   junk.py HOST PORT SECONDS KIND; prints the datagrams sent.
import os, random, socket, struct, sys, time
host, port, seconds, kind = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); end = time.time() + seconds; n = 0
while time.time() < end:
    if kind == "dns" and n % 2:
        name = ".".join("%x" % random.randrange(1 << 40) for _ in range(3))
        d = struct.pack(">HHHHHH", random.randrange(65536), 0x0100, 1, 0, 0, 0) + b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0\0\1\0\1"
    else:
        d = os.urandom(random.randrange(1, 1400))
    try: s.sendto(d, (host, port))
    except OSError: pass
    n += 1
    if n % 200 == 0: time.sleep(0.01)
print(n)
