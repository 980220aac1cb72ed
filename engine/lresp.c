/*
 * lresp.c — see lresp.h. A message is scanned twice: once to learn that
 * all of it is there and has the common shape (nothing is pushed, so a
 * message that is not taken costs no garbage), then again to push its
 * values and consume it. Reading one argument through resp.lua took about
 * ten Lua-to-C calls; here a whole command takes one.
 */
#include "lresp.h"
#include "lredis.h"
#include "lstream.h"

#include <lauxlib.h>
#include <string.h>

enum { SCAN_DONE, SCAN_MORE, SCAN_OTHER };

typedef struct scan {
    const uint8_t *p;
    size_t n, pos;
    lua_State *L; /* set on the second pass: values are pushed */
    size_t line_max, bulk_keep;
    lua_Integer elements;
} scan;

#define MAX_DIGITS 18 /* redis writes lengths and integers of at most 19 */

/* The decimal number after the type byte at sc->pos, up to its CR LF. */
static int number(scan *sc, lua_Integer *out)
{
    size_t i = sc->pos + 1;
    int neg = i < sc->n && sc->p[i] == '-';
    i += (size_t)neg;
    size_t start = i;
    lua_Integer v = 0;
    while (i < sc->n && sc->p[i] >= '0' && sc->p[i] <= '9') {
        if (i - start == MAX_DIGITS)
            return SCAN_OTHER;
        v = v * 10 + (sc->p[i++] - '0');
    }
    if (i - sc->pos > sc->line_max)
        return SCAN_OTHER;
    if (i + 2 > sc->n)
        return i < sc->n && sc->p[i] != '\r' ? SCAN_OTHER : SCAN_MORE;
    if (i == start || sc->p[i] != '\r' || sc->p[i + 1] != '\n')
        return SCAN_OTHER;
    *out = neg ? -v : v;
    sc->pos = i + 2;
    return SCAN_DONE;
}

/* A line after the type byte, ended by CR LF, no longer than line_max. */
static int line(scan *sc)
{
    size_t from = sc->pos + 1;
    size_t window = sc->n - from;
    if (window > sc->line_max + 1)
        window = sc->line_max + 1; /* the rest of the line, its \r and its \n */
    const uint8_t *nl = memchr(sc->p + from, '\n', window);
    if (!nl)
        return window == sc->line_max + 1 ? SCAN_OTHER : SCAN_MORE;
    size_t end = (size_t)(nl - sc->p);
    if (end == from || sc->p[end - 1] != '\r')
        return SCAN_OTHER;
    if (sc->L)
        lua_pushlstring(sc->L, (const char *)sc->p + from, end - 1 - from);
    sc->pos = end + 1;
    return SCAN_DONE;
}

/* A bulk string's length line and bytes; -1 (null) only when null_ok. */
static int bulk(scan *sc, int null_ok)
{
    lua_Integer len;
    int rc = number(sc, &len);
    if (rc != SCAN_DONE)
        return rc;
    if (len == -1 && null_ok) {
        if (sc->L)
            lua_pushboolean(sc->L, 0);
        return SCAN_DONE;
    }
    if (len < 0 || (lua_Unsigned)len > sc->bulk_keep)
        return SCAN_OTHER;
    size_t at = sc->pos;
    if ((size_t)len + 2 > sc->n - at)
        return SCAN_MORE;
    if (sc->p[at + (size_t)len] != '\r' || sc->p[at + (size_t)len + 1] != '\n')
        return SCAN_OTHER;
    if (sc->L)
        lua_pushlstring(sc->L, (const char *)sc->p + at, (size_t)len);
    sc->pos = at + (size_t)len + 2;
    return SCAN_DONE;
}

/* An element of a flat reply array. */
static int element(scan *sc)
{
    lua_Integer v;
    int rc;
    switch (sc->p[sc->pos]) {
    case '$': return bulk(sc, 1);
    case '+':
    case '-': return line(sc);
    case ':':
        rc = number(sc, &v);
        if (rc == SCAN_DONE && sc->L)
            lua_pushinteger(sc->L, v);
        return rc;
    default: return SCAN_OTHER;
    }
}

/* The count line of an array and its elements, pushed as a list. */
static int array(scan *sc, int command)
{
    lua_Integer count;
    int rc = number(sc, &count);
    if (rc != SCAN_DONE)
        return rc;
    if (count > sc->elements || count < (command ? 1 : 0))
        return SCAN_OTHER;
    if (sc->L)
        lua_createtable(sc->L, (int)count, 0);
    for (lua_Integer i = 1; i <= count; i++) {
        if (sc->pos >= sc->n)
            return SCAN_MORE;
        if (command && sc->p[sc->pos] != '$')
            return SCAN_OTHER;
        rc = command ? bulk(sc, 0) : element(sc);
        if (rc != SCAN_DONE)
            return rc;
        if (sc->L)
            lua_rawseti(sc->L, -2, i);
    }
    return SCAN_DONE;
}

/* A reply; pushes its type name before its value on the second pass. */
static int reply(scan *sc)
{
    static const char *const names[] = { "simple", "error", "integer", "bulk", "array" };
    const char *type;
    switch (sc->p[0]) {
    case '+': type = names[0]; break;
    case '-': type = names[1]; break;
    case ':': type = names[2]; break;
    case '$': type = names[3]; break;
    case '*': type = names[4]; break;
    default: return SCAN_OTHER;
    }
    /* nulls: "$-1" and "*-1" (RESP2) */
    if ((sc->p[0] == '$' || sc->p[0] == '*') && sc->n >= 5 && memcmp(sc->p + 1, "-1\r\n", 4) == 0) {
        if (sc->L) {
            lua_pushliteral(sc->L, "null");
            lua_pushnil(sc->L);
        }
        sc->pos = 5;
        return SCAN_DONE;
    }
    if (sc->L)
        lua_pushstring(sc->L, type);
    if (sc->p[0] == '*')
        return array(sc, 0);
    if (sc->p[0] == '$')
        return bulk(sc, 0);
    return element(sc);
}

