#include "json.h"
#include "lbuffer.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

void lt_sbuf_init(lua_State *L, lt_sbuf *b)
{
    b->L = L;
    b->n = 0;
    b->cap = 256;
    b->p = lua_newuserdatauv(L, b->cap, 0);
    b->slot = lua_gettop(L);
}

void lt_sbuf_add(lt_sbuf *b, const char *s, size_t n)
{
    if (n > b->cap - b->n) {
        size_t cap = b->cap;
        while (n > cap - b->n) {
            if (cap > ((size_t)-1) / 2)
                luaL_error(b->L, "output too large");
            cap *= 2;
        }
        char *p = lua_newuserdatauv(b->L, cap, 0);
        memcpy(p, b->p, b->n);
        lua_replace(b->L, b->slot);
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
}

void lt_sbuf_addstr(lt_sbuf *b, const char *s)
{
    lt_sbuf_add(b, s, strlen(s));
}

static void lt_sbuf_addc(lt_sbuf *b, char c)
{
    lt_sbuf_add(b, &c, 1);
}

void lt_sbuf_result(lt_sbuf *b)
{
    lua_pushlstring(b->L, b->p, b->n);
    lua_replace(b->L, b->slot);
}

/* Length of the valid UTF-8 sequence at s (n bytes left), or 0. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t len;
    uint32_t cp;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
        cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3F);
    }
    /* overlong forms, surrogates and values past U+10FFFF */
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

void lt_json_string(lt_sbuf *b, const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    char esc[8];
    lt_sbuf_addc(b, '"');
    for (size_t i = 0; i < n;) {
        unsigned c = s[i];
        size_t k = utf8_seq(s + i, n - i);
        if (k > 1) {
            lt_sbuf_add(b, (const char *)s + i, k);
            i += k;
            continue;
        }
        i++;
        switch (c) {
        case '"': lt_sbuf_addstr(b, "\\\""); continue;
        case '\\': lt_sbuf_addstr(b, "\\\\"); continue;
        case '\n': lt_sbuf_addstr(b, "\\n"); continue;
        case '\r': lt_sbuf_addstr(b, "\\r"); continue;
        case '\t': lt_sbuf_addstr(b, "\\t"); continue;
        default: break;
        }
        if (c < 0x20 || c == 0x7F || k == 0) {
            snprintf(esc, sizeof esc, "\\u%04x", c);
            lt_sbuf_addstr(b, esc);
        } else {
            lt_sbuf_addc(b, (char)c);
        }
    }
    lt_sbuf_addc(b, '"');
}

static void encode_number(lua_State *L, int idx, lt_sbuf *b)
{
    char num[64];
    if (lua_isinteger(L, idx)) {
        snprintf(num, sizeof num, LUA_INTEGER_FMT, lua_tointeger(L, idx));
    } else {
        double d = lua_tonumber(L, idx);
        if (!isfinite(d))
            snprintf(num, sizeof num, "null");
        else if (d == floor(d) && fabs(d) < 1e15)
            snprintf(num, sizeof num, "%.1f", d);
        else
            snprintf(num, sizeof num, "%.17g", d);
    }
    lt_sbuf_addstr(b, num);
}

/* Array when the keys are exactly 1..n with n > 0. */
static lua_Integer array_length(lua_State *L, int idx)
{
    lua_Integer n = (lua_Integer)lua_rawlen(L, idx), count = 0;
    if (n == 0)
        return 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < 1 || lua_tointeger(L, -1) > n) {
            lua_pop(L, 1);
            return 0;
        }
        count++;
    }
    return count == n ? n : 0;
}

static void encode(lua_State *L, int idx, lt_sbuf *b, int depth, int seen);

