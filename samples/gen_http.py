#!/usr/bin/env python3
"""Synthetic HTTP/1.x and WebSocket captures for lunatap's tests.

    python3 samples/gen_http.py features OUT.pcap [TRUTH.json]
    python3 samples/gen_http.py case NAME OUT.pcap
    python3 samples/gen_http.py list
    python3 samples/gen_http.py bulk OUT.pcap [--sessions N] [--concurrent C]
                                              [--seed S] [--truth T.json]

`features` writes the capture committed as samples/http-features.pcap (and
its truth, samples/http-features.truth.json): one TCP session per HTTP
feature, described in samples/README.md. `case NAME` writes one bad-input
capture (a huge header line, a decompression bomb, ...), made at test time
and never committed; `list` prints the case names. `bulk` writes a large mixed
capture for bench/http.sh (about 400 MB by default; see write_bulk), made
at bench time and never committed, and with --truth its request counts.

Standard library only, and deterministic: every byte comes from fixed text,
SHA-256 in counter mode (prng_bytes), zlib or (bulk only) random.Random(seed),
and timestamps start at 1700000000.0 and advance by fixed steps. Captures
are classic pcap, LINKTYPE_ETHERNET, microsecond timestamps, with correct
IPv4 and TCP checksums, three-way handshakes, MSS-sized segments, ACKs and
FIN teardown.
"""

import base64
import hashlib
import http
import ipaddress
import json
import random
import struct
import sys
import zlib

EPOCH_US = 1_700_000_000 * 1_000_000   # first packet: 1700000000.000000
STEP_US = 2_000                        # between two packets of one burst
SNAPLEN = 262_144
LINKTYPE_ETHERNET = 1

CLIENT, SERVER = "client", "server"
FIN, SYN, PSH, ACK = 0x01, 0x02, 0x08, 0x10

CLIENT_V4, SERVER_V4 = "10.0.0.1", "10.0.0.2"
CLIENT_V6, SERVER_V6 = "2001:db8::1", "2001:db8::2"
CLIENT_MAC = bytes.fromhex("020000000001")
SERVER_MAC = bytes.fromhex("020000000002")
FIRST_CLIENT_PORT = 40000

UA = "lunatap-gen/1.0"


def other(side):
    return SERVER if side == CLIENT else CLIENT


# --------------------------------------------------------------- determinism

def prng_bytes(label, n):
    """n pseudo-random bytes, a pure function of label (SHA-256, counter mode)."""
    out = bytearray()
    seed = label.encode()
    counter = 0
    while len(out) < n:
        out += hashlib.sha256(seed + counter.to_bytes(8, "big")).digest()
        counter += 1
    return bytes(out[:n])


def sha256_hex(data):
    return hashlib.sha256(data).hexdigest()


WORDS = ("packet capture stream session header body chunk frame socket server "
         "client request response latency window segment checksum payload "
         "deflate gzip trailer upgrade message opcode mask length").split()


def sample_text(label, size):
    """About `size` bytes of numbered lines of words: compressible, not trivially."""
    rnd = prng_bytes(label, size)
    lines, total, i = [], 0, 0
    while total < size:
        words = [WORDS[rnd[(i * 8 + k) % len(rnd)] % len(WORDS)] for k in range(8)]
        line = "%05d %s\n" % (i, " ".join(words))
        lines.append(line)
        total += len(line)
        i += 1
    return "".join(lines).encode()[:size]


# ------------------------------------------------------------ content coding

