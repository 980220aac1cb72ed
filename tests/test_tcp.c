/* TCP tracker: session state and stream reassembly, driven with real
 * Ethernet/IPv4/TCP (or raw IPv4) frames built here, decoded by lt_decode and
 * fed to lt_tcp_packet. Every case asserts the exact bytes each direction
 * delivered and the exact sequence of events (and, where the order matters,
 * of events and deliveries together: "D0:5" is 5 bytes delivered from the
 * client). A randomized case reassembles random streams sent in random
 * segments with reordering, duplicates and same-byte overlaps (clean: the
 * exact streams, no gap); a hostile variant adds lost and snap-cut segments
 * and a small cap (every delivery is the stream at its offset, every byte
 * is delivered or a gap). The seed is printed; LT_TEST_SEED overrides it.
 * Every world checks at the end that detaching all flows returns the flow
 * table's memory charge to where it started. */
#include "decode.h"
#include "flow.h"
#include "tcp.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures;
#define CHECK(c)                                                                       \
    do {                                                                               \
        if (!(c)) {                                                                    \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #c);      \
            failures++;                                                                \
        }                                                                              \
    } while (0)

static void check_str_at(const char *file, int line, const char *what, const char *got,
                         const char *want)
{
    if (strcmp(got, want) != 0) {
        fprintf(stderr, "%s:%d: check failed: %s\n    got:  \"%s\"\n    want: \"%s\"\n", file,
                line, what, got, want);
        failures++;
    }
}
#define CHECK_STR(got, want) check_str_at(__FILE__, __LINE__, #got, (got), (want))

/* ---- a growable byte string ---- */

typedef struct sbuf {
    char *p;
    size_t n, cap;
} sbuf;

static void sb_add(sbuf *b, const void *d, size_t n)
{
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->n + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            fprintf(stderr, "out of memory\n");
            exit(1);
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, d, n);
    b->n += n;
    b->p[b->n] = '\0';
}

