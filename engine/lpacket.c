#include "lpacket.h"
#include "decode.h"
#include "lbuffer.h"
#include "lhost.h"
#include "lutil.h"

#include <lauxlib.h>
#include <stdio.h>
#include <string.h>

#define PACKET_MT "lunatap.packet"
#define LAYER_MT "lunatap.layer"

enum layer_kind { K_PACKET, K_ETH, K_SLL, K_IP, K_TCP, K_UDP, K_ICMP, K_ARP, K_TCPOPT };

static const char *const kind_names[] = {
    "packet", "eth", "sll", "ip", "tcp", "udp", "icmp", "arp", "tcp options",
};

/* A kept packet: one userdata holding the frame, its bytes and their
 * decoding (whose pointers point into `bytes`). It has no metatable and is
 * reachable only as the user value of the objects made from it. */
typedef struct kept_copy {
    lt_frame frame;
    lt_packet pkt;
    uint8_t bytes[];
} kept_copy;

/* A packet or layer object. Live (kept NULL): reads h->cur while the packet
 * epoch is still gen. Kept: reads its copy, and holds it as user value 1. */
typedef struct lt_obj {
    lt_host *h;
    const kept_copy *kept;
    uint32_t gen;
    uint8_t kind;
} lt_obj;

/* Every field name any object answers; the key table maps name -> code. */
#define FIELDS(X) \
    X(ts) X(ts_sec) X(ts_nsec) X(len) X(caplen) X(linktype) X(truncated) X(invalid) \
    X(problem) X(eth) X(sll) X(ip) X(tcp) X(udp) X(icmp) X(arp) X(payload) X(data) \
    X(ifindex) X(src) X(dst) X(type) X(vlan) X(vlans) X(pkttype) X(hatype) X(protocol) \
    X(addr) X(version) X(ttl) X(hlim) X(proto) X(id) X(flags) X(frag) X(hlen) X(tos) \
    X(flow) X(df) X(mf) X(fragment) X(sport) X(dport) X(seq) X(ack) X(ack_raw) X(syn) \
    X(fin) X(rst) X(psh) X(urg) X(ece) X(cwr) X(win) X(urp) X(csum) X(options) X(code) \
    X(op) X(htype) X(ptype) X(sha) X(spa) X(tha) X(tpa) X(mss) X(wscale) \
    X(sack_permitted) X(ts_val) X(ts_ecr) X(sack) X(seqno)

#define AS_ENUM(n) F_##n,
#define AS_NAME(n) #n,
enum field { F_NONE, FIELDS(AS_ENUM) F_COUNT };
static const char *const field_names[] = { "", FIELDS(AS_NAME) };

static int is_expired(const lt_obj *o)
{
    return !o->kept && (o->gen != o->h->epoch[LT_EPOCH_PACKET] || !o->h->cur);
}

/* The decoded packet an object reads: the one check every read goes through. */
static const lt_packet *packet_of(lua_State *L, const lt_obj *o)
{
    if (o->kept)
        return &o->kept->pkt;
    if (is_expired(o))
        luaL_error(L, "expired %s: a packet is valid only during the handler that received it "
                      "(copy the fields you need, or keep it with introspect.keep)",
                   kind_names[o->kind]);
    return o->h->cur;
}

/* A new object like `from` (same packet, same liveness) of another kind. */
static void push_obj(lua_State *L, const lt_obj *from, uint8_t kind, const char *mt)
{
    lt_obj *o = lua_newuserdatauv(L, sizeof *o, from->kept ? 1 : 0);
    *o = *from;
    o->kind = kind;
    luaL_setmetatable(L, mt);
}

/* A layer of the object at index self; a kept one holds the copy too. */
static void push_child(lua_State *L, const lt_obj *from, int self, uint8_t kind)
{
    push_obj(L, from, kind, LAYER_MT);
    if (from->kept) {
        lua_getiuservalue(L, self, 1);
        lua_setiuservalue(L, -2, 1);
    }
}

static void push_layer(lua_State *L, const lt_obj *o, int self, int present, uint8_t kind)
{
    if (present)
        push_child(L, o, self, kind);
    else
        lua_pushnil(L);
}

