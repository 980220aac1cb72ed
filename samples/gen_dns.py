#!/usr/bin/env python3
"""Synthetic DNS captures for lunatap's tests.

    python3 samples/gen_dns.py features OUT.pcap [TRUTH.json]
    python3 samples/gen_dns.py case NAME OUT.pcap
    python3 samples/gen_dns.py list

`features` writes the capture committed as samples/dns-features.pcap (and
its truth, samples/dns-features.truth.json): DNS over UDP port 53 (IPv4 and
IPv6) and TCP (port 53, and 8053 found by the heuristic), with every record
type the dissector decodes, EDNS, compression, escapes in names, pipelined
TCP messages, an unanswered and a retransmitted query. `case NAME` writes a
bad-input capture (made at test time, never committed): the bad message,
then a good exchange in the same session and one in a new session.

Standard library only and deterministic; the packet layers, the pcap writer
and TCP sessions come from gen_http.py (imported, not copied); UDP framing
is here.
"""

import ipaddress
import json
import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_http as g  # noqa: E402

CLIENT, SERVER = g.CLIENT, g.SERVER

TYPES = {"A": 1, "NS": 2, "CNAME": 5, "SOA": 6, "PTR": 12, "MX": 15, "TXT": 16,
         "AAAA": 28, "SRV": 33, "OPT": 41, "CAA": 257, "TYPE65534": 65534}


# ------------------------------------------------------------ UDP framing

def udp_datagram(src, dst, sport, dport, payload):
    """UDP header + payload with its checksum over the IPv4/IPv6 pseudo-header."""
    length = 8 + len(payload)
    header = struct.pack("!HHHH", sport, dport, length, 0)
    if len(src) == 4:
        pseudo = src + dst + struct.pack("!BBH", 0, 17, length)
    else:
        pseudo = src + dst + struct.pack("!IxxxB", length, 17)
    csum = g.inet_checksum(pseudo + header + payload) or 0xFFFF
    return header[:6] + struct.pack("!H", csum) + payload


class UdpFlow:
    """Datagrams between a client port and a server port."""

    def __init__(self, cap, server_port=53, ipv6=False):
        self.cap = cap
        caddr, saddr = (g.CLIENT_V6, g.SERVER_V6) if ipv6 else (g.CLIENT_V4, g.SERVER_V4)
        self.ip = {CLIENT: ipaddress.ip_address(caddr).packed,
                   SERVER: ipaddress.ip_address(saddr).packed}
        self.mac = {CLIENT: g.CLIENT_MAC, SERVER: g.SERVER_MAC}
        self.port = {CLIENT: cap.next_port, SERVER: server_port}
        cap.next_port += 1
        self.ident = 1

    def send(self, side, payload, delay_ms=0):
        if delay_ms:
            self.cap.wait(delay_ms)
        peer = g.other(side)
        udp = udp_datagram(self.ip[side], self.ip[peer], self.port[side], self.port[peer], payload)
        self.ident += 1
        ethertype, ip = g.ip_packet(self.ip[side], self.ip[peer], self.ident, udp, proto=17)
        return self.cap.emit(g.ethernet(self.mac[peer], self.mac[side], ethertype, ip))


# ------------------------------------------------------------ DNS messages

def name(text):
    """Wire form of a name given as a list of labels (bytes) or a dotted str."""
    if isinstance(text, str):
        labels = [] if text == "." else [l.encode() for l in text.split(".")]
    else:
        labels = text
    return b"".join(bytes([len(l)]) + l for l in labels) + b"\x00"


def header(ident, qr=0, opcode=0, aa=0, tc=0, rd=1, ra=0, ad=0, cd=0, rcode=0,
           counts=(1, 0, 0, 0)):
    flags = (qr << 15) | (opcode << 11) | (aa << 10) | (tc << 9) | (rd << 8) | (ra << 7) \
        | (ad << 5) | (cd << 4) | rcode
    return struct.pack("!HHHHHH", ident, flags, *counts)


def question(qname, qtype, qclass=1):
    return (qname if isinstance(qname, bytes) else name(qname)) + struct.pack("!HH", TYPES.get(qtype, qtype), qclass)


def rr(owner, rtype, rdata, ttl=300, rclass=1):
    owner = owner if isinstance(owner, bytes) else name(owner)
    return owner + struct.pack("!HHIH", TYPES[rtype], rclass, ttl, len(rdata)) + rdata


def opt(udp_size=1232, ext_rcode=0, version=0, do=0, options=()):
    data = b"".join(struct.pack("!HH", c, len(d)) + d for c, d in options)
    ttl = (ext_rcode << 24) | (version << 16) | (do << 15)
    return b"\x00" + struct.pack("!HHIH", 41, udp_size, ttl, len(data)) + data