def gzip_bytes(data):
    """gzip member with fixed header fields (mtime 0, OS unknown)."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15, 9)
    raw = c.compress(data) + c.flush()
    header = b"\x1f\x8b\x08\x00" + b"\x00\x00\x00\x00" + b"\x02\xff"
    trailer = struct.pack("<II", zlib.crc32(data), len(data) & 0xFFFFFFFF)
    return header + raw + trailer


def gzip_zero_bomb(size, block=1 << 20):
    """gzip of `size` zero bytes, streamed through zlib.compressobj in blocks.

    Each block ends with a full flush, which resets the compressor, so every
    block of zeros compresses to the same bytes: compress one, repeat it.
    """
    assert size % block == 0 and size >= 2 * block
    zeros = bytes(block)
    c = zlib.compressobj(9, zlib.DEFLATED, -15, 9)
    one = c.compress(zeros) + c.flush(zlib.Z_FULL_FLUSH)
    again = c.compress(zeros) + c.flush(zlib.Z_FULL_FLUSH)
    assert one == again
    last = c.compress(zeros) + c.flush(zlib.Z_FINISH)
    crc = 0
    for _ in range(size // block):
        crc = zlib.crc32(zeros, crc)
    header = b"\x1f\x8b\x08\x00" + b"\x00\x00\x00\x00" + b"\x02\xff"
    body = one * (size // block - 1) + last
    return header + body + struct.pack("<II", crc, size & 0xFFFFFFFF)


def png_image(width, height, label):
    """A valid RGB PNG of noise (so it barely compresses)."""
    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data +
                struct.pack(">I", zlib.crc32(kind + data)))
    row_len = width * 3
    pixels = prng_bytes(label, row_len * height)
    raw = b"".join(b"\x00" + pixels[y * row_len:(y + 1) * row_len] for y in range(height))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) +
            chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


# -------------------------------------------------------------- pcap writer

class PcapWriter:
    """Classic pcap (microsecond, little-endian), LINKTYPE_ETHERNET."""

    def __init__(self, fp):
        self.fp = fp
        fp.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, SNAPLEN,
                             LINKTYPE_ETHERNET))

    def packet(self, ts_us, frame):
        sec, usec = divmod(ts_us, 1_000_000)
        self.fp.write(struct.pack("<IIII", sec, usec, len(frame), len(frame)))
        self.fp.write(frame)


# ------------------------------------------------------------ packet layers

def inet_checksum(data):
    if len(data) % 2:
        data += b"\x00"
    total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def tcp_segment(src, dst, sport, dport, seq, ack, flags, payload=b"",
                options=b"", window=65535):
    """TCP header + payload with its checksum over the IPv4/IPv6 pseudo-header."""
    offset = (20 + len(options)) // 4
    header = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF,
                         ack & 0xFFFFFFFF, offset << 4, flags, window, 0, 0) + options
    length = len(header) + len(payload)
    if len(src) == 4:
        pseudo = src + dst + struct.pack("!BBH", 0, 6, length)
    else:
        pseudo = src + dst + struct.pack("!IxxxB", length, 6)
    csum = inet_checksum(pseudo + header + payload)
    return header[:16] + struct.pack("!H", csum) + header[18:] + payload


def ip_packet(src, dst, ident, payload, proto=6):
    """IPv4 (DF, TTL 64, with header checksum) or IPv6 (hop limit 64) around payload."""
    if len(src) == 4:
        header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident & 0xFFFF,
                             0x4000, 64, proto, 0, src, dst)
        header = header[:10] + struct.pack("!H", inet_checksum(header)) + header[12:]
        return 0x0800, header + payload
    header = struct.pack("!IHBB16s16s", 6 << 28, len(payload), proto, 64, src, dst)
    return 0x86DD, header + payload


def ethernet(dst_mac, src_mac, ethertype, payload):
    return dst_mac + src_mac + struct.pack("!H", ethertype) + payload


# ------------------------------------------------------------ capture & TCP

class Capture:
    """Packets written in time order; sessions follow one another."""

    def __init__(self, fp):
        self.out = PcapWriter(fp)
        self.now = EPOCH_US
        self.next_port = FIRST_CLIENT_PORT
        self.sessions = []

    def emit(self, frame):
        ts = self.now
        self.out.packet(ts, frame)
        self.now += STEP_US
        return ts

    def wait(self, ms):
        self.now += int(ms * 1000)

    def session(self, name, server_port, ipv6=False, mss=None):
        s = TcpSession(self, name, len(self.sessions), server_port, self.next_port,
                       ipv6, mss)
        self.next_port += 1
        self.sessions.append(s)
        return s


class End:
    """One side of a TCP connection."""

    def __init__(self, mac, ip, port, isn):
        self.mac, self.ip, self.port = mac, ip, port
        self.isn = isn
        self.nxt = isn          # next sequence number to send
        self.ip_id = isn & 0xFFFF


class TcpSession:
    """A TCP connection whose packets are written as they are made.

    Stream bytes are recorded per side as (offset, length, ts) so that the
    capture time of any byte (the first byte of a message) can be found, and
    messages marked at their offset (mark) become the session's truth.
    """

    def __init__(self, cap, name, index, server_port, client_port, ipv6, mss):
        self.cap, self.name, self.index = cap, name, index
        self.ipv6 = ipv6
        self.mss = mss or (1440 if ipv6 else 1460)
        caddr, saddr = (CLIENT_V6, SERVER_V6) if ipv6 else (CLIENT_V4, SERVER_V4)
        isn = prng_bytes("isn/%s/%d" % (name, index), 8)
        self.ends = {
            CLIENT: End(CLIENT_MAC, ipaddress.ip_address(caddr).packed, client_port,
                        int.from_bytes(isn[:4], "big")),
            SERVER: End(SERVER_MAC, ipaddress.ip_address(saddr).packed, server_port,
                        int.from_bytes(isn[4:], "big")),
        }
        self.log = {CLIENT: [], SERVER: []}
        self.marks = []
        self.notes = {}

    # -- packets

    def _emit(self, side, flags, payload=b"", seq=None, ack=None, options=b""):
        me, peer = self.ends[side], self.ends[other(side)]
        seq = me.nxt if seq is None else seq
        if ack is None:
            ack = peer.nxt if flags & ACK else 0
        tcp = tcp_segment(me.ip, peer.ip, me.port, peer.port, seq, ack, flags,
                          payload, options)
        me.ip_id += 1
        ethertype, ip = ip_packet(me.ip, peer.ip, me.ip_id, tcp)
        return self.cap.emit(ethernet(peer.mac, me.mac, ethertype, ip))

    def offset(self, side):
        """Stream offset of the next data byte `side` sends."""
        end = self.ends[side]
        return end.nxt - end.isn - 1

    def handshake(self):
        mss_option = struct.pack("!BBH", 2, 4, self.mss)
        c, s = self.ends[CLIENT], self.ends[SERVER]
        self._emit(CLIENT, SYN, options=mss_option)
        c.nxt += 1
        self.cap.wait(1)
        self._emit(SERVER, SYN | ACK, options=mss_option)
        s.nxt += 1
        self._emit(CLIENT, ACK)

    def send(self, side, data, *, delay_ms=0, cuts=(), ack="every2", order=None,
             drop=(), retransmit=()):
        """Send data from side as segments of at most MSS bytes.

        cuts: offsets in data where a segment must end. ack: "every2" (the
        peer ACKs every second segment and the last), "end" (only the last),
        "none" (the next packet the peer sends carries the ACK). order: the
        segments' indexes in the order they are captured (out of order).
        drop: indexes of segments never captured (the sequence jumps).
        retransmit: indexes of segments captured a second time at the end.
        """
        if delay_ms:
            self.cap.wait(delay_ms)
        me, peer = self.ends[side], self.ends[other(side)]
        base, stream_off = me.nxt, self.offset(side)
        segments = []
        bounds = sorted({0, len(data), *cuts})
        for lo, hi in zip(bounds, bounds[1:]):
            for start in range(lo, hi, self.mss):
                segments.append((start, data[start:min(start + self.mss, hi)]))
        order = list(range(len(segments))) if order is None else list(order)
        in_order = order == sorted(order)
        for n, i in enumerate(order):
            start, payload = segments[i]
            last = n == len(order) - 1
            if i not in drop:
                ts = self._emit(side, ACK | (PSH if last else 0), payload, seq=base + start)
                self.log[side].append((stream_off + start, len(payload), ts))
            if ack == "every2" and in_order and n % 2 == 1 and not last:
                self._emit(other(side), ACK, ack=base + start + len(payload))
        for i in retransmit:
            start, payload = segments[i]
            self.cap.wait(40)
            ts = self._emit(side, ACK | PSH, payload, seq=base + start)
            self.log[side].append((stream_off + start, len(payload), ts))
        me.nxt = base + len(data)
        if ack != "none":
            self.cap.wait(1)
            self._emit(other(side), ACK)

    def close(self, first=CLIENT, delay_ms=5):
        """FIN/ACK from `first`, FIN/ACK from the other side, last ACK."""
        self.cap.wait(delay_ms)
        second = other(first)
        self._emit(first, FIN | ACK)
        self.ends[first].nxt += 1
        self._emit(second, FIN | ACK)
        self.ends[second].nxt += 1
        self._emit(first, ACK)

    # -- messages and truth

    def mark(self, side, msg):
        self.marks.append((side, self.offset(side), msg))

    def send_msgs(self, side, msgs, **opts):
        """Send messages back to back (one burst), marking each at its offset."""
        offset = self.offset(side)
        for msg in msgs:
            self.marks.append((side, offset, msg))
            offset += len(msg.data)
        self.send(side, b"".join(m.data for m in msgs), **opts)

    def ts_of(self, side, offset):
        return min(ts for (o, n, ts) in self.log[side] if o <= offset < o + n)

    def truth(self):
        c, s = self.ends[CLIENT], self.ends[SERVER]
        caddr = ipaddress.ip_address(c.ip)
        saddr = ipaddress.ip_address(s.ip)
        fmt = "[%s]:%d" if self.ipv6 else "%s:%d"
        out = {"index": self.index, "name": self.name, "ip": 6 if self.ipv6 else 4,
               "client": fmt % (caddr, c.port), "server": fmt % (saddr, s.port),
               "requests": [], "responses": []}
        frames = []
        for side, off, msg in sorted(self.marks, key=lambda m: self.ts_of(m[0], m[1])):
            info = dict(msg.info)
            ts = self.ts_of(side, off)
            info["ts"] = ts / 1e6
            info["end_ts"] = self.ts_of(side, off + len(msg.data) - 1) / 1e6
            info["_ts"] = ts
            if msg.kind == "request":
                info["index"] = len(out["requests"]) + 1
                out["requests"].append(info)
            elif msg.kind == "response":
                out["responses"].append(info)
            else:
                frames.append((info, msg.payload))
        pair_responses(out["requests"], out["responses"])
        if frames:
            out["websocket"] = {"frames": [f for f, _ in frames],
                                "messages": ws_messages(frames)}
        for item in out["requests"] + out["responses"] + [f for f, _ in frames]:
            del item["_ts"]
        out.update(self.notes)
        return out


def pair_responses(requests, responses):
    """Responses answer requests in order; an interim 1xx does not consume one."""
    waiting = list(requests)
    for res in responses:
        req = waiting[0] if waiting else None
        if req is not None and not res.get("interim"):
            waiting.pop(0)
        res["request"] = req["index"] if req else None
        res["latency"] = round((res["_ts"] - req["_ts"]) / 1e6, 6) if req else None


# ----------------------------------------------------------- HTTP messages

class Msg:
    """Bytes on the wire plus what the truth file says about them."""

    def __init__(self, kind, data, info, head_len=None, payload=b""):
        self.kind, self.data, self.info = kind, data, info
        self.head_len = len(data) if head_len is None else head_len
        self.payload = payload


def chunk_encode(chunks, extensions=None, trailers=()):
    """Chunked transfer coding of chunks; extensions: {chunk index: ";a=b"}."""
    extensions = extensions or {}
    out = b""
    for i, data in enumerate(chunks):
        out += b"%x%s\r\n" % (len(data), extensions.get(i, "").encode()) + data + b"\r\n"
    out += b"0\r\n" + b"".join(b"%s: %s\r\n" % (k.encode(), v.encode())
                               for k, v in trailers) + b"\r\n"
    return out


def frame_body(headers, body, framing, chunks, extensions, trailers):
    """Headers and wire body for a framing of 'length', 'chunked' or 'none'."""
    headers = list(headers)
    if framing == "length":
        headers.append(("Content-Length", str(len(body))))
        return headers, body
    if framing == "chunked":
        headers.append(("Transfer-Encoding", "chunked"))
        chunks = chunks if chunks is not None else [body]
        assert b"".join(chunks) == body
        return headers, chunk_encode(chunks, extensions, trailers)
    assert framing == "none"
    return headers, body


def http_head(start_line, headers):
    lines = [start_line] + ["%s: %s" % (k, v) for k, v in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def request(method, uri, headers=(), body=b"", *, version="HTTP/1.1",
            framing=None, chunks=None, extensions=None, trailers=()):
    """A request; framing defaults to Content-Length when there is a body."""
    framing = framing or ("length" if body else "none")
    headers, wire = frame_body(headers, body, framing, chunks, extensions, trailers)
    head = http_head("%s %s %s" % (method, uri, version), headers)
    info = {"method": method, "uri": uri, "version": version, "body_len": len(body),
            "decoded_sha256": sha256_hex(body)}
    if framing == "chunked":
        info["chunked"] = True
    return Msg("request", head + wire, info, head_len=len(head))


def response(status, headers=(), body=b"", *, reason=None, version="HTTP/1.1",
             framing="length", chunks=None, extensions=None, trailers=(),
             decoded=None):
    """A response; `decoded` is the body after content decoding (default: body)."""
    reason = reason or http.HTTPStatus(status).phrase
    headers, wire = frame_body(headers, body, framing, chunks, extensions, trailers)
    head = http_head("%s %d %s" % (version, status, reason), headers)
    decoded = body if decoded is None else decoded
    info = {"status": status, "reason": reason, "version": version,
            "body_len": len(body), "decoded_sha256": sha256_hex(decoded)}
    if decoded is not body:
        info["decoded_len"] = len(decoded)
    if framing == "chunked":
        info["chunked"] = True
    if trailers:
        info["trailers"] = dict(trailers)
    if 100 <= status < 200 and status != 101:
        info["interim"] = True
    return Msg("response", head + wire, info, head_len=len(head))


def exchange(s, req, res, delay_ms=10):
    """Client sends req; after delay_ms the server answers with res."""
    s.send_msgs(CLIENT, [req], ack="none")
    s.send_msgs(SERVER, [res], delay_ms=delay_ms)


def host(name="www.example.com"):
    return [("Host", name), ("User-Agent", UA), ("Accept", "*/*")]


# ------------------------------------------------------------ WebSocket

WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def ws_accept(key):
    return base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()


def ws_frame(side, opcode, payload, fin=True, mask_label=None, length=None):
    """One frame; client frames are masked (key from mask_label). length
    overrides the length field (for a lying header)."""
    masked = side == CLIENT
    n = len(payload) if length is None else length
    head = bytes([(0x80 if fin else 0) | opcode])
    mask_bit = 0x80 if masked else 0
    if n < 126:
        head += bytes([mask_bit | n])
    elif n < 1 << 16:
        head += bytes([mask_bit | 126]) + struct.pack("!H", n)
    else:
        head += bytes([mask_bit | 127]) + struct.pack("!Q", n)
    body = payload
    if masked:
        key = prng_bytes("mask/%s" % mask_label, 4)
        head += key
        body = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    info = {"from": side, "opcode": opcode, "fin": fin, "masked": masked, "len": n}
    return Msg("ws", head + body, info, head_len=len(head), payload=payload)


def ws_messages(frames):
    """Messages from (info, payload) frames in capture order: data frames
    joined up to FIN per direction; every control frame is its own message."""
    messages, partial = [], {}
    for info, payload in frames:
        side, op = info["from"], info["opcode"]
        if op >= 8:
            msg = {"from": side, "opcode": op, "len": len(payload), "frames": 1,
                   "sha256": sha256_hex(payload)}
            if op == 8 and len(payload) >= 2:
                msg["code"] = struct.unpack("!H", payload[:2])[0]
                msg["reason"] = payload[2:].decode()
            messages.append(msg)
            continue
        if op != 0:
            partial[side] = (op, [payload])
        else:
            partial[side][1].append(payload)
        if info["fin"]:
            first_op, parts = partial.pop(side)
            data = b"".join(parts)
            messages.append({"from": side, "opcode": first_op, "len": len(data),
                             "frames": len(parts), "sha256": sha256_hex(data)})
    return messages


def ws_upgrade(s, uri="/chat", host_name="www.example.com:8080"):
    key = base64.b64encode(prng_bytes("ws-key/%s" % s.name, 16)).decode()
    req = request("GET", uri, [("Host", host_name), ("User-Agent", UA),
                               ("Upgrade", "websocket"), ("Connection", "Upgrade"),
                               ("Sec-WebSocket-Key", key), ("Sec-WebSocket-Version", "13"),
                               ("Origin", "http://www.example.com")])
    res = response(101, [("Upgrade", "websocket"), ("Connection", "Upgrade"),
                         ("Sec-WebSocket-Accept", ws_accept(key))], framing="none")
    exchange(s, req, res, delay_ms=8)


# ------------------------------------------------------------ TLS-looking bytes

def tls_record(content_type, body, version=0x0303):
    return struct.pack("!BHH", content_type, version, len(body)) + body


def tls_handshake(msg_type, body):
    return struct.pack("!B", msg_type) + len(body).to_bytes(3, "big") + body


def tls_ext(kind, data):
    return struct.pack("!HH", kind, len(data)) + data


def tls_client_hello(sni):
    name = sni.encode()
    server_name = struct.pack("!HBH", len(name) + 3, 0, len(name)) + name
    key_share = struct.pack("!HHH", 36, 0x001D, 32) + prng_bytes("tls/ckey", 32)
    exts = (tls_ext(0, server_name) +
            tls_ext(10, struct.pack("!HH", 2, 0x001D)) +                 # groups
            tls_ext(13, struct.pack("!HH", 2, 0x0804)) +                 # sig algs
            tls_ext(43, b"\x02\x03\x04") +                               # versions
            tls_ext(51, key_share))
    suites = struct.pack("!HHHH", 6, 0x1301, 0x1302, 0x1303)
    body = (b"\x03\x03" + prng_bytes("tls/crandom", 32) +
            b"\x20" + prng_bytes("tls/session", 32) + suites + b"\x01\x00" +
            struct.pack("!H", len(exts)) + exts)
    return tls_record(22, tls_handshake(1, body), version=0x0301)


def tls_server_hello():
    key_share = struct.pack("!HH", 0x001D, 32) + prng_bytes("tls/skey", 32)
    exts = tls_ext(43, b"\x03\x04") + tls_ext(51, key_share)
    body = (b"\x03\x03" + prng_bytes("tls/srandom", 32) +
            b"\x20" + prng_bytes("tls/session", 32) + b"\x13\x01\x00" +
            struct.pack("!H", len(exts)) + exts)
    return tls_record(22, tls_handshake(2, body))


def tls_app_data(label, n):
    return tls_record(23, prng_bytes("tls/app/" + label, n))


TLS_CCS = tls_record(20, b"\x01")


# ------------------------------------------------------------ feature sessions

HTML = (b"<!doctype html>\n<html><head><title>lunatap</title></head><body>\n" +
        sample_text("html", 1200) + b"</body></html>\n")
TEXT_20K = sample_text("text-20k", 20_000)


def f_keep_alive(cap):
    s = cap.session("keep-alive", 80)
    s.handshake()
    exchange(s, request("GET", "/", host()),
             response(200, [("Content-Type", "text/html; charset=utf-8")], HTML), 12)
    missing = b"<html><body>not found</body></html>\n"
    exchange(s, request("GET", "/missing", host()),
             response(404, [("Content-Type", "text/html")], missing), 7)
    png = png_image(48, 48, "png/logo")
    exchange(s, request("GET", "/logo.png", host()),
             response(200, [("Content-Type", "image/png")], png), 15)
    s.close()


def f_pipelining(cap):
    s = cap.session("pipelining", 80)
    s.handshake()
    reqs = [request("GET", "/a.txt", host()), request("GET", "/b.txt", host()),
            request("GET", "/old", host())]
    moved = b"<html><body>moved to /new</body></html>\n"
    ress = [response(200, [("Content-Type", "text/plain")], sample_text("pipe-a", 700)),
            response(200, [("Content-Type", "text/plain")], sample_text("pipe-b", 1100)),
            response(301, [("Location", "http://www.example.com/new"),
                           ("Content-Type", "text/html")], moved)]
    s.send_msgs(CLIENT, reqs, ack="end")
    s.send_msgs(SERVER, ress, delay_ms=20)
    s.close()


def f_chunked_trailers(cap):
    s = cap.session("chunked-trailers", 80)
    s.handshake()
    chunks = [sample_text("chunk-1", 300), sample_text("chunk-2", 400),
              sample_text("chunk-3", 500)]
    res = response(200, [("Content-Type", "text/plain"), ("Trailer", "X-Checksum")],
                   b"".join(chunks), framing="chunked", chunks=chunks,
                   extensions={0: ";name=value;flag"}, trailers=[("X-Checksum", "abc")])
    s.send_msgs(CLIENT, [request("GET", "/chunked", host())], ack="none")
    # cut the second chunk's data in half: it spans two segments
    cut = res.head_len + res.data[res.head_len:].index(chunks[1]) + 200
    s.send_msgs(SERVER, [res], delay_ms=11, cuts=[cut])
    s.close()


def f_gzip(cap):
    s = cap.session("gzip", 80)
    s.handshake()
    gz = gzip_bytes(TEXT_20K)
    accept = host() + [("Accept-Encoding", "gzip, deflate")]
    exchange(s, request("GET", "/text.gz", accept),
             response(200, [("Content-Type", "text/plain"), ("Content-Encoding", "gzip"),
                            ("ETag", '"gz-20k-v1"')], gz, decoded=TEXT_20K), 14)
    chunks = [gz[i:i + 2048] for i in range(0, len(gz), 2048)]
    exchange(s, request("GET", "/text-chunked.gz", accept),
             response(200, [("Content-Type", "text/plain"), ("Content-Encoding", "gzip")],
                      gz, framing="chunked", chunks=chunks, decoded=TEXT_20K), 9)
    s.close()


def f_deflate(cap):
    s = cap.session("deflate", 80)
    s.handshake()
    body = zlib.compress(TEXT_20K, 9)
    exchange(s, request("GET", "/text.deflate", host() + [("Accept-Encoding", "deflate")]),
             response(200, [("Content-Type", "text/plain"), ("Content-Encoding", "deflate")],
                      body, decoded=TEXT_20K), 10)
    s.close()


def f_no_body(cap):
    s = cap.session("head-204-304", 80)
    s.handshake()
    exchange(s, request("HEAD", "/big.bin", host()),
             response(200, [("Content-Type", "application/octet-stream"),
                            ("Content-Length", "5000")], framing="none"), 6)
    exchange(s, request("GET", "/empty", host()), response(204, framing="none"), 6)
    exchange(s, request("GET", "/cached", host() + [("If-None-Match", '"v1"')]),
             response(304, [("ETag", '"v1"')], framing="none"), 6)
    s.close()


def f_expect_continue(cap):
    s = cap.session("expect-100", 80)
    s.handshake()
    body = prng_bytes("upload-2000", 2000)
    req = request("POST", "/upload", host() + [("Content-Type", "application/octet-stream"),
                                               ("Expect", "100-continue")], body)
    s.mark(CLIENT, req)
    s.send(CLIENT, req.data[:req.head_len], ack="none")
    s.send_msgs(SERVER, [response(100, framing="none")], delay_ms=5, ack="none")
    s.send(CLIENT, req.data[req.head_len:], delay_ms=1)
    s.send_msgs(SERVER, [response(201, [("Location", "/upload/1"),
                                        ("Content-Type", "text/plain")], b"created\n")],
                delay_ms=18)
    s.close()


def f_http10_close(cap):
    s = cap.session("http10-close", 80)
    s.handshake()
    body = sample_text("http10", 3000)
    exchange(s, request("GET", "/legacy.txt", [("Host", "www.example.com"),
                                                ("User-Agent", UA)], version="HTTP/1.0"),
             response(200, [("Content-Type", "text/plain"), ("Connection", "close")],
                      body, version="HTTP/1.0", framing="none"), 13)
    s.close(first=SERVER)


def f_connect(cap):
    s = cap.session("connect-tunnel", 80)
    s.handshake()
    exchange(s, request("CONNECT", "example.com:443", [("Host", "example.com:443"),
                                                        ("User-Agent", UA)]),
             response(200, reason="Connection established", framing="none"), 30)
    hello = tls_client_hello("example.com")
    server_flight = (tls_server_hello() + TLS_CCS + tls_app_data("s-ee", 1800) +
                     tls_app_data("s-fin", 53))
    client_flight = TLS_CCS + tls_app_data("c-fin", 53) + tls_app_data("c-req", 120)
    reply = tls_app_data("s-resp", 900)
    s.send(CLIENT, hello, delay_ms=2, ack="none")
    s.send(SERVER, server_flight, delay_ms=25)
    s.send(CLIENT, client_flight, delay_ms=3, ack="none")
    s.send(SERVER, reply, delay_ms=20)
    s.notes["tunnel_bytes"] = {CLIENT: len(hello) + len(client_flight),
                               SERVER: len(server_flight) + len(reply)}
    s.close()


def f_websocket(cap):
    s = cap.session("websocket", 8080)
    s.handshake()
    ws_upgrade(s)

    def send(side, frames, delay_ms=5, **opts):
        s.send_msgs(side, frames, delay_ms=delay_ms, **opts)

    send(CLIENT, [ws_frame(CLIENT, 1, b"hello", mask_label="hello")])
    send(SERVER, [ws_frame(SERVER, 1, b"hello back")])
    # one message in three frames, each in its own segment
    send(CLIENT, [ws_frame(CLIENT, 1, b"fragment one, ", fin=False, mask_label="frag1")],
         ack="none")
    send(CLIENT, [ws_frame(CLIENT, 0, b"fragment two, ", fin=False, mask_label="frag2")],
         delay_ms=1, ack="none")
    send(CLIENT, [ws_frame(CLIENT, 0, b"fragment three", mask_label="frag3")], delay_ms=1)
    send(SERVER, [ws_frame(SERVER, 2, prng_bytes("ws-300", 300))])
    send(SERVER, [ws_frame(SERVER, 2, prng_bytes("ws-70000", 70_000))])
    send(CLIENT, [ws_frame(CLIENT, 9, b"p", mask_label="ping")])
    send(SERVER, [ws_frame(SERVER, 10, b"p")], delay_ms=1)
    send(CLIENT, [ws_frame(CLIENT, 8, struct.pack("!H", 1000) + b"bye", mask_label="close")])
    send(SERVER, [ws_frame(SERVER, 8, struct.pack("!H", 1000))], delay_ms=1)
    s.close(first=SERVER)


def f_odd_port_v4(cap):
    s = cap.session("port-31600", 31600)
    s.handshake()
    exchange(s, request("GET", "/status", host("www.example.com:31600")),
             response(200, [("Content-Type", "application/json")], b'{"status":"ok"}\n'), 4)
    s.close()


def f_ipv6_port_3000(cap):
    s = cap.session("ipv6-port-3000", 3000, ipv6=True)
    s.handshake()
    items = json.dumps([{"id": i, "name": "item %d" % i} for i in range(60)]).encode()
    exchange(s, request("GET", "/api/items", host("[2001:db8::2]:3000")),
             response(200, [("Content-Type", "application/json")], items), 9)
    s.close()


def f_chunked_request(cap):
    s = cap.session("chunked-request", 80)
    s.handshake()
    chunks = [prng_bytes("post-chunk-%d" % i, n) for i, n in enumerate((1000, 1000, 500))]
    exchange(s, request("POST", "/ingest", host() + [("Content-Type", "application/octet-stream")],
                        b"".join(chunks), framing="chunked", chunks=chunks),
             response(200, [("Content-Type", "text/plain")], b"ingested 2500 bytes\n"), 16)
    s.close()


def f_retransmit_reorder(cap):
    s = cap.session("retransmit-reorder", 80)
    s.handshake()
    # client segments 1 and 2 (of 0..2) captured in swapped order
    post = request("POST", "/form", host() + [("Content-Type", "application/octet-stream")],
                   prng_bytes("reorder-post", 3000))
    s.send_msgs(CLIENT, [post], order=[0, 2, 1], ack="end")
    s.send_msgs(SERVER, [response(200, [("Content-Type", "text/plain")], b"stored\n")],
                delay_ms=10)
    # server segment 2 (of 0..4) captured a second time
    body = sample_text("retransmit", 6000)
    s.send_msgs(CLIENT, [request("GET", "/data.txt", host())], ack="none")
    s.send_msgs(SERVER, [response(200, [("Content-Type", "text/plain")], body)],
                delay_ms=12, ack="end", retransmit=[2])
    s.close()


FEATURES = [f_keep_alive, f_pipelining, f_chunked_trailers, f_gzip, f_deflate,
            f_no_body, f_expect_continue, f_http10_close, f_connect, f_websocket,
            f_odd_port_v4, f_ipv6_port_3000, f_chunked_request, f_retransmit_reorder]


def write_features(pcap_path, truth_path=None):
    with open(pcap_path, "wb") as fp:
        cap = Capture(fp)
        for build in FEATURES:
            build(cap)
            cap.wait(50)
    if truth_path:
        truth = {"capture": "http-features.pcap",
                 "generator": "python3 samples/gen_http.py features",
                 "notes": "session index = order of SYN = tshark tcp.stream; body_len "
                          "= body bytes after removing chunked framing, before content "
                          "decoding; decoded_sha256 = SHA-256 of the content-decoded body; "
                          "ts/end_ts = capture time of a message's first/last byte; "
                          "latency = response ts - request ts",
                 "sessions": [s.truth() for s in cap.sessions]}
        with open(truth_path, "w") as fp:
            json.dump(truth, fp, indent=1)
            fp.write("\n")


# ------------------------------------------------------------ bad-input cases

CASES = {}


def case(fn):
    """Register a bad-input case under the function's name."""
    CASES[fn.__name__] = fn
    return fn


