/*
 * lpacket.h — the packet object scripts receive in "packet" handlers.
 *
 * A live packet userdata holds only the epoch it was made in; its fields
 * are read from the engine's decoded packet (lt_host.cur) when a script
 * asks, so a handler that reads pkt.tcp.dport pays for nothing else. Layer
 * objects (pkt.ip, pkt.tcp, ...) work the same way. Once the packet's
 * handlers return, the packet, its layers and its buffers are expired.
 *
 * A kept packet answers every field exactly as a live one (the same
 * __index code) but reads a private copy: one userdata holding the frame
 * (bytes, ts, len, linktype, ifindex) and its decoding. Its layers and
 * buffers hold the copy alive (user values) and none of them ever expires.
 * tostring gives "packet (kept)" ("tcp (kept)" for a layer), where a live
 * one gives "packet" and an expired one "packet (expired)".
 *
 * Memory: the copy is Lua memory (about 400 bytes plus caplen), charged to
 * the script memory cap like any allocation. lt_packet_push_kept() may
 * therefore raise a memory error: call it in protected mode (from a Lua C
 * function, as keep() and the REPL do), or unguarded (lt_host_unguard) when
 * the engine pushes it outside any protected call.
 */
#ifndef LUNATAP_LPACKET_H
#define LUNATAP_LPACKET_H

#include <lua.h>

#include "frame.h"

struct lt_host;

void lt_packet_open(lua_State *L);

/* Pushes a packet object for h->cur (which must be set). */
void lt_packet_push(lua_State *L, struct lt_host *h);

/* Pushes a kept packet: a copy of f (its bytes too), decoded anew. */
void lt_packet_push_kept(lua_State *L, struct lt_host *h, const lt_frame *f);

/* keep(pkt): pushes a kept copy of the packet object at idx (the object
 * itself when it is kept already); raises for any other value and for an
 * expired packet. Returns 1. */
int lt_packet_keep(lua_State *L, int idx);

/* For introspection. The kind of the packet or layer object at idx
 * ("packet", "eth", "ip", "tcp options", ...), or NULL for any other value. */
const char *lt_packet_kind(lua_State *L, int idx);

/* 1 when idx is a live packet or layer whose packet has gone, else 0. */
int lt_packet_expired(lua_State *L, int idx);

/* Stores in names[] (at most max) the fields of the object at idx that
 * read non-nil now, in no particular order, and returns how many; -1 when
 * idx is no packet or layer. Raises as reading a field would (expired). */
int lt_packet_fields(lua_State *L, int idx, const char **names, int max);

#endif
