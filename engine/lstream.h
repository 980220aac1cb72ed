/*
 * lstream.h — the stream reader a dissector's coroutine reads one direction
 * of a TCP session with: s:line(max), s:read(n), s:read_until(d, max),
 * s:chunk(max), s:peek(n), s:skip(n), s:skip_line(), s:find(str, max).
 *
 * Who owns the bytes: the segment being fed (lt_stream_feed) belongs to the
 * TCP tracker and is read in place while the coroutine runs. What the
 * coroutine left unread when it suspends is copied into the stream's own
 * pending buffer (lt_stream_keep), capped at LT_STREAM_MAX_PENDING and
 * charged to the owner's memory account. Skipped bytes are never copied:
 * a suspended s:skip() is served here, in C, without resuming Lua.
 *
 * A read that cannot be served suspends the coroutine (lua_yieldk) and is
 * retried when bytes arrive or the stream ends; at the end, reads return
 * nil. A read whose maximum is passed raises a limit error and records the
 * limit's name (s.limit_hit, kept in the stream's second user value).
 */
#ifndef LUNATAP_LSTREAM_H
#define LUNATAP_LSTREAM_H

#include <lua.h>
#include <stddef.h>
#include <stdint.h>

#define LT_STREAM_MT "lunatap.stream"
#define LT_STREAM_MAX_READ ((size_t)16 << 20)
#define LT_STREAM_MAX_PENDING (LT_STREAM_MAX_READ + 4096)
#define LT_STREAM_SKIP_ALL UINT64_MAX
#define LT_STREAM_MARKS 16      /* segment times kept for s:ts(); more are merged */

/* Charges (delta > 0) or returns (delta < 0) pending-buffer memory; -1
 * refuses the charge. */
typedef int (*lt_stream_charge_fn)(void *ud, long delta);

typedef struct lt_stream {
    uint8_t *pend;              /* bytes kept across suspensions */
    size_t pcap, poff, plen;    /* unread: pend[poff..plen) */
    const uint8_t *cur;         /* the segment being fed (not owned) */
    size_t clen, cpos;
    uint64_t skip;              /* bytes a suspended skip still waits for */
    uint64_t offset;            /* bytes consumed since the stream began */
    size_t scanned;             /* unread bytes already searched for a delimiter */
    double cur_ts;              /* capture time of the segment fed last */
    struct {
        size_t at;              /* where in pend a kept segment starts */
        double ts;              /* its capture time */
    } mark[LT_STREAM_MARKS];
    int nmarks;
    int waiting;                /* suspended in one of its reads */
    int limited;                /* s.limit_hit is set (cleared before each run) */
    int skip_nl;                /* a suspended skip_line() waits for a newline */
    int eof;                    /* reads return nil: the end, or a hole (below) */
    int hole;                   /* the end is a hole: the stream goes on after it */
    int resync;                 /* started after a hole or mid-stream */
    int dir;                    /* 0 client, 1 server */
    lua_State *co;              /* the coroutine allowed to read */
    lt_stream_charge_fn charge;
    void *charge_ud;
    long charged;
} lt_stream;

void lt_stream_open(lua_State *L);

/* Pushes a new stream; the value at `session` (an index) becomes s.session. */
lt_stream *lt_stream_new(lua_State *L, int dir, int session, lt_stream_charge_fn charge,
                         void *charge_ud);

/* Results of lt_stream_feed(). */
enum { LT_FEED_IDLE, LT_FEED_RESUME };

/* Offers p[0..n) (timed ts) to the stream: a suspended skip takes what it
 * waits for; LT_FEED_RESUME when the coroutine must run (bytes remain or
 * the skip ended). -1 when keeping the bytes would pass the caps. */
int lt_stream_feed(lt_stream *s, const uint8_t *p, size_t n, double ts);

/* After the coroutine suspended: copies what it left of the fed segment
 * into the pending buffer. -1 when that would pass the caps. */
int lt_stream_keep(lt_stream *s);

/* A hole of `missing` bytes: 0 when a suspended skip swallowed it, 1 when
 * that ended the skip (resume the coroutine), -1 when the reader must be
 * abandoned (and the stream restarted with resync). */
int lt_stream_gap(lt_stream *s, uint64_t missing);

/* Drops the pending bytes and starts over after a hole (resync = 1). */
void lt_stream_reset(lt_stream *s);

/* Frees the pending buffer (the stream object itself is Lua's). */
void lt_stream_release(lt_stream *s);

/* For readers written in C elsewhere (lresp.c), with the checks and the
 * suspension the stream's own methods use. */

/* The stream at argument 1, if L is its dissector's coroutine (else raises,
 * naming `what`). */
lt_stream *lt_stream_reader(lua_State *L, const char *what);
/* The unread bytes: returns how many, *p at the first. */
size_t lt_stream_avail(const lt_stream *s, const uint8_t **p);
/* Marks k unread bytes read. */
void lt_stream_consume(lt_stream *s, size_t k);
/* Capture time of the first unread byte. */
double lt_stream_ts(const lt_stream *s);
/* Suspends the coroutine until bytes arrive or the stream ends; then k
 * runs (as a lua_KFunction) with the same arguments. */
int lt_stream_suspend(lua_State *L, lt_stream *s, lua_KFunction k);

#endif
