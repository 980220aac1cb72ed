/*
 * replctl.c — the functions the REPL adds to its environment: what the
 * user does to the capture from the prompt (pause, resume, step, run,
 * filter, sessions, last) and to the session (load, help, exit).
 *
 * They only change the engine's state; reading happens on the loop, or,
 * for step(n) on a file, once the command has returned, so each packet's
 * handlers run as callbacks of their own, with their own budget, never
 * nested in the command that asked for them.
 */
#include "engine_int.h"
#include "live.h"
#include "livewire.h"
#include "lpacket.h"

#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STEP_MAX 1000000000ll

static lt_engine *engine_of(lua_State *L)
{
    return lua_touserdata(L, lua_upvalueindex(1));
}

static int no_capture(lua_State *L, const lt_engine *e)
{
    if (!e->src)
        return luaL_error(L, "no capture: start the REPL with -r FILE or -i IFACE");
    return 0;
}

/* pause(): offline, reading stops; live, packets are counted and dropped. */
static int set_running(lua_State *L, int paused)
{
    lt_engine *e = engine_of(L);
    no_capture(L, e);
    if (!paused && e->input_done)
        return luaL_error(L, "the capture has ended (%I packets read)", (lua_Integer)e->c.packets);
    e->step_left = 0;
    e->showing = 0;
    lt_engine_set_paused(e, paused);
    return 0;
}

static int api_pause(lua_State *L)
{
    return set_running(L, 1);
}

/* resume() and run(): reading goes on (a file: to its end, or pause()). */
static int api_resume(lua_State *L)
{
    return set_running(L, 0);
}

/* step([n]): n more packets that pass the filter, each shown; the capture
 * is paused afterwards. */
static int api_step(lua_State *L)
{
    lt_engine *e = engine_of(L);
    no_capture(L, e);
    lua_Integer n = luaL_optinteger(L, 1, 1);
    luaL_argcheck(L, n >= 1 && n <= STEP_MAX, 1, "a count from 1 to 1000000000");
    if (e->input_done)
        return luaL_error(L, "the capture has ended (%I packets read)", (lua_Integer)e->c.packets);
    e->step_asked += (uint64_t)n;
    return 0;
}

/* filter() -> the expression in force; filter(expr) replaces it ("" = none). */
static int api_filter(lua_State *L)
{
    lt_engine *e = engine_of(L);
    const char *now = e->filter_text ? e->filter_text : e->cfg->filter;
    if (lua_isnoneornil(L, 1)) {
        if (now && now[0])
            lua_pushstring(L, now);
        else
            lua_pushnil(L);
        return 1;
    }
    size_t len;
    const char *expr = luaL_checklstring(L, 1, &len);
    no_capture(L, e);
    if (strlen(expr) != len)
        return luaL_error(L, "filter: the expression holds a NUL byte");
    if (e->live && len > LT_WIRE_FILTER_MAX) /* what the helper takes in one request */
        return luaL_error(L, "filter: the expression is %I bytes; at most %I are accepted live",
                          (lua_Integer)len, (lua_Integer)LT_WIRE_FILTER_MAX);
    char err[1024];
    lt_filter *f = NULL;
    if (expr[0] && !(f = lt_filter_new(expr, e->src->linktype, err, sizeof err)))
        return luaL_error(L, "filter: %s", err);
    if (e->live && lt_live_set_filter(e->src, expr, err, sizeof err) != 0) {
        lt_filter_free(f);
        return luaL_error(L, "filter: %s", err);
    }
    char *copy = strdup(expr);
    if (!copy) {
        lt_filter_free(f);
        return luaL_error(L, "filter: out of memory");
    }
    /* Live, the frames already on their way were captured under the old
     * filter: the engine applies the new one to them as well. */
    lt_filter_free(e->flt);
    e->flt = f;
    free(e->filter_text);
    e->filter_text = copy;
    return 0;
}

/* load(path): a script file run as if given on the command line, when the
 * argument names a .lua file; anything else is Lua's load(). */
static int api_load(lua_State *L)
{
    lt_engine *e = engine_of(L);
    size_t n = 0;
    const char *s = lua_type(L, 1) == LUA_TSTRING ? lua_tolstring(L, 1, &n) : NULL;
    int is_path = s && n > 4 && strcmp(s + n - 4, ".lua") == 0 && !memchr(s, '\n', n);
    if (!is_path) {
        lua_pushvalue(L, lua_upvalueindex(2));
        lua_insert(L, 1);
        lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
        return lua_gettop(L);
    }
    int rc = lt_host_load_script(e->host, s, s, 0, NULL);
    if (rc != 0)
        return luaL_error(L, "load: %s did not load (see above)", s);
    lua_pushboolean(L, 1);
    return 1;
}

