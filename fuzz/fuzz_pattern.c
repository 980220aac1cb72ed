/* libFuzzer target: the sandbox's pattern functions (lpattern.c) on an
 * arbitrary pattern and subject (the input split at its first NUL... or
 * its middle), each of find, match, gmatch and gsub, under a step limit
 * that ends runaway matches with an error. Errors are expected (malformed
 * patterns); a crash, a sanitizer report or a hang is not. */
#include <lauxlib.h>
#include <lualib.h>
#include <stdint.h>
#include <string.h>

#include "lpattern.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t charged;

static void charge(lua_State *L, void *ud, unsigned steps)
{
    (void)ud;
    charged += steps;
    if (charged > 200000)
        luaL_error(L, "step limit");
}

static lt_pattern_cfg cfg = { charge, NULL, 0, 0 };
static lua_State *L;

static const char RUN[] =
    "local P, s, p = ...\n"
    "pcall(P.find, s, p) pcall(P.find, s, p, -3) pcall(P.match, s, p, 2)\n"
    "pcall(function() for a, b in P.gmatch(s, p) do end end)\n"
    "pcall(P.gsub, s, p, '<%0%1>') pcall(P.gsub, s, p, { a = 'x' })\n"
    "pcall(P.gsub, s, p, function(a) return a end, 3)\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!L) {
        L = luaL_newstate();
        luaL_openlibs(L);
    }
    const uint8_t *cut = memchr(data, 0, size);
    size_t plen = cut ? (size_t)(cut - data) : size / 2;
    size_t skip = cut ? 1 : 0;
    charged = 0;
    if (luaL_loadstring(L, RUN) != LUA_OK)
        __builtin_trap();
    lt_pattern_push(L, &cfg);
    lua_pushlstring(L, (const char *)data + plen + skip, size - plen - skip);
    lua_pushlstring(L, (const char *)data, plen);
    if (lua_pcall(L, 3, 0, 0) != LUA_OK)
        lua_pop(L, 1);
    lua_gc(L, LUA_GCSTEP, 0);
    return 0;
}
