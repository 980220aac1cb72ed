/*
 * decode.c — link, network and transport decoding of one frame.
 *
 * Every byte is read through the checked readers below, which take the
 * frame's bytes, caplen and an offset and return 0 outside the bytes. On top
 * of that, each header is admitted by need(), which compares the bytes it
 * needs with the length that claims them (wire length or IP length: beyond
 * it the frame is invalid) and with caplen (beyond it: truncated). See
 * decode.h for the contract. Nothing here allocates or keeps state.
 */
#include "decode.h"

#include <arpa/inet.h>
#include <string.h>

/* ---- checked readers ---------------------------------------------------- */

/* 1 when [off, off + n) lies within `len` bytes; cannot overflow. */
static inline int lt_span(uint32_t len, uint32_t off, uint32_t n)
{
    return off <= len && n <= len - off;
}

static inline uint8_t rd8(const uint8_t *d, uint32_t cap, uint32_t off)
{
    return lt_span(cap, off, 1) ? d[off] : 0;
}

static inline uint16_t rd16(const uint8_t *d, uint32_t cap, uint32_t off)
{
    if (!lt_span(cap, off, 2))
        return 0;
    return (uint16_t)((uint16_t)d[off] << 8 | (uint16_t)d[off + 1]);
}

static inline uint32_t rd32(const uint8_t *d, uint32_t cap, uint32_t off)
{
    if (!lt_span(cap, off, 4))
        return 0;
    return (uint32_t)d[off] << 24 | (uint32_t)d[off + 1] << 16 |
           (uint32_t)d[off + 2] << 8 | (uint32_t)d[off + 3];
}

static inline uint32_t rd32le(const uint8_t *d, uint32_t cap, uint32_t off)
{
    if (!lt_span(cap, off, 4))
        return 0;
    return (uint32_t)d[off + 3] << 24 | (uint32_t)d[off + 2] << 16 |
           (uint32_t)d[off + 1] << 8 | (uint32_t)d[off];
}

/* ---- problem texts (static: lt_packet.problem points at them) ----------- */

#define LT_N16(s) { s "0", s "1", s "2", s "3", s "4", s "5", s "6", s "7", \
                    s "8", s "9", s "10", s "11", s "12", s "13", s "14", s "15" }

static const char *const raw_version_msg[16] = LT_N16("raw: IP version ");
static const char *const ipv4_version_msg[16] = LT_N16("ipv4: version ");
static const char *const ipv6_version_msg[16] = LT_N16("ipv6: version ");
static const char *const ipv4_hlen_msg[5] = {
    "ipv4: header length 0 < 20", "ipv4: header length 4 < 20",
    "ipv4: header length 8 < 20", "ipv4: header length 12 < 20",
    "ipv4: header length 16 < 20",
};
static const char *const tcp_hlen_msg[5] = {
    "tcp: header length 0 < 20", "tcp: header length 4 < 20",
    "tcp: header length 8 < 20", "tcp: header length 12 < 20",
    "tcp: header length 16 < 20",
};
static const char *const udp_len_msg[8] = {
    "udp: length 0 < 8", "udp: length 1 < 8", "udp: length 2 < 8",
    "udp: length 3 < 8", "udp: length 4 < 8", "udp: length 5 < 8",
    "udp: length 6 < 8", "udp: length 7 < 8",
};

/* ---- decoding context --------------------------------------------------- */

typedef struct dctx {
    lt_packet *p;
    const uint8_t *d;
    uint32_t cap;   /* bytes present */
    uint32_t wire;  /* bytes on the wire, never below cap */
} dctx;

static void set_truncated(dctx *c, const char *msg)
{
    c->p->truncated = 1;
    if (!c->p->problem)
        c->p->problem = msg;
}

static void set_invalid(dctx *c, const char *msg)
{
    c->p->invalid = 1;
    if (!c->p->problem)
        c->p->problem = msg;
}

