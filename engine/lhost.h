/*
 * lhost.h — the Lua 5.4 host: one state, sandboxed scripts, limits, events.
 *
 * Contract:
 * - Every script and module runs in its own environment built from an
 *   allow-list (see lhost.c, `base_allowed` and `lib_allowed`); scripts see
 *   no globals of each other. Chunks load as text only.
 * - Memory: a custom allocator refuses growth past limits.mem. Time: a count
 *   hook charges every callback against limits.insns and limits.ms; once
 *   over, it raises at every count until the callback returns, so pcall
 *   cannot swallow it.
 * - Every call into Lua goes through lt_host_call(): budget reset, traceback
 *   handler, classification, counting, one report per script and event,
 *   and a handler that fails limits.max_failures times in a row is disabled.
 *   The engine never exits on a script error.
 */
#ifndef LUNATAP_LHOST_H
#define LUNATAP_LHOST_H

#include <lua.h>
#include <stddef.h>
#include <stdint.h>
#include <signal.h>
#include <stdio.h>

#include "output.h"
#include "lpattern.h"

struct lt_packet;

typedef struct lt_limits {
    size_t mem;             /* bytes of Lua memory (--lua-mem) */
    uint64_t insns;         /* VM instructions per callback (--lua-budget) */
    uint32_t ms;            /* wall-clock milliseconds per callback (--lua-time) */
    size_t pattern_max;     /* largest subject for Lua pattern functions */
    int max_failures;       /* failures in a row before a handler is disabled */
} lt_limits;

#define LT_DEFAULT_LUA_MEM ((size_t)512 << 20)
#define LT_DEFAULT_LUA_BUDGET 100000000ull
#define LT_DEFAULT_LUA_MS 2000u
#define LT_DEFAULT_PATTERN_MAX ((size_t)1 << 20)
#define LT_DEFAULT_MAX_FAILURES 10

/* Buffers expire when the epoch they were made in moves on. */
enum { LT_EPOCH_PACKET, LT_EPOCH_STREAM, LT_EPOCH_COUNT };

/* Events the engine fires itself; others are interned by name. */
enum { LT_EV_START, LT_EV_PACKET, LT_EV_DONE, LT_EV_BUILTIN_COUNT };

#define LT_MAX_EVENTS 1024
#define LT_MAX_HANDLERS 65536
#define LT_MAX_SCRIPTS 64

typedef struct lt_handler {
    int fn_ref;             /* LUA_NOREF once removed */
    int script;
    int failures;           /* in a row */
    int id;                 /* handle returned by on() */
} lt_handler;

typedef struct lt_event {
    char *name;
    lt_handler *v;
    int n, cap;
    int active;             /* handlers not removed or disabled */
    int busy;               /* dispatches of this event under way */
} lt_event;

typedef struct lt_script {
    char *name;             /* "simple_capture" or the path given */
    char *path;
    int env_ref;
} lt_script;

typedef struct lt_host_stats {
    uint64_t calls, errors, budget_errors, memory_errors, disabled;
    uint64_t mem_refused;   /* allocations refused by the cap */
} lt_host_stats;

/* Pushes the engine's statistics table (for stats() and "done"). */
typedef void (*lt_stats_fn)(lua_State *L, void *ud);

/* Adds the engine's own globals to a fresh environment (the table at
 * index env) of `script` (-1 for a module). */
typedef void (*lt_env_fn)(lua_State *L, int env, int script, void *ud);

typedef struct lt_host {
    lua_State *L;
    lt_limits lim;
    lt_output *out;
    FILE *err;              /* where reports go (stderr) */

    /* memory */
    size_t mem, mem_peak;
    int mem_enforced;

    /* budget of the callback running now */
    uint64_t insns;
    uint64_t t0_ns;
    int over;               /* budget exceeded: raise until return */
    int depth;              /* nesting of lt_host_call */
    int allow_exit;         /* options() may end the run (main chunks only) */
    volatile sig_atomic_t interrupt; /* lt_host_interrupt(): raise in the callback running */
    uint64_t interrupts;    /* callbacks ended by an interrupt */
    lt_pattern_cfg patterns; /* string.find & co. charge their steps here */

    uint32_t epoch[LT_EPOCH_COUNT];
    const struct lt_packet *cur;   /* packet being dispatched */

    lt_event events[LT_MAX_EVENTS];
    int nevents;
    int nhandlers, next_handle;

    lt_script scripts[LT_MAX_SCRIPTS];
    int nscripts;

    char **paths;           /* require search path, NULL-terminated */
    lt_host_stats st;
    lt_stats_fn stats_fn;
    void *stats_ud;
    lt_env_fn env_fn;
    void *env_ud;
    uint32_t handler_gen;   /* moves on whenever a handler comes or goes */
    char last_error[512];   /* first line of the latest callback error */
} lt_host;

