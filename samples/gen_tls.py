#!/usr/bin/env python3
"""Synthetic TLS captures for lunatap's tests.

    python3 samples/gen_tls.py features OUT.pcap [TRUTH.json]

`features` writes the capture committed as samples/tls-features.pcap (and
its truth, samples/tls-features.truth.json), one TCP session per feature:
TLS 1.2 and 1.3 handshakes (ClientHello with SNI, ALPN h2 + http/1.1,
supported_versions; the ServerHello choosing), a ClientHello split across
two TCP segments, several handshake messages in one record, a ClientHello
split across two records, IPv6, a fatal alert instead of a ServerHello, a
session on port 8443 (found by the heuristic), a HelloRetryRequest, a
hello without SNI, and an SSLv2-compatible ClientHello. The bytes after
ChangeCipherSpec are pseudo-random stand-ins for ciphertext.

Standard library only and deterministic; the packet layers, the pcap
writer and TCP sessions come from gen_http.py (imported, not copied).
Bad-input captures are built by the specs (spec/pcap_build.lua).
"""

import json
import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_http as g  # noqa: E402

CLIENT, SERVER = g.CLIENT, g.SERVER

HANDSHAKE, ALERT, CCS, APPDATA = 22, 21, 20, 23
TLS10, TLS11, TLS12, TLS13 = 0x0301, 0x0302, 0x0303, 0x0304
GREASE = 0x3a3a
X25519, SECP256R1 = 29, 23
# A self-signed P-256 certificate for CN=example.com (made once with openssl
# req -x509; only its bytes matter), so tshark parses the Certificate message.
CERT_DER = bytes.fromhex(
    "3082018130820127a003020102021413031c211075a79cd6374e9f09c244fff52002a9300a06082a8648ce3d04030230"
    "163114301206035504030c0b6578616d706c652e636f6d301e170d3236313230333037333834395a170d333631313330"
    "3037333834395a30163114301206035504030c0b6578616d706c652e636f6d3059301306072a8648ce3d020106082a86"
    "48ce3d0301070342000489204478a6105745d7dedc41f09714d54daca23fdabf3d3288b348bd0373167f0dd83ac9c5af"
    "23820b5caa5d1a2af7b279168fc20e506e99e9f24912d7a27e65a3533051301d0603551d0e04160414ec8020aee50ddd"
    "e9b983173ba063932623cb7b3b301f0603551d23041830168014ec8020aee50ddde9b983173ba063932623cb7b3b300f"
    "0603551d130101ff040530030101ff300a06082a8648ce3d0403020348003045022100938cc0590d1445e694c4b57367"
    "ba085cd49c1c93c9aca9b4e7c33a60e2473d98022043cb0c51086c37940dd1cc9e6f92d6f0fb7e3ac7dd64eddafc3bac"
    "605671c900"
)
HRR_RANDOM = bytes.fromhex("cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c")
NAMES = {TLS10: "TLS 1.0", TLS11: "TLS 1.1", TLS12: "TLS 1.2", TLS13: "TLS 1.3"}
CIPHERS = {0xc02f: "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", 0x1301: "TLS_AES_128_GCM_SHA256",
           0x1302: "TLS_AES_256_GCM_SHA384", 0x002f: "TLS_RSA_WITH_AES_128_CBC_SHA"}


# ------------------------------------------------------------ encoding

def v8(b):
    return struct.pack("!B", len(b)) + b


def v16(b):
    return struct.pack("!H", len(b)) + b


def v24(b):
    return struct.pack("!I", len(b))[1:] + b


def u16s(values):
    return b"".join(struct.pack("!H", v) for v in values)


def record(ctype, body, version=TLS12):
    return struct.pack("!BHH", ctype, version, len(body)) + body


def handshake(msg_type, body):
    return struct.pack("!B", msg_type) + v24(body)


def ext(etype, data):
    return struct.pack("!HH", etype, len(data)) + data


def sni_ext(name):
    return ext(0, v16(b"\x00" + v16(name.encode())))


def alpn_ext(protos):
    return ext(16, v16(b"".join(v8(p.encode()) for p in protos)))


def client_hello(label, sni=None, alpn=None, versions=None, groups=(X25519, SECP256R1),
                 shares=(X25519,), ciphers=(0x1301, 0x1302, 0xc02f, 0x002f), legacy=TLS12):
    exts = []
    if sni:
        exts.append(sni_ext(sni))
    exts.append(ext(11, v8(b"\x00")))                       # ec_point_formats: uncompressed
    exts.append(ext(10, v16(u16s(groups))))                 # supported_groups
    exts.append(ext(13, v16(u16s((0x0403, 0x0804, 0x0401)))))  # signature_algorithms
    if alpn:
        exts.append(alpn_ext(alpn))
    if versions:
        exts.append(ext(43, v8(u16s(versions))))
        exts.append(ext(51, v16(b"".join(struct.pack("!H", gr) + v16(g.prng_bytes(label + "/ks", 32))
                                         for gr in shares))))
    body = (struct.pack("!H", legacy) + g.prng_bytes(label + "/random", 32) + v8(g.prng_bytes(label + "/sid", 32))
            + v16(u16s(ciphers)) + v8(b"\x00") + v16(b"".join(exts)))
    return handshake(1, body)