PTR12 = b"\xc0\x0c"  # pointer to the question's name, right after the header


def message(ident, questions, answers=(), authority=(), additional=(), **flags):
    counts = (len(questions), len(answers), len(authority), len(additional))
    return header(ident, counts=counts, **flags) + b"".join(questions) + b"".join(answers) \
        + b"".join(authority) + b"".join(additional)


def tcp_framed(*msgs):
    return b"".join(struct.pack("!H", len(m)) + m for m in msgs)


class Truth:
    def __init__(self):
        self.messages = []

    def add(self, transport, ts, ident, qr, qname, qtype, rcode="NOERROR", answers=(), **extra):
        item = {"transport": transport, "ts": ts / 1e6, "id": ident, "qr": bool(qr),
                "qname": qname, "qtype": qtype, "rcode": rcode, "answers": list(answers)}
        item.update(extra)
        self.messages.append(item)


def udp_exchange(cap, truth, flow, query, response, q, r, delay_ms=12):
    """query/response bytes; q/r: truth fields (ident, qname, qtype, ...)."""
    ts = flow.send(CLIENT, query, delay_ms=2)
    truth.add("udp", ts, qr=0, **q)
    if response is not None:
        ts = flow.send(SERVER, response, delay_ms=delay_ms)
        truth.add("udp", ts, qr=1, **r)


def ipv6(text):
    return ipaddress.ip_address(text).packed


