/*
 * lhost.c — Lua state, sandbox, limits and the one call wrapper.
 *
 * The sandbox is built from allow-lists captured once from a pristine
 * state, before any script runs; each script and module gets fresh copies
 * of the library tables, so one script's changes never reach another.
 */
#include "lhost.h"
#include "json.h"
#include "lbuffer.h"
#include "lpacket.h"

#include <errno.h>
#include <lauxlib.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define HOOK_EVERY 1000
#define OVER_INTERRUPT 2           /* h->over: an interrupt, not the budget */
#define MSGH_INSNS 1000000u        /* allowance for an error's __tostring */
#define MAX_SOURCE ((size_t)16 << 20)

static const char REG_SAFE[] = "lunatap.safe";     /* pristine allow-listed values */
static const char REG_EVENTS[] = "lunatap.events"; /* name -> event index */
static const char REG_LOADED[] = "lunatap.loaded"; /* module name -> value */
static const char REG_REPORTED[] = "lunatap.reported";

static const char *const base_allowed[] = {
    "assert", "error", "ipairs", "next", "pairs", "pcall", "rawequal", "rawget",
    "rawlen", "rawset", "select", "setmetatable", "getmetatable", "tonumber",
    "tostring", "type", "xpcall", "_VERSION", NULL,
};

static const char *const string_allowed[] = {
    "byte", "char", "find", "format", "gmatch", "gsub", "len", "lower", "match",
    "rep", "reverse", "sub", "upper", "pack", "packsize", "unpack", NULL,
};
static const char *const table_allowed[] = {
    "concat", "insert", "move", "pack", "remove", "sort", "unpack", NULL,
};
static const char *const math_allowed[] = {
    "abs", "ceil", "cos", "deg", "exp", "floor", "fmod", "huge", "log", "max",
    "maxinteger", "min", "mininteger", "modf", "pi", "rad", "random", "randomseed",
    "sin", "sqrt", "tan", "tointeger", "type", "ult", "atan", "asin", "acos", NULL,
};
static const char *const utf8_allowed[] = {
    "char", "charpattern", "codes", "codepoint", "len", "offset", NULL,
};
static const char *const coroutine_allowed[] = {
    "create", "isyieldable", "resume", "running", "status", "wrap", "yield", "close", NULL,
};
static const char *const os_allowed[] = { "time", "clock", "date", NULL };

static const struct {
    const char *name;
    const char *const *allowed;
} lib_allowed[] = {
    { "string", string_allowed }, { "table", table_allowed }, { "math", math_allowed },
    { "utf8", utf8_allowed }, { "coroutine", coroutine_allowed }, { "os", os_allowed },
};

#define NLIBS (sizeof lib_allowed / sizeof lib_allowed[0])

static const char *const pattern_fns[] = { "find", "match", "gmatch", "gsub", NULL };

/* ------------------------------------------------------------------ */
/* memory                                                              */

static void *host_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    lt_host *h = ud;
    size_t old = ptr ? osize : 0; /* with ptr NULL, osize is a type tag */
    if (nsize == 0) {
        free(ptr);
        h->mem -= old;
        return NULL;
    }
    if (h->mem_enforced && nsize > old && nsize - old > h->lim.mem - h->mem) {
        h->st.mem_refused++;
        return NULL;
    }
    void *p = realloc(ptr, nsize);
    if (!p)
        return NULL;
    h->mem = h->mem - old + nsize;
    if (h->mem > h->mem_peak)
        h->mem_peak = h->mem;
    return p;
}

lt_host *lt_host_from(lua_State *L)
{
    void *ud;
    lua_getallocf(L, &ud);
    return ud;
}

/* ------------------------------------------------------------------ */
/* time budget                                                         */

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void budget_hook(lua_State *L, lua_Debug *ar);

/* Charges `n` instructions (or pattern-matching steps) to the callback
 * running on L, and raises when it is over its budget or interrupted. */
static void budget_charge(lt_host *h, lua_State *L, uint64_t n)
{
    if (h->depth == 0)
        return; /* not inside a callback: nothing to charge */
    if (h->interrupt && !h->over) {
        h->over = OVER_INTERRUPT;
        lua_sethook(L, budget_hook, LUA_MASKCOUNT, 1);
        if (L != h->L)
            lua_sethook(h->L, budget_hook, LUA_MASKCOUNT, 1);
    }
    if (h->over == OVER_INTERRUPT)
        luaL_error(L, "interrupted");
    if (h->over)
        luaL_error(L, "instruction budget exceeded (limit %I instructions, %d ms per callback)",
                   (lua_Integer)h->lim.insns, (int)h->lim.ms);
    if (lua_gethookcount(L) != HOOK_EVERY) /* a thread left at 1 by an earlier overrun */
        lua_sethook(L, budget_hook, LUA_MASKCOUNT, HOOK_EVERY);
    h->insns += n;
    uint64_t elapsed_ms = (now_ns() - h->t0_ns) / 1000000u;
    if (h->insns > h->lim.insns || elapsed_ms > h->lim.ms) {
        h->over = 1;
        /* Raise again at the very next instruction, wherever a pcall lands:
         * in this thread and in the callback's own (a coroutine that dies of
         * it hands the error to resume, and the callback goes on). */
        lua_sethook(L, budget_hook, LUA_MASKCOUNT, 1);
        if (L != h->L)
            lua_sethook(h->L, budget_hook, LUA_MASKCOUNT, 1);
        luaL_error(L, "instruction budget exceeded (limit %I instructions, %d ms per callback)",
                   (lua_Integer)h->lim.insns, (int)h->lim.ms);
    }
}

