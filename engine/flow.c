#include "flow.h"
#include "hash.h"

#include <stdlib.h>
#include <string.h>

#define MIN_BUCKETS 1024u
#define NO_REF (-2) /* LUA_NOREF, without including Lua here */

typedef struct flow_list {
    lt_flow *head, *tail;
} flow_list;

struct lt_flow_table {
    lt_flow_limits lim;
    lt_hash_key hkey;
    lt_flow **buckets;
    size_t nbuckets;          /* power of two */
    flow_list lists[LT_FC_COUNT];
    uint64_t next_id[256];    /* per IP protocol */
    lt_flow_stats st;
    lt_flow_end_fn on_end;
    void *ud;
};

void lt_flow_default_limits(lt_flow_limits *lim)
{
    lim->mem = LT_FLOW_DEFAULT_MEM;
    lim->timeout[LT_FC_TCP_OPENING] = 60;
    lim->timeout[LT_FC_TCP_ESTABLISHED] = 600;
    lim->timeout[LT_FC_TCP_CLOSING] = 60;
    lim->timeout[LT_FC_UDP_NEW] = 30;
    lim->timeout[LT_FC_UDP_ESTABLISHED] = 300;
    lim->timeout[LT_FC_OTHER] = 60;
}

static void charge(lt_flow_table *t, long delta)
{
    t->st.mem = (size_t)((long)t->st.mem + delta);
    if (t->st.mem > t->st.mem_peak)
        t->st.mem_peak = t->st.mem;
}

/* ---- lists ---- */

static void list_remove(flow_list *l, lt_flow *f)
{
    if (f->prev)
        f->prev->next = f->next;
    else
        l->head = f->next;
    if (f->next)
        f->next->prev = f->prev;
    else
        l->tail = f->prev;
    f->prev = f->next = NULL;
}

static void list_append(flow_list *l, lt_flow *f)
{
    f->prev = l->tail;
    f->next = NULL;
    if (l->tail)
        l->tail->next = f;
    else
        l->head = f;
    l->tail = f;
}

/* ---- hash table ---- */

/* An IPv4 key is hashed as its 14 bytes that can be other than zero:
 * SipHash costs two rounds per 8 bytes, and the whole key is 40. This
 * halved the hash's share of a run (11% of one with no handler). */
static size_t bucket_of(const lt_flow_table *t, const lt_flow_key *key)
{
    uint64_t h;
    if (key->version == 4) {
        uint8_t packed[14];
        memcpy(packed, key->addr[0], 4);
        memcpy(packed + 4, key->addr[1], 4);
        memcpy(packed + 8, key->port, 4);
        packed[12] = key->version;
        packed[13] = key->proto;
        h = lt_siphash(&t->hkey, packed, sizeof packed);
    } else {
        h = lt_siphash(&t->hkey, key, sizeof *key);
    }
    return (size_t)h & (t->nbuckets - 1);
}

static void unlink_hash(lt_flow_table *t, lt_flow *f)
{
    lt_flow **pp = &t->buckets[bucket_of(t, &f->key)];
    while (*pp && *pp != f)
        pp = &(*pp)->hnext;
    if (*pp)
        *pp = f->hnext;
}

/* Doubles the bucket array when flows outnumber buckets twice over, if the
 * cap leaves room; a full cap only makes chains longer, never fails. */
static void maybe_grow(lt_flow_table *t)
{
    if (t->st.active < 2 * t->nbuckets)
        return;
    size_t n = t->nbuckets * 2, bytes = n * sizeof(lt_flow *);
    if (t->st.mem + bytes / 2 > t->lim.mem)
        return;
    lt_flow **b = calloc(n, sizeof *b);
    if (!b)
        return;
    lt_flow **old = t->buckets;
    size_t oldn = t->nbuckets;
    t->buckets = b;
    t->nbuckets = n;
    for (size_t i = 0; i < oldn; i++) {
        for (lt_flow *f = old[i], *next; f; f = next) {
            next = f->hnext;
            size_t k = bucket_of(t, &f->key);
            f->hnext = b[k];
            b[k] = f;
        }
    }
    free(old);
    charge(t, (long)(bytes / 2));
}

/* ---- life cycle ---- */

lt_flow_table *lt_flow_table_new(const lt_flow_limits *lim, lt_flow_end_fn on_end, void *ud)
{
    lt_flow_table *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->lim = *lim;
    t->hkey = lt_hash_random_key();
    t->nbuckets = MIN_BUCKETS;
    t->buckets = calloc(t->nbuckets, sizeof *t->buckets);
    if (!t->buckets) {
        free(t);
        return NULL;
    }
    t->on_end = on_end;
    t->ud = ud;
    charge(t, (long)(t->nbuckets * sizeof *t->buckets));
    return t;
}

void lt_flow_end(lt_flow_table *t, lt_flow *f, int reason)
{
    /* Counted first: the end handlers (udp.end, tcp.end) that on_end runs
     * see this session among those ended in stats(). */
    t->st.active--;
    t->st.ended++;
    if (reason == LT_FLOW_TIMEOUT)
        t->st.timeouts++;
    else if (reason == LT_FLOW_EVICTED)
        t->st.evictions++;
    if (t->on_end)
        t->on_end(t->ud, f, reason);
    unlink_hash(t, f);
    list_remove(&t->lists[f->fclass], f);
    charge(t, -(long)sizeof *f);
    free(f);
}

void lt_flow_end_all(lt_flow_table *t, int reason)
{
    for (int c = 0; c < LT_FC_COUNT; c++)
        while (t->lists[c].head)
            lt_flow_end(t, t->lists[c].head, reason);
}