def features(fp):
    cap = g.Capture(fp)
    truth = Truth()
    flow = UdpFlow(cap)

    # A with two answers, EDNS in both directions (cookie, client subnet)
    q = message(0x1001, [question("www.example.com", "A")],
                additional=[opt(4096, options=[(10, bytes(range(8))), (8, b"\x00\x01\x18\x00\xc0\x00\x02")])])
    r = message(0x1001, [question("www.example.com", "A")],
                answers=[rr(PTR12, "A", bytes([192, 0, 2, 1])), rr(PTR12, "A", bytes([192, 0, 2, 2]))],
                additional=[opt(1232, do=1, options=[(10, bytes(range(24)))])], qr=1, ra=1)
    udp_exchange(cap, truth, flow, q, r, {"ident": 0x1001, "qname": "www.example.com", "qtype": "A"},
                 {"ident": 0x1001, "qname": "www.example.com", "qtype": "A",
                  "answers": ["192.0.2.1", "192.0.2.2"]})

    # AAAA through a CNAME chain, compressed names
    q = message(0x1002, [question("v6.example.com", "AAAA")])
    cname1 = name([b"edge"]) [:-1] + b"\xc0\x0f"   # edge.example.com via the question's suffix
    r = message(0x1002, [question("v6.example.com", "AAAA")],
                answers=[rr(PTR12, "CNAME", cname1, ttl=60),
                         rr(b"\xc0\x2c", "AAAA", ipv6("2001:db8::1")),
                         rr(b"\xc0\x2c", "AAAA", ipv6("2001:db8:0:1:0:0:0:5")),
                         rr(b"\xc0\x2c", "AAAA", ipv6("2001:db8:1:2:3:4:5:6"))], qr=1, ra=1)
    udp_exchange(cap, truth, flow, q, r, {"ident": 0x1002, "qname": "v6.example.com", "qtype": "AAAA"},
                 {"ident": 0x1002, "qname": "v6.example.com", "qtype": "AAAA",
                  "answers": ["edge.example.com", "2001:db8::1", "2001:db8:0:1::5", "2001:db8:1:2:3:4:5:6"]})

    # MX, TXT, SRV, NS, PTR
    q = message(0x1003, [question("example.com", "MX")])
    r = message(0x1003, [question("example.com", "MX")],
                answers=[rr(PTR12, "MX", struct.pack("!H", 10) + name("mail.example.com")),
                         rr(PTR12, "MX", struct.pack("!H", 20) + b"\x05mail2\xc0\x0c")], qr=1, ra=1)
    udp_exchange(cap, truth, flow, q, r, {"ident": 0x1003, "qname": "example.com", "qtype": "MX"},
                 {"ident": 0x1003, "qname": "example.com", "qtype": "MX",
                  "answers": ["10 mail.example.com", "20 mail2.example.com"]})

    q = message(0x1004, [question("example.com", "TXT")])
    r = message(0x1004, [question("example.com", "TXT")],
                answers=[rr(PTR12, "TXT", b"\x0bv=spf1 -all\x06two \"q"),
                         rr(PTR12, "TXT", b"\x00")], qr=1, ra=1)
    udp_exchange(cap, truth, flow, q, r, {"ident": 0x1004, "qname": "example.com", "qtype": "TXT"},
                 {"ident": 0x1004, "qname": "example.com", "qtype": "TXT",
                  "answers": ['"v=spf1 -all" "two \\"q"', '""']})

    q = message(0x1005, [question("_sip._udp.example.com", "SRV")])
    r = message(0x1005, [question("_sip._udp.example.com", "SRV")],
                answers=[rr(PTR12, "SRV", struct.pack("!HHH", 10, 60, 5060) + name("sip.example.com"))],
                qr=1, aa=1)
    udp_exchange(cap, truth, flow, q, r, {"ident": 0x1005, "qname": "_sip._udp.example.com", "qtype": "SRV"},
                 {"ident": 0x1005, "qname": "_sip._udp.example.com", "qtype": "SRV",
                  "answers": ["10 60 5060 sip.example.com"]})

    q = message(0x1006, [question(".", "NS")])
    r = message(0x1006, [question(".", "NS")],
                answers=[rr(".", "NS", name("a.root-servers.net")), rr(".", "NS", b"\x01b\x00")], qr=1, ra=1)
    udp_exchange(cap, truth, flow, q, r, {"ident": 0x1006, "qname": ".", "qtype": "NS"},
                 {"ident": 0x1006, "qname": ".", "qtype": "NS", "answers": ["a.root-servers.net", "b"]})

    q = message(0x1007, [question("1.2.0.192.in-addr.arpa", "PTR")])
    r = message(0x1007, [question("1.2.0.192.in-addr.arpa", "PTR")],
                answers=[rr(PTR12, "PTR", name("host.example.com"))], qr=1, ra=1)
    udp_exchange(cap, truth, flow, q, r, {"ident": 0x1007, "qname": "1.2.0.192.in-addr.arpa", "qtype": "PTR"},
                 {"ident": 0x1007, "qname": "1.2.0.192.in-addr.arpa", "qtype": "PTR",
                  "answers": ["host.example.com"]})

    # NXDOMAIN with the SOA in the authority section; an extended rcode (BADVERS)
    q = message(0x1008, [question("nope.example.com", "A")])
    soa = name("ns1.example.com") + b"\x0ahostmaster\xc0\x11" + struct.pack("!IIIII", 2024010101, 7200, 900, 1209600, 300)
    r = message(0x1008, [question("nope.example.com", "A")],
                authority=[rr(b"\xc0\x11", "SOA", soa, ttl=300)], qr=1, ra=1, rcode=3)
    udp_exchange(cap, truth, flow, q, r, {"ident": 0x1008, "qname": "nope.example.com", "qtype": "A"},
                 {"ident": 0x1008, "qname": "nope.example.com", "qtype": "A", "rcode": "NXDOMAIN",
                  "authority": ["ns1.example.com hostmaster.example.com 2024010101 7200 900 1209600 300"]})

    q = message(0x1009, [question("example.com", "A")], additional=[opt(4096, version=1)])
    r = message(0x1009, [question("example.com", "A")], additional=[opt(4096, ext_rcode=1)], qr=1)
    udp_exchange(cap, truth, flow, q, r, {"ident": 0x1009, "qname": "example.com", "qtype": "A"},
                 {"ident": 0x1009, "qname": "example.com", "qtype": "A", "rcode": "BADVERS"})

    # unknown and undecoded types: kept raw (RFC 3597 text)
    q = message(0x100A, [question("example.com", "TYPE65534")])
    r = message(0x100A, [question("example.com", "TYPE65534")],
                answers=[rr(PTR12, "TYPE65534", b"\x01\x02\xff"),
                         rr(PTR12, "CAA", b"\x00\x05issueca.example")], qr=1, ra=1)
    udp_exchange(cap, truth, flow, q, r, {"ident": 0x100A, "qname": "example.com", "qtype": "TYPE65534"},
                 {"ident": 0x100A, "qname": "example.com", "qtype": "TYPE65534",
                  "answers": ["\\# 3 0102ff", "\\# 17 0005697373756563612e6578616d706c65"]})

    # a label holding a dot and a space, a byte above 127: escaped
    odd = [b"a.b", b"c d", b"\xe9", b"example", b"com"]
    q = message(0x100B, [question(name(odd), "A")])
    r = message(0x100B, [question(name(odd), "A")], answers=[rr(PTR12, "A", bytes([192, 0, 2, 9]))],
                qr=1, ra=1)
    udp_exchange(cap, truth, flow, q, r, {"ident": 0x100B, "qname": "a\\.b.c\\032d.\\233.example.com", "qtype": "A"},
                 {"ident": 0x100B, "qname": "a\\.b.c\\032d.\\233.example.com", "qtype": "A",
                  "answers": ["192.0.2.9"]})

    # SERVFAIL; an unanswered query; a retransmitted query answered once
    q = message(0x100C, [question("broken.example.com", "A")])
    r = message(0x100C, [question("broken.example.com", "A")], qr=1, ra=1, rcode=2)
    udp_exchange(cap, truth, flow, q, r, {"ident": 0x100C, "qname": "broken.example.com", "qtype": "A"},
                 {"ident": 0x100C, "qname": "broken.example.com", "qtype": "A", "rcode": "SERVFAIL"})

    q = message(0x100D, [question("silent.example.com", "A")])
    udp_exchange(cap, truth, flow, q, None, {"ident": 0x100D, "qname": "silent.example.com", "qtype": "A",
                                             "unanswered": True}, None)

    q = message(0x100E, [question("retry.example.com", "A")])
    ts = flow.send(CLIENT, q, delay_ms=2)
    truth.add("udp", ts, 0x100E, 0, "retry.example.com", "A")
    ts = flow.send(CLIENT, q, delay_ms=1000)
    truth.add("udp", ts, 0x100E, 0, "retry.example.com", "A", retry=True)
    r = message(0x100E, [question("retry.example.com", "A")], answers=[rr(PTR12, "A", bytes([192, 0, 2, 14]))],
                qr=1, ra=1)
    ts = flow.send(SERVER, r, delay_ms=30)
    truth.add("udp", ts, 0x100E, 1, "retry.example.com", "A", answers=["192.0.2.14"])

    # truncated over UDP (TC), then the same question over TCP port 53:
    # two queries pipelined in one segment, answered in the other order
    q = message(0x2001, [question("big.example.com", "TXT")])
    r = message(0x2001, [question("big.example.com", "TXT")], qr=1, tc=1, ra=1)
    udp_exchange(cap, truth, flow, q, r, {"ident": 0x2001, "qname": "big.example.com", "qtype": "TXT"},
                 {"ident": 0x2001, "qname": "big.example.com", "qtype": "TXT", "tc": True})

    s = cap.session("tcp53", 53)
    s.handshake()
    q1 = message(0x2002, [question("big.example.com", "TXT")])
    q2 = message(0x2003, [question("www.example.com", "AAAA")])
    off = s.offset(CLIENT)
    s.send(CLIENT, tcp_framed(q1, q2), delay_ms=1)
    qts = s.ts_of(CLIENT, off)
    truth.add("tcp", qts, 0x2002, 0, "big.example.com", "TXT")
    truth.add("tcp", qts, 0x2003, 0, "www.example.com", "AAAA")
    big = b"".join(bytes([200]) + bytes([65 + i % 26]) * 200 for i in range(10))
    r1 = message(0x2002, [question("big.example.com", "TXT")], answers=[rr(PTR12, "TXT", big)], qr=1, ra=1)
    r2 = message(0x2003, [question("www.example.com", "AAAA")], answers=[rr(PTR12, "AAAA", ipv6("2001:db8::80"))],
                 qr=1, ra=1)
    off = s.offset(SERVER)
    framed = tcp_framed(r2, r1)
    s.send(SERVER, framed, delay_ms=15, cuts=(1, len(r2) + 3))  # length prefix split off
    truth.add("tcp", s.ts_of(SERVER, off), 0x2003, 1, "www.example.com", "AAAA", answers=["2001:db8::80"])
    truth.add("tcp", s.ts_of(SERVER, off + len(r2) + 2), 0x2002, 1, "big.example.com", "TXT",
              answers=[" ".join('"%s"' % (chr(65 + i % 26) * 200) for i in range(10))])
    s.close()

    # DNS over TCP on port 8053: taken by the dissector's heuristic
    s = cap.session("tcp8053", 8053)
    s.handshake()
    q = message(0x3001, [question("alt.example.com", "A")])
    off = s.offset(CLIENT)
    s.send(CLIENT, tcp_framed(q), delay_ms=1)
    truth.add("tcp", s.ts_of(CLIENT, off), 0x3001, 0, "alt.example.com", "A")
    r = message(0x3001, [question("alt.example.com", "A")], answers=[rr(PTR12, "A", bytes([198, 51, 100, 7]))],
                qr=1, ra=1)
    off = s.offset(SERVER)
    s.send(SERVER, tcp_framed(r), delay_ms=8)
    truth.add("tcp", s.ts_of(SERVER, off), 0x3001, 1, "alt.example.com", "A", answers=["198.51.100.7"])
    s.close()

    # IPv6 over UDP
    flow6 = UdpFlow(cap, ipv6=True)
    q = message(0x4001, [question("six.example.com", "AAAA")])
    r = message(0x4001, [question("six.example.com", "AAAA")], answers=[rr(PTR12, "AAAA", ipv6("2001:db8::6"))],
                qr=1, ra=1)
    udp_exchange(cap, truth, flow6, q, r, {"ident": 0x4001, "qname": "six.example.com", "qtype": "AAAA"},
                 {"ident": 0x4001, "qname": "six.example.com", "qtype": "AAAA", "answers": ["2001:db8::6"]})
    return truth


