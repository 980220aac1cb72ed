/*
 * lredis.c — see lredis.h. The Lua message functions of redis.lua cost
 * about 140 interpreted instructions a command and reply pair, each
 * charged to the count hook: more than reading the messages. Here the
 * common pairs go from bytes to events with no Lua in between.
 */
#include "lredis.h"
#include "lhost.h"
#include "lresp.h"

#include <lauxlib.h>
#include <string.h>

/* The arguments of messages(), where its continuation finds them again. */
enum {
    ARG_STREAM = 1, ARG_PENDING, ARG_LINE_MAX, ARG_BULK_KEEP, ARG_ELEMENTS, ARG_MAX_PENDING, ARG_OWN, NARGS
};

/* Whether `own` (redis.lua's table of the command names it handles
 * itself) holds s, upper-cased: a subscription's confirmation names its
 * command in lower case. */
static int owned_by_lua(lua_State *L, int own, const char *s, size_t len)
{
    luaL_Buffer b;
    char *up = luaL_buffinitsize(L, &b, len);
    for (size_t i = 0; i < len; i++)
        up[i] = s[i] >= 'a' && s[i] <= 'z' ? (char)(s[i] - 32) : s[i];
    luaL_pushresultsize(&b, len);
    int yes = lua_rawget(L, own) != LUA_TNIL;
    lua_pop(L, 1);
    return yes;
}

/* Field names, kept as the closure's upvalues: lua_getfield with a C
 * string looks it up in the string cache each time, a tenth of the loop. */
#define KEYS(X)                                                                                   \
    X(NAME, "name") X(TS, "ts") X(INDEX, "index") X(TOTAL, "total") X(FIRST, "first")             \
    X(LAST, "last") X(REPLY_OFF, "reply_off") X(SKIP_NEXT, "skip_next")                           \
    X(SUBSCRIBING, "subscribing")                                                                 \
    X(TYPE, "type") X(VALUE, "value") X(COMMAND, "command") X(LATENCY, "latency")
#define KEY_ENUM(id, text) K_##id,
#define KEY_TEXT(id, text) text,
enum { KEYS(KEY_ENUM) NKEYS };

/* t[key] pushed; its type returned (t is an absolute index). */
static int get(lua_State *L, int t, int key)
{
    lua_pushvalue(L, lua_upvalueindex(key + 1));
    return lua_rawget(L, t);
}

/* t[key] = the value on top, popped. */
static void set(lua_State *L, int t, int key)
{
    lua_pushvalue(L, lua_upvalueindex(key + 1));
    lua_insert(L, -2);
    lua_rawset(L, t);
}

static lua_Integer int_field(lua_State *L, int t, int k)
{
    get(L, t, k);
    lua_Integer v = lua_tointeger(L, -1);
    lua_pop(L, 1);
    return v;
}

static int true_field(lua_State *L, int t, int k)
{
    get(L, t, k);
    int v = lua_toboolean(L, -1);
    lua_pop(L, 1);
    return v;
}

static void set_int(lua_State *L, int t, int k, lua_Integer v)
{
    lua_pushinteger(L, v);
    set(L, t, k);
}

/* Whether the command record on top is one redis.lua's queue_command
 * would queue as it is: a reply expected, room in the queue, nothing that
 * changes the connection's state. */
static int plain_command(lua_State *L, int pending, lua_Integer max_pending)
{
    get(L, lua_gettop(L), K_NAME); /* upper-cased already */
    int owned = lua_rawget(L, ARG_OWN) != LUA_TNIL;
    lua_pop(L, 1);
    if (owned || true_field(L, pending, K_REPLY_OFF) || true_field(L, pending, K_SKIP_NEXT))
        return 0;
    return int_field(L, pending, K_LAST) - int_field(L, pending, K_FIRST) + 1 < max_pending;
}

/* The command record on top, timed ts, queued and emitted. */
static void queue_and_emit(lua_State *L, lt_host *h, int ev, int pending, int session, double ts)
{
    int cmd = lua_gettop(L);
    lua_pushnumber(L, ts);
    set(L, cmd, K_TS);
    lua_Integer total = int_field(L, pending, K_TOTAL) + 1, last = int_field(L, pending, K_LAST) + 1;
    set_int(L, pending, K_TOTAL, total);
    set_int(L, cmd, K_INDEX, total);
    set_int(L, pending, K_LAST, last);
    lua_pushvalue(L, cmd);
    lua_rawseti(L, pending, last);
    lua_pushvalue(L, session);
    lt_host_emit(h, L, ev, 2);
}

/* An array reply whose first element names a command redis.lua handles:
 * a subscription's confirmation, say. */
