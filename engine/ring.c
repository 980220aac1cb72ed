#include "ring.h"

#include <stdlib.h>
#include <string.h>

/* One stored frame: its metadata (data points into the byte buffer) and the
 * bytes skipped at the buffer's end before it, which it "uses" too. */
typedef struct slot {
    lt_frame f;
    size_t pad;
} slot;

/* Frame bytes live in one circular span of `used` bytes (pads included)
 * that starts at the oldest frame (less its pad) and ends at `wpos`; the
 * rest of the buffer, from `wpos` on, is free. */
struct lt_ring {
    slot *slots;
    size_t max_frames, first, count;   /* first: slot of the oldest frame */
    uint8_t *buf;
    size_t max_bytes, wpos, used;      /* wpos < max_bytes */
    uint64_t evicted, truncated;
};

lt_ring *lt_ring_new(size_t max_frames, size_t max_bytes)
{
    if (max_frames == 0 || max_bytes == 0)
        return NULL;
    lt_ring *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->slots = calloc(max_frames, sizeof *r->slots);
    r->buf = malloc(max_bytes);
    if (!r->slots || !r->buf) {
        lt_ring_free(r);
        return NULL;
    }
    r->max_frames = max_frames;
    r->max_bytes = max_bytes;
    return r;
}

static void evict_oldest(lt_ring *r)
{
    const slot *s = &r->slots[r->first];
    r->used -= s->pad + s->f.caplen;
    r->first = (r->first + 1) % r->max_frames;
    r->count--;
    r->evicted++;
    if (r->count == 0)
        r->wpos = r->used = 0; /* empty: start again at the beginning, no pad */
}

/* Bytes a frame of n bytes takes from wpos on: n, or the buffer's end too. */
static size_t pad_for(const lt_ring *r, size_t n)
{
    return r->wpos + n <= r->max_bytes ? 0 : r->max_bytes - r->wpos;
}

void lt_ring_push(lt_ring *r, const lt_frame *f)
{
    size_t limit = r->max_bytes < LT_RING_MAX_FRAME ? r->max_bytes : LT_RING_MAX_FRAME;
    size_t n = f->caplen;
    if (n > limit) {
        n = limit;
        r->truncated++;
    }
    if (r->count == r->max_frames)
        evict_oldest(r);
    /* Evicting frees space at the far end of the free span, so the pad
     * (fixed by wpos) stays right; an empty ring restarts at 0 with none. */
    while (r->count > 0 && pad_for(r, n) + n > r->max_bytes - r->used)
        evict_oldest(r);
    size_t pad = pad_for(r, n);
    size_t off = pad ? 0 : r->wpos;
    slot *s = &r->slots[(r->first + r->count) % r->max_frames];
    s->f = *f;
    s->f.caplen = (uint32_t)n;
    s->f.data = r->buf + off;
    s->pad = pad;
    if (n)
        memcpy(r->buf + off, f->data, n);
    r->wpos = off + n == r->max_bytes ? 0 : off + n;
    r->used += pad + n;
    r->count++;
}

size_t lt_ring_count(const lt_ring *r)
{
    return r->count;
}

const lt_frame *lt_ring_get(const lt_ring *r, size_t i)
{
    if (i >= r->count)
        return NULL;
    return &r->slots[(r->first + r->count - 1 - i) % r->max_frames].f;
}

uint64_t lt_ring_evicted(const lt_ring *r)
{
    return r->evicted;
}

uint64_t lt_ring_truncated(const lt_ring *r)
{
    return r->truncated;
}

void lt_ring_free(lt_ring *r)
{
    if (!r)
        return;
    free(r->slots);
    free(r->buf);
    free(r);
}
