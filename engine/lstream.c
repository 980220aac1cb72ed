/*
 * lstream.c — see lstream.h. The unread bytes are one contiguous region:
 * the pending buffer when it holds anything (a segment fed then is appended
 * to it), else the segment being fed, read in place.
 */
#include "lstream.h"
#include "lutil.h"

#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>

enum { UV_SESSION = 1, UV_LIMIT = 2 };

static size_t avail(const lt_stream *s, const uint8_t **p)
{
    if (s->plen > s->poff) {
        *p = s->pend + s->poff;
        return s->plen - s->poff;
    }
    *p = s->cur ? s->cur + s->cpos : NULL;
    return s->cur ? s->clen - s->cpos : 0;
}

static void consume(lt_stream *s, size_t k)
{
    if (s->plen > s->poff) {
        s->poff += k;
        if (s->poff == s->plen)
            s->poff = s->plen = s->nmarks = 0;
    } else {
        s->cpos += k;
    }
    s->offset += k;
    s->scanned = 0;
}

/* Grows the pending buffer to hold `need` bytes, charging the owner. */
static int reserve(lt_stream *s, size_t need)
{
    if (need > LT_STREAM_MAX_PENDING)
        return -1;
    if (need <= s->pcap)
        return 0;
    size_t cap = s->pcap ? s->pcap : 4096;
    while (cap < need)
        cap *= 2;
    if (cap > LT_STREAM_MAX_PENDING)
        cap = LT_STREAM_MAX_PENDING;
    long delta = (long)(cap - s->pcap);
    if (s->charge && s->charge(s->charge_ud, delta) != 0)
        return -1;
    uint8_t *np = realloc(s->pend, cap);
    if (!np) {
        if (s->charge)
            s->charge(s->charge_ud, -delta);
        return -1;
    }
    s->charged += delta;
    s->pend = np;
    s->pcap = cap;
    return 0;
}

/* Moves the unread pending bytes to the front, and their segment times. */
static void compact_pending(lt_stream *s)
{
    size_t unread = s->plen - s->poff;
    memmove(s->pend, s->pend + s->poff, unread);
    int keep = 0;
    for (int i = 0; i < s->nmarks; i++) {
        if (i + 1 < s->nmarks && s->mark[i + 1].at <= s->poff)
            continue; /* all its bytes were read */
        s->mark[keep].at = s->mark[i].at > s->poff ? s->mark[i].at - s->poff : 0;
        s->mark[keep++].ts = s->mark[i].ts;
    }
    s->nmarks = unread ? keep : 0;
    s->plen = unread;
    s->poff = 0;
}

/* Notes that the bytes from `at` on came at `ts`. When the marks are full,
 * the second is dropped: its bytes take the first one's time. */
static void add_mark(lt_stream *s, size_t at, double ts)
{
    if (s->nmarks == LT_STREAM_MARKS) {
        memmove(&s->mark[1], &s->mark[2], (LT_STREAM_MARKS - 2) * sizeof s->mark[0]);
        s->nmarks--;
    }
    s->mark[s->nmarks].at = at;
    s->mark[s->nmarks++].ts = ts;
}

/* Appends bytes after the unread pending ones (moved to the front first). */
static int append(lt_stream *s, const uint8_t *p, size_t n, double ts)
{
    if (s->poff)
        compact_pending(s);
    size_t unread = s->plen;
    if (reserve(s, unread + n) != 0)
        return -1;
    add_mark(s, unread, ts);
    memcpy(s->pend + unread, p, n);
    s->plen = unread + n;
    return 0;
}

/* Serves a suspended skip_line() from p[0..n); returns bytes taken. */
static size_t skip_to_newline(lt_stream *s, const uint8_t *p, size_t n)
{
    const uint8_t *nl = memchr(p, '\n', n);
    size_t k = nl ? (size_t)(nl - p) + 1 : n;
    if (nl)
        s->skip_nl = 0;
    s->offset += k;
    return k;
}