static void budget_hook(lua_State *L, lua_Debug *ar)
{
    (void)ar; /* every HOOK_EVERY instructions */
    budget_charge(lt_host_from(L), L, HOOK_EVERY);
}

static void pattern_charge(lua_State *L, void *ud, unsigned steps)
{
    budget_charge(ud, L, steps);
}

static void budget_reset(lt_host *h, uint64_t insns_used)
{
    h->insns = insns_used;
    h->t0_ns = now_ns();
    h->over = 0;
    h->interrupt = 0; /* a Ctrl-C that came between callbacks is spent */
}

void lt_host_interrupt(lt_host *h)
{
    h->interrupt = 1;
}

/* ------------------------------------------------------------------ */
/* the call wrapper                                                    */

/* Turns any error value into text without letting a hostile __tostring or
 * __index escape: raw access only, and __tostring itself runs protected
 * with a small fresh budget. */
static int msgh(lua_State *L)
{
    lt_host *h = lt_host_from(L);
    if (h->allow_exit && lua_type(L, 1) == LUA_TTABLE) {
        lua_pushliteral(L, "lunatap_exit");
        if (lua_rawget(L, 1) != LUA_TNIL) {
            lua_settop(L, 1);
            return 1; /* options() asking to print help or usage */
        }
        lua_pop(L, 1);
    }
    const char *msg = lua_tostring(L, 1); /* strings and numbers */
    if (!msg) {
        msg = NULL;
        if (lua_getmetatable(L, 1)) {
            lua_pushliteral(L, "__tostring");
            if (lua_rawget(L, -2) == LUA_TFUNCTION) {
                int was_over = h->over;
                h->over = 0;
                h->insns = h->lim.insns > MSGH_INSNS ? h->lim.insns - MSGH_INSNS : 0;
                lua_pushvalue(L, 1);
                if (lua_pcall(L, 1, 1, 0) == LUA_OK && lua_type(L, -1) == LUA_TSTRING)
                    msg = lua_tostring(L, -1);
                h->over = was_over;
            }
        }
        if (!msg)
            msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    }
    luaL_traceback(L, L, msg, 1);
    return 1;
}

static const char *script_name(const lt_host *h, int script)
{
    return script >= 0 && script < h->nscripts ? h->scripts[script].name : "lunatap";
}

const char *lt_host_script_name(const lt_host *h, int script)
{
    return script_name(h, script);
}

