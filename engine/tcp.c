#include "tcp.h"

#include <stdlib.h>
#include <string.h>

/* a - b in sequence space: positive when a is after b (RFC 1982 style). */
static inline int32_t seq_diff(uint32_t a, uint32_t b)
{
    return (int32_t)(a - b);
}

static const char *const state_names[] = {
    "syn_sent", "syn_received", "established", "closing", "closed", "reset",
};

const char *lt_tcp_state_name(int state)
{
    return state >= 0 && state <= LT_TCP_RESET ? state_names[state] : "unknown";
}

void lt_tcp_init(lt_tcp_tracker *t, const lt_tcp_limits *lim, const lt_tcp_callbacks *cb,
                 lt_flow_table *flows)
{
    memset(t, 0, sizeof *t);
    t->lim = *lim;
    t->cb = *cb;
    t->flows = flows;
}

static void event(lt_tcp_tracker *t, lt_flow *f, int ev, int dir, uint64_t arg)
{
    if (t->cb.event)
        t->cb.event(t->cb.ud, f, ev, dir, arg);
}

static void deliver(lt_tcp_tracker *t, lt_flow *f, int dir, const uint8_t *p, uint32_t n)
{
    lt_tcp_conn *c = f->ext;
    if (n == 0)
        return;
    c->half[dir].delivered += n;
    if (t->cb.data)
        t->cb.data(t->cb.ud, f, dir, p, n);
}

/* Adds a history letter once per kind: upper case from the client. */
static void history(lt_tcp_conn *c, int dir, char letter)
{
    char l = dir == 0 ? letter : (char)(letter - 'A' + 'a');
    size_t n = strlen(c->history);
    if (!memchr(c->history, l, n) && n < LT_TCP_HISTORY) {
        c->history[n] = l;
        c->history[n + 1] = '\0';
    }
}

int lt_tcp_attach(lt_tcp_tracker *t, lt_flow *f)
{
    if (lt_flow_charge(t->flows, f, (long)sizeof(lt_tcp_conn)) != 0)
        return -1;
    lt_tcp_conn *c = calloc(1, sizeof *c);
    if (!c) {
        lt_flow_charge(t->flows, f, -(long)sizeof(lt_tcp_conn));
        return -1;
    }
    c->rtt = -1;
    f->ext = c;
    t->st.sessions++;
    return 0;
}

int lt_tcp_client_of(const lt_packet *p, int sender)
{
    uint8_t fl = p->tcp.flags;
    if ((fl & (LT_TCP_SYN | LT_TCP_ACK)) == LT_TCP_SYN)
        return sender;
    if ((fl & (LT_TCP_SYN | LT_TCP_ACK)) == (LT_TCP_SYN | LT_TCP_ACK))
        return !sender;
    /* Picked up mid-stream: the server is most likely on the lower port. */
    return p->tcp.sport < p->tcp.dport ? !sender : sender;
}

int lt_tcp_starts_new(const lt_flow *f, int dir, const lt_packet *p)
{
    const lt_tcp_conn *c = f->ext;
    if (!c || (p->tcp.flags & (LT_TCP_SYN | LT_TCP_ACK)) != LT_TCP_SYN)
        return 0;
    const lt_tcp_half *h = &c->half[dir];
    return h->seq_known && p->tcp.seq != h->isn;
}

/* ---- the out-of-order queue ---- */

/* What a segment counts against the caps: its bytes, or for a lost one
 * (no data) its header, so that lost segments are bounded too. */
static uint32_t held(uint32_t n, int lost)
{
    return lost ? (uint32_t)sizeof(lt_tcp_seg) : n;
}

static void free_seg(lt_tcp_tracker *t, lt_flow *f, lt_tcp_half *h, lt_tcp_seg *s)
{
    uint32_t n = held(s->len, s->lost);
    h->queued -= n;
    h->nsegs--;
    t->st.queued -= n;
    lt_flow_charge(t->flows, f, -(long)(sizeof *s + (s->lost ? 0 : s->len)));
    free(s);
}

static void gap(lt_tcp_tracker *t, lt_flow *f, int dir, uint32_t missing);