int lt_stream_feed(lt_stream *s, const uint8_t *p, size_t n, double ts)
{
    int resume = 0;
    s->cur_ts = ts;
    if (s->skip) {
        uint64_t k = n < s->skip ? n : s->skip;
        p += k;
        n -= (size_t)k;
        s->offset += k;
        if (s->skip != LT_STREAM_SKIP_ALL)
            s->skip -= k;
        if (s->skip)
            return LT_FEED_IDLE;
        resume = 1;
    }
    if (s->skip_nl) {
        size_t k = skip_to_newline(s, p, n);
        p += k;
        n -= k;
        if (s->skip_nl)
            return LT_FEED_IDLE;
        resume = 1;
    }
    if (n == 0)
        return resume ? LT_FEED_RESUME : LT_FEED_IDLE;
    if (s->plen > s->poff)
        return append(s, p, n, ts) == 0 ? LT_FEED_RESUME : -1;
    s->cur = p;
    s->clen = n;
    s->cpos = 0;
    return LT_FEED_RESUME;
}

int lt_stream_keep(lt_stream *s)
{
    int rc = 0;
    if (s->cur && s->cpos < s->clen) {
        size_t scanned = s->scanned;
        rc = append(s, s->cur + s->cpos, s->clen - s->cpos, s->cur_ts);
        s->scanned = scanned;
    }
    s->cur = NULL;
    s->clen = s->cpos = 0;
    return rc;
}

int lt_stream_gap(lt_stream *s, uint64_t missing)
{
    if (s->skip_nl) {
        /* After a hole the position is unknown; what follows it is as good
         * a place to look for a message as a line start. */
        s->skip_nl = 0;
        s->offset += missing;
        return 1;
    }
    if (s->skip == LT_STREAM_SKIP_ALL || (s->skip && s->skip >= missing)) {
        s->offset += missing;
        if (s->skip != LT_STREAM_SKIP_ALL)
            s->skip -= missing;
        return s->skip ? 0 : 1;
    }
    return -1;
}

void lt_stream_reset(lt_stream *s)
{
    s->offset += s->plen - s->poff; /* dropped unread */
    s->poff = s->plen = s->nmarks = 0;
    s->cur = NULL;
    s->clen = s->cpos = 0;
    s->skip = 0;
    s->skip_nl = 0;
    s->scanned = 0;
    s->resync = 1;
    s->co = NULL;
}

void lt_stream_release(lt_stream *s)
{
    if (s->charge && s->charged)
        s->charge(s->charge_ud, -s->charged);
    s->charged = 0;
    free(s->pend);
    s->pend = NULL;
    s->pcap = s->poff = s->plen = 0;
    s->cur = NULL;
    s->charge = NULL;
    s->co = NULL;
    s->eof = 1;
}

/* ------------------------------------------------------------------ */
/* Lua side                                                            */

static lt_stream *check_stream(lua_State *L)
{
    return luaL_checkudata(L, 1, LT_STREAM_MT);
}

/* The stream's reads belong to its dissector's coroutine: a yield from
 * anywhere else would be taken by someone who does not feed the stream. */
static lt_stream *reader(lua_State *L, const char *what)
{
    lt_stream *s = check_stream(L);
    if (s->co != L)
        luaL_error(L, "%s: the stream can be read only by its dissector's own coroutine", what);
    return s;
}

static int hit_limit(lua_State *L, const char *name, const char *msg)
{
    lt_stream *s = lua_touserdata(L, 1);
    s->scanned = 0; /* a caught limit must not leave the next read's search behind */
    s->limited = 1;
    lua_pushstring(L, name);
    lua_setiuservalue(L, 1, UV_LIMIT);
    lua_pushstring(L, msg);
    return lua_error(L); /* no source position: the limit is the peer's doing */
}

static size_t check_max(lua_State *L, int arg, const char *what)
{
    lua_Integer max = luaL_checkinteger(L, arg);
    if (max < 0 || (lua_Unsigned)max > LT_STREAM_MAX_READ)
        luaL_error(L, "%s: maximum %I is outside 0..%I", what, max, (lua_Integer)LT_STREAM_MAX_READ);
    return (size_t)max;
}

/* Only the stream's reads suspend its coroutine: `waiting` tells the
 * framework a yield came from one of them. */
static int suspend_k(lua_State *L, lt_stream *s, lua_KContext ctx, lua_KFunction k)
{
    s->waiting = 1;
    return lua_yieldk(L, 0, ctx, k);
}

static int suspend(lua_State *L, lua_KFunction k)
{
    return suspend_k(L, lua_touserdata(L, 1), 0, k);
}

lt_stream *lt_stream_reader(lua_State *L, const char *what)
{
    return reader(L, what);
}