/* Reports the error on top of the stack once per script and event. */
static void report(lt_host *h, lua_State *L, int script, const char *what, int status)
{
    const char *msg = lua_tostring(L, -1);
    if (!msg)
        msg = status == LUA_ERRMEM ? "not enough memory" : "error in error handling";
    const char *sname = script_name(h, script);
    snprintf(h->last_error, sizeof h->last_error, "%s", msg);
    char *nl = strchr(h->last_error, '\n'); /* the traceback stays on stderr */
    if (nl)
        *nl = '\0';
    lua_getfield(L, LUA_REGISTRYINDEX, REG_REPORTED);
    lua_pushfstring(L, "%s\n%s", sname, what);
    if (lua_rawget(L, -2) == LUA_TNIL) {
        lua_pop(L, 1);
        lua_pushfstring(L, "%s\n%s", sname, what);
        lua_pushboolean(L, 1);
        lua_rawset(L, -3);
        const char *kind = status == LUA_ERRMEM ? " (Lua memory limit reached)" : "";
        fprintf(h->err, "lunatap: %s: error in %s%s: %s\n", sname, what, kind, msg);
        fflush(h->err);
    } else {
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
}

void lt_host_report(lt_host *h, int script, const char *what, const char *msg)
{
    h->st.errors++;
    lua_pushstring(h->L, msg);
    report(h, h->L, script, what, LUA_ERRRUN);
    lua_pop(h->L, 1);
}

static int is_exit_request(lt_host *h, lua_State *L)
{
    if (!h->allow_exit || lua_type(L, -1) != LUA_TTABLE)
        return 0;
    lua_pushliteral(L, "lunatap_exit");
    int yes = lua_rawget(L, -2) != LUA_TNIL;
    lua_pop(L, 1);
    return yes;
}

/* What a callback nested in another must give back to its caller. */
typedef struct budget_frame {
    int outer;
    int quiet;                      /* the caller shows the error itself */
    uint64_t saved_insns, saved_t0, refused;
} budget_frame;

static budget_frame budget_enter(lt_host *h)
{
    budget_frame fr = { h->depth > 0, 0, h->insns, h->t0_ns, h->st.mem_refused };
    if (!fr.outer)
        budget_reset(h, 0);
    h->depth++;
    h->st.calls++;
    return fr;
}

/* Classifies, counts and reports the end of a callback (its error message,
 * if any, on top of the host's stack) and settles the budget. Returns the
 * status, turned into an error when the script caught an overrun. */
static int budget_leave(lt_host *h, lua_State *L, const budget_frame *fr, int status,
                        int script, const char *what)
{
    int failed = status != LUA_OK && status != LUA_YIELD;
    if (!failed && h->over && !fr->outer) {
        /* The script caught the overrun (a coroutine's resume, say): it is
         * a failure all the same. */
        lua_pushfstring(L, "instruction budget exceeded (limit %I instructions, %d ms per "
                           "callback; the script caught the error)",
                        (lua_Integer)h->lim.insns, (int)h->lim.ms);
        status = LUA_ERRRUN;
        failed = 1;
    }
    if (failed) {
        h->st.errors++;
        if (status == LUA_ERRMEM || h->st.mem_refused != fr->refused)
            h->st.memory_errors++;
        if (h->over == OVER_INTERRUPT)
            h->interrupts++;
        else if (h->over)
            h->st.budget_errors++;
        if (!fr->quiet)
            report(h, L, script, what, status);
    }
    if (!fr->outer) {
        h->over = 0;
        h->interrupt = 0;
        lua_sethook(h->L, budget_hook, LUA_MASKCOUNT, HOOK_EVERY);
        /* What the failed callback left behind (a memory bomb's garbage)
         * must not starve the callbacks after it. */
        if (h->st.mem_refused != fr->refused)
            lua_gc(L, LUA_GCCOLLECT, 0);
    } else {
        h->insns = fr->saved_insns > h->insns ? fr->saved_insns : h->insns;
        h->t0_ns = fr->saved_t0;
    }
    return status;
}

/* Calls on thread L: the host's main thread, or a dissector's coroutine
 * emitting an event (its handlers run on its stack). */
static int call_on(lt_host *h, lua_State *L, int nargs, int nresults, int script,
                   const char *what, int quiet)
{
    int base = lua_gettop(L) - nargs;
    lua_pushcfunction(L, msgh);
    lua_insert(L, base);
    budget_frame fr = budget_enter(h);
    fr.quiet = quiet;
    int status = lua_pcall(L, nargs, nresults, base);
    h->depth--;
    /* From here on the host allocates outside protected mode. */
    int g = lt_host_unguard(h);
    int exit_request = status != LUA_OK && is_exit_request(h, L);
    if (!exit_request)
        status = budget_leave(h, L, &fr, status, script, what);
    lt_host_guard(h, g);
    if (exit_request) {
        lua_remove(L, base); /* msgh; the request stays on top */
        return LT_CALL_EXIT_REQUEST;
    }
    if (status == LUA_OK) {
        lua_remove(L, base); /* msgh; the results stay */
        return status;
    }
    if (quiet) {
        lua_replace(L, base); /* the error where msgh was */
        lua_settop(L, base);
        return status;
    }
    lua_settop(L, base - 1);
    return status;
}

int lt_host_call_r(lt_host *h, int nargs, int nresults, int script, const char *what)
{
    return call_on(h, h->L, nargs, nresults, script, what, 0);
}

int lt_host_call(lt_host *h, int nargs, int script, const char *what)
{
    return call_on(h, h->L, nargs, 0, script, what, 0);
}

int lt_host_call_keep(lt_host *h, int nargs, int nresults, int script, const char *what)
{
    return call_on(h, h->L, nargs, nresults, script, what, 1);
}

int lt_host_resume(lt_host *h, lua_State *co, int nargs, int script, const char *what)
{
    budget_frame fr = budget_enter(h);
    int nres = 0;
    int status = lua_resume(co, h->L, nargs, &nres);
    h->depth--;
    int g = lt_host_unguard(h);
    if (status == LUA_OK || status == LUA_YIELD) {
        lua_pop(co, nres);
    } else {
        /* The coroutine's stack is still there: trace it from the host. */
        const char *msg = lua_tostring(co, -1);
        luaL_traceback(h->L, co, msg ? msg : "(error object is not a string)", 0);
    }
    status = budget_leave(h, h->L, &fr, status, script, what);
    lt_host_guard(h, g);
    return status;
}

/* ------------------------------------------------------------------ */
/* events and handlers                                                 */

int lt_host_event(lt_host *h, const char *name)
{
    lua_State *L = h->L;
    lua_getfield(L, LUA_REGISTRYINDEX, REG_EVENTS);
    if (lua_getfield(L, -1, name) == LUA_TNUMBER) {
        int id = (int)lua_tointeger(L, -1);
        lua_pop(L, 2);
        return id;
    }
    lua_pop(L, 1);
    if (h->nevents == LT_MAX_EVENTS) {
        lua_pop(L, 1);
        return -1;
    }
    int id = h->nevents;
    char *copy = strdup(name);
    if (!copy) {
        lua_pop(L, 1);
        return -1;
    }
    h->events[id] = (lt_event){ .name = copy };
    h->nevents++;
    lua_pushinteger(L, id);
    lua_setfield(L, -2, name);
    lua_pop(L, 1);
    return id;
}

static lt_handler *find_handle(lt_host *h, lua_Integer id, lt_event **evp)
{
    for (int e = 0; e < h->nevents; e++)
        for (int i = 0; i < h->events[e].n; i++)
            if (h->events[e].v[i].id == id && h->events[e].v[i].fn_ref != LUA_NOREF) {
                *evp = &h->events[e];
                return &h->events[e].v[i];
            }
    return NULL;
}

static void remove_handler(lt_host *h, lt_event *ev, lt_handler *hd)
{
    luaL_unref(h->L, LUA_REGISTRYINDEX, hd->fn_ref);
    hd->fn_ref = LUA_NOREF;
    ev->active--;
    h->nhandlers--;
    h->handler_gen++;
}

/* Drops removed handlers, keeping the order of the others. Not while the
 * event is being dispatched: its loop walks the array by index. */
static void compact(lt_event *e)
{
    int n = 0;
    for (int i = 0; i < e->n; i++)
        if (e->v[i].fn_ref != LUA_NOREF)
            e->v[n++] = e->v[i];
    e->n = n;
}

static int dispatch_on(lt_host *h, lua_State *L, int ev, int nargs)
{
    lt_event *e = &h->events[ev];
    int failed = 0, first = lua_gettop(L) - nargs + 1;
    luaL_checkstack(L, nargs + 2, "dispatch");
    e->busy++;
    for (int i = 0, n = e->n; i < n; i++) {
        lt_handler *hd = &e->v[i];
        if (hd->fn_ref == LUA_NOREF)
            continue;
        lua_rawgeti(L, LUA_REGISTRYINDEX, hd->fn_ref);
        for (int a = 0; a < nargs; a++)
            lua_pushvalue(L, first + a);
        int script = hd->script;
        int status = call_on(h, L, nargs, 0, script, e->name, 0);
        hd = &e->v[i]; /* on() inside a handler may have moved the array */
        if (status == LUA_OK) {
            hd->failures = 0;
            continue;
        }
        failed++;
        if (++hd->failures >= h->lim.max_failures && hd->fn_ref != LUA_NOREF) {
            fprintf(h->err, "lunatap: %s: handler for \"%s\" disabled after %d failures in a row\n",
                    script_name(h, script), e->name, hd->failures);
            remove_handler(h, e, hd);
            h->st.disabled++;
        }
    }
    e->busy--;
    lua_pop(L, nargs);
    return failed;
}

int lt_host_dispatch(lt_host *h, int ev, int nargs)
{
    return dispatch_on(h, h->L, ev, nargs);
}

int lt_host_emit(lt_host *h, lua_State *L, int ev, int nargs)
{
    if (lt_host_wants(h, ev))
        return dispatch_on(h, L, ev, nargs);
    lua_pop(L, nargs);
    return 0;
}

/* on(event, fn) -> handle */
static int api_on(lua_State *L)
{
    lt_host *h = lt_host_from(L);
    const char *name = luaL_checkstring(L, 1);
    luaL_checktype(L, 2, LUA_TFUNCTION);
    int script = (int)lua_tointeger(L, lua_upvalueindex(1));
    int id = lt_host_event(h, name);
    if (id < 0)
        return luaL_error(L, "on: too many distinct events (limit %d)", LT_MAX_EVENTS);
    if (h->nhandlers >= LT_MAX_HANDLERS)
        return luaL_error(L, "on: too many handlers (limit %d)", LT_MAX_HANDLERS);
    lt_event *e = &h->events[id];
    if (e->n == e->cap && !e->busy && e->active < e->n)
        compact(e); /* on/off in a loop must not grow the array for ever */
    if (e->n == e->cap) {
        int cap = e->cap ? e->cap * 2 : 4;
        lt_handler *v = realloc(e->v, (size_t)cap * sizeof *v);
        if (!v)
            return luaL_error(L, "on: out of memory");
        e->v = v;
        e->cap = cap;
    }
    lua_pushvalue(L, 2);
    lt_handler *hd = &e->v[e->n++];
    *hd = (lt_handler){ .fn_ref = luaL_ref(L, LUA_REGISTRYINDEX), .script = script,
                        .id = ++h->next_handle };
    e->active++;
    h->nhandlers++;
    h->handler_gen++;
    lua_pushinteger(L, hd->id);
    return 1;
}

/* off(handle) -> true if a handler was removed */
static int api_off(lua_State *L)
{
    lt_host *h = lt_host_from(L);
    lt_event *e;
    lt_handler *hd = find_handle(h, luaL_checkinteger(L, 1), &e);
    if (hd)
        remove_handler(h, e, hd);
    lua_pushboolean(L, hd != NULL);
    return 1;
}

/* emit(event, ...) calls the handlers of a named event. */
static int api_emit(lua_State *L)
{
    lt_host *h = lt_host_from(L);
    const char *name = luaL_checkstring(L, 1);
    int id = lt_host_event(h, name);
    if (id < 0)
        return luaL_error(L, "emit: too many distinct events (limit %d)", LT_MAX_EVENTS);
    lt_host_emit(h, L, id, lua_gettop(L) - 1);
    return 0;
}

/* wants(event) -> true when some handler is registered for it */
static int api_wants(lua_State *L)
{
    lt_host *h = lt_host_from(L);
    const char *name = luaL_checkstring(L, 1);
    lua_getfield(L, LUA_REGISTRYINDEX, REG_EVENTS);
    int known = lua_getfield(L, -1, name) == LUA_TNUMBER;
    int id = known ? (int)lua_tointeger(L, -1) : -1;
    lua_pushboolean(L, known && lt_host_wants(h, id));
    return 1;
}

/* ------------------------------------------------------------------ */
/* sandboxed library functions                                         */

static int api_print(lua_State *L)
{
    lt_host *h = lt_host_from(L);
    int n = lua_gettop(L);
    if (n == 1 && lua_type(L, 1) == LUA_TSTRING) {
        /* a script's line, as most are: written as it is, not copied into
         * a new string with its newline */
        size_t len;
        const char *s = lua_tolstring(L, 1, &len);
        lt_output_write(h->out, s, len);
        lt_output_write(h->out, "\n", 1);
        return 0;
    }
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (int i = 1; i <= n; i++) {
        /* The separator goes in before the next value is pushed: the
         * buffer must be on top of the stack when it grows. */
        if (i > 1)
            luaL_addchar(&b, '\t');
        luaL_tolstring(L, i, NULL);
        luaL_addvalue(&b);
    }
    luaL_addchar(&b, '\n');
    luaL_pushresult(&b);
    size_t len;
    const char *s = lua_tolstring(L, -1, &len);
    lt_output_write(h->out, s, len);
    return 0;
}

/* print_json(value [, keys [, optional]]): print(json(...)) without the
 * line becoming a Lua string, to be collected again, on the way out. */
static int api_print_json(lua_State *L)
{
    lt_host *h = lt_host_from(L);
    lt_sbuf b;
    lt_json_args(L, &b);
    lt_sbuf_add(&b, "\n", 1);
    lt_output_write(h->out, b.p, b.n);
    return 0;
}

static int api_collectgarbage(lua_State *L)
{
    const char *opt = luaL_optstring(L, 1, "collect");
    if (strcmp(opt, "count") != 0)
        return luaL_error(L, "collectgarbage: only \"count\" is allowed in lunatap scripts");
    int kb = lua_gc(L, LUA_GCCOUNT, 0), b = lua_gc(L, LUA_GCCOUNTB, 0);
    lua_pushnumber(L, (lua_Number)kb + (lua_Number)b / 1024.0);
    return 1;
}

/* load(chunk [, name [, mode [, env]]]): text only; env defaults to the
 * caller's script environment (upvalue 2), never the host's globals. */
static int api_load(lua_State *L)
{
    if (lua_type(L, 1) == LUA_TSTRING) {
        const char *s = lua_tostring(L, 1);
        if (s[0] == LUA_SIGNATURE[0])
            return luaL_error(L, "load: binary chunks are not allowed");
    }
    const char *mode = luaL_optstring(L, 3, "t");
    if (strcmp(mode, "t") != 0)
        return luaL_error(L, "load: mode '%s' is not allowed (text chunks only)", mode);
    int n = lua_gettop(L);
    lua_settop(L, 4);
    lua_pushvalue(L, lua_upvalueindex(1)); /* the real load */
    lua_pushvalue(L, 1);
    lua_pushvalue(L, 2);
    lua_pushliteral(L, "t");
    if (n >= 4)
        lua_pushvalue(L, 4);
    else
        lua_pushvalue(L, lua_upvalueindex(2));
    lua_call(L, 4, 2);
    if (lua_isnil(L, -2))
        return 2; /* nil, message */
    lua_pop(L, 1);
    return 1;
}

/* xpcall(f, msgh, ...): Lua calls an xpcall handler where the error is
 * raised, and a budget error is raised inside the count hook, where hooks
 * are off, so a handler that loops could never be stopped. Here the
 * handler runs after the protected call returned, under the budget like
 * any code. (Without `debug` a handler cannot inspect the stack it left,
 * so nothing observable is lost.) */
static int api_xpcall(lua_State *L)
{
    int n = lua_gettop(L);
    luaL_checktype(L, 2, LUA_TFUNCTION);
    lua_pushvalue(L, 1);
    for (int i = 3; i <= n; i++)
        lua_pushvalue(L, i);
    if (lua_pcall(L, n - 2, LUA_MULTRET, 0) == LUA_OK) {
        lua_pushboolean(L, 1);
        lua_replace(L, n); /* results follow the n arguments; true in slot n */
        return lua_gettop(L) - n + 1;
    }
    lua_pushvalue(L, 2);
    lua_insert(L, -2);
    if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
        lua_pop(L, 1);
        lua_pushliteral(L, "error in error handling");
    }
    lua_pushboolean(L, 0);
    lua_insert(L, -2);
    return 2;
}