static void push_mac(lua_State *L, const uint8_t *m)
{
    char buf[18];
    snprintf(buf, sizeof buf, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
    lua_pushstring(L, buf);
}

static void push_ip(lua_State *L, int version, const uint8_t *a)
{
    char buf[64];
    lua_pushstring(L, lt_ip_ntop(version, a, buf, sizeof buf));
}

/* Hardware or protocol address of ARP: MAC, IPv4, else hex. */
static void push_hwaddr(lua_State *L, const uint8_t *a, int n, int is_proto)
{
    if (!a) {
        lua_pushnil(L);
    } else if (!is_proto && n == 6) {
        push_mac(L, a);
    } else if (is_proto && n == 4) {
        push_ip(L, 4, a);
    } else {
        char hex[3 * 255 + 1] = "";
        for (int i = 0; i < n; i++)
            snprintf(hex + 3 * i, 4, i ? ":%02x" : "%02x", a[i]);
        lua_pushstring(L, hex);
    }
}

/* A live packet's buffers expire with it; a kept one's hold the copy. */
static void push_payload(lua_State *L, const lt_obj *o, int self, const lt_packet *p,
                         uint32_t off, uint32_t n)
{
    const uint8_t *bytes = p->frame->data + off;
    if (!o->kept) {
        lt_buffer_push_view(L, bytes, n, &o->h->epoch[LT_EPOCH_PACKET]);
        return;
    }
    lua_getiuservalue(L, self, 1);
    lt_buffer_push_owned(L, bytes, n, -1);
    lua_remove(L, -2);
}

static int packet_field(lua_State *L, const lt_obj *o, int self, const lt_packet *p, int f)
{
    const lt_frame *fr = p->frame;
    switch (f) {
    case F_ts: lua_pushnumber(L, (double)fr->ts_sec + fr->ts_nsec / 1e9); break;
    case F_ts_sec: lua_pushinteger(L, fr->ts_sec); break;
    case F_ts_nsec: lua_pushinteger(L, fr->ts_nsec); break;
    case F_len: lua_pushinteger(L, fr->len); break;
    case F_caplen: lua_pushinteger(L, fr->caplen); break;
    case F_linktype: lua_pushinteger(L, fr->linktype); break;
    case F_ifindex: lua_pushinteger(L, fr->ifindex); break;
    case F_truncated: lua_pushboolean(L, p->truncated); break;
    case F_invalid: lua_pushboolean(L, p->invalid); break;
    case F_problem: if (p->problem) lua_pushstring(L, p->problem); else lua_pushnil(L); break;
    case F_eth: push_layer(L, o, self, p->has_eth, K_ETH); break;
    case F_sll: push_layer(L, o, self, p->has_sll, K_SLL); break;
    case F_ip: push_layer(L, o, self, p->l3 == LT_L3_IPV4 || p->l3 == LT_L3_IPV6, K_IP); break;
    case F_arp: push_layer(L, o, self, p->l3 == LT_L3_ARP, K_ARP); break;
    case F_tcp: push_layer(L, o, self, p->l4 == LT_L4_TCP, K_TCP); break;
    case F_udp: push_layer(L, o, self, p->l4 == LT_L4_UDP, K_UDP); break;
    case F_icmp: push_layer(L, o, self, p->l4 == LT_L4_ICMP || p->l4 == LT_L4_ICMPV6, K_ICMP); break;
    case F_payload: push_payload(L, o, self, p, p->payload_off, p->payload_len); break;
    case F_data: push_payload(L, o, self, p, 0, fr->caplen); break;
    default: return 0;
    }
    return 1;
}

static int eth_field(lua_State *L, const lt_packet *p, int f)
{
    const lt_eth *e = &p->eth;
    switch (f) {
    case F_src: push_mac(L, e->src); break;
    case F_dst: push_mac(L, e->dst); break;
    case F_type: lua_pushinteger(L, e->type); break;
    case F_vlan: if (e->nvlan) lua_pushinteger(L, e->vlan[0]); else lua_pushnil(L); break;
    case F_vlans:
        lua_createtable(L, e->nvlan, 0);
        for (int i = 0; i < e->nvlan && i < LT_MAX_VLAN; i++) {
            lua_pushinteger(L, e->vlan[i]);
            lua_rawseti(L, -2, i + 1);
        }
        break;
    default: return 0;
    }
    return 1;
}

static int sll_field(lua_State *L, const lt_packet *p, int f)
{
    const lt_sll *s = &p->sll;
    switch (f) {
    case F_pkttype: lua_pushinteger(L, s->pkttype); break;
    case F_hatype: lua_pushinteger(L, s->hatype); break;
    case F_protocol: case F_type: lua_pushinteger(L, s->protocol); break;
    case F_ifindex: lua_pushinteger(L, s->ifindex); break;
    case F_addr: push_hwaddr(L, s->addr, s->addrlen, 0); break;
    default: return 0;
    }
    return 1;
}

static void push_ip_flags(lua_State *L, const lt_ip *ip)
{
    lua_pushstring(L, ip->df && ip->mf ? "DF,MF" : ip->df ? "DF" : ip->mf ? "MF" : "");
}

static int ip_field(lua_State *L, const lt_packet *p, int f)
{
    const lt_ip *ip = &p->ip;
    int v6 = ip->version == 6;
    switch (f) {
    case F_version: lua_pushinteger(L, ip->version); break;
    case F_src: push_ip(L, ip->version, ip->src); break;
    case F_dst: push_ip(L, ip->version, ip->dst); break;
    case F_ttl: case F_hlim: lua_pushinteger(L, ip->ttl); break;
    case F_proto: lua_pushinteger(L, ip->proto); break;
    case F_id: if (!v6 || ip->has_frag_hdr) lua_pushinteger(L, ip->id); else lua_pushnil(L); break;
    case F_flags: push_ip_flags(L, ip); break;
    case F_df: lua_pushboolean(L, ip->df); break;
    case F_mf: lua_pushboolean(L, ip->mf); break;
    case F_frag: lua_pushinteger(L, ip->frag_offset); break;
    case F_fragment: lua_pushboolean(L, ip->is_fragment); break;
    case F_len: lua_pushinteger(L, ip->total_len); break;
    case F_hlen: lua_pushinteger(L, ip->hdr_len); break;
    case F_tos: lua_pushinteger(L, ip->tos); break;
    case F_flow: if (v6) lua_pushinteger(L, ip->flow); else lua_pushnil(L); break;
    default: return 0;
    }
    return 1;
}

static int tcp_options_field(lua_State *L, const lt_tcp *t, int f)
{
    switch (f) {
    case F_mss: if (t->has_mss) lua_pushinteger(L, t->mss); else lua_pushnil(L); break;
    case F_wscale: if (t->has_wscale) lua_pushinteger(L, t->wscale); else lua_pushnil(L); break;
    case F_sack_permitted: lua_pushboolean(L, t->sack_permitted); break;
    case F_ts_val: if (t->has_ts) lua_pushinteger(L, t->ts_val); else lua_pushnil(L); break;
    case F_ts_ecr: if (t->has_ts) lua_pushinteger(L, t->ts_ecr); else lua_pushnil(L); break;
    case F_sack:
        if (!t->nsack) {
            lua_pushnil(L);
            break;
        }
        lua_createtable(L, t->nsack, 0);
        for (int i = 0; i < t->nsack && i < LT_MAX_SACK; i++) {
            lua_createtable(L, 2, 0);
            lua_pushinteger(L, t->sack[i][0]);
            lua_rawseti(L, -2, 1);
            lua_pushinteger(L, t->sack[i][1]);
            lua_rawseti(L, -2, 2);
            lua_rawseti(L, -2, i + 1);
        }
        break;
    default: return 0;
    }
    return 1;
}

static int tcp_field(lua_State *L, const lt_obj *o, int self, const lt_packet *p, int f)
{
    const lt_tcp *t = &p->tcp;
    char flags[12];
    switch (f) {
    case F_sport: lua_pushinteger(L, t->sport); break;
    case F_dport: lua_pushinteger(L, t->dport); break;
    case F_seq: lua_pushinteger(L, t->seq); break;
    /* `ack` is the acknowledgment number when the ACK flag is set and false
     * otherwise, so it serves both as the number and as the flag. */
    case F_ack: if (t->flags & LT_TCP_ACK) lua_pushinteger(L, t->ack); else lua_pushboolean(L, 0); break;
    case F_ack_raw: lua_pushinteger(L, t->ack); break;
    case F_flags: lua_pushstring(L, lt_tcp_flags_str(t->flags, flags)); break;
    case F_syn: lua_pushboolean(L, t->flags & LT_TCP_SYN); break;
    case F_fin: lua_pushboolean(L, t->flags & LT_TCP_FIN); break;
    case F_rst: lua_pushboolean(L, t->flags & LT_TCP_RST); break;
    case F_psh: lua_pushboolean(L, t->flags & LT_TCP_PSH); break;
    case F_urg: lua_pushboolean(L, t->flags & LT_TCP_URG); break;
    case F_ece: lua_pushboolean(L, t->flags & LT_TCP_ECE); break;
    case F_cwr: lua_pushboolean(L, t->flags & LT_TCP_CWR); break;
    case F_win: lua_pushinteger(L, t->win); break;
    case F_urp: lua_pushinteger(L, t->urp); break;
    case F_csum: lua_pushinteger(L, t->csum); break;
    case F_hlen: lua_pushinteger(L, t->hdr_len); break;
    case F_len: lua_pushinteger(L, p->payload_len); break;
    case F_options: push_child(L, o, self, K_TCPOPT); break;
    default: return 0;
    }
    return 1;
}

static int udp_field(lua_State *L, const lt_packet *p, int f)
{
    switch (f) {
    case F_sport: lua_pushinteger(L, p->udp.sport); break;
    case F_dport: lua_pushinteger(L, p->udp.dport); break;
    case F_len: lua_pushinteger(L, p->udp.len); break;
    case F_csum: lua_pushinteger(L, p->udp.csum); break;
    default: return 0;
    }
    return 1;
}

static int is_echo(const lt_packet *p)
{
    uint8_t t = p->icmp.type;
    return p->l4 == LT_L4_ICMP ? (t == 0 || t == 8) : (t == 128 || t == 129);
}

static int icmp_field(lua_State *L, const lt_packet *p, int f)
{
    const lt_icmp *c = &p->icmp;
    switch (f) {
    case F_type: lua_pushinteger(L, c->type); break;
    case F_code: lua_pushinteger(L, c->code); break;
    case F_csum: lua_pushinteger(L, c->csum); break;
    case F_version: lua_pushinteger(L, p->l4 == LT_L4_ICMPV6 ? 6 : 4); break;
    case F_id: if (is_echo(p)) lua_pushinteger(L, c->rest >> 16); else lua_pushnil(L); break;
    case F_seqno: case F_seq:
        if (is_echo(p)) lua_pushinteger(L, c->rest & 0xffff); else lua_pushnil(L);
        break;
    default: return 0;
    }
    return 1;
}

static int arp_field(lua_State *L, const lt_packet *p, int f)
{
    const lt_arp *a = &p->arp;
    switch (f) {
    case F_op: lua_pushinteger(L, a->op); break;
    case F_htype: lua_pushinteger(L, a->htype); break;
    case F_ptype: lua_pushinteger(L, a->ptype); break;
    case F_sha: push_hwaddr(L, a->sha, a->hlen, 0); break;
    case F_tha: push_hwaddr(L, a->tha, a->hlen, 0); break;
    case F_spa: push_hwaddr(L, a->spa, a->plen, a->ptype == 0x0800); break;
    case F_tpa: push_hwaddr(L, a->tpa, a->plen, a->ptype == 0x0800); break;
    default: return 0;
    }
    return 1;
}

/* Pushes field f of the object at index self, or nothing (returning 0)
 * when its kind has no such field. */
static int read_field(lua_State *L, const lt_obj *o, int self, const lt_packet *p, int f)
{
    switch (o->kind) {
    case K_PACKET: return packet_field(L, o, self, p, f);
    case K_ETH: return eth_field(L, p, f);
    case K_SLL: return sll_field(L, p, f);
    case K_IP: return ip_field(L, p, f);
    case K_TCP: return tcp_field(L, o, self, p, f);
    case K_UDP: return udp_field(L, p, f);
    case K_ICMP: return icmp_field(L, p, f);
    case K_ARP: return arp_field(L, p, f);
    case K_TCPOPT: return tcp_options_field(L, &p->tcp, f);
    }
    return 0;
}

static int obj_index(lua_State *L)
{
    lt_obj *o = lua_touserdata(L, 1);
    lua_pushvalue(L, 2);
    int f = lua_rawget(L, lua_upvalueindex(1)) == LUA_TNUMBER ? (int)lua_tointeger(L, -1) : F_NONE;
    lua_pop(L, 1);
    if (!read_field(L, o, 1, packet_of(L, o), f))
        lua_pushnil(L); /* an unknown field reads as nil, like a table */
    return 1;
}

static int obj_newindex(lua_State *L)
{
    lt_obj *o = lua_touserdata(L, 1);
    return luaL_error(L, "%s fields are read-only", kind_names[o->kind]);
}

static int obj_tostring(lua_State *L)
{
    lt_obj *o = lua_touserdata(L, 1);
    const char *state = o->kept ? " (kept)" : is_expired(o) ? " (expired)" : "";
    lua_pushfstring(L, "%s%s", kind_names[o->kind], state);
    return 1;
}

static void new_mt(lua_State *L, const char *name, int keys)
{
    luaL_newmetatable(L, name);
    lua_pushvalue(L, keys);
    lua_pushcclosure(L, obj_index, 1);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, obj_newindex);
    lua_setfield(L, -2, "__newindex");
    lua_pushcfunction(L, obj_tostring);
    lua_setfield(L, -2, "__tostring");
    lt_seal_metatable(L, name);
    lua_pop(L, 1);
}

