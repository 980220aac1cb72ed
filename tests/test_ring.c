/* The frame ring: the frame cap, the byte cap and wrapping at the buffer's
 * end, get() bounds, zero-length frames, frames longer than the byte cap
 * or the per-frame limit, and a long random run checked against what was
 * pushed (every kept frame intact, newest first, caps never passed). */
#include "ring.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

static uint8_t big[LT_RING_MAX_FRAME + 100];

/* Frame number `seq` of n bytes; its bytes say which frame they belong to. */
static lt_frame frame(uint32_t seq, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        big[i] = (uint8_t)(seq * 31 + i);
    lt_frame f = { big, n, n + 7, 1000 + seq, seq, 1, seq % 3 };
    return f;
}

/* The frame at i is number `seq`, with `n` bytes kept, all intact. */
static int holds(const lt_ring *r, size_t i, uint32_t seq, uint32_t n)
{
    const lt_frame *f = lt_ring_get(r, i);
    if (!f || f->caplen != n || f->ts_sec != 1000 + seq || f->ts_nsec != seq)
        return 0;
    for (uint32_t k = 0; k < n; k++)
        if (f->data[k] != (uint8_t)(seq * 31 + k))
            return 0;
    return 1;
}

static void push(lt_ring *r, uint32_t seq, uint32_t n)
{
    lt_frame f = frame(seq, n);
    lt_ring_push(r, &f);
    memset(big, 0xee, sizeof big); /* the ring must not keep pointing here */
}

static void test_new(void)
{
    g_ctx = "new";
    CHECK(lt_ring_new(0, 100) == NULL);
    CHECK(lt_ring_new(10, 0) == NULL);
    lt_ring *r = lt_ring_new(3, 100);
    CHECK(r != NULL);
    CHECK_EQ(lt_ring_count(r), 0);
    CHECK(lt_ring_get(r, 0) == NULL);
    CHECK_EQ(lt_ring_evicted(r), 0);
    lt_ring_free(r);
    lt_ring_free(NULL);
}

static void test_frame_cap(void)
{
    g_ctx = "frame cap";
    lt_ring *r = lt_ring_new(3, 1000);
    for (uint32_t s = 0; s < 5; s++)
        push(r, s, 10);
    CHECK_EQ(lt_ring_count(r), 3);
    CHECK_EQ(lt_ring_evicted(r), 2);
    CHECK(holds(r, 0, 4, 10));
    CHECK(holds(r, 1, 3, 10));
    CHECK(holds(r, 2, 2, 10));
    CHECK(lt_ring_get(r, 3) == NULL);
    CHECK(lt_ring_get(r, (size_t)-1) == NULL);
    const lt_frame *f = lt_ring_get(r, 0);
    CHECK_EQ(f->len, 17); /* the wire length is kept */
    CHECK_EQ(f->linktype, 1);
    CHECK_EQ(f->ifindex, 4 % 3);
    lt_ring_free(r);
}

static void test_byte_cap_and_wrap(void)
{
    g_ctx = "byte cap";
    lt_ring *r = lt_ring_new(100, 100);
    push(r, 0, 40);
    push(r, 1, 40);
    CHECK_EQ(lt_ring_count(r), 2);
    /* 40 more do not fit in the 20 left at the end: frame 0 goes, and the
     * new frame starts at the beginning of the buffer */
    push(r, 2, 40);
    CHECK_EQ(lt_ring_count(r), 2);
    CHECK_EQ(lt_ring_evicted(r), 1);
    CHECK(holds(r, 0, 2, 40));
    CHECK(holds(r, 1, 1, 40));
    /* its end of 20 counts as used until frame 2 goes: 10 more need frame 1's room */
    push(r, 3, 10);
    CHECK_EQ(lt_ring_count(r), 2);
    CHECK_EQ(lt_ring_evicted(r), 2);
    CHECK(holds(r, 0, 3, 10));
    CHECK(holds(r, 1, 2, 40));
    push(r, 4, 30); /* 30 free after frame 3: nothing goes */
    CHECK_EQ(lt_ring_count(r), 3);
    CHECK_EQ(lt_ring_evicted(r), 2);
    push(r, 5, 20); /* up to the buffer's end, taking frame 2's room and end */
    CHECK_EQ(lt_ring_count(r), 3);
    CHECK(holds(r, 0, 5, 20));
    CHECK(holds(r, 2, 3, 10));
    push(r, 6, 40); /* from the beginning again: the buffer is exactly full */
    CHECK_EQ(lt_ring_count(r), 4);
    CHECK_EQ(lt_ring_evicted(r), 3);
    CHECK(holds(r, 0, 6, 40));
    CHECK(holds(r, 1, 5, 20));
    CHECK(holds(r, 2, 4, 30));
    CHECK(holds(r, 3, 3, 10));
    push(r, 7, 100); /* the whole buffer: everything else goes */
    CHECK_EQ(lt_ring_count(r), 1);
    CHECK(holds(r, 0, 7, 100));
    CHECK_EQ(lt_ring_truncated(r), 0);
    lt_ring_free(r);
}