/*
 * Admits [off, off + n): `end` is the length that claims these bytes (the
 * wire length, or the end of the IP datagram). Beyond `end`: invalid with
 * `bad`; beyond caplen: truncated with `cut`. Returns 1 when readable.
 */
static int need(dctx *c, uint32_t off, uint32_t n, uint32_t end,
                const char *bad, const char *cut)
{
    if (!lt_span(end, off, n)) {
        set_invalid(c, bad);
        return 0;
    }
    if (!lt_span(c->cap, off, n)) {
        set_truncated(c, cut);
        return 0;
    }
    return 1;
}

/* Payload = [off, min(end, caplen)), or 0/0 when off lies beyond it. */
static void set_payload(dctx *c, uint32_t off, uint32_t end)
{
    uint32_t lim = end < c->cap ? end : c->cap;
    if (off <= lim) {
        c->p->payload_off = off;
        c->p->payload_len = lim - off;
    } else {
        c->p->payload_off = 0;
        c->p->payload_len = 0;
    }
}

/* ---- transport ---------------------------------------------------------- */

/* Walks the `t->options_len` option bytes found at offset `at0`. */
static void decode_tcp_options(dctx *c, lt_tcp *t, uint32_t at0)
{
    const uint8_t *o = t->options;
    uint32_t n = t->options_len, i = 0;

    while (i < n) {
        uint8_t kind = o[i];
        if (kind == 0)          /* end of option list */
            break;
        if (kind == 1) {        /* no-operation */
            i++;
            continue;
        }
        if (n - i < 2) {
            set_invalid(c, "tcp: option runs past header");
            return;
        }
        uint8_t len = o[i + 1];
        if (len < 2) {
            set_invalid(c, "tcp: option length < 2");
            return;
        }
        if (len > n - i) {
            set_invalid(c, "tcp: option runs past header");
            return;
        }
        const uint8_t *v = o + i + 2;
        switch (kind) {
        case 2:
            if (len == 4) {
                t->has_mss = 1;
                t->mss = (uint16_t)((uint16_t)v[0] << 8 | v[1]);
            } else {
                set_invalid(c, "tcp: option 2 (mss) length != 4");
            }
            break;
        case 3:
            if (len == 3) {
                t->has_wscale = 1;
                t->wscale = v[0];
            } else {
                set_invalid(c, "tcp: option 3 (window scale) length != 3");
            }
            break;
        case 4:
            if (len == 2)
                t->sack_permitted = 1;
            else
                set_invalid(c, "tcp: option 4 (sack permitted) length != 2");
            break;
        case 5:
            if (len >= 10 && (len - 2) % 8 == 0) {
                uint32_t blocks = (uint32_t)(len - 2) / 8;
                for (uint32_t b = 0; b < blocks && t->nsack < LT_MAX_SACK; b++) {
                    uint32_t at = at0 + i + 2 + b * 8;
                    t->sack[t->nsack][0] = rd32(c->d, c->cap, at);
                    t->sack[t->nsack][1] = rd32(c->d, c->cap, at + 4);
                    t->nsack++;
                }
            } else {
                set_invalid(c, "tcp: option 5 (sack) length not 2 + 8n");
            }
            break;
        case 8:
            if (len == 10) {
                uint32_t at = at0 + i + 2;
                t->has_ts = 1;
                t->ts_val = rd32(c->d, c->cap, at);
                t->ts_ecr = rd32(c->d, c->cap, at + 4);
            } else {
                set_invalid(c, "tcp: option 8 (timestamps) length != 10");
            }
            break;
        default:
            break;
        }
        i += len;
    }
}

/* `frag`: the datagram is a first fragment, whose transport header may
 * legitimately continue in the next fragment. */