/* setmetatable(t, mt) refuses a __gc field: Lua runs finalizers with hooks
 * off, so a looping finalizer could never be stopped. Lua marks a table
 * for finalization only when __gc is present at this call, so checking
 * here is enough. */
static int api_setmetatable(lua_State *L)
{
    if (lua_type(L, 2) == LUA_TTABLE) {
        lua_pushliteral(L, "__gc");
        int has_gc = lua_rawget(L, 2) != LUA_TNIL;
        lua_pop(L, 1);
        if (has_gc)
            return luaL_error(L, "setmetatable: __gc metamethods are not allowed in lunatap scripts");
    }
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, 1);
    return 1;
}

/* Copies the allowed names of table at `src` into a new table. */
static void copy_allowed(lua_State *L, int src, const char *const *names)
{
    lua_newtable(L);
    for (const char *const *n = names; *n; n++) {
        lua_getfield(L, src, *n);
        lua_setfield(L, -2, *n);
    }
}

/* Builds the pristine "safe" table from the state's standard libraries:
 * safe.base.* and safe.<lib>.*; string's pattern functions guarded. */
static void build_safe(lua_State *L)
{
    lua_newtable(L); /* safe */
    lua_pushglobaltable(L);
    copy_allowed(L, lua_gettop(L), base_allowed);
    lua_getglobal(L, "load");
    lua_setfield(L, -2, "__load"); /* for api_load's upvalue */
    lua_pushcfunction(L, api_xpcall);
    lua_setfield(L, -2, "xpcall");
    lua_getglobal(L, "setmetatable");
    lua_pushcclosure(L, api_setmetatable, 1);
    lua_setfield(L, -2, "setmetatable");
    lua_setfield(L, -3, "base");
    lua_pop(L, 1);
    for (size_t i = 0; i < NLIBS; i++) {
        lua_getglobal(L, lib_allowed[i].name);
        copy_allowed(L, lua_gettop(L), lib_allowed[i].allowed);
        lua_remove(L, -2);
        lua_setfield(L, -2, lib_allowed[i].name);
    }
    /* The pattern functions are our own (lpattern.c): the same results, a
     * matcher charged to the budget, subjects of bounded size. */
    lt_host *h = lt_host_from(L);
    h->patterns = (lt_pattern_cfg){ pattern_charge, h, h->lim.pattern_max, 0 };
    lua_getfield(L, -1, "string");
    lt_pattern_push(L, &h->patterns);
    for (const char *const *p = pattern_fns; *p; p++) {
        lua_getfield(L, -1, *p);
        lua_setfield(L, -3, *p);
    }
    lua_pop(L, 1);
    /* Strings index this table through their metatable; no script can reach
     * it (getmetatable("") returns false), so it stays pristine. */
    lua_pushliteral(L, "");
    lua_getmetatable(L, -1);
    lua_pushvalue(L, -3);
    lua_setfield(L, -2, "__index");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_pop(L, 3);
    lua_setfield(L, LUA_REGISTRYINDEX, REG_SAFE);
}

