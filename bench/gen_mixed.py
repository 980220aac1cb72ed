#!/usr/bin/env python3
"""A large mixed capture for the protocol benchmarks (bench/proto.sh).

    python3 bench/gen_mixed.py OUT.pcap [--sessions N] [--concurrent C]
                                        [--seed S] [--truth T.json]

Interleaved sessions over IPv4 and IPv6: Redis (RESP2 pipelines of 1-40
commands, a few inline commands), DNS over UDP (A, AAAA, MX, TXT, CNAME
chains, NXDOMAIN, compressed names, some queries never answered), TLS
handshakes (ClientHello with SNI and ALPN, ServerHello, then application
data records) and HTTP/1.1 keep-alive sessions from samples/gen_http.py's
bulk generator, with its ~0.5% retransmitted and reordered segments. With
--truth it writes what the capture holds: Redis commands per name, DNS
queries per type and answered, TLS client hellos per SNI, HTTP requests.

Everything comes from random.Random(seed): a seed gives the same bytes. It
is made at bench time and never committed.
"""

import json
import os
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "samples"))
import gen_http as g  # noqa: E402  (the shared packet writer)

MIX = (("redis", 0.40), ("dns", 0.30), ("tls", 0.15), ("http", 0.15))
SESSIONS = 6000
CONCURRENT = 256
SEED = 1
DNS_UNANSWERED = 0.02
REDIS_INLINE = 0.03

QTYPES = {"A": 1, "NS": 2, "CNAME": 5, "MX": 15, "TXT": 16, "AAAA": 28}
QTYPE_MIX = (("A", 0.5), ("AAAA", 0.3), ("MX", 0.08), ("TXT", 0.07), ("CNAME", 0.05))
ALPNS = ((b"h2", b"http/1.1"), (b"http/1.1",), (b"h2",), ())


class Mixed(g._Bulk):
    """gen_http's bulk state plus the counts of the other protocols."""

    def __init__(self, seed):
        super().__init__(seed)
        self.redis = {}
        self.qtypes = {}
        self.snis = {}
        self.alpns = {}
        self.inline = {}
        self.counts.update({"redis_sessions": 0, "redis_commands": 0, "redis_replies": 0,
                            "redis_inline": 0, "dns_queries": 0, "dns_responses": 0, "dns_answers": 0,
                            "tls_sessions": 0, "tls_client_hellos": 0,
                            "tls_server_hellos": 0})

    def tally(self, table, key):
        table[key] = table.get(key, 0) + 1


def _tcp_session(bulk, index, port, exchanges):
    """A TCP session: handshake, then each (client bytes, server bytes) of
    `exchanges` in turn, then FINs."""
    rng = bulk.rng
    v6, c, s = g._bulk_flow(bulk, index, port)
    mss = g._MSS_OPTION[6 if v6 else 4]
    cisn, sisn = rng.getrandbits(32), rng.getrandbits(32)
    yield c.tcp(cisn, 0, g.SYN, options=mss)
    yield s.tcp(sisn, cisn + 1, g.SYN | g.ACK, options=mss)
    yield c.tcp(cisn + 1, sisn + 1, g.ACK)
    cstate, sstate = [cisn + 1, sisn + 1], [sisn + 1, cisn + 1]
    for request, reply in exchanges:
        cstate[1] = sstate[0]
        yield from g._bulk_send(bulk, c, s, cstate, request)
        if reply:
            sstate[1] = cstate[0]
            yield from g._bulk_send(bulk, s, c, sstate, reply)
    a, b = cstate[0], sstate[0]
    yield c.tcp(a, b, g.FIN | g.ACK)
    yield s.tcp(b, a + 1, g.FIN | g.ACK)
    yield c.tcp(a + 1, b + 1, g.ACK)


# ------------------------------------------------------------------ Redis

