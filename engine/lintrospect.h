/*
 * lintrospect.h — require("lunatap.introspect"): what an engine object is
 * and which fields it answers, for the REPL's printing and completion and
 * for scripts; and keep(pkt), a packet that outlives its handler.
 *
 *   kind(v)    -> "packet" | "eth" | "sll" | "ip" | "tcp" | "udp" | "icmp" |
 *                 "arp" | "tcp options" | "session" | "buffer" | nil
 *   fields(v)  -> sorted array of the names that read non-nil on v now: a
 *                 packet lists only the layers it has ("tcp" only when
 *                 pkt.tcp is not nil), a layer its fields, a session its
 *                 fields and "data", a buffer its methods; nil for any other
 *                 value. An expired packet, layer or buffer raises, as
 *                 reading it would.
 *   expired(v) -> true for a live packet, layer or buffer whose packet (or
 *                 chunk) has gone; false for anything else.
 *   keep(pkt)  -> a kept copy of the packet (see lpacket.h): valid for ever,
 *                 charged to the script memory cap. pkt must be live, so
 *                 call it in the "packet" handler that received it.
 *
 * The names come from the objects' own __index code (lpacket.c and
 * lsession.c probe every field code they answer) and from the buffer
 * metatable's method table: nothing here lists fields by hand. Types are
 * told by luaL_testudata against the sealed metatables, never by __name.
 */
#ifndef LUNATAP_LINTROSPECT_H
#define LUNATAP_LINTROSPECT_H

#include <lua.h>

/* Pushes the module table. */
void lt_introspect_push_module(lua_State *L);

#endif