void lt_flow_table_free(lt_flow_table *t)
{
    if (!t)
        return;
    lt_flow_end_all(t, LT_FLOW_SHUTDOWN);
    free(t->buckets);
    free(t);
}

/* The flow idle longest across all classes, other than `keep`. */
static lt_flow *oldest_idle(lt_flow_table *t, const lt_flow *keep)
{
    lt_flow *best = NULL;
    for (int c = 0; c < LT_FC_COUNT; c++) {
        lt_flow *f = t->lists[c].head;
        if (f && f == keep)
            f = f->next;
        if (f && (!best || f->last < best->last))
            best = f;
    }
    return best;
}

/* Evicts until `need` more bytes fit; -1 if they cannot. */
static int make_room(lt_flow_table *t, size_t need, const lt_flow *keep)
{
    while (t->st.mem + need > t->lim.mem) {
        lt_flow *victim = oldest_idle(t, keep);
        if (!victim)
            return -1;
        lt_flow_end(t, victim, LT_FLOW_EVICTED);
    }
    return 0;
}

lt_flow *lt_flow_create(lt_flow_table *t, const lt_flow_key *key, int client, double now)
{
    if (make_room(t, sizeof(lt_flow), NULL) != 0) {
        t->st.refused++;
        return NULL;
    }
    lt_flow *f = calloc(1, sizeof *f);
    if (!f) {
        t->st.refused++;
        return NULL;
    }
    f->key = *key;
    f->client = (uint8_t)(client ? 1 : 0);
    f->id = t->next_id[key->proto]++;
    f->start = f->last = now;
    f->lua_ref = NO_REF;
    f->fclass = key->proto == 6 ? LT_FC_TCP_OPENING : key->proto == 17 ? LT_FC_UDP_NEW : LT_FC_OTHER;
    size_t b = bucket_of(t, key);
    f->hnext = t->buckets[b];
    t->buckets[b] = f;
    list_append(&t->lists[f->fclass], f);
    t->st.active++;
    t->st.created++;
    charge(t, (long)sizeof *f);
    maybe_grow(t);
    return f;
}

lt_flow *lt_flow_find(lt_flow_table *t, const lt_flow_key *key)
{
    for (lt_flow *f = t->buckets[bucket_of(t, key)]; f; f = f->hnext)
        if (memcmp(&f->key, key, sizeof *key) == 0)
            return f;
    return NULL;
}

void lt_flow_touch(lt_flow_table *t, lt_flow *f, int fclass, double now)
{
    list_remove(&t->lists[f->fclass], f);
    f->fclass = (uint8_t)fclass;
    /* Capture time can step back a little (merged captures); `last` never
     * decreases, and a list slightly out of order only delays an expiry. */
    if (now > f->last)
        f->last = now;
    list_append(&t->lists[fclass], f);
}

void lt_flow_expire(lt_flow_table *t, double now)
{
    for (int c = 0; c < LT_FC_COUNT; c++) {
        flow_list *l = &t->lists[c];
        while (l->head && now - l->head->last > t->lim.timeout[c])
            lt_flow_end(t, l->head, LT_FLOW_TIMEOUT);
    }
}

int lt_flow_charge(lt_flow_table *t, lt_flow *f, long delta)
{
    if (delta > 0 && make_room(t, (size_t)delta, f) != 0)
        return -1;
    charge(t, delta);
    return 0;
}

const lt_flow_stats *lt_flow_stats_get(const lt_flow_table *t)
{
    return &t->st;
}

void lt_flow_walk_start(const lt_flow_table *t, lt_flow_walk *w)
{
    for (int c = 0; c < LT_FC_COUNT; c++)
        w->at[c] = t->lists[c].tail;
}

lt_flow *lt_flow_walk_next(lt_flow_walk *w)
{
    int best = -1;
    for (int c = 0; c < LT_FC_COUNT; c++)
        if (w->at[c] && (best < 0 || w->at[c]->last > w->at[best]->last))
            best = c;
    if (best < 0)
        return NULL;
    lt_flow *f = w->at[best];
    w->at[best] = f->prev;
    return f;
}

/* ---- keys ---- */

static int endpoint_cmp(const uint8_t *a, uint16_t pa, const uint8_t *b, uint16_t pb)
{
    int c = memcmp(a, b, 16);
    if (c)
        return c;
    return pa < pb ? -1 : pa > pb;
}

int lt_flow_key_of(const lt_packet *p, lt_flow_key *key, int *from0)
{
    if (p->l3 != LT_L3_IPV4 && p->l3 != LT_L3_IPV6)
        return -1;
    memset(key, 0, sizeof *key);
    size_t alen = p->ip.version == 4 ? 4 : 16;
    uint8_t src[16] = { 0 }, dst[16] = { 0 };
    memcpy(src, p->ip.src, alen);
    memcpy(dst, p->ip.dst, alen);
    uint16_t sport = 0, dport = 0;
    if (p->l4 == LT_L4_TCP) {
        sport = p->tcp.sport;
        dport = p->tcp.dport;
    } else if (p->l4 == LT_L4_UDP) {
        sport = p->udp.sport;
        dport = p->udp.dport;
    }
    key->version = p->ip.version;
    key->proto = p->ip.proto;
    int src_first = endpoint_cmp(src, sport, dst, dport) <= 0;
    memcpy(key->addr[0], src_first ? src : dst, 16);
    memcpy(key->addr[1], src_first ? dst : src, 16);
    key->port[0] = src_first ? sport : dport;
    key->port[1] = src_first ? dport : sport;
    *from0 = src_first;
    return 0;
}
