/*
 * test_defrag.c — unit tests for engine/defrag.c.
 *
 * Usage: test_defrag SAMPLES_DIR SHARED_PCAPS_DIR
 *
 * 1. IPv4 and IPv6 UDP datagrams built here (raw IP, link type 101), split
 *    into fragments and fed through lt_decode() + lt_defrag_add(): in order,
 *    reversed, shuffled, duplicated, overlapping with the same and with
 *    different bytes (first arrival wins, callback), interleaved datagrams.
 *    Every reassembled datagram is decoded again and must give back the UDP
 *    ports and payload; IPv4 header checksums must verify.
 * 2. Limits and errors: a missing fragment (times out, through expire() and
 *    through add()), a 100,000-datagram flood under a 1 MiB cap (mem checked
 *    after every add), too many fragments, payload past 65,535 (and a
 *    datagram of exactly 65,535 bytes), last fragments that disagree, data
 *    past the end, fragments cut by the snap length, every fragment cut at
 *    every length (exact-size buffers, for AddressSanitizer).
 * 3. Every capture in SHARED_PCAPS_DIR named frag4_*, frag6_* or
 *    large_ip-frag*: the datagrams we reassemble against tshark's
 *    (ip/ipv6.reassembled.data, when tshark is installed): same number, same
 *    completing frames, same bytes; the explained differences are in KNOWN.
 *    Then every capture of SHARED_PCAPS_DIR and its malformed/ folder through
 *    decode + defrag: no crash or leak, every datagram decodes whole.
 *
 * Exit 0 when every check passed, 1 otherwise. A missing shared folder or
 * tshark only skips those parts, with a message.
 */
#include "decode.h"
#include "defrag.h"

#include <dirent.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- a tiny check harness ----------------------------------------------- */

#include "check.h"

/* ---- building packets --------------------------------------------------- */

#define MAX_PKT 70000
#define SPORT 5353
#define DPORT 4242

static const uint8_t SRC4[4] = { 192, 0, 2, 1 }, DST4[4] = { 198, 51, 100, 7 };
static const uint8_t SRC6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
static const uint8_t DST6[16] = { 0x20, 0x01, 0x0d, 0xb8, [14] = 0xab, [15] = 2 };

/* A deterministic generator (tests must not depend on rand()'s). */
static uint32_t rng_state = 12345;

static uint32_t rnd(void)
{
    rng_state = rng_state * 1103515245u + 12345u;
    return rng_state >> 8;
}