static void decode_tcp(dctx *c, uint32_t off, uint32_t end, int frag)
{
    lt_packet *p = c->p;
    lt_tcp *t = &p->tcp;

    if (frag && !lt_span(end, off, 20)) {
        set_payload(c, off, end);
        return;
    }
    if (!need(c, off, 20, end, "tcp: header runs past IP payload",
              "tcp: truncated header"))
        return;
    const uint8_t *d = c->d;
    uint32_t cap = c->cap;
    t->sport = rd16(d, cap, off);
    t->dport = rd16(d, cap, off + 2);
    t->seq = rd32(d, cap, off + 4);
    t->ack = rd32(d, cap, off + 8);
    uint8_t doff = rd8(d, cap, off + 12) >> 4;
    t->hdr_len = (uint8_t)(doff * 4);
    t->flags = rd8(d, cap, off + 13);
    t->win = rd16(d, cap, off + 14);
    t->csum = rd16(d, cap, off + 16);
    t->urp = rd16(d, cap, off + 18);
    p->l4 = LT_L4_TCP;

    if (doff < 5) {
        set_invalid(c, tcp_hlen_msg[doff]);
        return;
    }
    uint32_t hl = t->hdr_len;
    if (frag && !lt_span(end, off, hl)) {
        /* The options continue in the next fragment: this one is all
         * header. Truncated only if the capture lost part of it. */
        if (end > c->cap)
            set_truncated(c, "tcp: truncated options");
        set_payload(c, end, end);
        return;
    }
    if (!need(c, off, hl, end, "tcp: header length > IP payload",
              "tcp: truncated options"))
        return;
    if (hl > 20) {
        t->options = d + off + 20;
        t->options_len = (uint16_t)(hl - 20);
        decode_tcp_options(c, t, off + 20);
    }
    set_payload(c, off + hl, end);
}

static void decode_udp(dctx *c, uint32_t off, uint32_t end, int frag)
{
    lt_packet *p = c->p;
    lt_udp *u = &p->udp;

    if (frag && !lt_span(end, off, 8)) {
        set_payload(c, off, end);
        return;
    }
    if (!need(c, off, 8, end, "udp: header runs past IP payload",
              "udp: truncated header"))
        return;
    u->sport = rd16(c->d, c->cap, off);
    u->dport = rd16(c->d, c->cap, off + 2);
    u->len = rd16(c->d, c->cap, off + 4);
    u->csum = rd16(c->d, c->cap, off + 6);
    p->l4 = LT_L4_UDP;

    uint32_t ulen = u->len;
    if (ulen == 0 && p->ip.jumbo)   /* RFC 2675: UDP jumbogram */
        ulen = end - off;
    if (ulen < 8) {
        set_invalid(c, udp_len_msg[ulen]);
        return;
    }
    uint32_t uend;
    if (lt_span(end, off, ulen)) {
        uend = off + ulen;
    } else {
        if (!frag)
            set_invalid(c, "udp: length > IP payload");
        uend = end;
    }
    set_payload(c, off + 8, uend);
}

static void decode_icmp(dctx *c, uint32_t off, uint32_t end, int frag, int v6)
{
    lt_packet *p = c->p;
    lt_icmp *ic = &p->icmp;
    const char *bad = v6 ? "icmpv6: header runs past IP payload"
                         : "icmp: header runs past IP payload";
    const char *cut = v6 ? "icmpv6: truncated header" : "icmp: truncated header";

    if (frag && !lt_span(end, off, 8)) {
        set_payload(c, off, end);
        return;
    }
    if (!need(c, off, 4, end, bad, cut))
        return;
    ic->type = rd8(c->d, c->cap, off);
    ic->code = rd8(c->d, c->cap, off + 1);
    ic->csum = rd16(c->d, c->cap, off + 2);
    p->l4 = v6 ? LT_L4_ICMPV6 : LT_L4_ICMP;
    if (!lt_span(end, off, 8)) {        /* a 4..7-byte message: no rest */
        set_payload(c, end, end);
        return;
    }
    if (!need(c, off, 8, end, bad, cut))
        return;
    ic->rest = rd32(c->d, c->cap, off + 4);
    set_payload(c, off + 8, end);
}

