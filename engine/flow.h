/*
 * flow.h — the flow table: both directions of a 5-tuple map to one flow.
 *
 * Contract:
 * - Keys are canonical (the smaller endpoint first), hashed with a keyed
 *   SipHash seeded at random per table, so crafted traffic cannot pile
 *   flows into one bucket. IPv4 and IPv6; TCP, UDP and other protocols
 *   (ports 0).
 * - Every flow sits in exactly one timeout list, by class (TCP opening,
 *   established, closing; UDP new, established; other). Each list is kept
 *   in order of last activity, so expiring is O(expired) and evicting the
 *   oldest idle flow is O(classes).
 * - Memory: sizeof(lt_flow) per flow plus whatever the owner charges with
 *   lt_flow_charge() (reassembly buffers) counts against limits.mem. When a
 *   new flow would exceed it, the oldest idle flows are evicted first
 *   (through the end callback, reason LT_FLOW_EVICTED) and counted.
 * - Time is what the caller passes: capture time offline, never wall time.
 * - The table never calls into Lua; the end callback lets the owner report
 *   and free what it attached to a flow before the flow is freed.
 */
#ifndef LUNATAP_FLOW_H
#define LUNATAP_FLOW_H

#include <stddef.h>
#include <stdint.h>

#include "decode.h"

enum lt_flow_class {
    LT_FC_TCP_OPENING, LT_FC_TCP_ESTABLISHED, LT_FC_TCP_CLOSING,
    LT_FC_UDP_NEW, LT_FC_UDP_ESTABLISHED, LT_FC_OTHER, LT_FC_COUNT,
};

enum lt_flow_end { LT_FLOW_CLOSED, LT_FLOW_TIMEOUT, LT_FLOW_EVICTED, LT_FLOW_SHUTDOWN };

typedef struct lt_flow_key {
    uint8_t addr[2][16];   /* IPv4 in the first 4 bytes, rest zero */
    uint16_t port[2];
    uint8_t version, proto;
    uint8_t pad[2];        /* zero: the key is hashed and compared as bytes */
} lt_flow_key;

typedef struct lt_flow {
    lt_flow_key key;
    struct lt_flow *hnext;          /* hash chain */
    struct lt_flow *prev, *next;    /* timeout list of its class */
    uint64_t id;                    /* per protocol, in order of creation */
    double start, last;
    uint64_t pkts[2], bytes[2];     /* [0] from the client, [1] from the server */
    uint64_t payload[2];            /* transport payload bytes seen, per direction */
    uint8_t client;                 /* key endpoint (0 or 1) that is the client */
    uint8_t fclass;
    uint8_t flags;                  /* the dissector framework's (dissect.c) */
    void *ext;                      /* owner's per-flow state (TCP tracker) */
    void *dis;                      /* dissector state (dissect.c), or NULL */
    int lua_ref;                    /* owner's Lua object, or LUA_NOREF (-2) */
} lt_flow;

typedef struct lt_flow_limits {
    size_t mem;                     /* bytes for flows and what owners charge */
    double timeout[LT_FC_COUNT];    /* idle seconds per class */
} lt_flow_limits;

#define LT_FLOW_DEFAULT_MEM ((size_t)128 << 20)

/* Documented defaults (docs/architecture.md). */
void lt_flow_default_limits(lt_flow_limits *lim);

typedef struct lt_flow_stats {
    uint64_t created, ended, timeouts, evictions, refused;
    uint64_t active;
    size_t mem, mem_peak;
} lt_flow_stats;

typedef struct lt_flow_table lt_flow_table;

/* Called before a flow is freed by expiry, eviction or shutdown. */
typedef void (*lt_flow_end_fn)(void *ud, lt_flow *f, int reason);

lt_flow_table *lt_flow_table_new(const lt_flow_limits *lim, lt_flow_end_fn on_end, void *ud);

/* Ends every flow (reason LT_FLOW_SHUTDOWN) and frees the table. */
void lt_flow_table_free(lt_flow_table *t);

/* Builds the canonical key of a decoded IP packet; *dir_a_to_b is 1 when
 * the packet goes from key endpoint 0 to endpoint 1. -1 when the packet has
 * no IP layer. */
int lt_flow_key_of(const lt_packet *p, lt_flow_key *key, int *from0);

/* Finds the flow of `key`, or NULL. */
lt_flow *lt_flow_find(lt_flow_table *t, const lt_flow_key *key);

/* Creates a flow whose client is key endpoint `client` (evicting to make
 * room). NULL when even eviction cannot make room (counted as refused). */
lt_flow *lt_flow_create(lt_flow_table *t, const lt_flow_key *key, int client, double now);

/* Records activity: moves the flow to the tail of `fclass`'s list. */
void lt_flow_touch(lt_flow_table *t, lt_flow *f, int fclass, double now);

/* Ends a flow now (reason given to the end callback) and frees it. */
void lt_flow_end(lt_flow_table *t, lt_flow *f, int reason);

/* Ends every flow, with `reason`; the table stays usable. */
void lt_flow_end_all(lt_flow_table *t, int reason);

/* Ends flows idle longer than their class's timeout. */
void lt_flow_expire(lt_flow_table *t, double now);

/* Adds (or with a negative delta, returns) owner memory for the cap.
 * Returns -1 when a positive charge would exceed the cap even after
 * evicting other idle flows (nothing is charged then). */
int lt_flow_charge(lt_flow_table *t, lt_flow *f, long delta);

const lt_flow_stats *lt_flow_stats_get(const lt_flow_table *t);

/* A walk over the open flows, most recently active first: a merge of the
 * class lists from their tails, by `last` (a list a little out of order,
 * see lt_flow_touch, comes out in its own order). O(classes) a step, no
 * allocation. The table must not change while a walk is under way. */
typedef struct lt_flow_walk {
    lt_flow *at[LT_FC_COUNT];
} lt_flow_walk;

void lt_flow_walk_start(const lt_flow_table *t, lt_flow_walk *w);

/* The next flow, or NULL when all were seen. */
lt_flow *lt_flow_walk_next(lt_flow_walk *w);

/* Direction index of a packet on its flow: 0 from the client, 1 from the server. */
static inline int lt_flow_dir(const lt_flow *f, int from0)
{
    return (from0 ? 0 : 1) == f->client ? 0 : 1;
}

#endif