/* Delivers queued segments that the stream has reached. */
static void drain(lt_tcp_tracker *t, lt_flow *f, int dir)
{
    lt_tcp_half *h = &((lt_tcp_conn *)f->ext)->half[dir];
    while (h->queue && seq_diff(h->queue->seq, h->next) <= 0) {
        lt_tcp_seg *s = h->queue;
        h->queue = s->next;
        if (!h->queue)
            h->tail = NULL;
        uint32_t end = s->seq + s->len;
        if (seq_diff(end, h->next) > 0) {
            uint32_t skip = h->next - s->seq;
            if (s->lost)
                gap(t, f, dir, s->len - skip);
            else
                deliver(t, f, dir, s->data + skip, s->len - skip);
            h->next = end;
        }
        free_seg(t, f, h, s);
    }
    if (h->fin && !h->fin_done && h->next == h->fin_seq) {
        h->fin_done = 1;
        h->next++;
    }
}

static void gap(lt_tcp_tracker *t, lt_flow *f, int dir, uint32_t missing)
{
    lt_tcp_half *h = &((lt_tcp_conn *)f->ext)->half[dir];
    h->gaps++;
    h->gap_bytes += missing;
    t->st.gaps++;
    t->st.gap_bytes += missing;
    event(t, f, LT_TCPE_GAP, dir, missing);
}

/* Gives up on the bytes before `to`: reports the holes as gaps, delivers
 * what is queued between them, and goes on. (Queued bytes before `to` are
 * delivered, not dropped: a segment cut by the snapshot length may end after
 * data that arrived earlier, and that data came first.) */
static void skip_to(lt_tcp_tracker *t, lt_flow *f, int dir, uint32_t to)
{
    lt_tcp_half *h = &((lt_tcp_conn *)f->ext)->half[dir];
    drain(t, f, dir);
    while (seq_diff(to, h->next) > 0) {
        /* after drain() the queue starts after next */
        uint32_t stop = h->queue && seq_diff(h->queue->seq, to) < 0 ? h->queue->seq : to;
        gap(t, f, dir, stop - h->next);
        h->next = stop;
        drain(t, f, dir);
    }
}

/* A queued segment of n bytes copied from data, or a lost one (data NULL). */
static lt_tcp_seg *new_seg(lt_tcp_tracker *t, lt_flow *f, lt_tcp_half *h, uint32_t seq,
                           const uint8_t *data, uint32_t n)
{
    uint32_t cost = held(n, data == NULL);
    size_t bytes = data ? n : 0;
    /* The segment count is capped too: inserting walks the queue, so many
     * tiny segments would cost quadratic time within the byte caps. */
    if (h->nsegs >= t->lim.stream_segments || h->queued + (uint64_t)cost > t->lim.stream_queue ||
        t->st.queued + cost > t->lim.total_queue ||
        lt_flow_charge(t->flows, f, (long)(sizeof(lt_tcp_seg) + bytes)) != 0)
        return NULL;
    lt_tcp_seg *s = malloc(sizeof *s + bytes);
    if (!s) {
        lt_flow_charge(t->flows, f, -(long)(sizeof(lt_tcp_seg) + bytes));
        return NULL;
    }
    s->seq = seq;
    s->len = n;
    s->lost = data == NULL;
    if (data)
        memcpy(s->data, data, n);
    h->queued += cost;
    h->nsegs++;
    t->st.queued += cost;
    if (t->st.queued > t->st.queued_peak)
        t->st.queued_peak = t->st.queued;
    return s;
}

/* Queues [seq, seq+n) around what is already queued: earlier bytes win.
 * data NULL: bytes seen but not captured, queued as lost pieces (nothing
 * to compare on either side). Returns -1 when a cap refused a piece
 * (nothing half-inserted stays inconsistent: pieces already inserted are
 * valid on their own). */
