/*
 * ldns.c — see ldns.h. Any problem anywhere in a message makes the whole
 * call return nil (the table built so far is garbage), so every error
 * message and partial result stays dns_wire.lua's alone. Decoding a
 * message in Lua cost about 15 µs; most of it went to a table per field
 * group and a string per label.
 */
#include "ldns.h"
#include "lbuffer.h"

#include <lauxlib.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>

/* The upvalues of a parser: number-to-name tables. */
enum { NAMES_TYPE = 1, NAMES_CLASS, NAMES_RCODE, NAMES_OPCODE, NAMES_EDNS };

typedef struct msg {
    lua_State *L;
    const uint8_t *p;
    size_t n;
    jmp_buf fail;   /* not taken: back to parse, which returns nil */
    int ext_rcode;  /* the last OPT record's upper rcode bits, -1 without one */
    size_t name_len;
    char name[LT_DNS_MAX_NAME_TEXT + 8];
} msg;

/* No Lua error is raised across the jump: only our own checks jump, and
 * everything pushed since is dropped by parse's lua_settop. */
static _Noreturn void not_taken(msg *m)
{
    longjmp(m->fail, 1);
}

static unsigned u16(const msg *m, size_t at)
{
    return (unsigned)m->p[at] << 8 | m->p[at + 1];
}

static uint32_t u32(const msg *m, size_t at)
{
    return (uint32_t)u16(m, at) << 16 | u16(m, at + 2);
}

/* Needs bytes [at, at + len) of the message. */
static void need(msg *m, size_t at, size_t len)
{
    if (at > m->n || len > m->n - at)
        not_taken(m);
}

/* Pushes names[n] of upvalue `which`, or PREFIX..n. */
static void push_named(lua_State *L, int which, const char *prefix, lua_Integer n)
{
    if (lua_rawgeti(L, lua_upvalueindex(which), n) == LUA_TSTRING)
        return;
    lua_pop(L, 1);
    lua_pushfstring(L, "%s%I", prefix, n);
}

static void set_named(lua_State *L, const char *key, int which, const char *prefix, lua_Integer n)
{
    push_named(L, which, prefix, n);
    lua_setfield(L, -2, key);
}

static void set_int(lua_State *L, const char *key, lua_Integer v)
{
    lua_pushinteger(L, v);
    lua_setfield(L, -2, key);
}

static void set_bool(lua_State *L, const char *key, int v)
{
    lua_pushboolean(L, v);
    lua_setfield(L, -2, key);
}

/* ---- names ---- */

/* Appends a label in master-file form (RFC 1035 5.1): a dot or backslash
 * escaped by a backslash, bytes that are not printable ASCII as \DDD. Past
 * the limit the message is not taken; the buffer has room for the four
 * bytes that can cross it. */
static void add_label(msg *m, const uint8_t *label, size_t len, int first)
{
    if (!first)
        m->name[m->name_len++] = '.';
    for (size_t i = 0; i < len; i++) {
        unsigned c = label[i];
        if (m->name_len > LT_DNS_MAX_NAME_TEXT)
            not_taken(m);
        if (c == '.' || c == '\\') {
            m->name[m->name_len++] = '\\';
            m->name[m->name_len++] = (char)c;
        } else if (c <= 32 || c >= 127) {
            m->name_len += (size_t)snprintf(m->name + m->name_len, 5, "\\%03u", c);
        } else {
            m->name[m->name_len++] = (char)c;
        }
    }
    if (m->name_len > LT_DNS_MAX_NAME_TEXT)
        not_taken(m);
}

/* Reads the name at `off` into m->name; returns the offset after it where
 * it was written (after its first pointer). A pointer must go to before
 * the labels it was reached from, so every chain ends. */