/* Transport after an IP header ending at `off`; the datagram ends at `end`. */
static void decode_l4(dctx *c, uint32_t off, uint32_t end, uint8_t proto)
{
    lt_packet *p = c->p;
    int frag = p->ip.is_fragment;

    p->l4_off = off;
    if (p->ip.frag_offset > 0) {        /* not the first fragment */
        set_payload(c, off, end);
        return;
    }
    switch (proto) {
    case 6:
        decode_tcp(c, off, end, frag);
        break;
    case 17:
        decode_udp(c, off, end, frag);
        break;
    case 1:
        decode_icmp(c, off, end, frag, 0);
        break;
    case 58:
        decode_icmp(c, off, end, frag, 1);
        break;
    case 59:                            /* IPv6 no next header */
        set_payload(c, off, end);
        break;
    default:
        p->l4 = LT_L4_OTHER;
        set_payload(c, off, end);
        break;
    }
}

/* ---- network ------------------------------------------------------------ */

static void decode_ipv4(dctx *c, uint32_t off)
{
    lt_packet *p = c->p;
    lt_ip *ip = &p->ip;
    const uint8_t *d = c->d;
    uint32_t cap = c->cap;

    p->ethertype = 0x0800;
    p->l3_off = off;
    if (lt_span(cap, off, 1) && d[off] >> 4 != 4) {
        set_invalid(c, ipv4_version_msg[d[off] >> 4]);
        return;
    }
    if (!need(c, off, 20, c->wire, "ipv4: frame shorter than header",
              "ipv4: truncated header"))
        return;
    uint8_t ihl = rd8(d, cap, off) & 0x0f;
    ip->version = 4;
    ip->hdr_len = (uint16_t)(ihl * 4);
    ip->tos = rd8(d, cap, off + 1);
    ip->total_len = rd16(d, cap, off + 2);
    ip->id = rd16(d, cap, off + 4);
    uint16_t ff = rd16(d, cap, off + 6);
    ip->df = (uint8_t)(ff >> 14 & 1);
    ip->mf = (uint8_t)(ff >> 13 & 1);
    ip->frag_offset = (uint16_t)((ff & 0x1fff) * 8);
    ip->is_fragment = ip->mf || ip->frag_offset > 0;
    ip->ttl = rd8(d, cap, off + 8);
    ip->proto = rd8(d, cap, off + 9);
    ip->src = d + off + 12;
    ip->dst = d + off + 16;
    p->l3 = LT_L3_IPV4;

    if (ihl < 5) {
        set_invalid(c, ipv4_hlen_msg[ihl]);
        return;
    }
    if (ip->total_len == 0 && c->wire - off >= ip->hdr_len) {
        ip->tso = 1;                    /* as Wireshark: length from frame */
        ip->total_len = c->wire - off;
    }
    if (ip->total_len < ip->hdr_len) {
        set_invalid(c, "ipv4: total length < header length");
        return;
    }
    uint32_t end = off + ip->total_len;
    if (!lt_span(c->wire, off, ip->total_len)) {
        /* The header claims more than the frame holds: invalid, but the
         * bytes that are there are real, so decode them (as tshark does). */
        set_invalid(c, "ipv4: total length > frame");
        end = c->wire;
    }
    if (!need(c, off, ip->hdr_len, end, "ipv4: header length > total length",
              "ipv4: truncated options"))
        return;
    if (ip->hdr_len > 20) {
        ip->options = d + off + 20;
        ip->options_len = (uint16_t)(ip->hdr_len - 20);
    }
    decode_l4(c, off + ip->hdr_len, end, ip->proto);
}

/* Looks for the jumbo payload option (0xC2) in a hop-by-hop header of `hl`
 * bytes at `h` (already admitted). Returns 1 and the value when found. */
