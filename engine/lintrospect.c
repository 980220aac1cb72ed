#include "lintrospect.h"
#include "lbuffer.h"
#include "lpacket.h"
#include "lsession.h"

#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>

/* More names than any object answers (packets have under 80). */
#define MAX_NAMES 256

static int intro_kind(lua_State *L)
{
    luaL_checkany(L, 1);
    const char *k = lt_packet_kind(L, 1);
    if (!k && lt_session_is(L, 1))
        k = "session";
    if (!k && luaL_testudata(L, 1, LT_BUFFER_MT))
        k = "buffer";
    if (k)
        lua_pushstring(L, k);
    else
        lua_pushnil(L);
    return 1;
}

/* The buffer metatable's methods: the table its __index is. The names are
 * that table's keys, kept alive by it (in the registry) while we use them. */
static int buffer_methods(lua_State *L, const char **names, int max)
{
    size_t len;
    if (!lt_buffer_test(L, 1, &len)) /* raises for an expired one */
        return -1;
    luaL_getmetatable(L, LT_BUFFER_MT);
    lua_pushliteral(L, "__index");
    lua_rawget(L, -2);
    int n = 0;
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        if (lua_type(L, -2) == LUA_TSTRING && n < max)
            names[n++] = lua_tostring(L, -2);
        lua_pop(L, 1);
    }
    lua_pop(L, 2);
    return n;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int intro_fields(lua_State *L)
{
    luaL_checkany(L, 1);
    const char *names[MAX_NAMES];
    int n = lt_packet_fields(L, 1, names, MAX_NAMES);
    if (n < 0)
        n = lt_session_fields(L, 1, names, MAX_NAMES);
    if (n < 0)
        n = buffer_methods(L, names, MAX_NAMES);
    if (n < 0) {
        lua_pushnil(L);
        return 1;
    }
    qsort(names, (size_t)n, sizeof names[0], by_name);
    lua_createtable(L, n, 0);
    for (int i = 0; i < n; i++) {
        lua_pushstring(L, names[i]);
        lua_rawseti(L, -2, i + 1);
    }
    return 1;
}

static int intro_expired(lua_State *L)
{
    luaL_checkany(L, 1);
    const lt_buffer *b = luaL_testudata(L, 1, LT_BUFFER_MT);
    lua_pushboolean(L, b ? lt_buffer_is_expired(b) : lt_packet_expired(L, 1));
    return 1;
}

static int intro_keep(lua_State *L)
{
    return lt_packet_keep(L, 1);
}

void lt_introspect_push_module(lua_State *L)
{
    static const luaL_Reg fns[] = {
        { "kind", intro_kind },
        { "fields", intro_fields },
        { "expired", intro_expired },
        { "keep", intro_keep },
        { NULL, NULL },
    };
    luaL_newlib(L, fns);
}
