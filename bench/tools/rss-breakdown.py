# Where a process's resident memory is (from /proc/PID/smaps), in MiB, one line:
#   gc       the .NET GC's reserved range (the one run of adjacent anonymous mappings larger than 1 GiB)
#   malloc   glibc's [heap] and its thread arenas (runs of adjacent anonymous mappings of exactly 64 MiB
#            or 128 MiB, reserved by arena_get2 and committed as they grow): OpenSSL's contexts, libc
#   stacks   thread stacks (an anonymous mapping right after a 4 KiB PROT_NONE guard page) and [stack]
#   image    the executable's own pages (file-backed, its path), rest: other files (libssl, libc, ...)
#   anon     every other anonymous mapping (the runtime's own allocations, pinned and frozen segments)
#   python3 rss-breakdown.py PID [EXE_NAME]
import re, sys
pid, exe = sys.argv[1], (sys.argv[2] if len(sys.argv) > 2 else None)
maps = []
cur = None
for line in open(f"/proc/{pid}/smaps"):
    m = re.match(r"^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ (\d+)\s*(.*)$", line)
    if m:
        cur = {"start": int(m[1], 16), "end": int(m[2], 16), "perm": m[3], "inode": int(m[4]), "path": m[5], "rss": 0}
        maps.append(cur)
    elif line.startswith("Rss:"):
        cur["rss"] = int(line.split()[1])
anon = lambda v: v["inode"] == 0 and (v["path"] == "" or v["path"].startswith("[anon"))
# runs of adjacent anonymous mappings
runs, run = [], []
for v in maps:
    if anon(v) and run and run[-1]["end"] == v["start"]: run.append(v)
    else:
        if run: runs.append(run)
        run = [v] if anon(v) else []
if run: runs.append(run)
kind = {}
for r in runs:
    size = r[-1]["end"] - r[0]["start"]
    if size > (1 << 30): k = "gc"
    elif size in (64 << 20, 128 << 20) and r[0]["start"] % (64 << 20) == 0: k = "malloc"
    else: k = None
    for v in r:
        if k: kind[id(v)] = k
sums = {k: 0 for k in ("gc", "malloc", "stacks", "image", "files", "anon")}
prev = None
for v in maps:
    k = kind.get(id(v))
    if k is None:
        if v["path"] == "[heap]": k = "malloc"
        elif v["path"] == "[stack]": k = "stacks"
        elif anon(v) and prev is not None and prev["perm"].startswith("---") and prev["end"] == v["start"] and prev["end"] - prev["start"] == 4096: k = "stacks"
        elif anon(v): k = "anon"
        elif exe and v["path"].endswith("/" + exe): k = "image"
        else: k = "files"
    sums[k] += v["rss"]
    prev = v
total = sum(sums.values())
print(f"rss {total/1024:.1f}: " + ", ".join(f"{k} {s/1024:.1f}" for k, s in sums.items()))
