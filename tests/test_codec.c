/* lunatap.codec through Lua: inflate round trips (gzip, zlib, raw deflate,
 * concatenated gzip members), a decompression bomb under a cap with the
 * memory it took measured, corrupt and cut input, an out-of-memory error
 * that must not leak, and WebSocket unmasking. */
#include "lcodec.h"

#include <lauxlib.h>
#include <lualib.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "check.h"

/* Counts Lua memory, as the host does, with an optional cap. */
typedef struct meter {
    size_t now, peak, cap;
} meter;

static void *metered_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    meter *m = ud;
    size_t old = ptr ? osize : 0;
    if (nsize == 0) {
        free(ptr);
        m->now -= old;
        return NULL;
    }
    if (m->cap && nsize > old && m->now - old + nsize > m->cap)
        return NULL;
    void *p = realloc(ptr, nsize);
    if (!p)
        return NULL;
    m->now = m->now - old + nsize;
    if (m->now > m->peak)
        m->peak = m->now;
    return p;
}

/* Runs a chunk that asserts in Lua; a failure reports its message. */
#define CHECK_LUA(L, code) do { \
        n_checks++; \
        if (luaL_dostring(L, code) != LUA_OK) { \
            fail_at(__FILE__, __LINE__, lua_tostring(L, -1)); \
            lua_pop(L, 1); \
        } \
    } while (0)

static lua_State *new_state(meter *m)
{
    lua_State *L = lua_newstate(metered_alloc, m);
    luaL_openlibs(L);
    lt_codec_push_module(L);
    lua_setglobal(L, "codec");
    return L;
}

/* Compresses n bytes of in (repeated `times` times) with deflate's
 * windowBits wbits: 31 gzip, 15 zlib, -15 raw. */
static unsigned char *compress_with(int wbits, const void *in, size_t n, int times, size_t *outlen)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, 9, Z_DEFLATED, wbits, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        abort();
    size_t cap = deflateBound(&z, (uLong)(n * (size_t)times)) + 64, len = 0;
    unsigned char *out = malloc(cap);
    for (int i = 0; i < times; i++) {
        z.next_in = (Bytef *)in;
        z.avail_in = (uInt)n;
        int flush = i == times - 1 ? Z_FINISH : Z_NO_FLUSH;
        do {
            z.next_out = out + len;
            z.avail_out = (uInt)(cap - len);
            deflate(&z, flush);
            len = cap - z.avail_out;
        } while (z.avail_in > 0);
    }
    deflateEnd(&z);
    *outlen = len;
    return out;
}

static void set_compressed(lua_State *L, const char *name, int wbits, const char *text)
{
    size_t n;
    unsigned char *c = compress_with(wbits, text, strlen(text), 1, &n);
    lua_pushlstring(L, (const char *)c, n);
    lua_setglobal(L, name);
    free(c);
}

static const char text[] =
    "GET / HTTP/1.1\r\nHost: example.com\r\n\r\nThe quick brown fox jumps over the lazy dog. "
    "The quick brown fox jumps over the lazy dog. The quick brown fox jumps over the lazy dog.";

