/*
 * test_pattern.c — lpattern.c's find, match, gmatch and gsub against Lua
 * 5.4's own on random patterns and subjects (seeded, so a failure
 * repeats): the same results, or the same error; and the step charge that
 * stops a pathological match.
 */
#include "check.h"
#include "lpattern.h"

#include <lauxlib.h>
#include <lualib.h>
#include <stdlib.h>

typedef struct charger {
    uint64_t charged, limit; /* limit 0: never stop */
} charger;

static void charge(lua_State *L, void *ud, unsigned steps)
{
    charger *c = ud;
    c->charged += steps;
    if (c->limit && c->charged > c->limit)
        luaL_error(L, "step limit");
}

/* The differential run, in Lua: P holds ours, string Lua's. Errors are
 * compared without the function name of "bad argument" messages (Lua
 * finds its own functions' names in package.loaded; ours are not there). */
static const char DIFF[] =
    "local P, seed, rounds = ...\n"
    "local function rand(n) seed = (seed * 1103515245 + 12345) % 2147483648; return seed % n + 1 end\n"
    "local SUBJ = { 'a', 'b', 'a', ' ', '.', '(', ')', '[', ']', '%', 'x', '1', '2', '\\0', 'A', ',', '-' }\n"
    "local PIECES = { 'a', 'b', '.', '%a', '%d', '%s', '%w', '%p', '%l', '%u', '%x', '%c', '%g', '%A',\n"
    "  '%S', '%.', '%%', '%(', '%b()', '%b[]', '%f[%w]', '%f[%W]', '[ab]', '[^a]', '[a-c]', '[%d%s]',\n"
    "  '[]]', '[^]]', '[a-]', '(', ')', '()', '%1', '%2', '%0', '*', '+', '-', '?', '^', '$', '%', '[',\n"
    "  'x', ' ', '1', '\\0', '%z', '%b', '%f', '[%', '%ba', '%f[^%z]', '%f[%z]' }\n"
    "local REPL = { '<%0>', '%1', '%2-%1', '%%', '%', '%x', 'z', '', 12 }\n"
    "local function subject()\n"
    "  local t = {}\n"
    "  for i = 1, rand(14) - 1 do t[i] = SUBJ[rand(#SUBJ)] end\n"
    "  return table.concat(t)\n"
    "end\n"
    "local function pattern()\n"
    "  local t = {}\n"
    "  for i = 1, rand(7) - 1 do t[i] = PIECES[rand(#PIECES)] end\n"
    "  return table.concat(t)\n"
    "end\n"
    "local function pack(ok, ...)\n"
    "  local t = { n = select('#', ...), ok, ... }\n"
    "  if not ok then t[2] = tostring(t[2]):gsub(\"to '[^']*'\", 'to F') end\n"
    "  return t\n"
    "end\n"
    "local function same(a, b)\n"
    "  if a.n ~= b.n then return false end\n"
    "  for i = 1, a.n + 1 do\n"
    "    if a[i] ~= b[i] or math.type(a[i]) ~= math.type(b[i]) then return false end\n"
    "  end\n"
    "  return true\n"
    "end\n"
    "local function show(t)\n"
    "  local s = {}\n"
    "  for i = 1, t.n + 1 do s[i] = ('%q'):format(t[i]) end\n"
    "  return table.concat(s, ', ')\n"
    "end\n"
    "local function all(gm, s, p, init)\n"
    "  local ok, it = pcall(gm, s, p, init)\n"
    "  if not ok then return pack(false, it) end\n"
    "  local out = {}\n"
    "  for i = 1, 40 do\n"
    "    local r = pack(pcall(it))\n"
    "    if not r[1] then return r end\n"
    "    if r[2] == nil then break end\n"
    "    for j = 2, r.n + 1 do out[#out + 1] = tostring(r[j]) end\n"
    "    out[#out + 1] = '|'\n"
    "  end\n"
    "  return pack(true, table.concat(out, ','))\n"
    "end\n"
    "local compared, differ = 0, {}\n"
    "local function compare(what, a, b)\n"
    "  compared = compared + 1\n"
    "  if not same(a, b) and #differ < 10 then\n"
    "    differ[#differ + 1] = what .. ': lua ' .. show(a) .. ' ours ' .. show(b)\n"
    "  end\n"
    "end\n"
    "local T = { a = 'A', b = false, x = 1, ['1'] = {} }\n"
    "local function fn(x, y) if x == 'a' then return nil end if y then return y .. x end return x end\n"
    "for r = 1, rounds do\n"
    "  local s, p = subject(), pattern()\n"
    "  local init = rand(3) == 1 and rand(#s + 4) - 3 or nil\n"
    "  local where = ('%q %q %s'):format(s, p, tostring(init))\n"
    "  compare('find ' .. where, pack(pcall(string.find, s, p, init)), pack(pcall(P.find, s, p, init)))\n"
    "  compare('find plain ' .. where, pack(pcall(string.find, s, p, init, true)),\n"
    "          pack(pcall(P.find, s, p, init, true)))\n"
    "  compare('match ' .. where, pack(pcall(string.match, s, p, init)), pack(pcall(P.match, s, p, init)))\n"
    "  compare('gmatch ' .. where, all(string.gmatch, s, p, init), all(P.gmatch, s, p, init))\n"
    "  local repl = REPL[rand(#REPL)]\n"
    "  local max = rand(4) == 1 and rand(3) - 1 or nil\n"
    "  compare('gsub ' .. where .. ' ' .. tostring(repl), pack(pcall(string.gsub, s, p, repl, max)),\n"
    "          pack(pcall(P.gsub, s, p, repl, max)))\n"
    "  compare('gsub table ' .. where, pack(pcall(string.gsub, s, p, T)), pack(pcall(P.gsub, s, p, T)))\n"
    "  compare('gsub function ' .. where, pack(pcall(string.gsub, s, p, fn)), pack(pcall(P.gsub, s, p, fn)))\n"
    "end\n"
    "for _, bad in ipairs({ { 1, 'a', true }, { 'a', {} }, { {}, 'a' }, { 'a' } }) do\n"
    "  compare('bad find', pack(pcall(string.find, table.unpack(bad))), pack(pcall(P.find, table.unpack(bad))))\n"
    "  compare('bad gsub', pack(pcall(string.gsub, table.unpack(bad))), pack(pcall(P.gsub, table.unpack(bad))))\n"
    "end\n"
    "return compared, table.concat(differ, '\\n')\n";