static int enqueue(lt_tcp_tracker *t, lt_flow *f, int dir, uint32_t seq, const uint8_t *data,
                   uint32_t n, int *differs, int *fresh)
{
    lt_tcp_half *h = &((lt_tcp_conn *)f->ext)->half[dir];
    uint32_t cur = seq, end = seq + n;
    lt_tcp_seg **pp = &h->queue;
    /* After a hole, segments mostly arrive in order behind the last one
     * waiting: start there instead of walking the whole queue. */
    if (h->tail && seq_diff(seq, h->tail->seq + h->tail->len) >= 0)
        pp = &h->tail->next;
    while (seq_diff(end, cur) > 0) {
        lt_tcp_seg *q = *pp;
        uint32_t stop = end;
        if (q && seq_diff(q->seq + q->len, cur) <= 0) {
            pp = &q->next;
            continue;
        }
        if (q && seq_diff(q->seq, cur) <= 0) {
            /* overlap with q: compare, then move past it */
            uint32_t o_end = seq_diff(q->seq + q->len, end) < 0 ? q->seq + q->len : end;
            if (data && !q->lost &&
                memcmp(q->data + (cur - q->seq), data + (cur - seq), o_end - cur) != 0)
                *differs = 1;
            cur = o_end;
            pp = &q->next;
            continue;
        }
        if (q && seq_diff(q->seq, end) < 0)
            stop = q->seq;
        lt_tcp_seg *s = new_seg(t, f, h, cur, data ? data + (cur - seq) : NULL, stop - cur);
        if (!s)
            return -1;
        s->next = q;
        *pp = s;
        pp = &s->next;
        if (!q)
            h->tail = s;
        *fresh = 1;
        cur = stop;
    }
    return 0;
}

/* Delivers the bytes of [seq, seq+n) after next; seq is at or before next.
 * Where they reach queued data, the queued bytes arrived first and win:
 * those are delivered instead (compared; returns 1 when they differ), and
 * a lost piece there stays a gap. */
static int take(lt_tcp_tracker *t, lt_flow *f, int dir, uint32_t seq, const uint8_t *data,
                uint32_t n)
{
    lt_tcp_half *h = &((lt_tcp_conn *)f->ext)->half[dir];
    uint32_t end = seq + n;
    int differs = 0;
    drain(t, f, dir);
    while (seq_diff(end, h->next) > 0) {
        lt_tcp_seg *q = h->queue; /* starts after next (drained) */
        uint32_t stop = q && seq_diff(q->seq, end) < 0 ? q->seq : end;
        deliver(t, f, dir, data + (h->next - seq), stop - h->next);
        h->next = stop;
        if (stop != end && !q->lost) {
            uint32_t q_end = q->seq + q->len;
            uint32_t o_end = seq_diff(q_end, end) < 0 ? q_end : end;
            if (memcmp(q->data, data + (q->seq - seq), o_end - q->seq) != 0)
                differs = 1;
        }
        drain(t, f, dir);
    }
    return differs;
}

/* One segment's payload: `cap` bytes captured of `len` on the wire. */
static void segment(lt_tcp_tracker *t, lt_flow *f, int dir, uint32_t seq, const uint8_t *data,
                    uint32_t cap, uint32_t len)
{
    lt_tcp_conn *c = f->ext;
    lt_tcp_half *h = &c->half[dir];
    int differs = 0, fresh = 0;
    int32_t off = seq_diff(seq, h->next);
    if (off < 0 && (uint32_t)-off >= len) {
        /* Keep-alive: one old byte (or none) just below next. */
        if (len <= 1 && seq + 1 == h->next)
            return;
        h->retransmits++;
        t->st.retransmits++;
        event(t, f, LT_TCPE_RETRANSMIT, dir, seq);
        return;
    }
    if (off > 0) {
        /* Ahead: wait, copied. The uncaptured tail waits as a lost piece,
         * so that the stream does not stall on it and it becomes a gap. */
        for (;;) {
            int full = enqueue(t, f, dir, seq, data, cap, &differs, &fresh) != 0 ||
                       (len > cap && enqueue(t, f, dir, seq + cap, NULL, len - cap, &differs,
                                             &fresh) != 0);
            if (!full)
                break;
            /* A cap is full: give up on the oldest hole and try again. Each
             * turn delivers at least one queued segment, so this ends. */
            t->st.queue_full++;
            uint32_t to = h->queue && seq_diff(h->queue->seq, seq) < 0 ? h->queue->seq : seq;
            skip_to(t, f, dir, to);
            if (seq_diff(seq, h->next) <= 0)
                break; /* now in order: no queueing */
        }
    }
    if (seq_diff(seq, h->next) <= 0) {
        differs |= take(t, f, dir, seq, data, cap);
        if (len > cap)
            skip_to(t, f, dir, seq + len); /* cut by the snapshot length */
        fresh = 0;
    }
    if (differs) {
        h->overlaps++;
        t->st.overlaps++;
        event(t, f, LT_TCPE_OVERLAP, dir, seq);
    }
    if (fresh) {
        h->out_of_order++;
        t->st.out_of_order++;
        event(t, f, LT_TCPE_OUT_OF_ORDER, dir, seq);
    } else if (off > 0 && !differs && seq_diff(seq, h->next) > 0) {
        h->retransmits++;
        t->st.retransmits++;
        event(t, f, LT_TCPE_RETRANSMIT, dir, seq);
    }
}

