/*
 * timers.c — every() and after(): a binary heap of pending timers keyed by
 * (deadline, creation order), in fixed slots (LT_MAX_TIMERS).
 *
 * A handle is a userdata {timers, slot, id}: the id tells a slot reused by
 * a later timer from the one the handle named, so handle:cancel() on a
 * timer that already fired (or was cancelled) is a harmless false.
 */
#include "timers.h"
#include "lutil.h"

#include <lauxlib.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char TIMER_MT[] = "lunatap.timer";

typedef struct timer {
    uint64_t id;            /* 0 = free slot */
    uint64_t seq;           /* creation order: ties fire oldest first */
    double deadline;        /* seconds; relative until the clock is known */
    double period;          /* every: seconds; after: 0 */
    int fn_ref, script;
    int failures;           /* in a row */
    int hpos;               /* index in the heap */
    uint64_t round;         /* the advance it last fired in */
    int round_fires;        /* its calls in that advance */
} timer;

struct lt_timers {
    lt_host *h;
    timer slot[LT_MAX_TIMERS];
    int heap[LT_MAX_TIMERS]; /* slot indices */
    int n;
    uint64_t next_id, next_seq, round;
    int clock;
    int known;              /* the clock's origin is set (first frame, or wall) */
    int halted;             /* stop() was called: nothing fires any more */
    double now;
    uint64_t fired, skipped;
    uv_timer_t uvt;
    int uv_armed;
    void (*tick)(void *ud, double now);
    void *tick_ud;
    double next_tick;
};

typedef struct timer_handle {
    lt_timers *t;
    int slot;
    uint64_t id;
} timer_handle;

/* ---- the heap ---- */

static int earlier(const lt_timers *t, int a, int b)
{
    const timer *x = &t->slot[t->heap[a]], *y = &t->slot[t->heap[b]];
    return x->deadline < y->deadline || (x->deadline == y->deadline && x->seq < y->seq);
}

static void swap(lt_timers *t, int a, int b)
{
    int s = t->heap[a];
    t->heap[a] = t->heap[b];
    t->heap[b] = s;
    t->slot[t->heap[a]].hpos = a;
    t->slot[t->heap[b]].hpos = b;
}

