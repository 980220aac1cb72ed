/*
 * livewire.h — what the capture helper (lunatap-capture) and the engine say
 * to each other.
 *
 * The two share a SOCK_SEQPACKET socketpair: every send is one whole
 * message or nothing, so a helper that cannot hand a batch over (the engine
 * is slow, the socket's buffer is full) drops the batch whole and counts it,
 * and the engine never sees half a message. Messages start with a 32-bit
 * type; all integers are in host order (both ends run on this machine).
 *
 * Counters the engine may want at any moment live in a small shared-memory
 * page (a memfd the engine creates), written by the helper with atomic
 * stores: stats() and a SIGUSR1 report read fresh numbers without asking.
 *
 * Requests go the other way on a second SOCK_SEQPACKET socketpair, the
 * control channel, so they can never be mistaken for a batch: the engine
 * sends LT_WIRE_SETFILTER, the helper answers each with one
 * LT_WIRE_FILTER_OK or LT_WIRE_FILTER_ERR carrying the request's seq. The
 * engine runs untrusted Lua, so the helper takes every byte it receives
 * there as untrusted: lt_wire_parse_setfilter() checks a request, and a
 * malformed one gets an error reply (seq 0 when even that is unreadable).
 */
#ifndef LUNATAP_LIVEWIRE_H
#define LUNATAP_LIVEWIRE_H

#include <stddef.h>
#include <stdint.h>

#define LT_WIRE_FD_SOCK 3        /* the helper's end of the socketpair */
#define LT_WIRE_FD_STATS 4       /* the memfd holding lt_wire_stats */
#define LT_WIRE_FD_CTL 5         /* the helper's end of the control socketpair */

#define LT_WIRE_SNAPLEN_MAX 262144u      /* the largest -s */
/* The largest message either side sends: a batch header and one record of
 * the largest snapshot always fit. */
#define LT_WIRE_BATCH_MAX (LT_WIRE_SNAPLEN_MAX + 4096u)
#define LT_WIRE_BATCH_FLUSH (64u * 1024) /* a batch is sent once it holds this much */
#define LT_WIRE_TEXT_MAX 1024
/* The longest filter expression a request carries, in bytes, its NUL not
 * counted; a request is at most LT_WIRE_SETFILTER_MAX bytes. */
#define LT_WIRE_FILTER_MAX 65535u

enum {
    LT_WIRE_HELLO = 0x4c544831,   /* lt_wire_hello: the device is open and filtered */
    LT_WIRE_ERROR = 0x4c544531,   /* lt_wire_error: it could not be; the helper exits */
    LT_WIRE_BATCH = 0x4c544231,   /* lt_wire_batch then `count` records */
    /* On the control channel: */
    LT_WIRE_SETFILTER = 0x4c544631, /* lt_wire_setfilter: compile and install this filter */
    LT_WIRE_FILTER_OK = 0x4c544f31, /* lt_wire_filter_reply: it is in force (text "") */
    LT_WIRE_FILTER_ERR = 0x4c545831, /* lt_wire_filter_reply: it is not; the old one stays */
};

typedef struct lt_wire_hello {
    uint32_t type;
    int32_t linktype;             /* LINKTYPE_* value */
    uint32_t snaplen;
    uint32_t pad;
} lt_wire_hello;

typedef struct lt_wire_error {
    uint32_t type;
    int32_t exit_code;            /* what lunatap should exit with (2: usage) */
    char text[LT_WIRE_TEXT_MAX];  /* one line, NUL-terminated */
} lt_wire_error;

typedef struct lt_wire_batch {
    uint32_t type;
    uint32_t count;
} lt_wire_batch;

/* A request: this header, then the expression and its terminating NUL,
 * nothing after it, no NUL inside it; "" removes the filter (it matches
 * everything). The message is sizeof header + strlen(expr) + 1 bytes. */
typedef struct lt_wire_setfilter {
    uint32_t type;
    uint32_t seq;                 /* the engine's request number, from 1; echoed in the reply */
} lt_wire_setfilter;
#define LT_WIRE_SETFILTER_MAX (sizeof(lt_wire_setfilter) + LT_WIRE_FILTER_MAX + 1u)

/* The answer to one request, always this size. The helper flushes the
 * batch it was filling before it changes the filter, so every batch sent
 * before the reply holds packets the old filter passed. */
typedef struct lt_wire_filter_reply {
    uint32_t type;                /* LT_WIRE_FILTER_OK or LT_WIRE_FILTER_ERR */
    uint32_t seq;                 /* the request's; 0 when the request was unreadable */
    char text[LT_WIRE_TEXT_MAX];  /* FILTER_ERR: why, one line, NUL-terminated */
} lt_wire_filter_reply;

/* Checks a request of n bytes (livewire.c). 0 with the request's seq and
 * expression (pointing into msg); -1 with a one-line reason in why and the
 * seq when it could be read (else 0). */
int lt_wire_parse_setfilter(const void *msg, size_t n, uint32_t *seq, const char **expr,
                            char *why, size_t whylen);

/* Builds a request for expr into out (outlen bytes, LT_WIRE_SETFILTER_MAX
 * always suffice); its size, or 0 when expr is longer than
 * LT_WIRE_FILTER_MAX or does not fit. */
size_t lt_wire_build_setfilter(void *out, size_t outlen, uint32_t seq, const char *expr);

/* Checks a reply of n bytes: 0 with it copied to *out (text
 * NUL-terminated, one line), -1 when it is not one. */
int lt_wire_parse_filter_reply(const void *msg, size_t n, lt_wire_filter_reply *out);

/* One packet in a batch: this header, then caplen bytes, then padding to a
 * multiple of 8 so the next header is aligned. */
typedef struct lt_wire_rec {
    int64_t ts_sec;
    uint32_t ts_nsec;
    uint32_t caplen;
    uint32_t len;
    uint32_t pad;
} lt_wire_rec;

_Static_assert(LT_WIRE_BATCH_MAX >= sizeof(lt_wire_batch) + sizeof(lt_wire_rec) + LT_WIRE_SNAPLEN_MAX,
               "a batch holds the largest packet");

static inline uint32_t lt_wire_rec_size(uint32_t caplen)
{
    return (uint32_t)sizeof(lt_wire_rec) + ((caplen + 7u) & ~7u);
}

/* The shared page. Each field is cumulative since the device was opened
 * and only grows; the helper refreshes the pcap_stats() fields at least
 * every LT_WIRE_STATS_MS while it runs, the others as they change. */
#define LT_WIRE_STATS_MS 100
typedef struct lt_wire_stats {
    uint64_t received;            /* pcap_stats ps_recv: packets the kernel passed (drops included) */
    uint64_t dropped_kernel;      /* ps_drop: no room in the capture buffer (-B) */
    uint64_t dropped_interface;   /* ps_ifdrop: dropped by the interface or driver */
    uint64_t dropped_handoff;     /* read by the helper but not handed over: engine too slow */
    uint64_t forwarded;           /* handed over to the engine */
} lt_wire_stats;

#endif
