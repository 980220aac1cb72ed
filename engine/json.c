#include "json.h"
#include "lbuffer.h"
#include "numfmt.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void lt_sbuf_init(lua_State *L, lt_sbuf *b)
{
    b->L = L;
    b->n = 0;
    b->cap = sizeof b->small;
    b->p = b->small;
    lua_pushnil(L); /* the userdata's slot, once there is one */
    b->slot = lua_gettop(L);
}

/* Makes room for n more bytes. */
static void sbuf_grow(lt_sbuf *b, size_t n)
{
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

void lt_sbuf_add(lt_sbuf *b, const char *s, size_t n)
{
    if (n > b->cap - b->n)
        sbuf_grow(b, n);
    memcpy(b->p + b->n, s, n);
    b->n += n;
}

void lt_sbuf_addstr(lt_sbuf *b, const char *s)
{
    lt_sbuf_add(b, s, strlen(s));
}

static void lt_sbuf_addc(lt_sbuf *b, char c)
{
    if (b->n < b->cap)
        b->p[b->n++] = c; /* the common case: no call */
    else
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

/* Bytes that go into a JSON string as they are: printable ASCII other
 * than the quote and the backslash. */
static const uint8_t plain_byte[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
};

/* The part of a string from its first byte that needs an escape. */
static void escape_rest(lt_sbuf *b, const unsigned char *s, size_t n)
{
    char esc[8];
    for (size_t i = 0; i < n;) {
        size_t plain = i; /* a run that needs no escape goes in one copy */
        while (plain < n && plain_byte[s[plain]])
            plain++;
        if (plain > i) {
            lt_sbuf_add(b, (const char *)s + i, plain - i);
            i = plain;
            continue;
        }
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
}

void lt_json_string(lt_sbuf *b, const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    /* Most strings need no escape: room for all of them and the quotes
     * once, and a byte loop with no call in it (memcpy per run of a short
     * key cost more than the key). */
    if (n + 2 > b->cap - b->n)
        sbuf_grow(b, n + 2);
    char *o = b->p + b->n;
    *o++ = '"';
    size_t i = 0;
    while (i < n && plain_byte[s[i]])
        *o++ = (char)s[i++];
    b->n = (size_t)(o - b->p);
    if (i < n)
        escape_rest(b, s + i, n - i);
    lt_sbuf_addc(b, '"');
}

/* Decimal digits of v into the end of num[64]; returns where they start.
 * (snprintf was a tenth of a short line's cost.) */
static const char *integer_text(lua_Integer v, char *num)
{
    char *p = num + 63;
    *p = '\0';
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        *--p = '-';
    return p;
}

static void encode_number(lua_State *L, int idx, lt_sbuf *b)
{
    char num[64];
    if (lua_isinteger(L, idx)) {
        lt_sbuf_addstr(b, integer_text(lua_tointeger(L, idx), num));
        return;
    } else {
        double d = lua_tonumber(L, idx);
        if (!isfinite(d))
            snprintf(num, sizeof num, "null");
        else if (d == floor(d) && fabs(d) < 1e15)
            snprintf(num, sizeof num, "%.1f", d);
        else
            lt_format_g17(d, num);
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

/* The tables being encoded, outermost first: one met again inside itself
 * is a cycle. (A C array: no Lua table to make and fill per line.) */
typedef struct json_path {
    const void *t[LT_JSON_MAX_DEPTH];
    int n;
} json_path;

static void encode(lua_State *L, int idx, lt_sbuf *b, int depth, json_path *seen);

typedef struct key_text {
    const char *s;
    size_t len;
    int ref; /* index of the key itself in the list of keys */
} key_text;

static int by_text(const void *a, const void *b)
{
    const key_text *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->s, y->s, n);
    return c ? c : (x->len > y->len) - (x->len < y->len);
}

/* The object at idx with its keys in byte order of their text, so the
 * same table prints the same line in every run (pairs() order follows
 * the string hash seed, which changes from run to run). */
static void encode_object(lua_State *L, int idx, lt_sbuf *b, int depth, json_path *seen)
{
    int count = 0;
    luaL_checkstack(L, 5, "json");
    lua_newtable(L); /* the keys, and their texts right after each */
    int keys = lua_gettop(L);
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        int kt = lua_type(L, -1);
        if (kt != LUA_TSTRING && kt != LUA_TNUMBER)
            luaL_error(L, "json: cannot encode a %s key", lua_typename(L, kt));
        lua_pushvalue(L, -1);
        lua_rawseti(L, keys, 2 * count + 1);
        lua_pushvalue(L, -1);
        lua_tolstring(L, -1, NULL); /* converts the copy, not the key */
        lua_rawseti(L, keys, 2 * count + 2);
        count++;
    }
    key_text *order = lua_newuserdatauv(L, (size_t)count * sizeof *order + 1, 0); /* freed by the collector, even on an error */
    for (int i = 0; i < count; i++) {
        lua_rawgeti(L, keys, 2 * i + 2);
        order[i].s = lua_tolstring(L, -1, &order[i].len); /* kept alive by keys */
        order[i].ref = 2 * i + 1;
        lua_pop(L, 1);
    }
    qsort(order, (size_t)count, sizeof *order, by_text);
    lt_sbuf_addc(b, '{');
    for (int i = 0; i < count; i++) {
        if (i > 0)
            lt_sbuf_addc(b, ',');
        lt_json_string(b, order[i].s, order[i].len);
        lt_sbuf_addc(b, ':');
        lua_rawgeti(L, keys, order[i].ref);
        lua_rawget(L, idx);
        encode(L, lua_gettop(L), b, depth + 1, seen);
        lua_pop(L, 1);
    }
    lt_sbuf_addc(b, '}');
    lua_pop(L, 2); /* order, keys */
}

static void encode_table(lua_State *L, int idx, lt_sbuf *b, int depth, json_path *seen)
{
    if (depth >= LT_JSON_MAX_DEPTH)
        luaL_error(L, "json: nesting deeper than %d", LT_JSON_MAX_DEPTH);
    const void *self = lua_topointer(L, idx);
    for (int i = 0; i < seen->n; i++)
        if (seen->t[i] == self)
            luaL_error(L, "json: cannot encode a table that contains itself");
    if (seen->n == LT_JSON_MAX_DEPTH)
        luaL_error(L, "json: nesting deeper than %d", LT_JSON_MAX_DEPTH);
    seen->t[seen->n++] = self;

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
        encode_object(L, idx, b, depth, seen);
    }
    seen->n--;
}

static void encode(lua_State *L, int idx, lt_sbuf *b, int depth, json_path *seen)
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
    json_path seen = { .n = 0 };
    encode(L, lua_absindex(L, idx), b, 0, &seen);
}

static void encode_ordered(lua_State *L, int idx, int keys, int optional, lt_sbuf *b, json_path *seen,
                           int depth);

/* A value whose keys entry is { name, subkeys }: an object with subkeys,
 * or an array of them. */
static void encode_keyed(lua_State *L, int idx, int subkeys, lt_sbuf *b, json_path *seen, int depth)
{
    if (depth >= LT_JSON_MAX_DEPTH)
        luaL_error(L, "json: nesting deeper than %d", LT_JSON_MAX_DEPTH);
    if (lua_type(L, idx) != LUA_TTABLE) {
        encode(L, idx, b, depth, seen);
        return;
    }
    luaL_checkstack(L, 4, "json");
    lua_Integer n = (lua_Integer)lua_rawlen(L, idx);
    if (n == 0) {
        lua_pushnil(L);
        int object = lua_next(L, idx); /* keys, none of them 1: one object */
        if (object) {
            lua_pop(L, 2);
            encode_ordered(L, idx, subkeys, 0, b, seen, depth + 1);
            return;
        }
    }
    lt_sbuf_addc(b, '[');
    for (lua_Integer i = 1; i <= n; i++) {
        if (i > 1)
            lt_sbuf_addc(b, ',');
        lua_rawgeti(L, idx, i);
        int elem = lua_gettop(L);
        if (lua_type(L, elem) == LUA_TTABLE)
            encode_ordered(L, elem, subkeys, 0, b, seen, depth + 1);
        else
            encode(L, elem, b, depth + 1, seen);
        lua_pop(L, 1);
    }
    lt_sbuf_addc(b, ']');
}

/* The object at idx with the keys listed in the table at keys, in that
 * order: a nil value is null, or left out when optional[key] is true. A
 * keys entry { name, subkeys } writes that value with its own keys. */
static void encode_ordered(lua_State *L, int idx, int keys, int optional, lt_sbuf *b, json_path *seen,
                           int depth)
{
    int first = 1;
    luaL_checkstack(L, 6, "json");
    lt_sbuf_addc(b, '{');
    for (lua_Integer i = 1;; i++) {
        int entry = lua_rawgeti(L, keys, i);
        if (entry == LUA_TNIL) {
            lua_pop(L, 1);
            break;
        }
        int subkeys = 0;
        if (entry == LUA_TTABLE) {
            subkeys = lua_gettop(L);
            if (lua_rawgeti(L, subkeys, 2) != LUA_TTABLE)
                luaL_error(L, "json: keys[%I] is a table without a list of keys at [2]", i);
            lua_rawgeti(L, subkeys, 1);
            lua_remove(L, subkeys); /* the entry: name at -1, subkeys below it */
            subkeys = lua_gettop(L) - 1;
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
                lua_pop(L, subkeys ? 3 : 2);
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
        if (subkeys)
            encode_keyed(L, lua_gettop(L), subkeys, b, seen, depth + 1);
        else
            encode(L, lua_gettop(L), b, depth + 1, seen);
        lua_pop(L, subkeys ? 3 : 2);
    }
    lt_sbuf_addc(b, '}');
}

/* The arguments of json(value [, keys [, optional]]) encoded into b. */
static void encode_args(lua_State *L, lt_sbuf *b)
{
    int ordered = !lua_isnil(L, 2);
    int optional = ordered && !lua_isnil(L, 3) ? 3 : 0;
    if (!ordered) {
        lt_json_encode(L, 1, b);
        return;
    }
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_checktype(L, 2, LUA_TTABLE);
    if (optional)
        luaL_checktype(L, 3, LUA_TTABLE);
    /* A value that is the object itself is refused one level down, when
     * the value's own fields lead back to it. */
    json_path seen = { .n = 0 };
    encode_ordered(L, 1, 2, optional, b, &seen, 0);
}

void lt_json_args(lua_State *L, lt_sbuf *b)
{
    luaL_checkany(L, 1);
    lua_settop(L, 3);
    lt_sbuf_init(L, b);
    encode_args(L, b);
}

/* json(value [, keys [, optional]]) */
int lt_json_api(lua_State *L)
{
    lt_sbuf b;
    lt_json_args(L, &b);
    lt_sbuf_result(&b);
    return 1;
}