def resp_command(args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        out += (b"$%d\r\n" % len(a), a, b"\r\n")
    return b"".join(out)


def resp_bulk(v):
    return b"$-1\r\n" if v is None else b"$%d\r\n%s\r\n" % (len(v), v)


def _redis_pair(bulk, store):
    """One command (its arguments) and its reply bytes."""
    rng = bulk.rng
    key = b"key:%d" % rng.randrange(2000)
    r = rng.random()
    if r < 0.30:
        value = bulk.pool_slice(bulk.text, int(8 * 500 ** rng.random()))
        store[key] = value
        return [b"SET", key, value], b"+OK\r\n"
    if r < 0.60:
        return [b"GET", key], resp_bulk(store.get(key))
    if r < 0.70:
        n = store[b"n"] = store.get(b"n", 0) + 1
        return [b"INCR", b"counter"], b":%d\r\n" % n
    if r < 0.78:
        items = [b"item%d" % rng.randrange(10 ** 6) for _ in range(rng.randint(1, 8))]
        return [b"LPUSH", b"queue", *items], b":%d\r\n" % rng.randint(len(items), 10 ** 5)
    if r < 0.84:
        items = [b"item%d" % rng.randrange(10 ** 6) for _ in range(rng.randint(0, 20))]
        return [b"LRANGE", b"queue", b"0", b"19"], b"*%d\r\n" % len(items) + b"".join(
            resp_bulk(i) for i in items)
    if r < 0.90:
        fields = [(b"f%d" % i, b"%d" % rng.randrange(10 ** 9)) for i in range(rng.randint(1, 6))]
        return [b"HSET", b"h:" + key, *[x for f in fields for x in f]], b":%d\r\n" % len(fields)
    if r < 0.95:
        keys = [b"key:%d" % rng.randrange(2000) for _ in range(rng.randint(2, 10))]
        return [b"MGET", *keys], b"*%d\r\n" % len(keys) + b"".join(
            resp_bulk(store.get(k)) for k in keys)
    if r < 0.98:
        return [b"DEL", key], b":%d\r\n" % (1 if store.pop(key, None) is not None else 0)
    return [b"PING"], b"+PONG\r\n"


def _redis_session(bulk, index):
    rng = bulk.rng
    bulk.count("redis_sessions")
    store, exchanges = {}, []
    for _ in range(rng.randint(1, 12)):
        requests, replies = [], []
        for _ in range(rng.randint(1, 40)):
            args, reply = _redis_pair(bulk, store)
            # an inline command is one line: no blank, CR, LF or quote in an argument
            if rng.random() < REDIS_INLINE and all(a and not any(c in a for c in b" \r\n\"'") for a in args):
                requests.append(b" ".join(args) + b"\r\n")
                bulk.count("redis_inline")
                bulk.tally(bulk.inline, args[0].decode())
            else:
                requests.append(resp_command(args))
            replies.append(reply)
            bulk.tally(bulk.redis, args[0].decode())
            bulk.count("redis_commands")
            bulk.count("redis_replies")
        exchanges.append((b"".join(requests), b"".join(replies)))
    return _tcp_session(bulk, index, 6379, exchanges)


# -------------------------------------------------------------------- DNS

def dns_name(name):
    return b"".join(bytes((len(p),)) + p for p in name.encode().split(b".")) + b"\0"


def _dns_answers(bulk, question, qtype):
    """Answer records (wire bytes, count or None: count the A records) for
    a query whose name sits at offset 12 (pointer 0xC00C)."""
    rng = bulk.rng
    here = b"\xc0\x0c"

    def rr(owner, rtype, data):
        return owner + struct.pack("!HHIH", rtype, 1, rng.randrange(30, 86400), len(data)) + data

    if qtype == "A":
        return b"".join(rr(here, 1, bytes((192, 0, 2, rng.randrange(1, 255))))
                        for _ in range(rng.randint(1, 4))), None
    if qtype == "AAAA":
        return rr(here, 28, bytes.fromhex("20010db8") + rng.randbytes(12)), 1
    if qtype == "MX":
        return b"".join(rr(here, 15, struct.pack("!H", 10 * k) + b"\x03mx" +
                           bytes((48 + k,)) + here) for k in range(2)), 2
    if qtype == "TXT":
        text = b"v=spf1 include:_spf.example.com ~all"
        return rr(here, 16, bytes((len(text),)) + text), 1
    # a CNAME chain ending in an A record: the target's name is compressed
    # against the question name
    target = 12 + len(question) + 12            # header, question, first RR's fixed part
    return (rr(here, 5, b"\x04edge" + here) +
            rr(struct.pack("!H", 0xC000 | target), 1, bytes((198, 51, 100, 7)))), 2


def _dns_exchange(bulk, ident):
    rng = bulk.rng
    qtype = rng.choices(*zip(*QTYPE_MIX))[0]
    qname = "host%d.%s.example.com" % (rng.randrange(5000), rng.choice(("svc", "cdn", "db")))
    question = dns_name(qname) + struct.pack("!HH", QTYPES[qtype], 1)
    query = struct.pack("!HHHHHH", ident, 0x0100, 1, 0, 0, 0) + question
    bulk.tally(bulk.qtypes, qtype)
    bulk.count("dns_queries")
    if rng.random() < DNS_UNANSWERED:
        return query, None
    bulk.count("dns_responses")
    if rng.random() < 0.05:
        return query, struct.pack("!HHHHHH", ident, 0x8183, 1, 0, 0, 0) + question
    answers, n = _dns_answers(bulk, question, qtype)
    if n is None:
        n = answers.count(b"\xc0\x0c\x00\x01\x00\x01")
    bulk.count("dns_answers", n)
    return query, struct.pack("!HHHHHH", ident, 0x8180, 1, n, 0, 0) + question + answers


def _dns_session(bulk, index):
    """A client sending 1-6 queries from one port, each answered (mostly)
    within a few packets."""
    rng = bulk.rng
    _, c, s = g._bulk_flow(bulk, index, 53)
    for _ in range(rng.randint(1, 6)):
        query, response = _dns_exchange(bulk, rng.getrandbits(16))
        yield c.udp(query)
        if response is not None:
            yield s.udp(response)


# -------------------------------------------------------------------- TLS

def _client_hello(bulk, sni, alpn):
    rng = bulk.rng
    name = sni.encode()
    exts = g.tls_ext(0, struct.pack("!HBH", len(name) + 3, 0, len(name)) + name)
    if alpn:
        protos = b"".join(bytes((len(p),)) + p for p in alpn)
        exts += g.tls_ext(16, struct.pack("!H", len(protos)) + protos)
    exts += (g.tls_ext(10, struct.pack("!HHH", 4, 0x001D, 0x0017)) +
             g.tls_ext(43, b"\x04\x03\x04\x03\x03") +
             g.tls_ext(51, struct.pack("!HHH", 36, 0x001D, 32) + rng.randbytes(32)))
    suites = struct.pack("!H6H", 12, 0x1301, 0x1302, 0x1303, 0xC02B, 0xC02F, 0x009C)
    body = (b"\x03\x03" + rng.randbytes(32) + b"\x20" + rng.randbytes(32) + suites +
            b"\x01\x00" + struct.pack("!H", len(exts)) + exts)
    return g.tls_record(22, g.tls_handshake(1, body), version=0x0301)


def _server_hello(bulk, alpn):
    rng = bulk.rng
    exts = g.tls_ext(43, b"\x03\x04") + g.tls_ext(51, struct.pack("!HH", 0x001D, 32) +
                                                  rng.randbytes(32))
    if alpn:
        exts += g.tls_ext(16, struct.pack("!HB", len(alpn[0]) + 1, len(alpn[0])) + alpn[0])
    body = (b"\x03\x03" + rng.randbytes(32) + b"\x20" + rng.randbytes(32) + b"\x13\x01\x00" +
            struct.pack("!H", len(exts)) + exts)
    return g.tls_record(22, g.tls_handshake(2, body))


def _app_data(bulk, total):
    out, left = [], total
    while left > 0:
        n = min(left, 16384)
        out.append(g.tls_record(23, bulk.pool_slice(bulk.binary, n)))
        left -= n
    return b"".join(out)


def _tls_session(bulk, index):
    rng = bulk.rng
    sni = "api%d.example.net" % rng.randrange(300)
    alpn = rng.choice(ALPNS)
    bulk.count("tls_sessions")
    bulk.count("tls_client_hellos")
    bulk.count("tls_server_hellos")
    bulk.tally(bulk.snis, sni)
    bulk.tally(bulk.alpns, b",".join(alpn).decode())
    server = _server_hello(bulk, alpn) + g.TLS_CCS + _app_data(bulk, rng.randint(2000, 6000))
    exchanges = [(_client_hello(bulk, sni, alpn), server),
                 (g.TLS_CCS + _app_data(bulk, rng.randint(60, 200)), None)]
    for _ in range(rng.randint(1, 5)):
        exchanges.append((_app_data(bulk, rng.randint(100, 2000)),
                          _app_data(bulk, int(500 * 400 ** rng.random()))))
    return _tcp_session(bulk, index, 443, exchanges)


# ------------------------------------------------------------------ writer

KINDS = {"redis": _redis_session, "dns": _dns_session, "tls": _tls_session,
         "http": g._bulk_http_session}


def write_mixed(path, sessions=SESSIONS, concurrent=CONCURRENT, seed=SEED, truth_path=None):
    bulk = Mixed(seed)
    rng = bulk.rng
    names, weights = zip(*MIX)
    started = [0]

    def start():
        i = started[0]
        started[0] += 1
        return KINDS[rng.choices(names, weights)[0]](bulk, i)

    active = [start() for _ in range(min(concurrent, sessions))]
    now, packets, nbytes, pending, out = g.EPOCH_US, 0, 0, 0, []
    with open(path, "wb") as fp:
        fp.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, g.SNAPLEN, g.LINKTYPE_ETHERNET))
        while active:
            i = rng.randrange(len(active))
            frame = next(active[i], None)
            if frame is None:
                if started[0] < sessions:
                    active[i] = start()
                else:
                    active[i] = active[-1]
                    active.pop()
                continue
            n = len(frame)
            out.append(g._REC.pack(now // 1_000_000, now % 1_000_000, n, n))
            out.append(frame)
            now += 20 + n // 100
            packets += 1
            nbytes += n
            pending += n
            if pending > 4 << 20:
                fp.write(b"".join(out))
                out, pending = [], 0
        fp.write(b"".join(out))
    if truth_path:
        truth = {"generator": "python3 bench/gen_mixed.py --sessions %d --concurrent %d --seed %d"
                              % (sessions, concurrent, seed),
                 "packets": packets, "frame_bytes": nbytes,
                 "redis": dict(sorted(bulk.redis.items())),
                 "redis_inline_names": dict(sorted(bulk.inline.items())),
                 "dns_qtypes": dict(sorted(bulk.qtypes.items())),
                 "tls_snis": len(bulk.snis),
                 "tls_sni_hellos": dict(sorted(bulk.snis.items())),
                 "tls_alpn_hellos": dict(sorted(bulk.alpns.items())),
                 "http_methods": dict(sorted(bulk.methods.items()))}
        truth.update(bulk.counts)
        with open(truth_path, "w") as fp:
            json.dump(truth, fp, indent=1)
            fp.write("\n")
    return packets


def main(argv):
    opts = {"--sessions": SESSIONS, "--concurrent": CONCURRENT, "--seed": SEED, "--truth": None}
    if len(argv) < 2 or argv[1].startswith("--"):
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    rest = argv[2:]
    while rest:
        if len(rest) < 2 or rest[0] not in opts:
            print("gen_mixed.py: bad option %r" % rest[0], file=sys.stderr)
            return 2
        key, value = rest[0], rest[1]
        if key != "--truth":
            if not value.isdigit() or (int(value) < 1 and key != "--seed"):
                print("gen_mixed.py: %s wants a positive number, not %r" % (key, value),
                      file=sys.stderr)
                return 2
            value = int(value)
        opts[key] = value
        rest = rest[2:]
    write_mixed(argv[1], opts["--sessions"], opts["--concurrent"], opts["--seed"], opts["--truth"])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