static void test_zero_length(void)
{
    g_ctx = "zero length";
    lt_ring *r = lt_ring_new(4, 10);
    push(r, 0, 10);
    push(r, 1, 0);
    push(r, 2, 0);
    CHECK_EQ(lt_ring_count(r), 3); /* zero-length frames take no bytes */
    CHECK(holds(r, 0, 2, 0));
    CHECK(holds(r, 2, 0, 10));
    push(r, 3, 5); /* needs frame 0's bytes: frame 0 goes, 1 and 2 stay */
    CHECK_EQ(lt_ring_count(r), 3);
    CHECK(holds(r, 0, 3, 5));
    CHECK(holds(r, 1, 2, 0));
    CHECK(holds(r, 2, 1, 0));
    lt_frame f = { NULL, 0, 0, 1000 + 9, 9, 1, 0 };
    lt_ring_push(r, &f); /* no bytes at all: data may be NULL */
    CHECK(holds(r, 0, 9, 0));
    CHECK_EQ(lt_ring_count(r), 4);
    lt_ring_free(r);
}

static void test_too_big(void)
{
    g_ctx = "too big";
    lt_ring *r = lt_ring_new(4, 50);
    push(r, 0, 20);
    push(r, 1, 80); /* longer than the byte cap: kept cut to 50, alone */
    CHECK_EQ(lt_ring_count(r), 1);
    CHECK(holds(r, 0, 1, 50));
    CHECK_EQ(lt_ring_get(r, 0)->len, 87);
    CHECK_EQ(lt_ring_truncated(r), 1);
    push(r, 2, 10);
    CHECK(holds(r, 0, 2, 10));
    CHECK_EQ(lt_ring_count(r), 1);
    lt_ring_free(r);

    r = lt_ring_new(4, 3 * (size_t)LT_RING_MAX_FRAME);
    push(r, 0, LT_RING_MAX_FRAME + 100); /* past the per-frame limit */
    CHECK(holds(r, 0, 0, LT_RING_MAX_FRAME));
    CHECK_EQ(lt_ring_get(r, 0)->len, LT_RING_MAX_FRAME + 107);
    push(r, 1, LT_RING_MAX_FRAME);
    CHECK_EQ(lt_ring_count(r), 2);
    CHECK_EQ(lt_ring_truncated(r), 1);
    lt_ring_free(r);
}

/* Random sizes through a small ring: every frame kept is intact, in order,
 * the newest is always there, and neither cap is ever passed. */
static void test_random(void)
{
    g_ctx = "random";
    srand(8);
    const size_t max_frames = 7, max_bytes = 300;
    lt_ring *r = lt_ring_new(max_frames, max_bytes);
    uint32_t sizes[20000];
    int bad = 0;
    for (uint32_t s = 0; s < 20000; s++) {
        sizes[s] = (uint32_t)(rand() % 5 == 0 ? 0 : rand() % 400);
        push(r, s, sizes[s]);
        size_t n = lt_ring_count(r), bytes = 0;
        if (n == 0 || n > max_frames || lt_ring_evicted(r) + n != s + 1)
            bad++;
        for (size_t i = 0; i < n; i++) {
            uint32_t seq = s - (uint32_t)i;
            uint32_t want = sizes[seq] > max_bytes ? (uint32_t)max_bytes : sizes[seq];
            bad += !holds(r, i, seq, want);
            bytes += want;
        }
        bad += bytes > max_bytes;
    }
    CHECK_EQ(bad, 0);
    lt_ring_free(r);
}

int main(void)
{
    test_new();
    test_frame_cap();
    test_byte_cap_and_wrap();
    test_zero_length();
    test_too_big();
    test_random();
    return check_summary("test_ring");
}
