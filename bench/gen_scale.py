#!/usr/bin/env python3
"""Scaling inputs for bench/scale.sh, written as a classic pcap, streamed
(the flows are never all held in memory, so 1 M of them need no RAM).

flows: FLOWS TCP flows, CONCURRENT of them open at once. Each flow is a
handshake, one small request and its response, and a FIN close: 8 packets.
Step s opens flow s, exchanges data on flow s - CONCURRENT/2 and closes flow
s - CONCURRENT, so after the ramp-up CONCURRENT flows are open and their
packets are interleaved. The packet count (8 x FLOWS) does not depend on
CONCURRENT: the same traffic shape at any concurrency, so the cost per
packet compares directly.

synflood: FLOWS SYNs from distinct client addresses and ports to one
server, never answered (each leaves a half-open flow behind).

lunatap keeps a closed TCP flow for the closing timeout (60 s) so that late
packets still find it, and ends an established one idle for 600 s. A step
of the flows traffic lasts 500 / CONCURRENT seconds of capture time: an
open flow lives 500 s (under 600), and a closed one leaves the table 60 s
later, so the table holds about 1.12 x CONCURRENT flows. The SYN flood
advances 1 microsecond a packet: 1 M SYNs in 1 s, none times out (60 s),
so only the memory cap bounds the table.

Deterministic: the payload bytes come from a seeded generator.
"""
import argparse
import random
import struct
import sys

SERVER = bytes([192, 168, 0, 1])
SPORT = 7000  # not a port any bundled dissector claims: L4 only
ETH = b"\x02\x00\x00\x00\x00\x02" + b"\x02\x00\x00\x00\x00\x01" + b"\x08\x00"
SYN, ACK, PSH, FIN = 0x02, 0x10, 0x08, 0x01


def ip_checksum(h):
    s = sum(struct.unpack("!10H", h))
    s = (s & 0xFFFF) + (s >> 16)
    s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def client_of(i):
    # 50,000 ports per address, addresses from 10.0.0.1 up: all distinct
    a = 0x0A000001 + i // 50000
    return struct.pack("!I", a), 10000 + i % 50000


class Writer:
    def __init__(self, f):
        self.f = f
        self.t = 1_700_000_000_000_000  # microseconds
        self.n = 0
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))

    def step(self, us):
        self.t += us

    def tcp(self, src, dst, sport, dport, seq, ack, flags, payload=b""):
        tcp = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF,
                          5 << 4, flags, 65535, 0, 0)
        total = 20 + len(tcp) + len(payload)
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, total, 0, 0x4000, 64, 6, 0, src, dst)
        ip = ip[:10] + struct.pack("!H", ip_checksum(ip)) + ip[12:]
        frame = ETH + ip + tcp + payload
        self.t += 1
        self.f.write(struct.pack("<IIII", self.t // 1_000_000, self.t % 1_000_000,
                                 len(frame), len(frame)))
        self.f.write(frame)
        self.n += 1


def flows(w, nflows, conc, payloads):
    half = conc // 2
    step_us = 500_000_000 // conc
    for s in range(nflows + conc):
        w.step(step_us)
        i = s  # open
        if i < nflows:
            c, p = client_of(i)
            w.tcp(c, SERVER, p, SPORT, 1000, 0, SYN)
            w.tcp(SERVER, c, SPORT, p, 5000, 1001, SYN | ACK)
            w.tcp(c, SERVER, p, SPORT, 1001, 5001, ACK)
        i = s - half  # request and response
        if 0 <= i < nflows:
            c, p = client_of(i)
            req, resp = payloads[i % len(payloads)]
            w.tcp(c, SERVER, p, SPORT, 1001, 5001, PSH | ACK, req)
            w.tcp(SERVER, c, SPORT, p, 5001, 1001 + len(req), PSH | ACK, resp)
        i = s - conc  # close
        if 0 <= i < nflows:
            c, p = client_of(i)
            req, resp = payloads[i % len(payloads)]
            cs, ss = 1001 + len(req), 5001 + len(resp)
            w.tcp(c, SERVER, p, SPORT, cs, ss, FIN | ACK)
            w.tcp(SERVER, c, SPORT, p, ss, cs + 1, FIN | ACK)
            w.tcp(c, SERVER, p, SPORT, cs + 1, ss + 1, ACK)


def synflood(w, nflows):
    for i in range(nflows):
        c, p = client_of(i)
        w.tcp(c, SERVER, p, SPORT, 1000 + i, 0, SYN)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("kind", choices=["flows", "synflood"])
    ap.add_argument("out")
    ap.add_argument("--flows", type=int, default=1_000_000)
    ap.add_argument("--concurrent", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    if a.kind == "flows" and not 2 <= a.concurrent <= a.flows:
        sys.exit("gen_scale.py: need 2 <= --concurrent <= --flows")
    rnd = random.Random(a.seed)
    payloads = [(bytes(rnd.randrange(256) for _ in range(rnd.randrange(40, 120))),
                 bytes(rnd.randrange(256) for _ in range(rnd.randrange(100, 400))))
                for _ in range(64)]
    with open(a.out, "wb", buffering=1 << 20) as f:
        w = Writer(f)
        if a.kind == "flows":
            flows(w, a.flows, a.concurrent, payloads)
        else:
            synflood(w, a.flows)
    print("%s: %d packets" % (a.out, w.n), file=sys.stderr)


if __name__ == "__main__":
    main()