/* help([v]): what the functions do (lunatap.repl's help texts). */
static int api_help(lua_State *L)
{
    lt_engine *e = engine_of(L);
    if (!e->repl)
        return 0;
    lua_settop(L, 1);
    lt_repl_push_fn(e->repl, "help");
    lua_pushvalue(L, 1);
    lt_host_push_env(e->host, e->repl_script);
    lua_call(L, 2, 1);
    size_t len;
    const char *text = lua_tolstring(L, -1, &len);
    if (text) {
        lt_output_write(&e->out, text, len);
        if (len && text[len - 1] != '\n')
            lt_output_write(&e->out, "\n", 1);
    }
    return 0;
}

/* last([n]) -> the latest n packets that passed the filter (default 1),
 * oldest first, as kept copies that stay valid. */
static int api_last(lua_State *L)
{
    lt_engine *e = engine_of(L);
    size_t have = e->ring ? lt_ring_count(e->ring) : 0;
    lua_Integer n = luaL_optinteger(L, 1, 1);
    luaL_argcheck(L, n >= 0, 1, "a count of 0 or more");
    size_t k = (uint64_t)n < have ? (size_t)n : have;
    lua_createtable(L, (int)k, 0);
    for (size_t i = 0; i < k; i++) {
        lt_packet_push_kept(L, e->host, lt_ring_get(e->ring, k - 1 - i));
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    return 1;
}

/* sessions([max]) -> the open sessions, most recently active first. */
static int api_sessions(lua_State *L)
{
    lt_engine *e = engine_of(L);
    lua_Integer n = luaL_optinteger(L, 1, 100);
    luaL_argcheck(L, n >= 0 && n <= 1000000, 1, "a count from 0 to 1000000");
    lt_track_push_sessions(e->track, L, (size_t)n);
    return 1;
}

/* The REPL's `pkt`: the latest packet, unless the user set one. */
static int env_index(lua_State *L)
{
    lt_engine *e = engine_of(L);
    const char *k = lua_tostring(L, 2);
    if (lua_type(L, 2) == LUA_TSTRING && strcmp(k, "pkt") == 0 && e->ring &&
        lt_ring_count(e->ring) > 0) {
        lt_packet_push_kept(L, e->host, lt_ring_get(e->ring, 0));
        return 1;
    }
    lua_pushnil(L);
    return 1;
}

/* exit(): as Ctrl-D. */
static int api_exit(lua_State *L)
{
    lt_engine *e = engine_of(L);
    if (e->repl)
        lt_repl_quit(e->repl);
    return 0;
}

void lt_replctl_env(lt_engine *e)
{
    static const luaL_Reg fns[] = {
        { "pause", api_pause }, { "resume", api_resume }, { "run", api_resume },
        { "step", api_step }, { "filter", api_filter }, { "help", api_help },
        { "exit", api_exit }, { "last", api_last }, { "sessions", api_sessions },
        { NULL, NULL },
    };
    lua_State *L = e->host->L;
    lt_host_push_env(e->host, e->repl_script);
    lua_pushlightuserdata(L, e);
    luaL_setfuncs(L, fns, 1);
    lua_pushlightuserdata(L, e);
    lua_getfield(L, -2, "load");
    lua_pushcclosure(L, api_load, 2);
    lua_setfield(L, -2, "load");
    lua_createtable(L, 0, 1);
    lua_pushlightuserdata(L, e);
    lua_pushcclosure(L, env_index, 1);
    lua_setfield(L, -2, "__index");
    lua_setmetatable(L, -2);
    lua_pop(L, 1);
}

/* Offline, step(n) reads right after the command, so its packets show
 * before the next prompt; Ctrl-C ends it. Live, the next n packets show
 * as they come. */
void lt_replctl_after_command(lt_engine *e)
{
    uint64_t n = e->step_asked;
    e->step_asked = 0;
    if (!n || e->input_done || e->stopping)
        return;
    e->step_left = n;
    e->showing = 1;
    if (e->live) {
        lt_engine_set_paused(e, 0);
        return;
    }
    e->interrupted = 0;
    e->paused = 0; /* read here, not from the loop's idle handle */
    while (e->step_left && !e->paused && !e->input_done && !e->stopping && !e->interrupted)
        lt_engine_read(e, 1);
    if (e->interrupted && e->step_left && e->repl)
        lt_repl_message(e->repl, "-- step interrupted: %llu packets not shown",
                        (unsigned long long)e->step_left);
    e->step_left = 0;
    e->showing = 0;
    e->paused = 1;
}
