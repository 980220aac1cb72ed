/*
 * dissect.c — see dissect.h.
 */
#include "dissect.h"
#include "lbuffer.h"
#include "lsession.h"
#include "lstream.h"
#include "lutil.h"

#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>

#define MAX_NAME 32
#define MAX_EVENT_NAMES 32

/* lt_flow.flags: what was decided about a flow before (or instead of)
 * attaching a dissector. */
enum {
    FL_TRIED_CLIENT = 1, FL_TRIED_SERVER = 2, /* detect() ran on that side's first bytes */
    FL_NONE = 4,                              /* no dissector takes this flow */
    FL_UDP_STOPPED = 8,                       /* the UDP dissector failed on this flow */
    FL_UDP_ATTACHED = 16,
};

typedef struct dissector {
    char name[MAX_NAME];
    int stream_ref, detect_ref, datagram_ref;
    int script;                 /* whose environment registered it */
    char *events[MAX_EVENT_NAMES];
    int nevents;
    int active;                 /* some script handles one of its events */
    uint8_t *ports;             /* bitset: TCP ports, then UDP ports */
    char what_stream[MAX_NAME + 32], what_detect[MAX_NAME + 32], what_datagram[MAX_NAME + 32];
} dissector;

typedef struct dsession {
    lt_dissect *x;
    lt_flow *f;
    int d;                      /* dissector index */
    int swap;                   /* the tracker's client is the protocol's server */
    int stopped, ended;
    int state_ref;
    int stream_ref[2];
    lt_stream *st[2];
    int co_ref[2];              /* LUA_NOREF: not started (or abandoned); the
                                 * coroutine itself is st[dir]->co */
    int done[2];                /* the stream function returned */
} dsession;

typedef struct dissect_stats {
    uint64_t sessions, errors, limits, gaps, refused;
} dissect_stats;

struct lt_dissect {
    lt_host *h;
    lt_flow_table *flows;
    dissector d[LT_MAX_DISSECTORS];
    int n;
    int8_t tcp_port[65536], udp_port[65536];   /* dissector index + 1, 0 none */
    uint32_t gen;               /* host handler generation `active` was computed at */
    int any_active, computed;
    int ev_error, ev_gap;
    dissect_stats st;
};

/* ------------------------------------------------------------------ */
/* which dissectors are wanted                                         */

static int event_matches(const char *pattern, const char *name)
{
    size_t n = strlen(pattern);
    if (n > 0 && pattern[n - 1] == '.')
        return strncmp(pattern, name, n) == 0;
    return strcmp(pattern, name) == 0;
}

static int handled(const lt_host *h, const dissector *d)
{
    for (int e = 0; e < h->nevents; e++) {
        if (h->events[e].active <= 0)
            continue;
        for (int i = 0; i < d->nevents; i++)
            if (event_matches(d->events[i], h->events[e].name))
                return 1;
    }
    return 0;
}

static void refresh(lt_dissect *x)
{
    if (x->computed && x->gen == x->h->handler_gen)
        return;
    x->any_active = 0;
    for (int i = 0; i < x->n; i++) {
        x->d[i].active = handled(x->h, &x->d[i]);
        x->any_active |= x->d[i].active;
    }
    x->gen = x->h->handler_gen;
    x->computed = 1;
}

static int has_port(const dissector *d, int udp, int port)
{
    int bit = udp * 65536 + port;
    return d->ports && (d->ports[bit >> 3] >> (bit & 7)) & 1;
}

/* The active dissector for a port: the one registered last for it, else
 * (when that one is not active) the latest active one that has the port. */
static int port_owner(const lt_dissect *x, int udp, int port)
{
    int i = (udp ? x->udp_port : x->tcp_port)[port];
    if (!i)
        return -1;
    if (x->d[i - 1].active)
        return i - 1;
    for (int k = x->n - 1; k >= 0; k--)
        if (x->d[k].active && has_port(&x->d[k], udp, port))
            return k;
    return -1;
}

/* The dissector for the server's port, else for the client's (then *swap:
 * a session picked up mid-stream may have its sides guessed the wrong way
 * round). */
