/*
 * lresp.h — require("lunatap.resp_scan"): the common RESP messages read in
 * C for the redis dissector; lua/lunatap/resp.lua reads all the others.
 *
 *   scan.command(s, line_max, bulk_keep, elements) -> args, ts, offset | nil
 *   scan.command_record(s, line_max, bulk_keep, elements) -> cmd, ts, offset | nil
 *   scan.reply(s, line_max, bulk_keep, elements) -> type, value, ts, offset | nil
 *
 * command_record takes what command takes and returns it as the redis
 * dissector's record: { args, name = args[1] upper-cased (ASCII), ts }.
 *
 * A message is taken only when it has the common shape — a command is an
 * array of 1 to `elements` bulk strings of at most bulk_keep bytes; a reply
 * is a simple string, an error, an integer, a bulk string, a null, or an
 * array of at most `elements` of those (a null bulk in it is false, as
 * resp.lua has it) — and all of it is among the unread bytes. While what
 * has come so far is such a message, the call waits for more (up to
 * LT_RESP_SCAN_MAX bytes). Anything else — another type, a length redis
 * would not write (a sign, blanks, more than 18 digits), a line ended by a
 * bare LF, a missing CR LF after a bulk, the end of the stream — returns
 * nil with nothing consumed, and resp.lua reads the message from the same
 * byte with its own errors and limits. ts and offset are the message's
 * first byte's, as s:ts() and s.offset tell before reading it.
 */
#ifndef LUNATAP_LRESP_H
#define LUNATAP_LRESP_H

#include "lstream.h"

#include <lua.h>

#define LT_RESP_SCAN_MAX ((size_t)64 << 10)

/* For the message loop in C (lredis.c). */
typedef struct lt_resp_limits {
    size_t line_max, bulk_keep;
    lua_Integer elements;
} lt_resp_limits;

enum { LT_RESP_DONE, LT_RESP_MORE, LT_RESP_OTHER };

/* The limits in arguments first .. first + 2 (line_max, bulk_keep,
 * elements), checked as the module's functions check them. */
void lt_resp_check_limits(lua_State *L, int first, lt_resp_limits *lim);

/* Reads the message at s's unread bytes as command_record (when
 * command_record is set) or reply reads it, without consuming it: on
 * LT_RESP_DONE its values are pushed and *used is its length; LT_RESP_MORE
 * when the stream must wait for more bytes; LT_RESP_OTHER when resp.lua
 * must read it. */
int lt_resp_read(lua_State *L, lt_stream *s, const lt_resp_limits *lim, int command_record,
                 size_t *used);

/* Pushes the module table. */
void lt_resp_push_module(lua_State *L);

#endif
