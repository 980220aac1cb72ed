/*
 * lredis.h — resp_scan.messages(s, pending, line_max, bulk_keep, elements,
 * max_pending, own): the redis dissector's common messages from bytes to
 * events, in C.
 *
 * On the client's stream (s's direction) each command that
 * resp_scan.command_record reads is queued in `pending` (redis.lua's queue:
 * first, last, total and the commands at first .. last) and emitted as
 * "redis.command"; on the server's, each reply that resp_scan.reply reads
 * is paired with the oldest command and emitted as "redis.reply" — the
 * records redis.lua's own functions make, field for field. The call
 * suspends while a message is incomplete and returns, with nothing of the
 * next message consumed, when that message is one redis.lua must handle:
 * another shape (resp.lua reads it), a command named in `own` (a set of
 * upper-case names: redis.lua's CLIENT, RESET and subscription commands)
 * or the reply to one, an array whose first element names one (in either
 * case), arrays on a subscribed connection, a full queue, a connection
 * under CLIENT REPLY OFF or SKIP, or the stream's end.
 */
#ifndef LUNATAP_LREDIS_H
#define LUNATAP_LREDIS_H

#include <lua.h>

/* Adds messages to the module table on top. */
void lt_redis_add_loop(lua_State *L);

#endif