/* ---- state ---- */

static void establish(lt_tcp_tracker *t, lt_flow *f, double now);

/* A SYN or SYN-ACK. Returns 1 when the segment needs nothing more: a repeat
 * of one already seen, or the SYN-ACK of a simultaneous open. */
static int handshake(lt_tcp_tracker *t, lt_flow *f, int dir, const lt_packet *p, double now)
{
    lt_tcp_conn *c = f->ext;
    lt_tcp_half *h = &c->half[dir];
    const lt_tcp *tcp = &p->tcp;
    int synack = (tcp->flags & LT_TCP_ACK) != 0;
    const lt_tcp_half *o = &c->half[!dir];
    if (h->syn && tcp->seq == h->isn && synack && !h->synack && o->syn &&
        tcp->ack == o->isn + 1) {
        /* Simultaneous open (RFC 793 fig. 8): both sides sent a bare SYN and
         * now each acknowledges the other's; the second one establishes. */
        h->synack = 1;
        history(c, dir, 'H');
        c->state = LT_TCP_SYN_RECEIVED;
        if (o->synack)
            establish(t, f, now);
        return 1;
    }
    if (h->syn && tcp->seq == h->isn) {
        if (synack) {
            h->retransmits++;
            t->st.retransmits++;
            event(t, f, LT_TCPE_RETRANSMIT, dir, tcp->seq);
        } else {
            c->syn_retries++;
            t->st.syn_retries++;
            event(t, f, LT_TCPE_SYN_RETRY, dir, tcp->seq);
        }
        return 1;
    }
    h->syn = 1;
    h->synack = (uint8_t)synack;
    h->isn = tcp->seq;
    h->next = tcp->seq + 1;
    h->seq_known = 1;
    h->has_wscale = tcp->has_wscale;
    h->wscale = tcp->wscale;
    h->mss = tcp->has_mss ? tcp->mss : 0;
    history(c, dir, synack ? 'H' : 'S');
    if (!synack) {
        if (c->syn_ts == 0)
            c->syn_ts = now;
        c->state = LT_TCP_SYN_SENT;
    } else if (c->state <= LT_TCP_SYN_SENT) {
        c->state = LT_TCP_SYN_RECEIVED;
    }
    return 0;
}

static void establish(lt_tcp_tracker *t, lt_flow *f, double now)
{
    lt_tcp_conn *c = f->ext;
    c->state = LT_TCP_ESTABLISHED;
    if (c->syn_ts > 0 && !c->midstream)
        c->rtt = now - c->syn_ts;
    t->st.established++;
    event(t, f, LT_TCPE_ESTABLISHED, 0, 0);
}

static void watch_window(lt_tcp_tracker *t, lt_flow *f, int dir, const lt_tcp *tcp)
{
    lt_tcp_half *h = &((lt_tcp_conn *)f->ext)->half[dir];
    if (tcp->flags & (LT_TCP_SYN | LT_TCP_FIN | LT_TCP_RST))
        return;
    if (tcp->win == 0 && !h->zero_win) {
        h->zero_win = 1;
        h->zero_windows++;
        t->st.zero_windows++;
        event(t, f, LT_TCPE_ZERO_WINDOW, dir, tcp->seq);
    } else if (tcp->win != 0) {
        h->zero_win = 0;
    }
}

/* Closed once the stream has reached the FIN in both directions: a FIN
 * seen ahead of missing data closes only after that data (or the gap that
 * replaces it at a flush). */
static void close_if_done(lt_tcp_tracker *t, lt_flow *f)
{
    lt_tcp_conn *c = f->ext;
    if (c->ended || !c->half[0].fin_done || !c->half[1].fin_done)
        return;
    if (c->state != LT_TCP_RESET)
        c->state = LT_TCP_CLOSED;
    c->ended = 1;
    event(t, f, LT_TCPE_CLOSED, 0, 0);
}