size_t lt_stream_avail(const lt_stream *s, const uint8_t **p)
{
    return avail(s, p);
}

void lt_stream_consume(lt_stream *s, size_t k)
{
    consume(s, k);
}

int lt_stream_suspend(lua_State *L, lt_stream *s, lua_KFunction k)
{
    return suspend_k(L, s, 0, k);
}

static int line_k(lua_State *L, int status, lua_KContext ctx)
{
    (void)status;
    (void)ctx;
    lt_stream *s = reader(L, "line");
    size_t max = check_max(L, 2, "line");
    const uint8_t *p;
    size_t n = avail(s, &p);
    size_t window = n < max + 2 ? n : max + 2; /* the line, its \r and its \n */
    const uint8_t *nl = window > s->scanned ? memchr(p + s->scanned, '\n', window - s->scanned) : NULL;
    if (nl) {
        size_t len = (size_t)(nl - p);
        size_t keep = len > 0 && p[len - 1] == '\r' ? len - 1 : len;
        if (keep > max)
            return hit_limit(L, "line", lua_pushfstring(L, "line: longer than %I bytes", (lua_Integer)max));
        lua_pushlstring(L, (const char *)p, keep);
        consume(s, len + 1);
        return 1;
    }
    if (n >= max + 2)
        return hit_limit(L, "line", lua_pushfstring(L, "line: no end of line within %I bytes", (lua_Integer)max));
    if (s->eof) {
        lua_pushnil(L);
        return 1;
    }
    s->scanned = window;
    return suspend(L, line_k);
}

static int s_line(lua_State *L)
{
    return line_k(L, LUA_OK, 0);
}

/* Looks for d[0..dlen) among the unread bytes (*p, *n of them), ending
 * within max + dlen; a search resumed after a suspension starts where the
 * last one stopped. NULL when it is not there (yet). */
static const uint8_t *search(lt_stream *s, const char *d, size_t dlen, size_t max,
                             const uint8_t **p, size_t *n)
{
    *n = avail(s, p);
    size_t window = *n < max + dlen ? *n : max + dlen;
    size_t from = s->scanned >= dlen ? s->scanned - (dlen - 1) : 0;
    const uint8_t *hit = window > from ? memmem(*p + from, window - from, d, dlen) : NULL;
    if (!hit)
        s->scanned = window;
    return hit;
}

static int until_k(lua_State *L, int status, lua_KContext ctx)
{
    (void)status;
    (void)ctx;
    lt_stream *s = reader(L, "read_until");
    size_t dlen;
    const char *d = luaL_checklstring(L, 2, &dlen);
    size_t max = check_max(L, 3, "read_until");
    if (dlen == 0)
        return luaL_error(L, "read_until: empty delimiter");
    const uint8_t *p;
    size_t n;
    const uint8_t *hit = search(s, d, dlen, max, &p, &n);
    if (hit) {
        size_t len = (size_t)(hit - p);
        lua_pushlstring(L, (const char *)p, len);
        consume(s, len + dlen);
        return 1;
    }
    if (n >= max + dlen)
        return hit_limit(L, "read_until",
                         lua_pushfstring(L, "read_until: delimiter not found within %I bytes",
                                         (lua_Integer)max));
    if (s->eof) {
        lua_pushnil(L);
        return 1;
    }
    return suspend(L, until_k);
}

static int s_read_until(lua_State *L)
{
    return until_k(L, LUA_OK, 0);
}

static int find_k(lua_State *L, int status, lua_KContext ctx)
{
    (void)status;
    (void)ctx;
    lt_stream *s = reader(L, "find");
    size_t dlen;
    const char *d = luaL_checklstring(L, 2, &dlen);
    size_t max = check_max(L, 3, "find");
    if (dlen == 0)
        return luaL_error(L, "find: empty string");
    const uint8_t *p;
    size_t n;
    const uint8_t *hit = search(s, d, dlen, max, &p, &n);
    if (hit && (size_t)(hit - p) < max) {
        lua_pushinteger(L, (lua_Integer)(hit - p));
        return 1;
    }
    if (n >= max + dlen || s->eof) {
        lua_pushnil(L);
        return 1;
    }
    return suspend(L, find_k);
}

static int s_find(lua_State *L)
{
    return find_k(L, LUA_OK, 0);
}

