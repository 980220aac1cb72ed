#include "track.h"
#include "lutil.h"
#include "lbuffer.h"
#include "dissect.h"
#include "lsession.h"

#include <lauxlib.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

enum {
    EV_TCP_START, EV_TCP_ESTABLISHED, EV_TCP_DATA, EV_TCP_END, EV_TCP_RESET,
    EV_TCP_TIMEOUT, EV_TCP_RETRANSMIT, EV_TCP_SYN_RETRY, EV_TCP_OUT_OF_ORDER,
    EV_TCP_OVERLAP, EV_TCP_GAP, EV_TCP_ZERO_WINDOW, EV_UDP_START, EV_UDP_END,
    EV_UDP_DATAGRAM, EV_FRAG_OVERLAP, EV_COUNT,
};

static const char *const event_names[EV_COUNT] = {
    "tcp.start", "tcp.established", "tcp.data", "tcp.end", "tcp.reset",
    "tcp.timeout", "tcp.retransmit", "tcp.syn_retry", "tcp.out_of_order",
    "tcp.overlap", "tcp.gap", "tcp.zero_window", "udp.start", "udp.end",
    "udp.datagram", "ip.fragment_overlap",
};

/* Tracker event -> Lua event, and whether it carries (direction, number). */
static const struct {
    int ev, with_arg;
} tcp_events[LT_TCPE_COUNT] = {
    [LT_TCPE_ESTABLISHED] = { EV_TCP_ESTABLISHED, 0 },
    [LT_TCPE_CLOSED] = { EV_TCP_END, 0 },
    [LT_TCPE_RESET] = { EV_TCP_RESET, 0 },
    [LT_TCPE_RETRANSMIT] = { EV_TCP_RETRANSMIT, 1 },
    [LT_TCPE_SYN_RETRY] = { EV_TCP_SYN_RETRY, 1 },
    [LT_TCPE_OUT_OF_ORDER] = { EV_TCP_OUT_OF_ORDER, 1 },
    [LT_TCPE_OVERLAP] = { EV_TCP_OVERLAP, 1 },
    [LT_TCPE_GAP] = { EV_TCP_GAP, 1 },
    [LT_TCPE_ZERO_WINDOW] = { EV_TCP_ZERO_WINDOW, 0 },
};

struct lt_track {
    lt_host *h;
    lt_flow_table *flows;
    lt_tcp_tracker tcp;
    lt_defrag *defrag;
    lt_dissect *dis;
    int ev[EV_COUNT];
    double now;
    lt_frame inner_frame;  /* a reassembled datagram, as a raw IP frame */
    lt_packet inner;
    uint64_t untracked;    /* IP packets whose transport could not be tracked */
};

void lt_track_default_config(lt_track_config *cfg)
{
    lt_flow_default_limits(&cfg->flow);
    cfg->tcp.stream_queue = LT_TCP_DEFAULT_STREAM_QUEUE;
    cfg->tcp.stream_segments = LT_TCP_DEFAULT_STREAM_SEGMENTS;
    cfg->tcp.total_queue = LT_TCP_DEFAULT_TOTAL_QUEUE;
    cfg->defrag.mem = LT_DEFRAG_DEFAULT_MEM;
    cfg->defrag.timeout = LT_DEFRAG_DEFAULT_TIMEOUT;
    cfg->defrag.max_frags = LT_DEFRAG_DEFAULT_MAX_FRAGS;
}

static int wants(const lt_track *t, int ev)
{
    return lt_host_wants(t->h, t->ev[ev]);
}

static void push_direction(lua_State *L, int dir)
{
    if (dir == 0)
        lua_pushliteral(L, "client");
    else
        lua_pushliteral(L, "server");
}

/* Fires `ev` with (session [, direction [, number]]). */
static void fire(lt_track *t, int ev, lt_flow *f, int dir, int nargs, uint64_t arg)
{
    if (!wants(t, ev))
        return;
    lua_State *L = t->h->L;
    int g = lt_host_unguard(t->h);
    lt_session_push(L, f);
    if (nargs >= 2)
        push_direction(L, dir);
    if (nargs >= 3)
        lua_pushinteger(L, (lua_Integer)arg);
    lt_host_guard(t->h, g);
    lt_host_dispatch(t->h, t->ev[ev], nargs);
}