static int port_dissector(const lt_dissect *x, int udp, const lt_flow *f, int *swap)
{
    int d = port_owner(x, udp, f->key.port[1 - f->client]);
    *swap = 0;
    if (d < 0) {
        d = port_owner(x, udp, f->key.port[f->client]);
        *swap = d >= 0;
    }
    return d;
}

/* ------------------------------------------------------------------ */
/* registration: dissector{...}                                        */

static void set_what(dissector *d)
{
    snprintf(d->what_stream, sizeof d->what_stream, "dissector %s (stream)", d->name);
    snprintf(d->what_detect, sizeof d->what_detect, "dissector %s (detect)", d->name);
    snprintf(d->what_datagram, sizeof d->what_datagram, "dissector %s (datagram)", d->name);
}

static const char *const function_fields[] = { "stream", "detect", "datagram" };

/* Raises on a function field of the wrong type, before anything is kept. */
static void check_functions(lua_State *L)
{
    for (int i = 0; i < 3; i++) {
        int t = lua_getfield(L, 1, function_fields[i]);
        if (t != LUA_TNIL && t != LUA_TFUNCTION)
            luaL_error(L, "dissector: field '%s' must be a function (got %s)", function_fields[i],
                       lua_typename(L, t));
        lua_pop(L, 1);
    }
}

static int opt_function(lua_State *L, const char *field)
{
    if (lua_getfield(L, 1, field) == LUA_TNIL) {
        lua_pop(L, 1);
        return LUA_NOREF;
    }
    return luaL_ref(L, LUA_REGISTRYINDEX);
}

/* Reads a list of ports into `ports` (65536 flags); returns how many. */
static int read_ports(lua_State *L, const char *field, uint8_t *ports)
{
    int t = lua_getfield(L, 1, field);
    int count = 0;
    if (t != LUA_TNIL) {
        if (t != LUA_TTABLE)
            luaL_error(L, "dissector: field '%s' must be a list of port numbers", field);
        lua_Integer n = luaL_len(L, -1);
        for (lua_Integer i = 1; i <= n; i++) {
            lua_geti(L, -1, i);
            int isnum = 0;
            lua_Integer port = lua_type(L, -1) == LUA_TNUMBER ? lua_tointegerx(L, -1, &isnum) : 0;
            if (!isnum || port < 1 || port > 65535)
                luaL_error(L, "dissector: %s[%I] is not a port number (1-65535)", field, i);
            ports[port] = 1;
            count++;
            lua_pop(L, 1);
        }
    }
    lua_pop(L, 1);
    return count;
}

static void read_name(lua_State *L, char *name)
{
    if (lua_getfield(L, 1, "name") != LUA_TSTRING)
        luaL_error(L, "dissector: field 'name' must be a string");
    size_t len;
    const char *s = lua_tolstring(L, -1, &len);
    if (len == 0 || len >= MAX_NAME)
        luaL_error(L, "dissector: name must have 1 to %d characters", MAX_NAME - 1);
    for (size_t i = 0; i < len; i++)
        if (!(s[i] == '_' || s[i] == '-' || (s[i] >= 'a' && s[i] <= 'z') ||
              (s[i] >= '0' && s[i] <= '9')))
            luaL_error(L, "dissector: name '%s' may hold only a-z, 0-9, '_' and '-'", s);
    memcpy(name, s, len + 1);
    lua_pop(L, 1);
}

static void free_events(dissector *d)
{
    for (int i = 0; i < d->nevents; i++)
        free(d->events[i]);
    d->nevents = 0;
}

static int add_event(dissector *d, const char *name)
{
    if (d->nevents == MAX_EVENT_NAMES)
        return -1;
    char *copy = strdup(name);
    if (!copy)
        return -1;
    d->events[d->nevents++] = copy;
    return 0;
}

