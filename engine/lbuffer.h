/*
 * lbuffer.h — bounded views over bytes, the only way Lua sees packet data.
 *
 * Who owns the bytes: a view made over packet or stream bytes points into
 * memory the engine owns and recycles. It records the epoch it was made in
 * (see lt_host_expire()); once that epoch moves on, every accessor raises
 * "expired buffer", so no script can follow a pointer into a recycled
 * packet. A view made from a Lua string (buffer(s)) keeps the string alive
 * through its user value and never expires; so do its sub-views.
 *
 * Offsets are 0-based. Every accessor checks its range without overflow and
 * names the accessor, offset, length and buffer size when it refuses.
 */
#ifndef LUNATAP_LBUFFER_H
#define LUNATAP_LBUFFER_H

#include <lua.h>
#include <stddef.h>
#include <stdint.h>

#define LT_BUFFER_MT "lunatap.buffer"

typedef struct lt_buffer {
    const uint8_t *p;
    size_t len;
    const uint32_t *epoch;   /* NULL: owned, never expires */
    uint32_t gen;
} lt_buffer;

void lt_buffer_open(lua_State *L);

/* Pushes a view of p[0..len) valid while *epoch stays as it is now. */
void lt_buffer_push_view(lua_State *L, const uint8_t *p, size_t len, const uint32_t *epoch);

/* Pushes a view of p[0..len) that never expires: the bytes belong to the
 * value at index owner, which the view and its sub-views keep alive. */
void lt_buffer_push_owned(lua_State *L, const uint8_t *p, size_t len, int owner);

/* True when b's bytes have gone (its epoch moved on). */
static inline int lt_buffer_is_expired(const lt_buffer *b)
{
    return b->epoch && *b->epoch != b->gen;
}

/* The bytes of a live buffer at idx, or NULL when idx is not a buffer;
 * raises "expired buffer" for an expired one. */
const uint8_t *lt_buffer_test(lua_State *L, int idx, size_t *len);

/* buffer(string) -> buffer */
int lt_buffer_api_new(lua_State *L);

#endif