/* Payload handed to Lua as a buffer that expires when the handlers return. */
static void fire_bytes(lt_track *t, int ev, lt_flow *f, int dir, const uint8_t *p, uint32_t n)
{
    if (!wants(t, ev))
        return;
    lua_State *L = t->h->L;
    int g = lt_host_unguard(t->h);
    lt_session_push(L, f);
    push_direction(L, dir);
    lt_buffer_push_view(L, p, n, &t->h->epoch[LT_EPOCH_STREAM]);
    lt_host_guard(t->h, g);
    lt_host_dispatch(t->h, t->ev[ev], 3);
    lt_host_expire(t->h, LT_EPOCH_STREAM);
}

static void on_tcp_data(void *ud, lt_flow *f, int dir, const uint8_t *p, uint32_t n)
{
    lt_track *t = ud;
    fire_bytes(t, EV_TCP_DATA, f, dir, p, n);
    const lt_tcp_conn *c = f->ext;
    lt_dissect_tcp_data(t->dis, f, dir, p, n, t->now, c->midstream);
}

/* Dissectors see the end of their streams before scripts see tcp.end. */
static void fire_tcp_end(lt_track *t, lt_flow *f)
{
    lt_dissect_tcp_end(t->dis, f);
    fire(t, EV_TCP_END, f, 0, 1, 0);
}

static void on_tcp_event(void *ud, lt_flow *f, int tev, int dir, uint64_t arg)
{
    lt_track *t = ud;
    if (tev == LT_TCPE_SYN_RETRY) {
        fire(t, EV_TCP_SYN_RETRY, f, dir, 2, arg);
        return;
    }
    int ev = tcp_events[tev].ev;
    if (tev == LT_TCPE_RESET) {
        /* The end follows when the flow leaves the table, after what was
         * still in flight (see tcp.h). */
        fire(t, EV_TCP_RESET, f, dir, 2, 0);
        return;
    }
    if (ev == EV_TCP_END) {
        fire_tcp_end(t, f);
        return;
    }
    if (ev == EV_TCP_ESTABLISHED) {
        fire(t, ev, f, dir, 1, 0);
        return;
    }
    if (ev == EV_TCP_GAP)
        lt_dissect_tcp_gap(t->dis, f, dir, arg);
    fire(t, ev, f, dir, tcp_events[tev].with_arg ? 3 : 2, arg);
}

/* The flow table frees a flow: finish its story for the scripts first. */
static void on_flow_end(void *ud, lt_flow *f, int reason)
{
    lt_track *t = ud;
    if (f->key.proto == 6 && f->ext) {
        lt_tcp_conn *c = f->ext;
        lt_tcp_flush(&t->tcp, f);
        if (!c->ended) {
            c->ended = 1;
            if (reason == LT_FLOW_TIMEOUT)
                fire(t, EV_TCP_TIMEOUT, f, 0, 1, 0);
            fire_tcp_end(t, f);
        }
    } else if (f->key.proto == 17) {
        fire(t, EV_UDP_END, f, 0, 1, 0);
    }
    lt_dissect_release(t->dis, f);
    lt_session_release(t->h->L, f);
    if (f->key.proto == 6)
        lt_tcp_detach(&t->tcp, f);
}

static void on_frag_overlap(void *ud, int version, uint32_t id, const uint8_t *src,
                            const uint8_t *dst, uint32_t offset)
{
    lt_track *t = ud;
    if (!wants(t, EV_FRAG_OVERLAP))
        return;
    lua_State *L = t->h->L;
    char a[64], b[64];
    int g = lt_host_unguard(t->h);
    lua_createtable(L, 0, 5);
    lua_pushinteger(L, version);
    lua_setfield(L, -2, "version");
    lua_pushinteger(L, id);
    lua_setfield(L, -2, "id");
    lua_pushstring(L, lt_ip_ntop(version, src, a, sizeof a));
    lua_setfield(L, -2, "src");
    lua_pushstring(L, lt_ip_ntop(version, dst, b, sizeof b));
    lua_setfield(L, -2, "dst");
    lua_pushinteger(L, offset);
    lua_setfield(L, -2, "offset");
    lua_pushnumber(L, t->now);
    lua_setfield(L, -2, "ts");
    lt_host_guard(t->h, g);
    lt_host_dispatch(t->h, t->ev[EV_FRAG_OVERLAP], 1);
}

