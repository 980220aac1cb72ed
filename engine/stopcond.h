/*
 * stopcond.h — when reading ends before the input does: -c N packets,
 * --max-bytes N, --duration SEC.
 *
 * Contract:
 * - -c and --max-bytes count what passed the filter: the frame that
 *   reaches the count (or brings the captured bytes to N or more) is the
 *   last one handled.
 * - --duration offline is capture time since the first frame read: a
 *   frame whose timestamp is SEC or more after the first one is not
 *   handled, and reading ends before it.
 * - --duration live is wall time since capture started:
 *   lt_stopcond_start_wall() arms a libuv timer on the engine's loop that
 *   calls `expired` once. The live source calls it; offline never does.
 */
#ifndef LUNATAP_STOPCOND_H
#define LUNATAP_STOPCOND_H

#include <stdint.h>
#include <uv.h>

#include "frame.h"

typedef struct lt_stopcond {
    uint64_t max_packets;       /* -c, 0 = none */
    uint64_t max_bytes;         /* --max-bytes, 0 = none */
    double duration;            /* --duration seconds, 0 = none */
    int64_t duration_ns;        /* the same in nanoseconds: compared exactly */
    int64_t first_sec;          /* capture time of the first frame read */
    uint32_t first_nsec;
    int have_first;
    uv_timer_t wall;            /* live --duration */
    int wall_armed;
    void (*expired)(void *ud);
    void *ud;
} lt_stopcond;

void lt_stopcond_init(lt_stopcond *s, uint64_t max_packets, uint64_t max_bytes, double duration);

/* Before a frame is counted: 1 when it lies past the capture-time
 * --duration, and reading ends without it. */
int lt_stopcond_past_duration(lt_stopcond *s, const lt_frame *f);

/* After a frame that passed the filter was handled: 1 when -c or
 * --max-bytes is reached with these totals. */
int lt_stopcond_reached(const lt_stopcond *s, uint64_t passed, uint64_t passed_bytes);

/* Live: arms --duration on wall time (no-op without --duration). 0, or a
 * libuv error code. `expired(ud)` runs once from the loop. */
int lt_stopcond_start_wall(lt_stopcond *s, uv_loop_t *loop, void (*expired)(void *ud), void *ud);

/* Stops and closes the wall timer, if armed (before the loop's last run). */
void lt_stopcond_close(lt_stopcond *s);

#endif
