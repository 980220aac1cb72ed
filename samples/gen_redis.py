#!/usr/bin/env python3
"""The synthetic Redis capture for lunatap's tests.

    python3 samples/gen_redis.py OUT.pcap [TRUTH.json]

writes the capture committed as samples/redis-features.pcap and its truth
(samples/redis-features.truth.json): RESP2 commands and replies of every
RESP2 type, pipelining split across segments, inline commands with quotes,
MULTI/EXEC, RESP2 and RESP3 pub/sub, a RESP3 session (HELLO 3) with every
RESP3 type and an attribute, CLIENT REPLY OFF/ON over IPv6, Redis on port
7777 (found by the heuristic) and a reply no command asked for. The truth
lists every command (session, args, inline) and reply (session, type,
index of the command it answers, or null).

Standard library only and deterministic; packets and TCP sessions come from
gen_http.py (imported, not copied).
"""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_http as g  # noqa: E402

CLIENT, SERVER = g.CLIENT, g.SERVER


def cmd(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else a.encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class Truth:
    def __init__(self):
        self.commands, self.replies = [], []
        self.count = {}

    def command(self, s, args, inline=False, reply=True):
        n = self.count.get(s.index, 0) + 1
        self.count[s.index] = n
        self.commands.append({"session": s.index, "index": n, "args": args, "inline": inline})
        return n if reply else None

    def reply(self, s, rtype, index):
        self.replies.append({"session": s.index, "type": rtype, "command": index})


def resp2_session(cap, t):
    s = cap.session("resp2", 6379)
    s.handshake()
    pairs = [
        (("SET", "user:1", "alice"), b"+OK\r\n", "simple"),
        (("GET", "user:1"), b"$5\r\nalice\r\n", "bulk"),
        (("GET", "missing"), b"$-1\r\n", "null"),
        (("INCR", "hits"), b":42\r\n", "integer"),
        (("MGET", "user:1", "missing"), b"*2\r\n$5\r\nalice\r\n$-1\r\n", "array"),
        (("LRANGE", "empty", "0", "-1"), b"*0\r\n", "array"),
        (("BLPOP", "q", "0.01"), b"*-1\r\n", "null"),
        (("HGET", "user:1", "name"), b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
         "error"),
        (("SET", "blob", bytes(range(256))), b"+OK\r\n", "simple"),
    ]
    wire, replies = b"", b""
    for args, reply, rtype in pairs:
        wire += cmd(*args)
        replies += reply
    # one burst of pipelined commands cut at awkward places, replies in two
    s.send(CLIENT, wire, cuts=(3, 17, 40, 41, len(wire) - 2))
    idx = [t.command(s, list(a if isinstance(a, str) else a.hex() for a in args)) for args, _, _ in pairs]
    s.send(SERVER, replies, delay_ms=2, cuts=(7, 30))
    for i, (_, _, rtype) in zip(idx, pairs):
        t.reply(s, rtype, i)
    s.close()


def inline_session(cap, t):
    s = cap.session("inline", 6379)
    s.handshake()
    s.send(CLIENT, b"PING\r\n")
    t.reply(s, "simple", t.command(s, ["PING"], inline=True))
    s.send(SERVER, b"+PONG\r\n", delay_ms=1)
    s.send(CLIENT, b'SET greeting "hello world\\x21\\n" \'it\\\'s\'\r\n', delay_ms=3)
    t.reply(s, "simple", t.command(s, ["SET", "greeting", "hello world!\n", "it's"], inline=True))
    s.send(SERVER, b"+OK\r\n", delay_ms=1)
    s.close()


def multi_session(cap, t):
    s = cap.session("multi", 6379)
    s.handshake()
    cmds = [("MULTI",), ("INCR", "a"), ("INCR", "b"), ("EXEC",)]
    s.send(CLIENT, b"".join(cmd(*c) for c in cmds))
    idx = [t.command(s, list(c)) for c in cmds]
    s.send(SERVER, b"+OK\r\n+QUEUED\r\n+QUEUED\r\n*2\r\n:1\r\n:1\r\n", delay_ms=1)
    for i, rtype in zip(idx, ("simple", "simple", "simple", "array")):
        t.reply(s, rtype, i)
    s.close()


def pubsub2_session(cap, t):
    s = cap.session("pubsub-resp2", 6379)
    s.handshake()
    s.send(CLIENT, cmd("SUBSCRIBE", "news", "sport"))
    i = t.command(s, ["SUBSCRIBE", "news", "sport"])
    s.send(SERVER, cmd("subscribe", "news").replace(b"*2", b"*3", 1) + b":1\r\n"
           + cmd("subscribe", "sport").replace(b"*2", b"*3", 1) + b":2\r\n", delay_ms=1)
    t.reply(s, "array", i)
    t.reply(s, "array", i)
    s.send(SERVER, cmd("message", "news", "rain tomorrow"), delay_ms=50)
    s.send(CLIENT, cmd("PSUBSCRIBE", "s*"), delay_ms=5)
    i = t.command(s, ["PSUBSCRIBE", "s*"])
    s.send(SERVER, cmd("psubscribe", "s*").replace(b"*2", b"*3", 1) + b":3\r\n", delay_ms=1)
    t.reply(s, "array", i)
    s.send(SERVER, cmd("pmessage", "s*", "sport", "3-1"), delay_ms=50)
    s.close()


def resp3_session(cap, t):
    s = cap.session("resp3", 6379)
    s.handshake()
    replies = [
        (("HELLO", "3"), b"%3\r\n$6\r\nserver\r\n$5\r\nredis\r\n$5\r\nproto\r\n:3\r\n$4\r\nmode\r\n"
         b"$10\r\nstandalone\r\n", "map"),
        (("GET", "nothing"), b"_\r\n", "null"),
        (("EXISTS", "a"), b"#t\r\n", "boolean"),
        (("INCRBYFLOAT", "f", "0.5"), b",1.5\r\n", "double"),
        (("DEBUG", "BIG"), b"(3492890328409238509324850943850943825024385\r\n", "bignum"),
        (("EVAL", "x", "0"), b"!21\r\nSYNTAX invalid syntax\r\n", "bulk_error"),
        (("INFO", "server"), b"=15\r\ntxt:Some string\r\n", "verbatim"),
        (("SMEMBERS", "s"), b"~2\r\n+a\r\n+b\r\n", "set"),
        (("CLIENT", "TRACKING", "on"), b"|1\r\n+key-popularity\r\n%1\r\n$1\r\na\r\n,0.19\r\n+OK\r\n", "simple"),
    ]
    s.send(CLIENT, b"".join(cmd(*a) for a, _, _ in replies))
    idx = [t.command(s, list(a)) for a, _, _ in replies]
    s.send(SERVER, b"".join(r for _, r, _ in replies), delay_ms=1)
    for i, (_, _, rtype) in zip(idx, replies):
        t.reply(s, rtype, i)
    s.send(CLIENT, cmd("SUBSCRIBE", "chat"), delay_ms=5)
    t.command(s, ["SUBSCRIBE", "chat"])   # answered by a push
    s.send(SERVER, b">3\r\n$9\r\nsubscribe\r\n$4\r\nchat\r\n:1\r\n>3\r\n$7\r\nmessage\r\n$4\r\nchat\r\n$2\r\nhi\r\n",
           delay_ms=1)
    s.close()


def reply_off_session(cap, t):
    s = cap.session("reply-off-v6", 6379, ipv6=True)
    s.handshake()
    seq = [(("CLIENT", "REPLY", "OFF"), False), (("SET", "k", "v"), False), (("CLIENT", "REPLY", "ON"), True),
           (("GET", "k"), True)]
    s.send(CLIENT, b"".join(cmd(*a) for a, _ in seq))
    idx = [t.command(s, list(a), reply=r) for a, r in seq]
    s.send(SERVER, b"+OK\r\n$1\r\nv\r\n", delay_ms=1)
    t.reply(s, "simple", idx[2])
    t.reply(s, "bulk", idx[3])
    s.close()


def other_port_session(cap, t):
    s = cap.session("port-7777", 7777)
    s.handshake()
    s.send(CLIENT, cmd("PING"))
    t.reply(s, "simple", t.command(s, ["PING"]))
    s.send(SERVER, b"+PONG\r\n", delay_ms=1)
    s.close()


def orphan_session(cap, t):
    s = cap.session("orphan", 6379)
    s.handshake()
    s.send(SERVER, b"-ERR no command asked for this\r\n")
    t.reply(s, "error", None)
    s.send(CLIENT, cmd("PING"), delay_ms=2)
    t.reply(s, "simple", t.command(s, ["PING"]))
    s.send(SERVER, b"+PONG\r\n", delay_ms=1)
    s.close()


def features(fp):
    cap = g.Capture(fp)
    t = Truth()
    for make in (resp2_session, inline_session, multi_session, pubsub2_session, resp3_session,
                 reply_off_session, other_port_session, orphan_session):
        make(cap, t)
        cap.wait(20)
    return t


def main(argv):
    if len(argv) not in (2, 3):
        sys.stderr.write(__doc__)
        return 2
    with open(argv[1], "wb") as fp:
        t = features(fp)
    if len(argv) == 3:
        with open(argv[2], "w") as out:
            json.dump({"commands": t.commands, "replies": t.replies,
                       "note": "args that are not text are hex (the SET blob)"}, out, indent=1, sort_keys=True)
            out.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
