/*
 * dissect.h — the dissector framework: registry, attaching dissectors to
 * sessions, and running them.
 *
 * - Dissectors register from Lua with dissector{...} (docs/dissectors.md):
 *   by TCP/UDP port and/or a heuristic on a stream's first bytes. One
 *   registered later under the same name replaces the earlier one.
 * - A dissector is active only while some script handles one of its events,
 *   so a run that asks for none costs nothing per session.
 * - TCP: one coroutine per direction runs the dissector's stream function
 *   over an lt_stream (lstream.h); it is resumed only when it can go on.
 *   A gap the reader cannot absorb restarts it with s.resync; an error
 *   stops the dissector for that session, reported once, counted, and
 *   "dissector.error" fires.
 * - UDP: the datagram function is called per payload.
 * - Per-session state hangs off lt_flow.dis; its C part is charged to the
 *   flow table's memory cap, its Lua part to the Lua cap.
 */
#ifndef LUNATAP_DISSECT_H
#define LUNATAP_DISSECT_H

#include <lua.h>
#include <stdint.h>

#include "flow.h"
#include "lhost.h"

#define LT_MAX_DISSECTORS 64

typedef struct lt_dissect lt_dissect;

lt_dissect *lt_dissect_new(lt_host *h, lt_flow_table *flows);
void lt_dissect_free(lt_dissect *x);

/* Installs dissector{} in a fresh script or module environment. */
void lt_dissect_env(lt_dissect *x, lua_State *L, int env, int script);

/* In-order bytes of one direction (0 client, 1 server) of a TCP flow. */
void lt_dissect_tcp_data(lt_dissect *x, lt_flow *f, int dir, const uint8_t *p, uint32_t n,
                         double ts, int midstream);

/* `missing` bytes of one direction will never arrive. */
void lt_dissect_tcp_gap(lt_dissect *x, lt_flow *f, int dir, uint64_t missing);

/* The TCP session is over: readers see the end of their streams. */
void lt_dissect_tcp_end(lt_dissect *x, lt_flow *f);

/* One UDP payload. */
void lt_dissect_udp(lt_dissect *x, lt_flow *f, int dir, const uint8_t *p, uint32_t n, double ts);

/* Frees what the flow holds (call before the flow is freed). */
void lt_dissect_release(lt_dissect *x, lt_flow *f);

/* Adds the framework's counters to the statistics table on top. */
void lt_dissect_stats(lt_dissect *x, lua_State *L);

#endif