void lt_packet_open(lua_State *L)
{
    lt_push_name_codes(L, field_names, F_COUNT);
    int keys = lua_gettop(L);
    new_mt(L, PACKET_MT, keys);
    new_mt(L, LAYER_MT, keys);
    lua_pop(L, 1);
}

void lt_packet_push(lua_State *L, lt_host *h)
{
    lt_obj live = { h, NULL, h->epoch[LT_EPOCH_PACKET], K_PACKET };
    push_obj(L, &live, K_PACKET, PACKET_MT);
}

void lt_packet_push_kept(lua_State *L, lt_host *h, const lt_frame *f)
{
    kept_copy *k = lua_newuserdatauv(L, sizeof *k + f->caplen, 0);
    k->frame = *f;
    k->frame.data = k->bytes;
    if (f->caplen)
        memcpy(k->bytes, f->data, f->caplen);
    lt_decode(&k->pkt, &k->frame);
    lt_obj kept = { h, k, 0, K_PACKET };
    push_obj(L, &kept, K_PACKET, PACKET_MT);
    lua_pushvalue(L, -2);
    lua_setiuservalue(L, -2, 1);
    lua_remove(L, -2);
}

static const lt_obj *test_obj(lua_State *L, int idx)
{
    const lt_obj *o = luaL_testudata(L, idx, PACKET_MT);
    return o ? o : luaL_testudata(L, idx, LAYER_MT);
}

