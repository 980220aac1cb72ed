#include "lcodec.h"

#include <lauxlib.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>

#include "lutil.h"

#define INFLATE_MT "lunatap.codec.inflate"
#define OUT_STEP ((size_t)64 * 1024)   /* output asked of zlib per call */
#define IN_CHUNK ((size_t)1 << 30)     /* zlib counts input in a uInt */
#define ZHDR sizeof(max_align_t)       /* size header on zlib's blocks */

enum { WB_RAW = -15, WB_ZLIB = 15, WB_GZIP = 15 + 16, WB_AUTO = 15 + 32 };
enum { K_GZIP, K_DEFLATE, K_AUTO };

/* How one stream (or gzip member) ended. */
enum { R_END, R_FULL, R_ERROR, R_NOMEM };

/*
 * Everything one inflate call owns, in a userdata with __gc: a Lua error
 * (out of memory while pushing the result, say) cannot leak the zlib state
 * or the output. Both are allocated with the state's allocator, so the
 * host's memory cap counts them.
 */
typedef struct zbox {
    z_stream z;
    int live;                   /* inflateEnd is owed */
    lua_Alloc alloc;
    void *aud;
    unsigned char *out;
    size_t len, cap, max;
    const unsigned char *in;
    size_t inlen;
    char err[160];
} zbox;

/* zlib's allocations go through the Lua allocator; a header keeps each
 * block's size, which the allocator needs back and zfree does not give. */
static voidpf zbox_zalloc(voidpf opaque, uInt items, uInt size)
{
    zbox *b = opaque;
    if (size && items > (SIZE_MAX - ZHDR) / size)
        return Z_NULL;
    size_t n = (size_t)items * size;
    unsigned char *p = b->alloc(b->aud, NULL, 0, n + ZHDR);
    if (!p)
        return Z_NULL;
    memcpy(p, &n, sizeof n);
    return p + ZHDR;
}

static void zbox_zfree(voidpf opaque, voidpf address)
{
    zbox *b = opaque;
    unsigned char *p = (unsigned char *)address - ZHDR;
    size_t n;
    memcpy(&n, p, sizeof n);
    b->alloc(b->aud, p, n + ZHDR, 0);
}

static void zbox_release(zbox *b)
{
    if (b->live)
        inflateEnd(&b->z);
    b->live = 0;
    if (b->out)
        b->alloc(b->aud, b->out, b->cap, 0);
    b->out = NULL;
    b->cap = 0;
}

static int zbox_gc(lua_State *L)
{
    zbox_release(luaL_checkudata(L, 1, INFLATE_MT));
    return 0;
}

/* Grows the output geometrically but never past max. */
static int zbox_grow(zbox *b)
{
    size_t want = b->cap ? b->cap * 2 : OUT_STEP;
    if (want < b->cap || want > b->max)
        want = b->max;
    unsigned char *p = b->alloc(b->aud, b->out, b->out ? b->cap : 0, want);
    if (!p)
        return -1;
    b->out = p;
    b->cap = want;
    return 0;
}

static size_t in_pos(const zbox *b)
{
    return (size_t)(b->z.next_in - b->in);
}

static int fail(zbox *b, const char *why)
{
    snprintf(b->err, sizeof b->err, "inflate: %s at input byte %zu", why, in_pos(b));
    return R_ERROR;
}

/* Starts (or restarts) zlib on the input from byte `start`. */
static int zbox_start(zbox *b, int wbits, size_t start)
{
    int rc;
    if (b->live) {
        rc = inflateReset2(&b->z, wbits);
    } else {
        b->z.zalloc = zbox_zalloc;
        b->z.zfree = zbox_zfree;
        b->z.opaque = b;
        b->z.next_in = Z_NULL;
        b->z.avail_in = 0;
        rc = inflateInit2(&b->z, wbits);
        b->live = rc == Z_OK;
    }
    b->z.next_in = (Bytef *)b->in + start; /* zlib never writes through it */
    b->z.avail_in = 0;
    return rc == Z_OK ? 0 : -1;
}

/* One inflate call into the output, or, once max is reached, into a
 * one-byte probe: a byte there means the output really was cut. */
static int zbox_step(zbox *b, int *ret, int *probed)
{
    unsigned char probe;
    size_t room;
    if (b->z.avail_in == 0) {
        size_t left = b->inlen - in_pos(b);
        b->z.avail_in = (uInt)(left < IN_CHUNK ? left : IN_CHUNK);
    }
    *probed = b->len == b->max;
    if (*probed) {
        b->z.next_out = &probe;
        room = 1;
    } else {
        if (b->len == b->cap && zbox_grow(b) != 0)
            return -1;
        room = b->cap - b->len < OUT_STEP ? b->cap - b->len : OUT_STEP;
        b->z.next_out = b->out + b->len;
    }
    b->z.avail_out = (uInt)room;
    *ret = inflate(&b->z, Z_NO_FLUSH);
    return (int)(room - b->z.avail_out);
}