static void read_events(lua_State *L, dissector *d)
{
    int t = lua_getfield(L, 1, "events");
    int bad = 0;
    if (t == LUA_TNIL) {
        char prefix[MAX_NAME + 1];
        snprintf(prefix, sizeof prefix, "%s.", d->name);
        bad = add_event(d, prefix);
    } else if (t == LUA_TTABLE) {
        lua_Integer n = luaL_len(L, -1);
        for (lua_Integer i = 1; i <= n && !bad; i++) {
            if (lua_geti(L, -1, i) != LUA_TSTRING) {
                free_events(d);
                luaL_error(L, "dissector: events[%I] must be an event name", i);
            }
            bad = add_event(d, lua_tostring(L, -1));
            lua_pop(L, 1);
        }
    } else {
        luaL_error(L, "dissector: field 'events' must be a list of event names");
    }
    lua_pop(L, 1);
    if (bad) {
        free_events(d);
        luaL_error(L, "dissector: too many event names (limit %d)", MAX_EVENT_NAMES);
    }
}

static void unref_dissector(lua_State *L, dissector *d)
{
    luaL_unref(L, LUA_REGISTRYINDEX, d->stream_ref);
    luaL_unref(L, LUA_REGISTRYINDEX, d->detect_ref);
    luaL_unref(L, LUA_REGISTRYINDEX, d->datagram_ref);
    free_events(d);
    free(d->ports);
    d->ports = NULL;
}

/* The registration's port flags (one byte per port) as the dissector's bitset. */
static uint8_t *port_bits(const uint8_t *flags)
{
    uint8_t *bits = calloc(2 * 65536 / 8, 1);
    if (bits)
        for (int p = 0; p < 2 * 65536; p++)
            if (flags[p])
                bits[p >> 3] |= (uint8_t)(1u << (p & 7));
    return bits;
}

static void set_ports(int8_t *table, const uint8_t *ports, int old, int idx)
{
    for (int p = 0; p < 65536; p++) {
        if (table[p] == old + 1)
            table[p] = 0;
        if (ports[p])
            table[p] = (int8_t)(idx + 1);
    }
}

/* The whole table is checked before anything is registered: a dissector
 * with a bad field leaves the registry as it was. */
static int api_dissector(lua_State *L)
{
    lt_dissect *x = lua_touserdata(L, lua_upvalueindex(1));
    int script = (int)lua_tointeger(L, lua_upvalueindex(2));
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    dissector nd = { .script = script };
    read_name(L, nd.name);
    uint8_t *ports = lua_newuserdatauv(L, 2 * 65536, 0); /* freed by Lua on any error */
    memset(ports, 0, 2 * 65536);
    int ntcp = read_ports(L, "tcp_ports", ports);
    int nudp = read_ports(L, "udp_ports", ports + 65536);
    check_functions(L);
    read_events(L, &nd); /* raises on a bad list, leaving nothing behind */
    nd.stream_ref = opt_function(L, "stream");
    nd.detect_ref = opt_function(L, "detect");
    nd.datagram_ref = opt_function(L, "datagram");
    const char *problem = NULL;
    if (nd.stream_ref == LUA_NOREF && nd.datagram_ref == LUA_NOREF)
        problem = "needs a stream function (TCP) or a datagram function (UDP)";
    else if ((ntcp || nd.detect_ref != LUA_NOREF) && nd.stream_ref == LUA_NOREF)
        problem = "has tcp_ports or detect but no stream function";
    else if (nudp && nd.datagram_ref == LUA_NOREF)
        problem = "has udp_ports but no datagram function";
    else if (nd.datagram_ref != LUA_NOREF && !nudp)
        problem = "has a datagram function but no udp_ports";
    int idx = x->n;
    for (int i = 0; i < x->n; i++)
        if (strcmp(x->d[i].name, nd.name) == 0)
            idx = i;
    if (!problem && idx == LT_MAX_DISSECTORS)
        problem = "cannot be added: too many dissectors";
    if (!problem && !(nd.ports = port_bits(ports)))
        problem = "cannot be added: out of memory";
    if (problem) {
        unref_dissector(L, &nd);
        return luaL_error(L, "dissector '%s' %s", nd.name, problem);
    }
    int old = idx < x->n ? idx : -1;
    if (old >= 0)
        unref_dissector(L, &x->d[idx]);
    else
        x->n++;
    set_what(&nd);
    x->d[idx] = nd;
    set_ports(x->tcp_port, ports, old, idx);
    set_ports(x->udp_port, ports + 65536, old, idx);
    x->computed = 0;
    return 0;
}

