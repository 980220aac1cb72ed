/* libFuzzer target: the C DNS decoder (lunatap.dns_scan) on arbitrary
 * messages, given as a Lua string of exactly the input's bytes, with
 * dns_wire's name tables empty (every number then reads as TYPE65534 and
 * the like). Takes the message or leaves it; never reads past it. */
#include <lauxlib.h>
#include <lualib.h>
#include <stdint.h>

#include "ldns.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static lua_State *L;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!L) {
        L = luaL_newstate();
        lt_dns_push_module(L);
        lua_getfield(L, -1, "parser");
        for (int i = 0; i < 5; i++)
            lua_newtable(L);
        lua_call(L, 5, 1); /* parse, kept at index 2 */
    }
    lua_pushvalue(L, 2);
    lua_pushlstring(L, (const char *)data, size);
    if (lua_pcall(L, 1, 1, 0) != LUA_OK)
        __builtin_trap(); /* parse raises only for a non-string argument */
    lua_pop(L, 1);
    lua_gc(L, LUA_GCSTEP, 0);
    return 0;
}