@case
def huge_header_line(cap):
    """A request with a 1 MB header line (never answered), then a normal
    request and its 200 on the same connection."""
    s = cap.session("huge_header_line", 80)
    s.handshake()
    s.send_msgs(CLIENT, [request("GET", "/huge", host() + [("X-Big", "a" * (1 << 20))])])
    exchange(s, request("GET", "/after", host()),
             response(200, [("Content-Type", "text/plain")], b"after\n"))
    s.close()


@case
def many_headers(cap):
    """A request with 100,000 "X-h: v" headers (never answered), then a
    normal request and its 200."""
    s = cap.session("many_headers", 80)
    s.handshake()
    s.send_msgs(CLIENT, [request("GET", "/many", host() + [("X-h", "v")] * 100_000)])
    exchange(s, request("GET", "/after", host()),
             response(200, [("Content-Type", "text/plain")], b"after\n"))
    s.close()


@case
def endless_chunked(cap):
    """A chunked 200 that sends 4 KiB chunks for ~5 MB, never the last
    chunk, then the server closes the connection."""
    s = cap.session("endless_chunked", 80)
    s.handshake()
    s.send_msgs(CLIENT, [request("GET", "/stream", host())], ack="none")
    head = http_head("HTTP/1.1 200 OK", [("Content-Type", "application/octet-stream"),
                                         ("Transfer-Encoding", "chunked")])
    block = prng_bytes("endless", 4096)
    chunk = b"1000\r\n" + block + b"\r\n"
    s.send(SERVER, head + chunk * (5 * (1 << 20) // len(block)), delay_ms=10)
    s.close(first=SERVER)


@case
def chunk_2p63(cap):
    """A chunked 200 whose chunk-size line is 8000000000000000 (2^63),
    followed by a few bytes; then the server closes."""
    s = cap.session("chunk_2p63", 80)
    s.handshake()
    s.send_msgs(CLIENT, [request("GET", "/big-chunk", host())], ack="none")
    head = http_head("HTTP/1.1 200 OK", [("Transfer-Encoding", "chunked")])
    s.send(SERVER, head + b"8000000000000000\r\n" + b"x" * 64, delay_ms=10)
    s.close(first=SERVER)


@case
def gzip_bomb(cap):
    """A 200 with Content-Encoding: gzip whose body (~1 MB, Content-Length
    of the compressed size) inflates to 1 GiB of zeros."""
    s = cap.session("gzip_bomb", 80)
    s.handshake()
    bomb = gzip_zero_bomb(1 << 30)
    exchange(s, request("GET", "/bomb.gz", host() + [("Accept-Encoding", "gzip")]),
             response(200, [("Content-Type", "application/octet-stream"),
                            ("Content-Encoding", "gzip")], bomb))
    s.close()


@case
def no_length_no_close(cap):
    """An HTTP/1.1 keep-alive 200 with neither Content-Length nor chunking;
    the capture ends with the connection still open."""
    s = cap.session("no_length_no_close", 80)
    s.handshake()
    exchange(s, request("GET", "/unbounded", host()),
             response(200, [("Content-Type", "text/plain"), ("Connection", "keep-alive")],
                      sample_text("unbounded", 3000), framing="none"))


@case
def garbage_keepalive(cap):
    """Keep-alive: a good GET/200, then 200 bytes of binary garbage from the
    client (unanswered; its last two bytes are CR LF, so the next request
    starts a line), then a good GET/200."""
    s = cap.session("garbage_keepalive", 80)
    s.handshake()
    ok = b"ok\n"
    exchange(s, request("GET", "/first", host()), response(200, [("Content-Type", "text/plain")], ok))
    s.send(CLIENT, prng_bytes("garbage", 198) + b"\r\n", delay_ms=5)
    exchange(s, request("GET", "/second", host()), response(200, [("Content-Type", "text/plain")], ok))
    s.close()


@case
def gap_then_request(cap):
    """A POST with a 5000-byte body whose second body segment was never
    captured (the sequence numbers jump), its 200, then a GET/200."""
    s = cap.session("gap_then_request", 80)
    s.handshake()
    post = request("POST", "/upload", host() + [("Content-Type", "application/octet-stream")],
                   prng_bytes("gap-body", 5000))
    s.send_msgs(CLIENT, [post], drop=[1], ack="end")
    s.send_msgs(SERVER, [response(200, [("Content-Type", "text/plain")], b"stored\n")],
                delay_ms=10)
    exchange(s, request("GET", "/after", host()),
             response(200, [("Content-Type", "text/plain")], b"after\n"))
    s.close()


@case
def ws_2p63(cap):
    """A WebSocket upgrade, then a server frame header claiming a payload of
    2^63-1 bytes with a few bytes after it; then the server closes."""
    s = cap.session("ws_2p63", 8080)
    s.handshake()
    ws_upgrade(s)
    s.send_msgs(SERVER, [ws_frame(SERVER, 2, b"abcdefgh", length=(1 << 63) - 1)], delay_ms=5)
    s.close(first=SERVER)


def write_case(name, pcap_path):
    with open(pcap_path, "wb") as fp:
        CASES[name](Capture(fp))


# ------------------------------------------------------------ bulk capture
#
# `bulk` writes a large mixed capture for bench/http.sh: many keep-alive
# HTTP/1.1 sessions over IPv4 and IPv6, `concurrent` of them open at a time
# with their packets interleaved, plus non-HTTP noise (UDP datagrams, TCP
# sessions of binary data) and about 0.5% of data segments retransmitted or
# captured out of order. Every choice comes from random.Random(seed), so a
# seed gives the same bytes. It is written for speed: bodies are slices of
# pools made once, gzip bodies are compressed once, and checksums are
# computed with int.from_bytes modulo 0xFFFF (2^16 = 1 mod 0xFFFF, so a
# big-endian integer of an even-length buffer is congruent to the sum of its
# 16-bit words), which gives the same value as inet_checksum.

BULK_SESSIONS = 1200
BULK_CONCURRENT = 64
BULK_SEED = 1
BULK_MSS = {4: 1460, 6: 1440}
BULK_METHODS = (("GET", 0.82), ("POST", 0.10), ("HEAD", 0.03), ("PUT", 0.03),
                ("DELETE", 0.02))
BULK_NOISE_TCP = 0.03            # share of new sessions that are binary TCP
BULK_UDP = 0.01                  # chance of a UDP datagram after each packet
BULK_REORDER = 0.0025            # per data segment: swapped with the next one
BULK_RETRANSMIT = 0.0025         # per data segment: captured twice

_REC = struct.Struct("<IIII")
_IP4 = struct.Struct("!BBHHHBBH4s4s")
_IP6 = struct.Struct("!IHBB16s16s")
_TCPH = struct.Struct("!HHIIBBHHH")
_UDPH = struct.Struct("!HHHH")
_MSS_OPTION = {v: struct.pack("!BBH", 2, 4, mss) for v, mss in BULK_MSS.items()}


def _words_sum(data):
    """data (even length) as a big-endian integer: congruent mod 0xFFFF to
    the sum of its 16-bit words."""
    return int.from_bytes(data, "big")


def _csum(total):
    """Internet checksum from a sum of 16-bit words (any size, nonzero),
    equal to inet_checksum's fold: ~(end-around-carry sum) & 0xFFFF."""
    s = total % 0xFFFF
    return 0xFFFF - s if s else 0


class _BulkDir:
    """One direction of a flow: addresses, ports and header sums made once."""
    __slots__ = ("eth", "src", "dst", "sport", "dport", "v6", "asum", "ipid", "mss")

    def __init__(self, src, dst, sport, dport, src_mac, dst_mac, ipid):
        self.v6 = len(src) == 16
        self.eth = dst_mac + src_mac + (b"\x86\xdd" if self.v6 else b"\x08\x00")
        self.src, self.dst, self.sport, self.dport = src, dst, sport, dport
        self.asum = _words_sum(src) + _words_sum(dst)
        self.ipid = ipid
        self.mss = BULK_MSS[6 if self.v6 else 4]

    def ip(self, proto, length):
        """The IP header for `length` bytes of transport."""
        if self.v6:
            return _IP6.pack(0x60000000, length, proto, 64, self.src, self.dst)
        self.ipid = (self.ipid + 1) & 0xFFFF
        total = 20 + length
        c = _csum(0x4500 + total + self.ipid + 0x4000 + (64 << 8 | proto) + self.asum)
        return _IP4.pack(0x45, 0, total, self.ipid, 0x4000, 64, proto, c, self.src, self.dst)

    def tcp(self, seq, ack, flags, payload=b"", options=b""):
        """A whole Ethernet frame with a TCP segment."""
        seq &= 0xFFFFFFFF
        ack &= 0xFFFFFFFF
        hl = 20 + len(options)
        length = hl + len(payload)
        n = len(payload)
        pv = int.from_bytes(payload, "big") << 8 if n & 1 else int.from_bytes(payload, "big")
        total = (self.asum + 6 + length + self.sport + self.dport + (seq >> 16) +
                 (seq & 0xFFFF) + (ack >> 16) + (ack & 0xFFFF) + ((hl << 10) | flags) +
                 65535 + _words_sum(options) + pv)
        head = _TCPH.pack(self.sport, self.dport, seq, ack, hl << 2, flags, 65535,
                          _csum(total), 0)
        return b"".join((self.eth, self.ip(6, length), head, options, payload))

    def udp(self, payload):
        length = 8 + len(payload)
        n = len(payload)
        pv = int.from_bytes(payload, "big") << 8 if n & 1 else int.from_bytes(payload, "big")
        c = _csum(self.asum + 17 + length + self.sport + self.dport + length + pv) or 0xFFFF
        return b"".join((self.eth, self.ip(17, length),
                         _UDPH.pack(self.sport, self.dport, length, c), payload))


class _Bulk:
    """Shared state of one bulk capture: the random source, the body pools,
    the counts that become the truth."""

    def __init__(self, seed):
        self.rng = rng = random.Random(seed)
        self.binary = rng.randbytes(4 << 20)
        words = rng.choices(WORDS, k=600_000)
        lines = ["%06d %s\n" % (i, " ".join(words[j:j + 10]))
                 for i, j in enumerate(range(0, len(words), 10))]
        self.text = "".join(lines).encode()          # about 4.7 MB
        self.gzip = []                                # (decoded length, gzip bytes)
        for k in range(24):
            n = int(4000 * 500 ** (k / 23))           # 4 KB .. 2 MB decoded
            off = rng.randrange(len(self.text) - n)
            c = zlib.compressobj(6, zlib.DEFLATED, -15, 9)
            raw = self.text[off:off + n]
            body = c.compress(raw) + c.flush()
            self.gzip.append((n, b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff" + body +
                              struct.pack("<II", zlib.crc32(raw), n)))
        self.methods = {}
        self.statuses = {}
        self.counts = {"http_sessions": 0, "http_sessions_v6": 0, "noise_tcp_sessions": 0,
                       "udp_datagrams": 0, "requests": 0, "responses": 0,
                       "retransmitted_segments": 0, "reordered_pairs": 0,
                       "data_segments": 0}

    def count(self, key, n=1):
        self.counts[key] += n

    def pool_slice(self, pool, n):
        off = self.rng.randrange(len(pool) - n)
        return pool[off:off + n]


def _bulk_flow(bulk, index, server_port):
    """The two directions of a new TCP flow, IPv6 for about 30%."""
    rng = bulk.rng
    v6 = rng.random() < 0.3
    if v6:
        client = ipaddress.IPv6Address("2001:db8:1::").packed[:12] + index.to_bytes(4, "big")
        server = ipaddress.IPv6Address("2001:db8:200::%x" % (1 + index % 8)).packed
    else:
        client = bytes((10, 1 + (index >> 16) % 200, (index >> 8) & 255, index & 255))
        server = bytes((10, 200, 0, 1 + index % 8))
    cport = 32768 + index % 28000
    c = _BulkDir(client, server, cport, server_port, CLIENT_MAC, SERVER_MAC, rng.getrandbits(16))
    s = _BulkDir(server, client, server_port, cport, SERVER_MAC, CLIENT_MAC, rng.getrandbits(16))
    return v6, c, s


def _bulk_send(bulk, me, peer, state, data):
    """Yields the frames that carry `data` from `me`: MSS-sized segments, the
    peer ACKing every second one and the last; now and then a segment is
    captured twice or two segments swap places. state = [me_nxt, peer_nxt]."""
    rng = bulk.rng
    mss = me.mss
    base, ack = state
    n = len(data)
    view = memoryview(data)
    starts = list(range(0, n, mss))
    bulk.count("data_segments", len(starts))
    last_i = len(starts) - 1
    i = 0
    emitted = 0
    while i <= last_i:
        r = rng.random()
        if r < BULK_REORDER and i < last_i:
            order = (i + 1, i)
            bulk.count("reordered_pairs")
        else:
            order = (i,)
        for j in order:
            lo = starts[j]
            hi = min(lo + mss, n)
            flags = ACK | PSH if j == last_i else ACK
            yield me.tcp(base + lo, ack, flags, view[lo:hi])
            emitted += 1
            if BULK_REORDER <= r < BULK_REORDER + BULK_RETRANSMIT:
                bulk.count("retransmitted_segments")
                yield me.tcp(base + lo, ack, flags, view[lo:hi])
            if emitted % 2 == 0 and j < last_i and len(order) == 1:
                yield peer.tcp(ack, base + hi, ACK)
        i += len(order)
    state[0] = base + n
    yield peer.tcp(ack, base + n, ACK)


def _bulk_http_session(bulk, index):
    rng = bulk.rng
    port = 80 if rng.random() < 0.8 else 8080
    v6, c, s = _bulk_flow(bulk, index, port)
    bulk.count("http_sessions")
    if v6:
        bulk.count("http_sessions_v6")
    cisn, sisn = rng.getrandbits(32), rng.getrandbits(32)
    yield c.tcp(cisn, 0, SYN, options=_MSS_OPTION[6 if v6 else 4])
    yield s.tcp(sisn, cisn + 1, SYN | ACK, options=_MSS_OPTION[6 if v6 else 4])
    yield c.tcp(cisn + 1, sisn + 1, ACK)
    cstate, sstate = [cisn + 1, sisn + 1], [sisn + 1, cisn + 1]
    host_name = "www%d.example.com" % (index % 97)
    if port != 80:
        host_name += ":%d" % port
    methods, weights = zip(*BULK_METHODS)
    for k in range(rng.randint(1, 9)):
        method = rng.choices(methods, weights)[0]
        req, res = _bulk_exchange(bulk, method, host_name, k)
        bulk.methods[method] = bulk.methods.get(method, 0) + 1
        bulk.count("requests")
        cstate[1] = sstate[0]
        yield from _bulk_send(bulk, c, s, cstate, req)
        sstate[1] = cstate[0]
        yield from _bulk_send(bulk, s, c, sstate, res)
        bulk.count("responses")
    a, b = cstate[0], sstate[0]
    yield c.tcp(a, b, FIN | ACK)
    yield s.tcp(b, a + 1, FIN | ACK)
    yield c.tcp(a + 1, b + 1, ACK)


def _bulk_chunked(body, rng):
    size = rng.choice((2048, 4096, 8192, 16384, 32768))
    view = memoryview(body)
    parts = []
    for off in range(0, len(body), size):
        piece = view[off:off + size]
        parts += (b"%x\r\n" % len(piece), piece, b"\r\n")
    parts.append(b"0\r\n\r\n")
    return b"".join(parts)


def _bulk_exchange(bulk, method, host_name, k):
    """The wire bytes of one request and its response."""
    rng = bulk.rng
    path = "/%s/%d/%x%s" % (rng.choice(("static", "img", "api/v1/items", "assets/js", "docs")),
                            rng.randrange(1000), rng.getrandbits(32),
                            rng.choice((".html", ".png", ".js", "", "?page=%d" % k)))
    head = ["%s %s HTTP/1.1" % (method, path), "Host: " + host_name,
            "User-Agent: " + UA, "Accept: */*", "Accept-Encoding: gzip"]
    if rng.random() < 0.3:
        head.append("Cookie: sid=%x" % rng.getrandbits(128))
    body = b""
    if method in ("POST", "PUT"):
        body = bulk.pool_slice(bulk.binary, int(200 * 320 ** rng.random()))  # 200 B .. 64 KB
        head.append("Content-Type: application/octet-stream")
        if method == "POST" and rng.random() < 0.2:
            head.append("Transfer-Encoding: chunked")
            body = _bulk_chunked(body, rng)
        else:
            head.append("Content-Length: %d" % len(body))
    req = ("\r\n".join(head) + "\r\n\r\n").encode() + body

    r = rng.random()
    status = 200
    if method == "GET" and r < 0.04:
        status = 304
    elif method == "GET" and r < 0.08:
        status = 404
    elif method in ("POST", "PUT"):
        status = 201 if method == "PUT" else 200
    elif method == "DELETE":
        status = 204
    bulk.statuses[status] = bulk.statuses.get(status, 0) + 1
    head = ["HTTP/1.1 %d %s" % (status, http.HTTPStatus(status).phrase),
            "Date: Tue, 14 Nov 2023 22:13:20 GMT", "Server: lunatap-gen"]
    if status in (204, 304):
        return req, ("\r\n".join(head) + "\r\n\r\n").encode()
    if status == 404:
        body, ctype, gz = b"<html><body>not found</body></html>\n", "text/html", False
    elif method in ("POST", "PUT"):
        body, ctype, gz = b'{"ok":true,"id":%d}\n' % rng.randrange(10 ** 6), "application/json", False
    else:
        kind = rng.random()
        gz = kind < 0.2
        if gz:
            _, body = rng.choice(bulk.gzip)
            ctype = "text/html"
        else:
            n = int(1000 * 500 ** rng.random())       # 1 KB .. 500 KB
            if kind < 0.6:
                body, ctype = bulk.pool_slice(bulk.text, n), "text/html; charset=utf-8"
            else:
                body, ctype = bulk.pool_slice(bulk.binary, n), "image/png"
    head.append("Content-Type: " + ctype)
    if gz:
        head.append("Content-Encoding: gzip")
    if method != "HEAD" and rng.random() < 0.3:
        head.append("Transfer-Encoding: chunked")
        wire = _bulk_chunked(body, rng)
    else:
        head.append("Content-Length: %d" % len(body))
        wire = b"" if method == "HEAD" else body
    return req, ("\r\n".join(head) + "\r\n\r\n").encode() + wire


def _bulk_noise_session(bulk, index):
    """A TCP session of binary data on port 5001: a short client message,
    then 20 KB .. 2 MB from the server."""
    rng = bulk.rng
    v6, c, s = _bulk_flow(bulk, index, 5001)
    bulk.count("noise_tcp_sessions")
    cisn, sisn = rng.getrandbits(32), rng.getrandbits(32)
    yield c.tcp(cisn, 0, SYN, options=_MSS_OPTION[6 if v6 else 4])
    yield s.tcp(sisn, cisn + 1, SYN | ACK, options=_MSS_OPTION[6 if v6 else 4])
    yield c.tcp(cisn + 1, sisn + 1, ACK)
    cstate, sstate = [cisn + 1, sisn + 1], [sisn + 1, cisn + 1]
    yield from _bulk_send(bulk, c, s, cstate, b"\x00\x01" + bulk.pool_slice(bulk.binary, 98))
    sstate[1] = cstate[0]
    yield from _bulk_send(bulk, s, c, sstate,
                          b"\x00\x02" + bulk.pool_slice(bulk.binary, int(20_000 * 100 ** rng.random())))
    a, b = cstate[0], sstate[0]
    yield s.tcp(b, a, FIN | ACK)
    yield c.tcp(a, b + 1, FIN | ACK)
    yield s.tcp(b + 1, a + 1, ACK)


def write_bulk(pcap_path, sessions=BULK_SESSIONS, concurrent=BULK_CONCURRENT,
               seed=BULK_SEED, truth_path=None):
    bulk = _Bulk(seed)
    rng = bulk.rng
    udp_dirs = [_BulkDir(bytes((10, 9, 0, 1 + i)), bytes((10, 9, 1, 1)), 40000 + i, 40999,
                         CLIENT_MAC, SERVER_MAC, i) for i in range(8)]
    started = [0]

    def start():
        i = started[0]
        started[0] += 1
        if rng.random() < BULK_NOISE_TCP:
            return _bulk_noise_session(bulk, i)
        return _bulk_http_session(bulk, i)

    active = [start() for _ in range(min(concurrent, sessions))]
    now = EPOCH_US
    packets = nbytes = 0
    out, pending = [], 0
    rec = _REC.pack
    with open(pcap_path, "wb") as fp:
        fp.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, SNAPLEN, LINKTYPE_ETHERNET))
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
            frames = [frame]
            if rng.random() < BULK_UDP:
                d = rng.choice(udp_dirs)
                frames.append(d.udp(bulk.pool_slice(bulk.binary, rng.randrange(40, 1200))))
                bulk.count("udp_datagrams")
            for frame in frames:
                n = len(frame)
                out.append(rec(now // 1_000_000, now % 1_000_000, n, n))
                out.append(frame)
                now += 2 + n // 200                  # about 1.3 Gbit/s
                packets += 1
                nbytes += n
                pending += n
            if pending > 4 << 20:
                fp.write(b"".join(out))
                out, pending = [], 0
        fp.write(b"".join(out))
    if truth_path:
        truth = {"generator": "python3 samples/gen_http.py bulk --sessions %d --concurrent %d "
                              "--seed %d" % (sessions, concurrent, seed),
                 "notes": "requests = HTTP requests in the capture (each answered: responses "
                          "= requests); methods and statuses count them; sessions include "
                          "noise_tcp_sessions (binary, port 5001); data_segments excludes "
                          "retransmitted copies",
                 "packets": packets, "frame_bytes": nbytes,
                 "methods": dict(sorted(bulk.methods.items())),
                 "statuses": {str(k): v for k, v in sorted(bulk.statuses.items())}}
        truth.update(bulk.counts)
        with open(truth_path, "w") as fp:
            json.dump(truth, fp, indent=1)
            fp.write("\n")
    return packets


# ------------------------------------------------------------ command line

USAGE = """usage: gen_http.py features OUT.pcap [TRUTH.json]
       gen_http.py case NAME OUT.pcap
       gen_http.py list
       gen_http.py bulk OUT.pcap [--sessions N] [--concurrent C] [--seed S] [--truth T.json]"""


def bulk_main(args):
    """bulk OUT.pcap [--sessions N] [--concurrent C] [--seed S] [--truth T.json]"""
    opts = {"--sessions": BULK_SESSIONS, "--concurrent": BULK_CONCURRENT,
            "--seed": BULK_SEED, "--truth": None}
    if not args or args[0].startswith("--"):
        return False
    out, rest = args[0], args[1:]
    while rest:
        if len(rest) < 2 or rest[0] not in opts:
            return False
        key, value = rest[0], rest[1]
        if key != "--truth":
            try:
                value = int(value)
            except ValueError:
                return False
            if value < (0 if key == "--seed" else 1):
                return False
        opts[key] = value
        rest = rest[2:]
    write_bulk(out, opts["--sessions"], opts["--concurrent"], opts["--seed"], opts["--truth"])
    return True


def main(argv):
    if len(argv) in (3, 4) and argv[1] == "features":
        write_features(argv[2], argv[3] if len(argv) == 4 else None)
    elif len(argv) == 4 and argv[1] == "case" and argv[2] in CASES:
        write_case(argv[2], argv[3])
    elif len(argv) == 2 and argv[1] == "list":
        print("\n".join(CASES))
    elif len(argv) >= 3 and argv[1] == "bulk" and bulk_main(argv[2:]):
        pass
    else:
        if len(argv) >= 3 and argv[1] == "case":
            print("unknown case %r; cases: %s" % (argv[2], ", ".join(CASES)), file=sys.stderr)
        print(USAGE, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