void lt_dissect_env(lt_dissect *x, lua_State *L, int env, int script)
{
    lua_pushlightuserdata(L, x);
    lua_pushinteger(L, script);
    lua_pushcclosure(L, api_dissector, 2);
    lua_setfield(L, env, "dissector");
}

/* ------------------------------------------------------------------ */
/* events the framework fires                                          */

static void push_dir(lua_State *L, int dir)
{
    lua_pushstring(L, dir == 0 ? "client" : "server");
}

/* Fires `ev` with (info, session); info has the dissector, the direction
 * and the message, plus one more field pushed by the caller as key/value
 * (or nothing when key is NULL). */
static void fire_problem(lt_dissect *x, int ev, const dissector *d, lt_flow *f, int dir,
                         const char *msg, const char *key, int has_value)
{
    lua_State *L = x->h->L;
    if (!lt_host_wants(x->h, ev)) {
        if (has_value)
            lua_pop(L, 1);
        return;
    }
    int g = lt_host_unguard(x->h);
    lua_createtable(L, 0, 4);
    if (has_value) {
        lua_insert(L, -2);
        lua_setfield(L, -2, key);
    }
    lua_pushstring(L, d->name);
    lua_setfield(L, -2, "dissector");
    push_dir(L, dir);
    lua_setfield(L, -2, "direction");
    lua_pushstring(L, msg);
    lua_setfield(L, -2, "message");
    lt_session_push(L, f);
    lt_host_guard(x->h, g);
    lt_host_dispatch(x->h, ev, 2);
}

/* ------------------------------------------------------------------ */
/* per-session state                                                   */

static int charge(void *ud, long delta)
{
    dsession *ds = ud;
    return lt_flow_charge(ds->x->flows, ds->f, delta);
}

static void drop_coroutine(lt_dissect *x, dsession *ds, int dir)
{
    luaL_unref(x->h->L, LUA_REGISTRYINDEX, ds->co_ref[dir]);
    ds->co_ref[dir] = LUA_NOREF;
    if (ds->st[dir])
        ds->st[dir]->co = NULL;
}

static dsession *attach(lt_dissect *x, lt_flow *f, int d, int swap)
{
    if (lt_flow_charge(x->flows, f, (long)sizeof(dsession)) != 0) {
        x->st.refused++;
        return NULL;
    }
    dsession *ds = calloc(1, sizeof *ds);
    if (!ds) {
        lt_flow_charge(x->flows, f, -(long)sizeof(dsession));
        x->st.refused++;
        return NULL;
    }
    lua_State *L = x->h->L;
    int g = lt_host_unguard(x->h);
    ds->x = x;
    ds->f = f;
    ds->d = d;
    ds->swap = swap;
    lua_newtable(L);
    ds->state_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lt_session_push(L, f);
    for (int dir = 0; dir < 2; dir++) {
        ds->st[dir] = lt_stream_new(L, dir, -1, charge, ds);
        ds->stream_ref[dir] = luaL_ref(L, LUA_REGISTRYINDEX);
        ds->co_ref[dir] = LUA_NOREF;
    }
    lua_pop(L, 1);
    lt_host_guard(x->h, g);
    f->dis = ds;
    x->st.sessions++;
    return ds;
}

void lt_dissect_release(lt_dissect *x, lt_flow *f)
{
    dsession *ds = f->dis;
    if (!ds)
        return;
    lua_State *L = x->h->L;
    for (int dir = 0; dir < 2; dir++) {
        drop_coroutine(x, ds, dir);
        lt_stream_release(ds->st[dir]);
        luaL_unref(L, LUA_REGISTRYINDEX, ds->stream_ref[dir]);
    }
    luaL_unref(L, LUA_REGISTRYINDEX, ds->state_ref);
    f->dis = NULL;
    free(ds);
    lt_flow_charge(x->flows, f, -(long)sizeof(dsession));
}