static int api_require(lua_State *L);
static int api_stats(lua_State *L);

/* Pushes a fresh environment for `script` (-1 for a module). */
static void push_env(lt_host *h, int script)
{
    lua_State *L = h->L;
    lua_newtable(L);
    int env = lua_gettop(L);
    lua_getfield(L, LUA_REGISTRYINDEX, REG_SAFE);
    int safe = env + 1;
    lua_getfield(L, safe, "base");
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        if (lua_type(L, -2) == LUA_TSTRING && lua_tostring(L, -2)[0] != '_' ) {
            lua_pushvalue(L, -2);
            lua_insert(L, -2);
            lua_rawset(L, env);
        } else {
            lua_pop(L, 1);
        }
    }
    lua_getfield(L, -1, "_VERSION");
    lua_setfield(L, env, "_VERSION");
    lua_getfield(L, -1, "__load");
    lua_pushvalue(L, env);
    lua_pushcclosure(L, api_load, 2);
    lua_setfield(L, env, "load");
    lua_pop(L, 1); /* base */
    for (size_t i = 0; i < NLIBS; i++) {
        lua_getfield(L, safe, lib_allowed[i].name);
        copy_allowed(L, lua_gettop(L), lib_allowed[i].allowed);
        lua_setfield(L, env, lib_allowed[i].name);
        lua_pop(L, 1);
    }
    lua_pop(L, 1); /* safe */

    static const luaL_Reg api[] = {
        { "print", api_print }, { "collectgarbage", api_collectgarbage },
        { "off", api_off }, { "emit", api_emit }, { "json", lt_json_api }, { "print_json", api_print_json },
        { "buffer", lt_buffer_api_new }, { "stats", api_stats }, { "wants", api_wants },
        { NULL, NULL },
    };
    lua_pushvalue(L, env);
    luaL_setfuncs(L, api, 0);
    lua_pushinteger(L, script);
    lua_pushcclosure(L, api_on, 1);
    lua_setfield(L, env, "on");
    lua_pushinteger(L, script);
    lua_pushcclosure(L, api_require, 1);
    lua_setfield(L, env, "require");
    lua_pushvalue(L, env);
    lua_setfield(L, env, "_G");
    if (h->env_fn)
        h->env_fn(L, env, script, h->env_ud);
    lua_pop(L, 1);
}

