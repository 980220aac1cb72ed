/*
 * decode.h — link, network and transport decoding of one frame.
 *
 * lt_decode() fills an lt_packet from a frame without allocating. Every read
 * is checked against caplen. Outcomes are kept apart as tcpdump does:
 * - truncated: the capture stopped before a header ended (we did not see it);
 * - invalid:   a header contradicts itself or the frame (the header lies).
 * Either way the layers decoded before the problem stay filled in, and
 * `problem` names the layer and what was wrong ("ipv4: header length 12 < 20").
 *
 * The exact rule (Wireshark's too): bytes a header needs are checked against
 * the length that claims them — the wire length (f->len) for link and
 * network headers, the IP total/payload length for transport headers.
 * Beyond that claimed length the frame is invalid; within it but beyond
 * caplen it is truncated. A payload cut by the snap length is neither.
 * Decoding stops at the first problem (`problem` names the first one), with
 * two exceptions that leave the TCP/UDP header and payload decoded: a bad
 * TCP option (an option of a known kind with the wrong length is skipped and
 * the walk goes on; a length < 2 or past the header ends the walk), and a
 * UDP length beyond the IP payload (payload bounded by the IP length).
 *
 * Layer markers are set only once a header's fixed part was read: l3 is
 * IPV4/IPV6/ARP only when ip/arp fields (and their pointers) are valid, l4
 * likewise; arp.sha..tpa are NULL when the addresses are cut. If a header is
 * cut, `ethertype` and `l3_off` (or `l4_off` and ip.proto) still say what
 * was expected there.
 *
 * Fragments: l4 is decoded only for a first fragment (offset 0, MF set,
 * is_fragment 1); a UDP length longer than that fragment is normal there. If
 * the fixed transport header does not fit in a first fragment, l4 stays NONE
 * and that is no problem (the reassembler will see it); if only TCP options
 * continue in the next fragment, l4 is TCP without options and the payload
 * is empty. A non-first fragment has l4 NONE and payload = its data.
 *
 * Payload (payload_off/payload_len): see lt_packet. No network layer (unknown
 * link type, a header cut before the network layer) and ARP: 0/0.
 *
 * Pointers in lt_packet point into the frame's bytes and share its lifetime.
 */
#ifndef LUNATAP_DECODE_H
#define LUNATAP_DECODE_H

#include <stddef.h>
#include <stdint.h>
#include "frame.h"

/* Link types we decode (values as in pcap files, see pcap-linktype(7)). */
enum {
    LT_LINK_NULL = 0,
    LT_LINK_EN10MB = 1,
    LT_LINK_RAW = 101,
    LT_LINK_LOOP = 108,
    LT_LINK_LINUX_SLL = 113,
    LT_LINK_IPV4 = 228,
    LT_LINK_IPV6 = 229,
    LT_LINK_LINUX_SLL2 = 276,
};

enum lt_l3 { LT_L3_NONE = 0, LT_L3_IPV4, LT_L3_IPV6, LT_L3_ARP, LT_L3_OTHER };
enum lt_l4 { LT_L4_NONE = 0, LT_L4_TCP, LT_L4_UDP, LT_L4_ICMP, LT_L4_ICMPV6, LT_L4_OTHER };

/* TCP flag bits as in the header's flags byte. */
enum {
    LT_TCP_FIN = 0x01, LT_TCP_SYN = 0x02, LT_TCP_RST = 0x04, LT_TCP_PSH = 0x08,
    LT_TCP_ACK = 0x10, LT_TCP_URG = 0x20, LT_TCP_ECE = 0x40, LT_TCP_CWR = 0x80,
};

#define LT_MAX_VLAN 2
#define LT_MAX_SACK 4
#define LT_MAX_IPV6_EXT 16         /* more extension headers is invalid */

typedef struct lt_eth {
    const uint8_t *dst, *src;      /* 6 bytes each */
    uint16_t type;                 /* ethertype after any VLAN tags */
    uint8_t nvlan;                 /* VLAN tags seen (802.1Q / 802.1ad) */
    uint16_t vlan[LT_MAX_VLAN];    /* VLAN ids, outermost first */
    uint16_t ntags;                /* all tags walked (nvlan <= LT_MAX_VLAN
                                    * of them are recorded); saturates */
} lt_eth;

typedef struct lt_sll {
    uint16_t pkttype, hatype, protocol;
    uint32_t ifindex;              /* SLL2 only, else 0 */
    uint8_t addrlen;
    const uint8_t *addr;           /* addrlen bytes (at most 8) */
} lt_sll;

