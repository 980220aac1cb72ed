/*
 * ring.h — the most recent frames, copied, within caps on count and bytes.
 *
 * Contract:
 * - lt_ring_push() copies the frame (metadata and bytes); the caller's
 *   bytes may go right after. When a cap would be passed, the oldest
 *   frames are evicted first (counted by lt_ring_evicted()).
 * - Bytes: at most max_bytes of frame bytes are held, in one contiguous
 *   buffer allocated once; each frame's bytes are contiguous in it (a frame
 *   that does not fit before the end of the buffer starts again at its
 *   beginning, and the end it skipped counts as used until that frame is
 *   evicted). Memory is max_bytes plus a fixed slot per frame of
 *   max_frames, all allocated by lt_ring_new(); nothing grows later.
 * - A frame keeps at most LT_RING_MAX_FRAME bytes, and never more than
 *   max_bytes: a longer one is stored cut to that, with caplen saying what
 *   was kept and len unchanged (so a decoder sees it as cut by the snap
 *   length), and is counted by lt_ring_truncated(). Zero-length frames are
 *   kept like any other (they take a slot, no bytes).
 * - lt_ring_get(r, 0) is the newest frame. What it returns (the lt_frame
 *   and its data) stays valid until the next push or free.
 * - Plain C: no Lua, no I/O; not thread-safe.
 */
#ifndef LUNATAP_RING_H
#define LUNATAP_RING_H

#include <stddef.h>
#include <stdint.h>

#include "frame.h"

#define LT_RING_MAX_FRAME 65535u

typedef struct lt_ring lt_ring;

/* NULL when a cap is 0 or memory is short. */
lt_ring *lt_ring_new(size_t max_frames, size_t max_bytes);

void lt_ring_push(lt_ring *r, const lt_frame *f);

size_t lt_ring_count(const lt_ring *r);

/* i = 0 is the newest; NULL when i >= count. */
const lt_frame *lt_ring_get(const lt_ring *r, size_t i);

/* Frames evicted to make room, since lt_ring_new(). */
uint64_t lt_ring_evicted(const lt_ring *r);

/* Frames stored cut to the per-frame limit, since lt_ring_new(). */
uint64_t lt_ring_truncated(const lt_ring *r);

void lt_ring_free(lt_ring *r);

#endif