lt_track *lt_track_new(lt_host *h, const lt_track_config *cfg)
{
    lt_track *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->h = h;
    for (int i = 0; i < EV_COUNT; i++)
        if ((t->ev[i] = lt_host_event(h, event_names[i])) < 0) {
            free(t);
            return NULL;
        }
    t->flows = lt_flow_table_new(&cfg->flow, on_flow_end, t);
    t->defrag = lt_defrag_new(&cfg->defrag);
    t->dis = t->flows ? lt_dissect_new(h, t->flows) : NULL;
    if (!t->flows || !t->defrag || !t->dis) {
        lt_track_free(t);
        return NULL;
    }
    lt_defrag_on_overlap(t->defrag, on_frag_overlap, t);
    lt_tcp_callbacks cb = { on_tcp_data, on_tcp_event, t };
    lt_tcp_init(&t->tcp, &cfg->tcp, &cb, t->flows);
    lt_session_open(h->L);
    return t;
}

/* Flow class for the timeout lists, from what the flow has seen. */
static int class_of(const lt_flow *f)
{
    if (f->key.proto == 17)
        return f->pkts[0] && f->pkts[1] ? LT_FC_UDP_ESTABLISHED : LT_FC_UDP_NEW;
    if (f->key.proto != 6 || !f->ext)
        return LT_FC_OTHER;
    const lt_tcp_conn *c = f->ext;
    /* Picked up mid-stream, a session is already under way even while only
     * one direction has been seen: it gets the established timeout. */
    if (c->state < LT_TCP_ESTABLISHED && !c->midstream)
        return LT_FC_TCP_OPENING;
    return c->state <= LT_TCP_ESTABLISHED ? LT_FC_TCP_ESTABLISHED : LT_FC_TCP_CLOSING;
}

static void deliver_datagram(lt_track *t, lt_flow *f, int dir, const uint8_t *p, uint32_t n)
{
    fire_bytes(t, EV_UDP_DATAGRAM, f, dir, p, n);
    lt_dissect_udp(t->dis, f, dir, p, n, t->now);
}

static int trackable(const lt_packet *p)
{
    if (p->l4 == LT_L4_TCP)
        return p->tcp.hdr_len >= 20 && p->payload_off > 0;
    return p->l4 == LT_L4_UDP && p->payload_off > 0;
}

static lt_flow *new_flow(lt_track *t, const lt_flow_key *key, const lt_packet *p, int from0)
{
    int sender = from0 ? 0 : 1;
    int tcp = p->l4 == LT_L4_TCP;
    lt_flow *f = lt_flow_create(t->flows, key, tcp ? lt_tcp_client_of(p, sender) : sender, t->now);
    if (!f)
        return NULL;
    if (tcp && lt_tcp_attach(&t->tcp, f) != 0) {
        lt_flow_end(t->flows, f, LT_FLOW_EVICTED);
        return NULL;
    }
    fire(t, tcp ? EV_TCP_START : EV_UDP_START, f, 0, 1, 0);
    return f;
}

static void track_transport(lt_track *t, const lt_packet *p)
{
    lt_flow_key key;
    int from0;
    if (!trackable(p) || lt_flow_key_of(p, &key, &from0) != 0) {
        t->untracked++;
        return;
    }
    lt_flow *f = lt_flow_find(t->flows, &key);
    if (f && p->l4 == LT_L4_TCP && lt_tcp_starts_new(f, lt_flow_dir(f, from0), p)) {
        lt_flow_end(t->flows, f, LT_FLOW_CLOSED);
        f = NULL;
    }
    if (!f && !(f = new_flow(t, &key, p, from0)))
        return;
    int dir = lt_flow_dir(f, from0);
    f->pkts[dir]++;
    f->bytes[dir] += p->ip.total_len;
    f->payload[dir] += p->payload_len;
    /* Handlers of this packet's events see session.last as its time. */
    if (t->now > f->last)
        f->last = t->now;
    if (p->l4 == LT_L4_TCP)
        lt_tcp_packet(&t->tcp, f, dir, p, t->now);
    else
        deliver_datagram(t, f, dir, p->frame->data + p->payload_off, p->payload_len);
    lt_flow_touch(t->flows, f, class_of(f), t->now);
}

