/*
 * tcp.h — TCP session state and per-direction stream reassembly.
 *
 * Contract:
 * - One lt_tcp_conn per TCP flow (flow->ext), made by lt_tcp_attach() and
 *   freed by lt_tcp_detach() (which first delivers what can still be
 *   delivered, reporting the holes as gaps).
 * - lt_tcp_packet() takes one decoded segment of the flow. In-order bytes
 *   go to the data callback at once, pointing into the packet (no copy).
 *   Segments ahead of the next expected byte wait, copied, within a
 *   per-direction cap and a global cap (both counted against the flow
 *   table's memory through lt_flow_charge); when a cap is hit, or the
 *   session ends, the missing bytes become a gap event and the stream goes
 *   on after the hole.
 * - Overlaps: the bytes that arrived first win (those already delivered or
 *   queued). A retransmission is a segment whose bytes were all seen
 *   before; an overlap whose bytes differ from those queued is reported
 *   (bytes already delivered are not kept, so a retransmission that changes
 *   delivered bytes is counted as a retransmission, not compared).
 * - A hole is given up (LT_TCPE_GAP) when a cap is reached, when the flow
 *   ends, or as soon as the peer acknowledges bytes queued after it (the
 *   capture missed what the peer received).
 * - Sequence numbers compare modulo 2^32, so streams cross the wrap.
 * - Keep-alives (0 or 1 byte at next-1) and zero-window probes that repeat
 *   old bytes are not data.
 * - A segment cut by the snapshot length: its captured bytes are data, the
 *   rest is a gap (when the segment has to wait, its uncaptured bytes wait
 *   as a lost piece and become the gap when the stream reaches them).
 * - The session closes when the stream has reached the FIN in both
 *   directions (LT_TCPE_CLOSED, after all data before the FINs; a flush may
 *   reach them). Segments of a closed session are neither data nor events.
 * - A RST is believed only when its sequence number fits the stream (within
 *   LT_TCP_RST_WINDOW of the next byte expected) or, before its sender's
 *   numbers are known, when it acknowledges the peer; others are counted
 *   and ignored (blind or injected resets). A believed RST's own bytes are
 *   data, then LT_TCPE_RESET; data still in flight after it is delivered
 *   until the owner ends the flow (which is when the session's end is
 *   reported).
 */
#ifndef LUNATAP_TCP_H
#define LUNATAP_TCP_H

#include <stddef.h>
#include <stdint.h>

#include "decode.h"
#include "flow.h"

enum lt_tcp_state {
    LT_TCP_SYN_SENT, LT_TCP_SYN_RECEIVED, LT_TCP_ESTABLISHED, LT_TCP_CLOSING,
    LT_TCP_CLOSED, LT_TCP_RESET,
};

/* Events the tracker reports (see lt_tcp_callbacks.event). */
enum lt_tcp_event {
    LT_TCPE_ESTABLISHED, LT_TCPE_CLOSED, LT_TCPE_RESET, LT_TCPE_RETRANSMIT,
    LT_TCPE_SYN_RETRY, LT_TCPE_OUT_OF_ORDER, LT_TCPE_OVERLAP, LT_TCPE_GAP,
    LT_TCPE_ZERO_WINDOW, LT_TCPE_COUNT,
};

typedef struct lt_tcp_seg {
    struct lt_tcp_seg *next;
    uint32_t seq, len;
    uint8_t lost;            /* seen on the wire but not captured (cut by the
                              * snapshot length): no data, a gap when reached */
    uint8_t data[];
} lt_tcp_seg;

typedef struct lt_tcp_half {
    uint32_t isn;            /* first sequence number seen (SYN's, or first segment's) */
    uint32_t next;           /* next byte expected */
    uint32_t fin_seq;        /* sequence number of the FIN */
    uint8_t seq_known, syn, synack, fin, fin_done, rst, zero_win, wscale, has_wscale;
    uint16_t mss;
    lt_tcp_seg *queue;       /* waiting segments, by sequence number */
    lt_tcp_seg *tail;        /* the last of them: most segments go after it */
    uint32_t queued;         /* bytes in queue (a lost segment counts its header) */
    uint32_t nsegs;          /* segments in queue */
    uint64_t delivered;      /* payload bytes given to the data callback */
    uint64_t retransmits, gaps, gap_bytes, out_of_order, overlaps, zero_windows;
} lt_tcp_half;

#define LT_TCP_HISTORY 15

typedef struct lt_tcp_conn {
    lt_tcp_half half[2];     /* [0] client->server bytes, [1] server->client */
    uint8_t state, midstream, ended;
    uint32_t syn_retries;
    double syn_ts, rtt;      /* rtt: SYN to the ACK that completes the handshake, -1 unknown */
    char history[LT_TCP_HISTORY + 1]; /* Zeek's conn.log history letters */
} lt_tcp_conn;

typedef struct lt_tcp_callbacks {
    void (*data)(void *ud, lt_flow *f, int dir, const uint8_t *p, uint32_t n);
    /* arg: missing bytes for GAP, the sequence number otherwise */
    void (*event)(void *ud, lt_flow *f, int ev, int dir, uint64_t arg);
    void *ud;
} lt_tcp_callbacks;

typedef struct lt_tcp_limits {
    uint32_t stream_queue;   /* out-of-order bytes per direction */
    uint32_t stream_segments; /* out-of-order segments per direction */
    size_t total_queue;      /* out-of-order bytes for all flows */
} lt_tcp_limits;

#define LT_TCP_RST_WINDOW (1u << 20)
#define LT_TCP_DEFAULT_STREAM_QUEUE ((uint32_t)1 << 20)
#define LT_TCP_DEFAULT_STREAM_SEGMENTS 4096u
#define LT_TCP_DEFAULT_TOTAL_QUEUE ((size_t)64 << 20)

typedef struct lt_tcp_stats {
    uint64_t sessions, established, resets, retransmits, out_of_order, overlaps;
    uint64_t gaps, gap_bytes, queue_full, syn_retries, zero_windows, ignored_resets;
    size_t queued, queued_peak;
} lt_tcp_stats;

typedef struct lt_tcp_tracker {
    lt_tcp_limits lim;
    lt_tcp_callbacks cb;
    lt_flow_table *flows;
    lt_tcp_stats st;
} lt_tcp_tracker;

void lt_tcp_init(lt_tcp_tracker *t, const lt_tcp_limits *lim, const lt_tcp_callbacks *cb,
                 lt_flow_table *flows);

/* Attaches fresh TCP state to a new flow; -1 when memory is refused. */
int lt_tcp_attach(lt_tcp_tracker *t, lt_flow *f);

/* True when a segment on an existing flow starts a new session on the same
 * ports (a SYN whose sequence number differs from the one this direction
 * began with, as tshark's tcp.stream does). */
int lt_tcp_starts_new(const lt_flow *f, int dir, const lt_packet *p);

/* Which key endpoint is the client of a new flow whose first segment is p,
 * sent from key endpoint `sender`. */
int lt_tcp_client_of(const lt_packet *p, int sender);

void lt_tcp_packet(lt_tcp_tracker *t, lt_flow *f, int dir, const lt_packet *p, double now);

/* Delivers what still waits in both directions, reporting the holes
 * before it as gaps (at the end of a session). */
void lt_tcp_flush(lt_tcp_tracker *t, lt_flow *f);

/* Flushes, then frees the state. */
void lt_tcp_detach(lt_tcp_tracker *t, lt_flow *f);

const char *lt_tcp_state_name(int state);

#endif