/* The dissector failed on this session (message on top of the host's
 * stack, popped): it stops here for both directions. */
static void stop_session(lt_dissect *x, dsession *ds, int dir)
{
    lua_State *L = x->h->L;
    const dissector *d = &x->d[ds->d];
    ds->stopped = 1;
    lua_rawgeti(L, LUA_REGISTRYINDEX, ds->stream_ref[dir]);
    lua_getiuservalue(L, -1, 2); /* the limit's name, when a limit was hit */
    lua_remove(L, -2);
    int limit = lua_type(L, -1) == LUA_TSTRING;
    if (limit)
        x->st.limits++;
    else
        x->st.errors++;
    const char *msg = lua_tostring(L, -2);
    char text[512];
    snprintf(text, sizeof text, "%s", msg ? msg : "error");
    char *nl = strchr(text, '\n'); /* the traceback went to stderr already */
    if (nl)
        *nl = '\0';
    lua_remove(L, -2);
    if (!limit)
        lua_pop(L, 1);
    fire_problem(x, x->ev_error, d, ds->f, dir, text, "limit", limit);
    for (int i = 0; i < 2; i++) {
        drop_coroutine(x, ds, i);
        lt_stream_release(ds->st[i]);
    }
}

static void fail(lt_dissect *x, dsession *ds, int dir, const char *limit, const char *msg)
{
    lua_State *L = x->h->L;
    const dissector *d = &x->d[ds->d];
    lt_host_report(x->h, d->script, d->what_stream, msg);
    lua_rawgeti(L, LUA_REGISTRYINDEX, ds->stream_ref[dir]);
    if (limit)
        lua_pushstring(L, limit);
    else
        lua_pushnil(L);
    lua_setiuservalue(L, -2, 2);
    lua_pop(L, 1);
    lua_pushstring(L, msg);
    stop_session(x, ds, dir);
}

/* Pushes the stream function's arguments onto a new coroutine. */
static void start(lt_dissect *x, dsession *ds, int dir)
{
    lua_State *L = x->h->L;
    int g = lt_host_unguard(x->h);
    lua_State *co = lua_newthread(L);
    ds->co_ref[dir] = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_rawgeti(L, LUA_REGISTRYINDEX, x->d[ds->d].stream_ref);
    lua_rawgeti(L, LUA_REGISTRYINDEX, ds->stream_ref[dir]);
    push_dir(L, dir);
    lua_rawgeti(L, LUA_REGISTRYINDEX, ds->state_ref);
    lua_xmove(L, co, 4);
    lt_host_guard(x->h, g);
    ds->st[dir]->co = co;
}

/* Runs the direction's coroutine until it suspends or ends. */
static void run(lt_dissect *x, dsession *ds, int dir)
{
    lt_stream *s = ds->st[dir];
    int nargs = 0;
    if (!s->co) {
        start(x, ds, dir);
        nargs = 3;
    }
    s->waiting = 0;
    if (s->limited) { /* s.limit_hit names a limit hit during this run only */
        lua_State *L = x->h->L;
        lua_rawgeti(L, LUA_REGISTRYINDEX, ds->stream_ref[dir]);
        lua_pushnil(L);
        lua_setiuservalue(L, -2, 2);
        lua_pop(L, 1);
        s->limited = 0;
    }
    int status = lt_host_resume(x->h, s->co, nargs, x->d[ds->d].script,
                                x->d[ds->d].what_stream);
    if (status == LUA_YIELD) {
        if (!s->waiting)
            fail(x, ds, dir, NULL, "the stream function yielded outside a stream read");
        else if (lt_stream_keep(s) != 0)
            fail(x, ds, dir, "buffer", "stream buffer cap (or the session memory cap) reached");
        return;
    }
    s->cur = NULL;
    if (status == LUA_OK) {
        ds->done[dir] = 1;
        drop_coroutine(x, ds, dir);
        return;
    }
    stop_session(x, ds, dir);
}

