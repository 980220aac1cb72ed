#include "stopcond.h"

#include <string.h>

void lt_stopcond_init(lt_stopcond *s, uint64_t max_packets, uint64_t max_bytes, double duration)
{
    memset(s, 0, sizeof *s);
    s->max_packets = max_packets;
    s->max_bytes = max_bytes;
    s->duration = duration;
    s->duration_ns = (int64_t)(duration * 1e9 + 0.5);
}

int lt_stopcond_past_duration(lt_stopcond *s, const lt_frame *f)
{
    if (s->duration <= 0)
        return 0;
    if (!s->have_first) {
        s->first_sec = f->ts_sec;
        s->first_nsec = f->ts_nsec;
        s->have_first = 1;
        return 0;
    }
    /* The window is [first, first + duration): a frame exactly at its end
     * is outside, so --duration 1 over frames one second apart keeps one.
     * Integer nanoseconds, so the boundary is exact (a double of epoch
     * seconds keeps only about a tenth of a microsecond). Seconds beyond
     * the duration's range cannot overflow: the bound is ten years. */
    int64_t ds = f->ts_sec - s->first_sec;
    if (ds > 315360001)
        return 1;
    if (ds < -315360001)
        return 0;
    int64_t elapsed = ds * 1000000000 + ((int64_t)f->ts_nsec - (int64_t)s->first_nsec);
    return elapsed >= s->duration_ns;
}

int lt_stopcond_reached(const lt_stopcond *s, uint64_t passed, uint64_t passed_bytes)
{
    return (s->max_packets && passed >= s->max_packets) ||
           (s->max_bytes && passed_bytes >= s->max_bytes);
}

static void on_wall(uv_timer_t *t)
{
    lt_stopcond *s = t->data;
    if (s->expired)
        s->expired(s->ud);
}

int lt_stopcond_start_wall(lt_stopcond *s, uv_loop_t *loop, void (*expired)(void *ud), void *ud)
{
    if (s->duration <= 0 || s->wall_armed)
        return 0;
    int rc = uv_timer_init(loop, &s->wall);
    if (rc != 0)
        return rc;
    s->wall.data = s;
    s->expired = expired;
    s->ud = ud;
    s->wall_armed = 1;
    /* Rounded up: never stop before the duration is over. */
    uint64_t ms = (uint64_t)(s->duration * 1000.0);
    if ((double)ms < s->duration * 1000.0)
        ms++;
    return uv_timer_start(&s->wall, on_wall, ms, 0);
}

void lt_stopcond_close(lt_stopcond *s)
{
    if (!s->wall_armed)
        return;
    s->wall_armed = 0;
    uv_timer_stop(&s->wall);
    uv_close((uv_handle_t *)&s->wall, NULL);
}