static void test_round_trips(void)
{
    meter m = { 0 };
    lua_State *L = new_state(&m);
    lua_pushstring(L, text);
    lua_setglobal(L, "text");
    set_compressed(L, "gz", 31, text);
    set_compressed(L, "zl", 15, text);
    set_compressed(L, "raw", -15, text);
    set_compressed(L, "gz2", 31, "second member");
    g_ctx = "round trips";
    CHECK_LUA(L, "local s, t = codec.inflate(gz, 'gzip', 1e6) assert(s == text and t == false)");
    CHECK_LUA(L, "local s, t = codec.inflate(zl, 'deflate', 1e6) assert(s == text and t == false)");
    CHECK_LUA(L, "local s, t = codec.inflate(raw, 'deflate', 1e6) assert(s == text and t == false)");
    CHECK_LUA(L, "for _, c in ipairs{gz, zl, raw} do\n"
                 "  local s, t = codec.inflate(c, 'auto', 1000)\n"
                 "  assert(s == text and t == false, tostring(t))\n"
                 "end");
    CHECK_LUA(L, "local s, t = codec.inflate(gz .. gz2, 'gzip', 1e6)\n"
                 "assert(s == text .. 'second member', s) assert(t == false)");
    CHECK_LUA(L, "local s = codec.inflate(gz .. gz2, 'auto', 1e6) assert(s == text .. 'second member')");
    /* Garbage after a member is ignored, as gzip -d does. */
    CHECK_LUA(L, "local s, t = codec.inflate(gz .. '\\0\\0\\0', 'gzip', 1e6) assert(s == text and t == false)");
    /* An output exactly max long is not truncated; one byte less is. */
    CHECK_LUA(L, "local s, t = codec.inflate(gz, 'gzip', #text) assert(s == text and t == false)");
    CHECK_LUA(L, "local s, t = codec.inflate(gz, 'gzip', #text - 1)\n"
                 "assert(s == text:sub(1, -2) and t == true)");
    CHECK_LUA(L, "local s, t = codec.inflate(gz .. gz2, 'gzip', #text + 3)\n"
                 "assert(s == text .. 'sec' and t == true)");
    CHECK_LUA(L, "local s, t = codec.inflate(zl, 'deflate', 1) assert(s == 'G' and t == true)");
    /* Bad arguments */
    CHECK_LUA(L, "local ok, e = pcall(codec.inflate, gz, 'gzip', 0)\n"
                 "assert(not ok and e:find('output cap must be a positive', 1, true), e)");
    CHECK_LUA(L, "local ok, e = pcall(codec.inflate, gz, 'gzip') assert(not ok and e:find('#3', 1, true), e)");
    CHECK_LUA(L, "local ok, e = pcall(codec.inflate, gz, 'br', 10)\n"
                 "assert(not ok and e:find(\"invalid option 'br'\", 1, true), e)");
    lua_close(L);
    CHECK_EQ(m.now, 0);
}

static void test_bomb(void)
{
    static unsigned char zeros[1 << 20];
    size_t n;
    unsigned char *c = compress_with(31, zeros, sizeof zeros, 64, &n); /* 64 MiB */
    meter m = { 0 };
    lua_State *L = new_state(&m);
    lua_pushlstring(L, (const char *)c, n);
    lua_setglobal(L, "bomb");
    free(c);
    lua_gc(L, LUA_GCCOLLECT);
    size_t before = m.now;
    m.peak = m.now;
    g_ctx = "bomb";
    CHECK_LUA(L, "local s, t = codec.inflate(bomb, 'gzip', 1048576)\n"
                 "assert(#s == 1048576 and t == true and not s:find('[^%z]'))\n"
                 "s = nil collectgarbage()");
    /* The capped buffer, its copy as a string, zlib's window and state:
     * never the 64 MiB. */
    printf("bomb: %zu compressed bytes, peak Lua memory +%zu bytes for a 1 MiB cap\n", n,
           m.peak - before);
    CHECK(m.peak - before < 2 * 1048576 + 128 * 1024);
    /* With a memory cap too small for the output: an error, nothing leaked. */
    m.cap = m.now + 512 * 1024;
    CHECK_LUA(L, "local ok, e = pcall(codec.inflate, bomb, 'gzip', 8 * 1048576)\n"
                 "assert(not ok and e:find('inflate: not enough memory', 1, true), e)");
    m.cap = 0;
    lua_close(L);
    CHECK_EQ(m.now, 0);
}