static lua_State *new_state(charger *c, lt_pattern_cfg *cfg)
{
    lua_State *L = luaL_newstate();
    luaL_openlibs(L);
    *cfg = (lt_pattern_cfg){ charge, c, 0, 0 };
    lt_pattern_push(L, cfg);
    lua_setglobal(L, "P");
    return L;
}

static void test_differential(void)
{
    charger c = { 0, 0 };
    lt_pattern_cfg cfg;
    lua_State *L = new_state(&c, &cfg);
    uint64_t seeds[] = { 1, 42, 20261204, 987654321 };
    for (size_t i = 0; i < sizeof seeds / sizeof seeds[0]; i++) {
        g_ctx = "differential run";
        CHECK(luaL_loadstring(L, DIFF) == LUA_OK);
        lua_getglobal(L, "P");
        lua_pushinteger(L, (lua_Integer)seeds[i]);
        lua_pushinteger(L, 50000);
        if (lua_pcall(L, 3, 2, 0) != LUA_OK) {
            fprintf(stderr, "differential run: %s\n", lua_tostring(L, -1));
            CHECK(0);
            lua_pop(L, 1);
            continue;
        }
        CHECK(lua_tointeger(L, -2) > 300000);
        const char *differ = lua_tostring(L, -1);
        if (differ && *differ)
            fprintf(stderr, "seed %llu:\n%s\n", (unsigned long long)seeds[i], differ);
        CHECK_STR(differ, "");
        lua_pop(L, 2);
    }
    CHECK(c.charged > 0);
    lua_close(L);
}

/* Runs `code` with P and a step limit; returns the error or "" (static). */
static const char *run_limited(const char *code, uint64_t limit, uint64_t *charged)
{
    static char msg[256];
    charger c = { 0, limit };
    lt_pattern_cfg cfg;
    lua_State *L = new_state(&c, &cfg);
    msg[0] = '\0';
    if (luaL_dostring(L, code) != LUA_OK)
        snprintf(msg, sizeof msg, "%s", lua_tostring(L, -1));
    *charged = c.charged;
    lua_close(L);
    return msg;
}

static void test_steps(void)
{
    uint64_t charged;
    g_ctx = "a backtracking bomb";
    /* Lua's own matcher takes minutes on this (80 bytes); ours stops at the limit. */
    const char *e = run_limited("P.find(('a'):rep(80), ('a*'):rep(6) .. 'b')", 1000000, &charged);
    CHECK(strstr(e, "step limit") != NULL);
    CHECK(charged > 1000000 && charged <= 1000000 + LT_PATTERN_CHARGE);
    e = run_limited("P.gsub(('a'):rep(80), ('a-'):rep(6) .. 'b', 'x')", 1000000, &charged);
    CHECK(strstr(e, "step limit") != NULL);
    e = run_limited("for x in P.gmatch(('('):rep(60) .. 'x', '%b()') do end "
                    "P.match(('x'):rep(5000), '.-.-y')", 1000000, &charged);
    CHECK(strstr(e, "step limit") != NULL);
    g_ctx = "an ordinary match";
    e = run_limited("assert(P.match('GET /index.html HTTP/1.1', '^(%u+) (%S+) HTTP/(%d)%.(%d)$') == 'GET')",
                    1000000, &charged);
    CHECK_STR(e, "");
    CHECK(charged < 1000000);
    g_ctx = "a plain find of a large needle is linear";
    e = run_limited("local s = ('a'):rep(1000000) assert(not P.find(s, ('a'):rep(100000) .. 'b', 1, true))",
                    1, &charged);
    CHECK_STR(e, "");
}

static void test_subject_limit(void)
{
    charger c = { 0, 0 };
    lt_pattern_cfg cfg = { charge, &c, 16, 0 };
    lua_State *L = luaL_newstate();
    luaL_openlibs(L);
    lt_pattern_push(L, &cfg);
    lua_setglobal(L, "P");
    g_ctx = "subject limit";
    CHECK(luaL_dostring(L, "return P.find(('a'):rep(17), 'a', 1, true)") == LUA_OK);
    CHECK_EQ(lua_tointeger(L, -2), 1);
    CHECK(luaL_dostring(L, "return P.match(('a'):rep(16), 'a+')") == LUA_OK);
    CHECK_STR(lua_tostring(L, -1), "aaaaaaaaaaaaaaaa");
    CHECK(luaL_dostring(L, "return P.gsub(('a'):rep(17), 'a', 'b')") != LUA_OK);
    CHECK(strstr(lua_tostring(L, -1), "string.gsub: subject of 17 bytes exceeds the pattern limit of 16 bytes") != NULL);
    lua_close(L);
}

int main(void)
{
    test_differential();
    test_steps();
    test_subject_limit();
    return check_summary("test_pattern");
}