static int find_jumbo(dctx *c, uint32_t h, uint32_t hl, uint32_t *val)
{
    uint32_t i = 2;
    while (i < hl) {
        uint8_t type = rd8(c->d, c->cap, h + i);
        if (type == 0) {                /* Pad1 */
            i++;
            continue;
        }
        if (hl - i < 2)
            return 0;
        uint8_t len = rd8(c->d, c->cap, h + i + 1);
        if (len > hl - i - 2)
            return 0;
        if (type == 0xC2 && len == 4) {
            *val = rd32(c->d, c->cap, h + i + 2);
            return 1;
        }
        i += 2u + len;
    }
    return 0;
}

static void decode_ipv6(dctx *c, uint32_t off)
{
    lt_packet *p = c->p;
    lt_ip *ip = &p->ip;
    const uint8_t *d = c->d;
    uint32_t cap = c->cap;
    static const char bad_ext[] = "ipv6: extension header runs past payload";
    static const char cut_ext[] = "ipv6: truncated extension header";

    p->ethertype = 0x86DD;
    p->l3_off = off;
    if (lt_span(cap, off, 1) && d[off] >> 4 != 6) {
        set_invalid(c, ipv6_version_msg[d[off] >> 4]);
        return;
    }
    if (!need(c, off, 40, c->wire, "ipv6: frame shorter than header",
              "ipv6: truncated header"))
        return;
    uint32_t w0 = rd32(d, cap, off);
    uint16_t plen = rd16(d, cap, off + 4);
    uint8_t next = rd8(d, cap, off + 6);
    ip->version = 6;
    ip->tos = (uint8_t)(w0 >> 20 & 0xff);
    ip->flow = w0 & 0xfffff;
    ip->proto = next;
    ip->ttl = rd8(d, cap, off + 7);
    ip->src = d + off + 8;
    ip->dst = d + off + 24;
    ip->hdr_len = 40;
    ip->total_len = 40u + plen;
    p->l3 = LT_L3_IPV6;

    int maybe_jumbo = plen == 0 && next == 0;
    uint32_t end;
    if (maybe_jumbo) {
        end = c->wire;                  /* until the jumbo option says */
    } else if (plen == 0 && next != 59 && c->wire - off > 40) {
        ip->tso = 1;                    /* BIG TCP / GSO: length from frame */
        ip->total_len = c->wire - off;
        end = c->wire;
    } else {
        end = off + ip->total_len;
        if (!lt_span(c->wire, off, ip->total_len)) {
            set_invalid(c, "ipv6: payload length > frame"); /* decode what is there */
            end = c->wire;
        }
    }

    uint32_t h = off + 40;
    for (;;) {
        if (next != 0 && next != 43 && next != 44 && next != 60 && next != 51)
            break;
        if (ip->next_hdrs >= LT_MAX_IPV6_EXT) {
            set_invalid(c, "ipv6: more than 16 extension headers");
            return;
        }
        if (!need(c, h, 2, end, bad_ext, cut_ext))
            return;
        uint8_t lenb = rd8(d, cap, h + 1);
        uint32_t hl = next == 44 ? 8u
                    : next == 51 ? ((uint32_t)lenb + 2) * 4
                    : ((uint32_t)lenb + 1) * 8;
        if (!need(c, h, hl, end, bad_ext, cut_ext))
            return;
        if (maybe_jumbo && next == 0 && ip->next_hdrs == 0) {
            uint32_t jl;
            if (!find_jumbo(c, h, hl, &jl)) {
                set_invalid(c, "ipv6: payload length 0 without jumbo option");
                return;
            }
            ip->jumbo = 1;
            if (!lt_span(c->wire - off, 40, jl)) {
                ip->total_len = c->wire - off;
                set_invalid(c, "ipv6: jumbo payload length > frame");
                return;
            }
            ip->total_len = 40 + jl;
            end = off + ip->total_len;
            if (!need(c, h, hl, end, bad_ext, cut_ext))
                return;
        }
        int is_frag = next == 44;
        if (is_frag) {
            uint16_t fo = rd16(d, cap, h + 2);
            ip->has_frag_hdr = 1;
            ip->frag_offset = (uint16_t)((fo >> 3) * 8);
            ip->mf = fo & 1;
            ip->id = rd32(d, cap, h + 4);
            ip->is_fragment = ip->mf || ip->frag_offset > 0;
        }
        ip->next_hdrs++;
        next = rd8(d, cap, h);
        h += hl;
        ip->hdr_len = (uint16_t)(h - off);
        ip->proto = next;
        if (is_frag && ip->frag_offset > 0)
            break;                      /* what follows is fragment data */
    }
    decode_l4(c, h, end, next);
}

