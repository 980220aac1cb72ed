/*
 * lutil.h — small Lua helpers the engine's C modules share.
 */
#ifndef LUNATAP_LUTIL_H
#define LUNATAP_LUTIL_H

#include <lua.h>
#include <stdint.h>

/* t[k] = v on the table on top of the stack (statistics tables). */
static inline void lt_set_int(lua_State *L, const char *k, uint64_t v)
{
    lua_pushinteger(L, (lua_Integer)v);
    lua_setfield(L, -2, k);
}

/* Pushes a table mapping names[1..n-1] to their index: the key table an
 * __index closure uses to switch on a field name without string compares. */
static inline void lt_push_name_codes(lua_State *L, const char *const *names, int n)
{
    lua_createtable(L, 0, n);
    for (int i = 1; i < n; i++) {
        lua_pushinteger(L, i);
        lua_setfield(L, -2, names[i]);
    }
}

/* Names the metatable on top of the stack for error messages and hides it
 * from scripts (getmetatable returns false), so they cannot change it. */
static inline void lt_seal_metatable(lua_State *L, const char *name)
{
    lua_pushstring(L, name);
    lua_setfield(L, -2, "__name");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
}

#endif
