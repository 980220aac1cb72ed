/*
 * defrag.h — IPv4 and IPv6 fragment reassembly with a memory cap and a
 * timeout.
 *
 * Contract:
 * - lt_defrag_add() takes a decoded packet whose ip.is_fragment is set. It
 *   copies what it needs (the packet's bytes are not kept) and returns
 *   LT_DEFRAG_HELD until the datagram is complete, then LT_DEFRAG_DONE with
 *   the whole datagram — network header first, as a raw IP packet that
 *   lt_decode() reads with link type LT_LINK_RAW. That buffer stays valid
 *   until the next call on the same lt_defrag.
 * - Datagrams are keyed by (version, src, dst, id, and for IPv4 proto).
 *   Overlapping fragments: the bytes that arrived first win (documented
 *   policy); overlaps counted, and an overlap with *different* bytes is
 *   reported through the overlap callback.
 * - Memory: all held fragment bytes plus per-datagram state count against
 *   limits.mem. A fragment that would exceed it evicts the oldest datagrams
 *   first; if it still does not fit it is dropped. Both are counted.
 * - Time is whatever the caller passes (capture time offline). Datagrams
 *   older than limits.timeout seconds are dropped by lt_defrag_expire() and
 *   on every add.
 * - No unbounded allocation: a datagram larger than 65,535 bytes of IP
 *   payload (IPv4) or 65,535 + jumbo-less IPv6, and more than
 *   limits.max_frags fragments per datagram, are dropped as invalid.
 */
#ifndef LUNATAP_DEFRAG_H
#define LUNATAP_DEFRAG_H

#include <stddef.h>
#include <stdint.h>
#include "decode.h"

typedef struct lt_defrag lt_defrag;

typedef struct lt_defrag_limits {
    size_t mem;            /* bytes for all held fragments (default 32 MiB) */
    double timeout;        /* seconds a datagram may wait (default 30) */
    uint32_t max_frags;    /* fragments per datagram (default 256) */
} lt_defrag_limits;

#define LT_DEFRAG_DEFAULT_MEM ((size_t)32 << 20)
#define LT_DEFRAG_DEFAULT_TIMEOUT 30.0
#define LT_DEFRAG_DEFAULT_MAX_FRAGS 256u

typedef struct lt_defrag_stats {
    uint64_t fragments;     /* fragments given to add() */
    uint64_t reassembled;   /* datagrams completed */
    uint64_t timeouts;      /* datagrams dropped by the timeout */
    uint64_t evicted;       /* datagrams dropped to make room (memory cap) */
    uint64_t dropped;       /* fragments refused (cap, invalid, too many) */
    uint64_t overlaps;      /* fragments overlapping earlier ones */
    uint64_t overlap_diff;  /* ... with different bytes */
    size_t mem, mem_peak;   /* bytes held now / at most */
    uint32_t pending;       /* datagrams waiting */
    /* Why fragments were refused (each also counts in `dropped`): */
    uint64_t invalid;       /* unusable IP/fragment header, not a fragment,
                             * payload past 65,535, last fragments that
                             * disagree, data past the end, too many
                             * fragments */
    uint64_t cut;           /* cut by the snap length (caplen < IP length) */
    uint64_t nomem;         /* no room under limits.mem (or malloc failed) */
    uint64_t discarded;     /* datagrams thrown away with their fragments
                             * because a fragment made them invalid */
} lt_defrag_stats;

enum { LT_DEFRAG_DROPPED = -1, LT_DEFRAG_HELD = 0, LT_DEFRAG_DONE = 1 };

/* Called when a fragment overlaps earlier ones with different bytes:
 * version 4 or 6, the datagram's id, src and dst addresses (4 or 16 bytes),
 * and the byte offset of the first differing byte in the IP payload.
 * Called from within lt_defrag_add(): it must not call into the lt_defrag. */
typedef void (*lt_defrag_overlap_fn)(void *ud, int version, uint32_t id,
                                     const uint8_t *src, const uint8_t *dst,
                                     uint32_t offset);

/* NULL limits, or a zero field, take the defaults above. NULL when out of
 * memory. */
lt_defrag *lt_defrag_new(const lt_defrag_limits *limits);
void lt_defrag_free(lt_defrag *d);

void lt_defrag_on_overlap(lt_defrag *d, lt_defrag_overlap_fn fn, void *ud);

/* See the contract above. `now` is in seconds. */
int lt_defrag_add(lt_defrag *d, const lt_packet *p, double now,
                  const uint8_t **out, uint32_t *outlen);

/* Drops datagrams older than the timeout. */
void lt_defrag_expire(lt_defrag *d, double now);

const lt_defrag_stats *lt_defrag_stats_get(const lt_defrag *d);

#endif