static void encode_table(lua_State *L, int idx, lt_sbuf *b, int depth, int seen)
{
    if (depth >= LT_JSON_MAX_DEPTH)
        luaL_error(L, "json: nesting deeper than %d", LT_JSON_MAX_DEPTH);
    lua_pushvalue(L, idx);
    if (lua_rawget(L, seen) != LUA_TNIL)
        luaL_error(L, "json: cannot encode a table that contains itself");
    lua_pop(L, 1);
    lua_pushvalue(L, idx);
    lua_pushboolean(L, 1);
    lua_rawset(L, seen);

    luaL_checkstack(L, 4, "json");
    lua_Integer n = array_length(L, idx);
    if (n > 0) {
        lt_sbuf_addc(b, '[');
        for (lua_Integer i = 1; i <= n; i++) {
            if (i > 1)
                lt_sbuf_addc(b, ',');
            lua_rawgeti(L, idx, i);
            encode(L, lua_gettop(L), b, depth + 1, seen);
            lua_pop(L, 1);
        }
        lt_sbuf_addc(b, ']');
    } else {
        int first = 1;
        lt_sbuf_addc(b, '{');
        lua_pushnil(L);
        while (lua_next(L, idx)) {
            int kt = lua_type(L, -2);
            if (kt != LUA_TSTRING && kt != LUA_TNUMBER)
                luaL_error(L, "json: cannot encode a %s key", lua_typename(L, kt));
            if (!first)
                lt_sbuf_addc(b, ',');
            first = 0;
            lua_pushvalue(L, -2);
            size_t klen;
            const char *k = lua_tolstring(L, -1, &klen); /* converts a copy, not the key */
            lt_json_string(b, k, klen);
            lua_pop(L, 1);
            lt_sbuf_addc(b, ':');
            encode(L, lua_gettop(L), b, depth + 1, seen);
            lua_pop(L, 1);
        }
        lt_sbuf_addc(b, '}');
    }
    lua_pushvalue(L, idx);
    lua_pushnil(L);
    lua_rawset(L, seen);
}

static void encode(lua_State *L, int idx, lt_sbuf *b, int depth, int seen)
{
    size_t len;
    const char *s;
    switch (lua_type(L, idx)) {
    case LUA_TNIL: lt_sbuf_addstr(b, "null"); break;
    case LUA_TBOOLEAN: lt_sbuf_addstr(b, lua_toboolean(L, idx) ? "true" : "false"); break;
    case LUA_TNUMBER: encode_number(L, idx, b); break;
    case LUA_TSTRING:
        s = lua_tolstring(L, idx, &len);
        lt_json_string(b, s, len);
        break;
    case LUA_TTABLE: encode_table(L, idx, b, depth, seen); break;
    case LUA_TUSERDATA:
        s = (const char *)lt_buffer_test(L, idx, &len);
        if (s) {
            lt_json_string(b, s, len);
            break;
        }
        /* fall through */
    default:
        luaL_error(L, "json: cannot encode a %s value", luaL_typename(L, idx));
    }
}

void lt_json_encode(lua_State *L, int idx, lt_sbuf *b)
{
    idx = lua_absindex(L, idx);
    lua_newtable(L);
    encode(L, idx, b, 0, lua_gettop(L));
    lua_pop(L, 1);
}

/* The object at idx with the keys listed in the table at keys, in that
 * order: a nil value is null, or left out when optional[key] is true. */
static void encode_ordered(lua_State *L, int idx, int keys, int optional, lt_sbuf *b, int seen)
{
    int first = 1;
    lt_sbuf_addc(b, '{');
    for (lua_Integer i = 1;; i++) {
        if (lua_rawgeti(L, keys, i) == LUA_TNIL) {
            lua_pop(L, 1);
            break;
        }
        if (lua_type(L, -1) != LUA_TSTRING)
            luaL_error(L, "json: keys[%I] is not a string", i);
        int k = lua_gettop(L);
        lua_pushvalue(L, k);
        int absent = lua_rawget(L, idx) == LUA_TNIL;
        if (absent && optional) {
            lua_pushvalue(L, k);
            int skip = lua_rawget(L, optional) != LUA_TNIL && lua_toboolean(L, -1);
            lua_pop(L, 1);
            if (skip) {
                lua_pop(L, 2);
                continue;
            }
        }
        if (!first)
            lt_sbuf_addc(b, ',');
        first = 0;
        size_t klen;
        const char *key = lua_tolstring(L, k, &klen);
        lt_json_string(b, key, klen);
        lt_sbuf_addc(b, ':');
        encode(L, lua_gettop(L), b, 1, seen);
        lua_pop(L, 2);
    }
    lt_sbuf_addc(b, '}');
}

/* json(value [, keys [, optional]]) */
int lt_json_api(lua_State *L)
{
    luaL_checkany(L, 1);
    lua_settop(L, 3);
    int ordered = !lua_isnil(L, 2);
    if (ordered) {
        luaL_checktype(L, 1, LUA_TTABLE);
        luaL_checktype(L, 2, LUA_TTABLE);
        if (!lua_isnil(L, 3))
            luaL_checktype(L, 3, LUA_TTABLE);
    }
    lt_sbuf b;
    lt_sbuf_init(L, &b);
    if (ordered) {
        lua_newtable(L);
        int seen = lua_gettop(L);
        lua_pushvalue(L, 1);
        lua_pushboolean(L, 1);
        lua_rawset(L, seen);
        encode_ordered(L, 1, 2, lua_isnil(L, 3) ? 0 : 3, &b, seen);
        lua_remove(L, seen);
    } else {
        lt_json_encode(L, 1, &b);
    }
    lt_sbuf_result(&b);
    return 1;
}