static void decode_arp(dctx *c, uint32_t off)
{
    lt_packet *p = c->p;
    lt_arp *a = &p->arp;

    p->l3_off = off;
    if (!need(c, off, 8, c->wire, "arp: frame shorter than header",
              "arp: truncated header"))
        return;
    a->htype = rd16(c->d, c->cap, off);
    a->ptype = rd16(c->d, c->cap, off + 2);
    a->hlen = rd8(c->d, c->cap, off + 4);
    a->plen = rd8(c->d, c->cap, off + 5);
    a->op = rd16(c->d, c->cap, off + 6);
    p->l3 = LT_L3_ARP;
    uint32_t body = 2u * ((uint32_t)a->hlen + a->plen);
    if (!need(c, off + 8, body, c->wire, "arp: addresses run past frame",
              "arp: truncated addresses"))
        return;
    a->sha = c->d + off + 8;
    a->spa = a->sha + a->hlen;
    a->tha = a->spa + a->plen;
    a->tpa = a->tha + a->hlen;
}

static void decode_l3(dctx *c, uint16_t type, uint32_t off);

/* PPPoE session stage (RFC 2516): 6-byte header, then a PPP protocol
 * number; IPv4 and IPv6 go on, other PPP protocols stay l3 OTHER. */
static void decode_pppoe(dctx *c, uint32_t off)
{
    lt_packet *p = c->p;
    if (!need(c, off, 8, c->wire, "pppoe: header runs past frame", "pppoe: truncated header"))
        return;
    p->pppoe_session = rd16(c->d, c->cap, off + 2);
    uint16_t proto = rd16(c->d, c->cap, off + 6);
    if (proto == 0x0021 || proto == 0x0057) {
        decode_l3(c, proto == 0x0021 ? 0x0800 : 0x86DD, off + 8);
        p->ethertype = 0x8864;
        return;
    }
    p->l3 = LT_L3_OTHER;
    set_payload(c, off + 8, c->cap);
}

/* The network layer named by an ethertype, at `off`. */
static void decode_l3(dctx *c, uint16_t type, uint32_t off)
{
    lt_packet *p = c->p;

    p->ethertype = type;
    p->l3_off = off;
    switch (type) {
    case 0x8864:
        decode_pppoe(c, off);
        break;
    case 0x0800:
        decode_ipv4(c, off);
        break;
    case 0x86DD:
        decode_ipv6(c, off);
        break;
    case 0x0806:
    case 0x8035:
        decode_arp(c, off);
        break;
    default:
        p->l3 = LT_L3_OTHER;
        set_payload(c, off, c->cap);
        break;
    }
}

/* ---- link --------------------------------------------------------------- */

/* 802.2 LLC at `off`: SNAP with OUI 0 carries an ethertype; anything else
 * is a network layer we do not know (l3 OTHER at the LLC header). */
