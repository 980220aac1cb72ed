/*
 * defrag.c — IPv4 and IPv6 fragment reassembly (contract in defrag.h).
 *
 * A pending datagram holds its payload as a list of disjoint pieces sorted by
 * offset. A fragment stores only the bytes that no earlier fragment brought
 * (first arrival wins), so the datagram is complete exactly when its last
 * fragment has arrived and the pieces add up to its end; nothing past that
 * end is ever held. One fragment adds at most one piece per hole it fills,
 * so a datagram of n fragments has fewer than 2n pieces.
 *
 * Datagrams sit in a hash table keyed with SipHash-2-4 under a random key
 * (hash.c), and on one list in order of creation, i.e. of their first
 * fragment's time: the head is both the next to time out and the first to
 * be evicted. Memory charged against limits.mem: the bucket array, and per
 * datagram its state, its stored header and its pieces (each allocation
 * with ALLOC_SLOP bytes for the allocator). The output buffer is not
 * charged: there is one, of at most 65,535 + 40 bytes.
 *
 * Every byte of a packet is read within [l3_off, l3_off + IP length), which
 * is first checked against caplen; nothing of decode.c beyond the lt_ip
 * fields is relied on (the IPv6 fragment header is found by walking the
 * extension headers here).
 */
#include "defrag.h"
#include "hash.h"

#include <stdlib.h>
#include <string.h>

#define IP_MAXLEN 65535u         /* IPv4 total length, IPv6 payload length */
#define ALLOC_SLOP 16u           /* allocator overhead charged per allocation */
#define START_BUCKETS 256u

typedef struct piece {
    struct piece *next;
    uint32_t off, len;           /* within the fragmentable payload */
    uint8_t data[];
} piece;

/* Hashed and compared as bytes: every byte, padding included, is set. */
typedef struct dkey {
    uint8_t version, proto;      /* proto: IPv4 only, 0 for IPv6 */
    uint8_t pad[2];
    uint32_t id;
    uint8_t src[16], dst[16];    /* IPv4 in the first 4 bytes, rest zero */
} dkey;

typedef struct dgram {
    dkey key;
    uint64_t hash;
    struct dgram *hnext;         /* bucket chain */
    struct dgram *prev, *next;   /* creation order, oldest first */
    double first;                /* time of the first fragment */
    piece *pieces;
    uint8_t *hdr;                /* from the offset-0 fragment, or NULL */
    uint32_t hdr_len;            /* IPv4 header; IPv6 unfragmentable part */
    uint32_t nh_pos;             /* IPv6: next-header byte that said 44 */
    uint8_t frag_next;           /* IPv6: the fragment header's next header */
    uint8_t have_last;
    uint32_t end;                /* payload length, once have_last */
    uint32_t max_end;            /* furthest payload byte seen */
    uint32_t held;               /* payload bytes in pieces */
    uint32_t nfrags;             /* fragments accepted */
    size_t mem;                  /* bytes charged for this datagram */
} dgram;

struct lt_defrag {
    lt_defrag_limits lim;
    lt_hash_key hkey;
    dgram **buckets;
    size_t nbuckets;             /* power of two */
    dgram *oldest, *newest;
    lt_defrag_stats st;
    lt_defrag_overlap_fn on_overlap;
    void *ud;
    uint8_t *out;                /* the last reassembled datagram */
    size_t out_cap;
};

/* One fragment, as read from a packet. */
typedef struct frag {
    dkey key;
    uint32_t off, len;           /* payload range it carries */
    const uint8_t *data;         /* len bytes */
    int last;                    /* MF clear */
    const uint8_t *hdr;          /* see dgram.hdr */
    uint32_t hdr_len, nh_pos;
    uint8_t frag_next;
    uint32_t limit;              /* largest payload end allowed */
} frag;

enum { FRAG_OK, FRAG_INVALID, FRAG_CUT };

#define DGRAM_COST (sizeof(dgram) + ALLOC_SLOP)
#define PIECE_COST(n) (sizeof(piece) + (n) + ALLOC_SLOP)

