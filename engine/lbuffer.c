#include "lbuffer.h"

#include <lauxlib.h>

#include "lutil.h"
#include <string.h>

/* Accessor codes: width in bytes, signedness, byte order. */
typedef struct int_accessor {
    const char *name;
    unsigned char width, is_signed, little;
} int_accessor;

static const int_accessor int_accessors[] = {
    { "u8", 1, 0, 0 },    { "i8", 1, 1, 0 },
    { "u16", 2, 0, 0 },   { "i16", 2, 1, 0 },   { "u16le", 2, 0, 1 }, { "i16le", 2, 1, 1 },
    { "u24", 3, 0, 0 },   { "i24", 3, 1, 0 },   { "u24le", 3, 0, 1 }, { "i24le", 3, 1, 1 },
    { "u32", 4, 0, 0 },   { "i32", 4, 1, 0 },   { "u32le", 4, 0, 1 }, { "i32le", 4, 1, 1 },
    { "u64", 8, 0, 0 },   { "i64", 8, 1, 0 },   { "u64le", 8, 0, 1 }, { "i64le", 8, 1, 1 },
};

#define NACCESSORS (sizeof int_accessors / sizeof int_accessors[0])

/* The one check every method goes through: type, then expiry. */
static lt_buffer *check_buf(lua_State *L, int idx)
{
    lt_buffer *b = luaL_checkudata(L, idx, LT_BUFFER_MT);
    if (lt_buffer_is_expired(b))
        luaL_error(L, "expired buffer: a buffer is valid only during the callback that "
                      "received it (copy what you need with buf:bytes())");
    return b;
}

/* Checks [off, off+n) within b; `what` names the accessor for the error. */
static void check_range(lua_State *L, const lt_buffer *b, const char *what,
                        lua_Integer off, lua_Integer n)
{
    if (off < 0 || n < 0 || (lua_Unsigned)off > b->len || (lua_Unsigned)n > b->len - (size_t)off)
        luaL_error(L, "%s: offset %I length %I is outside the buffer (length %I)", what, off, n,
                   (lua_Integer)b->len);
}

/* Optional (off, len) pair at idx, idx+1; defaults: 0 and the rest. */
static void opt_range(lua_State *L, const lt_buffer *b, int idx, const char *what,
                      lua_Integer *off, lua_Integer *n)
{
    *off = luaL_optinteger(L, idx, 0);
    if (!lua_isnoneornil(L, idx + 1))
        *n = luaL_checkinteger(L, idx + 1);
    else if (*off >= 0 && (lua_Unsigned)*off <= b->len)
        *n = (lua_Integer)(b->len - (size_t)*off);
    else
        *n = 0; /* no length asked for: the offset alone is out of range */
    check_range(L, b, what, *off, *n);
}

static int buf_int(lua_State *L)
{
    const int_accessor *a = &int_accessors[lua_tointeger(L, lua_upvalueindex(1))];
    lt_buffer *b = check_buf(L, 1);
    lua_Integer off = luaL_checkinteger(L, 2);
    check_range(L, b, a->name, off, a->width);
    const uint8_t *p = b->p + off;
    uint64_t v = 0;
    for (int i = 0; i < a->width; i++)
        v |= (uint64_t)p[a->little ? i : a->width - 1 - i] << (8 * i);
    if (a->is_signed && a->width < 8 && (v >> (8 * a->width - 1)) & 1)
        v |= ~(uint64_t)0 << (8 * a->width);
    /* u64 above 2^63 wraps to a negative integer: compare with math.ult. */
    lua_pushinteger(L, (lua_Integer)v);
    return 1;
}

static int buf_len(lua_State *L)
{
    lt_buffer *b = check_buf(L, 1);
    lua_pushinteger(L, (lua_Integer)b->len);
    return 1;
}

static int buf_bytes(lua_State *L)
{
    lt_buffer *b = check_buf(L, 1);
    lua_Integer off, n;
    opt_range(L, b, 2, "bytes", &off, &n);
    lua_pushlstring(L, (const char *)b->p + off, (size_t)n);
    return 1;
}

static lt_buffer *push_buffer(lua_State *L, const uint8_t *p, size_t len, const uint32_t *epoch)
{
    lt_buffer *b = lua_newuserdatauv(L, sizeof *b, 1);
    b->p = p;
    b->len = len;
    b->epoch = epoch;
    b->gen = epoch ? *epoch : 0;
    luaL_setmetatable(L, LT_BUFFER_MT);
    return b;
}