static void decode_llc(dctx *c, uint32_t off)
{
    lt_packet *p = c->p;

    p->ethertype = 0;
    p->l3_off = off;
    if (!need(c, off, 3, c->wire, "llc: frame shorter than header",
              "llc: truncated header"))
        return;
    if (c->d[off] == 0xAA && c->d[off + 1] == 0xAA && c->d[off + 2] == 0x03) {
        if (!need(c, off, 8, c->wire, "snap: frame shorter than header",
                  "snap: truncated header"))
            return;
        uint32_t oui = (uint32_t)c->d[off + 3] << 16 |
                       (uint32_t)c->d[off + 4] << 8 | c->d[off + 5];
        if (oui == 0) {
            decode_l3(c, rd16(c->d, c->cap, off + 6), off + 8);
            return;
        }
    }
    p->l3 = LT_L3_OTHER;
    set_payload(c, off, c->cap);
}

static int is_vlan_tpid(uint16_t type)
{
    return type == 0x8100 || type == 0x88a8 || type == 0x9100;
}

/* Walks VLAN tags from `off` (the ethertype `type` was read just before),
 * then the 802.3 length case (Ethernet only) or the network layer. */
static void decode_ethertype(dctx *c, uint16_t type, uint32_t off, int eth)
{
    lt_packet *p = c->p;

    while (is_vlan_tpid(type)) {
        if (!need(c, off, 4, c->wire, "vlan: frame shorter than tag",
                  "vlan: truncated tag")) {
            p->ethertype = type;
            p->l3_off = off;
            return;
        }
        uint16_t tci = rd16(c->d, c->cap, off);
        if (p->eth.nvlan < LT_MAX_VLAN)
            p->eth.vlan[p->eth.nvlan++] = tci & 0x0fff;
        if (p->eth.ntags < UINT16_MAX)
            p->eth.ntags++;
        type = rd16(c->d, c->cap, off + 2);
        off += 4;
        if (eth)
            p->eth.type = type;
    }
    if (eth && type < 0x0600) {         /* 802.3 length field */
        decode_llc(c, off);
        return;
    }
    decode_l3(c, type, off);
}

static void decode_eth(dctx *c)
{
    lt_packet *p = c->p;

    if (!need(c, 0, 14, c->wire, "eth: frame shorter than header",
              "eth: truncated header"))
        return;
    p->has_eth = 1;
    p->eth.dst = c->d;
    p->eth.src = c->d + 6;
    p->eth.type = rd16(c->d, c->cap, 12);
    decode_ethertype(c, p->eth.type, 14, 1);
}

/* The `protocol` of an SLL/SLL2 header: an ethertype from 0x600 up, else
 * one of Linux's pseudo types (4 = 802.2 LLC; the rest we do not know). */
static void decode_sll_protocol(dctx *c, uint16_t proto, uint32_t off)
{
    if (proto >= 0x0600) {
        decode_ethertype(c, proto, off, 0);
    } else if (proto == 0x0004) {
        decode_llc(c, off);
    } else {
        c->p->ethertype = 0;
        c->p->l3_off = off;
        c->p->l3 = LT_L3_OTHER;
        set_payload(c, off, c->cap);
    }
}

static void decode_sll(dctx *c)
{
    lt_packet *p = c->p;
    lt_sll *s = &p->sll;

    if (!need(c, 0, 16, c->wire, "sll: frame shorter than header",
              "sll: truncated header"))
        return;
    uint16_t alen = rd16(c->d, c->cap, 4);
    p->has_sll = 1;
    s->pkttype = rd16(c->d, c->cap, 0);
    s->hatype = rd16(c->d, c->cap, 2);
    s->addrlen = (uint8_t)(alen > 8 ? 8 : alen);
    s->addr = c->d + 6;
    s->protocol = rd16(c->d, c->cap, 14);
    decode_sll_protocol(c, s->protocol, 16);
}

