#!/usr/bin/python3
"""An encoder of mihomo's binary rule sets (.mrs), independent of Sluice's reader, for its tests.

Written from mihomo's published converter (rules/provider/mrs_converter.go and the sets it writes:
component/trie DomainSet, component/cidr IpCidrSet), compressed with Debian's python3-zstandard.

Reads one JSON object on standard input, writes the file's bytes to the path in argv[1]:
  {"behavior": "domain", "rules": ["+.a.test", ".b.test", "c.test", "*.d.test"]}
  {"behavior": "ipcidr", "rules": ["10.0.0.0/8", "2001:db8::/32"]}
  {"zeros": N, "window_log": W}      a zstd stream of N zero bytes (a decompression bomb), window 2^W
"""
import ipaddress
import json
import struct
import sys

import zstandard


def domain_keys(rules):
    """The keys mihomo's DomainTrie holds after inserting the rules, as its Foreach lists them."""
    keys = set()
    for rule in rules:
        name = rule.lower()
        if name.startswith("+."):
            # "+.x" is inserted twice: as "x" and with an empty first label, listed back as "+.x".
            keys.add(name[2:])
            keys.add(name)
        elif name.startswith("."):
            keys.add("+" + name)
        else:
            keys.add(name)
    return keys


def set_bit(words, index, value):
    # Go's setBit grows the slice for a 0 bit as well.
    while index >> 6 >= len(words):
        words.append(0)
    words[index >> 6] |= value << (index & 63)


def domain_set(rules):
    """The succinct set: keys reversed (by code point), sorted bytewise, laid out breadth first."""
    keys = sorted(k[::-1].encode("utf-8") for k in domain_keys(rules))
    leaves, bitmap, labels = [], [], bytearray()
    queue = [(0, len(keys), 0)]
    bit = 0
    node = 0
    while node < len(queue):
        start, end, column = queue[node]
        if column == len(keys[start]):
            start += 1
            set_bit(leaves, node, 1)
        j = start
        while j < end:
            first = j
            while j < end and keys[j][column] == keys[first][column]:
                j += 1
            queue.append((first, j, column + 1))
            labels.append(keys[first][column])
            set_bit(bitmap, bit, 0)
            bit += 1
        set_bit(bitmap, bit, 1)
        bit += 1
        node += 1
    out = bytearray([1])  # DomainSet binary version
    for words in (leaves, bitmap):
        out += struct.pack(">q", len(words))
        for w in words:
            out += struct.pack(">Q", w)
    out += struct.pack(">q", len(labels)) + labels
    return bytes(out)


def ip_set(rules):
    """netipx's IPSet: ranges merged when they overlap or touch, IPv4 before IPv6; each end as 16 bytes."""
    families = {4: [], 6: []}
    for rule in rules:
        net = ipaddress.ip_network(rule, strict=False)
        families[net.version].append([int(net.network_address), int(net.broadcast_address)])
    out = bytearray([1])  # IpCidrSet binary version
    ranges = []
    for version in (4, 6):
        merged = []
        for first, last in sorted(families[version]):
            if merged and first <= merged[-1][1] + 1:
                merged[-1][1] = max(merged[-1][1], last)
            else:
                merged.append([first, last])
        ranges += [(version, first, last) for first, last in merged]
    out += struct.pack(">q", len(ranges))
    for version, first, last in ranges:
        for value in (first, last):
            # netip.Addr.As16: an IPv4 address is written IPv4-mapped, ::ffff:a.b.c.d.
            out += (b"\0" * 10 + b"\xff\xff" + value.to_bytes(4, "big")) if version == 4 else value.to_bytes(16, "big")
    return bytes(out)


def main():
    spec = json.load(sys.stdin)
    if "zeros" in spec:
        # Streamed, so the frame names no size and keeps the window asked for.
        params = zstandard.ZstdCompressionParameters.from_level(3, window_log=spec["window_log"], write_content_size=0)
        stream = zstandard.ZstdCompressor(compression_params=params).compressobj()
        data = stream.compress(b"\0" * spec["zeros"]) + stream.flush()
    else:
        behavior = spec["behavior"]
        rules = spec["rules"]
        body = domain_set(rules) if behavior == "domain" else ip_set(rules)
        header = b"MRS\x01" + bytes([0 if behavior == "domain" else 1])
        header += struct.pack(">q", len(rules)) + struct.pack(">q", 0)  # rule count; no extra field
        # mihomo streams through klauspost's encoder: no content size in the frame header.
        data = zstandard.ZstdCompressor(level=19, write_content_size=False).compress(header + body)
    with open(sys.argv[1], "wb") as f:
        f.write(data)


if __name__ == "__main__":
    main()
