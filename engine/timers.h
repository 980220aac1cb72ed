/*
 * timers.h — script timers: every(seconds, fn) and after(seconds, fn).
 *
 * Contract:
 * - Two clocks. LT_CLOCK_CAPTURE (reading a file): time is the capture time
 *   of the frames. Before a frame is handled, lt_timers_on_frame() fires
 *   every timer due at or before its timestamp, in deadline order (ties in
 *   the order the timers were made). Timers made before the first frame
 *   count from the first frame's time. Capture time never goes back.
 *   LT_CLOCK_WALL (live): time is the system clock; a libuv timer on the
 *   engine's loop fires what is due, and lt_timers_service() lets a reader
 *   waiting on a quiet input fire it too.
 * - An `every` timer that is several periods behind fires once per period
 *   passed, each call given its own deadline, at most LT_TIMER_CATCHUP
 *   times in one go; periods beyond that are skipped (stats().timers_skipped)
 *   and the timer keeps its phase.
 * - At the end of input, timers not yet due never fire; "done" runs.
 * - fn(ts) gets the time it was due (seconds since the epoch). It runs
 *   through lt_host_call: the same budget, reporting and counting as a
 *   handler; a timer failing max_failures times in a row is cancelled with
 *   a message.
 * - Caps: LT_MAX_TIMERS pending timers per run; LT_TIMER_MAX_FIRES calls per
 *   advance (an after(0) that makes another after(0) waits for the next).
 */
#ifndef LUNATAP_TIMERS_H
#define LUNATAP_TIMERS_H

#include <lua.h>
#include <uv.h>

#include "lhost.h"

#define LT_MAX_TIMERS 1024
#define LT_TIMER_CATCHUP 1000
#define LT_TIMER_MAX_FIRES 100000
#define LT_TIMER_MIN_PERIOD 0.001       /* seconds, for every() */
#define LT_TIMER_MAX_DELAY 315360000.0  /* ten years */

enum { LT_CLOCK_CAPTURE, LT_CLOCK_WALL };

typedef struct lt_timers lt_timers;

lt_timers *lt_timers_new(lt_host *h);

/* Frees the timers. Call after the Lua state is closed (no unref then)
 * and after lt_timers_close. */
void lt_timers_free(lt_timers *t);

/* Adds every() and after() to a script's (or module's, -1) environment. */
void lt_timers_env(lt_timers *t, lua_State *L, int env, int script);

/* Switches to wall time and arms the libuv timer on `loop`. */
int lt_timers_use_wall(lt_timers *t, uv_loop_t *loop);

int lt_timers_clock(const lt_timers *t);

/* Capture clock: fires what is due at the frame's time `ts`. No-op on wall time. */
void lt_timers_on_frame(lt_timers *t, double ts);

/* Wall clock: fires what is due now (a reader waiting on a quiet pipe
 * calls this). No-op on capture time. */
void lt_timers_service(lt_timers *t);

/* Wall clock: milliseconds until the next timer is due, -1 if none (or
 * on capture time). */
int lt_timers_wait_ms(const lt_timers *t);

/* stop() was called: no timer fires from now on, not even one due in the
 * same turn as the one that called it. */
void lt_timers_halt(lt_timers *t);

/* Wall clock: `tick(ud, now)` runs once a second of wall time, wherever
 * the timers are fired from (the engine expires idle sessions and checks
 * the drop counters there). Set before lt_timers_use_wall. */
void lt_timers_set_tick(lt_timers *t, void (*tick)(void *ud, double now), void *ud);

/* The system clock, seconds since the epoch. */
double lt_timers_wall_now(void);

/* Stops and closes the libuv timer (before the loop's last run). */
void lt_timers_close(lt_timers *t);

/* Adds timers, timers_fired, timers_skipped to the table on top. */
void lt_timers_stats(const lt_timers *t, lua_State *L);

#endif
