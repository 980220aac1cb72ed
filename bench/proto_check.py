#!/usr/bin/env python3
"""Checks bench/proto.sh's results: redis_trace, dns_trace and tls_trace
--json against the generator's truth (exact), and tshark's fields against
the same truth (exact where tshark can say it; see docs/redis.md for why
its per-command names are only reported). Prints one line per check and
exits 1 when one fails, so that a fast wrong answer cannot pass.

    python3 bench/proto_check.py TRUTH.json OUTDIR
"""
import collections
import json
import sys

QTYPES = {1: "A", 2: "NS", 5: "CNAME", 6: "SOA", 12: "PTR", 15: "MX", 16: "TXT", 28: "AAAA", 33: "SRV"}


class Checker:
    def __init__(self):
        self.failed = 0

    def equal(self, what, got, want):
        ok = got == want
        self.failed += not ok
        shown = got
        if ok and isinstance(got, dict) and len(got) > 12:
            shown = "%d distinct values, every count equal" % len(got)
        print("%-4s %s: %s" % ("ok" if ok else "FAIL", what, shown if ok else "%s, want %s" % (got, want)))


def records(path):
    with open(path) as fp:
        return [json.loads(line) for line in fp if line.strip()]


def redis_checks(c, truth, out):
    recs = records(out + "/redis.json")
    cmds = [r for r in recs if r["event"] == "command"]
    c.equal("redis_trace commands by name", dict(collections.Counter(r["name"] for r in cmds)), truth["redis"])
    c.equal("redis_trace inline commands", sum(1 for r in cmds if r.get("inline")), truth["redis_inline"])
    c.equal("redis_trace replies paired", sum(1 for r in cmds if r["reply_type"] is not None),
            truth["redis_replies"])
    c.equal("redis_trace orphan replies and errors",
            sum(1 for r in recs if r["event"] in ("reply", "error")), 0)
    c.equal("redis_trace connections ended", sum(1 for r in recs if r["event"] == "end"),
            truth["redis_sessions"])
    # tshark: arrays sent to 6379, cut into commands by resp.array.length;
    # an array flagged as partially decoded is shown again in the next frame
    names = collections.Counter()
    with open(out + "/tshark-resp.txt") as fp:
        for line in fp:
            lens, vals, expert = (line.rstrip("\n").split("\t") + ["", ""])[:3]
            lens = [int(x) for x in lens.split(",") if x]
            vals = vals.split(",") if vals else []
            if "partially decoded" in expert:
                lens = lens[:-1]
            i = 0
            for n in lens:
                if i < len(vals):
                    names[bytes.fromhex(vals[i]).decode("latin-1").upper()] += 1
                i += n
    c.equal("tshark resp commands (inline ones are not decoded by tshark)", sum(names.values()),
            truth["redis_commands"] - truth["redis_inline"])
    want = {k: v - truth["redis_inline_names"].get(k, 0) for k, v in truth["redis"].items()}
    off = {k: names.get(k, 0) - v for k, v in want.items() if names.get(k, 0) != v}
    print("info tshark resp names differing from truth minus inline (tshark splits a few pipelined "
          "frames at the wrong array): %s" % (off or "none"))


def dns_checks(c, truth, out):
    recs = records(out + "/dns.json")
    resp = [r for r in recs if r["event"] == "response"]
    unans = [r for r in recs if r["event"] == "unanswered"]
    c.equal("dns_trace responses", len(resp), truth["dns_responses"])
    c.equal("dns_trace queries (answered + unanswered)", len(resp) + len(unans), truth["dns_queries"])
    c.equal("dns_trace answers", sum(len(r["answers"]) for r in resp), truth["dns_answers"])
    c.equal("dns_trace query types", dict(collections.Counter(r["qtype"] for r in resp + unans)),
            truth["dns_qtypes"])
    c.equal("dns_trace errors", sum(1 for r in recs if r["event"] == "error"), 0)
    q = r_ = answers = 0
    types = collections.Counter()
    with open(out + "/tshark-dns.txt") as fp:
        for line in fp:
            flag, qtype, an = line.rstrip("\n").split("\t")
            if flag in ("1", "True"):
                r_ += 1
                answers += int(an or 0)
            else:
                q += 1
                types[QTYPES.get(int(qtype), qtype)] += 1
    c.equal("tshark dns queries", q, truth["dns_queries"])
    c.equal("tshark dns responses", r_, truth["dns_responses"])
    c.equal("tshark dns answers", answers, truth["dns_answers"])
    c.equal("tshark dns query types", dict(types), truth["dns_qtypes"])


def tls_checks(c, truth, out):
    recs = [r for r in records(out + "/tls.json") if r["event"] == "connection"]
    c.equal("tls_trace connections", len(recs), truth["tls_sessions"])
    c.equal("tls_trace SNIs", dict(collections.Counter(r["sni"] for r in recs)), truth["tls_sni_hellos"])
    c.equal("tls_trace ALPN offered",
            dict(collections.Counter(",".join(r["alpn_offered"] or []) for r in recs)), truth["tls_alpn_hellos"])
    c.equal("tls_trace ServerHellos", sum(1 for r in recs if r["server_hello"]), truth["tls_server_hellos"])
    with open(out + "/tshark-tls.txt") as fp:
        snis = collections.Counter(line.rstrip("\n") for line in fp)
    c.equal("tshark SNIs", dict(snis), truth["tls_sni_hellos"])


def main(argv):
    if len(argv) != 3:
        sys.exit(__doc__)
    with open(argv[1]) as fp:
        truth = json.load(fp)
    c = Checker()
    for check in (redis_checks, dns_checks, tls_checks):
        check(c, truth, argv[2])
    return 1 if c.failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