/* ------------------------------------------------------------------ */
/* TCP                                                                 */

/* Runs the heuristics on a direction's first bytes: the dissector that
 * takes the session, or -1. A detect function returning "swap" takes it
 * with the sides the other way round. */
static int detect(lt_dissect *x, lt_flow *f, int dir, const uint8_t *p, uint32_t n, int *swap)
{
    lua_State *L = x->h->L;
    for (int i = 0; i < x->n; i++) {
        dissector *d = &x->d[i];
        if (!d->active || d->detect_ref == LUA_NOREF)
            continue;
        int g = lt_host_unguard(x->h);
        lua_rawgeti(L, LUA_REGISTRYINDEX, d->detect_ref);
        lt_buffer_push_view(L, p, n, &x->h->epoch[LT_EPOCH_STREAM]);
        push_dir(L, dir);
        lt_host_guard(x->h, g);
        int yes = 0;
        if (lt_host_call_r(x->h, 2, 1, d->script, d->what_detect) == LUA_OK) {
            yes = lua_toboolean(L, -1);
            const char *v = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
            *swap = v && strcmp(v, "swap") == 0;
            lua_pop(L, 1);
        } else {
            x->st.errors++;
            fire_problem(x, x->ev_error, d, f, dir, x->h->last_error, NULL, 0);
        }
        lt_host_expire(x->h, LT_EPOCH_STREAM);
        if (yes)
            return i;
    }
    return -1;
}

/* The session's dissector, deciding it on its first bytes; NULL for none. */
static dsession *tcp_session(lt_dissect *x, lt_flow *f, int dir, const uint8_t *p, uint32_t n)
{
    if (f->dis)
        return f->dis;
    if (f->flags & FL_NONE)
        return NULL;
    int swap = 0;
    int d = port_dissector(x, 0, f, &swap);
    int tried = dir == 0 ? FL_TRIED_CLIENT : FL_TRIED_SERVER;
    if (d < 0 && !(f->flags & tried)) {
        f->flags |= tried;
        d = detect(x, f, dir, p, n, &swap);
    }
    if (d < 0) {
        if ((f->flags & (FL_TRIED_CLIENT | FL_TRIED_SERVER)) == (FL_TRIED_CLIENT | FL_TRIED_SERVER))
            f->flags |= FL_NONE;
        return NULL;
    }
    return attach(x, f, d, swap);
}

void lt_dissect_tcp_data(lt_dissect *x, lt_flow *f, int dir, const uint8_t *p, uint32_t n,
                         double ts, int midstream)
{
    refresh(x);
    if (!x->any_active && !f->dis)
        return;
    int fresh = f->dis == NULL;
    dsession *ds = tcp_session(x, f, dir, p, n);
    if (!ds)
        return;
    int role = dir ^ ds->swap;
    if (ds->stopped || ds->ended || ds->done[role] || !x->d[ds->d].active)
        return;
    lt_stream *s = ds->st[role];
    if (fresh) {
        /* Bytes that went by before the dissector came are lost to it. */
        s->resync = midstream || f->payload[dir] > n;
        ds->st[1 - role]->resync = midstream || f->payload[1 - dir] > 0;
    }
    dir = role;
    int rc = lt_stream_feed(s, p, n, ts);
    if (rc < 0)
        fail(x, ds, dir, "buffer", "stream buffer cap (or the session memory cap) reached");
    else if (rc == LT_FEED_RESUME)
        run(x, ds, dir);
}