static size_t read_name(msg *m, size_t off)
{
    size_t pos = off, floor = off, after = 0;
    int labels = 0;
    m->name_len = 0;
    for (;;) {
        need(m, pos, 1);
        unsigned len = m->p[pos];
        if ((len & 0xC0) == 0xC0) {
            need(m, pos, 2);
            size_t target = (len & 0x3F) << 8 | m->p[pos + 1];
            if (target >= floor)
                not_taken(m);
            if (!after)
                after = pos + 2;
            pos = floor = target;
        } else if (len & 0xC0) {
            not_taken(m);
        } else if (len == 0) {
            break;
        } else {
            need(m, pos + 1, len);
            if (++labels > LT_DNS_MAX_LABELS)
                not_taken(m);
            add_label(m, m->p + pos + 1, len, labels == 1);
            pos += 1 + len;
        }
    }
    if (labels == 0)
        m->name[m->name_len++] = '.';
    m->name[m->name_len] = '\0'; /* for the data strings made with it */
    return after ? after : pos + 1;
}

static size_t push_name(msg *m, size_t off)
{
    size_t after = read_name(m, off);
    lua_pushlstring(m->L, m->name, m->name_len);
    return after;
}

/* A name inside the record data [.., stop). */
static size_t set_rdata_name(msg *m, const char *key, size_t at, size_t stop)
{
    size_t after = push_name(m, at);
    if (after > stop)
        not_taken(m);
    lua_setfield(m->L, -2, key);
    return after;
}

/* ---- record data ---- */

static void add_hex(luaL_Buffer *b, const uint8_t *p, size_t len)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        luaL_addchar(b, digits[p[i] >> 4]);
        luaL_addchar(b, digits[p[i] & 15]);
    }
}

static void push_hex(lua_State *L, const uint8_t *p, size_t len)
{
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    add_hex(&b, p, len);
    luaL_pushresult(&b);
}

/* RFC 5952: the longest run of two or more zero groups (the first of
 * equals) is written "::". */
static void push_ipv6(lua_State *L, const uint8_t *a)
{
    unsigned g[8];
    int best = -1, best_len = 1;
    for (int i = 0; i < 8; i++)
        g[i] = (unsigned)a[2 * i] << 8 | a[2 * i + 1];
    for (int i = 0; i < 8;) {
        if (g[i] != 0) {
            i++;
            continue;
        }
        int j = i;
        while (j < 7 && g[j + 1] == 0)
            j++;
        if (j - i + 1 > best_len) {
            best = i;
            best_len = j - i + 1;
        }
        i = j + 1;
    }
    char text[48];
    size_t len = 0;
    for (int i = 0; i < 8; i++) {
        if (i == best) {
            len += (size_t)snprintf(text + len, sizeof text - len, "::");
            i += best_len - 1;
            continue;
        }
        int sep = i > 0 && i != best + best_len;
        len += (size_t)snprintf(text + len, sizeof text - len, "%s%x", sep ? ":" : "", g[i]);
    }
    lua_pushlstring(L, text, len);
}

/* TXT: every character-string raw in rr.strings, and the data as quoted
 * strings separated by blanks. */
static void rdata_txt(msg *m, size_t at, size_t stop)
{
    lua_State *L = m->L;
    luaL_Buffer b;
    lua_newtable(L);                 /* strings */
    luaL_buffinit(L, &b);            /* data, above the strings */
    lua_Integer count = 0;
    for (size_t p = at; p < stop;) {
        size_t len = m->p[p];
        if (len > stop - p - 1)
            not_taken(m);
        const uint8_t *s = m->p + p + 1;
        lua_pushlstring(L, (const char *)s, len);
        lua_rawseti(L, -3, ++count); /* below the buffer's box, if any */
        if (count > 1)
            luaL_addchar(&b, ' ');
        luaL_addchar(&b, '"');
        for (size_t i = 0; i < len; i++) {
            unsigned c = s[i];
            if (c == '"' || c == '\\') {
                luaL_addchar(&b, '\\');
                luaL_addchar(&b, (char)c);
            } else if (c < 32 || c >= 127) {
                char esc[5];
                snprintf(esc, sizeof esc, "\\%03u", c);
                luaL_addlstring(&b, esc, 4);
            } else {
                luaL_addchar(&b, (char)c);
            }
        }
        luaL_addchar(&b, '"');
        p += 1 + len;
    }
    luaL_pushresult(&b);
    lua_setfield(L, -3, "data");
    lua_setfield(L, -2, "strings");
}