static int read_k(lua_State *L, int status, lua_KContext ctx)
{
    (void)status;
    (void)ctx;
    lt_stream *s = reader(L, "read");
    size_t want = check_max(L, 2, "read");
    const uint8_t *p;
    size_t n = avail(s, &p);
    if (n >= want) {
        lua_pushlstring(L, want ? (const char *)p : "", want);
        consume(s, want);
        return 1;
    }
    if (s->eof) {
        lua_pushnil(L);
        return 1;
    }
    return suspend(L, read_k);
}

static int s_read(lua_State *L)
{
    return read_k(L, LUA_OK, 0);
}

static int chunk_k(lua_State *L, int status, lua_KContext ctx)
{
    (void)status;
    (void)ctx;
    lt_stream *s = reader(L, "chunk");
    size_t max = check_max(L, 2, "chunk");
    if (max == 0)
        return luaL_error(L, "chunk: maximum must be at least 1");
    const uint8_t *p;
    size_t n = avail(s, &p);
    if (n > 0) {
        size_t k = n < max ? n : max;
        lua_pushlstring(L, (const char *)p, k);
        consume(s, k);
        return 1;
    }
    if (s->eof) {
        lua_pushnil(L);
        return 1;
    }
    return suspend(L, chunk_k);
}

static int s_chunk(lua_State *L)
{
    return chunk_k(L, LUA_OK, 0);
}

static int peek_k(lua_State *L, int status, lua_KContext ctx)
{
    (void)status;
    (void)ctx;
    lt_stream *s = reader(L, "peek");
    size_t want = check_max(L, 2, "peek");
    const uint8_t *p;
    size_t n = avail(s, &p);
    if (n >= want || (s->eof && n > 0)) {
        size_t k = n < want ? n : want;
        lua_pushlstring(L, k ? (const char *)p : "", k);
        return 1;
    }
    if (s->eof) {
        lua_pushnil(L);
        return 1;
    }
    return suspend(L, peek_k);
}

static int s_peek(lua_State *L)
{
    return peek_k(L, LUA_OK, 0);
}

/* ctx: the stream offset where the skip began. */
static int skip_k(lua_State *L, int status, lua_KContext ctx)
{
    (void)status;
    lt_stream *s = reader(L, "skip");
    if (s->skip && !s->eof)
        return suspend_k(L, s, ctx, skip_k); /* not reached when only the feeder resumes */
    s->skip = 0;
    lua_pushinteger(L, (lua_Integer)(s->offset - (uint64_t)ctx));
    return 1;
}

static int s_skip(lua_State *L)
{
    lt_stream *s = reader(L, "skip");
    uint64_t want = LT_STREAM_SKIP_ALL;
    if (!lua_isnoneornil(L, 2)) {
        lua_Integer n = luaL_checkinteger(L, 2);
        if (n < 0)
            return luaL_error(L, "skip: negative length %I", n);
        want = (uint64_t)n;
    }
    uint64_t start = s->offset;
    const uint8_t *p;
    size_t n = avail(s, &p);
    size_t k = (uint64_t)n < want ? n : (size_t)want;
    consume(s, k);
    if (want == LT_STREAM_SKIP_ALL || k < want) {
        if (!s->eof) {
            s->skip = want == LT_STREAM_SKIP_ALL ? want : want - k;
            return suspend_k(L, s, (lua_KContext)start, skip_k);
        }
    }
    lua_pushinteger(L, (lua_Integer)(s->offset - start));
    return 1;
}

/* ctx: the stream offset where the skip began. */
static int skip_line_k(lua_State *L, int status, lua_KContext ctx)
{
    (void)status;
    lt_stream *s = reader(L, "skip_line");
    if (s->skip_nl && s->eof) {
        s->skip_nl = 0;
        lua_pushnil(L);
        return 1;
    }
    lua_pushinteger(L, (lua_Integer)(s->offset - (uint64_t)ctx));
    return 1;
}

static int s_skip_line(lua_State *L)
{
    lt_stream *s = reader(L, "skip_line");
    uint64_t start = s->offset;
    const uint8_t *p;
    size_t n = avail(s, &p);
    const uint8_t *nl = n ? memchr(p, '\n', n) : NULL;
    if (nl) {
        consume(s, (size_t)(nl - p) + 1);
        lua_pushinteger(L, (lua_Integer)(s->offset - start));
        return 1;
    }
    consume(s, n);
    if (s->eof) {
        lua_pushnil(L);
        return 1;
    }
    s->skip_nl = 1;
    return suspend_k(L, s, (lua_KContext)start, skip_line_k);
}