void lt_track_packet(lt_track *t, const lt_packet *p)
{
    const lt_frame *fr = p->frame;
    double now = (double)fr->ts_sec + fr->ts_nsec / 1e9;
    if (now > t->now)
        t->now = now;
    lt_flow_expire(t->flows, t->now);
    if (p->l3 != LT_L3_IPV4 && p->l3 != LT_L3_IPV6)
        return;
    if (!p->ip.is_fragment) {
        track_transport(t, p);
        return;
    }
    const uint8_t *dgram;
    uint32_t len;
    if (lt_defrag_add(t->defrag, p, t->now, &dgram, &len) != LT_DEFRAG_DONE)
        return;
    /* The whole datagram goes on like any packet, timed at its last fragment. */
    t->inner_frame = *fr;
    t->inner_frame.data = dgram;
    t->inner_frame.caplen = t->inner_frame.len = len;
    t->inner_frame.linktype = LT_LINK_RAW;
    lt_decode(&t->inner, &t->inner_frame);
    if (!t->inner.ip.is_fragment)
        track_transport(t, &t->inner);
}

void lt_track_advance(lt_track *t, double now)
{
    if (now > t->now)
        t->now = now;
    lt_flow_expire(t->flows, t->now);
    lt_defrag_expire(t->defrag, t->now);
}

void lt_track_finish(lt_track *t)
{
    lt_flow_end_all(t->flows, LT_FLOW_SHUTDOWN);
}

size_t lt_track_open_sessions(const lt_track *t)
{
    return (size_t)lt_flow_stats_get(t->flows)->active;
}

void lt_track_push_sessions(lt_track *t, lua_State *L, size_t max)
{
    size_t n = lt_track_open_sessions(t);
    if (n > max)
        n = max;
    lua_createtable(L, n > INT_MAX ? INT_MAX : (int)n, 0);
    lt_flow_walk w;
    lt_flow_walk_start(t->flows, &w);
    lt_flow *f;
    for (size_t i = 0; i < n && (f = lt_flow_walk_next(&w)); i++) {
        lt_session_push(L, f);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
}

void lt_track_stats(lt_track *t, lua_State *L)
{
    const lt_flow_stats *fs = lt_flow_stats_get(t->flows);
    lt_set_int(L, "sessions", fs->active);
    lt_set_int(L, "sessions_total", fs->created);
    lt_set_int(L, "session_timeouts", fs->timeouts);
    lt_set_int(L, "session_evictions", fs->evictions);
    lt_set_int(L, "sessions_refused", fs->refused);
    lt_set_int(L, "flow_mem", fs->mem);
    lt_set_int(L, "flow_mem_peak", fs->mem_peak);
    const lt_tcp_stats *ts = &t->tcp.st;
    lt_set_int(L, "tcp_sessions", ts->sessions);
    lt_set_int(L, "tcp_retransmits", ts->retransmits);
    lt_set_int(L, "tcp_out_of_order", ts->out_of_order);
    lt_set_int(L, "tcp_overlaps", ts->overlaps);
    lt_set_int(L, "tcp_gaps", ts->gaps);
    lt_set_int(L, "tcp_gap_bytes", ts->gap_bytes);
    lt_set_int(L, "tcp_queue_full", ts->queue_full);
    lt_set_int(L, "tcp_resets", ts->resets);
    lt_set_int(L, "tcp_ignored_resets", ts->ignored_resets);
    lt_set_int(L, "reassembly_mem", ts->queued);
    lt_set_int(L, "reassembly_mem_peak", ts->queued_peak);
    const lt_defrag_stats *ds = lt_defrag_stats_get(t->defrag);
    lt_set_int(L, "fragments", ds->fragments);
    lt_set_int(L, "fragments_reassembled", ds->reassembled);
    lt_set_int(L, "fragments_dropped", ds->dropped);
    lt_set_int(L, "fragment_timeouts", ds->timeouts);
    lt_set_int(L, "fragment_overlaps", ds->overlaps);
    lt_set_int(L, "defrag_mem", ds->mem);
    lt_set_int(L, "untracked", t->untracked);
    lt_dissect_stats(t->dis, L);
}

lt_dissect *lt_track_dissect(lt_track *t)
{
    return t->dis;
}

void lt_track_free(lt_track *t)
{
    if (!t)
        return;
    lt_flow_table_free(t->flows);
    lt_defrag_free(t->defrag);
    lt_dissect_free(t->dis);
    free(t);
}