static int is_name_type(unsigned type)
{
    switch (type) {
    case 2: case 3: case 4: case 5: case 7: case 8: case 9: case 12: case 39:
        return 1; /* NS MD MF CNAME MB MG MR PTR DNAME */
    default:
        return 0;
    }
}

/* Fills the record on top of the stack from its data [at, stop). */
static void rdata(msg *m, unsigned type, size_t at, size_t stop)
{
    lua_State *L = m->L;
    size_t len = stop - at;
    const uint8_t *d = m->p + at;
    if (type == 1) { /* A */
        if (len != 4)
            not_taken(m);
        lua_pushfstring(L, "%d.%d.%d.%d", d[0], d[1], d[2], d[3]);
    } else if (type == 28) { /* AAAA */
        if (len != 16)
            not_taken(m);
        push_ipv6(L, d);
    } else if (type == 15) { /* MX */
        if (len < 2)
            not_taken(m);
        set_int(L, "preference", u16(m, at));
        set_rdata_name(m, "exchange", at + 2, stop);
        lua_pushfstring(L, "%d %s", (int)u16(m, at), m->name);
    } else if (type == 33) { /* SRV */
        if (len < 6)
            not_taken(m);
        set_int(L, "priority", u16(m, at));
        set_int(L, "weight", u16(m, at + 2));
        set_int(L, "port", u16(m, at + 4));
        set_rdata_name(m, "target", at + 6, stop);
        lua_pushfstring(L, "%d %d %d %s", (int)u16(m, at), (int)u16(m, at + 2),
                        (int)u16(m, at + 4), m->name);
    } else if (type == 6) { /* SOA: bytes after its 20 are not looked at */
        size_t p = set_rdata_name(m, "mname", at, stop);
        p = set_rdata_name(m, "rname", p, stop);
        if (stop - p < 20)
            not_taken(m);
        static const char *const tail[] = { "serial", "refresh", "retry", "expire", "minimum" };
        for (int i = 0; i < 5; i++)
            set_int(L, tail[i], u32(m, p + 4 * (size_t)i));
        lua_getfield(L, -1, "mname");
        lua_pushfstring(L, "%s %s %I %I %I %I %I", lua_tostring(L, -1), m->name,
                        (lua_Integer)u32(m, p), (lua_Integer)u32(m, p + 4),
                        (lua_Integer)u32(m, p + 8), (lua_Integer)u32(m, p + 12),
                        (lua_Integer)u32(m, p + 16));
        lua_remove(L, -2);
    } else if (type == 16 || type == 99) { /* TXT, SPF */
        rdata_txt(m, at, stop);
        return;
    } else if (is_name_type(type)) {
        if (push_name(m, at) != stop)
            not_taken(m); /* past the data, or bytes after the name */
    } else { /* RFC 3597's form: \# LENGTH HEX */
        luaL_Buffer b;
        luaL_buffinit(L, &b);
        char head[16];
        luaL_addlstring(&b, head, (size_t)snprintf(head, sizeof head, "\\# %zu%s", len, len ? " " : ""));
        add_hex(&b, d, len);
        luaL_pushresult(&b);
    }
    lua_setfield(L, -2, "data");
}

/* The EDNS options of an OPT record as { code, name, data (hex) }, and
 * their names comma-separated (pushed after the list). */
static void edns_options(msg *m, size_t at, size_t stop)
{
    lua_State *L = m->L;
    lua_newtable(L);
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    lua_Integer count = 0;
    for (size_t p = at; p < stop;) {
        if (stop - p < 4 || u16(m, p + 2) > stop - p - 4)
            not_taken(m);
        unsigned code = u16(m, p), len = u16(m, p + 2);
        lua_createtable(L, 0, 3);
        set_int(L, "code", code);
        push_named(L, NAMES_EDNS, "OPTION", code);
        if (count > 0)
            luaL_addchar(&b, ',');
        lua_pushvalue(L, -1);
        luaL_addvalue(&b);
        lua_setfield(L, -2, "name");
        push_hex(L, m->p + p + 4, len);
        lua_setfield(L, -2, "data");
        lua_rawseti(L, -3, ++count); /* the list, below the buffer's box if any */
        p += 4 + len;
    }
    luaL_pushresult(&b);
}

