#include "lsession.h"
#include "decode.h"
#include "lutil.h"
#include "tcp.h"

#include <lauxlib.h>
#include <stdio.h>
#include <string.h>

#define SESSION_MT "lunatap.session"

typedef struct session_obj {
    lt_flow *live;        /* NULL once the flow has ended */
    lt_flow flow;         /* final state, once ended */
    lt_tcp_conn tcp;      /* final TCP state, once ended */
    int has_tcp;
} session_obj;

#define FIELDS(X) \
    X(id) X(proto) X(client) X(server) X(client_ip) X(client_port) X(server_ip) \
    X(server_port) X(start) X(last) X(duration) X(state) X(packets) X(bytes) \
    X(client_packets) X(server_packets) X(client_bytes) X(server_bytes) \
    X(client_payload_bytes) X(server_payload_bytes) X(client_retransmits) \
    X(server_retransmits) X(client_gaps) X(server_gaps) X(client_gap_bytes) \
    X(server_gap_bytes) X(client_out_of_order) X(server_out_of_order) X(rtt) \
    X(midstream) X(syn_retries) X(history) X(data) X(ended)

#define AS_ENUM(n) S_##n,
#define AS_NAME(n) #n,
enum { S_NONE, FIELDS(AS_ENUM) S_COUNT };
static const char *const names[] = { "", FIELDS(AS_NAME) };

static const lt_flow *flow_of(const session_obj *s)
{
    return s->live ? s->live : &s->flow;
}

static const lt_tcp_conn *tcp_of(const session_obj *s)
{
    if (s->live)
        return s->live->key.proto == 6 ? s->live->ext : NULL;
    return s->has_tcp ? &s->tcp : NULL;
}

/* "10.0.0.1:80" or "[2001:db8::1]:443" */
static void push_endpoint(lua_State *L, const lt_flow *f, int which, int with_port)
{
    char addr[64];
    lt_ip_ntop(f->key.version, f->key.addr[which], addr, sizeof addr);
    if (!with_port)
        lua_pushstring(L, addr);
    else if (f->key.version == 6)
        lua_pushfstring(L, "[%s]:%d", addr, (int)f->key.port[which]);
    else
        lua_pushfstring(L, "%s:%d", addr, (int)f->key.port[which]);
}

static void push_proto(lua_State *L, int proto)
{
    switch (proto) {
    case 6: lua_pushliteral(L, "tcp"); break;
    case 17: lua_pushliteral(L, "udp"); break;
    case 1: lua_pushliteral(L, "icmp"); break;
    case 58: lua_pushliteral(L, "icmp6"); break;
    default: lua_pushfstring(L, "ip-proto-%d", proto);
    }
}

static void push_state(lua_State *L, const session_obj *s, const lt_flow *f, const lt_tcp_conn *c)
{
    if (c)
        lua_pushstring(L, lt_tcp_state_name(c->state));
    else
        lua_pushstring(L, s->live ? "active" : "ended");
}

/* Per-direction TCP counters: dir 0 client, 1 server. */
static int tcp_counter(lua_State *L, const lt_tcp_conn *c, int dir, int field)
{
    if (!c) {
        lua_pushinteger(L, 0);
        return 1;
    }
    const lt_tcp_half *h = &c->half[dir];
    uint64_t v = 0;
    switch (field) {
    case S_client_retransmits: case S_server_retransmits: v = h->retransmits; break;
    case S_client_gaps: case S_server_gaps: v = h->gaps; break;
    case S_client_gap_bytes: case S_server_gap_bytes: v = h->gap_bytes; break;
    default: v = h->out_of_order; break;
    }
    lua_pushinteger(L, (lua_Integer)v);
    return 1;
}

static void push_data(lua_State *L, int obj)
{
    if (lua_getiuservalue(L, obj, 1) == LUA_TTABLE)
        return;
    lua_pop(L, 1);
    lua_newtable(L);
    lua_pushvalue(L, -1);
    lua_setiuservalue(L, obj, 1);
}

static int session_field(lua_State *L, const session_obj *s, int field)
{
    const lt_flow *f = flow_of(s);
    const lt_tcp_conn *c = tcp_of(s);
    int cl = f->client, sv = !f->client;
    switch (field) {
    case S_id: lua_pushinteger(L, (lua_Integer)f->id); break;
    case S_proto: push_proto(L, f->key.proto); break;
    case S_client: push_endpoint(L, f, cl, 1); break;
    case S_server: push_endpoint(L, f, sv, 1); break;
    case S_client_ip: push_endpoint(L, f, cl, 0); break;
    case S_server_ip: push_endpoint(L, f, sv, 0); break;
    case S_client_port: lua_pushinteger(L, f->key.port[cl]); break;
    case S_server_port: lua_pushinteger(L, f->key.port[sv]); break;
    case S_start: lua_pushnumber(L, f->start); break;
    case S_last: lua_pushnumber(L, f->last); break;
    case S_duration: lua_pushnumber(L, f->last - f->start); break;
    case S_state: push_state(L, s, f, c); break;
    case S_packets: lua_pushinteger(L, (lua_Integer)(f->pkts[0] + f->pkts[1])); break;
    case S_bytes: lua_pushinteger(L, (lua_Integer)(f->bytes[0] + f->bytes[1])); break;
    case S_client_packets: lua_pushinteger(L, (lua_Integer)f->pkts[0]); break;
    case S_server_packets: lua_pushinteger(L, (lua_Integer)f->pkts[1]); break;
    case S_client_bytes: lua_pushinteger(L, (lua_Integer)f->bytes[0]); break;
    case S_server_bytes: lua_pushinteger(L, (lua_Integer)f->bytes[1]); break;
    case S_client_payload_bytes: lua_pushinteger(L, (lua_Integer)f->payload[0]); break;
    case S_server_payload_bytes: lua_pushinteger(L, (lua_Integer)f->payload[1]); break;
    case S_client_retransmits: case S_client_gaps: case S_client_gap_bytes:
    case S_client_out_of_order:
        return tcp_counter(L, c, 0, field);
    case S_server_retransmits: case S_server_gaps: case S_server_gap_bytes:
    case S_server_out_of_order:
        return tcp_counter(L, c, 1, field);
    case S_rtt: if (c && c->rtt >= 0) lua_pushnumber(L, c->rtt); else lua_pushnil(L); break;
    case S_midstream: lua_pushboolean(L, c && c->midstream); break;
    case S_syn_retries: lua_pushinteger(L, c ? c->syn_retries : 0); break;
    case S_history: lua_pushstring(L, c ? c->history : ""); break;
    case S_ended: lua_pushboolean(L, s->live == NULL); break;
    default: return 0;
    }
    return 1;
}