static void sift_up(lt_timers *t, int i)
{
    while (i > 0 && earlier(t, i, (i - 1) / 2)) {
        swap(t, i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
}

static void sift_down(lt_timers *t, int i)
{
    for (;;) {
        int l = 2 * i + 1, r = l + 1, m = i;
        if (l < t->n && earlier(t, l, m))
            m = l;
        if (r < t->n && earlier(t, r, m))
            m = r;
        if (m == i)
            return;
        swap(t, i, m);
        i = m;
    }
}

static void heap_push(lt_timers *t, int s)
{
    t->heap[t->n] = s;
    t->slot[s].hpos = t->n;
    sift_up(t, t->n++);
}

static void heap_remove(lt_timers *t, int s)
{
    int i = t->slot[s].hpos;
    t->n--;
    if (i != t->n) {
        swap(t, i, t->n);
        sift_up(t, i);
        sift_down(t, i);
    }
}

/* ---- clocks ---- */

double lt_timers_wall_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Sets the clock's origin: deadlines made before it were relative. The
 * same shift for all keeps the heap in order. */
static void set_origin(lt_timers *t, double origin)
{
    for (int i = 0; i < t->n; i++)
        t->slot[t->heap[i]].deadline += origin;
    t->now = origin;
    t->known = 1;
}

int lt_timers_wait_ms(const lt_timers *t)
{
    if (t->clock != LT_CLOCK_WALL || (t->n == 0 && !t->tick))
        return -1;
    double next = t->n ? t->slot[t->heap[0]].deadline : t->next_tick;
    if (t->tick && t->next_tick < next)
        next = t->next_tick;
    double left = next - lt_timers_wall_now();
    if (left <= 0)
        return 0;
    if (left > 86400.0)
        return 86400000;
    return (int)ceil(left * 1000.0);
}

static void on_uv_timer(uv_timer_t *u);

/* Wall clock: the libuv timer follows the earliest deadline. */
static void rearm(lt_timers *t)
{
    if (!t->uv_armed)
        return;
    int ms = lt_timers_wait_ms(t);
    if (ms < 0)
        uv_timer_stop(&t->uvt);
    else
        uv_timer_start(&t->uvt, on_uv_timer, (uint64_t)ms, 0);
}

/* ---- firing ---- */

static void free_slot(lt_timers *t, int s)
{
    luaL_unref(t->h->L, LUA_REGISTRYINDEX, t->slot[s].fn_ref);
    t->slot[s].id = 0;
    t->slot[s].fn_ref = LUA_NOREF;
}

static void cancel_slot(lt_timers *t, int s)
{
    heap_remove(t, s);
    free_slot(t, s);
}

/* Reschedules an `every` timer after its call at `due`; skips what is past
 * `upto` once it fired LT_TIMER_CATCHUP times in this advance. */
static void reschedule(lt_timers *t, timer *tm, double due, double upto)
{
    tm->deadline = due + tm->period;
    if (tm->round_fires >= LT_TIMER_CATCHUP && tm->deadline <= upto) {
        double k = floor((upto - tm->deadline) / tm->period) + 1;
        tm->deadline += k * tm->period;
        t->skipped += (uint64_t)k;
    }
}

/* Calls the timer in slot s, due at `due`. */
static void fire(lt_timers *t, int s, double due, double upto)
{
    timer *tm = &t->slot[s];
    if (tm->round != t->round) {
        tm->round = t->round;
        tm->round_fires = 0;
    }
    tm->round_fires++;
    uint64_t id = tm->id;
    int script = tm->script;
    double period = tm->period;
    lua_State *L = t->h->L;
    int g = lt_host_unguard(t->h);
    lua_rawgeti(L, LUA_REGISTRYINDEX, tm->fn_ref);
    lua_pushnumber(L, due);
    lt_host_guard(t->h, g);
    /* Before the call, so fn may cancel its own every timer; an after
     * timer is over before it runs, and cancel() in it says false. */
    int ref = LUA_NOREF;
    if (period > 0) {
        reschedule(t, tm, due, upto);
        heap_push(t, s);
    } else {
        ref = tm->fn_ref;
        tm->fn_ref = LUA_NOREF;
        tm->id = 0;
    }
    t->fired++;
    int status = lt_host_call(t->h, 1, script, period > 0 ? "every" : "after");
    if (ref != LUA_NOREF)
        luaL_unref(L, LUA_REGISTRYINDEX, ref);
    tm = &t->slot[s];
    if (tm->id != id)
        return; /* cancelled (or an after timer) */
    if (status == LUA_OK) {
        tm->failures = 0;
    } else if (++tm->failures >= t->h->lim.max_failures) {
        fprintf(t->h->err, "lunatap: %s: every(%g) timer cancelled after %d failures in a row\n",
                lt_host_script_name(t->h, script), period, tm->failures);
        t->h->st.disabled++;
        cancel_slot(t, s);
    }
}

/* Fires every timer due at or before `upto`, in deadline order. */
static void advance(lt_timers *t, double upto)
{
    if (!t->known)
        set_origin(t, upto);
    t->round++;
    for (int fires = 0; t->n > 0 && !t->halted && fires < LT_TIMER_MAX_FIRES; fires++) {
        int s = t->heap[0];
        double due = t->slot[s].deadline;
        if (due > upto)
            break;
        heap_remove(t, s);
        if (due > t->now)
            t->now = due;
        fire(t, s, due, upto);
    }
    if (upto > t->now)
        t->now = upto;
    if (t->tick && t->clock == LT_CLOCK_WALL && upto >= t->next_tick) {
        t->next_tick = floor(upto) + 1; /* once, however late */
        t->tick(t->tick_ud, upto);
    }
    rearm(t);
}

void lt_timers_halt(lt_timers *t)
{
    t->halted = 1;
}

void lt_timers_set_tick(lt_timers *t, void (*tick)(void *ud, double now), void *ud)
{
    t->tick = tick;
    t->tick_ud = ud;
}

void lt_timers_on_frame(lt_timers *t, double ts)
{
    if (t->clock == LT_CLOCK_CAPTURE)
        advance(t, ts > t->now || !t->known ? ts : t->now);
}

void lt_timers_service(lt_timers *t)
{
    if (t->clock == LT_CLOCK_WALL)
        advance(t, lt_timers_wall_now());
}

static void on_uv_timer(uv_timer_t *u)
{
    lt_timers_service(u->data);
}

/* ---- the Lua API ---- */

static int make_timer(lua_State *L, int every)
{
    const char *name = every ? "every" : "after";
    lt_timers *t = lua_touserdata(L, lua_upvalueindex(1));
    int script = (int)lua_tointeger(L, lua_upvalueindex(2));
    double secs = luaL_checknumber(L, 1);
    luaL_checktype(L, 2, LUA_TFUNCTION);
    if (every && !(secs >= LT_TIMER_MIN_PERIOD && secs <= LT_TIMER_MAX_DELAY))
        return luaL_error(L, "every: the period must be from %f to %f seconds (got %f)",
                          LT_TIMER_MIN_PERIOD, LT_TIMER_MAX_DELAY, secs);
    if (!every && !(secs >= 0 && secs <= LT_TIMER_MAX_DELAY))
        return luaL_error(L, "after: the delay must be from 0 to %f seconds (got %f)",
                          LT_TIMER_MAX_DELAY, secs);
    if (t->n >= LT_MAX_TIMERS)
        return luaL_error(L, "%s: too many timers (limit %d pending)", name, LT_MAX_TIMERS);
    timer_handle *hd = lua_newuserdatauv(L, sizeof *hd, 0);
    luaL_setmetatable(L, TIMER_MT);
    int s = 0;
    while (s < LT_MAX_TIMERS - 1 && t->slot[s].id != 0)
        s++; /* a free slot exists: fewer than LT_MAX_TIMERS are pending */
    timer *tm = &t->slot[s];
    lua_pushvalue(L, 2);
    *tm = (timer){ .id = ++t->next_id, .seq = ++t->next_seq, .period = every ? secs : 0,
                   .fn_ref = luaL_ref(L, LUA_REGISTRYINDEX), .script = script };
    /* Before the clock is known (no frame yet), relative to its origin. On
     * the wall clock `now` is only as fresh as the last tick: read it. */
    double base = !t->known ? 0 : t->clock == LT_CLOCK_WALL ? lt_timers_wall_now() : t->now;
    tm->deadline = base + secs;
    heap_push(t, s);
    *hd = (timer_handle){ t, s, tm->id };
    rearm(t);
    return 1;
}

/* every(seconds, fn) -> handle */
static int api_every(lua_State *L)
{
    return make_timer(L, 1);
}

/* after(seconds, fn) -> handle */
static int api_after(lua_State *L)
{
    return make_timer(L, 0);
}

/* handle:cancel() -> true when the timer was pending */
static int api_cancel(lua_State *L)
{
    timer_handle *hd = luaL_checkudata(L, 1, TIMER_MT);
    lt_timers *t = hd->t;
    int pending = t->slot[hd->slot].id == hd->id;
    if (pending) {
        cancel_slot(t, hd->slot);
        rearm(t);
    }
    lua_pushboolean(L, pending);
    return 1;
}

static int api_tostring(lua_State *L)
{
    timer_handle *hd = luaL_checkudata(L, 1, TIMER_MT);
    lua_pushfstring(L, "timer %I", (lua_Integer)hd->id);
    return 1;
}

static void open_metatable(lua_State *L)
{
    if (luaL_newmetatable(L, TIMER_MT)) {
        lua_createtable(L, 0, 1);
        lua_pushcfunction(L, api_cancel);
        lua_setfield(L, -2, "cancel");
        lua_setfield(L, -2, "__index");
        lua_pushcfunction(L, api_tostring);
        lua_setfield(L, -2, "__tostring");
        lt_seal_metatable(L, TIMER_MT);
    }
    lua_pop(L, 1);
}

void lt_timers_env(lt_timers *t, lua_State *L, int env, int script)
{
    lua_pushlightuserdata(L, t);
    lua_pushinteger(L, script);
    lua_pushcclosure(L, api_every, 2);
    lua_setfield(L, env, "every");
    lua_pushlightuserdata(L, t);
    lua_pushinteger(L, script);
    lua_pushcclosure(L, api_after, 2);
    lua_setfield(L, env, "after");
}

/* ---- life cycle ---- */

lt_timers *lt_timers_new(lt_host *h)
{
    lt_timers *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->h = h;
    for (int i = 0; i < LT_MAX_TIMERS; i++)
        t->slot[i].fn_ref = LUA_NOREF;
    int g = lt_host_unguard(h);
    open_metatable(h->L);
    lt_host_guard(h, g);
    return t;
}

int lt_timers_use_wall(lt_timers *t, uv_loop_t *loop)
{
    int rc = uv_timer_init(loop, &t->uvt);
    if (rc != 0)
        return rc;
    t->uvt.data = t;
    t->uv_armed = 1;
    t->clock = LT_CLOCK_WALL;
    if (!t->known)
        set_origin(t, lt_timers_wall_now());
    t->next_tick = floor(t->now) + 1;
    rearm(t);
    return 0;
}

int lt_timers_clock(const lt_timers *t)
{
    return t->clock;
}

void lt_timers_close(lt_timers *t)
{
    if (!t || !t->uv_armed)
        return;
    t->uv_armed = 0;
    uv_timer_stop(&t->uvt);
    uv_close((uv_handle_t *)&t->uvt, NULL);
}

void lt_timers_stats(const lt_timers *t, lua_State *L)
{
    lt_set_int(L, "timers", (uint64_t)t->n);
    lt_set_int(L, "timers_fired", t->fired);
    lt_set_int(L, "timers_skipped", t->skipped);
}

void lt_timers_free(lt_timers *t)
{
    free(t);
}