/* options(spec) parses the script's own arguments (see lua/lunatap/options.lua). */
static int api_options(lua_State *L)
{
    lt_host *h = lt_host_from(L);
    int script = (int)lua_tointeger(L, lua_upvalueindex(1));
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_pushinteger(L, script);
    lua_pushcclosure(L, api_require, 1);
    lua_pushliteral(L, "lunatap.options");
    lua_call(L, 1, 1);
    lua_getfield(L, -1, "parse");
    lua_rawgeti(L, LUA_REGISTRYINDEX, h->scripts[script].env_ref);
    lua_getfield(L, -1, "arg");
    lua_remove(L, -2);
    lua_pushvalue(L, 1);
    lua_call(L, 2, 1);
    return 1;
}

static int api_stats(lua_State *L)
{
    lt_host *h = lt_host_from(L);
    if (h->stats_fn)
        h->stats_fn(L, h->stats_ud);
    else
        lua_newtable(L);
    return 1;
}

/* ------------------------------------------------------------------ */
/* loading source text                                                 */

/* Reads a whole file onto the stack as a string; error text on failure. */
static int push_file(lua_State *L, const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        lua_pushfstring(L, "%s: %s", path, strerror(errno));
        return -1;
    }
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    size_t total = 0, n;
    char chunk[8192];
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        total += n;
        if (total > MAX_SOURCE) {
            fclose(f);
            luaL_pushresult(&b);
            lua_pop(L, 1);
            lua_pushfstring(L, "%s: larger than %d MiB", path, (int)(MAX_SOURCE >> 20));
            return -1;
        }
        luaL_addlstring(&b, chunk, n);
    }
    int bad = ferror(f);
    fclose(f);
    luaL_pushresult(&b);
    if (bad) {
        lua_pop(L, 1);
        lua_pushfstring(L, "%s: read error", path);
        return -1;
    }
    return 0;
}

