/*
 * json.h — JSON encoding of Lua values for json() and --json output.
 *
 * Tables with keys 1..n only are arrays (an empty table is {}); others are
 * objects whose keys must be strings or numbers. Strings are emitted as
 * UTF-8: valid sequences pass through, every byte that is not part of one
 * is written as \u00XX (so binary data survives as Latin-1 code points).
 * NaN and infinities become null. Buffers encode as strings of their bytes.
 * Cycles and nesting deeper than LT_JSON_MAX_DEPTH are refused with an error.
 * Raw access only: a table's metamethods never run.
 */
#ifndef LUNATAP_JSON_H
#define LUNATAP_JSON_H

#include <lua.h>
#include <lauxlib.h>

#define LT_JSON_MAX_DEPTH 64

/* A growable byte buffer: first in `small` (most lines fit, and then no
 * allocation is made), then in a userdata at a fixed stack slot, so it can
 * grow while other values come and go above it (a luaL_Buffer cannot) and
 * a raised error frees it with the rest of the stack. Not to be copied. */
typedef struct lt_sbuf {
    lua_State *L;
    int slot;
    char *p;
    size_t n, cap;
    char small[4096];
} lt_sbuf;

/* Reserves the stack slot and sets up b. */
void lt_sbuf_init(lua_State *L, lt_sbuf *b);
void lt_sbuf_add(lt_sbuf *b, const char *s, size_t n);
void lt_sbuf_addstr(lt_sbuf *b, const char *s);
/* Replaces the userdata slot by the string built. */
void lt_sbuf_result(lt_sbuf *b);

/* Appends the JSON text of the value at idx (raises on error). */
void lt_json_encode(lua_State *L, int idx, lt_sbuf *b);

/* Appends a JSON string literal of s[0..n). */
void lt_json_string(lt_sbuf *b, const char *s, size_t n);

/* Sets up b with the JSON text json(value [, keys [, optional]]) makes of
 * the function's arguments, raising json's errors (the stack is set to
 * the three arguments and b's slot). */
void lt_json_args(lua_State *L, lt_sbuf *b);

/* json(value [, keys [, optional]]) -> string */
int lt_json_api(lua_State *L);

#endif