/* lt_host_call()'s result when a main chunk's options() asked to print
 * help or a usage error: the request table is left on the stack. */
#define LT_CALL_EXIT_REQUEST (-1)

/* Outcomes of lt_host_load_script() besides 0 (loaded). */
enum { LT_LOAD_FAILED = -1, LT_LOAD_HELP = 1, LT_LOAD_USAGE = 2 };

lt_host *lt_host_new(const lt_limits *lim, lt_output *out, const char *const *paths,
                     char *err, size_t errlen);
void lt_host_free(lt_host *h);

/* Loads and runs a script's main chunk with its arguments (arg[0] = name).
 * Usage and help texts raised by options() are printed here. */
int lt_host_load_script(lt_host *h, const char *path, const char *name,
                        int argc, char **argv);

/* Interns an event name; -1 when LT_MAX_EVENTS are in use. */
int lt_host_event(lt_host *h, const char *name);

static inline int lt_host_wants(const lt_host *h, int ev)
{
    return h->events[ev].active > 0;
}

/* Calls every active handler of `ev` with the nargs values on top of the
 * stack (popped). Returns the number of handlers that failed. */
int lt_host_dispatch(lt_host *h, int ev, int nargs);

/* The same on thread L (a dissector's coroutine emitting in C, as emit()
 * does from Lua), when the event has handlers; the values are popped. */
int lt_host_emit(lt_host *h, lua_State *L, int ev, int nargs);

/* Calls the function below nargs arguments on top of the stack, in
 * protected mode, charged to `script`, reported as `what`. Pops them.
 * 0 on success, LT_CALL_EXIT_REQUEST (see above), else the Lua status
 * (the error already reported and counted). An overrun of the budget that
 * the script caught itself still counts as a failure. */
int lt_host_call(lt_host *h, int nargs, int script, const char *what);

/* lt_host_call() keeping `nresults` results on the stack on success. */
int lt_host_call_r(lt_host *h, int nargs, int nresults, int script, const char *what);

/* Resumes the coroutine `co` (nargs values on its stack) under the same
 * budget, counting and reporting as lt_host_call(). Returns LUA_OK when it
 * finished, LUA_YIELD when it is suspended, else the error status (already
 * reported; the message is left on top of the host's stack, pop it). An
 * overrun the coroutine caught is an error all the same. */
int lt_host_resume(lt_host *h, lua_State *co, int nargs, int script, const char *what);

/* lt_host_call_r() that reports nothing: on failure the error (with its
 * traceback) is left on top of the stack for the caller to show, and the
 * status returned; the failure is still counted. For the REPL, which
 * shows every error of what the user typed. */
int lt_host_call_keep(lt_host *h, int nargs, int nresults, int script, const char *what);

/* Async-signal-safe (a SIGINT handler calls it): the callback running now,
 * if any, raises "interrupted" at its next budget check, and keeps raising
 * until it returns, as for an overrun. A request that comes while no
 * callback runs is dropped when the next one starts. */
void lt_host_interrupt(lt_host *h);

/* Registers a script with a fresh environment but no file (the REPL's
 * own); returns its id, or -1 (reported) when LT_MAX_SCRIPTS are in use. */
int lt_host_add_script(lt_host *h, const char *name);

/* Pushes the environment of `script`. */
void lt_host_push_env(lt_host *h, int script);

/* Makes the value on top of the stack (popped) the module `name`, so
 * require(name) returns it without looking for a file. */
void lt_host_preload(lt_host *h, const char *name);

/* Reports `msg` once per script and `what` on stderr, and counts it, as
 * for a callback's error. */
void lt_host_report(lt_host *h, int script, const char *what, const char *msg);

/* The name a script is reported under. */
const char *lt_host_script_name(const lt_host *h, int script);

/* The engine's own pushes (event arguments, the statistics table) happen
 * outside any protected call, where a refused allocation would be a Lua
 * panic. They are small and bounded by the engine's caps (sessions by the
 * flow table's), so the script memory cap does not apply to them:
 *   int g = lt_host_unguard(h); ...push...; lt_host_guard(h, g); */
static inline int lt_host_unguard(lt_host *h)
{
    int was = h->mem_enforced;
    h->mem_enforced = 0;
    return was;
}

static inline void lt_host_guard(lt_host *h, int was)
{
    h->mem_enforced = was;
}

/* Moves an epoch on: every buffer made in it expires. */
static inline void lt_host_expire(lt_host *h, int epoch) { h->epoch[epoch]++; }

lt_host *lt_host_from(lua_State *L);

#endif
