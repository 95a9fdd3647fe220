#!/usr/bin/env python3
"""Writes a pcap of NetFlow v5, NetFlow v9 and IPFIX export datagrams with synthetic flows.

Used for the bundled sample capture (tests/data/sample.pcap) and for replay benchmarks. Standard
library only. Every datagram is a well-formed UDP/IPv4 frame from an exporter in 192.0.2.0/24
(TEST-NET-1, RFC 5737) to 127.0.0.1, so nothing here ever names a real host.

    scripts/gen_pcap.py -o out.pcap [--flows N] [--seed S] [--protocols v5,v9,ipfix]
"""
import argparse
import random
import struct

EPOCH = 1_700_000_000  # export time of the first datagram (2023-11-14T22:13:20Z)


def pcap_header():
    return struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)


def csum16(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def frame(src_ip, sport, dport, payload):
    udp = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0x4000, 64, 17, 0,
                     bytes(src_ip), bytes([127, 0, 0, 1]))
    ip = ip[:10] + struct.pack("!H", csum16(ip)) + ip[12:]
    eth = bytes([0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2]) + b"\x08\x00"
    return eth + ip + udp


def record(f, ts):
    sec, usec = divmod(ts, 1_000_000)
    return struct.pack("<IIII", sec, usec, len(f), len(f)) + f


def random_flow(rng, v6):
    proto = rng.choice([6, 6, 6, 17, 17, 1])
    if v6:
        src = bytes([0x20, 0x01, 0x0D, 0xB8]) + rng.randbytes(12)
        dst = bytes([0x20, 0x01, 0x0D, 0xB8, 0, 1]) + rng.randbytes(10)
    else:
        src = bytes([10, rng.randrange(256), rng.randrange(256), rng.randrange(1, 255)])
        dst = bytes([198, 51, 100, rng.randrange(1, 255)])
    packets = rng.randrange(1, 2000)
    return {
        "src": src, "dst": dst, "proto": proto,
        "sport": rng.randrange(1024, 65535) if proto != 1 else 0,
        "dport": rng.choice([53, 80, 443, 123, 22]) if proto != 1 else 0x0800,
        "packets": packets, "bytes": packets * rng.randrange(60, 1500),
        "tos": rng.choice([0, 0, 0x20, 0xB8]), "flags": rng.choice([0x02, 0x12, 0x18, 0x19, 0x1B]) if proto == 6 else 0,
        "in_if": rng.randrange(1, 48), "out_if": rng.randrange(1, 48),
        "src_mask": rng.choice([16, 20, 24]), "dst_mask": rng.choice([24, 28]),
        "duration_ms": rng.randrange(0, 60_000),
    }


def netflow5(flows, seq, uptime_ms, unix_secs):
    out = struct.pack("!HHIIIIBBH", 5, len(flows), uptime_ms, unix_secs, 0, seq, 0, 0, 0x4000 | 100)
    for f in flows:
        last = uptime_ms - 1000
        first = last - f["duration_ms"]
        out += struct.pack("!4s4s4sHHIIIIHHBBBBHHBBH", f["src"], f["dst"], bytes([10, 0, 0, 254]),
                           f["in_if"], f["out_if"], f["packets"], f["bytes"], first, last,
                           f["sport"], f["dport"], 0, f["flags"], f["proto"], f["tos"], 65001, 65002,
                           f["src_mask"], f["dst_mask"], 0)
    return out


V4_FIELDS = [(8, 4), (12, 4), (15, 4), (7, 2), (11, 2), (4, 1), (5, 1), (6, 1), (10, 4), (14, 4),
             (1, 8), (2, 8), (22, 4), (21, 4), (9, 1), (13, 1), (61, 1)]
V6_FIELDS = [(27, 16), (28, 16), (62, 16), (7, 2), (11, 2), (4, 1), (5, 1), (6, 1), (10, 4),
             (14, 4), (1, 8), (2, 8), (152, 8), (153, 8), (29, 1), (30, 1), (61, 1)]


def encode_fields(fields, f, uptime_ms, unix_secs, ipfix):
    last_up = uptime_ms - 1000
    first_up = last_up - f["duration_ms"]
    end_ms = unix_secs * 1000 - 1000
    values = {
        8: f["src"], 12: f["dst"], 27: f["src"], 28: f["dst"], 15: bytes([10, 0, 0, 254]),
        62: bytes([0x20, 0x01, 0x0D, 0xB8] + [0] * 11 + [1]),
        7: f["sport"], 11: f["dport"], 4: f["proto"], 5: f["tos"], 6: f["flags"],
        10: f["in_if"], 14: f["out_if"], 1: f["bytes"], 2: f["packets"],
        22: first_up, 21: last_up, 152: end_ms - f["duration_ms"], 153: end_ms,
        9: f["src_mask"], 13: f["dst_mask"], 29: 48, 30: 64, 61: 0,
    }
    out = b""
    for fid, length in fields:
        v = values[fid]
        out += v if isinstance(v, bytes) else v.to_bytes(length, "big")
    return out


def templated(version, tid, fields, flows, seq, uptime_ms, unix_secs, with_template):
    ipfix = version == 10
    sets = b""
    if with_template:
        body = struct.pack("!HH", tid, len(fields)) + b"".join(struct.pack("!HH", i, l) for i, l in fields)
        sets += struct.pack("!HH", 2 if ipfix else 0, 4 + len(body)) + body
    data = b"".join(encode_fields(fields, f, uptime_ms, unix_secs, ipfix) for f in flows)
    data += b"\0" * ((4 - len(data) % 4) % 4)
    sets += struct.pack("!HH", tid, 4 + len(data)) + data
    if ipfix:
        return struct.pack("!HHIII", 10, 16 + len(sets), unix_secs, seq, 1) + sets
    count = len(flows) + (1 if with_template else 0)
    return struct.pack("!HHIIII", 9, count, uptime_ms, unix_secs, seq, 1) + sets


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-o", "--output", required=True)
    ap.add_argument("--flows", type=int, default=120, help="flows per protocol")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--protocols", default="v5,v9,ipfix")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    protocols = args.protocols.split(",")
    ts = EPOCH * 1_000_000
    with open(args.output, "wb") as out:
        out.write(pcap_header())
        seq = {p: 0 for p in protocols}
        for p_index, proto in enumerate(protocols):
            exporter = [192, 0, 2, 10 + p_index]
            sport = 40000 + p_index
            dport = {"v5": 2055, "v9": 2055, "ipfix": 4739}[proto]
            per_dgram = {"v5": 30, "v9": 20, "ipfix": 20}[proto]
            remaining = args.flows
            n = 0
            while remaining > 0:
                v6 = proto != "v5" and n % 2 == 1
                # Keep every frame under a 1500-byte MTU: IPv6 records are 97 bytes.
                count = min(12 if v6 else per_dgram, remaining)
                flows = [random_flow(rng, v6) for _ in range(count)]
                unix_secs = EPOCH + n
                uptime = 3_600_000 + n * 1000
                if proto == "v5":
                    payload = netflow5(flows, seq[proto], uptime, unix_secs)
                    seq[proto] += count
                else:
                    version = 9 if proto == "v9" else 10
                    fields, tid = (V6_FIELDS, 257) if v6 else (V4_FIELDS, 256)
                    payload = templated(version, tid, fields, flows, seq[proto], uptime, unix_secs,
                                        with_template=n < 2 or n % 10 == 0)
                    seq[proto] += 1 if version == 9 else count
                out.write(record(frame(exporter, sport, dport, payload), ts))
                ts += 1000
                remaining -= count
                n += 1


if __name__ == "__main__":
    main()
