/*
 * lpacket.h — the packet object scripts receive in "packet" handlers.
 *
 * A packet userdata holds only the epoch it was made in; its fields are
 * read from the engine's decoded packet (lt_host.cur) when a script asks,
 * so a handler that reads pkt.tcp.dport pays for nothing else. Layer
 * objects (pkt.ip, pkt.tcp, ...) work the same way. Once the packet's
 * handlers return, the packet, its layers and its buffers are expired.
 */
#ifndef LUNATAP_LPACKET_H
#define LUNATAP_LPACKET_H

#include <lua.h>

struct lt_host;

void lt_packet_open(lua_State *L);

/* Pushes a packet object for h->cur (which must be set). */
void lt_packet_push(lua_State *L, struct lt_host *h);

#endif