void lt_dissect_tcp_gap(lt_dissect *x, lt_flow *f, int dir, uint64_t missing)
{
    dsession *ds = f->dis;
    if (!ds)
        return;
    dir ^= ds->swap;
    if (ds->stopped || ds->ended || ds->done[dir])
        return;
    lt_stream *s = ds->st[dir];
    if (!ds->st[dir]->co) {
        s->resync = 1; /* not started yet: it will start after the hole */
        return;
    }
    int rc = lt_stream_gap(s, missing);
    if (rc == 1) {
        run(x, ds, dir);
        return;
    }
    if (rc == 0)
        return;
    x->st.gaps++;
    /* The reader sees the hole as an end first, so a message it was in the
     * middle of is finished (incomplete) rather than lost; then the stream
     * function starts again after the hole. */
    s->eof = s->hole = 1;
    s->skip = 0;
    run(x, ds, dir);
    if (ds->stopped)
        return;
    drop_coroutine(x, ds, dir);
    ds->done[dir] = 0;
    lt_stream_reset(s);
    s->eof = s->hole = 0;
    s->offset += missing;
    lua_pushinteger(x->h->L, (lua_Integer)missing);
    char msg[96];
    snprintf(msg, sizeof msg, "%llu bytes missing: resynchronising", (unsigned long long)missing);
    fire_problem(x, x->ev_gap, &x->d[ds->d], f, dir, msg, "missing", 1);
}

void lt_dissect_tcp_end(lt_dissect *x, lt_flow *f)
{
    dsession *ds = f->dis;
    if (!ds || ds->ended)
        return;
    ds->ended = 1;
    for (int dir = 0; dir < 2 && !ds->stopped; dir++) {
        if (!ds->st[dir]->co)
            continue;
        ds->st[dir]->eof = 1;
        ds->st[dir]->skip = 0;
        run(x, ds, dir);
    }
}

/* ------------------------------------------------------------------ */
/* UDP                                                                 */

void lt_dissect_udp(lt_dissect *x, lt_flow *f, int dir, const uint8_t *p, uint32_t n, double ts)
{
    refresh(x);
    if (!x->any_active || (f->flags & (FL_NONE | FL_UDP_STOPPED)))
        return;
    int swap;
    int d = port_dissector(x, 1, f, &swap);
    dir ^= swap;
    if (d < 0) {
        f->flags |= FL_NONE;
        return;
    }
    if (!(f->flags & FL_UDP_ATTACHED)) {
        f->flags |= FL_UDP_ATTACHED;
        x->st.sessions++;
    }
    lua_State *L = x->h->L;
    const dissector *ds = &x->d[d];
    int g = lt_host_unguard(x->h);
    lua_rawgeti(L, LUA_REGISTRYINDEX, ds->datagram_ref);
    lt_buffer_push_view(L, p, n, &x->h->epoch[LT_EPOCH_STREAM]);
    lt_session_push(L, f);
    push_dir(L, dir);
    lua_pushnumber(L, ts);
    lt_host_guard(x->h, g);
    if (lt_host_call(x->h, 4, ds->script, ds->what_datagram) != LUA_OK) {
        f->flags |= FL_UDP_STOPPED;
        x->st.errors++;
        fire_problem(x, x->ev_error, ds, f, dir, x->h->last_error, NULL, 0);
    }
    lt_host_expire(x->h, LT_EPOCH_STREAM);
}

/* ------------------------------------------------------------------ */

lt_dissect *lt_dissect_new(lt_host *h, lt_flow_table *flows)
{
    lt_dissect *x = calloc(1, sizeof *x);
    if (!x)
        return NULL;
    x->h = h;
    x->flows = flows;
    x->ev_error = lt_host_event(h, "dissector.error");
    x->ev_gap = lt_host_event(h, "dissector.gap");
    if (x->ev_error < 0 || x->ev_gap < 0) {
        free(x);
        return NULL;
    }
    lt_stream_open(h->L);
    return x;
}

void lt_dissect_free(lt_dissect *x)
{
    if (!x)
        return;
    for (int i = 0; i < x->n; i++) {
        free_events(&x->d[i]);
        free(x->d[i].ports);
    }
    free(x);
}

void lt_dissect_stats(lt_dissect *x, lua_State *L)
{
    lt_set_int(L, "dissector_sessions", x->st.sessions);
    lt_set_int(L, "dissector_errors", x->st.errors);
    lt_set_int(L, "dissector_limits", x->st.limits);
    lt_set_int(L, "dissector_gaps", x->st.gaps);
    lt_set_int(L, "dissector_refused", x->st.refused);
}