static int buf_sub(lua_State *L)
{
    lt_buffer *b = check_buf(L, 1);
    lua_Integer off, n;
    opt_range(L, b, 2, "sub", &off, &n);
    lt_buffer *v = push_buffer(L, b->p + off, (size_t)n, b->epoch);
    v->gen = b->gen;
    /* An owned buffer's string stays alive as long as any view of it. */
    lua_getiuservalue(L, 1, 1);
    lua_setiuservalue(L, -2, 1);
    return 1;
}

static int buf_find(lua_State *L)
{
    lt_buffer *b = check_buf(L, 1);
    size_t nlen;
    const char *needle = luaL_checklstring(L, 2, &nlen);
    lua_Integer init = luaL_optinteger(L, 3, 0);
    check_range(L, b, "find", init, 0);
    const uint8_t *hit = NULL;
    if (nlen <= b->len - (size_t)init)
        hit = nlen == 0 ? b->p + init : memmem(b->p + init, b->len - (size_t)init, needle, nlen);
    if (!hit) {
        lua_pushnil(L);
        return 1;
    }
    lua_pushinteger(L, (lua_Integer)(hit - b->p));
    return 1;
}

static int buf_hex(lua_State *L)
{
    static const char digits[] = "0123456789abcdef";
    lt_buffer *b = check_buf(L, 1);
    lua_Integer off, n;
    opt_range(L, b, 2, "hex", &off, &n);
    luaL_Buffer out;
    char *dst = luaL_buffinitsize(L, &out, (size_t)n * 2);
    for (lua_Integer i = 0; i < n; i++) {
        dst[2 * i] = digits[b->p[off + i] >> 4];
        dst[2 * i + 1] = digits[b->p[off + i] & 15];
    }
    luaL_pushresultsize(&out, (size_t)n * 2);
    return 1;
}

static int buf_tostring(lua_State *L)
{
    lt_buffer *b = luaL_checkudata(L, 1, LT_BUFFER_MT);
    if (lt_buffer_is_expired(b))
        lua_pushliteral(L, "buffer (expired)");
    else
        lua_pushfstring(L, "buffer (%I bytes)", (lua_Integer)b->len);
    return 1;
}

static int buf_expired(lua_State *L)
{
    lt_buffer *b = luaL_checkudata(L, 1, LT_BUFFER_MT);
    lua_pushboolean(L, lt_buffer_is_expired(b));
    return 1;
}

static int buf_eq(lua_State *L)
{
    /* == with another kind of userdata is false, not an error */
    if (!luaL_testudata(L, 1, LT_BUFFER_MT) || !luaL_testudata(L, 2, LT_BUFFER_MT)) {
        lua_pushboolean(L, 0);
        return 1;
    }
    lt_buffer *a = check_buf(L, 1), *b = check_buf(L, 2);
    lua_pushboolean(L, a->len == b->len && memcmp(a->p, b->p, a->len) == 0);
    return 1;
}

void lt_buffer_push_view(lua_State *L, const uint8_t *p, size_t len, const uint32_t *epoch)
{
    push_buffer(L, p, len, epoch);
}

void lt_buffer_push_owned(lua_State *L, const uint8_t *p, size_t len, int owner)
{
    owner = lua_absindex(L, owner);
    push_buffer(L, p, len, NULL);
    lua_pushvalue(L, owner);
    lua_setiuservalue(L, -2, 1);
}

const uint8_t *lt_buffer_test(lua_State *L, int idx, size_t *len)
{
    if (!luaL_testudata(L, idx, LT_BUFFER_MT))
        return NULL;
    lt_buffer *b = check_buf(L, idx);
    *len = b->len;
    return b->p;
}

int lt_buffer_api_new(lua_State *L)
{
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    lt_buffer_push_owned(L, (const uint8_t *)s, len, 1);
    return 1;
}

void lt_buffer_open(lua_State *L)
{
    static const luaL_Reg methods[] = {
        { "len", buf_len }, { "bytes", buf_bytes }, { "sub", buf_sub }, { "find", buf_find },
        { "hex", buf_hex }, { "expired", buf_expired }, { NULL, NULL },
    };
    luaL_newmetatable(L, LT_BUFFER_MT);
    lua_pushcfunction(L, buf_len);
    lua_setfield(L, -2, "__len");
    lua_pushcfunction(L, buf_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_pushcfunction(L, buf_eq);
    lua_setfield(L, -2, "__eq");
    lt_seal_metatable(L, "buffer");
    luaL_newlib(L, methods);
    for (size_t i = 0; i < NACCESSORS; i++) {
        lua_pushinteger(L, (lua_Integer)i);
        lua_pushcclosure(L, buf_int, 1);
        lua_setfield(L, -2, int_accessors[i].name);
    }
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
}