/* 1 when [off, off + n) lies within `len` bytes; cannot overflow. */
static int span(uint32_t len, uint32_t off, uint32_t n)
{
    return off <= len && n <= len - off;
}

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)((uint16_t)p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put16(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void charge(lt_defrag *d, size_t n)
{
    d->st.mem += n;
    if (d->st.mem > d->st.mem_peak)
        d->st.mem_peak = d->st.mem;
}

/* ---- reading a fragment ------------------------------------------------- */

/* Checks that the IP datagram [l3, l3 + total) is all in the frame. */
static int in_frame(const lt_frame *f, uint32_t l3, uint32_t total)
{
    if (span(f->caplen, l3, total))
        return FRAG_OK;
    uint32_t wire = f->len > f->caplen ? f->len : f->caplen;
    return span(wire, l3, total) ? FRAG_CUT : FRAG_INVALID;
}

static int read_ipv4(const lt_packet *p, frag *fr)
{
    const lt_ip *ip = &p->ip;
    const uint8_t *d = p->frame->data;
    uint32_t l3 = p->l3_off, total = ip->total_len, hl = ip->hdr_len;

    if (ip->tso || hl < 20 || total < hl || total > IP_MAXLEN)
        return FRAG_INVALID;
    int r = in_frame(p->frame, l3, total);
    if (r != FRAG_OK)
        return r;
    if (d[l3] >> 4 != 4 || (uint32_t)(d[l3] & 0x0f) * 4 != hl || get16(d + l3 + 2) != total)
        return FRAG_INVALID;
    uint16_t ff = get16(d + l3 + 6);
    fr->off = (uint32_t)(ff & 0x1fff) * 8;
    fr->last = !(ff & 0x2000);
    if (fr->off == 0 && fr->last)
        return FRAG_INVALID;            /* not a fragment */
    fr->key.version = 4;
    fr->key.proto = d[l3 + 9];
    fr->key.id = get16(d + l3 + 4);
    memcpy(fr->key.src, d + l3 + 12, 4);
    memcpy(fr->key.dst, d + l3 + 16, 4);
    fr->data = d + l3 + hl;
    fr->len = total - hl;
    fr->hdr = d + l3;
    fr->hdr_len = hl;
    fr->limit = IP_MAXLEN - hl;
    return FRAG_OK;
}

/* Finds the first fragment header in the IPv6 packet [l3, end) (end already
 * within caplen), walking the extension headers that may precede it.
 * Sets *fh to its offset and *nhp to the offset of the next-header byte that
 * named it. Returns 0, or -1 when there is none or a header runs past end. */
static int find_frag_hdr(const uint8_t *d, uint32_t l3, uint32_t end, uint32_t *fh, uint32_t *nhp)
{
    uint32_t h = l3 + 40, at = l3 + 6;
    uint8_t next = d[at];

    for (int i = 0; i < LT_MAX_IPV6_EXT; i++) {
        if (next == 44) {
            if (!span(end, h, 8))
                return -1;
            *fh = h;
            *nhp = at;
            return 0;
        }
        if (next != 0 && next != 43 && next != 60 && next != 51)
            return -1;
        if (!span(end, h, 2))
            return -1;
        uint32_t hl = next == 51 ? ((uint32_t)d[h + 1] + 2) * 4 : ((uint32_t)d[h + 1] + 1) * 8;
        if (!span(end, h, hl))
            return -1;
        at = h;
        next = d[h];
        h += hl;
    }
    return -1;
}

static int read_ipv6(const lt_packet *p, frag *fr)
{
    const lt_ip *ip = &p->ip;
    const uint8_t *d = p->frame->data;
    uint32_t l3 = p->l3_off, total = ip->total_len, fh, nhp;

    /* A jumbogram cannot be fragmented (RFC 2675); a payload length of 0
     * (TSO) says nothing about where the fragment ends. */
    if (ip->tso || ip->jumbo || total < 40 || total > 40 + IP_MAXLEN)
        return FRAG_INVALID;
    int r = in_frame(p->frame, l3, total);
    if (r != FRAG_OK)
        return r;
    if (d[l3] >> 4 != 6 || 40u + get16(d + l3 + 4) != total)
        return FRAG_INVALID;
    if (find_frag_hdr(d, l3, l3 + total, &fh, &nhp) != 0)
        return FRAG_INVALID;
    uint16_t fo = get16(d + fh + 2);
    fr->off = fo & 0xfff8u;
    fr->last = !(fo & 1);
    if (fr->off == 0 && fr->last)
        return FRAG_INVALID;            /* atomic fragment: whole already */
    fr->key.version = 6;
    fr->key.id = get32(d + fh + 4);
    memcpy(fr->key.src, d + l3 + 8, 16);
    memcpy(fr->key.dst, d + l3 + 24, 16);
    fr->data = d + fh + 8;
    fr->len = l3 + total - (fh + 8);
    fr->hdr = d + l3;
    fr->hdr_len = fh - l3;
    fr->nh_pos = nhp - l3;
    fr->frag_next = d[fh];
    fr->limit = IP_MAXLEN - (fr->hdr_len - 40);
    return FRAG_OK;
}

static int read_frag(const lt_packet *p, frag *fr)
{
    memset(fr, 0, sizeof *fr);
    if (!p || !p->frame || !p->frame->data || !p->ip.is_fragment)
        return FRAG_INVALID;
    if (p->l3 == LT_L3_IPV4 && p->ip.version == 4)
        return read_ipv4(p, fr);
    if (p->l3 == LT_L3_IPV6 && p->ip.version == 6 && p->ip.has_frag_hdr)
        return read_ipv6(p, fr);
    return FRAG_INVALID;
}

/* ---- datagrams: hash table and age list --------------------------------- */

static void free_pieces(piece *pc)
{
    for (piece *n; pc; pc = n) {
        n = pc->next;
        free(pc);
    }
}

static dgram *lookup(const lt_defrag *d, const dkey *k, uint64_t h)
{
    for (dgram *g = d->buckets[h & (d->nbuckets - 1)]; g; g = g->hnext)
        if (g->hash == h && memcmp(&g->key, k, sizeof *k) == 0)
            return g;
    return NULL;
}

static void drop_dgram(lt_defrag *d, dgram *g)
{
    dgram **pp = &d->buckets[g->hash & (d->nbuckets - 1)];
    while (*pp && *pp != g)
        pp = &(*pp)->hnext;
    if (*pp)
        *pp = g->hnext;
    if (g->prev)
        g->prev->next = g->next;
    else
        d->oldest = g->next;
    if (g->next)
        g->next->prev = g->prev;
    else
        d->newest = g->prev;
    free_pieces(g->pieces);
    free(g->hdr);
    d->st.mem -= g->mem;
    d->st.pending--;
    free(g);
}

/* Doubles the bucket array when datagrams outnumber buckets, if the memory
 * cap leaves room for it; a full cap only makes chains longer. */
static void maybe_grow(lt_defrag *d)
{
    if (d->st.pending <= d->nbuckets)
        return;
    size_t oldbytes = d->nbuckets * sizeof *d->buckets;
    if (d->st.mem > d->lim.mem || oldbytes > d->lim.mem - d->st.mem)
        return;
    size_t n = d->nbuckets * 2;
    dgram **b = calloc(n, sizeof *b);
    if (!b)
        return;
    for (size_t i = 0; i < d->nbuckets; i++) {
        for (dgram *g = d->buckets[i], *next; g; g = next) {
            next = g->hnext;
            g->hnext = b[g->hash & (n - 1)];
            b[g->hash & (n - 1)] = g;
        }
    }
    free(d->buckets);
    d->buckets = b;
    d->nbuckets = n;
    charge(d, oldbytes);
}

static dgram *new_dgram(lt_defrag *d, const dkey *k, uint64_t h, double now)
{
    dgram *g = calloc(1, sizeof *g);
    if (!g)
        return NULL;
    g->key = *k;
    g->hash = h;
    g->first = now;
    size_t b = h & (d->nbuckets - 1);
    g->hnext = d->buckets[b];
    d->buckets[b] = g;
    g->prev = d->newest;
    if (d->newest)
        d->newest->next = g;
    else
        d->oldest = g;
    d->newest = g;
    g->mem = DGRAM_COST;
    charge(d, DGRAM_COST);
    d->st.pending++;
    return g;
}

/* Makes room for `cost` more bytes by evicting the oldest datagrams other
 * than `keep`. Evicts nothing and returns 0 when even that would not do. */
static int make_room(lt_defrag *d, const dgram *keep, size_t cost)
{
    size_t pinned = d->nbuckets * sizeof *d->buckets + (keep ? keep->mem : 0);
    if (cost > d->lim.mem || pinned > d->lim.mem - cost)
        return 0;
    while (d->st.mem > d->lim.mem - cost) {
        dgram *v = d->oldest;
        if (v == keep)
            v = v->next;
        if (!v)
            return 0;                   /* not reached: pinned fits */
        d->st.evicted++;
        drop_dgram(d, v);
    }
    return 1;
}

/* ---- pieces ------------------------------------------------------------- */

typedef struct scan_res {
    size_t cost;                 /* bytes the new pieces would take */
    int overlap, diff;
    uint32_t diff_off;           /* first differing byte, when diff */
} scan_res;

/* Walks the fragment's range [off, off + len) over the pieces held. With
 * `add` NULL: fills *r (cost of the holes it fills, overlaps and the first
 * differing byte). Otherwise: allocates a piece per hole, copies its bytes
 * and returns them sorted in *add; -1 when malloc fails (nothing kept). */
static int scan(const dgram *g, const frag *fr, scan_res *r, piece **add)
{
    uint32_t pos = fr->off, end = fr->off + fr->len;
    piece **tail = add;
    const piece *pc = g ? g->pieces : NULL;

    if (r)
        memset(r, 0, sizeof *r);
    for (;;) {
        while (pc && pc->off + pc->len <= pos)
            pc = pc->next;
        if (pos >= end)
            break;
        uint32_t hole_end = pc && pc->off < end ? pc->off : end;
        if (hole_end > pos) {
            uint32_t n = hole_end - pos;
            if (r)
                r->cost += PIECE_COST(n);
            if (add) {
                piece *np = malloc(PIECE_COST(n) - ALLOC_SLOP);
                if (!np) {
                    free_pieces(*add);
                    *add = NULL;
                    return -1;
                }
                np->next = NULL;
                np->off = pos;
                np->len = n;
                memcpy(np->data, fr->data + (pos - fr->off), n);
                *tail = np;
                tail = &np->next;
            }
            pos = hole_end;
            continue;
        }
        /* pc covers pos: the fragment overlaps bytes already held. */
        uint32_t oe = pc->off + pc->len < end ? pc->off + pc->len : end;
        if (r) {
            const uint8_t *mine = fr->data + (pos - fr->off);
            const uint8_t *held = pc->data + (pos - pc->off);
            r->overlap = 1;
            if (!r->diff && memcmp(mine, held, oe - pos) != 0) {
                uint32_t i = 0;
                while (mine[i] == held[i])
                    i++;
                r->diff = 1;
                r->diff_off = pos + i;
            }
        }
        pos = oe;
    }
    return 0;
}

/* Links the sorted pieces `add` (disjoint from those held) into g. */
static void merge(dgram *g, piece *add)
{
    piece **pp = &g->pieces;
    while (add) {
        piece *next = add->next;
        while (*pp && (*pp)->off < add->off)
            pp = &(*pp)->next;
        add->next = *pp;
        *pp = add;
        pp = &add->next;
        g->held += add->len;
        add = next;
    }
}

/* ---- output ------------------------------------------------------------- */

static uint16_t ipv4_csum(const uint8_t *h, uint32_t n)
{
    uint32_t s = 0;
    for (uint32_t i = 0; i + 1 < n; i += 2)
        s += get16(h + i);
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return (uint16_t)~s;
}

/* Writes the complete datagram g into d->out. Returns its length, or 0 when
 * it is too long (the first fragment's header plus the payload) or the
 * buffer cannot grow. */
static uint32_t build(lt_defrag *d, const dgram *g, int *invalid)
{
    uint32_t limit = g->key.version == 4 ? IP_MAXLEN : IP_MAXLEN + 40;
    *invalid = g->hdr_len > limit || g->end > limit - g->hdr_len;
    if (*invalid)
        return 0;
    uint32_t n = g->hdr_len + g->end;
    if (n > d->out_cap) {
        uint8_t *b = realloc(d->out, n);
        if (!b)
            return 0;
        d->out = b;
        d->out_cap = n;
    }
    uint8_t *o = d->out;
    memcpy(o, g->hdr, g->hdr_len);
    for (const piece *pc = g->pieces; pc; pc = pc->next)
        memcpy(o + g->hdr_len + pc->off, pc->data, pc->len);
    if (g->key.version == 4) {
        put16(o + 2, n);
        put16(o + 6, get16(o + 6) & 0xc000u);   /* keep RF and DF */
        put16(o + 10, 0);
        put16(o + 10, ipv4_csum(o, g->hdr_len));
    } else {
        put16(o + 4, n - 40);
        o[g->nh_pos] = g->frag_next;
    }
    return n;
}

/* ---- public ------------------------------------------------------------- */

lt_defrag *lt_defrag_new(const lt_defrag_limits *limits)
{
    lt_defrag *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->lim.mem = limits && limits->mem ? limits->mem : LT_DEFRAG_DEFAULT_MEM;
    d->lim.timeout = limits && limits->timeout > 0 ? limits->timeout : LT_DEFRAG_DEFAULT_TIMEOUT;
    d->lim.max_frags = limits && limits->max_frags ? limits->max_frags : LT_DEFRAG_DEFAULT_MAX_FRAGS;
    d->hkey = lt_hash_random_key();
    d->nbuckets = START_BUCKETS;
    while (d->nbuckets > 1 && d->nbuckets * sizeof *d->buckets > d->lim.mem / 8)
        d->nbuckets /= 2;
    d->buckets = calloc(d->nbuckets, sizeof *d->buckets);
    if (!d->buckets) {
        free(d);
        return NULL;
    }
    charge(d, d->nbuckets * sizeof *d->buckets);
    return d;
}

void lt_defrag_free(lt_defrag *d)
{
    if (!d)
        return;
    while (d->oldest)
        drop_dgram(d, d->oldest);
    free(d->buckets);
    free(d->out);
    free(d);
}

void lt_defrag_on_overlap(lt_defrag *d, lt_defrag_overlap_fn fn, void *ud)
{
    d->on_overlap = fn;
    d->ud = ud;
}

void lt_defrag_expire(lt_defrag *d, double now)
{
    while (d->oldest && now - d->oldest->first > d->lim.timeout) {
        d->st.timeouts++;
        drop_dgram(d, d->oldest);
    }
}

const lt_defrag_stats *lt_defrag_stats_get(const lt_defrag *d)
{
    return &d->st;
}

/* Refuses the fragment, counting it under `why`. */
static int refuse(lt_defrag *d, uint64_t *why)
{
    d->st.dropped++;
    (*why)++;
    return LT_DEFRAG_DROPPED;
}

/* The fragment makes its datagram invalid: both go. */
static int discard(lt_defrag *d, dgram *g)
{
    if (g) {
        d->st.discarded++;
        drop_dgram(d, g);
    }
    return refuse(d, &d->st.invalid);
}

int lt_defrag_add(lt_defrag *d, const lt_packet *p, double now,
                  const uint8_t **out, uint32_t *outlen)
{
    frag fr;
    scan_res sr;

    if (out)
        *out = NULL;
    if (outlen)
        *outlen = 0;
    d->st.fragments++;
    lt_defrag_expire(d, now);

    int r = read_frag(p, &fr);
    if (r != FRAG_OK)
        return refuse(d, r == FRAG_CUT ? &d->st.cut : &d->st.invalid);

    uint64_t h = lt_siphash(&d->hkey, &fr.key, sizeof fr.key);
    dgram *g = lookup(d, &fr.key, h);
    uint32_t fend = fr.off + fr.len;    /* <= 65528 + 65535: no overflow */
    if (fend > fr.limit)
        return discard(d, g);
    if (g) {
        if (g->nfrags >= d->lim.max_frags)
            return discard(d, g);
        if (fr.last ? (g->have_last ? fend != g->end : fend < g->max_end)
                    : (g->have_last && fend > g->end))
            return discard(d, g);
    }

    scan(g, &fr, &sr, NULL);
    int want_hdr = fr.off == 0 && !(g && g->hdr);
    size_t cost = sr.cost + (g ? 0 : DGRAM_COST) + (want_hdr ? fr.hdr_len + ALLOC_SLOP : 0);
    if (!make_room(d, g, cost))
        return refuse(d, &d->st.nomem);

    piece *add = NULL;
    uint8_t *hdr = NULL;
    if (sr.cost && scan(g, &fr, NULL, &add) != 0)
        return refuse(d, &d->st.nomem);
    if ((want_hdr && !(hdr = malloc(fr.hdr_len))) ||
        (!g && !(g = new_dgram(d, &fr.key, h, now)))) {
        free(hdr);
        free_pieces(add);
        return refuse(d, &d->st.nomem);
    }

    merge(g, add);
    g->mem += sr.cost;
    charge(d, sr.cost);
    if (hdr) {
        memcpy(hdr, fr.hdr, fr.hdr_len);
        g->hdr = hdr;
        g->hdr_len = fr.hdr_len;
        g->nh_pos = fr.nh_pos;
        g->frag_next = fr.frag_next;
        g->mem += fr.hdr_len + ALLOC_SLOP;
        charge(d, fr.hdr_len + ALLOC_SLOP);
    }
    g->nfrags++;
    if (fend > g->max_end)
        g->max_end = fend;
    if (fr.last) {
        g->have_last = 1;
        g->end = fend;
    }
    maybe_grow(d);

    if (sr.overlap) {
        d->st.overlaps++;
        if (sr.diff) {
            d->st.overlap_diff++;
            if (d->on_overlap)
                d->on_overlap(d->ud, g->key.version, g->key.id, g->key.src,
                              g->key.dst, sr.diff_off);
        }
    }

    if (!(g->have_last && g->hdr && g->held == g->end))
        return LT_DEFRAG_HELD;
    int invalid;
    uint32_t n = build(d, g, &invalid);
    if (n == 0) {
        if (invalid)
            return discard(d, g);
        drop_dgram(d, g);
        return refuse(d, &d->st.nomem);
    }
    drop_dgram(d, g);
    d->st.reassembled++;
    if (out)
        *out = d->out;
    if (outlen)
        *outlen = n;
    return LT_DEFRAG_DONE;
}