static void put16(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static uint32_t get16(const uint8_t *p)
{
    return (uint32_t)p[0] << 8 | p[1];
}

static uint32_t ones_sum(const uint8_t *p, uint32_t n)
{
    uint32_t s = 0;
    for (uint32_t i = 0; i + 1 < n; i += 2)
        s += get16(p + i);
    if (n & 1)
        s += (uint32_t)p[n - 1] << 8;
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return s;
}

/* A UDP datagram (header + payload of n - 8 patterned bytes) into buf. */
static void make_udp(uint8_t *buf, uint32_t n, uint32_t seed)
{
    put16(buf, SPORT);
    put16(buf + 2, DPORT);
    put16(buf + 4, n);
    put16(buf + 6, 0);
    for (uint32_t i = 8; i < n; i++)
        buf[i] = (uint8_t)(i * 7 + seed * 13 + (i >> 8));
}

/* One fragment of an IP payload. */
typedef struct fspec {
    uint32_t off, len;
    int mf;
} fspec;

typedef struct dgspec {
    int version;
    uint32_t id;
    uint8_t proto;
    const uint8_t *src, *dst;    /* NULL: SRC4/DST4 or SRC6/DST6 */
    const uint8_t *opts;         /* IPv4 options (multiple of 4 bytes) */
    uint32_t optlen;
    int v6ext;                   /* IPv6: hop-by-hop + destination options
                                  * before the fragment header */
} dgspec;

/* Builds a fragment of `payload` into a fresh buffer of exactly the
 * packet's size. */
static uint8_t *make_frag(const dgspec *s, const uint8_t *payload, fspec f, uint32_t *n)
{
    uint8_t *p;
    if (s->version == 4) {
        uint32_t hl = 20 + s->optlen;
        *n = hl + f.len;
        p = calloc(1, *n);
        p[0] = (uint8_t)(0x40 | hl / 4);
        put16(p + 2, *n);
        put16(p + 4, s->id);
        put16(p + 6, (f.mf ? 0x2000u : 0) | f.off / 8);
        p[8] = 64;
        p[9] = s->proto ? s->proto : 17;
        memcpy(p + 12, s->src ? s->src : SRC4, 4);
        memcpy(p + 16, s->dst ? s->dst : DST4, 4);
        if (s->optlen)
            memcpy(p + 20, s->opts, s->optlen);
        put16(p + 10, ~ones_sum(p, hl) & 0xffff);
        memcpy(p + hl, payload + f.off, f.len);
    } else {
        uint32_t ext = s->v6ext ? 16 : 0, hl = 40 + ext + 8;
        *n = hl + f.len;
        p = calloc(1, *n);
        p[0] = 0x60;
        put16(p + 4, *n - 40);
        p[6] = s->v6ext ? 0 : 44;
        p[7] = 64;
        memcpy(p + 8, s->src ? s->src : SRC6, 16);
        memcpy(p + 24, s->dst ? s->dst : DST6, 16);
        if (s->v6ext) {
            p[40] = 60;                 /* hop-by-hop, then dest options */
            p[41] = 0;
            p[42] = 1;                  /* PadN, 4 bytes */
            p[43] = 4;
            p[48] = 44;
            p[49] = 0;
            p[50] = 1;
            p[51] = 4;
        }
        uint8_t *fh = p + 40 + ext;
        fh[0] = s->proto ? s->proto : 17;
        put16(fh + 2, f.off | (f.mf ? 1u : 0));
        fh[4] = (uint8_t)(s->id >> 24);
        fh[5] = (uint8_t)(s->id >> 16);
        fh[6] = (uint8_t)(s->id >> 8);
        fh[7] = (uint8_t)s->id;
        memcpy(p + hl, payload + f.off, f.len);
    }
    return p;
}

/* Splits n payload bytes into chunks of `chunk` (a multiple of 8). */
static int split(fspec *out, uint32_t n, uint32_t chunk)
{
    int k = 0;
    for (uint32_t off = 0; off < n; off += chunk) {
        out[k].off = off;
        out[k].len = n - off < chunk ? n - off : chunk;
        out[k].mf = off + chunk < n;
        k++;
    }
    return k;
}

/* ---- feeding ------------------------------------------------------------ */

typedef struct result {
    int rc;
    uint8_t *out;                /* a copy of the datagram (exact size) */
    uint32_t outlen;
} result;

static uint8_t *dup_bytes(const uint8_t *b, uint32_t n)
{
    uint8_t *c = malloc(n ? n : 1);
    memcpy(c, b, n);
    return c;
}

/* Decodes a packet (caplen bytes of a `wire`-byte packet) and adds it. */
static int feed_raw(lt_defrag *d, const uint8_t *pkt, uint32_t caplen, uint32_t wire,
                    double now, result *r)
{
    lt_frame f = { .data = pkt, .caplen = caplen, .len = wire, .linktype = LT_LINK_RAW };
    lt_packet p;
    const uint8_t *out = NULL;
    uint32_t outlen = 0;
    lt_decode(&p, &f);
    if (!((p.l3 == LT_L3_IPV4 || p.l3 == LT_L3_IPV6) && p.ip.is_fragment))
        return -2;                      /* the decoder does not see a fragment */
    int rc = lt_defrag_add(d, &p, now, &out, &outlen);
    if (r) {
        r->rc = rc;
        free(r->out);
        r->out = rc == LT_DEFRAG_DONE ? dup_bytes(out, outlen) : NULL;
        r->outlen = outlen;
    }
    if (rc != LT_DEFRAG_DONE)
        CHECK(out == NULL && outlen == 0);
    return rc;
}

static int feed(lt_defrag *d, const dgspec *s, const uint8_t *payload, fspec f,
                double now, result *r)
{
    uint32_t n;
    uint8_t *pkt = make_frag(s, payload, f, &n);
    int rc = feed_raw(d, pkt, n, n, now, r);
    CHECK(rc != -2);
    free(pkt);
    return rc;
}

/* Checks a reassembled datagram: it decodes to a whole UDP datagram of
 * `payload` (n bytes, the UDP header first). */
static void check_dgram(const result *r, const dgspec *s, const uint8_t *payload, uint32_t n)
{
    CHECK_EQ(r->rc, LT_DEFRAG_DONE);
    if (r->rc != LT_DEFRAG_DONE || !r->out)
        return;
    lt_frame f = { .data = r->out, .caplen = r->outlen, .len = r->outlen,
                   .linktype = LT_LINK_RAW };
    lt_packet p;
    lt_decode(&p, &f);
    CHECK(!p.invalid && !p.truncated);
    CHECK_EQ(p.l3, s->version == 4 ? LT_L3_IPV4 : LT_L3_IPV6);
    CHECK_EQ(p.ip.is_fragment, 0);
    CHECK_EQ(p.ip.mf, 0);
    CHECK_EQ(p.ip.frag_offset, 0);
    CHECK_EQ(p.ip.total_len, r->outlen);
    if (s->version == 4) {
        CHECK_EQ(p.ip.hdr_len, 20 + s->optlen);
        CHECK_EQ(p.ip.id, s->id);
        CHECK_EQ(ones_sum(r->out, p.ip.hdr_len), 0xffff);
        CHECK(memcmp(p.ip.src, s->src ? s->src : SRC4, 4) == 0);
        if (s->optlen)
            CHECK(p.ip.options && memcmp(p.ip.options, s->opts, s->optlen) == 0);
    } else {
        CHECK_EQ(p.ip.has_frag_hdr, 0);
        CHECK_EQ(p.ip.hdr_len, 40 + (s->v6ext ? 16 : 0));
        CHECK_EQ(p.ip.next_hdrs, s->v6ext ? 2 : 0);
        CHECK(memcmp(p.ip.src, s->src ? s->src : SRC6, 16) == 0);
    }
    CHECK_EQ(r->outlen, p.ip.hdr_len + n);
    CHECK_EQ(p.l4, LT_L4_UDP);
    CHECK_EQ(p.udp.sport, SPORT);
    CHECK_EQ(p.udp.dport, DPORT);
    CHECK_EQ(p.payload_len, n - 8);
    CHECK(p.payload_len == n - 8 && memcmp(r->out + p.payload_off, payload + 8, n - 8) == 0);
}

static size_t base_mem;          /* mem of an empty lt_defrag */

static lt_defrag *new_defrag(size_t mem, double timeout, uint32_t max_frags)
{
    lt_defrag_limits lim = { mem, timeout, max_frags };
    lt_defrag *d = lt_defrag_new(&lim);
    CHECK(d != NULL);
    if (!d)
        exit(1);
    base_mem = lt_defrag_stats_get(d)->mem;
    return d;
}

/* No datagram left and nothing held but the table. */
static void check_empty(const lt_defrag *d)
{
    const lt_defrag_stats *st = lt_defrag_stats_get(d);
    CHECK_EQ(st->pending, 0);
    CHECK_EQ(st->mem, base_mem);
}

/* ---- overlap callback --------------------------------------------------- */

typedef struct ov_log {
    int calls, version;
    uint32_t id, offset;
    uint8_t src[16], dst[16];
} ov_log;

static void on_overlap(void *ud, int version, uint32_t id, const uint8_t *src,
                       const uint8_t *dst, uint32_t offset)
{
    ov_log *l = ud;
    l->calls++;
    l->version = version;
    l->id = id;
    l->offset = offset;
    memcpy(l->src, src, version == 4 ? 4 : 16);
    memcpy(l->dst, dst, version == 4 ? 4 : 16);
}

/* ---- 1. orders ---------------------------------------------------------- */

/* Feeds the fragments in `order`; the datagram must complete exactly at the
 * last one. */
static void run_order(const dgspec *s, const uint8_t *payload, uint32_t n,
                      const fspec *fs, const int *order, int k, const char *what)
{
    g_ctx = what;
    lt_defrag *d = new_defrag(0, 0, 0);
    result r = { 0 };
    for (int i = 0; i < k; i++) {
        int rc = feed(d, s, payload, fs[order[i]], 1.0 + i * 0.001, &r);
        CHECK_EQ(rc, i == k - 1 ? LT_DEFRAG_DONE : LT_DEFRAG_HELD);
    }
    check_dgram(&r, s, payload, n);
    const lt_defrag_stats *st = lt_defrag_stats_get(d);
    CHECK_EQ(st->fragments, (uint64_t)k);
    CHECK_EQ(st->reassembled, 1);
    CHECK_EQ(st->overlaps, 0);
    CHECK_EQ(st->dropped, 0);
    CHECK(st->mem_peak > base_mem);
    check_empty(d);
    free(r.out);
    lt_defrag_free(d);
}

static void test_orders(int version, int v6ext, uint32_t optlen)
{
    static const uint8_t opts[8] = { 0x94, 0x04, 0, 0, 1, 1, 1, 0 };  /* router alert, NOPs, EOL */
    dgspec s = { .version = version, .id = version == 4 ? 0xbeef : 0xdeadbeef,
                 .opts = opts, .optlen = optlen, .v6ext = v6ext };
    static uint8_t payload[4000];
    uint32_t n = 3001;
    make_udp(payload, n, 1);
    fspec fs[64];
    int k = split(fs, n, 480);
    int order[64];
    char what[64];

    for (int i = 0; i < k; i++)
        order[i] = i;
    snprintf(what, sizeof what, "v%d ext%d opt%u in order", version, v6ext, optlen);
    run_order(&s, payload, n, fs, order, k, what);

    for (int i = 0; i < k; i++)
        order[i] = k - 1 - i;
    snprintf(what, sizeof what, "v%d ext%d opt%u reversed", version, v6ext, optlen);
    run_order(&s, payload, n, fs, order, k, what);

    for (int round = 0; round < 20; round++) {
        for (int i = 0; i < k; i++)
            order[i] = i;
        for (int i = k - 1; i > 0; i--) {
            int j = (int)(rnd() % (uint32_t)(i + 1)), t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
        snprintf(what, sizeof what, "v%d ext%d opt%u shuffled #%d", version, v6ext, optlen, round);
        run_order(&s, payload, n, fs, order, k, what);
    }

    /* Two fragments only, and a payload that is a multiple of the chunk. */
    n = 1480;
    make_udp(payload, n, 2);
    k = split(fs, n, 1000);
    order[0] = 1;
    order[1] = 0;
    snprintf(what, sizeof what, "v%d two fragments", version);
    run_order(&s, payload, n, fs, order, k, what);
    n = 2048;
    make_udp(payload, n, 3);
    k = split(fs, n, 1024);
    order[0] = 0;
    order[1] = 1;
    snprintf(what, sizeof what, "v%d exact chunks", version);
    run_order(&s, payload, n, fs, order, k, what);
}

/* Every fragment given twice (shuffled): overlaps, no overlap_diff. */
static void test_duplicates(int version)
{
    g_ctx = version == 4 ? "v4 duplicated" : "v6 duplicated";
    dgspec s = { .version = version, .id = 77 };
    uint8_t payload[1200];
    uint32_t n = 1100;
    make_udp(payload, n, 4);
    fspec fs[16];
    int k = split(fs, n, 256);          /* 5 fragments */
    /* 0, 1, 2 and 4 twice; 3, the last hole, last of all */
    int order[] = { 2, 0, 2, 1, 0, 4, 1, 4, 3 };
    lt_defrag *d = new_defrag(0, 0, 0);
    ov_log ov = { 0 };
    lt_defrag_on_overlap(d, on_overlap, &ov);
    result r = { 0 };
    int nord = (int)(sizeof order / sizeof order[0]);
    for (int i = 0; i < nord; i++) {
        int rc = feed(d, &s, payload, fs[order[i]], 5.0, &r);
        CHECK_EQ(rc, i == nord - 1 ? LT_DEFRAG_DONE : LT_DEFRAG_HELD);
    }
    CHECK_EQ(k, 5);
    check_dgram(&r, &s, payload, n);
    const lt_defrag_stats *st = lt_defrag_stats_get(d);
    CHECK_EQ(st->overlaps, 4);
    CHECK_EQ(st->overlap_diff, 0);
    CHECK_EQ(ov.calls, 0);
    check_empty(d);
    /* A duplicate after completion starts a new datagram, which times out. */
    CHECK_EQ(feed(d, &s, payload, fs[1], 6.0, &r), LT_DEFRAG_HELD);
    CHECK_EQ(st->pending, 1);
    lt_defrag_expire(d, 6.0 + LT_DEFRAG_DEFAULT_TIMEOUT + 1);
    CHECK_EQ(st->timeouts, 1);
    check_empty(d);
    free(r.out);
    lt_defrag_free(d);
}

/* Fragments overlapping with the same bytes, and with different bytes. */
static void test_overlaps(int version)
{
    dgspec s = { .version = version, .id = 0x1234 };
    uint8_t payload[200], evil[200], expect[200];
    uint32_t n = 160;
    make_udp(payload, n, 5);
    memcpy(evil, payload, n);
    evil[20] ^= 0xff;                   /* inside [16, 24): overlaps A */
    evil[30] ^= 0x55;                   /* beyond A */
    fspec a = { 0, 24, 1 }, b = { 16, 40, 1 }, c = { 40, n - 40, 0 }, b2 = { 48, 56, 1 };
    result r = { 0 };

    /* Same bytes: A [0,24), B [16,56) and [48,104), C [40,160). */
    g_ctx = version == 4 ? "v4 overlap same bytes" : "v6 overlap same bytes";
    lt_defrag *d = new_defrag(0, 0, 0);
    ov_log ov = { 0 };
    lt_defrag_on_overlap(d, on_overlap, &ov);
    CHECK_EQ(feed(d, &s, payload, a, 1, &r), LT_DEFRAG_HELD);
    CHECK_EQ(feed(d, &s, payload, b, 1, &r), LT_DEFRAG_HELD);
    CHECK_EQ(feed(d, &s, payload, b2, 1, &r), LT_DEFRAG_HELD);
    CHECK_EQ(feed(d, &s, payload, c, 1, &r), LT_DEFRAG_DONE);
    check_dgram(&r, &s, payload, n);
    const lt_defrag_stats *st = lt_defrag_stats_get(d);
    CHECK_EQ(st->overlaps, 3);
    CHECK_EQ(st->overlap_diff, 0);
    CHECK_EQ(ov.calls, 0);
    check_empty(d);
    lt_defrag_free(d);

    /* Different bytes, the original first: the original stays, except where
     * only the evil fragment brought bytes ([24, 40) is evil's alone). */
    g_ctx = version == 4 ? "v4 overlap, first wins" : "v6 overlap, first wins";
    d = new_defrag(0, 0, 0);
    memset(&ov, 0, sizeof ov);
    lt_defrag_on_overlap(d, on_overlap, &ov);
    st = lt_defrag_stats_get(d);
    CHECK_EQ(feed(d, &s, payload, a, 1, &r), LT_DEFRAG_HELD);
    CHECK_EQ(feed(d, &s, evil, b, 1, &r), LT_DEFRAG_HELD);
    CHECK_EQ(st->overlaps, 1);
    CHECK_EQ(st->overlap_diff, 1);
    CHECK_EQ(ov.calls, 1);
    CHECK_EQ(ov.version, version);
    CHECK_EQ(ov.id, s.id);
    CHECK_EQ(ov.offset, 20);
    CHECK(memcmp(ov.src, version == 4 ? SRC4 : SRC6, version == 4 ? 4 : 16) == 0);
    CHECK(memcmp(ov.dst, version == 4 ? DST4 : DST6, version == 4 ? 4 : 16) == 0);
    CHECK_EQ(feed(d, &s, payload, c, 1, &r), LT_DEFRAG_DONE);  /* [40,56) same */
    CHECK_EQ(st->overlaps, 2);
    CHECK_EQ(st->overlap_diff, 1);
    CHECK_EQ(ov.calls, 1);
    memcpy(expect, payload, n);
    expect[30] = evil[30];
    check_dgram(&r, &s, expect, n);
    CHECK(r.out && r.out[r.outlen - n + 20] == payload[20]);
    CHECK(r.out && r.out[r.outlen - n + 30] == evil[30]);
    check_empty(d);
    lt_defrag_free(d);

    /* The evil fragment first: its bytes win over the original's. */
    g_ctx = version == 4 ? "v4 overlap, evil first" : "v6 overlap, evil first";
    d = new_defrag(0, 0, 0);
    memset(&ov, 0, sizeof ov);
    lt_defrag_on_overlap(d, on_overlap, &ov);
    st = lt_defrag_stats_get(d);
    CHECK_EQ(feed(d, &s, evil, b, 1, &r), LT_DEFRAG_HELD);
    CHECK_EQ(feed(d, &s, payload, c, 1, &r), LT_DEFRAG_HELD);
    CHECK_EQ(feed(d, &s, payload, a, 1, &r), LT_DEFRAG_DONE);
    CHECK_EQ(st->overlaps, 2);
    CHECK_EQ(st->overlap_diff, 1);
    CHECK_EQ(ov.calls, 1);
    CHECK_EQ(ov.offset, 20);
    memcpy(expect, payload, n);
    expect[20] = evil[20];
    expect[30] = evil[30];
    check_dgram(&r, &s, expect, n);
    check_empty(d);
    free(r.out);
    lt_defrag_free(d);
}

/* Several datagrams at once: ids, and for IPv4 the protocol, keep them
 * apart. */
static void test_interleaved(void)
{
    g_ctx = "interleaved";
    lt_defrag *d = new_defrag(0, 0, 0);
    uint8_t pay[4][800];
    dgspec s[4] = {
        { .version = 4, .id = 9 },
        { .version = 4, .id = 9, .proto = 253 },     /* same id, other protocol */
        { .version = 6, .id = 9 },
        { .version = 4, .id = 10 },
    };
    fspec fs[4][8];
    int k[4];
    for (int i = 0; i < 4; i++) {
        make_udp(pay[i], 700, 10 + (uint32_t)i);
        k[i] = split(fs[i], 700, 200);
    }
    result r = { 0 };
    int done = 0;
    for (int j = 0; j < 4; j++) {
        for (int i = 0; i < 4; i++) {
            int rc = feed(d, &s[i], pay[i], fs[i][k[i] - 1 - j], 1, &r);
            CHECK_EQ(rc, j == 3 ? LT_DEFRAG_DONE : LT_DEFRAG_HELD);
            if (rc == LT_DEFRAG_DONE) {
                done++;
                if (s[i].proto == 253) {
                    /* Not UDP for the decoder: compare the bytes. */
                    CHECK_EQ(r.outlen, 20 + 700);
                    CHECK(r.out && memcmp(r.out + 20, pay[i], 700) == 0);
                } else {
                    check_dgram(&r, &s[i], pay[i], 700);
                }
            }
        }
    }
    CHECK_EQ(done, 4);
    CHECK_EQ(lt_defrag_stats_get(d)->overlaps, 0);
    check_empty(d);
    free(r.out);
    lt_defrag_free(d);
}

/* ---- 2. limits and errors ----------------------------------------------- */

static void test_missing(int version)
{
    g_ctx = version == 4 ? "v4 missing middle" : "v6 missing middle";
    dgspec s = { .version = version, .id = 5 };
    uint8_t payload[400];
    make_udp(payload, 300, 6);
    fspec fs[4];
    int k = split(fs, 300, 104);
    CHECK_EQ(k, 3);
    lt_defrag *d = new_defrag(0, 10, 0);
    const lt_defrag_stats *st = lt_defrag_stats_get(d);
    CHECK_EQ(feed(d, &s, payload, fs[0], 100, NULL), LT_DEFRAG_HELD);
    CHECK_EQ(feed(d, &s, payload, fs[2], 101, NULL), LT_DEFRAG_HELD);
    CHECK_EQ(st->pending, 1);
    lt_defrag_expire(d, 110);           /* exactly the timeout: still there */
    CHECK_EQ(st->pending, 1);
    CHECK_EQ(st->timeouts, 0);
    lt_defrag_expire(d, 110.5);
    CHECK_EQ(st->timeouts, 1);
    check_empty(d);
    /* The middle arriving now starts a new datagram. */
    CHECK_EQ(feed(d, &s, payload, fs[1], 111, NULL), LT_DEFRAG_HELD);
    CHECK_EQ(st->pending, 1);
    /* Expiry through add(): another datagram's fragment later on. */
    s.id = 6;
    CHECK_EQ(feed(d, &s, payload, fs[0], 200, NULL), LT_DEFRAG_HELD);
    CHECK_EQ(st->timeouts, 2);
    CHECK_EQ(st->pending, 1);
    CHECK_EQ(st->reassembled, 0);
    lt_defrag_free(d);                  /* frees what is pending (ASan) */
}

/* 100,000 datagrams of one fragment each under a 1 MiB cap. */
static void test_flood(int version)
{
    g_ctx = version == 4 ? "v4 flood" : "v6 flood";
    const size_t cap = (size_t)1 << 20;
    lt_defrag *d = new_defrag(cap, 0, 0);
    const lt_defrag_stats *st = lt_defrag_stats_get(d);
    uint8_t payload[200], src[16];
    make_udp(payload, 200, 7);
    fspec f = { 0, 104, 1 };
    dgspec s = { .version = version, .src = src };
    memset(src, 0, sizeof src);
    memcpy(src, version == 4 ? SRC4 : SRC6, version == 4 ? 4 : 16);
    const uint32_t total = 100000;
    uint32_t over = 0, notheld = 0;
    for (uint32_t i = 0; i < total; i++) {
        s.id = i & 0xffff;              /* 16 bits in IPv4: vary the source */
        src[2] = (uint8_t)(i >> 16);
        uint32_t n;
        uint8_t *pkt = make_frag(&s, payload, f, &n);
        if (feed_raw(d, pkt, n, n, 1000.0 + i * 1e-6, NULL) != LT_DEFRAG_HELD)
            notheld++;
        free(pkt);
        if (st->mem > cap)
            over++;
    }
    CHECK_EQ(over, 0);
    CHECK_EQ(notheld, 0);
    CHECK(st->mem_peak <= cap);
    CHECK(st->evicted > 0);
    CHECK_EQ(st->evicted + st->pending, total);
    CHECK_EQ(st->dropped, 0);
    CHECK_EQ(st->timeouts, 0);
    printf("  %s: %u datagrams, cap %zu: %u pending, %llu evicted, peak %zu\n",
           g_ctx, total, cap, st->pending, (unsigned long long)st->evicted, st->mem_peak);
    /* The newest survive: the last datagram can still complete. */
    s.id = (total - 1) & 0xffff;
    src[2] = (uint8_t)((total - 1) >> 16);
    uint8_t full[200];
    memcpy(full, payload, 200);
    put16(full + 4, 200);
    result r = { 0 };
    fspec f1 = { 104, 96, 0 };
    CHECK_EQ(feed(d, &s, full, f1, 1001, &r), LT_DEFRAG_DONE);
    /* (the held first fragment says UDP length 200 too: make_udp above) */
    check_dgram(&r, &s, full, 200);
    free(r.out);
    lt_defrag_free(d);
}

/* A cap too small for one fragment: refused, nothing evicted for it. */
static void test_tiny_cap(void)
{
    g_ctx = "tiny cap";
    lt_defrag *d = new_defrag(4096, 0, 0);
    const lt_defrag_stats *st = lt_defrag_stats_get(d);
    dgspec s = { .version = 4, .id = 1 };
    static uint8_t payload[8000];
    make_udp(payload, 8000, 8);
    fspec small = { 0, 64, 1 }, big = { 0, 5000, 1 };
    CHECK_EQ(feed(d, &s, payload, small, 1, NULL), LT_DEFRAG_HELD);
    s.id = 2;
    CHECK_EQ(feed(d, &s, payload, big, 1, NULL), LT_DEFRAG_DROPPED);
    CHECK_EQ(st->nomem, 1);
    CHECK_EQ(st->dropped, 1);
    CHECK_EQ(st->evicted, 0);
    CHECK_EQ(st->pending, 1);
    CHECK(st->mem <= 4096);
    lt_defrag_free(d);
}

static void test_too_many(int version)
{
    g_ctx = version == 4 ? "v4 too many fragments" : "v6 too many fragments";
    dgspec s = { .version = version, .id = 3 };
    uint8_t payload[200];
    make_udp(payload, 128, 9);
    fspec fs[16];
    int k = split(fs, 128, 8);
    CHECK_EQ(k, 16);
    lt_defrag *d = new_defrag(0, 0, 8);
    const lt_defrag_stats *st = lt_defrag_stats_get(d);
    for (int i = 0; i < 8; i++)
        CHECK_EQ(feed(d, &s, payload, fs[i], 1, NULL), LT_DEFRAG_HELD);
    CHECK_EQ(feed(d, &s, payload, fs[8], 1, NULL), LT_DEFRAG_DROPPED);
    CHECK_EQ(st->invalid, 1);
    CHECK_EQ(st->discarded, 1);
    check_empty(d);
    for (int i = 9; i < 16; i++)        /* a new datagram without a start */
        CHECK_EQ(feed(d, &s, payload, fs[i], 1, NULL), LT_DEFRAG_HELD);
    CHECK_EQ(st->reassembled, 0);
    lt_defrag_free(d);

    /* Exactly max_frags fragments complete. */
    d = new_defrag(0, 0, 8);
    make_udp(payload, 64, 9);
    k = split(fs, 64, 8);
    result r = { 0 };
    for (int i = 0; i < k; i++)
        CHECK_EQ(feed(d, &s, payload, fs[k - 1 - i], 1, &r),
                 i == k - 1 ? LT_DEFRAG_DONE : LT_DEFRAG_HELD);
    check_dgram(&r, &s, payload, 64);
    free(r.out);
    lt_defrag_free(d);
}

/* The largest datagrams, and one byte more. */
static void test_max_size(int version)
{
    g_ctx = version == 4 ? "v4 65535" : "v6 65535";
    dgspec s = { .version = version, .id = 44 };
    static uint8_t payload[70000];
    static fspec fs[64];
    /* IPv4: 20 + 65515 = 65535 total; IPv6: payload length 65535. */
    uint32_t n = version == 4 ? 65515 : 65535;
    make_udp(payload, n, 10);
    put16(payload + 4, n);
    int k = split(fs, n, 1480);
    lt_defrag *d = new_defrag(0, 0, 0);
    const lt_defrag_stats *st = lt_defrag_stats_get(d);
    result r = { 0 };
    for (int i = 0; i < k; i++)
        CHECK_EQ(feed(d, &s, payload, fs[i], 1, &r), i == k - 1 ? LT_DEFRAG_DONE : LT_DEFRAG_HELD);
    CHECK_EQ(r.outlen, version == 4 ? 65535 : 65575);
    check_dgram(&r, &s, payload, n);
    check_empty(d);

    /* One byte more: the last fragment is refused and the datagram goes. */
    k = split(fs, n + 1, 1480);
    for (int i = 0; i < k; i++)
        CHECK_EQ(feed(d, &s, payload, fs[i], 2, &r), i == k - 1 ? LT_DEFRAG_DROPPED : LT_DEFRAG_HELD);
    CHECK_EQ(st->invalid, 1);
    CHECK_EQ(st->discarded, 1);
    check_empty(d);

    /* The largest offset with 16 bytes: refused on its own. */
    fspec far = { 65528, 16, 1 };
    CHECK_EQ(feed(d, &s, payload, far, 3, NULL), LT_DEFRAG_DROPPED);
    CHECK_EQ(st->invalid, 2);
    CHECK_EQ(st->discarded, 1);
    check_empty(d);
    free(r.out);
    lt_defrag_free(d);
}

/* Last fragments that disagree, data past the end. */
static void test_bad_ends(int version)
{
    g_ctx = version == 4 ? "v4 bad ends" : "v6 bad ends";
    dgspec s = { .version = version, .id = 21 };
    uint8_t payload[200];
    make_udp(payload, 200, 11);
    lt_defrag *d = new_defrag(0, 0, 0);
    const lt_defrag_stats *st = lt_defrag_stats_get(d);
    fspec first = { 0, 40, 1 }, last1 = { 48, 16, 0 }, last2 = { 48, 24, 0 },
          past = { 64, 16, 1 }, longmf = { 48, 80, 1 };

    CHECK_EQ(feed(d, &s, payload, first, 1, NULL), LT_DEFRAG_HELD);
    CHECK_EQ(feed(d, &s, payload, last2, 1, NULL), LT_DEFRAG_HELD);
    CHECK_EQ(feed(d, &s, payload, last1, 1, NULL), LT_DEFRAG_DROPPED);  /* other end */
    CHECK_EQ(st->invalid, 1);
    CHECK_EQ(st->discarded, 1);
    check_empty(d);

    CHECK_EQ(feed(d, &s, payload, last1, 1, NULL), LT_DEFRAG_HELD);
    CHECK_EQ(feed(d, &s, payload, past, 1, NULL), LT_DEFRAG_DROPPED);   /* past the end */
    CHECK_EQ(st->invalid, 2);
    CHECK_EQ(st->discarded, 2);
    check_empty(d);

    CHECK_EQ(feed(d, &s, payload, longmf, 1, NULL), LT_DEFRAG_HELD);
    CHECK_EQ(feed(d, &s, payload, last1, 1, NULL), LT_DEFRAG_DROPPED);  /* end < data seen */
    CHECK_EQ(st->invalid, 3);
    CHECK_EQ(st->discarded, 3);
    check_empty(d);

    /* The same last fragment twice is a duplicate, not a conflict. */
    CHECK_EQ(feed(d, &s, payload, last1, 1, NULL), LT_DEFRAG_HELD);
    CHECK_EQ(feed(d, &s, payload, last1, 1, NULL), LT_DEFRAG_HELD);
    CHECK_EQ(st->invalid, 3);
    CHECK_EQ(st->overlaps, 1);
    CHECK_EQ(st->dropped, 3);
    lt_defrag_free(d);
}

/* Fragments the snap length cut, and every fragment cut at every length. */
static void test_cut(int version)
{
    g_ctx = version == 4 ? "v4 cut" : "v6 cut";
    static const uint8_t opts[4] = { 1, 1, 1, 0 };
    dgspec s = { .version = version, .id = 31, .opts = opts,
                 .optlen = version == 4 ? 4 : 0, .v6ext = version == 6 };
    uint8_t payload[300];
    make_udp(payload, 300, 12);
    fspec fs[4];
    int k = split(fs, 300, 104);
    lt_defrag *d = new_defrag(0, 0, 0);
    const lt_defrag_stats *st = lt_defrag_stats_get(d);
    uint32_t n;
    uint8_t *pkt = make_frag(&s, payload, fs[1], &n);
    CHECK_EQ(feed_raw(d, pkt, n - 1, n, 1, NULL), LT_DEFRAG_DROPPED);
    CHECK_EQ(st->cut, 1);
    CHECK_EQ(st->dropped, 1);
    free(pkt);
    check_empty(d);

    /* Each fragment cut at every length into an exact-size buffer, with the
     * wire length kept (cut) or equal to caplen (the header lies). */
    for (int i = 0; i < k; i++) {
        uint8_t *full = make_frag(&s, payload, fs[i], &n);
        for (uint32_t c = 0; c <= n; c++) {
            for (int lie = 0; lie < (c < n ? 2 : 1); lie++) {
                uint8_t *b = dup_bytes(full, c);
                int rc = feed_raw(d, b, c, lie ? c : n, 2, NULL);
                if (c == n)
                    CHECK(rc == LT_DEFRAG_HELD || rc == LT_DEFRAG_DONE);
                else
                    CHECK(rc == -2 || rc == LT_DEFRAG_DROPPED);
                free(b);
            }
        }
        free(full);
    }
    CHECK_EQ(st->reassembled, 1);
    CHECK_EQ(st->dropped, st->cut + st->invalid);
    CHECK(st->cut > 1);
    check_empty(d);
    lt_defrag_free(d);
}

/* Packets that are not fragments at all are refused. */
static void test_not_fragment(void)
{
    g_ctx = "not a fragment";
    lt_defrag *d = new_defrag(0, 0, 0);
    lt_packet p;
    memset(&p, 0, sizeof p);
    CHECK_EQ(lt_defrag_add(d, &p, 1, NULL, NULL), LT_DEFRAG_DROPPED);
    dgspec s = { .version = 6, .id = 1 };
    uint8_t payload[64];
    make_udp(payload, 64, 13);
    fspec atomic = { 0, 64, 0 };        /* IPv6 atomic fragment */
    uint32_t n;
    uint8_t *pkt = make_frag(&s, payload, atomic, &n);
    lt_frame f = { .data = pkt, .caplen = n, .len = n, .linktype = LT_LINK_RAW };
    lt_decode(&p, &f);
    CHECK_EQ(p.ip.is_fragment, 0);
    CHECK_EQ(lt_defrag_add(d, &p, 1, NULL, NULL), LT_DEFRAG_DROPPED);
    const lt_defrag_stats *st = lt_defrag_stats_get(d);
    CHECK_EQ(st->fragments, 2);
    CHECK_EQ(st->invalid, 2);
    check_empty(d);
    free(pkt);
    lt_defrag_free(d);
}

/* ---- 3. real captures --------------------------------------------------- */

static int link_of(pcap_t *pc)
{
    int dlt = pcap_datalink(pc);
    return dlt == DLT_RAW ? LT_LINK_RAW : dlt;
}

/* A datagram reassembled from a capture: in the frame that completed it. */
typedef struct done_dg {
    unsigned frame;
    uint8_t *data;               /* the whole datagram */
    uint32_t len;
    uint32_t hdr_len;            /* IPv4 header length, 0 for IPv6 */
} done_dg;

typedef struct cap_run {
    done_dg *dg;
    size_t n, cap;
    lt_defrag_stats st;
    long bad;                    /* datagrams that do not decode whole */
} cap_run;

static void free_run(cap_run *cr)
{
    for (size_t i = 0; i < cr->n; i++)
        free(cr->dg[i].data);
    free(cr->dg);
    memset(cr, 0, sizeof *cr);
}

/* Reads a capture through decode + defrag. -1 when libpcap refuses it. */
static int read_capture(const char *path, const lt_defrag_limits *lim, cap_run *cr)
{
    char err[PCAP_ERRBUF_SIZE];
    memset(cr, 0, sizeof *cr);
    pcap_t *pc = pcap_open_offline(path, err);
    if (!pc)
        return -1;
    int lt = link_of(pc);
    lt_defrag *d = lt_defrag_new(lim);
    CHECK(d != NULL);
    if (!d) {
        pcap_close(pc);
        return -1;
    }
    struct pcap_pkthdr *h;
    const u_char *data;
    unsigned frame = 0;
    while (pcap_next_ex(pc, &h, &data) == 1) {
        frame++;
        lt_frame f = { .data = data, .caplen = h->caplen, .len = h->len,
                       .ts_sec = h->ts.tv_sec, .ts_nsec = (uint32_t)h->ts.tv_usec * 1000,
                       .linktype = lt };
        lt_packet p;
        lt_decode(&p, &f);
        if (!((p.l3 == LT_L3_IPV4 || p.l3 == LT_L3_IPV6) && p.ip.is_fragment))
            continue;
        const uint8_t *out;
        uint32_t outlen;
        double now = (double)h->ts.tv_sec + h->ts.tv_usec / 1e6;
        if (lt_defrag_add(d, &p, now, &out, &outlen) != LT_DEFRAG_DONE)
            continue;
        /* The datagram must decode as a whole IP packet, no fragment. */
        uint8_t *copy = dup_bytes(out, outlen);
        lt_frame of = { .data = copy, .caplen = outlen, .len = outlen, .linktype = LT_LINK_RAW };
        lt_packet q;
        lt_decode(&q, &of);
        if (q.l3 != p.l3 || q.ip.is_fragment || q.ip.total_len != outlen ||
            (q.l3 == LT_L3_IPV4 && ones_sum(copy, q.ip.hdr_len) != 0xffff))
            cr->bad++;
        if (cr->n == cr->cap) {
            cr->cap = cr->cap ? 2 * cr->cap : 16;
            cr->dg = realloc(cr->dg, cr->cap * sizeof *cr->dg);
        }
        cr->dg[cr->n++] = (done_dg){ frame, copy, outlen,
                                     q.l3 == LT_L3_IPV4 ? q.ip.hdr_len : 0 };
    }
    pcap_close(pc);
    cr->st = *lt_defrag_stats_get(d);
    lt_defrag_free(d);
    return 0;
}

static int hexval(int c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* 1 when the hex string [h, h + hn) is the IP payload of datagram g: its
 * last hn / 2 bytes, after its IPv4 header (for IPv6 the unfragmentable
 * part is not in tshark's field, so only the tail is compared). */
static int same_payload(const char *h, size_t hn, const done_dg *g)
{
    size_t n = hn / 2;
    if (hn % 2 || n > g->len || (g->hdr_len && g->len - n != g->hdr_len))
        return 0;
    const uint8_t *b = g->data + (g->len - n);
    for (size_t i = 0; i < n; i++)
        if (hexval(h[2 * i]) << 4 != (b[i] & 0xf0) || hexval(h[2 * i + 1]) != (b[i] & 0x0f))
            return 0;
    return 1;
}

typedef struct cmp_res {
    long theirs;                 /* datagrams tshark reassembles */
    long same;                   /* ... that we give in the same frame, same bytes */
    long differ;                 /* ... that we give in the same frame, other bytes */
} cmp_res;

/* Compares with tshark's reassembled datagrams (ip/ipv6.reassembled.data,
 * shown in the frame that completes each). -1 when tshark fails. */
static int tshark_compare(const char *path, const cap_run *cr, cmp_res *res)
{
    char cmd[8192];
    memset(res, 0, sizeof *res);
    if (strchr(path, '\''))
        return -1;
    snprintf(cmd, sizeof cmd,
             "tshark -n -r '%s' -T fields -E occurrence=a -E aggregator=, "
             "-e frame.number -e ip.reassembled.data -e ipv6.reassembled.data 2>/dev/null",
             path);
    FILE *ts = popen(cmd, "r");
    if (!ts)
        return -1;
    char *line = NULL;
    size_t lcap = 0;
    long rows = 0;
    ssize_t got;
    while ((got = getline(&line, &lcap, ts)) > 0) {
        rows++;
        unsigned frame = (unsigned)strtoul(line, NULL, 10);
        char *s = strchr(line, '\t');
        while (s && *s) {
            s += strspn(s, "\t,\r\n");
            size_t hn = strspn(s, "0123456789abcdef");
            if (hn == 0)
                break;
            res->theirs++;
            int found = 0;
            for (size_t i = 0; i < cr->n && !found; i++) {
                if (cr->dg[i].frame != frame)
                    continue;
                found = 1;
                if (same_payload(s, hn, &cr->dg[i]))
                    res->same++;
                else
                    res->differ++;
            }
            s += hn;
        }
    }
    free(line);
    int rc = pclose(ts);
    return rc == 0 && rows > 0 ? 0 : -1;
}

/*
 * Differences with tshark that we explain (the default limits, tshark 4.0):
 * - frag4_fragmented-1.pcap (Zeek): a first fragment of 304 bytes arrives
 *   after the last fragment said the datagram ends at 164. tshark flags
 *   "too long fragment" and still reassembles 164 bytes; our contract
 *   drops such a datagram as invalid.
 * - frag4_ip_fragmented_garbage.pcap (nDPI): four datagrams of 313
 *   fragments each; we refuse more than LT_DEFRAG_DEFAULT_MAX_FRAGS (256)
 *   per datagram, tshark has no such limit. With max_frags 1024 we give
 *   the same four datagrams, byte for byte (checked).
 * - frag4_fragmented-4.pcap (Zeek, an IDS evasion): a fragment [24, 72)
 *   arrives after [48, 72) with other bytes. First arrival wins here, so
 *   the URL reads ".../..%2f../winnt/system32/cmd.exe" (checked); tshark
 *   assembles in offset order, the lowest offset winning, and shows the
 *   later fragment's ".RKNWUrdooM+..." instead. (In the frag6_frag-* files
 *   the two policies happen to agree.)
 */
typedef struct known_diff {
    const char *file;
    long ours, theirs, differ;   /* datagrams: ours, tshark's, with other bytes */
    uint32_t max_frags;          /* >0: with this limit we match tshark */
    const char *contains;        /* in our datagram (the first) */
} known_diff;

static const known_diff KNOWN[] = {
    { "frag4_fragmented-1.pcap", 0, 1, 0, 0, NULL },
    { "frag4_ip_fragmented_garbage.pcap", 0, 4, 0, 1024, NULL },
    { "frag4_fragmented-4.pcap", 1, 1, 1, 0, "/..%2f../winnt/system32/cmd.exe?/c+dir+c:" },
};

static int have_tshark = -1;

/* Our datagrams must be tshark's: same frames, same bytes. */
static int matches(const cap_run *cr, const cmp_res *c)
{
    return c->same == (long)cr->n && c->theirs == (long)cr->n && c->differ == 0;
}

static void run_capture(const char *dir, const char *name, int *files)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    cap_run cr;
    if (read_capture(path, NULL, &cr) != 0) {
        printf("  note: libpcap refuses %s\n", name);
        return;
    }
    (*files)++;
    g_ctx = name;
    const lt_defrag_stats *st = &cr.st;
    CHECK_EQ(cr.bad, 0);
    CHECK(st->mem_peak <= LT_DEFRAG_DEFAULT_MEM);

    cmp_res c = { -1, 0, 0 };
    if (have_tshark && tshark_compare(path, &cr, &c) != 0)
        c.theirs = -1;
    printf("  defrag %s: ours %zu, tshark %ld (same bytes %ld, other bytes %ld; "
           "fragments %llu, pending %u, dropped %llu [invalid %llu, cut %llu], "
           "overlaps %llu [%llu differ], timeouts %llu)\n",
           name, cr.n, c.theirs, c.same, c.differ, (unsigned long long)st->fragments,
           st->pending, (unsigned long long)st->dropped, (unsigned long long)st->invalid,
           (unsigned long long)st->cut, (unsigned long long)st->overlaps,
           (unsigned long long)st->overlap_diff, (unsigned long long)st->timeouts);
    if (c.theirs >= 0 && !matches(&cr, &c)) {
        const known_diff *k = NULL;
        for (size_t i = 0; i < sizeof KNOWN / sizeof KNOWN[0]; i++)
            if (strcmp(KNOWN[i].file, name) == 0)
                k = &KNOWN[i];
        if (!k || k->ours != (long)cr.n || k->theirs != c.theirs || k->differ != c.differ) {
            CHECK_EQ(cr.n, c.theirs);
            CHECK_EQ(c.same, c.theirs);
        } else if (k->contains) {
            size_t kn = strlen(k->contains);
            int found = 0;
            for (uint32_t i = 0; cr.n > 0 && !found && kn <= cr.dg[0].len && i <= cr.dg[0].len - kn; i++)
                found = memcmp(cr.dg[0].data + i, k->contains, kn) == 0;
            printf("    known difference (overlap policy): ours has \"%s\": %s\n",
                   k->contains, found ? "yes" : "NO");
            CHECK(found);
        } else if (k->max_frags) {
            cap_run cr2;
            lt_defrag_limits lim = { 0, 0, k->max_frags };
            CHECK(read_capture(path, &lim, &cr2) == 0);
            cmp_res c2;
            CHECK(tshark_compare(path, &cr2, &c2) == 0);
            printf("    known difference; with max_frags %u: ours %zu, tshark %ld, same bytes %ld\n",
                   k->max_frags, cr2.n, c2.theirs, c2.same);
            CHECK(matches(&cr2, &c2));
            free_run(&cr2);
        } else {
            printf("    known difference (see KNOWN in %s)\n", __FILE__);
        }
    }
    free_run(&cr);
}

/* Every capture of a folder through decode + defrag: nothing may crash or
 * leak (AddressSanitizer), and every datagram must decode whole. */
static void sweep_folder(const char *dir, long *files, cap_run *sum)
{
    DIR *dd = opendir(dir);
    if (!dd)
        return;
    struct dirent *e;
    while ((e = readdir(dd))) {
        char path[4096];
        cap_run cr;
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (read_capture(path, NULL, &cr) != 0)
            continue;
        g_ctx = e->d_name;
        CHECK_EQ(cr.bad, 0);
        (*files)++;
        sum->n += cr.n;
        sum->st.fragments += cr.st.fragments;
        sum->st.dropped += cr.st.dropped;
        sum->st.invalid += cr.st.invalid;
        sum->st.cut += cr.st.cut;
        sum->st.overlap_diff += cr.st.overlap_diff;
        free_run(&cr);
    }
    closedir(dd);
}

static void test_sweep(const char *dir)
{
    char sub[4096];
    long files = 0;
    cap_run sum;
    memset(&sum, 0, sizeof sum);
    sweep_folder(dir, &files, &sum);
    snprintf(sub, sizeof sub, "%s/malformed", dir);
    sweep_folder(sub, &files, &sum);
    printf("  all captures: %ld files, %llu fragments, %zu datagrams, %llu dropped "
           "(%llu invalid, %llu cut), %llu overlaps with other bytes\n",
           files, (unsigned long long)sum.st.fragments, sum.n,
           (unsigned long long)sum.st.dropped, (unsigned long long)sum.st.invalid,
           (unsigned long long)sum.st.cut, (unsigned long long)sum.st.overlap_diff);
    g_ctx = "";
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void test_captures(const char *dir)
{
    DIR *dd = dir ? opendir(dir) : NULL;
    if (!dd) {
        printf("  skip: no shared captures (%s)\n", dir ? dir : "no folder given");
        return;
    }
    have_tshark = system("tshark -v >/dev/null 2>&1") == 0;
    if (!have_tshark)
        printf("  note: tshark not found, not compared\n");
    char *names[256];
    int nn = 0;
    struct dirent *e;
    while ((e = readdir(dd)) && nn < 256) {
        if (strncmp(e->d_name, "frag4_", 6) == 0 || strncmp(e->d_name, "frag6_", 6) == 0 ||
            strncmp(e->d_name, "large_ip-frag", 13) == 0)
            names[nn++] = strdup(e->d_name);
    }
    closedir(dd);
    qsort(names, (size_t)nn, sizeof names[0], name_cmp);
    int files = 0;
    for (int i = 0; i < nn; i++) {
        run_capture(dir, names[i], &files);
        free(names[i]);
    }
    printf("  %d captures read\n", files);
    CHECK(files > 0);
    test_sweep(dir);
}

int main(int argc, char **argv)
{
    for (int v = 4; v <= 6; v += 2) {
        test_orders(v, 0, 0);
        if (v == 4)
            test_orders(4, 0, 8);
        else
            test_orders(6, 1, 0);
        test_duplicates(v);
        test_overlaps(v);
        test_missing(v);
        test_flood(v);
        test_too_many(v);
        test_max_size(v);
        test_bad_ends(v);
        test_cut(v);
    }
    test_interleaved();
    test_tiny_cap();
    test_not_fragment();
    g_ctx = "";
    printf("captures:\n");
    test_captures(argc > 2 ? argv[2] : NULL);

    printf("test_defrag: %d checks, %d failed\n", n_checks, n_failed);
    return n_failed ? 1 : 0;
}