/* Compiles the file at `path` as text with the table on top as its _ENV.
 * Leaves the function (env popped) or an error message. */
static int load_with_env(lua_State *L, const char *path)
{
    if (push_file(L, path) != 0) {
        lua_remove(L, -2);
        return -1;
    }
    size_t len;
    const char *src = lua_tolstring(L, -1, &len);
    if (len > 0 && src[0] == '#') { /* shebang line, as lua.c allows */
        const char *nl = memchr(src, '\n', len);
        size_t skip = nl ? (size_t)(nl - src) : len;
        src += skip;
        len -= skip;
    }
    const char *at = lua_pushfstring(L, "@%s", path);
    int status = luaL_loadbufferx(L, src, len, at, "t");
    lua_remove(L, -2); /* chunk name */
    lua_remove(L, -2); /* source text */
    if (status != LUA_OK) {
        lua_remove(L, -2); /* env */
        return -1;
    }
    lua_insert(L, -2);
    lua_setupvalue(L, -2, 1);
    return 0;
}

static int valid_module_name(const char *name)
{
    if (!*name || name[0] == '.' || strstr(name, ".."))
        return 0;
    for (const char *p = name; *p; p++)
        if (!(*p == '_' || *p == '.' || *p == '-' || (*p >= '0' && *p <= '9') ||
              (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
            return 0;
    return 1;
}

static int is_regular_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* Finds name ("a.b") as a/b.lua or a/b/init.lua in the search path. */
static int find_module(lt_host *h, const char *name, char *out, size_t outlen)
{
    char rel[512];
    if (strlen(name) >= sizeof rel)
        return -1;
    strcpy(rel, name);
    for (char *p = rel; *p; p++)
        if (*p == '.')
            *p = '/';
    for (char **d = h->paths; *d; d++) {
        snprintf(out, outlen, "%s/%s.lua", *d, rel);
        if (is_regular_file(out))
            return 0;
        snprintf(out, outlen, "%s/%s/init.lua", *d, rel);
        if (is_regular_file(out))
            return 0;
    }
    return -1;
}

/* require(name): Lua modules from lunatap's lua/, dissectors/ and -L
 * directories only; each module runs in an environment of its own and is
 * loaded once per run. */
static int api_require(lua_State *L)
{
    lt_host *h = lt_host_from(L);
    const char *name = luaL_checkstring(L, 1);
    lua_getfield(L, LUA_REGISTRYINDEX, REG_LOADED);
    if (lua_getfield(L, -1, name) != LUA_TNIL)
        return 1;
    lua_pop(L, 1);
    char path[4096];
    if (!valid_module_name(name) || find_module(h, name, path, sizeof path) != 0) {
        luaL_Buffer b;
        luaL_buffinit(L, &b);
        lua_pushfstring(L, "module '%s' not found (lunatap loads only Lua modules, from:", name);
        luaL_addvalue(&b);
        for (char **d = h->paths; *d; d++) {
            luaL_addchar(&b, ' ');
            luaL_addstring(&b, *d);
        }
        luaL_addchar(&b, ')');
        luaL_pushresult(&b);
        return lua_error(L);
    }
    push_env(h, (int)lua_tointeger(L, lua_upvalueindex(1)));
    if (load_with_env(L, path) != 0)
        return lua_error(L);
    lua_pushstring(L, name);
    lua_pushstring(L, path);
    lua_call(L, 2, 1);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        lua_pushboolean(L, 1);
    }
    lua_pushvalue(L, -1);
    lua_setfield(L, -3, name);
    return 1;
}

void lt_host_preload(lt_host *h, const char *name)
{
    lua_State *L = h->L;
    lua_getfield(L, LUA_REGISTRYINDEX, REG_LOADED);
    lua_insert(L, -2);
    lua_setfield(L, -2, name);
    lua_pop(L, 1);
}

/* ------------------------------------------------------------------ */
/* scripts                                                             */

/* Prints what options() raised: help to stdout, usage errors to stderr. */
static int handle_exit_request(lt_host *h, const char *name)
{
    lua_State *L = h->L;
    lua_pushliteral(L, "lunatap_exit");
    lua_rawget(L, -2);
    const char *kind = lua_tostring(L, -1);
    int help = kind && strcmp(kind, "help") == 0;
    lua_pop(L, 1);
    lua_pushliteral(L, "text");
    lua_rawget(L, -2);
    const char *text = lua_tostring(L, -1);
    if (help) {
        lt_output_write(h->out, text ? text : "", text ? strlen(text) : 0);
    } else {
        fprintf(h->err, "lunatap: %s: %s\n", name, text ? text : "bad options");
    }
    lua_pop(L, 1); /* the text; the request is the caller's */
    return help ? LT_LOAD_HELP : LT_LOAD_USAGE;
}

/* A new script slot with its environment (kept in the registry); -1 when
 * full or out of memory (reported). */
static int register_script(lt_host *h, const char *path, const char *name)
{
    if (h->nscripts == LT_MAX_SCRIPTS) {
        fprintf(h->err, "lunatap: too many scripts (limit %d)\n", LT_MAX_SCRIPTS);
        return -1;
    }
    int id = h->nscripts;
    lt_script *s = &h->scripts[id];
    s->name = strdup(name);
    s->path = strdup(path);
    if (!s->name || !s->path) {
        free(s->name);
        free(s->path);
        fprintf(h->err, "lunatap: out of memory\n");
        return -1;
    }
    h->nscripts++;
    push_env(h, id);
    s->env_ref = luaL_ref(h->L, LUA_REGISTRYINDEX);
    return id;
}

int lt_host_add_script(lt_host *h, const char *name)
{
    return register_script(h, name, name);
}

void lt_host_push_env(lt_host *h, int script)
{
    lua_rawgeti(h->L, LUA_REGISTRYINDEX, h->scripts[script].env_ref);
}

int lt_host_load_script(lt_host *h, const char *path, const char *name, int argc, char **argv)
{
    lua_State *L = h->L;
    int id = register_script(h, path, name);
    if (id < 0)
        return LT_LOAD_FAILED;
    lt_host_push_env(h, id);
    lua_createtable(L, argc, 1);
    lua_pushstring(L, name);
    lua_rawseti(L, -2, 0);
    for (int i = 0; i < argc; i++) {
        lua_pushstring(L, argv[i]);
        lua_rawseti(L, -2, i + 1);
    }
    lua_setfield(L, -2, "arg");
    lua_pushinteger(L, id);
    lua_pushcclosure(L, api_options, 1);
    lua_setfield(L, -2, "options");

    if (load_with_env(L, path) != 0) {
        fprintf(h->err, "lunatap: %s\n", lua_tostring(L, -1));
        lua_pop(L, 1);
        return LT_LOAD_FAILED;
    }
    h->allow_exit = 1;
    int status = lt_host_call(h, 0, id, "main chunk");
    h->allow_exit = 0;
    if (status == LT_CALL_EXIT_REQUEST) {
        int rc = handle_exit_request(h, name);
        lua_pop(L, 1);
        return rc;
    }
    return status == LUA_OK ? 0 : LT_LOAD_FAILED;
}

/* ------------------------------------------------------------------ */
/* life cycle                                                          */

static int copy_paths(lt_host *h, const char *const *paths)
{
    size_t n = 0;
    while (paths && paths[n])
        n++;
    h->paths = calloc(n + 1, sizeof *h->paths);
    if (!h->paths)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (!(h->paths[i] = strdup(paths[i])))
            return -1;
    return 0;
}

static int setup(lua_State *L)
{
    lt_host *h = lua_touserdata(L, 1);
    luaL_openlibs(L);
    build_safe(L);
    lua_newtable(L);
    lua_setfield(L, LUA_REGISTRYINDEX, REG_EVENTS);
    lua_newtable(L);
    lua_setfield(L, LUA_REGISTRYINDEX, REG_LOADED);
    lua_newtable(L);
    lua_setfield(L, LUA_REGISTRYINDEX, REG_REPORTED);
    lt_buffer_open(L);
    lt_packet_open(L);
    /* Scripts never see the host's globals; leave nothing useful there. */
    lua_newtable(L);
    lua_rawseti(L, LUA_REGISTRYINDEX, LUA_RIDX_GLOBALS);
    static const char *const builtin[] = { "start", "packet", "done" };
    for (int i = 0; i < LT_EV_BUILTIN_COUNT; i++)
        if (lt_host_event(h, builtin[i]) != i)
            return luaL_error(L, "cannot intern built-in events");
    return 0;
}

lt_host *lt_host_new(const lt_limits *lim, lt_output *out, const char *const *paths,
                     char *err, size_t errlen)
{
    lt_host *h = calloc(1, sizeof *h);
    if (!h || copy_paths(h, paths) != 0) {
        lt_host_free(h);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    h->lim = *lim;
    h->out = out;
    h->err = stderr;
    h->L = lua_newstate(host_alloc, h);
    if (!h->L) {
        lt_host_free(h);
        snprintf(err, errlen, "cannot create a Lua state");
        return NULL;
    }
    lua_pushcfunction(h->L, setup);
    lua_pushlightuserdata(h->L, h);
    if (lua_pcall(h->L, 1, 0, 0) != LUA_OK) {
        snprintf(err, errlen, "Lua set-up failed: %s", lua_tostring(h->L, -1));
        lt_host_free(h);
        return NULL;
    }
    /* The cap and the hook apply from here on: before any script runs. */
    h->mem_enforced = 1;
    if (h->mem > h->lim.mem)
        h->lim.mem = h->mem; /* a cap below the libraries' own needs */
    lua_sethook(h->L, budget_hook, LUA_MASKCOUNT, HOOK_EVERY);
    return h;
}

void lt_host_free(lt_host *h)
{
    if (!h)
        return;
    if (h->L) {
        h->mem_enforced = 0;
        lua_gc(h->L, LUA_GCCOLLECT, 0);
        lua_close(h->L);
    }
    for (int i = 0; i < h->nevents; i++) {
        free(h->events[i].name);
        free(h->events[i].v);
    }
    for (int i = 0; i < h->nscripts; i++) {
        free(h->scripts[i].name);
        free(h->scripts[i].path);
    }
    if (h->paths)
        for (char **p = h->paths; *p; p++)
            free(*p);
    free(h->paths);
    free(h);
}