/* Decodes one stream (or gzip member) from `start`. */
static int zbox_run(zbox *b, int wbits, size_t start)
{
    if (zbox_start(b, wbits, start) != 0)
        return R_NOMEM;
    for (;;) {
        int ret, probed;
        int got = zbox_step(b, &ret, &probed);
        if (got < 0)
            return R_NOMEM;
        if (probed && got > 0)
            return R_FULL;
        if (!probed)
            b->len += (size_t)got;
        switch (ret) {
        case Z_OK: continue;
        case Z_STREAM_END: return R_END;
        case Z_NEED_DICT: return fail(b, "the stream needs a preset dictionary");
        case Z_MEM_ERROR: return R_NOMEM;
        case Z_BUF_ERROR: /* no progress: out of input, or more input to feed */
            if (in_pos(b) == b->inlen)
                return fail(b, "unexpected end of input");
            if (b->z.avail_in == 0)
                continue;
            return fail(b, "no progress");
        default: return fail(b, b->z.msg ? b->z.msg : "corrupt data");
        }
    }
}

static int is_gzip(const unsigned char *p, size_t n)
{
    return n >= 2 && p[0] == 0x1f && p[1] == 0x8b;
}

/* RFC 1950: method 8, window at most 32 KiB, header check a multiple of 31. */
static int is_zlib(const unsigned char *p, size_t n)
{
    return n >= 2 && (p[0] & 0x0f) == 8 && (p[0] >> 4) <= 7 && ((p[0] << 8) | p[1]) % 31 == 0;
}

/* gzip members one after another, as gzip -d, browsers and tshark decode
 * them; bytes after a member that do not start another are ignored. */
static int zbox_members(zbox *b, int status)
{
    while (status == R_END && is_gzip(b->z.next_in, b->inlen - in_pos(b)))
        status = zbox_run(b, WB_GZIP, in_pos(b));
    return status;
}

/*
 * Browsers decode HTTP "deflate" as zlib and, when the header is wrong,
 * as raw deflate (some servers send that). A raw stream can start with
 * bytes that pass the header check by chance, so a zlib attempt that fails
 * before any output is retried raw too; if that fails as well, the zlib
 * error is the one reported.
 */
static int zbox_decode(zbox *b, int kind)
{
    int gz = is_gzip(b->in, b->inlen);
    if (kind == K_GZIP || (kind == K_AUTO && gz))
        return zbox_members(b, zbox_run(b, WB_GZIP, 0));
    if (!is_zlib(b->in, b->inlen))
        return zbox_run(b, WB_RAW, 0);
    int status = zbox_run(b, kind == K_AUTO ? WB_AUTO : WB_ZLIB, 0);
    if (status != R_ERROR || b->len > 0)
        return status;
    char first[sizeof b->err];
    memcpy(first, b->err, sizeof first);
    status = zbox_run(b, WB_RAW, 0);
    if (status == R_ERROR && b->len == 0)
        memcpy(b->err, first, sizeof first);
    return status;
}

static int push_result(lua_State *L, zbox *b, int status)
{
    if (status == R_NOMEM) {
        zbox_release(b);
        return luaL_error(L, "inflate: not enough memory (output cap %I bytes)",
                          (lua_Integer)b->max);
    }
    if (b->live)
        inflateEnd(&b->z); /* free zlib's window before the result is copied */
    b->live = 0;
    if (status == R_ERROR && b->len == 0) {
        lua_pushnil(L);
        lua_pushstring(L, b->err);
        return 2;
    }
    lua_pushlstring(L, b->out ? (const char *)b->out : "", b->len);
    lua_pushboolean(L, status == R_FULL);
    if (status != R_ERROR)
        return 2;
    lua_pushstring(L, b->err);
    return 3;
}

static int codec_inflate(lua_State *L)
{
    static const char *const kinds[] = { "gzip", "deflate", "auto", NULL };
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    int kind = luaL_checkoption(L, 2, NULL, kinds);
    lua_Integer max = luaL_checkinteger(L, 3);
    luaL_argcheck(L, max > 0 && (lua_Unsigned)max <= SIZE_MAX / 2, 3,
                  "output cap must be a positive number of bytes");
    zbox *b = lua_newuserdatauv(L, sizeof *b, 0);
    memset(b, 0, sizeof *b);
    b->alloc = lua_getallocf(L, &b->aud);
    b->in = (const unsigned char *)s;
    b->inlen = n;
    b->max = (size_t)max;
    luaL_setmetatable(L, INFLATE_MT);
    int nres = push_result(L, b, zbox_decode(b, kind));
    zbox_release(b);
    return nres;
}

static int codec_unmask(lua_State *L)
{
    size_t n, klen;
    const char *s = luaL_checklstring(L, 1, &n);
    const char *key = luaL_checklstring(L, 2, &klen);
    lua_Integer off = luaL_optinteger(L, 3, 0);
    if (klen != 4)
        return luaL_argerror(L, 2, lua_pushfstring(L, "key must be exactly 4 bytes, got %I",
                                                   (lua_Integer)klen));
    luaL_argcheck(L, off >= 0, 3, "offset must not be negative");
    luaL_Buffer buf;
    char *out = luaL_buffinitsize(L, &buf, n);
    size_t k = (size_t)(off % 4);
    for (size_t i = 0; i < n; i++)
        out[i] = (char)(s[i] ^ key[(k + i) & 3]);
    luaL_pushresultsize(&buf, n);
    return 1;
}

void lt_codec_push_module(lua_State *L)
{
    if (luaL_newmetatable(L, INFLATE_MT)) {
        lua_pushcfunction(L, zbox_gc);
        lua_setfield(L, -2, "__gc");
        lt_seal_metatable(L, INFLATE_MT);
    }
    lua_pop(L, 1);
    static const luaL_Reg fns[] = {
        { "inflate", codec_inflate },
        { "unmask", codec_unmask },
        { NULL, NULL },
    };
    luaL_newlib(L, fns);
}