int lt_packet_keep(lua_State *L, int idx)
{
    const lt_obj *o = luaL_testudata(L, idx, PACKET_MT);
    if (!o)
        return luaL_typeerror(L, idx, "packet");
    if (o->kept)
        lua_pushvalue(L, idx); /* a copy never changes: no need for another */
    else
        lt_packet_push_kept(L, o->h, packet_of(L, o)->frame);
    return 1;
}

const char *lt_packet_kind(lua_State *L, int idx)
{
    const lt_obj *o = test_obj(L, idx);
    return o ? kind_names[o->kind] : NULL;
}

int lt_packet_expired(lua_State *L, int idx)
{
    const lt_obj *o = test_obj(L, idx);
    return o && is_expired(o);
}

/* Probes every field code through read_field(), so the list is whatever
 * __index answers and cannot drift from it. */
int lt_packet_fields(lua_State *L, int idx, const char **names, int max)
{
    idx = lua_absindex(L, idx);
    const lt_obj *o = test_obj(L, idx);
    if (!o)
        return -1;
    const lt_packet *p = packet_of(L, o);
    int n = 0;
    for (int f = F_NONE + 1; f < F_COUNT && n < max; f++) {
        if (!read_field(L, o, idx, p, f))
            continue;
        if (!lua_isnil(L, -1))
            names[n++] = field_names[f];
        lua_pop(L, 1);
    }
    return n;
}