# ------------------------------------------------------------ bad input

def good_pair(ident, qname):
    q = message(ident, [question(qname, "A")])
    r = message(ident, [question(qname, "A")], answers=[rr(PTR12, "A", bytes([192, 0, 2, 200]))], qr=1, ra=1)
    return q, r


def bad_messages():
    """name -> the bad message (a response)."""
    hdr = header(0xBAD1, qr=1, counts=(1, 0, 0, 0))
    loop = header(0xBAD1, qr=1, counts=(1, 1, 0, 0)) + question("loop.example", "A") \
        + b"\x01a\xc0\x1e" + struct.pack("!HHIH", 1, 1, 60, 4) + b"\x01\x02\x03\x04"
    # the answer's owner name at offset 30 is "a" then a pointer to 30 itself
    labels = b"".join(b"\x01x" for _ in range(300)) + b"\x00"
    long_name = b"".join(b"\x3f" + b"n" * 63 for _ in range(32)) + b"\x00"   # 2,048 bytes
    past_end = header(0xBAD1, qr=1, counts=(1, 1, 0, 0)) + question("short.example", "A") \
        + PTR12 + struct.pack("!HHIH", 1, 1, 60, 400) + b"\x01\x02\x03\x04"
    counts = header(0xBAD1, qr=1, counts=(1, 40, 0, 0)) + question("count.example", "A") \
        + PTR12 + struct.pack("!HHIH", 1, 1, 60, 4) + b"\x01\x02\x03\x04"
    return {
        "pointer_loop": loop,
        "labels_300": hdr + labels + b"\x00\x01\x00\x01",
        "name_2000": hdr + long_name + b"\x00\x01\x00\x01",
        "rdlength_past_end": past_end,
        "truncated_header": b"\xba\xd1\x81\x80\x00\x01",
        "counts_too_large": counts,
    }


