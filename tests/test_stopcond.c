/* Stop conditions: the capture-time --duration window and its boundary,
 * -c and --max-bytes, and the live half: the wall-time --duration timer
 * on a libuv loop fires once, not before the duration is over. */
#include "stopcond.h"

#include <stdio.h>
#include <string.h>

#include "check.h"

static lt_frame at(int64_t sec, uint32_t nsec)
{
    lt_frame f;
    memset(&f, 0, sizeof f);
    f.ts_sec = sec;
    f.ts_nsec = nsec;
    return f;
}

static void test_capture_duration(void)
{
    lt_stopcond s;
    lt_stopcond_init(&s, 0, 0, 1.5);
    lt_frame f = at(1000, 999999999);
    CHECK_EQ(lt_stopcond_past_duration(&s, &f), 0); /* the first frame starts the window */
    f = at(1002, 499999998);
    CHECK_EQ(lt_stopcond_past_duration(&s, &f), 0);
    f = at(1002, 499999999);
    CHECK_EQ(lt_stopcond_past_duration(&s, &f), 1); /* exactly 1.5 s later: outside */
    f = at(900, 0);
    CHECK_EQ(lt_stopcond_past_duration(&s, &f), 0); /* time going back stays inside */
    f = at(INT64_MAX / 2, 0);
    CHECK_EQ(lt_stopcond_past_duration(&s, &f), 1); /* no overflow far ahead */
    lt_stopcond_init(&s, 0, 0, 0);
    CHECK_EQ(lt_stopcond_past_duration(&s, &f), 0); /* no --duration */
}

static void test_counts(void)
{
    lt_stopcond s;
    lt_stopcond_init(&s, 3, 0, 0);
    CHECK_EQ(lt_stopcond_reached(&s, 2, 1u << 30), 0);
    CHECK_EQ(lt_stopcond_reached(&s, 3, 0), 1);
    lt_stopcond_init(&s, 0, 300, 0);
    CHECK_EQ(lt_stopcond_reached(&s, 1000, 299), 0);
    CHECK_EQ(lt_stopcond_reached(&s, 1, 300), 1);
    lt_stopcond_init(&s, 0, 0, 0);
    CHECK_EQ(lt_stopcond_reached(&s, UINT64_MAX, UINT64_MAX), 0);
}

typedef struct fired {
    int count;
    uint64_t at_ms;
    uv_loop_t *loop;
} fired;

static void on_expired(void *ud)
{
    fired *fd = ud;
    fd->count++;
    uv_update_time(fd->loop);
    fd->at_ms = uv_now(fd->loop);
}

static void test_wall_duration(void)
{
    uv_loop_t loop;
    CHECK_EQ(uv_loop_init(&loop), 0);
    lt_stopcond s;
    lt_stopcond_init(&s, 0, 0, 0.05);
    fired fd = { 0, 0, &loop };
    uv_update_time(&loop);
    uint64_t t0 = uv_now(&loop);
    CHECK_EQ(lt_stopcond_start_wall(&s, &loop, on_expired, &fd), 0);
    uv_run(&loop, UV_RUN_ONCE);
    CHECK_EQ(fd.count, 1);
    CHECK(fd.at_ms - t0 >= 50);
    lt_stopcond_close(&s);
    uv_run(&loop, UV_RUN_DEFAULT); /* the close callback; nothing else left */
    CHECK_EQ(uv_loop_close(&loop), 0);

    /* Without --duration nothing is armed and the loop has nothing to do. */
    CHECK_EQ(uv_loop_init(&loop), 0);
    lt_stopcond_init(&s, 0, 0, 0);
    CHECK_EQ(lt_stopcond_start_wall(&s, &loop, on_expired, &fd), 0);
    CHECK_EQ(uv_run(&loop, UV_RUN_NOWAIT), 0);
    lt_stopcond_close(&s);
    CHECK_EQ(uv_loop_close(&loop), 0);
    CHECK_EQ(fd.count, 1);
}

int main(void)
{
    test_capture_duration();
    test_counts();
    test_wall_duration();
    return check_summary("test_stopcond");
}