typedef struct lt_ip {
    uint8_t version;               /* 4 or 6 */
    const uint8_t *src, *dst;      /* 4 or 16 bytes */
    uint8_t ttl;                   /* TTL or hop limit */
    uint8_t proto;                 /* protocol / final next header */
    uint8_t tos;                   /* TOS or traffic class */
    uint16_t hdr_len;              /* IPv4 IHL*4; IPv6 40 + extension headers */
    uint32_t total_len;            /* IPv4 total length; IPv6 40 + payload length */
    uint32_t flow;                 /* IPv6 flow label */
    uint16_t options_len;          /* IPv4 option bytes */
    /* Fragmentation (IPv4 header or IPv6 fragment header) */
    uint32_t id;                   /* IPv4 16-bit id or IPv6 32-bit id */
    uint8_t df, mf, is_fragment;   /* is_fragment: MF set or offset > 0 */
    uint8_t has_frag_hdr;          /* IPv6 fragment header present */
    uint16_t frag_offset;          /* in bytes */
    uint8_t next_hdrs;             /* IPv6 extension headers walked */
    const uint8_t *options;        /* IPv4 option bytes (options_len), or NULL */
    uint8_t tso;                   /* IPv4 total length 0, or IPv6 payload
                                    * length 0 without jumbo option (TSO, BIG
                                    * TCP): total_len taken from the frame */
    uint8_t jumbo;                 /* IPv6 payload length 0 + jumbo option:
                                    * total_len = 40 + jumbo payload length */
} lt_ip;

typedef struct lt_tcp {
    uint16_t sport, dport;
    uint32_t seq, ack;
    uint8_t flags;                 /* LT_TCP_* bits */
    uint8_t hdr_len;               /* data offset * 4 */
    uint16_t win, urp, csum;
    /* Options (present flags and values) */
    uint8_t has_mss, has_wscale, sack_permitted, has_ts, nsack;
    uint16_t mss;
    uint8_t wscale;
    uint32_t ts_val, ts_ecr;
    uint32_t sack[LT_MAX_SACK][2]; /* left, right edges */
    const uint8_t *options;        /* raw option bytes */
    uint16_t options_len;
} lt_tcp;

typedef struct lt_udp {
    uint16_t sport, dport, len, csum;
} lt_udp;

typedef struct lt_icmp {
    uint8_t type, code;
    uint16_t csum;
    uint32_t rest;                 /* bytes 4..7 (id/seq, mtu, ...) */
} lt_icmp;

typedef struct lt_arp {
    uint16_t htype, ptype, op;
    uint8_t hlen, plen;
    const uint8_t *sha, *spa, *tha, *tpa;  /* hlen / plen bytes each */
} lt_arp;

typedef struct lt_packet {
    const lt_frame *frame;
    uint8_t truncated, invalid;
    const char *problem;           /* static text, NULL when neither flag */

    uint8_t has_eth, has_sll;
    lt_eth eth;                    /* VLAN tags after an SLL header are
                                    * recorded in eth.vlan too */
    lt_sll sll;
    uint32_t af;                   /* NULL / LOOP: the address family read */

    enum lt_l3 l3;
    uint16_t ethertype;            /* protocol of the network layer (0 for
                                    * 802.2 LLC without SNAP, unknown NULL
                                    * families and unknown link types;
                                    * 0x8864 for IP over PPPoE) */
    uint16_t pppoe_session;        /* PPPoE session id when ethertype is 0x8864 */
    uint32_t l3_off;               /* offset of the network header */
    lt_ip ip;                      /* valid when l3 is IPV4 or IPV6 */
    lt_arp arp;                    /* valid when l3 is ARP */

    enum lt_l4 l4;
    uint32_t l4_off;               /* offset of the transport header */
    lt_tcp tcp;
    lt_udp udp;
    lt_icmp icmp;                  /* ICMP or ICMPv6 */

    /* Transport payload: after the TCP/UDP/ICMP header, bounded by caplen
     * and by the IP length (so Ethernet padding is not payload; UDP also by
     * its own length). For other or unknown transports and for non-first
     * fragments, the bytes after the network header. For an unknown network
     * layer (l3 OTHER), the bytes from l3_off to caplen. Always
     * payload_off + payload_len <= caplen. */
    uint32_t payload_off, payload_len;
} lt_packet;

/* Decodes `f` into `p` (fully overwritten). Never reads past f->caplen. */
void lt_decode(lt_packet *p, const lt_frame *f);

/* Formats an address of ip.version into buf ("10.0.0.1", "2001:db8::1").
 * Returns buf, or NULL for a version other than 4/6, a NULL address or a
 * buffer too small (buf then holds "" when len > 0). 46 bytes always do. */
const char *lt_ip_ntop(int version, const uint8_t *addr, char *buf, size_t len);

/* "SA", "FPA", "R", ... in tcpdump's order (F S R P A U E W); buf >= 9.
 * No flags gives "" (tcpdump prints "."; callers may). Returns buf. */
const char *lt_tcp_flags_str(uint8_t flags, char *buf);

#endif