CASES = sorted(["%s_%s" % (k, t) for k in bad_messages() for t in ("udp", "tcp")])


def case(name_, fp):
    kind, transport = name_.rsplit("_", 1)
    bad = bad_messages()[kind]
    cap = g.Capture(fp)
    q1, r1 = good_pair(0x0A01, "before.example.com")
    q2, r2 = good_pair(0x0A02, "same.example.com")
    q3, r3 = good_pair(0x0A03, "next.example.com")
    if transport == "udp":
        flow = UdpFlow(cap)
        for side, m in ((CLIENT, q1), (SERVER, r1), (SERVER, bad), (CLIENT, q2), (SERVER, r2)):
            flow.send(side, m, delay_ms=5)
    else:
        s = cap.session("bad", 53)
        s.handshake()
        s.send(CLIENT, tcp_framed(q1), delay_ms=1)
        s.send(SERVER, tcp_framed(r1), delay_ms=5)
        s.send(CLIENT, tcp_framed(q2), delay_ms=1)
        s.send(SERVER, tcp_framed(bad, r2), delay_ms=5)
        s.close()
    flow = UdpFlow(cap)
    flow.send(CLIENT, q3, delay_ms=5)
    flow.send(SERVER, r3, delay_ms=5)


def main(argv):
    if len(argv) >= 3 and argv[1] == "features":
        with open(argv[2], "wb") as fp:
            truth = features(fp)
        if len(argv) > 3:
            with open(argv[3], "w") as out:
                json.dump({"messages": truth.messages}, out, indent=1, sort_keys=True)
                out.write("\n")
        return 0
    if len(argv) == 4 and argv[1] == "case" and argv[2] in CASES:
        with open(argv[3], "wb") as fp:
            case(argv[2], fp)
        return 0
    if len(argv) == 2 and argv[1] == "list":
        print("\n".join(CASES))
        return 0
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