/* Pushes field `field` of the session at index obj, or nothing (0). */
static int read_field(lua_State *L, int obj, const session_obj *s, int field)
{
    if (field != S_data)
        return session_field(L, s, field);
    push_data(L, obj);
    return 1;
}

static int session_index(lua_State *L)
{
    session_obj *s = luaL_checkudata(L, 1, SESSION_MT);
    lua_pushvalue(L, 2);
    int field = lua_rawget(L, lua_upvalueindex(1)) == LUA_TNUMBER ? (int)lua_tointeger(L, -1) : S_NONE;
    lua_pop(L, 1);
    if (!read_field(L, 1, s, field))
        lua_pushnil(L);
    return 1;
}

static int session_newindex(lua_State *L)
{
    return luaL_error(L, "session fields are read-only (keep your own values in session.data)");
}

static int session_tostring(lua_State *L)
{
    session_obj *s = luaL_checkudata(L, 1, SESSION_MT);
    const lt_flow *f = flow_of(s);
    push_proto(L, f->key.proto);
    push_endpoint(L, f, f->client, 1);
    push_endpoint(L, f, !f->client, 1);
    lua_pushfstring(L, "%s session %d %s > %s", lua_tostring(L, -3), (int)f->id,
                    lua_tostring(L, -2), lua_tostring(L, -1));
    return 1;
}

void lt_session_open(lua_State *L)
{
    luaL_newmetatable(L, SESSION_MT);
    lt_push_name_codes(L, names, S_COUNT);
    lua_pushcclosure(L, session_index, 1);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, session_newindex);
    lua_setfield(L, -2, "__newindex");
    lua_pushcfunction(L, session_tostring);
    lua_setfield(L, -2, "__tostring");
    lt_seal_metatable(L, "session");
    lua_pop(L, 1);
}

int lt_session_is(lua_State *L, int idx)
{
    return luaL_testudata(L, idx, SESSION_MT) != NULL;
}

/* Probes every field code through read_field(), as __index answers them. */
int lt_session_fields(lua_State *L, int idx, const char **out, int max)
{
    idx = lua_absindex(L, idx);
    const session_obj *s = luaL_testudata(L, idx, SESSION_MT);
    if (!s)
        return -1;
    int n = 0;
    for (int field = S_NONE + 1; field < S_COUNT && n < max; field++) {
        if (!read_field(L, idx, s, field))
            continue;
        if (!lua_isnil(L, -1))
            out[n++] = names[field];
        lua_pop(L, 1);
    }
    return n;
}

void lt_session_push(lua_State *L, lt_flow *f)
{
    if (f->lua_ref != LUA_NOREF) {
        lua_rawgeti(L, LUA_REGISTRYINDEX, f->lua_ref);
        return;
    }
    session_obj *s = lua_newuserdatauv(L, sizeof *s, 1);
    memset(s, 0, sizeof *s);
    s->live = f;
    luaL_setmetatable(L, SESSION_MT);
    lua_pushvalue(L, -1);
    f->lua_ref = luaL_ref(L, LUA_REGISTRYINDEX);
}

void lt_session_release(lua_State *L, lt_flow *f)
{
    if (f->lua_ref == LUA_NOREF)
        return;
    lua_rawgeti(L, LUA_REGISTRYINDEX, f->lua_ref);
    session_obj *s = lua_touserdata(L, -1);
    lua_pop(L, 1);
    if (s) {
        s->flow = *f;
        s->flow.ext = NULL;
        s->flow.hnext = s->flow.prev = s->flow.next = NULL;
        if (f->key.proto == 6 && f->ext) {
            s->tcp = *(const lt_tcp_conn *)f->ext;
            s->tcp.half[0].queue = s->tcp.half[1].queue = NULL;
            s->tcp.half[0].tail = s->tcp.half[1].tail = NULL;
            s->has_tcp = 1;
        }
        s->live = NULL;
    }
    luaL_unref(L, LUA_REGISTRYINDEX, f->lua_ref);
    f->lua_ref = LUA_NOREF;
}