double lt_stream_ts(const lt_stream *s)
{
    double ts = s->cur_ts;
    if (s->plen > s->poff)
        for (int i = 0; i < s->nmarks && s->mark[i].at <= s->poff; i++)
            ts = s->mark[i].ts;
    return ts;
}

static int s_ts(lua_State *L)
{
    lua_pushnumber(L, lt_stream_ts(check_stream(L)));
    return 1;
}

/* s:limit(what, max): a dissector's own limit, reported like the readers'. */
static int s_limit(lua_State *L)
{
    check_stream(L);
    const char *what = luaL_checkstring(L, 2);
    lua_Integer max = luaL_optinteger(L, 3, -1);
    const char *msg = max >= 0 ? lua_pushfstring(L, "%s: limit of %I reached", what, max)
                               : lua_pushfstring(L, "%s: limit reached", what);
    return hit_limit(L, what, msg);
}

static const char *const field_names[] = {
    "", "dir", "session", "offset", "resync", "limit_hit", "eof", "hole",
};
enum { F_NONE, F_DIR, F_SESSION, F_OFFSET, F_RESYNC, F_LIMIT, F_EOF, F_HOLE, F_COUNT };

static int s_index(lua_State *L)
{
    lt_stream *s = check_stream(L);
    lua_pushvalue(L, 2);
    if (lua_rawget(L, lua_upvalueindex(1)) != LUA_TNIL)
        return 1; /* a method */
    lua_pushvalue(L, 2);
    int f = lua_rawget(L, lua_upvalueindex(2)) == LUA_TNUMBER ? (int)lua_tointeger(L, -1) : F_NONE;
    switch (f) {
    case F_DIR:
        lua_pushstring(L, s->dir == 0 ? "client" : "server");
        break;
    case F_SESSION:
        lua_getiuservalue(L, 1, UV_SESSION);
        break;
    case F_OFFSET:
        lua_pushinteger(L, (lua_Integer)s->offset);
        break;
    case F_RESYNC:
        lua_pushboolean(L, s->resync);
        break;
    case F_LIMIT:
        lua_getiuservalue(L, 1, UV_LIMIT);
        break;
    case F_HOLE:
        lua_pushboolean(L, s->hole);
        break;
    case F_EOF: {
        const uint8_t *p;
        lua_pushboolean(L, s->eof && !s->hole && avail(s, &p) == 0);
        break;
    }
    default:
        lua_pushnil(L);
    }
    return 1;
}

static int s_tostring(lua_State *L)
{
    lt_stream *s = check_stream(L);
    lua_pushfstring(L, "stream (%s, offset %I)", s->dir == 0 ? "client" : "server",
                    (lua_Integer)s->offset);
    return 1;
}

static int s_gc(lua_State *L)
{
    lt_stream_release(check_stream(L));
    return 0;
}

void lt_stream_open(lua_State *L)
{
    static const luaL_Reg methods[] = {
        { "line", s_line }, { "read_until", s_read_until }, { "read", s_read },
        { "chunk", s_chunk }, { "peek", s_peek }, { "skip", s_skip },
        { "skip_line", s_skip_line }, { "find", s_find }, { "ts", s_ts }, { "limit", s_limit },
        { NULL, NULL },
    };
    luaL_newmetatable(L, LT_STREAM_MT);
    luaL_newlib(L, methods);
    lt_push_name_codes(L, field_names, F_COUNT);
    lua_pushcclosure(L, s_index, 2);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, s_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_pushcfunction(L, s_gc);
    lua_setfield(L, -2, "__gc");
    lt_seal_metatable(L, "stream");
    lua_pop(L, 1);
}

lt_stream *lt_stream_new(lua_State *L, int dir, int session, lt_stream_charge_fn charge,
                         void *charge_ud)
{
    session = lua_absindex(L, session);
    lt_stream *s = lua_newuserdatauv(L, sizeof *s, 2);
    memset(s, 0, sizeof *s);
    s->dir = dir;
    s->charge = charge;
    s->charge_ud = charge_ud;
    luaL_setmetatable(L, LT_STREAM_MT);
    lua_pushvalue(L, session);
    lua_setiuservalue(L, -2, UV_SESSION);
    return s;
}