def server_hello(label, cipher, version=None, alpn=None, share=None, random=None, legacy=TLS12):
    exts = []
    if alpn:
        exts.append(alpn_ext([alpn]))
    if version:
        exts.append(ext(43, struct.pack("!H", version)))
    if share == "hrr":
        exts.append(ext(51, struct.pack("!H", X25519)))
    elif share:
        exts.append(ext(51, struct.pack("!H", share) + v16(g.prng_bytes(label + "/sks", 32))))
    body = (struct.pack("!H", legacy) + (random or g.prng_bytes(label + "/srandom", 32))
            + v8(g.prng_bytes(label + "/sid", 32)) + struct.pack("!HB", cipher, 0) + v16(b"".join(exts)))
    return handshake(2, body)


def certificate(count):
    return handshake(11, v24(b"".join(v24(CERT_DER) for _ in range(count))))


def ciphertext(label, n):
    return g.prng_bytes(label, n)


def app(label, n, version=TLS12):
    return record(APPDATA, ciphertext(label, n), version)


# ------------------------------------------------------------ sessions

class Truth:
    def __init__(self):
        self.sessions = []

    def add(self, s, **fields):
        c, srv = s.ends[CLIENT], s.ends[SERVER]
        ip = (lambda e: "[%s]" % g.CLIENT_V6 if e is c else "[%s]" % g.SERVER_V6) if s.ipv6 else \
             (lambda e: g.CLIENT_V4 if e is c else g.SERVER_V4)
        rec = {"session": s.index, "client": "%s:%d" % (ip(c), c.port),
               "server": "%s:%d" % (ip(srv), srv.port)}
        rec.update(fields)
        self.sessions.append(rec)


def tls12(cap, truth, name, sni, alpn=("h2", "http/1.1"), port=443, ch_records=1, cuts_at=None,
          chosen_alpn="h2", ipv6=False):
    """A full TLS 1.2 handshake; the server's flight in one record."""
    s = cap.session(name, port, ipv6=ipv6)
    s.handshake()
    ch = client_hello(name, sni=sni, alpn=list(alpn) if alpn else None, versions=None)
    if ch_records == 1:
        data = record(HANDSHAKE, ch, TLS10)
    else:
        half = len(ch) // 2
        data = record(HANDSHAKE, ch[:half], TLS10) + record(HANDSHAKE, ch[half:], TLS10)
    s.send(CLIENT, data, cuts=cuts_at or ())
    flight = (server_hello(name, 0xc02f, alpn=chosen_alpn if alpn else None)
              + certificate(2) + handshake(14, b""))
    s.send(SERVER, record(HANDSHAKE, flight), delay_ms=10)
    cke = handshake(16, v8(g.prng_bytes(name + "/cke", 65)))
    s.send(CLIENT, record(HANDSHAKE, cke) + record(CCS, b"\x01")
           + record(HANDSHAKE, ciphertext(name + "/cfin", 40)), delay_ms=2)
    s.send(SERVER, record(CCS, b"\x01") + record(HANDSHAKE, ciphertext(name + "/sfin", 40)), delay_ms=10)
    s.send(CLIENT, app(name + "/req", 120), delay_ms=1)
    s.send(SERVER, app(name + "/resp", 900) + app(name + "/resp2", 300), delay_ms=10)
    s.send(CLIENT, record(ALERT, ciphertext(name + "/close", 26)), delay_ms=2)
    s.close()
    truth.add(s, sni=sni, alpn_offered=list(alpn) if alpn else None,
              alpn_chosen=[chosen_alpn] if alpn else None, version_offered="TLS 1.2",
              version_chosen="TLS 1.2", cipher=CIPHERS[0xc02f], cipher_code=0xc02f, hrr=False,
              server_hello=True, alerts=[], certificates=[len(CERT_DER)] * 2)


