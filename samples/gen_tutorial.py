#!/usr/bin/env python3
"""The capture for docs/tutorial-dissector.md: the TLV protocol on UDP port 9999.

    python3 samples/gen_tutorial.py OUT.pcap

A message is version (u8), count (u8), then count items of type (u8),
length (u16, big-endian) and value. Five sessions from 10.0.0.1 to
10.0.0.2:9999, one client port each (40001 up), made in this order:

  0  a reading from "sensor-7" (name, reading, and an item of unknown type 9),
     answered by the server with a note "ok"
  1  an item whose length (200) runs past the end of the datagram, then a
     good message in the same session
  2  a good message after the bad session: the engine goes on
  3  a message with 3 bytes after its last item
  4  a datagram of one byte: the message header is cut short

Deterministic (fixed bytes and times, 2 ms apart from 1700000000.0),
standard library only; pcap writing and IP checksums come from gen_http.py.
"""

import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_http as g  # noqa: E402

CLIENT = (b"\x02\x00\x00\x00\x00\x01", bytes([10, 0, 0, 1]))
SERVER = (b"\x02\x00\x00\x00\x00\x02", bytes([10, 0, 0, 2]))
PORT = 9999


def item(kind, value):
    return struct.pack("!BH", kind, len(value)) + value


def message(*items, version=1):
    return struct.pack("!BB", version, len(items)) + b"".join(items)


def udp(src, dst, sport, dport, payload):
    length = 8 + len(payload)
    pseudo = src + dst + struct.pack("!BBH", 0, 17, length)
    header = struct.pack("!HHHH", sport, dport, length, 0)
    csum = g.inet_checksum(pseudo + header + payload) or 0xFFFF
    return struct.pack("!HHHH", sport, dport, length, csum) + payload


def datagrams():
    """(client port, from client?, payload) in capture order."""
    return [
        (40001, True, message(item(1, b"sensor-7"), item(2, b"21.5"), item(9, b"\x00\x01"))),
        (40001, False, message(item(3, b"ok"))),
        (40002, True, b"\x01\x01" + struct.pack("!BH", 1, 200) + b"short"),
        (40002, True, message(item(3, b"after the bad one"))),
        (40003, True, message(item(1, b"sensor-8"), item(2, b"19.0"), version=2)),
        (40004, True, message(item(3, b"x")) + b"\xff\xff\xff"),
        (40005, True, b"\x01"),
    ]


def main(path):
    with open(path, "wb") as fp:
        out = g.PcapWriter(fp)
        ts = g.EPOCH_US
        for ident, (cport, from_client, payload) in enumerate(datagrams(), 1):
            (smac, sip), (dmac, dip) = (CLIENT, SERVER) if from_client else (SERVER, CLIENT)
            sport, dport = (cport, PORT) if from_client else (PORT, cport)
            ethertype, ip = g.ip_packet(sip, dip, ident, udp(sip, dip, sport, dport, payload), proto=17)
            out.packet(ts, g.ethernet(dmac, smac, ethertype, ip))
            ts += g.STEP_US


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