/* Delivers what waits in both directions, the holes before it as gaps.
 * A FIN seen ahead waits too: the bytes missing before it are a gap (its
 * sequence number says how many), and the stream reaches it. */
static void flush_queues(lt_tcp_tracker *t, lt_flow *f)
{
    lt_tcp_conn *c = f->ext;
    for (int dir = 0; dir < 2; dir++) {
        lt_tcp_half *h = &c->half[dir];
        while (h->queue)
            skip_to(t, f, dir, h->queue->seq);
        if (h->fin && !h->fin_done && seq_diff(h->fin_seq, h->next) > 0)
            skip_to(t, f, dir, h->fin_seq);
    }
}

/* Bytes of TCP payload on the wire: the IP length, or the frame when the
 * IP header claims more than the frame holds. */
static uint32_t wire_payload(const lt_packet *p)
{
    uint32_t ip_len = p->ip.total_len;
    if (p->frame->len > p->l3_off && p->frame->len - p->l3_off < ip_len)
        ip_len = p->frame->len - p->l3_off;
    uint32_t hdrs = (uint32_t)p->ip.hdr_len + p->tcp.hdr_len;
    if (ip_len >= hdrs && ip_len - hdrs >= p->payload_len)
        return ip_len - hdrs;
    return p->payload_len;
}

/* A segment with data or a FIN that lies wholly before the next byte
 * expected repeats what was seen. */
static int repeats_old(const lt_tcp_half *h, const lt_tcp *tcp, uint32_t len)
{
    if (!h->seq_known || (len == 0 && !(tcp->flags & LT_TCP_FIN)))
        return 0;
    return seq_diff(tcp->seq + len, h->next) < 0 ||
           (len > 0 && seq_diff(tcp->seq + len, h->next) == 0 && !(tcp->flags & LT_TCP_FIN));
}

/* The first segment of a direction without a SYN: picked up mid-stream. */
static void pick_up(lt_tcp_conn *c, int dir, uint32_t seq)
{
    lt_tcp_half *h = &c->half[dir];
    if (!c->half[!dir].syn)
        c->midstream = 1;
    h->isn = seq;
    h->next = seq;
    h->seq_known = 1;
}

/* A reset is believed only if it fits the stream (RFC 5961's concern: a
 * blind or injected RST carries a sequence number out of window), or,
 * before its sender's numbers are known, if it acknowledges the peer. */
static int rst_acceptable(const lt_tcp_conn *c, int dir, const lt_tcp *tcp)
{
    const lt_tcp_half *h = &c->half[dir], *o = &c->half[!dir];
    if (h->seq_known) {
        int32_t d = seq_diff(tcp->seq, h->next);
        return d >= -1 && d <= (int32_t)LT_TCP_RST_WINDOW;
    }
    if ((tcp->flags & LT_TCP_ACK) && o->seq_known)
        return tcp->ack == o->next;
    return 1;
}

/* An accepted RST: its own bytes are data, then LT_TCPE_RESET. The session
 * is not over yet: data already in flight (or past an injected reset) is
 * still delivered until the flow is ended, which reports the end. */
static void reset(lt_tcp_tracker *t, lt_flow *f, int dir, const lt_packet *p, uint32_t len)
{
    lt_tcp_conn *c = f->ext;
    lt_tcp_half *h = &c->half[dir];
    const lt_tcp *tcp = &p->tcp;
    if (!rst_acceptable(c, dir, tcp)) {
        t->st.ignored_resets++;
        return;
    }
    history(c, dir, 'R');
    if (len > 0 && !h->seq_known)
        pick_up(c, dir, tcp->seq);
    if (len > 0)
        segment(t, f, dir, tcp->seq, p->frame->data + p->payload_off, p->payload_len, len);
    if (c->state == LT_TCP_RESET)
        return;
    h->rst = 1;
    c->state = LT_TCP_RESET;
    t->st.resets++;
    event(t, f, LT_TCPE_RESET, dir, tcp->seq);
}

/* The peer acknowledged the start of bytes that wait behind a hole: the
 * hole's bytes reached the peer but not the capture, so they will never
 * come. Give the hole up now rather than at the end of the session, so
 * what waits behind it is delivered in time (a request behind a lost
 * segment still comes before its response). Acks that are implausibly far
 * ahead are not believed. */