def tls13(cap, truth, name, sni, port=443, ipv6=False, cuts_at=None, hrr=False):
    """A TLS 1.3 handshake (middlebox-compatible CCS); with hrr, a HelloRetryRequest first."""
    s = cap.session(name, port, ipv6=ipv6)
    s.handshake()
    versions = (GREASE, TLS13, TLS12)
    shares = (SECP256R1,) if hrr else (X25519,)
    ch = client_hello(name, sni=sni, alpn=["h2", "http/1.1"], versions=versions, shares=shares)
    s.send(CLIENT, record(HANDSHAKE, ch, TLS10), cuts=cuts_at or ())
    if hrr:
        s.send(SERVER, record(HANDSHAKE, server_hello(name, 0x1301, version=TLS13, share="hrr",
                                                      random=HRR_RANDOM))
               + record(CCS, b"\x01"), delay_ms=10)
        ch2 = client_hello(name + "/2", sni=sni, alpn=["h2", "http/1.1"], versions=versions, shares=(X25519,))
        s.send(CLIENT, record(CCS, b"\x01") + record(HANDSHAKE, ch2), delay_ms=2)
    sh = server_hello(name, 0x1301, version=TLS13, share=X25519)
    s.send(SERVER, record(HANDSHAKE, sh) + record(CCS, b"\x01") + app(name + "/ee", 1200), delay_ms=10)
    if not hrr:
        s.send(CLIENT, record(CCS, b"\x01") + app(name + "/fin", 53), delay_ms=2)
    else:
        s.send(CLIENT, app(name + "/fin", 53), delay_ms=2)
    s.send(CLIENT, app(name + "/req", 200), delay_ms=1)
    s.send(SERVER, app(name + "/resp", 700), delay_ms=10)
    s.close()
    truth.add(s, sni=sni, alpn_offered=["h2", "http/1.1"], alpn_chosen=None, version_offered="TLS 1.3",
              version_chosen="TLS 1.3", cipher=CIPHERS[0x1301], cipher_code=0x1301, hrr=hrr,
              server_hello=True, alerts=[], certificates=[])


def alert_session(cap, truth, name, sni):
    """The server refuses with a fatal handshake_failure alert: no ServerHello."""
    s = cap.session(name, 443)
    s.handshake()
    s.send(CLIENT, record(HANDSHAKE, client_hello(name, sni=sni, alpn=["http/1.1"]), TLS10))
    s.send(SERVER, record(ALERT, b"\x02\x28"), delay_ms=10)
    s.close(first=SERVER)
    truth.add(s, sni=sni, alpn_offered=["http/1.1"], alpn_chosen=None, version_offered="TLS 1.2",
              version_chosen=None, cipher=None, cipher_code=None, hrr=False, server_hello=False,
              alerts=[{"direction": "server", "level": "fatal", "description": "handshake_failure"}],
              certificates=[])


def sslv2_session(cap, truth, name):
    """An SSLv2-compatible CLIENT-HELLO offering TLS 1.0; a TLS 1.0 ServerHello."""
    s = cap.session(name, 443)
    s.handshake()
    specs = b"\x00\x00\x2f\x00\x00\x0a\x01\x00\x80"   # two TLS suites and an SSL 2 one
    challenge = g.prng_bytes(name + "/challenge", 16)
    msg = struct.pack("!BHHHH", 1, TLS10, len(specs), 0, len(challenge)) + specs + challenge
    s.send(CLIENT, struct.pack("!H", 0x8000 | len(msg)) + msg)
    flight = server_hello(name, 0x002f, legacy=TLS10) + certificate(1) + handshake(14, b"")
    s.send(SERVER, record(HANDSHAKE, flight, TLS10), delay_ms=10)
    s.close()
    truth.add(s, sni=None, alpn_offered=None, alpn_chosen=None, version_offered="TLS 1.0",
              version_chosen="TLS 1.0", cipher=CIPHERS[0x002f], cipher_code=0x002f, hrr=False,
              server_hello=True, alerts=[], certificates=[len(CERT_DER)], sslv2=True)


def features(fp):
    cap = g.Capture(fp)
    truth = Truth()
    tls12(cap, truth, "tls12", "www.example.com")
    tls13(cap, truth, "tls13-split-segments", "api.example.com", cuts_at=(100,))
    tls12(cap, truth, "two-records", "split.example.com", ch_records=2)
    tls13(cap, truth, "ipv6", "v6.example.com", ipv6=True)
    alert_session(cap, truth, "alert", "alert.example.com")
    tls12(cap, truth, "port8443", "alt.example.com", port=8443)
    tls13(cap, truth, "hrr", "hrr.example.com", hrr=True)
    tls12(cap, truth, "no-sni", None, alpn=None)
    sslv2_session(cap, truth, "sslv2")
    return truth


def main(argv):
    if len(argv) >= 3 and argv[1] == "features":
        with open(argv[2], "wb") as fp:
            truth = features(fp)
        if len(argv) > 3:
            with open(argv[3], "w") as out:
                json.dump({"sessions": truth.sessions}, out, indent=1, sort_keys=True)
                out.write("\n")
        return 0
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