static void decode_sll2(dctx *c)
{
    lt_packet *p = c->p;
    lt_sll *s = &p->sll;

    if (!need(c, 0, 20, c->wire, "sll2: frame shorter than header",
              "sll2: truncated header"))
        return;
    uint8_t alen = rd8(c->d, c->cap, 11);
    p->has_sll = 1;
    s->protocol = rd16(c->d, c->cap, 0);
    s->ifindex = rd32(c->d, c->cap, 4);
    s->hatype = rd16(c->d, c->cap, 8);
    s->pkttype = rd8(c->d, c->cap, 10);
    s->addrlen = (uint8_t)(alen > 8 ? 8 : alen);
    s->addr = c->d + 12;
    decode_sll_protocol(c, s->protocol, 20);
}

/* AF_INET is 2 everywhere; AF_INET6 differs by OS. */
static int af_is_inet6(uint32_t af)
{
    return af == 10 || af == 24 || af == 28 || af == 30;
}

static int af_known(uint32_t af)
{
    return af == 2 || af_is_inet6(af);
}

/* BSD loopback: a 4-byte address family, in the capturing host's byte
 * order (NULL: we try both) or network order (LOOP). */
static void decode_null(dctx *c, int loop)
{
    lt_packet *p = c->p;

    if (!need(c, 0, 4, c->wire, "null: frame shorter than header",
              "null: truncated header"))
        return;
    uint32_t be = rd32(c->d, c->cap, 0), le = rd32le(c->d, c->cap, 0);
    uint32_t af = loop ? be : af_known(le) ? le : af_known(be) ? be : le;
    p->af = af;
    if (af == 2) {
        decode_ipv4(c, 4);
    } else if (af_is_inet6(af)) {
        decode_ipv6(c, 4);
    } else {
        p->ethertype = 0;
        p->l3_off = 4;
        p->l3 = LT_L3_OTHER;
        set_payload(c, 4, c->cap);
    }
}

static void decode_raw(dctx *c)
{
    if (!need(c, 0, 1, c->wire, "raw: empty frame", "raw: truncated header"))
        return;
    uint8_t v = c->d[0] >> 4;
    if (v == 4)
        decode_ipv4(c, 0);
    else if (v == 6)
        decode_ipv6(c, 0);
    else
        set_invalid(c, raw_version_msg[v]);
}

void lt_decode(lt_packet *p, const lt_frame *f)
{
    memset(p, 0, sizeof *p);
    p->frame = f;

    dctx c;
    c.p = p;
    c.d = f->data;
    c.cap = f->data ? f->caplen : 0;
    c.wire = f->len > c.cap ? f->len : c.cap;

    switch (f->linktype) {
    case LT_LINK_EN10MB:
        decode_eth(&c);
        break;
    case LT_LINK_LINUX_SLL:
        decode_sll(&c);
        break;
    case LT_LINK_LINUX_SLL2:
        decode_sll2(&c);
        break;
    case LT_LINK_NULL:
        decode_null(&c, 0);
        break;
    case LT_LINK_LOOP:
        decode_null(&c, 1);
        break;
    case LT_LINK_RAW:
        decode_raw(&c);
        break;
    case LT_LINK_IPV4:
        decode_ipv4(&c, 0);
        break;
    case LT_LINK_IPV6:
        decode_ipv6(&c, 0);
        break;
    default:                    /* unknown link: no network layer, no error */
        break;
    }
}

const char *lt_ip_ntop(int version, const uint8_t *addr, char *buf, size_t len)
{
    if (len > 0)
        buf[0] = '\0';
    if (!addr || (version != 4 && version != 6) || len > (size_t)UINT32_MAX)
        return NULL;
    if (!inet_ntop(version == 4 ? AF_INET : AF_INET6, addr, buf, (socklen_t)len)) {
        if (len > 0)
            buf[0] = '\0';
        return NULL;
    }
    return buf;
}

const char *lt_tcp_flags_str(uint8_t flags, char *buf)
{
    static const char letters[] = "FSRPAUEW";
    size_t n = 0;
    for (int i = 0; i < 8; i++) {
        if (flags & (1u << i))
            buf[n++] = letters[i];
    }
    buf[n] = '\0';
    return buf;
}