__attribute__((format(printf, 2, 3))) static void sb_printf(sbuf *b, const char *fmt, ...)
{
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0)
        sb_add(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

static const char *sb_str(const sbuf *b)
{
    return b->p ? b->p : "";
}

static void sb_clear(sbuf *b)
{
    b->n = 0;
    if (b->p)
        b->p[0] = '\0';
}

static void sb_free(sbuf *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

/* ---- the world: one flow table, one tracker, a few connections ---- */

static const char *const ev_names[LT_TCPE_COUNT] = {
    "EST", "CLOSED", "RESET", "RETX", "SYNRETRY", "OOO", "OVERLAP", "GAP", "ZWIN",
};

typedef struct conn {
    lt_flow *f;
    uint16_t cport;                /* client port (the server is port 80) */
    sbuf data[2];                  /* bytes delivered per direction */
    sbuf ev;                       /* events: "NAME/dir/arg" separated by spaces */
    sbuf all;                      /* events and deliveries ("D0:5") in call order */
    uint64_t counts[LT_TCPE_COUNT];
    uint64_t delivered_at_close[2];
    int quiet;                     /* no ev/all strings (long random runs) */
    /* Random runs: each delivery must be the expected stream at the offset
     * reached so far, counting gaps. */
    const uint8_t *expect[2];
    uint64_t expect_len, pos[2], pos_at_close[2], mismatches;
} conn;

#define MAX_CONNS 4

typedef struct world {
    lt_flow_table *ft;
    lt_tcp_tracker t;
    size_t mem0;                   /* the table's charge before any flow */
    conn c[MAX_CONNS];
    int n;
    int link;
    double now;
    uint16_t ipid;
} world;

static conn *conn_of(world *w, const lt_flow *f)
{
    for (int i = 0; i < w->n; i++)
        if (w->c[i].f == f)
            return &w->c[i];
    fprintf(stderr, "callback for an unknown flow\n");
    failures++;
    return NULL;
}

static void sep(sbuf *b)
{
    if (b->n)
        sb_add(b, " ", 1);
}

static void on_data(void *ud, lt_flow *f, int dir, const uint8_t *p, uint32_t n)
{
    conn *c = conn_of(ud, f);
    CHECK(dir == 0 || dir == 1);
    CHECK(n > 0);
    if (!c)
        return;
    sb_add(&c->data[dir], p, n); /* reads every byte: ASan checks the pointer */
    if (c->expect[dir]) {
        if (c->pos[dir] + n > c->expect_len || memcmp(c->expect[dir] + c->pos[dir], p, n) != 0)
            c->mismatches++;
        c->pos[dir] += n;
    }
    if (!c->quiet) {
        sep(&c->all);
        sb_printf(&c->all, "D%d:%u", dir, n);
    }
}

static void on_event(void *ud, lt_flow *f, int ev, int dir, uint64_t arg)
{
    conn *c = conn_of(ud, f);
    CHECK(ev >= 0 && ev < LT_TCPE_COUNT);
    if (!c || ev < 0 || ev >= LT_TCPE_COUNT)
        return;
    c->counts[ev]++;
    if (ev == LT_TCPE_GAP && dir >= 0 && dir < 2)
        c->pos[dir] += arg;
    if (ev == LT_TCPE_CLOSED) {
        c->delivered_at_close[0] = c->data[0].n;
        c->delivered_at_close[1] = c->data[1].n;
        c->pos_at_close[0] = c->pos[0];
        c->pos_at_close[1] = c->pos[1];
    }
    if (c->quiet)
        return;
    sep(&c->ev);
    sb_printf(&c->ev, "%s/%d/%llu", ev_names[ev], dir, (unsigned long long)arg);
    sep(&c->all);
    sb_printf(&c->all, "%s/%d/%llu", ev_names[ev], dir, (unsigned long long)arg);
}

static void world_init(world *w, const lt_tcp_limits *lim, const lt_flow_limits *flim, int link)
{
    memset(w, 0, sizeof *w);
    lt_flow_limits fl;
    lt_flow_default_limits(&fl);
    if (flim)
        fl = *flim;
    w->ft = lt_flow_table_new(&fl, NULL, NULL);
    CHECK(w->ft != NULL);
    lt_tcp_limits tl = { .stream_queue = LT_TCP_DEFAULT_STREAM_QUEUE, .stream_segments = LT_TCP_DEFAULT_STREAM_SEGMENTS, .total_queue = LT_TCP_DEFAULT_TOTAL_QUEUE };
    if (lim)
        tl = *lim;
    lt_tcp_callbacks cb = { on_data, on_event, w };
    lt_tcp_init(&w->t, &tl, &cb, w->ft);
    w->mem0 = lt_flow_stats_get(w->ft)->mem;
    w->link = link ? link : LT_LINK_EN10MB;
    w->now = 1000.0;
}

static conn *conn_new(world *w, uint16_t cport)
{
    if (w->n >= MAX_CONNS)
        abort();
    conn *c = &w->c[w->n++];
    memset(c, 0, sizeof *c);
    c->cport = cport;
    return c;
}

static void clear_logs(conn *c)
{
    sb_clear(&c->ev);
    sb_clear(&c->all);
}

static lt_tcp_conn *tcp_of(const conn *c)
{
    return c->f ? c->f->ext : NULL;
}

/* Detaches every flow (which flushes) and checks that the memory charged
 * for TCP state and queued segments came back; then ends the flows. */
static void world_detach(world *w)
{
    for (int i = 0; i < w->n; i++)
        if (w->c[i].f && w->c[i].f->ext) {
            lt_tcp_detach(&w->t, w->c[i].f);
            CHECK(w->c[i].f->ext == NULL);
        }
    size_t flows = 0;
    for (int i = 0; i < w->n; i++)
        flows += w->c[i].f != NULL;
    CHECK(lt_flow_stats_get(w->ft)->mem == w->mem0 + flows * sizeof(lt_flow));
    CHECK(w->t.st.queued == 0);
    for (int i = 0; i < w->n; i++)
        if (w->c[i].f) {
            lt_flow_end(w->ft, w->c[i].f, LT_FLOW_CLOSED);
            w->c[i].f = NULL;
        }
    CHECK(lt_flow_stats_get(w->ft)->mem == w->mem0);
}

static void world_free(world *w)
{
    world_detach(w);
    for (int i = 0; i < w->n; i++) {
        sb_free(&w->c[i].data[0]);
        sb_free(&w->c[i].data[1]);
        sb_free(&w->c[i].ev);
        sb_free(&w->c[i].all);
    }
    lt_flow_table_free(w->ft);
}

/* ---- frames ---- */

enum { F = LT_TCP_FIN, S = LT_TCP_SYN, R = LT_TCP_RST, P = LT_TCP_PSH, A = LT_TCP_ACK };
#define ALL UINT32_MAX             /* capture every payload byte */

static const uint8_t client_ip[4] = { 10, 0, 0, 1 }, server_ip[4] = { 10, 0, 0, 2 };

static void put16(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
    put16(p, v >> 16);
    put16(p + 2, v & 0xffff);
}

typedef struct pkt {
    uint8_t *buf;                  /* exactly caplen bytes: ASan sees overreads */
    lt_frame fr;
    lt_packet p;
} pkt;

/* Builds and decodes a segment of `n` payload bytes of which `cap` are
 * captured (the frame is cut by the snapshot length). SYNs carry an MSS
 * option, as real ones do. */
static void pkt_make(pkt *k, world *w, const conn *c, int from_client, uint32_t seq, uint32_t ack,
                     uint8_t flags, uint16_t win, const void *data, uint32_t n, uint32_t cap)
{
    uint32_t l2 = w->link == LT_LINK_EN10MB ? 14 : 0;
    uint32_t opt = (flags & S) ? 4 : 0;
    uint32_t hdrs = l2 + 20 + 20 + opt;
    uint32_t wire = hdrs + n;
    if (cap > n)
        cap = n;
    uint8_t *b = calloc(1, wire);
    if (!b)
        abort();
    if (l2) {
        memcpy(b, from_client ? "\x02\0\0\0\0\x02\x02\0\0\0\0\x01" : "\x02\0\0\0\0\x01\x02\0\0\0\0\x02", 12);
        put16(b + 12, 0x0800);
    }
    uint8_t *ip = b + l2;
    ip[0] = 0x45;
    put16(ip + 2, 20 + 20 + opt + n);
    put16(ip + 4, w->ipid++);
    put16(ip + 6, 0x4000);        /* DF */
    ip[8] = 64;
    ip[9] = 6;
    memcpy(ip + 12, from_client ? client_ip : server_ip, 4);
    memcpy(ip + 16, from_client ? server_ip : client_ip, 4);
    uint32_t sum = 0;
    for (int i = 0; i < 20; i += 2)
        sum += (uint32_t)ip[i] << 8 | ip[i + 1];
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    put16(ip + 10, ~sum & 0xffff);
    uint8_t *tcp = ip + 20;
    put16(tcp, from_client ? c->cport : 80);
    put16(tcp + 2, from_client ? 80 : c->cport);
    put32(tcp + 4, seq);
    put32(tcp + 8, ack);
    tcp[12] = (uint8_t)((20 + opt) / 4 << 4);
    tcp[13] = flags;
    put16(tcp + 14, win);
    if (opt) {
        tcp[20] = 2;
        tcp[21] = 4;
        put16(tcp + 22, 1460);
    }
    if (n)
        memcpy(b + hdrs, data, n);
    k->buf = b;
    memset(&k->fr, 0, sizeof k->fr);
    k->fr.data = b;
    k->fr.caplen = hdrs + cap;
    k->fr.len = wire;
    k->fr.linktype = w->link;
    k->fr.ts_sec = (int64_t)w->now;
    lt_decode(&k->p, &k->fr);
    CHECK(k->p.l4 == LT_L4_TCP && !k->p.truncated && !k->p.invalid);
    CHECK(k->p.payload_len == cap);
}

static void pkt_free(pkt *k)
{
    free(k->buf);
    k->buf = NULL;
}

/* Feeds a built packet: the first one of a connection creates its flow. */
static void pkt_feed(world *w, conn *c, const pkt *k, int from_client)
{
    lt_flow_key key;
    int from0;
    CHECK(lt_flow_key_of(&k->p, &key, &from0) == 0);
    if (!c->f) {
        c->f = lt_flow_create(w->ft, &key, lt_tcp_client_of(&k->p, from0 ? 0 : 1), w->now);
        CHECK(c->f != NULL);
        if (!c->f)
            return;
        CHECK(lt_flow_find(w->ft, &key) == c->f);
        CHECK(lt_tcp_attach(&w->t, c->f) == 0);
    }
    int dir = lt_flow_dir(c->f, from0);
    CHECK(dir == (from_client ? 0 : 1));
    lt_tcp_packet(&w->t, c->f, dir, &k->p, w->now);
}

static void send_cut(world *w, conn *c, int from_client, uint32_t seq, uint32_t ack,
                     uint8_t flags, uint16_t win, const void *data, uint32_t n, uint32_t cap)
{
    pkt k;
    pkt_make(&k, w, c, from_client, seq, ack, flags, win, data, n, cap);
    pkt_feed(w, c, &k, from_client);
    pkt_free(&k);
    w->now += 0.001;
}

static void send_seg(world *w, conn *c, int from_client, uint32_t seq, uint32_t ack,
                     uint8_t flags, const void *data, uint32_t n)
{
    send_cut(w, c, from_client, seq, ack, flags, 65535, data, n, ALL);
}

/* Client and server ISNs of the scripted cases: data starts at 1001 / 5001. */
#define CISN 1000u
#define SISN 5000u

static void cdata(world *w, conn *c, uint32_t seq, const char *s)
{
    send_seg(w, c, 1, seq, SISN + 1, A | P, s, (uint32_t)strlen(s));
}

static void sdata(world *w, conn *c, uint32_t seq, const char *s)
{
    send_seg(w, c, 0, seq, CISN + 1, A | P, s, (uint32_t)strlen(s));
}

/* SYN, SYN-ACK, ACK with the given ISNs; checks ESTABLISHED and clears the logs. */
static void handshake(world *w, conn *c, uint32_t cisn, uint32_t sisn)
{
    send_seg(w, c, 1, cisn, 0, S, "", 0);
    send_seg(w, c, 0, sisn, cisn + 1, S | A, "", 0);
    send_seg(w, c, 1, cisn + 1, sisn + 1, A, "", 0);
    CHECK_STR(sb_str(&c->ev), "EST/0/0");
    CHECK(tcp_of(c) && tcp_of(c)->state == LT_TCP_ESTABLISHED);
    clear_logs(c);
}

/* 40 bytes of reference stream; '#' marks bytes of a differing copy. */
static const char REF[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMN";

static char *span(const char *src, uint32_t off, uint32_t n)
{
    static char buf[8][256];
    static int next;
    char *b = buf[next++ % 8];
    memcpy(b, src + off, n);
    b[n] = '\0';
    return b;
}

/* ---- cases ---- */

static void test_client_of(void)
{
    world w;
    world_init(&w, NULL, NULL, 0);
    conn *c = conn_new(&w, 40000);
    pkt k;
    pkt_make(&k, &w, c, 1, 1, 0, S, 100, "", 0, ALL);
    CHECK(lt_tcp_client_of(&k.p, 1) == 1 && lt_tcp_client_of(&k.p, 0) == 0);
    pkt_free(&k);
    pkt_make(&k, &w, c, 0, 1, 2, S | A, 100, "", 0, ALL);
    CHECK(lt_tcp_client_of(&k.p, 1) == 0 && lt_tcp_client_of(&k.p, 0) == 1);
    pkt_free(&k);
    /* Mid-stream: the server is the lower port (80 here). */
    pkt_make(&k, &w, c, 0, 1, 2, A, 100, "x", 1, ALL); /* 80 -> 40000 */
    CHECK(lt_tcp_client_of(&k.p, 1) == 0);
    pkt_free(&k);
    pkt_make(&k, &w, c, 1, 1, 2, A, 100, "x", 1, ALL); /* 40000 -> 80 */
    CHECK(lt_tcp_client_of(&k.p, 1) == 1);
    pkt_free(&k);
    world_free(&w);
}

/* Handshake, request, response, FIN both ways: over Ethernet and raw IP. */
static void test_in_order(int link)
{
    world w;
    world_init(&w, NULL, NULL, link);
    conn *c = conn_new(&w, 40000);
    size_t mem_flow = 0;
    w.now = 10.0;
    send_seg(&w, c, 1, CISN, 0, S, "", 0);
    mem_flow = lt_flow_stats_get(w.ft)->mem;
    CHECK(mem_flow == w.mem0 + sizeof(lt_flow) + sizeof(lt_tcp_conn));
    CHECK(tcp_of(c)->state == LT_TCP_SYN_SENT && tcp_of(c)->half[0].isn == CISN);
    CHECK(tcp_of(c)->half[0].mss == 1460);
    w.now = 10.030;
    send_seg(&w, c, 0, SISN, CISN + 1, S | A, "", 0);
    CHECK(tcp_of(c)->state == LT_TCP_SYN_RECEIVED);
    CHECK_STR(sb_str(&c->ev), "");
    w.now = 10.050;
    send_seg(&w, c, 1, CISN + 1, SISN + 1, A, "", 0);
    CHECK_STR(sb_str(&c->ev), "EST/0/0");
    CHECK(fabs(tcp_of(c)->rtt - 0.050) < 1e-9);
    CHECK(tcp_of(c)->midstream == 0);
    const char *req = "GET / HTTP/1.0\r\n\r\n", *resp = "HTTP/1.0 200 OK\r\n\r\nhello";
    uint32_t rl = (uint32_t)strlen(req), sl = (uint32_t)strlen(resp);
    cdata(&w, c, CISN + 1, req);
    send_seg(&w, c, 0, SISN + 1, CISN + 1 + rl, A, "", 0);
    sdata(&w, c, SISN + 1, resp);
    send_seg(&w, c, 1, CISN + 1 + rl, SISN + 1 + sl, F | A, "", 0);
    CHECK(tcp_of(c)->state == LT_TCP_CLOSING);
    send_seg(&w, c, 0, SISN + 1 + sl, CISN + 2 + rl, F | A, "", 0);
    send_seg(&w, c, 1, CISN + 2 + rl, SISN + 2 + sl, A, "", 0);
    /* A retransmitted FIN closes nothing again, and is counted as a
     * retransmission (as tshark counts it), not reported: the session is over. */
    send_seg(&w, c, 0, SISN + 1 + sl, CISN + 2 + rl, F | A, "", 0);
    CHECK_STR(sb_str(&c->ev), "EST/0/0 CLOSED/0/0");
    CHECK_STR(sb_str(&c->all), "EST/0/0 D0:18 D1:24 CLOSED/0/0");
    CHECK_STR(sb_str(&c->data[0]), req);
    CHECK_STR(sb_str(&c->data[1]), resp);
    lt_tcp_conn *t = tcp_of(c);
    CHECK(t->state == LT_TCP_CLOSED && t->ended);
    CHECK_STR(t->history, "ShADadFf");
    CHECK(t->half[0].delivered == rl && t->half[1].delivered == sl);
    CHECK(t->half[0].next == CISN + 2 + rl && t->half[1].next == SISN + 2 + sl);
    CHECK(t->half[0].retransmits == 0 && t->half[1].retransmits == 1);
    CHECK(w.t.st.sessions == 1 && w.t.st.established == 1 && w.t.st.queued_peak == 0);
    CHECK(lt_flow_stats_get(w.ft)->mem == mem_flow); /* nothing was queued */
    world_free(&w);
}

/* Three segments per direction, sent in the given order (index + 3 for the
 * server's). */
static void reorder_case(int line, const int *order, int n, const char *want_all)
{
    world w;
    world_init(&w, NULL, NULL, 0);
    conn *c = conn_new(&w, 40000);
    handshake(&w, c, CISN, SISN);
    const char *cs = "abcdefghijklmno", *ss = "ABCDEFGHIJKLMNO";
    for (int i = 0; i < n; i++) {
        int k = order[i] % 3;
        if (order[i] < 3)
            cdata(&w, c, CISN + 1 + 5 * k, span(cs, 5 * k, 5));
        else
            sdata(&w, c, SISN + 1 + 5 * k, span(ss, 5 * k, 5));
    }
    check_str_at(__FILE__, line, "all", sb_str(&c->all), want_all);
    check_str_at(__FILE__, line, "client data", sb_str(&c->data[0]), cs);
    if (n > 3)
        check_str_at(__FILE__, line, "server data", sb_str(&c->data[1]), ss);
    CHECK(w.t.st.queued == 0);
    world_free(&w);
}

static void test_reorder(void)
{
    reorder_case(__LINE__, (const int[]){ 0, 1, 2 }, 3, "D0:5 D0:5 D0:5");
    reorder_case(__LINE__, (const int[]){ 1, 0, 2 }, 3, "OOO/0/1006 D0:5 D0:5 D0:5");
    reorder_case(__LINE__, (const int[]){ 2, 1, 0 }, 3, "OOO/0/1011 OOO/0/1006 D0:5 D0:5 D0:5");
    reorder_case(__LINE__, (const int[]){ 0, 2, 1 }, 3, "D0:5 OOO/0/1011 D0:5 D0:5");
    /* Both directions interleaved, each out of order. */
    reorder_case(__LINE__, (const int[]){ 1, 5, 4, 2, 0, 3 }, 6,
                 "OOO/0/1006 OOO/1/5011 OOO/1/5006 OOO/0/1011 D0:5 D0:5 D0:5 D1:5 D1:5 D1:5");
    reorder_case(__LINE__, (const int[]){ 3, 2, 5, 0, 4, 1 }, 6,
                 "D1:5 OOO/0/1011 OOO/1/5011 D0:5 D1:5 D1:5 D0:5 D0:5");

    /* Counters and the queue peak. */
    world w;
    world_init(&w, NULL, NULL, 0);
    conn *c = conn_new(&w, 40000);
    handshake(&w, c, CISN, SISN);
    cdata(&w, c, CISN + 6, "fghij");
    sdata(&w, c, SISN + 11, "KLMNO");
    sdata(&w, c, SISN + 6, "FGHIJ");
    cdata(&w, c, CISN + 11, "klmno");
    CHECK(w.t.st.queued == 20 && tcp_of(c)->half[0].queued == 10);
    CHECK(lt_flow_stats_get(w.ft)->mem ==
          w.mem0 + sizeof(lt_flow) + sizeof(lt_tcp_conn) + 4 * (sizeof(lt_tcp_seg) + 5));
    cdata(&w, c, CISN + 1, "abcde");
    sdata(&w, c, SISN + 1, "ABCDE");
    CHECK(w.t.st.queued == 0 && w.t.st.queued_peak == 20);
    CHECK(lt_flow_stats_get(w.ft)->mem == w.mem0 + sizeof(lt_flow) + sizeof(lt_tcp_conn));
    CHECK(tcp_of(c)->half[0].out_of_order == 2 && tcp_of(c)->half[1].out_of_order == 2);
    CHECK(w.t.st.out_of_order == 4);
    world_free(&w);
}

/* A piece of the 40-byte reference stream at offset off (relative to the
 * first data byte, seq 1001): REF's bytes, or '#'s when `differ`. */
typedef struct piece {
    uint32_t off, len;
} piece;

/* Client direction: first delivers [0, pre), then queues the `old` pieces,
 * then sends `nw` (same or different bytes), then fills every hole that is
 * left with REF's bytes (never touching queued data). Checks the events
 * after the prefix and the whole delivered stream. */
static void overlap_case(int line, uint32_t pre, const piece *old, int nold, piece nw, int differ,
                         const char *want_ev, const char *want_data)
{
    world w;
    world_init(&w, NULL, NULL, 0);
    conn *c = conn_new(&w, 40000);
    handshake(&w, c, CISN, SISN);
    const uint32_t base = CISN + 1;
    if (pre)
        cdata(&w, c, base, span(REF, 0, pre));
    clear_logs(c);
    for (int i = 0; i < nold; i++)
        cdata(&w, c, base + old[i].off, span(REF, old[i].off, old[i].len));
    char hashes[64];
    memset(hashes, '#', sizeof hashes);
    cdata(&w, c, base + nw.off, span(differ ? hashes : REF, differ ? 0 : nw.off, nw.len));
    const char *ev_after = sb_str(&c->ev);
    char ev_copy[256];
    snprintf(ev_copy, sizeof ev_copy, "%s", ev_after);
    /* Fill the holes. */
    lt_tcp_half *h = &tcp_of(c)->half[0];
    for (int guard = 0; guard < 10 && h->next - base < 40; guard++) {
        uint32_t at = h->next - base;
        uint32_t to = h->queue ? h->queue->seq - base : 40;
        if (to > 40)
            to = 40;
        cdata(&w, c, base + at, span(REF, at, to - at));
    }
    check_str_at(__FILE__, line, "events", sb_str(&c->ev), want_ev);
    check_str_at(__FILE__, line, "events before the holes were filled", ev_copy, want_ev);
    check_str_at(__FILE__, line, "data", sb_str(&c->data[0]), want_data);
    if (h->next != base + 40) {
        fprintf(stderr, "%s:%d: check failed: stream stops at %u\n", __FILE__, line, h->next - base);
        failures++;
    }
    CHECK(w.t.st.queued == 0 && h->gaps == 0);
    world_free(&w);
}

#define OLD1(o, l) (const piece[]){ { o, l } }, 1
#define NEW(o, l) (piece){ o, l }

static void test_overlaps(void)
{
    /* Against queued data (old = [20,30), ahead of the hole [0,20)). */
    overlap_case(__LINE__, 0, OLD1(20, 10), NEW(23, 4), 0, "OOO/0/1021 RETX/0/1024", REF);
    overlap_case(__LINE__, 0, OLD1(20, 10), NEW(23, 4), 1, "OOO/0/1021 OVERLAP/0/1024", REF);
    overlap_case(__LINE__, 0, OLD1(20, 10), NEW(15, 20), 0, "OOO/0/1021 OOO/0/1016", REF);
    overlap_case(__LINE__, 0, OLD1(20, 10), NEW(15, 20), 1,
                 "OOO/0/1021 OVERLAP/0/1016 OOO/0/1016",
                 "abcdefghijklmno#####uvwxyzABCD#####JKLMN");
    overlap_case(__LINE__, 0, OLD1(20, 10), NEW(15, 10), 0, "OOO/0/1021 OOO/0/1016", REF);
    overlap_case(__LINE__, 0, OLD1(20, 10), NEW(15, 10), 1,
                 "OOO/0/1021 OVERLAP/0/1016 OOO/0/1016",
                 "abcdefghijklmno#####uvwxyzABCDEFGHIJKLMN");
    overlap_case(__LINE__, 0, OLD1(20, 10), NEW(25, 10), 0, "OOO/0/1021 OOO/0/1026", REF);
    overlap_case(__LINE__, 0, OLD1(20, 10), NEW(25, 10), 1,
                 "OOO/0/1021 OVERLAP/0/1026 OOO/0/1026",
                 "abcdefghijklmnopqrstuvwxyzABCD#####JKLMN");
    overlap_case(__LINE__, 0, OLD1(20, 10), NEW(20, 10), 0, "OOO/0/1021 RETX/0/1021", REF);
    overlap_case(__LINE__, 0, OLD1(20, 10), NEW(20, 10), 1, "OOO/0/1021 OVERLAP/0/1021", REF);
    /* Same start or same end as the old one. */
    overlap_case(__LINE__, 0, OLD1(20, 10), NEW(20, 5), 1, "OOO/0/1021 OVERLAP/0/1021", REF);
    overlap_case(__LINE__, 0, OLD1(20, 10), NEW(25, 5), 0, "OOO/0/1021 RETX/0/1026", REF);
    overlap_case(__LINE__, 0, OLD1(20, 10), NEW(20, 15), 1,
                 "OOO/0/1021 OVERLAP/0/1021 OOO/0/1021",
                 "abcdefghijklmnopqrstuvwxyzABCD#####JKLMN");
    overlap_case(__LINE__, 0, OLD1(20, 10), NEW(15, 15), 1,
                 "OOO/0/1021 OVERLAP/0/1016 OOO/0/1016",
                 "abcdefghijklmno#####uvwxyzABCDEFGHIJKLMN");
    /* Touching, not overlapping. */
    overlap_case(__LINE__, 0, OLD1(20, 10), NEW(30, 5), 1, "OOO/0/1021 OOO/0/1031",
                 "abcdefghijklmnopqrstuvwxyzABCD#####JKLMN");
    overlap_case(__LINE__, 0, OLD1(20, 10), NEW(15, 5), 1, "OOO/0/1021 OOO/0/1016",
                 "abcdefghijklmno#####uvwxyzABCDEFGHIJKLMN");
    /* Spanning two queued pieces and the hole between them. */
    const piece two[] = { { 20, 5 }, { 30, 5 } };
    overlap_case(__LINE__, 0, two, 2, NEW(15, 25), 1,
                 "OOO/0/1021 OOO/0/1031 OVERLAP/0/1016 OOO/0/1016",
                 "abcdefghijklmno#####uvwxy#####EFGHI#####");
    overlap_case(__LINE__, 0, two, 2, NEW(15, 25), 0, "OOO/0/1021 OOO/0/1031 OOO/0/1016", REF);
    overlap_case(__LINE__, 0, two, 2, NEW(20, 15), 0, "OOO/0/1021 OOO/0/1031 OOO/0/1021", REF);
    overlap_case(__LINE__, 0, two, 2, NEW(20, 15), 1,
                 "OOO/0/1021 OOO/0/1031 OVERLAP/0/1021 OOO/0/1021",
                 "abcdefghijklmnopqrstuvwxy#####EFGHIJKLMN");

    /* An in-order segment that reaches queued data: the queued bytes came
     * first and win there too. */
    overlap_case(__LINE__, 0, OLD1(20, 10), NEW(0, 25), 0, "OOO/0/1021", REF);
    overlap_case(__LINE__, 0, OLD1(20, 10), NEW(0, 25), 1, "OOO/0/1021 OVERLAP/0/1001",
                 "####################uvwxyzABCDEFGHIJKLMN");
    overlap_case(__LINE__, 0, OLD1(20, 10), NEW(0, 40), 0, "OOO/0/1021", REF);
    overlap_case(__LINE__, 0, OLD1(20, 10), NEW(0, 40), 1, "OOO/0/1021 OVERLAP/0/1001",
                 "####################uvwxyzABCD##########");
    overlap_case(__LINE__, 0, two, 2, NEW(0, 40), 1, "OOO/0/1021 OOO/0/1031 OVERLAP/0/1001",
                 "####################uvwxy#####EFGHI#####");
    overlap_case(__LINE__, 0, two, 2, NEW(0, 40), 0, "OOO/0/1021 OOO/0/1031", REF);

    /* Against delivered bytes: a retransmission, not compared. */
    overlap_case(__LINE__, 20, NULL, 0, NEW(0, 20), 0, "RETX/0/1001", REF);
    overlap_case(__LINE__, 20, NULL, 0, NEW(0, 20), 1, "RETX/0/1001", REF);
    overlap_case(__LINE__, 20, NULL, 0, NEW(5, 10), 1, "RETX/0/1006", REF);
    /* Partly delivered: only the new bytes are delivered. */
    overlap_case(__LINE__, 20, NULL, 0, NEW(10, 20), 0, "", REF);
    overlap_case(__LINE__, 20, NULL, 0, NEW(10, 20), 1, "",
                 "abcdefghijklmnopqrst##########EFGHIJKLMN");
    /* Partly delivered and reaching queued data. */
    overlap_case(__LINE__, 10, OLD1(20, 10), NEW(5, 20), 0, "OOO/0/1021", REF);
    overlap_case(__LINE__, 10, OLD1(20, 10), NEW(5, 20), 1, "OOO/0/1021 OVERLAP/0/1006",
                 "abcdefghij##########uvwxyzABCDEFGHIJKLMN");
    overlap_case(__LINE__, 10, OLD1(20, 10), NEW(5, 35), 1, "OOO/0/1021 OVERLAP/0/1006",
                 "abcdefghij##########uvwxyzABCD##########");
}

/* Sequence numbers crossing 2^32 in both directions, with reordering, a
 * duplicate across the wrap and a gap across the wrap. */
static void test_wrap(void)
{
    world w;
    world_init(&w, NULL, NULL, 0);
    conn *c = conn_new(&w, 40000);
    const uint32_t cisn = 0xFFFFFFF0u, sisn = 0xFFFFFFF5u;
    handshake(&w, c, cisn, sisn);
    const char *cs = "0123456789abcdefghijklmnopqrstuv"; /* 32 bytes from 0xFFFFFFF1 */
    /* Segments of 8: [F1,F9) [F9,1) [1,9) [9,11); sent 3rd, 1st, 4th, 2nd. */
    send_seg(&w, c, 1, 0x00000001u, sisn + 1, A, cs + 16, 8);
    send_seg(&w, c, 1, 0xFFFFFFF1u, sisn + 1, A, cs, 8);
    send_seg(&w, c, 1, 0x00000009u, sisn + 1, A, cs + 24, 8);
    send_seg(&w, c, 1, 0xFFFFFFF9u, sisn + 1, A, cs + 8, 8);
    /* A duplicate of the segment that crosses the wrap. */
    send_seg(&w, c, 1, 0xFFFFFFF9u, sisn + 1, A, cs + 8, 8);
    CHECK_STR(sb_str(&c->ev), "OOO/0/1 OOO/0/9 RETX/0/4294967289");
    CHECK_STR(sb_str(&c->data[0]), cs);
    CHECK(tcp_of(c)->half[0].next == 0x11);
    clear_logs(c);
    /* Server: [F6,FE) delivered, [FE,6) lost, [6,E) queued across the
     * wrap, then [E,16) crosses nothing but waits too. */
    send_seg(&w, c, 0, 0xFFFFFFF6u, 0x11, A, "ABCDEFGH", 8);
    send_seg(&w, c, 0, 0x00000006u, 0x11, A, "QRSTUVWX", 8);
    send_seg(&w, c, 0, 0x0000000Eu, 0x11, A, "YZ", 2);
    CHECK_STR(sb_str(&c->ev), "OOO/1/6 OOO/1/14");
    lt_tcp_flush(&w.t, c->f);
    CHECK_STR(sb_str(&c->all), "D1:8 OOO/1/6 OOO/1/14 GAP/1/8 D1:8 D1:2");
    CHECK_STR(sb_str(&c->data[1]), "ABCDEFGHQRSTUVWXYZ");
    CHECK(tcp_of(c)->half[1].next == 0x10 && tcp_of(c)->half[1].gap_bytes == 8);
    clear_logs(c);
    /* FIN both ways at the wrapped sequence numbers. */
    send_seg(&w, c, 1, 0x11, 0x10, F | A, "", 0);
    send_seg(&w, c, 0, 0x10, 0x12, F | A, "", 0);
    CHECK_STR(sb_str(&c->ev), "CLOSED/0/0");
    world_free(&w);

    /* A SYN at 0xFFFFFFFF: data starts at 0; a gap that spans the wrap. */
    world_init(&w, NULL, NULL, LT_LINK_RAW);
    c = conn_new(&w, 40001);
    handshake(&w, c, 0xFFFFFFFFu, 7);
    CHECK(tcp_of(c)->half[0].next == 0);
    send_seg(&w, c, 1, 0, 8, A, "abc", 3);
    send_seg(&w, c, 1, 10, 8, A, "klm", 3);
    send_seg(&w, c, 1, 5, 8, A, "fgh", 3);
    lt_tcp_flush(&w.t, c->f);
    CHECK_STR(sb_str(&c->all), "D0:3 OOO/0/10 OOO/0/5 GAP/0/2 D0:3 GAP/0/2 D0:3");
    CHECK_STR(sb_str(&c->data[0]), "abcfghklm");
    world_free(&w);

    world_init(&w, NULL, NULL, 0);
    c = conn_new(&w, 40002);
    handshake(&w, c, 0xFFFFFFF0u, 7);
    send_seg(&w, c, 1, 0xFFFFFFF1u, 8, A, "abcd", 4);
    send_seg(&w, c, 1, 0x00000005u, 8, A, "wxyz", 4); /* lost: [F5, 5) */
    lt_tcp_flush(&w.t, c->f);
    CHECK_STR(sb_str(&c->all), "D0:4 OOO/0/5 GAP/0/16 D0:4");
    world_free(&w);
}

/* SYN retries (same ISN) vs a new session (new ISN); SYN-ACK retransmission. */
static void test_syn(void)
{
    world w;
    world_init(&w, NULL, NULL, 0);
    conn *c = conn_new(&w, 40000);
    w.now = 100.0;
    send_seg(&w, c, 1, CISN, 0, S, "", 0);
    w.now = 101.0;
    send_seg(&w, c, 1, CISN, 0, S, "", 0);
    w.now = 103.0;
    send_seg(&w, c, 1, CISN, 0, S, "", 0);
    CHECK_STR(sb_str(&c->ev), "SYNRETRY/0/1000 SYNRETRY/0/1000");
    CHECK(tcp_of(c)->syn_retries == 2 && w.t.st.syn_retries == 2);
    pkt k;
    pkt_make(&k, &w, c, 1, CISN, 0, S, 65535, "", 0, ALL);
    CHECK(!lt_tcp_starts_new(c->f, 0, &k.p));
    pkt_free(&k);
    pkt_make(&k, &w, c, 1, 77777, 0, S, 65535, "", 0, ALL);
    CHECK(lt_tcp_starts_new(c->f, 0, &k.p));
    pkt_free(&k);
    /* A SYN-ACK with any ISN starts nothing; nor does a SYN from the server
     * side before the server sent one. */
    pkt_make(&k, &w, c, 0, 4242, CISN + 1, S | A, 65535, "", 0, ALL);
    CHECK(!lt_tcp_starts_new(c->f, 1, &k.p));
    pkt_free(&k);
    pkt_make(&k, &w, c, 0, 4242, 0, S, 65535, "", 0, ALL);
    CHECK(!lt_tcp_starts_new(c->f, 1, &k.p));
    pkt_free(&k);
    clear_logs(c);
    w.now = 103.020;
    send_seg(&w, c, 0, SISN, CISN + 1, S | A, "", 0);
    w.now = 103.5;
    send_seg(&w, c, 0, SISN, CISN + 1, S | A, "", 0);
    CHECK_STR(sb_str(&c->ev), "RETX/1/5000");
    CHECK(tcp_of(c)->half[1].retransmits == 1 && tcp_of(c)->state == LT_TCP_SYN_RECEIVED);
    w.now = 103.6;
    send_seg(&w, c, 1, CISN + 1, SISN + 1, A, "", 0);
    send_seg(&w, c, 1, CISN + 1, SISN + 1, A, "", 0);
    cdata(&w, c, CISN + 1, "hi");
    CHECK_STR(sb_str(&c->ev), "RETX/1/5000 EST/0/0");
    CHECK_STR(sb_str(&c->data[0]), "hi");
    /* RTT is measured from the first SYN (as Wireshark's initial_rtt). */
    CHECK(fabs(tcp_of(c)->rtt - 3.6) < 1e-9);
    CHECK(tcp_of(c)->syn_retries == 2 && w.t.st.established == 1);
    /* Once the session has a SYN with a new ISN, the caller starts a new one. */
    pkt_make(&k, &w, c, 1, CISN + 100000, 0, S, 65535, "", 0, ALL);
    CHECK(lt_tcp_starts_new(c->f, 0, &k.p));
    pkt_free(&k);
    world_free(&w);

    /* The handshake ACK is what establishes: data from the server carrying
     * the wrong ACK number does not; ESTABLISHED comes exactly once. */
    world_init(&w, NULL, NULL, 0);
    c = conn_new(&w, 40001);
    w.now = 5.0;
    send_seg(&w, c, 1, CISN, 0, S, "", 0);
    w.now = 5.25;
    send_seg(&w, c, 0, SISN, CISN + 1, S | A, "", 0);
    send_seg(&w, c, 1, CISN + 1, SISN + 77, A, "", 0); /* acks the wrong thing */
    CHECK_STR(sb_str(&c->ev), "");
    w.now = 5.5;
    send_seg(&w, c, 1, CISN + 1, SISN + 1, A, "", 0);
    w.now = 5.75;
    send_seg(&w, c, 1, CISN + 1, SISN + 1, A, "", 0);
    CHECK_STR(sb_str(&c->ev), "EST/0/0");
    CHECK(fabs(tcp_of(c)->rtt - 0.5) < 1e-9);
    world_free(&w);
}

/* Picked up mid-stream: no SYN at all. */
static void test_midstream(void)
{
    world w;
    world_init(&w, NULL, NULL, 0);
    conn *c = conn_new(&w, 40000);
    /* The first packet comes from the server (port 80). */
    send_seg(&w, c, 0, 900000, 300000, A | P, "hello ", 6);
    CHECK(tcp_of(c)->midstream == 1 && tcp_of(c)->half[1].isn == 900000);
    CHECK(tcp_of(c)->state < LT_TCP_ESTABLISHED);
    send_seg(&w, c, 0, 900006, 300000, A | P, "world", 5);
    CHECK_STR(sb_str(&c->ev), "");
    send_seg(&w, c, 1, 300000, 900011, A, "", 0);
    CHECK_STR(sb_str(&c->ev), "EST/0/0");
    send_seg(&w, c, 1, 300000, 900011, A | P, "abc", 3);
    send_seg(&w, c, 0, 900011, 300003, A, "", 0);
    CHECK_STR(sb_str(&c->ev), "EST/0/0");
    CHECK_STR(sb_str(&c->data[1]), "hello world");
    CHECK_STR(sb_str(&c->data[0]), "abc");
    CHECK(tcp_of(c)->rtt == -1 && tcp_of(c)->state == LT_TCP_ESTABLISHED);
    CHECK(w.t.st.established == 1);
    /* Out of order after the pickup still reorders. */
    clear_logs(c);
    send_seg(&w, c, 1, 300006, 900011, A, "ghi", 3);
    send_seg(&w, c, 1, 300003, 900011, A, "def", 3);
    CHECK_STR(sb_str(&c->all), "OOO/0/300006 D0:3 D0:3");
    CHECK_STR(sb_str(&c->data[0]), "abcdefghi");
    world_free(&w);

    /* From the client first, data both ways, then FINs close it. */
    world_init(&w, NULL, NULL, LT_LINK_RAW);
    c = conn_new(&w, 40001);
    send_seg(&w, c, 1, 1, 2, A | P, "x", 1);
    CHECK(tcp_of(c)->midstream == 1);
    send_seg(&w, c, 0, 2, 2, A | P, "y", 1);
    send_seg(&w, c, 1, 2, 3, F | A, "", 0);
    send_seg(&w, c, 0, 3, 3, F | A, "", 0);
    CHECK_STR(sb_str(&c->all), "D0:1 EST/0/0 D1:1 CLOSED/0/0");
    world_free(&w);
}

/* A reset in the middle. The RST is reported at once, but the session is
 * not over: what was in flight after it is still data, until the owner
 * ends the flow (the flush then reports the holes). */
static void test_reset(void)
{
    world w;
    world_init(&w, NULL, NULL, 0);
    conn *c = conn_new(&w, 40000);
    handshake(&w, c, CISN, SISN);
    cdata(&w, c, CISN + 1, span(REF, 0, 10));
    cdata(&w, c, CISN + 21, span(REF, 20, 10)); /* [10,20) missing */
    sdata(&w, c, SISN + 1, "xyz");
    send_seg(&w, c, 0, SISN + 4, CISN + 11, R | A, "", 0);
    CHECK_STR(sb_str(&c->all), "D0:10 OOO/0/1021 D1:3 RESET/1/5004");
    lt_tcp_conn *t = tcp_of(c);
    CHECK(t->state == LT_TCP_RESET && !t->ended && t->half[1].rst);
    CHECK(w.t.st.resets == 1 && w.t.st.queued == 10);
    clear_logs(c);
    /* In flight after the reset: new data, a retransmission, more from the
     * server, the client's own RST (no second report), a FIN. */
    cdata(&w, c, CISN + 31, span(REF, 30, 10));
    cdata(&w, c, CISN + 1, span(REF, 0, 10));
    sdata(&w, c, SISN + 4, "more");
    send_seg(&w, c, 1, CISN + 41, SISN + 8, R, "", 0);
    send_seg(&w, c, 1, CISN + 41, SISN + 8, F | A, "", 0);
    CHECK_STR(sb_str(&c->all), "OOO/0/1031 RETX/0/1001 D1:4");
    CHECK(t->state == LT_TCP_RESET && w.t.st.resets == 1);
    CHECK(strchr(t->history, 'r') && strchr(t->history, 'R'));
    clear_logs(c);
    lt_tcp_flush(&w.t, c->f);
    CHECK_STR(sb_str(&c->all), "GAP/0/10 D0:10 D0:10");
    CHECK_STR(sb_str(&c->data[1]), "xyzmore");
    world_free(&w);

    /* A reset answering a SYN (port closed): it acknowledges the SYN. */
    world_init(&w, NULL, NULL, 0);
    c = conn_new(&w, 40001);
    send_seg(&w, c, 1, CISN, 0, S, "", 0);
    send_seg(&w, c, 0, 0, CISN + 1, R | A, "", 0);
    CHECK_STR(sb_str(&c->ev), "RESET/1/0");
    CHECK(tcp_of(c)->state == LT_TCP_RESET);
    CHECK_STR(tcp_of(c)->history, "Sr");
    world_free(&w);

    /* Injected resets are ignored and counted: one answering a SYN without
     * acknowledging it, one far outside the stream. The session goes on. */
    world_init(&w, NULL, NULL, 0);
    c = conn_new(&w, 40002);
    send_seg(&w, c, 1, CISN, 0, S, "", 0);
    send_seg(&w, c, 0, 0, CISN, R | A, "", 0);            /* acks the SYN's own number */
    send_seg(&w, c, 0, SISN, CISN + 1, S | A, "", 0);
    send_seg(&w, c, 1, CISN + 1, SISN + 1, A, "", 0);
    sdata(&w, c, SISN + 1, "abc");
    send_seg(&w, c, 0, SISN + 4 + (1u << 24), CISN + 1, R | A, "", 0);
    sdata(&w, c, SISN + 4, "def");
    CHECK(w.t.st.ignored_resets == 2 && w.t.st.resets == 0);
    CHECK_STR(sb_str(&c->data[1]), "abcdef");
    CHECK(tcp_of(c)->state == LT_TCP_ESTABLISHED);
    world_free(&w);

    /* A reset carrying data: the data is delivered, then the reset. */
    world_init(&w, NULL, NULL, 0);
    c = conn_new(&w, 40003);
    handshake(&w, c, CISN, SISN);
    send_seg(&w, c, 1, CISN + 1, SISN + 1, R | A, "bye", 3);
    CHECK_STR(sb_str(&c->all), "D0:3 RESET/0/1001");
    world_free(&w);
}

/* Simultaneous open: both sides send a bare SYN, then each a SYN-ACK of
 * the other's. One ESTABLISHED, no retransmission, data flows. */
static void test_simultaneous_open(void)
{
    world w;
    world_init(&w, NULL, NULL, 0);
    conn *c = conn_new(&w, 40000);
    send_seg(&w, c, 1, CISN, 0, S, "", 0);
    send_seg(&w, c, 0, SISN, 0, S, "", 0);
    send_seg(&w, c, 1, CISN, SISN + 1, S | A, "", 0);
    CHECK_STR(sb_str(&c->ev), "");
    send_seg(&w, c, 0, SISN, CISN + 1, S | A, "", 0);
    CHECK_STR(sb_str(&c->ev), "EST/0/0");
    CHECK(tcp_of(c)->state == LT_TCP_ESTABLISHED && w.t.st.retransmits == 0);
    CHECK_STR(tcp_of(c)->history, "SsHh");
    cdata(&w, c, CISN + 1, "hi");
    sdata(&w, c, SISN + 1, "yo");
    CHECK_STR(sb_str(&c->data[0]), "hi");
    CHECK_STR(sb_str(&c->data[1]), "yo");
    /* a repeated SYN-ACK after that is a retransmission */
    send_seg(&w, c, 0, SISN, CISN + 1, S | A, "", 0);
    CHECK(w.t.st.retransmits == 1);
    world_free(&w);
}

/* The per-direction segment cap: many tiny segments behind a hole cannot
 * make every insert walk a huge queue; past the cap the hole becomes a gap
 * and the stream goes on. */
static void test_segment_cap(void)
{
    lt_tcp_limits lim = { .stream_queue = LT_TCP_DEFAULT_STREAM_QUEUE, .stream_segments = 8,
                          .total_queue = LT_TCP_DEFAULT_TOTAL_QUEUE };
    world w;
    world_init(&w, &lim, NULL, 0);
    conn *c = conn_new(&w, 40000);
    handshake(&w, c, CISN, SISN);
    /* byte 0 missing; bytes 1, 3, 5, ... arrive as one-byte segments */
    for (uint32_t k = 0; k < 8; k++)
        cdata(&w, c, CISN + 2 + 2 * k, span(REF, 1 + 2 * k, 1));
    CHECK(tcp_of(c)->half[0].nsegs == 8 && w.t.st.queue_full == 0);
    cdata(&w, c, CISN + 18, span(REF, 17, 1)); /* the ninth: over the cap */
    CHECK(w.t.st.queue_full >= 1);
    CHECK(tcp_of(c)->half[0].nsegs <= 8);
    CHECK(strncmp(sb_str(&c->ev), "OOO/0/1002", 10) == 0);
    CHECK(strstr(sb_str(&c->ev), "GAP/0/1") != NULL);
    world_free(&w);
}

/* FIN handling: half close, FIN on a data segment, FIN out of order. */
static void test_fin(void)
{
    world w;
    world_init(&w, NULL, NULL, 0);
    conn *c = conn_new(&w, 40000);
    handshake(&w, c, CISN, SISN);
    /* Client closes first; the server keeps talking, then closes with a
     * FIN carried on its last data segment. */
    cdata(&w, c, CISN + 1, "bye");
    send_seg(&w, c, 1, CISN + 4, SISN + 1, F | A, "", 0);
    sdata(&w, c, SISN + 1, "still ");
    send_seg(&w, c, 0, SISN + 7, CISN + 5, F | A | P, "here", 4);
    send_seg(&w, c, 1, CISN + 5, SISN + 12, A, "", 0);
    CHECK_STR(sb_str(&c->all), "D0:3 D1:6 D1:4 CLOSED/0/0");
    CHECK_STR(sb_str(&c->data[1]), "still here");
    CHECK(tcp_of(c)->half[1].fin_seq == SISN + 11 && tcp_of(c)->half[1].next == SISN + 12);
    world_free(&w);

    /* The client's FIN (on data) arrives before the data before it; the
     * server's FIN is already there. CLOSED comes after the data. */
    world_init(&w, NULL, NULL, 0);
    c = conn_new(&w, 40001);
    handshake(&w, c, CISN, SISN);
    cdata(&w, c, CISN + 1, span(REF, 0, 10));
    send_seg(&w, c, 1, CISN + 21, SISN + 1, F | A, span(REF, 20, 10), 10);
    send_seg(&w, c, 0, SISN + 1, CISN + 11, F | A, "", 0);
    CHECK_STR(sb_str(&c->all), "D0:10 OOO/0/1021");
    CHECK(!tcp_of(c)->ended);
    cdata(&w, c, CISN + 11, span(REF, 10, 10));
    CHECK_STR(sb_str(&c->all), "D0:10 OOO/0/1021 D0:10 D0:10 CLOSED/0/0");
    CHECK_STR(sb_str(&c->data[0]), span(REF, 0, 30));
    CHECK(tcp_of(c)->state == LT_TCP_CLOSED && tcp_of(c)->half[0].next == CISN + 32);
    world_free(&w);

    /* A bare FIN ahead of missing data, both FINs seen: closes once the
     * data arrives. */
    world_init(&w, NULL, NULL, 0);
    c = conn_new(&w, 40002);
    handshake(&w, c, CISN, SISN);
    send_seg(&w, c, 0, SISN + 1, CISN + 1, F | A, "", 0);
    send_seg(&w, c, 1, CISN + 6, SISN + 2, F | A, "", 0);
    CHECK_STR(sb_str(&c->all), "");
    cdata(&w, c, CISN + 1, "hello");
    CHECK_STR(sb_str(&c->all), "D0:5 CLOSED/0/0");
    world_free(&w);

    /* The data never comes: flushing at the end of the session delivers
     * what waits after the gap, and the FIN is then reached. */
    world_init(&w, NULL, NULL, 0);
    c = conn_new(&w, 40003);
    handshake(&w, c, CISN, SISN);
    send_seg(&w, c, 1, CISN + 6, SISN + 1, F | A, "world", 5);
    send_seg(&w, c, 0, SISN + 1, CISN + 1, F | A, "", 0);
    CHECK_STR(sb_str(&c->all), "OOO/0/1006");
    lt_tcp_flush(&w.t, c->f);
    CHECK_STR(sb_str(&c->all), "OOO/0/1006 GAP/0/5 D0:5 CLOSED/0/0");
    world_free(&w);
}

/* A FIN whose data never came, with nothing waiting: a flush reports the
 * missing bytes (the FIN says how many) and reaches the FIN. */
static void test_fin_gap(void)
{
    world w;
    world_init(&w, NULL, NULL, 0);
    conn *c = conn_new(&w, 40000);
    handshake(&w, c, CISN, SISN);
    send_seg(&w, c, 1, CISN + 11, SISN + 1, F | A, "", 0); /* [1001,1011) lost */
    send_seg(&w, c, 0, SISN + 1, CISN + 12, F | A, "", 0);
    CHECK_STR(sb_str(&c->all), "");
    lt_tcp_flush(&w.t, c->f);
    CHECK_STR(sb_str(&c->all), "GAP/0/10 CLOSED/0/0");
    CHECK(tcp_of(c)->half[0].next == CISN + 12 && tcp_of(c)->half[0].gap_bytes == 10);
    world_free(&w);
}

/* A lost segment: the data after it waits until the end of the session. */
static void test_gap(void)
{
    world w;
    world_init(&w, NULL, NULL, 0);
    conn *c = conn_new(&w, 40000);
    handshake(&w, c, CISN, SISN);
    cdata(&w, c, CISN + 1, span(REF, 0, 10));
    cdata(&w, c, CISN + 21, span(REF, 20, 5));
    cdata(&w, c, CISN + 26, span(REF, 25, 5));
    cdata(&w, c, CISN + 36, span(REF, 35, 5)); /* second hole [30,35) */
    sdata(&w, c, SISN + 4, "late");            /* server: [0,3) lost */
    CHECK_STR(sb_str(&c->all), "D0:10 OOO/0/1021 OOO/0/1026 OOO/0/1036 OOO/1/5004");
    CHECK(tcp_of(c)->half[0].queued == 15 && w.t.st.queued == 19);
    size_t mem_before = lt_flow_stats_get(w.ft)->mem;
    clear_logs(c);
    lt_tcp_flush(&w.t, c->f);
    CHECK_STR(sb_str(&c->all), "GAP/0/10 D0:5 D0:5 GAP/0/5 D0:5 GAP/1/3 D1:4");
    CHECK_STR(sb_str(&c->data[0]), "abcdefghijuvwxyzABCDJKLMN");
    CHECK_STR(sb_str(&c->data[1]), "late");
    CHECK(lt_flow_stats_get(w.ft)->mem == mem_before - 4 * sizeof(lt_tcp_seg) - 19);
    lt_tcp_half *h = &tcp_of(c)->half[0];
    CHECK(h->gaps == 2 && h->gap_bytes == 15 && h->next == CISN + 41);
    CHECK(w.t.st.gaps == 3 && w.t.st.gap_bytes == 18 && w.t.st.queued == 0);
    /* A second flush has nothing to do; the stream goes on; the missing
     * bytes arriving late are a retransmission. */
    clear_logs(c);
    lt_tcp_flush(&w.t, c->f);
    cdata(&w, c, CISN + 41, "OP");
    cdata(&w, c, CISN + 11, span(REF, 10, 10));
    CHECK_STR(sb_str(&c->all), "D0:2 RETX/0/1011");
    world_free(&w);

    /* Detaching flushes too. */
    world_init(&w, NULL, NULL, 0);
    c = conn_new(&w, 40001);
    handshake(&w, c, CISN, SISN);
    cdata(&w, c, CISN + 3, "cd");
    world_detach(&w);
    CHECK_STR(sb_str(&c->all), "OOO/0/1003 GAP/0/2 D0:2");
    world_free(&w);
}

/* 1000 bytes of a pattern that marks its own offset. */
static const char *block(uint32_t off, uint32_t n)
{
    static char buf[4][4096];
    static int next;
    char *b = buf[next++ % 4];
    for (uint32_t i = 0; i < n; i++)
        b[i] = (char)('A' + (off + i) % 23);
    b[n] = '\0';
    return b;
}

static int stream_is(const sbuf *got, const uint32_t (*runs)[2], int nruns)
{
    size_t at = 0;
    for (int i = 0; i < nruns; i++) {
        if (at + runs[i][1] > got->n || memcmp(got->p + at, block(runs[i][0], runs[i][1]), runs[i][1]))
            return 0;
        at += runs[i][1];
    }
    return at == got->n;
}

/* The per-direction cap: the oldest hole is given up, the stream goes on. */
static void test_stream_cap(void)
{
    lt_tcp_limits lim = { .stream_queue = 4096, .stream_segments = LT_TCP_DEFAULT_STREAM_SEGMENTS, .total_queue = LT_TCP_DEFAULT_TOTAL_QUEUE };
    world w;
    world_init(&w, &lim, NULL, 0);
    conn *c = conn_new(&w, 40000);
    handshake(&w, c, CISN, SISN);
    const uint32_t b = CISN + 1;
    /* [0,100) lost; four 1000-byte segments wait (4000 <= 4096). */
    for (uint32_t off = 100; off < 4100; off += 1000)
        cdata(&w, c, b + off, block(off, 1000));
    CHECK_STR(sb_str(&c->ev), "OOO/0/1101 OOO/0/2101 OOO/0/3101 OOO/0/4101");
    CHECK(c->data[0].n == 0 && tcp_of(c)->half[0].queued == 4000);
    clear_logs(c);
    cdata(&w, c, b + 4100, block(4100, 1000)); /* does not fit */
    CHECK_STR(sb_str(&c->all), "GAP/0/100 D0:1000 D0:1000 D0:1000 D0:1000 D0:1000");
    CHECK(w.t.st.queue_full == 1 && tcp_of(c)->half[0].queued == 0);
    cdata(&w, c, b + 5100, block(5100, 1000));
    const uint32_t runs[][2] = { { 100, 6000 } };
    CHECK(stream_is(&c->data[0], runs, 1));
    world_free(&w);

    /* Two holes: giving up the first one makes room; the second still waits. */
    world_init(&w, &lim, NULL, 0);
    c = conn_new(&w, 40001);
    handshake(&w, c, CISN, SISN);
    cdata(&w, c, b + 100, block(100, 1000));  /* [0,100) lost */
    for (uint32_t off = 1200; off < 4200; off += 1000)
        cdata(&w, c, b + off, block(off, 1000)); /* [1100,1200) lost */
    clear_logs(c);
    cdata(&w, c, b + 4200, block(4200, 1000));
    CHECK_STR(sb_str(&c->all), "GAP/0/100 D0:1000 OOO/0/5201");
    CHECK(tcp_of(c)->half[0].queued == 4000 && w.t.st.queue_full == 1);
    cdata(&w, c, b + 1100, block(1100, 100));
    const uint32_t runs2[][2] = { { 100, 5100 } };
    CHECK(stream_is(&c->data[0], runs2, 1));
    CHECK(tcp_of(c)->half[0].gaps == 1 && tcp_of(c)->half[0].gap_bytes == 100);
    world_free(&w);

    /* One segment larger than the whole cap. */
    world_init(&w, &lim, NULL, 0);
    c = conn_new(&w, 40002);
    handshake(&w, c, CISN, SISN);
    char big[5000];
    memset(big, 'z', sizeof big);
    cdata(&w, c, b + 10, "0123456789"); /* waits */
    clear_logs(c);
    send_seg(&w, c, 1, b + 20, SISN + 1, A, big, sizeof big);
    CHECK_STR(sb_str(&c->all), "GAP/0/10 D0:10 D0:5000");
    world_free(&w);
}

/* The global cap: the flow that needs room gives up its own hole; the
 * other flow's waiting data is untouched. */
static void test_total_cap(void)
{
    lt_tcp_limits lim = { .stream_queue = LT_TCP_DEFAULT_STREAM_QUEUE, .stream_segments = LT_TCP_DEFAULT_STREAM_SEGMENTS, .total_queue = 4096 };
    world w;
    world_init(&w, &lim, NULL, 0);
    conn *a = conn_new(&w, 40000), *bb = conn_new(&w, 40001);
    handshake(&w, a, CISN, SISN);
    handshake(&w, bb, CISN, SISN);
    const uint32_t b = CISN + 1;
    for (uint32_t off = 100; off < 3100; off += 1000)
        cdata(&w, a, b + off, block(off, 1000)); /* A: 3000 wait */
    cdata(&w, bb, b + 100, block(100, 1000));     /* B: 1000 wait: 4000 */
    CHECK(w.t.st.queued == 4000);
    cdata(&w, bb, b + 1100, block(1100, 1000));   /* 5000 > 4096 */
    CHECK_STR(sb_str(&bb->all), "OOO/0/1101 GAP/0/100 D0:1000 D0:1000");
    CHECK(w.t.st.queue_full == 1 && w.t.st.queued == 3000);
    /* B again, with nothing of its own queued: 3000 + 1100 does not fit, so
     * it gives up its new hole at once. */
    cdata(&w, bb, b + 2600, block(2600, 1100));
    CHECK_STR(sb_str(&bb->all), "OOO/0/1101 GAP/0/100 D0:1000 D0:1000 GAP/0/500 D0:1100");
    CHECK(w.t.st.queue_full == 2 && w.t.st.queued == 3000);
    /* A's stream is intact once its hole is filled. */
    cdata(&w, a, b, block(0, 100));
    const uint32_t runs[][2] = { { 0, 3100 } };
    CHECK(stream_is(&a->data[0], runs, 1));
    CHECK(a->counts[LT_TCPE_GAP] == 0 && tcp_of(a)->half[0].gaps == 0);
    CHECK(w.t.st.queued == 0 && w.t.st.queued_peak <= 4096);
    world_free(&w);
}

/* The flow table's memory cap refuses a segment: handled like a full queue. */
static void test_flow_mem_refused(void)
{
    world w;
    world_init(&w, NULL, NULL, 0);
    size_t mem0 = w.mem0;
    world_free(&w);
    lt_flow_limits fl;
    lt_flow_default_limits(&fl);
    fl.mem = mem0 + sizeof(lt_flow) + sizeof(lt_tcp_conn) + 1500;
    world_init(&w, NULL, &fl, 0);
    conn *c = conn_new(&w, 40000);
    handshake(&w, c, CISN, SISN);
    const uint32_t b = CISN + 1;
    cdata(&w, c, b + 100, block(100, 1000));
    cdata(&w, c, b + 1100, block(1100, 1000)); /* refused by the table */
    CHECK_STR(sb_str(&c->all), "OOO/0/1101 GAP/0/100 D0:1000 D0:1000");
    CHECK(w.t.st.queue_full == 1);
    CHECK(lt_flow_stats_get(w.ft)->mem <= fl.mem);
    world_free(&w);
}

/* Keep-alives: 0 or 1 byte at next-1 are not data and not retransmissions. */
static void test_keepalive(void)
{
    world w;
    world_init(&w, NULL, NULL, 0);
    conn *c = conn_new(&w, 40000);
    handshake(&w, c, CISN, SISN);
    cdata(&w, c, CISN + 1, span(REF, 0, 10));
    clear_logs(c);
    send_seg(&w, c, 1, CISN + 10, SISN + 1, A, "", 0);
    send_seg(&w, c, 1, CISN + 10, SISN + 1, A, "j", 1);   /* the old byte */
    send_seg(&w, c, 1, CISN + 10, SISN + 1, A, "\0", 1);  /* a garbage byte */
    send_seg(&w, c, 0, SISN, CISN + 11, A, "", 0);         /* before any data */
    send_seg(&w, c, 0, SISN, CISN + 11, A, "\0", 1);
    CHECK_STR(sb_str(&c->all), "");
    CHECK(tcp_of(c)->half[0].retransmits == 0 && tcp_of(c)->half[1].retransmits == 0);
    /* Two old bytes are a retransmission; the stream goes on. */
    send_seg(&w, c, 1, CISN + 9, SISN + 1, A, "ij", 2);
    cdata(&w, c, CISN + 11, "k");
    CHECK_STR(sb_str(&c->all), "RETX/0/1009 D0:1");
    CHECK_STR(sb_str(&c->data[0]), "abcdefghijk");
    CHECK_STR(sb_str(&c->data[1]), "");
    world_free(&w);
}

/* A zero window is reported once until the window opens again. */
static void test_zero_window(void)
{
    world w;
    world_init(&w, NULL, NULL, 0);
    conn *c = conn_new(&w, 40000);
    handshake(&w, c, CISN, SISN);
    cdata(&w, c, CISN + 1, "abc");
    send_cut(&w, c, 0, SISN + 1, CISN + 4, A, 0, "", 0, ALL);
    send_cut(&w, c, 0, SISN + 1, CISN + 4, A, 0, "", 0, ALL);
    send_cut(&w, c, 1, CISN + 3, SISN + 1, A, 512, "", 0, ALL); /* probe */
    send_cut(&w, c, 0, SISN + 1, CISN + 4, A, 0, "", 0, ALL);
    CHECK_STR(sb_str(&c->ev), "ZWIN/1/5001");
    send_cut(&w, c, 0, SISN + 1, CISN + 4, A, 8192, "", 0, ALL);
    send_cut(&w, c, 0, SISN + 1, CISN + 4, A, 0, "", 0, ALL);
    send_cut(&w, c, 1, CISN + 4, SISN + 1, A, 0, "d", 1, ALL);
    CHECK_STR(sb_str(&c->ev), "ZWIN/1/5001 ZWIN/1/5001 ZWIN/0/1004");
    CHECK(tcp_of(c)->half[1].zero_windows == 2 && w.t.st.zero_windows == 3);
    CHECK_STR(sb_str(&c->data[0]), "abcd");
    world_free(&w);
}

/* Segments cut by the snapshot length: captured bytes are delivered, the
 * rest is a gap, in order or out of order. */
static void test_snaplen(void)
{
    world w;
    world_init(&w, NULL, NULL, 0);
    conn *c = conn_new(&w, 40000);
    handshake(&w, c, CISN, SISN);
    const uint32_t b = CISN + 1;
    send_cut(&w, c, 1, b, SISN + 1, A, 65535, block(0, 100), 100, 40);
    cdata(&w, c, b + 100, block(100, 10));
    CHECK_STR(sb_str(&c->all), "D0:40 GAP/0/60 D0:10");
    const uint32_t runs[][2] = { { 0, 40 }, { 100, 10 } };
    CHECK(stream_is(&c->data[0], runs, 2));
    CHECK(tcp_of(c)->half[0].gap_bytes == 60 && tcp_of(c)->half[0].next == b + 110);
    world_free(&w);

    /* A cut segment ahead of a hole: when the hole fills, its uncaptured
     * bytes are a gap at once and what follows is delivered. */
    world_init(&w, NULL, NULL, 0);
    c = conn_new(&w, 40001);
    handshake(&w, c, CISN, SISN);
    send_cut(&w, c, 1, b + 10, SISN + 1, A, 65535, block(10, 100), 100, 40);
    cdata(&w, c, b + 110, block(110, 10));
    cdata(&w, c, b, block(0, 10));
    CHECK_STR(sb_str(&c->all), "OOO/0/1011 OOO/0/1111 D0:10 D0:40 GAP/0/60 D0:10");
    const uint32_t runs2[][2] = { { 0, 50 }, { 110, 10 } };
    CHECK(stream_is(&c->data[0], runs2, 2));
    CHECK(tcp_of(c)->half[0].next == b + 120 && w.t.st.queued == 0);
    world_free(&w);

    /* Headers only (no payload byte captured), out of order. */
    world_init(&w, NULL, NULL, 0);
    c = conn_new(&w, 40002);
    handshake(&w, c, CISN, SISN);
    send_cut(&w, c, 1, b + 100, SISN + 1, A, 65535, block(100, 100), 100, 0);
    send_cut(&w, c, 1, b + 200, SISN + 1, A, 65535, block(200, 100), 100, 0);
    send_cut(&w, c, 1, b, SISN + 1, A, 65535, block(0, 100), 100, 0);
    cdata(&w, c, b + 300, "tail");
    CHECK_STR(sb_str(&c->all), "OOO/0/1101 OOO/0/1201 GAP/0/100 GAP/0/100 GAP/0/100 D0:4");
    CHECK(tcp_of(c)->half[0].gap_bytes == 300 && tcp_of(c)->half[0].retransmits == 0);
    world_free(&w);

    /* A cut segment in order whose uncaptured bytes reach data that waits:
     * that data came first and is delivered; only the rest is a gap. */
    world_init(&w, NULL, NULL, 0);
    c = conn_new(&w, 40004);
    handshake(&w, c, CISN, SISN);
    cdata(&w, c, b + 50, block(50, 10));
    send_cut(&w, c, 1, b, SISN + 1, A, 65535, block(0, 100), 100, 40);
    CHECK_STR(sb_str(&c->all), "OOO/0/1051 D0:40 GAP/0/10 D0:10 GAP/0/40");
    const uint32_t runs3[][2] = { { 0, 40 }, { 50, 10 } };
    CHECK(stream_is(&c->data[0], runs3, 2));
    CHECK(tcp_of(c)->half[0].next == b + 100 && tcp_of(c)->half[0].gap_bytes == 50);
    world_free(&w);

    /* A cut segment that waits, repeated (a retransmission), then repeated
     * whole: the bytes first seen uncaptured stay a gap (first arrival wins). */
    world_init(&w, NULL, NULL, 0);
    c = conn_new(&w, 40005);
    handshake(&w, c, CISN, SISN);
    send_cut(&w, c, 1, b + 10, SISN + 1, A, 65535, block(10, 100), 100, 40);
    send_cut(&w, c, 1, b + 10, SISN + 1, A, 65535, block(10, 100), 100, 40);
    send_cut(&w, c, 1, b + 10, SISN + 1, A, 65535, block(10, 100), 100, ALL);
    CHECK(lt_flow_stats_get(w.ft)->mem == w.mem0 + sizeof(lt_flow) + sizeof(lt_tcp_conn) +
                                              2 * sizeof(lt_tcp_seg) + 40);
    CHECK(tcp_of(c)->half[0].queued == 40 + sizeof(lt_tcp_seg));
    cdata(&w, c, b, block(0, 10));
    CHECK_STR(sb_str(&c->all), "OOO/0/1011 RETX/0/1011 RETX/0/1011 D0:10 D0:40 GAP/0/60");
    world_free(&w);

    /* Lost pieces count against the cap (their header), so a run of
     * headers-only segments ahead of a hole is bounded. */
    lt_tcp_limits small = { .stream_queue = 64, .stream_segments = LT_TCP_DEFAULT_STREAM_SEGMENTS, .total_queue = LT_TCP_DEFAULT_TOTAL_QUEUE };
    world_init(&w, &small, NULL, 0);
    c = conn_new(&w, 40006);
    handshake(&w, c, CISN, SISN);
    for (uint32_t off = 100; off < 400; off += 100)
        send_cut(&w, c, 1, b + off, SISN + 1, A, 65535, block(off, 100), 100, 0);
    CHECK_STR(sb_str(&c->all),
              "OOO/0/1101 OOO/0/1201 GAP/0/100 GAP/0/100 GAP/0/100 GAP/0/100");
    CHECK(w.t.st.queue_full == 1 && tcp_of(c)->half[0].next == b + 400);
    world_free(&w);

    /* Flushing a cut segment that waits reports its uncaptured bytes. */
    world_init(&w, NULL, NULL, 0);
    c = conn_new(&w, 40003);
    handshake(&w, c, CISN, SISN);
    send_cut(&w, c, 1, b + 10, SISN + 1, A, 65535, block(10, 100), 100, 30);
    lt_tcp_flush(&w.t, c->f);
    CHECK_STR(sb_str(&c->all), "OOO/0/1011 GAP/0/10 D0:30 GAP/0/70");
    CHECK(tcp_of(c)->half[0].next == b + 110);
    world_free(&w);
}

/* ---- randomized ---- */

static uint64_t rng_state;

static uint64_t rnd(void)
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static uint32_t rnd_below(uint32_t n)
{
    return (uint32_t)(rnd() % n);
}

typedef struct sendop {
    int from_client;
    uint32_t off, len; /* in the direction's stream; len 0 with fin: the FIN */
    uint32_t cap;      /* payload bytes captured (ALL: every one) */
    int fin;
} sendop;

#define STREAM (64u * 1024)

typedef struct rstats {
    uint64_t rounds, sent, ooo, retx, gaps, gap_bytes, queue_full;
    size_t peak;
} rstats;

/* A random 64 KiB stream each way, in random segments, shuffled, with
 * duplicates and overlapping same-byte segments; FINs among them.
 * Clean: the caps are large and nothing is lost. The delivered bytes must be
 * the streams, with no gap or overlap event, and CLOSED exactly once, after
 * everything was delivered.
 * Hostile: some segments are lost, some cut by the snapshot length, and the
 * per-direction cap is small. Every delivery must still be the stream at
 * its offset (counting the gaps before it), all bytes must be accounted for
 * (delivered or gap) by the end, and no overlap is ever reported. */
static void random_round(uint64_t seed, int round, int hostile, rstats *rs)
{
    rng_state = seed;
    uint8_t *stream[2];
    uint32_t isn[2];
    for (int d = 0; d < 2; d++) {
        stream[d] = malloc(STREAM);
        if (!stream[d])
            abort();
        for (uint32_t i = 0; i < STREAM; i++)
            stream[d][i] = (uint8_t)rnd();
        /* Every other round starts just below the wrap. */
        isn[d] = round % 2 ? (uint32_t)(0xFFFFFFFFu - rnd_below(3 * STREAM)) : (uint32_t)rnd();
    }
    size_t cap = 1024, n = 0;
    sendop *ops = malloc(cap * sizeof *ops);
    if (!ops)
        abort();
    for (int d = 0; d < 2; d++) {
        for (uint32_t off = 0; off < STREAM;) {
            if (n + 4 > cap) {
                cap *= 2;
                sendop *more = realloc(ops, cap * sizeof *ops);
                if (!more)
                    abort();
                ops = more;
            }
            uint32_t len = 1 + rnd_below(1460);
            if (len > STREAM - off)
                len = STREAM - off;
            uint32_t c = hostile && rnd_below(6) == 0 ? rnd_below(len + 1) : ALL;
            if (!hostile || rnd_below(20) != 0) /* hostile: 1 in 20 lost */
                ops[n++] = (sendop){ d == 0, off, len, c, 0 };
            if (rnd_below(8) == 0) /* duplicate */
                ops[n++] = (sendop){ d == 0, off, len, ALL, 0 };
            if (rnd_below(4) == 0) { /* an overlapping segment, same bytes */
                uint32_t a = off > 700 ? off - rnd_below(700) : 0;
                uint32_t l = 1 + rnd_below(2000);
                if (l > STREAM - a)
                    l = STREAM - a;
                ops[n++] = (sendop){ d == 0, a, l, ALL, 0 };
            }
            off += len;
        }
        ops[n++] = (sendop){ d == 0, STREAM, 0, ALL, 1 };
    }
    /* Reorder: a full shuffle in even rounds, a local one (displacement
     * up to 8) in odd rounds. */
    if (round % 2 == 0) {
        for (size_t i = n - 1; i > 0; i--) {
            size_t j = rnd_below((uint32_t)(i + 1));
            sendop t = ops[i];
            ops[i] = ops[j];
            ops[j] = t;
        }
    } else {
        for (size_t i = 0; i + 1 < n; i++) {
            size_t j = i + rnd_below(8);
            if (j >= n)
                j = n - 1;
            sendop t = ops[i];
            ops[i] = ops[j];
            ops[j] = t;
        }
    }
    lt_tcp_limits lim = { .stream_queue = LT_TCP_DEFAULT_STREAM_QUEUE, .stream_segments = LT_TCP_DEFAULT_STREAM_SEGMENTS, .total_queue = LT_TCP_DEFAULT_TOTAL_QUEUE };
    if (hostile)
        lim.stream_queue = 2000 + rnd_below(20000);
    world w;
    world_init(&w, &lim, NULL, round % 3 == 0 ? LT_LINK_RAW : 0);
    conn *c = conn_new(&w, (uint16_t)(30000 + round));
    c->quiet = 1;
    c->expect[0] = stream[0];
    c->expect[1] = stream[1];
    c->expect_len = STREAM;
    send_seg(&w, c, 1, isn[0], 0, S, "", 0);
    send_seg(&w, c, 0, isn[1], isn[0] + 1, S | A, "", 0);
    send_seg(&w, c, 1, isn[0] + 1, isn[1] + 1, A, "", 0);
    for (size_t i = 0; i < n; i++) {
        int d = ops[i].from_client ? 0 : 1;
        uint32_t seq = isn[d] + 1 + ops[i].off, ack = isn[!d] + 1;
        if (ops[i].fin)
            send_seg(&w, c, ops[i].from_client, seq, ack, F | A, "", 0);
        else
            send_cut(&w, c, ops[i].from_client, seq, ack, A, 65535, stream[d] + ops[i].off,
                     ops[i].len, ops[i].cap);
    }
    lt_tcp_flush(&w.t, c->f);
    int ok = c->mismatches == 0 && c->pos[0] == STREAM && c->pos[1] == STREAM;
    if (!hostile)
        for (int d = 0; d < 2; d++)
            if (c->data[d].n != STREAM || memcmp(c->data[d].p, stream[d], STREAM) != 0)
                ok = 0;
    if (!ok)
        fprintf(stderr, "random %s round %d (seed %llu): %llu mismatches, accounted %llu/%llu "
                "bytes, delivered %zu/%zu\n", hostile ? "hostile" : "clean", round,
                (unsigned long long)seed, (unsigned long long)c->mismatches,
                (unsigned long long)c->pos[0], (unsigned long long)c->pos[1], c->data[0].n,
                c->data[1].n);
    CHECK(ok);
    CHECK(c->counts[LT_TCPE_OVERLAP] == 0);
    CHECK(c->counts[LT_TCPE_ESTABLISHED] == 1 && c->counts[LT_TCPE_CLOSED] == 1);
    CHECK(c->pos_at_close[0] == STREAM && c->pos_at_close[1] == STREAM);
    CHECK(c->counts[LT_TCPE_RESET] == 0 && c->counts[LT_TCPE_SYN_RETRY] == 0);
    CHECK(w.t.st.queued == 0);
    if (!hostile) {
        CHECK(c->counts[LT_TCPE_GAP] == 0 && w.t.st.gaps == 0);
        CHECK(c->delivered_at_close[0] == STREAM && c->delivered_at_close[1] == STREAM);
    } else {
        CHECK(w.t.st.queued_peak <= 2 * (size_t)lim.stream_queue);
    }
    rs->rounds++;
    rs->sent += n;
    rs->ooo += c->counts[LT_TCPE_OUT_OF_ORDER];
    rs->retx += c->counts[LT_TCPE_RETRANSMIT];
    rs->gaps += w.t.st.gaps;
    rs->gap_bytes += w.t.st.gap_bytes;
    rs->queue_full += w.t.st.queue_full;
    if (w.t.st.queued_peak > rs->peak)
        rs->peak = w.t.st.queued_peak;
    world_free(&w);
    free(ops);
    free(stream[0]);
    free(stream[1]);
}

static void test_random(void)
{
    uint64_t seed = 20240607;
    const char *env = getenv("LT_TEST_SEED");
    if (env && *env)
        seed = strtoull(env, NULL, 10);
    printf("random: seed %llu (set LT_TEST_SEED to change)\n", (unsigned long long)seed);
    for (int hostile = 0; hostile < 2; hostile++) {
        rstats rs = { 0 };
        for (int round = 0; round < 12; round++)
            random_round(seed + (uint64_t)round * 7919 + (uint64_t)hostile * 104729, round,
                         hostile, &rs);
        printf("random %s: %llu rounds, %llu segments, %llu out of order, %llu retransmissions, "
               "%llu gaps (%llu bytes), %llu queue full, peak queue %zu bytes\n",
               hostile ? "hostile" : "clean", (unsigned long long)rs.rounds,
               (unsigned long long)rs.sent, (unsigned long long)rs.ooo,
               (unsigned long long)rs.retx, (unsigned long long)rs.gaps,
               (unsigned long long)rs.gap_bytes, (unsigned long long)rs.queue_full, rs.peak);
    }
}

int main(void)
{
    test_client_of();
    test_in_order(LT_LINK_EN10MB);
    test_in_order(LT_LINK_RAW);
    test_reorder();
    test_overlaps();
    test_wrap();
    test_syn();
    test_midstream();
    test_reset();
    test_segment_cap();
    test_simultaneous_open();
    test_fin();
    test_gap();
    test_fin_gap();
    test_stream_cap();
    test_total_cap();
    test_flow_mem_refused();
    test_keepalive();
    test_zero_window();
    test_snaplen();
    test_random();
    if (failures)
        fprintf(stderr, "%d checks failed\n", failures);
    else
        printf("test_tcp: all checks passed\n");
    return failures ? 1 : 0;
}
