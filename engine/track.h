/*
 * track.h — sessions: feeds decoded packets to IP defragmentation, the flow
 * table and the TCP tracker, and turns what they report into Lua events.
 *
 * Events (stable names; see docs/scripting.md):
 *   tcp.start, tcp.established, tcp.end, tcp.timeout       (session)
 *   tcp.data                                                (session, direction, buf)
 *   tcp.reset, tcp.zero_window                              (session, direction)
 *   tcp.retransmit, tcp.syn_retry, tcp.out_of_order,
 *   tcp.overlap                                             (session, direction, seq)
 *   tcp.gap                                                 (session, direction, missing)
 *   udp.start, udp.end                                      (session)
 *   udp.datagram                                            (session, direction, buf)
 *   ip.fragment_overlap                                     (info)
 * direction is "client" for what the client sent, "server" for the server.
 * Handlers run only for events some script registered.
 */
#ifndef LUNATAP_TRACK_H
#define LUNATAP_TRACK_H

#include <lua.h>

#include "decode.h"
#include "defrag.h"
#include "flow.h"
#include "lhost.h"
#include "tcp.h"

typedef struct lt_track_config {
    lt_flow_limits flow;
    lt_tcp_limits tcp;
    lt_defrag_limits defrag;
} lt_track_config;

void lt_track_default_config(lt_track_config *cfg);

typedef struct lt_track lt_track;

lt_track *lt_track_new(lt_host *h, const lt_track_config *cfg);

/* One decoded packet (after the "packet" handlers ran). */
void lt_track_packet(lt_track *t, const lt_packet *p);

/* Moves the tracker's clock to `now` (if later) and ends the sessions and
 * fragment queues idle past their timeouts. Packets move it themselves
 * (capture time); on wall time the engine calls this every second, so
 * idle sessions end while no packet comes. */
void lt_track_advance(lt_track *t, double now);

/* Ends every session (their end events run first), e.g. before "done". */
void lt_track_finish(lt_track *t);

/* Sessions the flow table holds now (the statistics' "sessions"): TCP and
 * UDP, including TCP sessions that closed and stay until their closing
 * timeout (their state says so). */
size_t lt_track_open_sessions(const lt_track *t);

/* Pushes an array of the session objects of at most `max` of those,
 * most recently active first (see lt_flow_walk). The objects are the same
 * the session events carry. It allocates Lua memory (charged to the
 * script memory cap): call it in protected mode, or unguarded. */
void lt_track_push_sessions(lt_track *t, lua_State *L, size_t max);

/* Adds the tracking counters to the statistics table on top of the stack. */
void lt_track_stats(lt_track *t, lua_State *L);

void lt_track_free(lt_track *t);

/* The dissector framework fed by this tracker. */
struct lt_dissect *lt_track_dissect(lt_track *t);

#endif