static int command(scan *sc)
{
    return sc->p[0] == '*' ? array(sc, 1) : SCAN_OTHER;
}

/* command_record: the command as the redis dissector's record, { args,
 * name (the first argument upper-cased), ts }, made here rather than by a
 * Lua constructor and string.upper for every command. */
static int record(scan *sc)
{
    int rc = command(sc);
    if (rc != SCAN_DONE || !sc->L)
        return rc;
    lua_State *L = sc->L;
    lua_createtable(L, 0, 8); /* args, name, ts and what the dissector and scripts add */
    lua_insert(L, -2);
    lua_rawgeti(L, -1, 1);
    size_t len;
    const char *first = lua_tolstring(L, -1, &len);
    size_t i = 0;
    while (i < len && !(first[i] >= 'a' && first[i] <= 'z'))
        i++;
    if (i < len) { /* some lower case: an upper-cased copy */
        luaL_Buffer b;
        char *up = luaL_buffinitsize(L, &b, len);
        for (size_t j = 0; j < len; j++)
            up[j] = first[j] >= 'a' && first[j] <= 'z' ? (char)(first[j] - 32) : first[j];
        luaL_pushresultsize(&b, len);
        lua_remove(L, -2);
    }
    lua_setfield(L, -3, "name");
    lua_setfield(L, -2, "args");
    return SCAN_DONE;
}

/* Runs `parse` over s's unread bytes, first without pushing anything (a
 * message that is not taken costs no garbage), then pushing its values. */
static int read_with(lua_State *L, lt_stream *s, const lt_resp_limits *lim, int (*parse)(scan *),
                     size_t *used)
{
    scan sc = { .line_max = lim->line_max, .bulk_keep = lim->bulk_keep, .elements = lim->elements };
    sc.n = lt_stream_avail(s, &sc.p);
    int rc = sc.n ? parse(&sc) : SCAN_MORE;
    if (rc == SCAN_MORE && (s->eof || sc.n >= LT_RESP_SCAN_MAX))
        rc = SCAN_OTHER;
    if (rc != SCAN_DONE)
        return rc == SCAN_MORE ? LT_RESP_MORE : LT_RESP_OTHER;
    luaL_checkstack(L, 8, "resp_scan");
    sc.pos = 0;
    sc.L = L;
    parse(&sc);
    *used = sc.pos;
    return LT_RESP_DONE;
}

static int record(scan *sc);

int lt_resp_read(lua_State *L, lt_stream *s, const lt_resp_limits *lim, int command_record, size_t *used)
{
    return read_with(L, s, lim, command_record ? record : reply, used);
}

void lt_resp_check_limits(lua_State *L, int first, lt_resp_limits *lim)
{
    lua_Integer line_max = luaL_checkinteger(L, first), bulk_keep = luaL_checkinteger(L, first + 1);
    luaL_argcheck(L, line_max > 0 && bulk_keep >= 0, first, "limits must be positive");
    *lim = (lt_resp_limits){ .line_max = (size_t)line_max, .bulk_keep = (size_t)bulk_keep,
                             .elements = luaL_checkinteger(L, first + 2) };
}

/* Reads with `parse` at the unread bytes: nil (nothing consumed), a
 * suspension until more bytes come, or the values it pushes followed by ts
 * and offset. */
static int take(lua_State *L, const char *what, int (*parse)(scan *), lua_KFunction k)
{
    lt_stream *s = lt_stream_reader(L, what);
    lt_resp_limits lim;
    lt_resp_check_limits(L, 2, &lim);
    int top = lua_gettop(L);
    size_t used;
    int rc = read_with(L, s, &lim, parse, &used);
    if (rc == LT_RESP_MORE)
        return lt_stream_suspend(L, s, k);
    if (rc != LT_RESP_DONE) {
        lua_pushnil(L);
        return 1;
    }
    lua_pushnumber(L, lt_stream_ts(s));
    lua_pushinteger(L, (lua_Integer)s->offset);
    lt_stream_consume(s, used);
    return lua_gettop(L) - top;
}

static int command_k(lua_State *L, int status, lua_KContext ctx)
{
    (void)status;
    (void)ctx;
    return take(L, "resp_scan.command", command, command_k);
}

static int reply_k(lua_State *L, int status, lua_KContext ctx)
{
    (void)status;
    (void)ctx;
    return take(L, "resp_scan.reply", reply, reply_k);
}

static int api_command(lua_State *L)
{
    return command_k(L, LUA_OK, 0);
}

static int record_k(lua_State *L, int status, lua_KContext ctx)
{
    (void)status;
    (void)ctx;
    int n = take(L, "resp_scan.command_record", record, record_k);
    if (n == 3) { /* record, ts, offset: the time goes into the record */
        lua_pushvalue(L, -2);
        lua_setfield(L, -4, "ts");
    }
    return n;
}

static int api_command_record(lua_State *L)
{
    return record_k(L, LUA_OK, 0);
}

static int api_reply(lua_State *L)
{
    return reply_k(L, LUA_OK, 0);
}

void lt_resp_push_module(lua_State *L)
{
    static const luaL_Reg fns[] = {
        { "command", api_command }, { "command_record", api_command_record },
        { "reply", api_reply }, { NULL, NULL },
    };
    luaL_newlib(L, fns);
    lt_redis_add_loop(L);
}