static void acked_unseen(lt_tcp_tracker *t, lt_flow *f, int dir, uint32_t ack)
{
    lt_tcp_half *h = &((lt_tcp_conn *)f->ext)->half[dir];
    if (!h->seq_known || !h->queue || seq_diff(ack, h->queue->seq) <= 0 ||
        seq_diff(ack, h->next) > (int32_t)LT_TCP_RST_WINDOW)
        return;
    skip_to(t, f, dir, h->queue->seq);
}

void lt_tcp_packet(lt_tcp_tracker *t, lt_flow *f, int dir, const lt_packet *p, double now)
{
    lt_tcp_conn *c = f->ext;
    lt_tcp_half *h = &c->half[dir];
    const lt_tcp *tcp = &p->tcp;
    uint32_t len = wire_payload(p);
    if (c->ended) {
        /* Closed: the session is over and its end reported, so what still
         * comes (packets in flight, retransmissions) is neither data nor an
         * event; only the history notes it. */
        if ((tcp->flags & (LT_TCP_ACK | LT_TCP_SYN)) == LT_TCP_ACK && p->payload_len == 0)
            history(c, dir, 'A');
        if (len > 0)
            history(c, dir, 'D');
        if (tcp->flags & LT_TCP_FIN)
            history(c, dir, 'F');
        if (tcp->flags & LT_TCP_RST)
            history(c, dir, 'R');
        /* Still counted (as tshark does), though no longer reported. */
        if (repeats_old(h, tcp, len)) {
            h->retransmits++;
            t->st.retransmits++;
        }
        return;
    }
    if (tcp->flags & LT_TCP_RST) {
        reset(t, f, dir, p, len);
        return;
    }
    uint32_t seq = tcp->seq;
    if (tcp->flags & LT_TCP_SYN) {
        if (handshake(t, f, dir, p, now))
            return;
        seq++; /* data, if any, starts after the SYN */
    } else if (!h->seq_known) {
        pick_up(c, dir, seq);
    }
    if ((tcp->flags & LT_TCP_ACK) && c->state < LT_TCP_ESTABLISHED) {
        lt_tcp_half *o = &c->half[!dir];
        if (c->state == LT_TCP_SYN_RECEIVED && o->syn && tcp->ack == o->isn + 1 && !(tcp->flags & LT_TCP_SYN))
            establish(t, f, now);
        else if (c->midstream && h->seq_known && o->seq_known)
            establish(t, f, now);
    }
    if ((tcp->flags & (LT_TCP_ACK | LT_TCP_SYN)) == LT_TCP_ACK && p->payload_len == 0)
        history(c, dir, 'A');
    watch_window(t, f, dir, tcp);
    if (len > 0) {
        history(c, dir, 'D');
        segment(t, f, dir, seq, p->frame->data + p->payload_off, p->payload_len, len);
    }
    if ((tcp->flags & LT_TCP_FIN) && len == 0 && repeats_old(h, tcp, 0)) {
        /* A FIN the stream has already passed: sent again. */
        h->retransmits++;
        t->st.retransmits++;
        event(t, f, LT_TCPE_RETRANSMIT, dir, tcp->seq);
    } else if ((tcp->flags & LT_TCP_FIN) && !h->fin) {
        h->fin = 1;
        h->fin_seq = seq + len;
        history(c, dir, 'F');
        if (c->state == LT_TCP_ESTABLISHED)
            c->state = LT_TCP_CLOSING;
        drain(t, f, dir);
    }
    if ((tcp->flags & (LT_TCP_ACK | LT_TCP_SYN)) == LT_TCP_ACK)
        acked_unseen(t, f, !dir, tcp->ack);
    /* Data may have reached a FIN seen earlier, in either direction. */
    close_if_done(t, f);
}

void lt_tcp_flush(lt_tcp_tracker *t, lt_flow *f)
{
    if (!f->ext)
        return;
    flush_queues(t, f);
    close_if_done(t, f); /* the flush may have reached both FINs */
}

void lt_tcp_detach(lt_tcp_tracker *t, lt_flow *f)
{
    lt_tcp_conn *c = f->ext;
    if (!c)
        return;
    lt_tcp_flush(t, f);
    free(c);
    f->ext = NULL;
    lt_flow_charge(t->flows, f, -(long)sizeof(lt_tcp_conn));
}