/* The OPT pseudo-record (RFC 6891 6.1.3): EDNS fields where others have
 * class and TTL. Pushes the record; sets msg.edns (the message is at
 * index msg_at). */
static size_t opt_record(msg *m, size_t p, int msg_at)
{
    lua_State *L = m->L;
    need(m, p, 10);
    unsigned udp_size = u16(m, p + 2), rdlength = u16(m, p + 8);
    unsigned ext_rcode = m->p[p + 4], version = m->p[p + 5];
    unsigned dnssec_ok = m->p[p + 6] >> 7, z = (unsigned)(m->p[p + 6] & 0x7F) << 8 | m->p[p + 7];
    size_t start = p + 10;
    need(m, start, rdlength);
    /* the name is on top; the record takes it */
    lua_createtable(L, 0, 7);
    lua_insert(L, -2);
    lua_setfield(L, -2, "name");
    lua_pushliteral(L, "OPT");
    lua_setfield(L, -2, "type");
    set_int(L, "type_code", 41);
    set_int(L, "udp_size", udp_size);
    set_int(L, "rdlength", rdlength);
    lua_createtable(L, 0, 6); /* edns */
    set_int(L, "udp_size", udp_size);
    set_int(L, "extended_rcode", ext_rcode);
    set_int(L, "version", version);
    set_bool(L, "dnssec_ok", (int)dnssec_ok);
    set_int(L, "z", z);
    edns_options(m, start, start + rdlength);
    int shown = lua_gettop(L);
    lua_pushvalue(L, -2);
    lua_setfield(L, -4, "options");
    if (lua_rawlen(L, shown) > 0)
        lua_pushfstring(L, "udp_size=%d version=%d do=%d options=%s", (int)udp_size, (int)version,
                        (int)dnssec_ok, lua_tostring(L, shown));
    else
        lua_pushfstring(L, "udp_size=%d version=%d do=%d", (int)udp_size, (int)version, (int)dnssec_ok);
    lua_setfield(L, -5, "data");
    lua_pop(L, 2); /* the names and the list */
    lua_pushvalue(L, -1);
    lua_setfield(L, msg_at, "edns");
    lua_setfield(L, -2, "edns");
    m->ext_rcode = (int)ext_rcode;
    return start + rdlength;
}

/* Makes the table of a question or record (of `fields` fields) from the
 * name on top of the stack, which it replaces, with its type and class. */
static void start_entry(lua_State *L, int fields, unsigned type, unsigned class)
{
    lua_createtable(L, 0, fields);
    lua_insert(L, -2);
    lua_setfield(L, -2, "name");
    set_named(L, "type", NAMES_TYPE, "TYPE", type);
    set_int(L, "type_code", type);
    set_named(L, "class", NAMES_CLASS, "CLASS", class);
    set_int(L, "class_code", class);
}

/* One resource record at `at`: pushes it, returns the offset after it. */
static size_t record(msg *m, size_t at, int msg_at)
{
    lua_State *L = m->L;
    size_t p = push_name(m, at);
    if (p + 2 <= m->n && u16(m, p) == 41)
        return opt_record(m, p, msg_at);
    need(m, p, 10);
    unsigned type = u16(m, p), class = u16(m, p + 2), rdlength = u16(m, p + 8);
    size_t start = p + 10;
    need(m, start, rdlength);
    start_entry(L, 8, type, class);
    set_int(L, "ttl", u32(m, p + 4));
    set_int(L, "rdlength", rdlength);
    rdata(m, type, start, start + rdlength);
    return start + rdlength;
}

static size_t question(msg *m, size_t at, int msg_at)
{
    (void)msg_at;
    lua_State *L = m->L;
    size_t p = push_name(m, at);
    need(m, p, 4);
    unsigned type = u16(m, p), class = u16(m, p + 2);
    start_entry(L, 5, type, class);
    return p + 4;
}