static void test_corrupt(void)
{
    meter m = { 0 };
    lua_State *L = new_state(&m);
    lua_pushstring(L, text);
    lua_setglobal(L, "text");
    set_compressed(L, "gz", 31, text);
    set_compressed(L, "zl", 15, text);
    /* Stored blocks put the text in the stream as it is, so a byte spoilt
     * near the end leaves the output before it intact. */
    g_ctx = "corrupt";
    CHECK_LUA(L, "local s, e = codec.inflate('hello world', 'gzip', 100)\n"
                 "assert(s == nil and e:match('^inflate: .+ at input byte %d+$'), e)");
    CHECK_LUA(L, "local s, e = codec.inflate('\\31\\139\\8\\0', 'gzip', 100)\n"
                 "assert(s == nil and e == 'inflate: unexpected end of input at input byte 4', e)");
    CHECK_LUA(L, "local s, e = codec.inflate('', 'deflate', 100)\n"
                 "assert(s == nil and e == 'inflate: unexpected end of input at input byte 0', e)");
    CHECK_LUA(L, "local s, e = codec.inflate('\\120\\156\\255\\255', 'deflate', 100)\n"
                 "assert(s == nil and e:find('inflate: ', 1, true), e)");
    /* Cut off: what was decoded is kept, with the reason. */
    CHECK_LUA(L, "local s, t, e = codec.inflate(gz:sub(1, #gz - 12), 'gzip', 1e6)\n"
                 "assert(type(s) == 'string' and #s > 0 and text:sub(1, #s) == s, s)\n"
                 "assert(t == false and e:find('unexpected end of input', 1, true), e)");
    /* A wrong checksum: the whole text came out, then the error. */
    CHECK_LUA(L, "local bad = zl:sub(1, -2) .. string.char((zl:byte(-1) + 1) % 256)\n"
                 "local s, t, e = codec.inflate(bad, 'deflate', 1e6)\n"
                 "assert(s == text and t == false and e:find('incorrect data check', 1, true), e)");
    CHECK_LUA(L, "local bad = gz:sub(1, -9) .. 'XXXX' .. gz:sub(-4)\n"
                 "local s, t, e = codec.inflate(bad, 'gzip', 1e6)\n"
                 "assert(s == text and t == false and e:find('incorrect data check', 1, true), e)");
    lua_close(L);
    CHECK_EQ(m.now, 0);
}

/* A stored (uncompressed) raw block whose bytes after the text are spoilt:
 * partial output then an error, with the byte position. */
static void test_partial_raw(void)
{
    meter m = { 0 };
    lua_State *L = new_state(&m);
    g_ctx = "partial raw";
    /* Non-final stored block "abcde", then a block with reserved type 3. */
    CHECK_LUA(L, "local data = '\\0\\5\\0\\250\\255abcde\\7'\n"
                 "local s, t, e = codec.inflate(data, 'deflate', 100)\n"
                 "assert(s == 'abcde' and t == false, tostring(s))\n"
                 "assert(e == 'inflate: invalid block type at input byte 11', e)");
    lua_close(L);
}

static void test_unmask(void)
{
    meter m = { 0 };
    lua_State *L = new_state(&m);
    g_ctx = "unmask";
    /* RFC 6455 section 5.7: "Hello" masked with 37 fa 21 3d. */
    CHECK_LUA(L, "local key = '\\x37\\xfa\\x21\\x3d'\n"
                 "assert(codec.unmask('\\x7f\\x9f\\x4d\\x51\\x58', key) == 'Hello')\n"
                 "assert(codec.unmask('Hello', key) == '\\x7f\\x9f\\x4d\\x51\\x58')\n"
                 "assert(codec.unmask('', key) == '')\n"
                 /* Resuming mid-frame: the second half starts at key byte 2. */
                 "assert(codec.unmask('\\x7f\\x9f', key, 0) .. codec.unmask('\\x4d\\x51\\x58', key, 2) == 'Hello')\n"
                 "assert(codec.unmask('\\x4d\\x51\\x58', key, 6) == 'llo')\n"
                 "assert(codec.unmask('\\x4d\\x51\\x58', key, 2) == 'llo')");
    CHECK_LUA(L, "local ok, e = pcall(codec.unmask, 'x', 'abc')\n"
                 "assert(not ok and e:find('key must be exactly 4 bytes, got 3', 1, true), e)");
    CHECK_LUA(L, "local ok, e = pcall(codec.unmask, 'x', 'abcde') assert(not ok, e)");
    CHECK_LUA(L, "local ok, e = pcall(codec.unmask, 'x', 'abcd', -1)\n"
                 "assert(not ok and e:find('offset must not be negative', 1, true), e)");
    lua_close(L);
    CHECK_EQ(m.now, 0);
}

int main(void)
{
    test_round_trips();
    test_bomb();
    test_corrupt();
    test_partial_raw();
    test_unmask();
    return check_summary("test_codec");
}