static int names_own_command(lua_State *L, int value)
{
    size_t len;
    int is_string = lua_rawgeti(L, value, 1) == LUA_TSTRING;
    const char *kind = is_string ? lua_tolstring(L, -1, &len) : NULL;
    int yes = kind && owned_by_lua(L, ARG_OWN, kind, len);
    lua_pop(L, 1);
    return yes;
}

/* Whether the reply (type and value on top) is one redis.lua's
 * server_message would pair with the oldest command as it is; that
 * command (or nil when none waits) is pushed in either case. */
static int plain_reply(lua_State *L, int pending)
{
    int value = lua_gettop(L);
    int array = strcmp(lua_tostring(L, value - 1), "array") == 0;
    lua_rawgeti(L, pending, int_field(L, pending, K_FIRST));
    if (array && (true_field(L, pending, K_SUBSCRIBING) || names_own_command(L, value)))
        return 0; /* a push, or a change of the subscriptions */
    if (lua_isnil(L, -1))
        return 1;
    /* a reply to one of redis.lua's commands: one per channel, or the one
     * that ends pub/sub */
    get(L, lua_gettop(L), K_NAME);
    int owned = lua_rawget(L, ARG_OWN) != LUA_TNIL;
    lua_pop(L, 1);
    return !owned;
}

/* The reply (type, value, command on top), paired and emitted. */
static void pair_and_emit(lua_State *L, lt_host *h, int ev, int pending, int session, double ts)
{
    int cmd = lua_gettop(L), value = cmd - 1, type = cmd - 2;
    lua_createtable(L, 0, 5);
    int reply = lua_gettop(L);
    lua_pushvalue(L, type);
    set(L, reply, K_TYPE);
    lua_pushvalue(L, value);
    set(L, reply, K_VALUE);
    lua_pushnumber(L, ts);
    set(L, reply, K_TS);
    if (!lua_isnil(L, cmd)) {
        lua_Integer first = int_field(L, pending, K_FIRST);
        lua_pushnil(L);
        lua_rawseti(L, pending, first);
        set_int(L, pending, K_FIRST, first + 1);
        lua_pushvalue(L, cmd);
        set(L, reply, K_COMMAND);
        get(L, cmd, K_TS);
        lua_pushnumber(L, ts - lua_tonumber(L, -1));
        set(L, reply, K_LATENCY);
        lua_pop(L, 1);
    }
    lua_pushvalue(L, session);
    lt_host_emit(h, L, ev, 2);
    lua_settop(L, type - 1);
}

static int messages_k(lua_State *L, int status, lua_KContext ctx)
{
    (void)status;
    (void)ctx;
    lt_stream *s = lt_stream_reader(L, "resp_scan.messages");
    luaL_checktype(L, ARG_PENDING, LUA_TTABLE);
    lt_resp_limits lim;
    lt_resp_check_limits(L, ARG_LINE_MAX, &lim);
    lua_Integer max_pending = luaL_checkinteger(L, ARG_MAX_PENDING);
    luaL_checktype(L, ARG_OWN, LUA_TTABLE);
    lua_settop(L, NARGS - 1);
    lt_host *h = lt_host_from(L);
    int client = s->dir == 0;
    int ev = lt_host_event(h, client ? "redis.command" : "redis.reply");
    if (ev < 0)
        return luaL_error(L, "resp_scan.messages: too many distinct events (limit %d)", LT_MAX_EVENTS);
    lua_getfield(L, ARG_STREAM, "session"); /* a method of the stream, not a raw field */
    int session = lua_gettop(L);
    for (;;) {
        size_t used;
        int rc = lt_resp_read(L, s, &lim, client, &used);
        if (rc == LT_RESP_MORE)
            return lt_stream_suspend(L, s, messages_k);
        if (rc != LT_RESP_DONE)
            return 0;
        int plain = client ? plain_command(L, ARG_PENDING, max_pending) : plain_reply(L, ARG_PENDING);
        if (!plain)
            return 0; /* redis.lua reads it again, from the same byte */
        double ts = lt_stream_ts(s);
        lt_stream_consume(s, used);
        if (client)
            queue_and_emit(L, h, ev, ARG_PENDING, session, ts);
        else
            pair_and_emit(L, h, ev, ARG_PENDING, session, ts);
        lua_settop(L, session);
    }
}

static int api_messages(lua_State *L)
{
    return messages_k(L, LUA_OK, 0);
}

void lt_redis_add_loop(lua_State *L)
{
    static const char *const keys[] = { KEYS(KEY_TEXT) };
    for (int i = 0; i < NKEYS; i++)
        lua_pushstring(L, keys[i]);
    lua_pushcclosure(L, api_messages, NKEYS);
    lua_setfield(L, -2, "messages");
}