/* Reads `count` items into the list msg[key]. */
static size_t section(msg *m, int msg_at, const char *key, unsigned count, size_t p,
                      size_t (*read)(msg *, size_t, int))
{
    lua_State *L = m->L;
    lua_createtable(L, (int)(count < 64 ? count : 64), 0);
    for (unsigned i = 1; i <= count; i++) {
        if (p >= m->n)
            not_taken(m);
        p = read(m, p, msg_at);
        lua_rawseti(L, -2, i);
    }
    lua_setfield(L, msg_at, key);
    return p;
}

static void header(msg *m)
{
    lua_State *L = m->L;
    unsigned bits = u16(m, 2);
    lua_createtable(L, 0, 9);
    static const char *const flag[] = { "qr", NULL, NULL, NULL, NULL, "aa", "tc", "rd",
                                        "ra", "z", "ad", "cd" };
    for (int i = 0; i < 12; i++)
        if (flag[i])
            set_bool(L, flag[i], (int)(bits >> (15 - i)) & 1);
    set_int(L, "opcode", bits >> 11 & 15);
    lua_setfield(L, -2, "flags");
    set_int(L, "id", u16(m, 0));
    set_named(L, "opcode", NAMES_OPCODE, "OPCODE", bits >> 11 & 15);
    static const char *const counts[] = { "qdcount", "ancount", "nscount", "arcount" };
    for (int i = 0; i < 4; i++)
        set_int(L, counts[i], u16(m, 4 + 2 * (size_t)i));
    set_int(L, "size", (lua_Integer)m->n);
}

/* The fields that come from the first question and the rcode (extended by
 * EDNS when there is an OPT record). */
static void summary(msg *m, int msg_at)
{
    lua_State *L = m->L;
    lua_Integer rcode = u16(m, 2) & 15;
    if (m->ext_rcode >= 0)
        rcode |= (lua_Integer)m->ext_rcode << 4;
    set_int(L, "rcode_code", rcode);
    set_named(L, "rcode", NAMES_RCODE, "RCODE", rcode);
    lua_getfield(L, msg_at, "questions");
    if (lua_rawgeti(L, -1, 1) == LUA_TTABLE) {
        static const char *const from[] = { "name", "type", "class" };
        static const char *const to[] = { "qname", "qtype", "qclass" };
        for (int i = 0; i < 3; i++) {
            lua_getfield(L, -1, from[i]);
            lua_setfield(L, msg_at, to[i]);
        }
    }
    lua_pop(L, 2);
}

/* parse(buf | string) -> msg | nil */
static int parse(lua_State *L)
{
    msg m;
    m.L = L;
    m.ext_rcode = -1;
    m.p = lua_type(L, 1) == LUA_TSTRING ? (const uint8_t *)lua_tolstring(L, 1, &m.n)
                                        : lt_buffer_test(L, 1, &m.n);
    if (!m.p)
        return luaL_typeerror(L, 1, "buffer or string");
    lua_settop(L, 1);
    if (m.n < 12)
        return 0;
    if (setjmp(m.fail)) {
        lua_settop(L, 1);
        lua_pushnil(L);
        return 1;
    }
    /* id, flags, opcode, rcode_code, 4 counts, 4 lists, size, rcode, qname,
     * qtype, qclass, and room for what the dissector adds */
    lua_createtable(L, 0, 26);
    int msg_at = lua_gettop(L);
    header(&m);
    size_t p = 12;
    p = section(&m, msg_at, "questions", u16(&m, 4), p, question);
    p = section(&m, msg_at, "answers", u16(&m, 6), p, record);
    p = section(&m, msg_at, "authority", u16(&m, 8), p, record);
    p = section(&m, msg_at, "additional", u16(&m, 10), p, record);
    if (p < m.n)
        set_int(L, "trailing", (lua_Integer)(m.n - p));
    summary(&m, msg_at);
    return 1;
}

/* parser(types, classes, rcodes, opcodes, edns_options) -> parse */
static int parser(lua_State *L)
{
    for (int i = 1; i <= 5; i++)
        luaL_checktype(L, i, LUA_TTABLE);
    lua_settop(L, 5);
    lua_pushcclosure(L, parse, 5);
    return 1;
}

void lt_dns_push_module(lua_State *L)
{
    lua_createtable(L, 0, 1);
    lua_pushcfunction(L, parser);
    lua_setfield(L, -2, "parser");
}
