/*
 * test_decode.c — unit tests for engine/decode.c.
 *
 * Usage: test_decode SAMPLES_DIR SHARED_PCAPS_DIR
 *
 * 1. Real-shaped packets (bytes copied from the shared captures, named in
 *    the comment above each array; a few built by hand) with every decoded
 *    field asserted.
 * 2. Each of them cut at every length 0..n (into a malloc'd buffer of exactly
 *    that size, so AddressSanitizer sees any over-read), wire length kept:
 *    truncated exactly when a header is cut, earlier layers still decoded.
 * 3. Invalid headers (the header lies) and their problem texts.
 * 4. Every packet of every capture in SHARED_PCAPS_DIR and its malformed/
 *    folder, checked against invariants; the first packets of each file cut
 *    at every length (at most CUTS_PER_FILE cuts per file).
 * 5. A cross-check against tshark (if installed) on the first 50 packets of
 *    the tcp_, ipv6_, vlan_, sll_, sll2_, null_, rawip_, icmp_, frag4_ and
 *    frag6_ captures: addresses, ports, raw TCP sequence numbers, VLAN ids.
 *
 * Exit 0 when every check passed, 1 otherwise. Never 77: a missing shared
 * folder or tshark only skips those parts, with a message.
 */
#include "decode.h"

#include <dirent.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

/* An address field formatted with lt_ip_ntop. */
#define CHECK_IP(ver, addr, text) do { \
        char ib_[64]; \
        CHECK_STR(lt_ip_ntop((ver), (addr), ib_, sizeof ib_), (text)); \
    } while (0)

#define CHECK_MAC(addr, text) do { \
        char mb_[32]; const uint8_t *mp_ = (addr); \
        if (mp_) snprintf(mb_, sizeof mb_, "%02x:%02x:%02x:%02x:%02x:%02x", \
                          mp_[0], mp_[1], mp_[2], mp_[3], mp_[4], mp_[5]); \
        CHECK_STR(mp_ ? mb_ : NULL, (text)); \
    } while (0)

/* Decodes n bytes of `data` as a complete frame of link type `lt`. */
static void dec(lt_packet *p, lt_frame *f, const uint8_t *data, size_t n, int lt)
{
    memset(f, 0, sizeof *f);
    f->data = data;
    f->caplen = (uint32_t)n;
    f->len = (uint32_t)n;
    f->linktype = lt;
    lt_decode(p, f);
}

#define OK(p) do { CHECK_EQ((p)->truncated, 0); CHECK_EQ((p)->invalid, 0); \
                   CHECK((p)->problem == NULL); } while (0)

/* ---- packets ------------------------------------------------------------ */

/* tcp_syn_retransmit_with_ts.pcap #1: 01:40:30.000524 IP 10.38.251.146.33372 > 10.38.251.147... */
static const uint8_t pkt_vlan_syn[] = {
    0x00, 0x50, 0x56, 0x01, 0x12, 0x76, 0x00, 0x50, 0x56, 0x01, 0x12, 0x70,
    0x81, 0x00, 0x0c, 0x40, 0x08, 0x00, 0x45, 0x00, 0x00, 0x3c, 0xd7, 0x3a,
    0x40, 0x00, 0x40, 0x06, 0x58, 0x0f, 0x0a, 0x26, 0xfb, 0x92, 0x0a, 0x26,
    0xfb, 0x93, 0x82, 0x5c, 0x00, 0x50, 0x9c, 0x9d, 0xe9, 0x48, 0x00, 0x00,
    0x00, 0x00, 0xa0, 0x02, 0x72, 0x10, 0x7e, 0x47, 0x00, 0x00, 0x02, 0x04,
    0x05, 0xb4, 0x04, 0x02, 0x08, 0x0a, 0x05, 0x31, 0x3e, 0x72, 0x00, 0x00,
    0x00, 0x00, 0x01, 0x03, 0x03, 0x07, 0xda, 0xb7, 0xec, 0x04,
};
/* tcp_retransmit-fast009.pcap #29: 16:08:23.219722 IP 10.0.88.85.50368 > 192.168.0.27.80: Fl... */
static const uint8_t pkt_sack[] = {
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x08, 0x00, 0x45, 0x80, 0x00, 0x34, 0x11, 0x74, 0x40, 0x00, 0x00, 0x06,
    0x00, 0x00, 0x0a, 0x00, 0x58, 0x55, 0xc0, 0xa8, 0x00, 0x1b, 0xc4, 0xc0,
    0x00, 0x50, 0x18, 0xb1, 0x97, 0x95, 0xfd, 0x48, 0xad, 0x76, 0x80, 0x10,
    0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0x01, 0x01, 0x05, 0x0a, 0xfd, 0x48,
    0xb3, 0x0c, 0xfd, 0x48, 0xb8, 0xa2,
};
/* vlan_vlan-qinqinq.pcap #2: 21:42:06.939084 IP 192.150.187.43.80 > 141.142.228.5.59856: Fla... */
static const uint8_t pkt_qinqinq[] = {
    0xc8, 0xbc, 0xc8, 0x96, 0xd2, 0xa0, 0x00, 0x10, 0xdb, 0x88, 0xd2, 0xef,
    0x81, 0x00, 0x00, 0x1e, 0x81, 0x00, 0x00, 0x14, 0x81, 0x00, 0x00, 0x0a,
    0x08, 0x00, 0x45, 0x00, 0x00, 0x3c, 0x00, 0x00, 0x40, 0x00, 0x2f, 0x06,
    0x5e, 0x66, 0xc0, 0x96, 0xbb, 0x2b, 0x8d, 0x8e, 0xe4, 0x05, 0x00, 0x50,
    0xe9, 0xd0, 0xa5, 0xaf, 0xce, 0x3e, 0xfe, 0x21, 0x32, 0x3b, 0xa0, 0x12,
    0x38, 0x90, 0x2e, 0x50, 0x00, 0x00, 0x02, 0x04, 0x05, 0xb4, 0x04, 0x02,
    0x08, 0x0a, 0x2f, 0x89, 0x42, 0x59, 0x16, 0x4a, 0xdd, 0x20, 0x01, 0x03,
    0x03, 0x07,
};
/* vlan_802.1ad_QinQ.pcap #1: 21:59:54.599412 ARP, Request who-has 172.21.79.100 tell 172.21.... */
static const uint8_t pkt_qinq_arp[] = {
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x20, 0xd2, 0x5a, 0xfb, 0x3f,
    0x88, 0xa8, 0x00, 0xc8, 0x81, 0x00, 0x07, 0xd1, 0x08, 0x06, 0x00, 0x01,
    0x08, 0x00, 0x06, 0x04, 0x00, 0x01, 0x00, 0x20, 0xd2, 0x5a, 0xfb, 0x3f,
    0xac, 0x15, 0x4f, 0x61, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xac, 0x15,
    0x4f, 0x64, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00,
};
/* sll_sll.pcap #2: 21:17:59.622732 IP 127.0.0.1.49725 > 127.0.0.1.53: 25071+ A? daisy.ubuntu... */
static const uint8_t pkt_sll[] = {
    0x00, 0x00, 0x03, 0x04, 0x00, 0x06, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x08, 0x00, 0x45, 0x00, 0x00, 0x3e, 0xd4, 0xe5, 0x40, 0x00,
    0x40, 0x11, 0x67, 0xc7, 0x7f, 0x00, 0x00, 0x01, 0x7f, 0x00, 0x00, 0x01,
    0xc2, 0x3d, 0x00, 0x35, 0x00, 0x2a, 0xfe, 0x3d, 0x61, 0xef, 0x01, 0x00,
    0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05, 0x64, 0x61, 0x69,
    0x73, 0x79, 0x06, 0x75, 0x62, 0x75, 0x6e, 0x74, 0x75, 0x03, 0x63, 0x6f,
    0x6d, 0x00, 0x00, 0x01, 0x00, 0x01,
};
/* sll2_sll2.pcap #2: 11:05:43.193745 ?     In  IP 116.63.66.108.443 > 7.249.151.114.57292: F... */
static const uint8_t pkt_sll2[] = {
    0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x01, 0x00, 0x06,
    0xf0, 0x3f, 0x95, 0x8f, 0x82, 0x63, 0x00, 0x00, 0x45, 0x00, 0x00, 0x28,
    0x87, 0x2d, 0x40, 0x00, 0x2c, 0x06, 0x71, 0x8c, 0x74, 0x3f, 0x42, 0x6c,
    0x07, 0xf9, 0x97, 0x72, 0x01, 0xbb, 0xdf, 0xcc, 0xaa, 0xce, 0xb5, 0xe9,
    0xa7, 0xab, 0x9f, 0xbf, 0x50, 0x11, 0x00, 0x3f, 0xcf, 0xd2, 0x00, 0x00,
};
/* null_test_loopback.pcap #2: 17:22:32.275178 IP6 ::1.8080 > ::1.58799: Flags [.], ack 484,... */
static const uint8_t pkt_null6[] = {
    0x1e, 0x00, 0x00, 0x00, 0x60, 0x01, 0x88, 0x91, 0x00, 0x20, 0x06, 0x40,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x1f, 0x90, 0xe5, 0xaf,
    0x0a, 0x65, 0x66, 0xef, 0x08, 0x97, 0x18, 0x4a, 0x80, 0x10, 0x23, 0x02,
    0x00, 0x28, 0x00, 0x00, 0x01, 0x01, 0x08, 0x0a, 0x05, 0xc0, 0x8c, 0xfc,
    0x05, 0xc0, 0x8c, 0xfc,
};
/* null_zeek-socks.pcap #1: 22:43:49.265243 IP 127.0.0.1.62270 > 127.0.0.1.1080: Flags [S], s... */
static const uint8_t pkt_null4[] = {
    0x02, 0x00, 0x00, 0x00, 0x45, 0x00, 0x00, 0x40, 0xaa, 0x1a, 0x40, 0x00,
    0x40, 0x06, 0x00, 0x00, 0x7f, 0x00, 0x00, 0x01, 0x7f, 0x00, 0x00, 0x01,
    0xf3, 0x3e, 0x04, 0x38, 0x0f, 0x55, 0x11, 0x3e, 0x00, 0x00, 0x00, 0x00,
    0xb0, 0x02, 0xff, 0xff, 0xfe, 0x34, 0x00, 0x00, 0x02, 0x04, 0x3f, 0xd8,
    0x01, 0x03, 0x03, 0x03, 0x01, 0x01, 0x08, 0x0a, 0x09, 0x22, 0x61, 0x34,
    0x00, 0x00, 0x00, 0x00, 0x04, 0x02, 0x00, 0x00,
};
/* rawip_LINKTYPE_RAW_ipv4.pcap #1: 17:59:11.951226 IP 192.168.1.100.12345 > 9.9.9.9.53: 4660... */
static const uint8_t pkt_raw4[] = {
    0x45, 0x00, 0x00, 0x39, 0x00, 0x01, 0x00, 0x00, 0x40, 0x11, 0xa6, 0x95,
    0xc0, 0xa8, 0x01, 0x64, 0x09, 0x09, 0x09, 0x09, 0x30, 0x39, 0x00, 0x35,
    0x00, 0x25, 0x19, 0x76, 0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x07, 0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65,
    0x03, 0x63, 0x6f, 0x6d, 0x00, 0x00, 0x01, 0x00, 0x01,
};
/* rawip_LINKTYPE_RAW_ipv6.pcap #1: 17:59:17.215270 IP6 2001:db8::1.12345 > 2620:fe::9.53: 46... */
static const uint8_t pkt_raw6[] = {
    0x60, 0x00, 0x00, 0x00, 0x00, 0x25, 0x11, 0x40, 0x20, 0x01, 0x0d, 0xb8,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
    0x26, 0x20, 0x00, 0xfe, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x09, 0x30, 0x39, 0x00, 0x35, 0x00, 0x25, 0x98, 0xb3,
    0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x07, 0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65, 0x03, 0x63, 0x6f, 0x6d,
    0x00, 0x00, 0x01, 0x00, 0x01,
};
/* ipv6_ipv6_options.pcap #1: 00:00:00.000000 IP6 fe80::2 > ff02::5: HBH DSTOPT RT6 (len=2, t... */
static const uint8_t pkt_v6opts[] = {
    0x33, 0x33, 0x00, 0x00, 0x00, 0x05, 0xc2, 0x01, 0x68, 0xb3, 0x00, 0x01,
    0x86, 0xdd, 0x6e, 0x00, 0x00, 0x00, 0x00, 0x68, 0x00, 0x01, 0xfe, 0x80,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x02, 0xff, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x05, 0x3c, 0x00, 0x05, 0x02, 0x00, 0x00,
    0x01, 0x00, 0x2b, 0x00, 0x0b, 0x01, 0x09, 0x01, 0x01, 0x00, 0x33, 0x02,
    0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x22, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x02, 0x10, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x59, 0x04,
    0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x20, 0x35, 0x48,
    0x21, 0x48, 0xb2, 0x43, 0x5a, 0x23, 0xdc, 0xdd, 0x55, 0x36, 0x03, 0x01,
    0x00, 0x28, 0x02, 0x02, 0x02, 0x02, 0x00, 0x00, 0x00, 0x01, 0xf1, 0x73,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x05, 0x01, 0x00, 0x00, 0x13, 0x00, 0x0a,
    0x00, 0x28, 0x02, 0x02, 0x02, 0x02, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01,
    0x01, 0x01,
};
/* dns_mdns.pcap #1 [ip[0]&0xf>5]: 11:16:01.299479 IP 10.0.2.7 > 224.0.0.22: igmp v3 report,... */
static const uint8_t pkt_ipopts[] = {
    0x01, 0x00, 0x5e, 0x00, 0x00, 0x16, 0x8a, 0x3c, 0xd6, 0xe1, 0x4d, 0xc4,
    0x08, 0x00, 0x46, 0xc0, 0x00, 0x28, 0x00, 0x00, 0x40, 0x00, 0x01, 0x02,
    0xf7, 0xf2, 0x0a, 0x00, 0x02, 0x07, 0xe0, 0x00, 0x00, 0x16, 0x94, 0x04,
    0x00, 0x00, 0x22, 0x00, 0xfa, 0x02, 0x00, 0x00, 0x00, 0x01, 0x03, 0x00,
    0x00, 0x00, 0xe0, 0x00, 0x00, 0xfb,
};
/* icmp_5-pings.pcap #1: 19:10:03.986596 IP 172.16.133.2 > 172.217.11.78: ICMP echo request,... */
static const uint8_t pkt_icmp[] = {
    0xa6, 0x83, 0xe7, 0x0c, 0x90, 0x64, 0x00, 0x0c, 0x29, 0xcf, 0x30, 0x15,
    0x08, 0x00, 0x45, 0x00, 0x00, 0x54, 0x94, 0x6a, 0x40, 0x00, 0x40, 0x01,
    0xbd, 0x04, 0xac, 0x10, 0x85, 0x02, 0xac, 0xd9, 0x0b, 0x4e, 0x08, 0x00,
    0xef, 0x24, 0x04, 0xca, 0x00, 0x01, 0x8b, 0xcf, 0xcf, 0x5f, 0x00, 0x00,
    0x00, 0x00, 0xdb, 0x0d, 0x0f, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x11,
    0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d,
    0x1e, 0x1f, 0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28, 0x29,
    0x2a, 0x2b, 0x2c, 0x2d, 0x2e, 0x2f, 0x30, 0x31, 0x32, 0x33, 0x34, 0x35,
    0x36, 0x37,
};
/* icmp_icmp6-ping.pcap #1: 20:02:27.338241 IP6 2620:0:e00:400e:d1d:db37:beb:5aac > 2001:4860... */
static const uint8_t pkt_icmp6[] = {
    0xb0, 0xc6, 0x9a, 0xda, 0x32, 0x80, 0x00, 0x23, 0xae, 0xa0, 0x0b, 0x33,
    0x86, 0xdd, 0x60, 0x00, 0x00, 0x00, 0x00, 0x28, 0x3a, 0x80, 0x26, 0x20,
    0x00, 0x00, 0x0e, 0x00, 0x40, 0x0e, 0x0d, 0x1d, 0xdb, 0x37, 0x0b, 0xeb,
    0x5a, 0xac, 0x20, 0x01, 0x48, 0x60, 0x80, 0x06, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x63, 0x80, 0x00, 0x29, 0x10, 0x00, 0x01,
    0x00, 0x03, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a,
    0x6b, 0x6c, 0x6d, 0x6e, 0x6f, 0x70, 0x71, 0x72, 0x73, 0x74, 0x75, 0x76,
    0x77, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69,
};
/* arp_arp-who-has.pcap #1: 13:46:54.520906 ARP, Request who-has 10.0.0.1 tell 10.0.0.2, leng... */
static const uint8_t pkt_arp[] = {
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x78, 0x31, 0xc1, 0xc6, 0x3f, 0xc2,
    0x08, 0x06, 0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, 0x78, 0x31,
    0xc1, 0xc6, 0x3f, 0xc2, 0x0a, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x0a, 0x00, 0x00, 0x01,
};
/* frag4_fragmented-1.pcap #1: 19:23:55.155866 IP 164.1.123.163.123 > 164.1.123.61.137: NTPv0... */
static const uint8_t pkt_frag4_first[] = {
    0x00, 0x60, 0x97, 0x12, 0x2f, 0x58, 0x00, 0x20, 0xaf, 0xba, 0x78, 0x65,
    0x08, 0x00, 0x45, 0x00, 0x00, 0x26, 0x00, 0xf2, 0x20, 0x00, 0x40, 0x11,
    0x1a, 0xf2, 0xa4, 0x01, 0x7b, 0xa3, 0xa4, 0x01, 0x7b, 0x3d, 0x00, 0x7b,
    0x00, 0x89, 0x00, 0x12, 0xbf, 0xe2, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
};
/* frag4_fragmented-1.pcap #2: 19:23:55.156077 IP 164.1.123.163 > 164.1.123.61: ip-proto-17 */
static const uint8_t pkt_frag4_next[] = {
    0x00, 0x60, 0x97, 0x12, 0x2f, 0x58, 0x00, 0x20, 0xaf, 0xba, 0x78, 0x65,
    0x08, 0x00, 0x45, 0x00, 0x00, 0x88, 0x00, 0xf2, 0x00, 0x06, 0x40, 0x11,
    0x3a, 0x8a, 0xa4, 0x01, 0x7b, 0xa3, 0xa4, 0x01, 0x7b, 0x3d, 0x00, 0x7b,
    0x00, 0x89, 0x00, 0x74, 0xbf, 0x1e, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
};
/* frag4_frag-ip-tcp-syn.pcap #1: 08:07:52.720143 IP 1.1.1.1.12345 > 2.2.2.2.8080:  [|tcp] */
static const uint8_t pkt_frag4_tiny[] = {
    0x45, 0x00, 0x00, 0x1c, 0x00, 0x01, 0x20, 0x00, 0x40, 0x06, 0x54, 0xd6,
    0x01, 0x01, 0x01, 0x01, 0x02, 0x02, 0x02, 0x02, 0x30, 0x39, 0x1f, 0x90,
    0x00, 0x00, 0x00, 0x01,
};
/* dns_dns_udp.pcap #1: 09:19:54.740079 IP 192.168.1.11.43966 > 209.87.249.18.53: 22836+ [1au... */
static const uint8_t pkt_udp[] = {
    0x00, 0x11, 0x22, 0x33, 0x44, 0x66, 0x00, 0x11, 0x22, 0x33, 0x44, 0x55,
    0x08, 0x00, 0x45, 0x00, 0x00, 0x54, 0x59, 0xcd, 0x00, 0x00, 0x40, 0x11,
    0x94, 0xae, 0xc0, 0xa8, 0x01, 0x0b, 0xd1, 0x57, 0xf9, 0x12, 0xab, 0xbe,
    0x00, 0x35, 0x00, 0x40, 0x78, 0x24, 0x59, 0x34, 0x01, 0x20, 0x00, 0x01,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x03, 0x77, 0x77, 0x77, 0x07, 0x74,
    0x63, 0x70, 0x64, 0x75, 0x6d, 0x70, 0x03, 0x6f, 0x72, 0x67, 0x00, 0x00,
    0x01, 0x00, 0x01, 0x00, 0x00, 0x29, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x0c, 0x00, 0x0a, 0x00, 0x08, 0x42, 0xf5, 0xd0, 0x09, 0x96, 0xf9,
    0x0b, 0x13,
};

/* Hand-built, real-shaped: Ethernet + IPv6 + hop-by-hop (PadN) + fragment
 * (offset 0, more fragments, id 0x12345678) + destination options (PadN) +
 * the UDP DNS query of pkt_raw6. */
static const uint8_t pkt_v6frag[] = {
    0x33, 0x33, 0x00, 0x00, 0x00, 0xfb, 0x8a, 0x3c, 0xd6, 0xe1, 0x4d, 0xc4,
    0x86, 0xdd,
    0x60, 0x00, 0x00, 0x00, 0x00, 0x3d, 0x00, 0x40,
    0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
    0x26, 0x20, 0x00, 0xfe, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x09,
    0x2c, 0x00, 0x01, 0x04, 0x00, 0x00, 0x00, 0x00,     /* hop-by-hop */
    0x3c, 0x00, 0x00, 0x01, 0x12, 0x34, 0x56, 0x78,     /* fragment */
    0x11, 0x00, 0x01, 0x04, 0x00, 0x00, 0x00, 0x00,     /* destination options */
    0x30, 0x39, 0x00, 0x35, 0x00, 0x25, 0x98, 0xb3,     /* UDP */
    0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x07, 0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65, 0x03, 0x63, 0x6f, 0x6d,
    0x00, 0x00, 0x01, 0x00, 0x01,
};
#define V6FRAG_FO 64    /* offset of the fragment offset field */

/* ---- invariants that hold after every decode ---------------------------- */

/* 1 when [ptr, ptr + n) lies inside the frame's captured bytes. */
static int within(const lt_frame *f, const uint8_t *ptr, uint32_t n)
{
    if (!ptr || !f->data)
        return 0;
    uintptr_t a = (uintptr_t)ptr, b = (uintptr_t)f->data;
    return a >= b && a - b <= f->caplen && n <= f->caplen - (a - b);
}

static void check_invariants(const lt_packet *p, const lt_frame *f)
{
    CHECK(p->frame == f);
    CHECK_EQ(p->truncated || p->invalid, p->problem != NULL);
    if (p->problem)
        CHECK(strchr(p->problem, ':') != NULL);     /* "layer: fault" */
    CHECK((uint64_t)p->payload_off + p->payload_len <= f->caplen);
    if (p->has_eth) {
        CHECK(within(f, p->eth.dst, 6));
        CHECK(within(f, p->eth.src, 6));
    }
    CHECK(p->eth.nvlan <= LT_MAX_VLAN);
    CHECK(p->eth.nvlan <= p->eth.ntags);
    if (p->has_sll) {
        CHECK(p->sll.addrlen <= 8);
        CHECK(within(f, p->sll.addr, p->sll.addrlen));
    }
    if (p->l3 == LT_L3_IPV4 || p->l3 == LT_L3_IPV6) {
        uint32_t alen = p->l3 == LT_L3_IPV4 ? 4 : 16;
        CHECK_EQ(p->ip.version, p->l3 == LT_L3_IPV4 ? 4 : 6);
        CHECK(within(f, p->ip.src, alen));
        CHECK(within(f, p->ip.dst, alen));
        if (p->ip.options)
            CHECK(within(f, p->ip.options, p->ip.options_len));
        else
            CHECK_EQ(p->ip.options_len, 0);
        CHECK(p->ip.next_hdrs <= LT_MAX_IPV6_EXT);
    }
    if (p->l3 == LT_L3_ARP && p->arp.sha) {
        CHECK(within(f, p->arp.sha, p->arp.hlen));
        CHECK(within(f, p->arp.spa, p->arp.plen));
        CHECK(within(f, p->arp.tha, p->arp.hlen));
        CHECK(within(f, p->arp.tpa, p->arp.plen));
    }
    if (p->l3 != LT_L3_NONE)
        CHECK(p->l3_off <= f->caplen);
    if (p->l3 == LT_L3_NONE)
        CHECK_EQ(p->payload_len, 0);
    if (p->l4 != LT_L4_NONE) {
        CHECK(p->l3 == LT_L3_IPV4 || p->l3 == LT_L3_IPV6);
        CHECK(p->l4_off <= f->caplen);
    }
    if (p->l4 == LT_L4_TCP) {
        CHECK(p->tcp.nsack <= LT_MAX_SACK);
        if (p->tcp.options)
            CHECK(within(f, p->tcp.options, p->tcp.options_len));
        else
            CHECK_EQ(p->tcp.options_len, 0);
        CHECK(p->tcp.hdr_len >= 20 || p->invalid);
    }
}

/* ---- cutting a packet at every length ----------------------------------- */

/* Where the last header we decode ends (a cut before it must be truncated). */
static uint32_t header_end(const lt_packet *p)
{
    switch (p->l3) {
    case LT_L3_IPV4:
    case LT_L3_IPV6:
        return p->payload_off;
    case LT_L3_ARP:
        return p->l3_off + 8 + 2u * (p->arp.hlen + p->arp.plen);
    case LT_L3_OTHER:
        /* 802.2 LLC (and SNAP) is read before giving up on the frame */
        if (p->ethertype == 0 && ((p->has_eth && p->eth.type < 0x600) ||
                                  (p->has_sll && p->sll.protocol == 4))) {
            const uint8_t *d = p->frame->data + p->l3_off;
            return p->l3_off + (d[0] == 0xaa && d[1] == 0xaa && d[2] == 3 ? 8 : 3);
        }
        return p->l3_off;
    default:
        return 0;
    }
}

/* Bytes of the network header that must be there for l3 to be set. */
static uint32_t l3_fixed(const lt_packet *p)
{
    switch (p->l3) {
    case LT_L3_IPV4:
        return 20;
    case LT_L3_IPV6:
        return 40;
    case LT_L3_ARP:
        return 8;
    default:
        return header_end(p) - p->l3_off;   /* LLC/SNAP, or nothing */
    }
}

static uint32_t l4_fixed(enum lt_l4 l4)
{
    return l4 == LT_L4_TCP ? 20 : l4 == LT_L4_UDP ? 8 : 4;
}

/* Compares the decode Q of the first `c` bytes with the full decode P. */
static void compare_cut(const lt_packet *P, const lt_packet *Q, uint32_t c)
{
    CHECK_EQ(Q->invalid, 0);
    uint32_t hend = header_end(P);
    if (c < hend) {
        CHECK_EQ(Q->truncated, 1);
    } else {
        CHECK_EQ(Q->truncated, 0);
        CHECK(Q->problem == NULL);
        CHECK_EQ(Q->l3, P->l3);
        CHECK_EQ(Q->l4, P->l4);
        uint32_t pend = P->payload_off + P->payload_len;
        if (P->payload_len > 0 || P->payload_off > 0) {
            CHECK_EQ(Q->payload_off, P->payload_off);
            CHECK_EQ(Q->payload_len, (pend < c ? pend : c) - P->payload_off);
        }
    }
    if (P->l3 == LT_L3_NONE)
        return;
    /* The link layer is whole once the network header starts. */
    if (c >= P->l3_off) {
        CHECK_EQ(Q->has_eth, P->has_eth);
        CHECK_EQ(Q->has_sll, P->has_sll);
        CHECK_EQ(Q->eth.type, P->eth.type);
        CHECK_EQ(Q->eth.nvlan, P->eth.nvlan);
        CHECK_EQ(Q->eth.ntags, P->eth.ntags);
        for (int i = 0; i < P->eth.nvlan; i++)
            CHECK_EQ(Q->eth.vlan[i], P->eth.vlan[i]);
        CHECK_EQ(Q->sll.protocol, P->sll.protocol);
        CHECK_EQ(Q->sll.ifindex, P->sll.ifindex);
        CHECK_EQ(Q->sll.pkttype, P->sll.pkttype);
        CHECK_EQ(Q->af, P->af);
        CHECK_EQ(Q->l3_off, P->l3_off);
    }
    /* For raw IP the version nibble picks the network layer. */
    if (c >= P->l3_off + (P->frame->linktype == LT_LINK_RAW))
        CHECK_EQ(Q->ethertype, P->ethertype);
    uint32_t l3f = l3_fixed(P);
    if (c < P->l3_off + l3f) {
        CHECK_EQ(Q->l3, LT_L3_NONE);
        return;
    }
    CHECK_EQ(Q->l3, P->l3);
    if (P->l3 == LT_L3_IPV4 || P->l3 == LT_L3_IPV6) {
        uint32_t alen = P->l3 == LT_L3_IPV4 ? 4 : 16;
        CHECK(Q->ip.src && memcmp(Q->ip.src, P->ip.src, alen) == 0);
        CHECK(Q->ip.dst && memcmp(Q->ip.dst, P->ip.dst, alen) == 0);
        CHECK_EQ(Q->ip.ttl, P->ip.ttl);
        CHECK_EQ(Q->ip.tos, P->ip.tos);
        if (!P->ip.jumbo)                   /* else known with the option */
            CHECK_EQ(Q->ip.total_len, P->ip.total_len);
        if (P->l3 == LT_L3_IPV4) {
            CHECK_EQ(Q->ip.id, P->ip.id);
            CHECK_EQ(Q->ip.proto, P->ip.proto);
            CHECK_EQ(Q->ip.hdr_len, P->ip.hdr_len);
            CHECK_EQ(Q->ip.frag_offset, P->ip.frag_offset);
            CHECK_EQ(Q->ip.mf, P->ip.mf);
            CHECK_EQ(Q->ip.df, P->ip.df);
        } else {
            CHECK_EQ(Q->ip.flow, P->ip.flow);
        }
        if (c >= P->l4_off) {
            CHECK_EQ(Q->ip.total_len, P->ip.total_len);
            CHECK_EQ(Q->ip.proto, P->ip.proto);
            CHECK_EQ(Q->ip.hdr_len, P->ip.hdr_len);
            CHECK_EQ(Q->ip.options_len, P->ip.options_len);
            CHECK_EQ(Q->ip.next_hdrs, P->ip.next_hdrs);
            CHECK_EQ(Q->ip.has_frag_hdr, P->ip.has_frag_hdr);
            CHECK_EQ(Q->ip.is_fragment, P->ip.is_fragment);
            CHECK_EQ(Q->ip.frag_offset, P->ip.frag_offset);
            CHECK_EQ(Q->ip.id, P->ip.id);
            CHECK_EQ(Q->l4_off, P->l4_off);
        }
    } else if (P->l3 == LT_L3_ARP) {
        CHECK_EQ(Q->arp.htype, P->arp.htype);
        CHECK_EQ(Q->arp.ptype, P->arp.ptype);
        CHECK_EQ(Q->arp.op, P->arp.op);
        CHECK_EQ(Q->arp.hlen, P->arp.hlen);
        CHECK_EQ(Q->arp.plen, P->arp.plen);
        CHECK_EQ(Q->arp.sha != NULL, c >= hend);
    }
    if (P->l4 == LT_L4_NONE || P->l4 == LT_L4_OTHER)
        return;
    if (c < P->l4_off + l4_fixed(P->l4)) {
        CHECK_EQ(Q->l4, LT_L4_NONE);
        return;
    }
    CHECK_EQ(Q->l4, P->l4);
    switch (P->l4) {
    case LT_L4_TCP:
        CHECK_EQ(Q->tcp.sport, P->tcp.sport);
        CHECK_EQ(Q->tcp.dport, P->tcp.dport);
        CHECK_EQ(Q->tcp.seq, P->tcp.seq);
        CHECK_EQ(Q->tcp.ack, P->tcp.ack);
        CHECK_EQ(Q->tcp.flags, P->tcp.flags);
        CHECK_EQ(Q->tcp.hdr_len, P->tcp.hdr_len);
        CHECK_EQ(Q->tcp.win, P->tcp.win);
        if (c >= P->payload_off) {
            CHECK_EQ(Q->tcp.options_len, P->tcp.options_len);
            CHECK_EQ(Q->tcp.has_mss, P->tcp.has_mss);
            CHECK_EQ(Q->tcp.mss, P->tcp.mss);
            CHECK_EQ(Q->tcp.has_ts, P->tcp.has_ts);
            CHECK_EQ(Q->tcp.ts_val, P->tcp.ts_val);
            CHECK_EQ(Q->tcp.nsack, P->tcp.nsack);
            CHECK_EQ(Q->tcp.wscale, P->tcp.wscale);
        } else {
            CHECK_EQ(Q->tcp.options_len, 0);
        }
        break;
    case LT_L4_UDP:
        CHECK_EQ(Q->udp.sport, P->udp.sport);
        CHECK_EQ(Q->udp.dport, P->udp.dport);
        CHECK_EQ(Q->udp.len, P->udp.len);
        break;
    default:
        CHECK_EQ(Q->icmp.type, P->icmp.type);
        CHECK_EQ(Q->icmp.code, P->icmp.code);
        if (c >= P->l4_off + 8)
            CHECK_EQ(Q->icmp.rest, P->icmp.rest);
        break;
    }
}

/*
 * Decodes `data` (caplen n, wire length `wire`) whole, then its first c bytes
 * for every c in [0, n) — at most `prefix` of them plus n - 1 — each copied
 * into a buffer of exactly c bytes. The cuts are compared with the whole
 * decode when that had no problem. Returns the number of cuts made.
 */
static uint32_t cut_all(const uint8_t *data, uint32_t n, uint32_t wire, int lt,
                        uint32_t prefix, uint32_t budget)
{
    lt_packet P, Q;
    if (wire < n)
        wire = n;                           /* as lt_decode reads the whole */
    lt_frame F = { .data = data, .caplen = n, .len = wire, .linktype = lt };
    lt_decode(&P, &F);
    check_invariants(&P, &F);
    int clean = !P.truncated && !P.invalid;
    uint32_t done = 0;

    for (uint32_t c = 0; c < n && done < budget; c++) {
        if (c > prefix && c != n - 1)
            continue;
        uint8_t *buf = malloc(c);           /* exactly c bytes, even 0 */
        if (c && !buf) {
            fprintf(stderr, "out of memory\n");
            exit(1);
        }
        if (c)
            memcpy(buf, data, c);
        lt_frame G = F;
        G.data = buf;
        G.caplen = c;
        lt_decode(&Q, &G);
        check_invariants(&Q, &G);
        if (clean)
            compare_cut(&P, &Q, c);
        free(buf);
        done++;
    }
    return done;
}

/* Cuts a hand-built packet at every length, with a label for messages. */
static void cut_test(const char *name, const uint8_t *data, size_t n, int lt)
{
    char ctx[128];
    snprintf(ctx, sizeof ctx, "cuts of %s", name);
    g_ctx = ctx;
    int before = n_failed;
    cut_all(data, (uint32_t)n, (uint32_t)n, lt, UINT32_MAX, UINT32_MAX);
    if (n_failed != before)
        fprintf(stderr, "  (%d failures cutting %s)\n", n_failed - before, name);
    g_ctx = "";
}

/* ---- field-by-field tests of real-shaped packets ------------------------ */

static void test_eth_vlan_tcp_syn(void)
{
    lt_packet p;
    lt_frame f;
    char fl[9];
    g_ctx = "eth + 802.1Q + ipv4 + tcp syn";
    dec(&p, &f, pkt_vlan_syn, sizeof pkt_vlan_syn, LT_LINK_EN10MB);
    OK(&p);
    check_invariants(&p, &f);
    CHECK_EQ(p.has_eth, 1);
    CHECK_EQ(p.has_sll, 0);
    CHECK_MAC(p.eth.dst, "00:50:56:01:12:76");
    CHECK_MAC(p.eth.src, "00:50:56:01:12:70");
    CHECK_EQ(p.eth.type, 0x0800);
    CHECK_EQ(p.eth.nvlan, 1);
    CHECK_EQ(p.eth.ntags, 1);
    CHECK_EQ(p.eth.vlan[0], 3136);
    CHECK_EQ(p.l3, LT_L3_IPV4);
    CHECK_EQ(p.ethertype, 0x0800);
    CHECK_EQ(p.l3_off, 18);
    CHECK_EQ(p.ip.version, 4);
    CHECK_EQ(p.ip.hdr_len, 20);
    CHECK_EQ(p.ip.total_len, 60);
    CHECK_EQ(p.ip.tos, 0);
    CHECK_EQ(p.ip.id, 55098);
    CHECK_EQ(p.ip.df, 1);
    CHECK_EQ(p.ip.mf, 0);
    CHECK_EQ(p.ip.frag_offset, 0);
    CHECK_EQ(p.ip.is_fragment, 0);
    CHECK_EQ(p.ip.ttl, 64);
    CHECK_EQ(p.ip.proto, 6);
    CHECK_EQ(p.ip.options_len, 0);
    CHECK(p.ip.options == NULL);
    CHECK_EQ(p.ip.tso, 0);
    CHECK_IP(4, p.ip.src, "10.38.251.146");
    CHECK_IP(4, p.ip.dst, "10.38.251.147");
    CHECK_EQ(p.l4, LT_L4_TCP);
    CHECK_EQ(p.l4_off, 38);
    CHECK_EQ(p.tcp.sport, 33372);
    CHECK_EQ(p.tcp.dport, 80);
    CHECK_EQ(p.tcp.seq, 2627594568u);
    CHECK_EQ(p.tcp.ack, 0);
    CHECK_EQ(p.tcp.flags, LT_TCP_SYN);
    CHECK_STR(lt_tcp_flags_str(p.tcp.flags, fl), "S");
    CHECK_EQ(p.tcp.hdr_len, 40);
    CHECK_EQ(p.tcp.win, 29200);
    CHECK_EQ(p.tcp.csum, 0x7e47);
    CHECK_EQ(p.tcp.urp, 0);
    CHECK(p.tcp.options == pkt_vlan_syn + 58);
    CHECK_EQ(p.tcp.options_len, 20);
    CHECK_EQ(p.tcp.has_mss, 1);
    CHECK_EQ(p.tcp.mss, 1460);
    CHECK_EQ(p.tcp.sack_permitted, 1);
    CHECK_EQ(p.tcp.has_ts, 1);
    CHECK_EQ(p.tcp.ts_val, 87113330);
    CHECK_EQ(p.tcp.ts_ecr, 0);
    CHECK_EQ(p.tcp.has_wscale, 1);
    CHECK_EQ(p.tcp.wscale, 7);
    CHECK_EQ(p.tcp.nsack, 0);
    /* 4 bytes after the IP datagram are Ethernet trailer, not payload */
    CHECK_EQ(p.payload_off, 78);
    CHECK_EQ(p.payload_len, 0);
    g_ctx = "";
}

static void test_tcp_sack(void)
{
    lt_packet p;
    lt_frame f;
    char fl[9];
    g_ctx = "tcp sack";
    dec(&p, &f, pkt_sack, sizeof pkt_sack, LT_LINK_EN10MB);
    OK(&p);
    CHECK_EQ(p.eth.nvlan, 0);
    CHECK_EQ(p.l3_off, 14);
    CHECK_EQ(p.ip.tos, 0x80);
    CHECK_EQ(p.ip.id, 0x1174);
    CHECK_EQ(p.ip.ttl, 0);
    CHECK_IP(4, p.ip.src, "10.0.88.85");
    CHECK_IP(4, p.ip.dst, "192.168.0.27");
    CHECK_EQ(p.l4, LT_L4_TCP);
    CHECK_EQ(p.tcp.sport, 50368);
    CHECK_EQ(p.tcp.dport, 80);
    CHECK_EQ(p.tcp.seq, 0x18b19795u);
    CHECK_EQ(p.tcp.ack, 0xfd48ad76u);
    CHECK_EQ(p.tcp.flags, LT_TCP_ACK);
    CHECK_STR(lt_tcp_flags_str(p.tcp.flags, fl), "A");
    CHECK_EQ(p.tcp.hdr_len, 32);
    CHECK_EQ(p.tcp.win, 65535);
    CHECK_EQ(p.tcp.options_len, 12);
    CHECK_EQ(p.tcp.nsack, 1);
    CHECK_EQ(p.tcp.sack[0][0], 0xfd48b30cu);
    CHECK_EQ(p.tcp.sack[0][1], 0xfd48b8a2u);
    CHECK_EQ(p.tcp.has_ts, 0);
    CHECK_EQ(p.tcp.has_mss, 0);
    CHECK_EQ(p.payload_off, 66);
    CHECK_EQ(p.payload_len, 0);
    g_ctx = "";
}

static void test_qinqinq(void)
{
    lt_packet p;
    lt_frame f;
    char fl[9];
    g_ctx = "three 802.1Q tags";
    dec(&p, &f, pkt_qinqinq, sizeof pkt_qinqinq, LT_LINK_EN10MB);
    OK(&p);
    check_invariants(&p, &f);
    CHECK_MAC(p.eth.dst, "c8:bc:c8:96:d2:a0");
    CHECK_MAC(p.eth.src, "00:10:db:88:d2:ef");
    CHECK_EQ(p.eth.type, 0x0800);
    CHECK_EQ(p.eth.nvlan, 2);                /* LT_MAX_VLAN recorded ... */
    CHECK_EQ(p.eth.ntags, 3);                /* ... of the three walked */
    CHECK_EQ(p.eth.vlan[0], 30);
    CHECK_EQ(p.eth.vlan[1], 20);
    CHECK_EQ(p.l3_off, 26);
    CHECK_EQ(p.l3, LT_L3_IPV4);
    CHECK_EQ(p.ip.ttl, 47);
    CHECK_EQ(p.ip.id, 0);
    CHECK_EQ(p.ip.df, 1);
    CHECK_IP(4, p.ip.src, "192.150.187.43");
    CHECK_IP(4, p.ip.dst, "141.142.228.5");
    CHECK_EQ(p.l4, LT_L4_TCP);
    CHECK_EQ(p.l4_off, 46);
    CHECK_EQ(p.tcp.sport, 80);
    CHECK_EQ(p.tcp.dport, 59856);
    CHECK_EQ(p.tcp.seq, 2779762238u);
    CHECK_EQ(p.tcp.ack, 4263588411u);
    CHECK_EQ(p.tcp.flags, LT_TCP_SYN | LT_TCP_ACK);
    CHECK_STR(lt_tcp_flags_str(p.tcp.flags, fl), "SA");
    CHECK_EQ(p.tcp.win, 14480);
    CHECK_EQ(p.tcp.mss, 1460);
    CHECK_EQ(p.tcp.sack_permitted, 1);
    CHECK_EQ(p.tcp.ts_val, 797524569u);
    CHECK_EQ(p.tcp.ts_ecr, 374005024u);
    CHECK_EQ(p.tcp.wscale, 7);
    CHECK_EQ(p.payload_off, 86);
    CHECK_EQ(p.payload_len, 0);
    g_ctx = "";
}

static void test_qinq_arp(void)
{
    lt_packet p;
    lt_frame f;
    g_ctx = "802.1ad + 802.1Q + arp";
    dec(&p, &f, pkt_qinq_arp, sizeof pkt_qinq_arp, LT_LINK_EN10MB);
    OK(&p);
    check_invariants(&p, &f);
    CHECK_MAC(p.eth.dst, "ff:ff:ff:ff:ff:ff");
    CHECK_EQ(p.eth.type, 0x0806);
    CHECK_EQ(p.eth.nvlan, 2);
    CHECK_EQ(p.eth.ntags, 2);
    CHECK_EQ(p.eth.vlan[0], 200);
    CHECK_EQ(p.eth.vlan[1], 2001);
    CHECK_EQ(p.l3, LT_L3_ARP);
    CHECK_EQ(p.ethertype, 0x0806);
    CHECK_EQ(p.l3_off, 22);
    CHECK_EQ(p.arp.htype, 1);
    CHECK_EQ(p.arp.ptype, 0x0800);
    CHECK_EQ(p.arp.hlen, 6);
    CHECK_EQ(p.arp.plen, 4);
    CHECK_EQ(p.arp.op, 1);
    CHECK_MAC(p.arp.sha, "00:20:d2:5a:fb:3f");
    CHECK_IP(4, p.arp.spa, "172.21.79.97");
    CHECK_MAC(p.arp.tha, "00:00:00:00:00:00");
    CHECK_IP(4, p.arp.tpa, "172.21.79.100");
    CHECK_EQ(p.l4, LT_L4_NONE);
    CHECK_EQ(p.payload_len, 0);
    g_ctx = "";
}

static void test_arp(void)
{
    lt_packet p;
    lt_frame f;
    g_ctx = "arp request";
    dec(&p, &f, pkt_arp, sizeof pkt_arp, LT_LINK_EN10MB);
    OK(&p);
    CHECK_EQ(p.eth.type, 0x0806);
    CHECK_EQ(p.eth.nvlan, 0);
    CHECK_EQ(p.l3, LT_L3_ARP);
    CHECK_EQ(p.l3_off, 14);
    CHECK_EQ(p.arp.htype, 1);
    CHECK_EQ(p.arp.ptype, 0x0800);
    CHECK_EQ(p.arp.op, 1);
    CHECK_MAC(p.arp.sha, "78:31:c1:c6:3f:c2");
    CHECK_IP(4, p.arp.spa, "10.0.0.2");
    CHECK_MAC(p.arp.tha, "00:00:00:00:00:00");
    CHECK_IP(4, p.arp.tpa, "10.0.0.1");

    /* RARP shares the layout */
    uint8_t b[sizeof pkt_arp];
    memcpy(b, pkt_arp, sizeof b);
    b[12] = 0x80;
    b[13] = 0x35;
    b[21] = 3;
    dec(&p, &f, b, sizeof b, LT_LINK_EN10MB);
    OK(&p);
    CHECK_EQ(p.l3, LT_L3_ARP);
    CHECK_EQ(p.ethertype, 0x8035);
    CHECK_EQ(p.arp.op, 3);
    g_ctx = "";
}

static void test_sll(void)
{
    lt_packet p;
    lt_frame f;
    g_ctx = "linux sll + udp";
    dec(&p, &f, pkt_sll, sizeof pkt_sll, LT_LINK_LINUX_SLL);
    OK(&p);
    check_invariants(&p, &f);
    CHECK_EQ(p.has_sll, 1);
    CHECK_EQ(p.has_eth, 0);
    CHECK_EQ(p.sll.pkttype, 0);
    CHECK_EQ(p.sll.hatype, 772);             /* ARPHRD_LOOPBACK */
    CHECK_EQ(p.sll.addrlen, 6);
    CHECK(p.sll.addr == pkt_sll + 6);
    CHECK_EQ(p.sll.protocol, 0x0800);
    CHECK_EQ(p.sll.ifindex, 0);
    CHECK_EQ(p.ethertype, 0x0800);
    CHECK_EQ(p.l3_off, 16);
    CHECK_EQ(p.l3, LT_L3_IPV4);
    CHECK_IP(4, p.ip.src, "127.0.0.1");
    CHECK_IP(4, p.ip.dst, "127.0.0.1");
    CHECK_EQ(p.ip.total_len, 62);
    CHECK_EQ(p.l4, LT_L4_UDP);
    CHECK_EQ(p.l4_off, 36);
    CHECK_EQ(p.udp.sport, 49725);
    CHECK_EQ(p.udp.dport, 53);
    CHECK_EQ(p.udp.len, 42);
    CHECK_EQ(p.udp.csum, 0xfe3d);
    CHECK_EQ(p.payload_off, 44);
    CHECK_EQ(p.payload_len, 34);

    /* a VLAN tag after the SLL header (protocol 0x8100) */
    uint8_t b[sizeof pkt_sll + 4];
    memcpy(b, pkt_sll, 16);
    b[14] = 0x81;
    b[15] = 0x00;
    b[16] = 0x00;
    b[17] = 0x0a;
    b[18] = 0x08;
    b[19] = 0x00;
    memcpy(b + 20, pkt_sll + 16, sizeof pkt_sll - 16);
    dec(&p, &f, b, sizeof b, LT_LINK_LINUX_SLL);
    OK(&p);
    CHECK_EQ(p.has_eth, 0);
    CHECK_EQ(p.eth.nvlan, 1);
    CHECK_EQ(p.eth.vlan[0], 10);
    CHECK_EQ(p.ethertype, 0x0800);
    CHECK_EQ(p.l3_off, 20);
    CHECK_EQ(p.l4, LT_L4_UDP);
    CHECK_EQ(p.payload_off, 48);
    cut_test("sll + vlan", b, sizeof b, LT_LINK_LINUX_SLL);

    /* protocol 0x000c (CAN): a pseudo type we do not decode */
    g_ctx = "linux sll, protocol 0x000c";
    memcpy(b, pkt_sll, sizeof pkt_sll);
    b[14] = 0x00;
    b[15] = 0x0c;
    dec(&p, &f, b, sizeof pkt_sll, LT_LINK_LINUX_SLL);
    OK(&p);
    CHECK_EQ(p.l3, LT_L3_OTHER);
    CHECK_EQ(p.ethertype, 0);
    CHECK_EQ(p.l3_off, 16);
    CHECK_EQ(p.payload_off, 16);
    CHECK_EQ(p.payload_len, sizeof pkt_sll - 16);
    g_ctx = "";
}

static void test_sll2(void)
{
    lt_packet p;
    lt_frame f;
    char fl[9];
    g_ctx = "linux sll2 + tcp fin";
    dec(&p, &f, pkt_sll2, sizeof pkt_sll2, LT_LINK_LINUX_SLL2);
    OK(&p);
    check_invariants(&p, &f);
    CHECK_EQ(p.has_sll, 1);
    CHECK_EQ(p.sll.protocol, 0x0800);
    CHECK_EQ(p.sll.ifindex, 20);
    CHECK_EQ(p.sll.hatype, 1);
    CHECK_EQ(p.sll.pkttype, 0);
    CHECK_EQ(p.sll.addrlen, 6);
    CHECK_MAC(p.sll.addr, "f0:3f:95:8f:82:63");
    CHECK_EQ(p.l3_off, 20);
    CHECK_IP(4, p.ip.src, "116.63.66.108");
    CHECK_IP(4, p.ip.dst, "7.249.151.114");
    CHECK_EQ(p.ip.ttl, 44);
    CHECK_EQ(p.ip.id, 34605);
    CHECK_EQ(p.l4, LT_L4_TCP);
    CHECK_EQ(p.tcp.sport, 443);
    CHECK_EQ(p.tcp.dport, 57292);
    CHECK_EQ(p.tcp.seq, 0xaaceb5e9u);
    CHECK_EQ(p.tcp.ack, 0xa7ab9fbfu);
    CHECK_EQ(p.tcp.flags, LT_TCP_FIN | LT_TCP_ACK);
    CHECK_STR(lt_tcp_flags_str(p.tcp.flags, fl), "FA");
    CHECK_EQ(p.tcp.win, 63);
    CHECK_EQ(p.tcp.csum, 0xcfd2);
    CHECK_EQ(p.tcp.options_len, 0);
    CHECK(p.tcp.options == NULL);
    CHECK_EQ(p.payload_off, 60);
    CHECK_EQ(p.payload_len, 0);
    g_ctx = "";
}

static void test_null_loop(void)
{
    lt_packet p;
    lt_frame f;
    uint8_t b[128];

    g_ctx = "null (little-endian AF_INET6 = 30) + ipv6 + tcp";
    dec(&p, &f, pkt_null6, sizeof pkt_null6, LT_LINK_NULL);
    OK(&p);
    check_invariants(&p, &f);
    CHECK_EQ(p.af, 30);
    CHECK_EQ(p.l3, LT_L3_IPV6);
    CHECK_EQ(p.ethertype, 0x86DD);
    CHECK_EQ(p.l3_off, 4);
    CHECK_EQ(p.ip.version, 6);
    CHECK_EQ(p.ip.tos, 0);
    CHECK_EQ(p.ip.flow, 0x18891);
    CHECK_EQ(p.ip.total_len, 72);
    CHECK_EQ(p.ip.hdr_len, 40);
    CHECK_EQ(p.ip.next_hdrs, 0);
    CHECK_EQ(p.ip.ttl, 64);
    CHECK_EQ(p.ip.proto, 6);
    CHECK_IP(6, p.ip.src, "::1");
    CHECK_IP(6, p.ip.dst, "::1");
    CHECK_EQ(p.l4, LT_L4_TCP);
    CHECK_EQ(p.l4_off, 44);
    CHECK_EQ(p.tcp.sport, 8080);
    CHECK_EQ(p.tcp.dport, 58799);
    CHECK_EQ(p.tcp.flags, LT_TCP_ACK);
    CHECK_EQ(p.tcp.win, 8962);
    CHECK_EQ(p.tcp.has_ts, 1);
    CHECK_EQ(p.tcp.ts_val, 96505084);
    CHECK_EQ(p.tcp.ts_ecr, 96505084);
    CHECK_EQ(p.payload_off, 76);
    CHECK_EQ(p.payload_len, 0);

    g_ctx = "null (little-endian AF_INET) + ipv4 + tcp syn";
    dec(&p, &f, pkt_null4, sizeof pkt_null4, LT_LINK_NULL);
    OK(&p);
    CHECK_EQ(p.af, 2);
    CHECK_EQ(p.l3, LT_L3_IPV4);
    CHECK_EQ(p.l3_off, 4);
    CHECK_IP(4, p.ip.src, "127.0.0.1");
    CHECK_EQ(p.ip.id, 43546);
    CHECK_EQ(p.tcp.sport, 62270);
    CHECK_EQ(p.tcp.dport, 1080);
    CHECK_EQ(p.tcp.seq, 257233214);
    CHECK_EQ(p.tcp.hdr_len, 44);
    CHECK_EQ(p.tcp.mss, 16344);
    CHECK_EQ(p.tcp.wscale, 3);
    CHECK_EQ(p.tcp.ts_val, 153248052);
    CHECK_EQ(p.tcp.sack_permitted, 1);
    CHECK_EQ(p.payload_off, 68);
    CHECK_EQ(p.payload_len, 0);

    /* the same with the family in big-endian order (a big-endian host) */
    g_ctx = "null (big-endian AF_INET)";
    memcpy(b, pkt_null4, sizeof pkt_null4);
    b[0] = 0; b[1] = 0; b[2] = 0; b[3] = 2;
    dec(&p, &f, b, sizeof pkt_null4, LT_LINK_NULL);
    OK(&p);
    CHECK_EQ(p.af, 2);
    CHECK_EQ(p.l3, LT_L3_IPV4);
    CHECK_EQ(p.tcp.dport, 1080);
    cut_test("null big-endian", b, sizeof pkt_null4, LT_LINK_NULL);

    g_ctx = "loop (network order AF_INET)";
    dec(&p, &f, b, sizeof pkt_null4, LT_LINK_LOOP);
    OK(&p);
    CHECK_EQ(p.af, 2);
    CHECK_EQ(p.l3, LT_L3_IPV4);
    CHECK_EQ(p.l4, LT_L4_TCP);
    cut_test("loop", b, sizeof pkt_null4, LT_LINK_LOOP);

    /* LOOP is network order only: a little-endian 2 is family 0x02000000 */
    g_ctx = "loop with a little-endian family";
    dec(&p, &f, pkt_null4, sizeof pkt_null4, LT_LINK_LOOP);
    OK(&p);
    CHECK_EQ(p.af, 0x02000000u);
    CHECK_EQ(p.l3, LT_L3_OTHER);
    CHECK_EQ(p.ethertype, 0);
    CHECK_EQ(p.l3_off, 4);
    CHECK_EQ(p.payload_off, 4);
    CHECK_EQ(p.payload_len, sizeof pkt_null4 - 4);

    /* AF_INET6 of the other BSDs, both byte orders */
    static const uint8_t v6fam[] = { 10, 24, 28, 30 };
    for (size_t i = 0; i < sizeof v6fam; i++) {
        g_ctx = "null AF_INET6 variants";
        memcpy(b, pkt_null6, sizeof pkt_null6);
        memset(b, 0, 4);
        b[0] = v6fam[i];
        dec(&p, &f, b, sizeof pkt_null6, LT_LINK_NULL);
        OK(&p);
        CHECK_EQ(p.af, v6fam[i]);
        CHECK_EQ(p.l3, LT_L3_IPV6);
        memset(b, 0, 4);
        b[3] = v6fam[i];
        dec(&p, &f, b, sizeof pkt_null6, LT_LINK_NULL);
        OK(&p);
        CHECK_EQ(p.af, v6fam[i]);
        CHECK_EQ(p.l3, LT_L3_IPV6);
        dec(&p, &f, b, sizeof pkt_null6, LT_LINK_LOOP);
        CHECK_EQ(p.l3, LT_L3_IPV6);
    }

    g_ctx = "null with an unknown family";
    memcpy(b, pkt_null4, sizeof pkt_null4);
    b[0] = 7;
    dec(&p, &f, b, sizeof pkt_null4, LT_LINK_NULL);
    OK(&p);
    CHECK_EQ(p.af, 7);
    CHECK_EQ(p.l3, LT_L3_OTHER);
    CHECK_EQ(p.l4, LT_L4_NONE);
    g_ctx = "";
}

static void test_raw(void)
{
    lt_packet p;
    lt_frame f;
    static const int v4types[] = { LT_LINK_RAW, LT_LINK_IPV4 };
    static const int v6types[] = { LT_LINK_RAW, LT_LINK_IPV6 };

    for (int i = 0; i < 2; i++) {
        g_ctx = i ? "LINKTYPE_IPV4 udp" : "raw ipv4 udp";
        dec(&p, &f, pkt_raw4, sizeof pkt_raw4, v4types[i]);
        OK(&p);
        check_invariants(&p, &f);
        CHECK_EQ(p.has_eth, 0);
        CHECK_EQ(p.l3, LT_L3_IPV4);
        CHECK_EQ(p.ethertype, 0x0800);
        CHECK_EQ(p.l3_off, 0);
        CHECK_IP(4, p.ip.src, "192.168.1.100");
        CHECK_IP(4, p.ip.dst, "9.9.9.9");
        CHECK_EQ(p.ip.total_len, 57);
        CHECK_EQ(p.ip.id, 1);
        CHECK_EQ(p.l4, LT_L4_UDP);
        CHECK_EQ(p.l4_off, 20);
        CHECK_EQ(p.udp.sport, 12345);
        CHECK_EQ(p.udp.dport, 53);
        CHECK_EQ(p.udp.len, 37);
        CHECK_EQ(p.payload_off, 28);
        CHECK_EQ(p.payload_len, 29);

        g_ctx = i ? "LINKTYPE_IPV6 udp" : "raw ipv6 udp";
        dec(&p, &f, pkt_raw6, sizeof pkt_raw6, v6types[i]);
        OK(&p);
        check_invariants(&p, &f);
        CHECK_EQ(p.l3, LT_L3_IPV6);
        CHECK_EQ(p.ethertype, 0x86DD);
        CHECK_EQ(p.l3_off, 0);
        CHECK_IP(6, p.ip.src, "2001:db8::1");
        CHECK_IP(6, p.ip.dst, "2620:fe::9");
        CHECK_EQ(p.ip.total_len, 77);
        CHECK_EQ(p.ip.ttl, 64);
        CHECK_EQ(p.ip.proto, 17);
        CHECK_EQ(p.l4, LT_L4_UDP);
        CHECK_EQ(p.l4_off, 40);
        CHECK_EQ(p.udp.sport, 12345);
        CHECK_EQ(p.udp.dport, 53);
        CHECK_EQ(p.udp.len, 37);
        CHECK_EQ(p.udp.csum, 0x98b3);
        CHECK_EQ(p.payload_off, 48);
        CHECK_EQ(p.payload_len, 29);
    }
    g_ctx = "";
}

static void test_ipv6_ext(void)
{
    lt_packet p;
    lt_frame f;
    g_ctx = "ipv6 hop-by-hop + dstopts + routing + AH + OSPF";
    dec(&p, &f, pkt_v6opts, sizeof pkt_v6opts, LT_LINK_EN10MB);
    OK(&p);
    check_invariants(&p, &f);
    CHECK_EQ(p.l3, LT_L3_IPV6);
    CHECK_EQ(p.l3_off, 14);
    CHECK_EQ(p.ip.tos, 0xe0);
    CHECK_EQ(p.ip.flow, 0);
    CHECK_EQ(p.ip.ttl, 1);
    CHECK_IP(6, p.ip.src, "fe80::2");
    CHECK_IP(6, p.ip.dst, "ff02::5");
    CHECK_EQ(p.ip.total_len, 144);
    CHECK_EQ(p.ip.next_hdrs, 4);
    CHECK_EQ(p.ip.hdr_len, 104);             /* 40 + 8 + 8 + 24 + 24 (AH) */
    CHECK_EQ(p.ip.proto, 89);
    CHECK_EQ(p.ip.has_frag_hdr, 0);
    CHECK_EQ(p.ip.is_fragment, 0);
    CHECK_EQ(p.l4, LT_L4_OTHER);
    CHECK_EQ(p.l4_off, 118);
    CHECK_EQ(p.payload_off, 118);
    CHECK_EQ(p.payload_len, 40);

    g_ctx = "ipv6 hop-by-hop + fragment (first) + dstopts + udp";
    dec(&p, &f, pkt_v6frag, sizeof pkt_v6frag, LT_LINK_EN10MB);
    OK(&p);
    check_invariants(&p, &f);
    CHECK_EQ(p.ip.total_len, 101);
    CHECK_EQ(p.ip.next_hdrs, 3);
    CHECK_EQ(p.ip.hdr_len, 64);
    CHECK_EQ(p.ip.has_frag_hdr, 1);
    CHECK_EQ(p.ip.id, 0x12345678);
    CHECK_EQ(p.ip.frag_offset, 0);
    CHECK_EQ(p.ip.mf, 1);
    CHECK_EQ(p.ip.is_fragment, 1);
    CHECK_EQ(p.ip.proto, 17);
    CHECK_EQ(p.l4, LT_L4_UDP);
    CHECK_EQ(p.l4_off, 78);
    CHECK_EQ(p.udp.sport, 12345);
    CHECK_EQ(p.udp.dport, 53);
    CHECK_EQ(p.payload_off, 86);
    CHECK_EQ(p.payload_len, 29);

    g_ctx = "ipv6 non-first fragment";
    uint8_t b[sizeof pkt_v6frag];
    memcpy(b, pkt_v6frag, sizeof b);
    b[V6FRAG_FO] = 0x05;                     /* offset 181 * 8 = 1448, M = 0 */
    b[V6FRAG_FO + 1] = 0xa8;
    dec(&p, &f, b, sizeof b, LT_LINK_EN10MB);
    OK(&p);
    CHECK_EQ(p.ip.has_frag_hdr, 1);
    CHECK_EQ(p.ip.frag_offset, 1448);
    CHECK_EQ(p.ip.mf, 0);
    CHECK_EQ(p.ip.is_fragment, 1);
    CHECK_EQ(p.ip.next_hdrs, 2);             /* the rest is fragment data */
    CHECK_EQ(p.ip.hdr_len, 56);
    CHECK_EQ(p.ip.proto, 60);
    CHECK_EQ(p.l4, LT_L4_NONE);
    CHECK_EQ(p.l4_off, 70);
    CHECK_EQ(p.payload_off, 70);
    CHECK_EQ(p.payload_len, 45);
    cut_test("ipv6 non-first fragment", b, sizeof b, LT_LINK_EN10MB);

    g_ctx = "ipv6 atomic fragment";
    b[V6FRAG_FO] = 0;
    b[V6FRAG_FO + 1] = 0;
    dec(&p, &f, b, sizeof b, LT_LINK_EN10MB);
    OK(&p);
    CHECK_EQ(p.ip.has_frag_hdr, 1);
    CHECK_EQ(p.ip.is_fragment, 0);
    CHECK_EQ(p.l4, LT_L4_UDP);
    g_ctx = "";
}

static void test_ipv4_options_frag(void)
{
    lt_packet p;
    lt_frame f;
    g_ctx = "ipv4 router alert option + igmp";
    dec(&p, &f, pkt_ipopts, sizeof pkt_ipopts, LT_LINK_EN10MB);
    OK(&p);
    check_invariants(&p, &f);
    CHECK_EQ(p.ip.hdr_len, 24);
    CHECK_EQ(p.ip.total_len, 40);
    CHECK_EQ(p.ip.tos, 0xc0);
    CHECK_EQ(p.ip.ttl, 1);
    CHECK_EQ(p.ip.df, 1);
    CHECK_EQ(p.ip.proto, 2);
    CHECK_EQ(p.ip.options_len, 4);
    CHECK(p.ip.options == pkt_ipopts + 34);
    CHECK(p.ip.options && p.ip.options[0] == 0x94 && p.ip.options[1] == 4);
    CHECK_IP(4, p.ip.src, "10.0.2.7");
    CHECK_IP(4, p.ip.dst, "224.0.0.22");
    CHECK_EQ(p.l4, LT_L4_OTHER);
    CHECK_EQ(p.l4_off, 38);
    CHECK_EQ(p.payload_off, 38);
    CHECK_EQ(p.payload_len, 16);

    g_ctx = "ipv4 first fragment + udp";
    dec(&p, &f, pkt_frag4_first, sizeof pkt_frag4_first, LT_LINK_EN10MB);
    OK(&p);
    CHECK_EQ(p.ip.id, 242);
    CHECK_EQ(p.ip.mf, 1);
    CHECK_EQ(p.ip.df, 0);
    CHECK_EQ(p.ip.frag_offset, 0);
    CHECK_EQ(p.ip.is_fragment, 1);
    CHECK_EQ(p.ip.total_len, 38);
    CHECK_EQ(p.l4, LT_L4_UDP);
    CHECK_EQ(p.udp.sport, 123);
    CHECK_EQ(p.udp.dport, 137);
    CHECK_EQ(p.udp.len, 18);
    CHECK_EQ(p.payload_off, 42);
    CHECK_EQ(p.payload_len, 10);             /* Ethernet padding excluded */

    /* In a first fragment the UDP length covers the whole datagram: longer
     * than this fragment is normal, not invalid. */
    g_ctx = "ipv4 first fragment, udp length beyond the fragment";
    uint8_t b[sizeof pkt_frag4_first];
    memcpy(b, pkt_frag4_first, sizeof b);
    b[38] = 0x01;
    b[39] = 0x00;
    dec(&p, &f, b, sizeof b, LT_LINK_EN10MB);
    OK(&p);
    CHECK_EQ(p.udp.len, 256);
    CHECK_EQ(p.payload_off, 42);
    CHECK_EQ(p.payload_len, 10);

    g_ctx = "ipv4 last fragment";
    dec(&p, &f, pkt_frag4_next, sizeof pkt_frag4_next, LT_LINK_EN10MB);
    OK(&p);
    CHECK_EQ(p.ip.frag_offset, 48);
    CHECK_EQ(p.ip.mf, 0);
    CHECK_EQ(p.ip.is_fragment, 1);
    CHECK_EQ(p.ip.proto, 17);
    CHECK_EQ(p.l4, LT_L4_NONE);
    CHECK_EQ(p.l4_off, 34);
    CHECK_EQ(p.payload_off, 34);
    CHECK_EQ(p.payload_len, 116);

    /* A first fragment too short for the TCP header: no l4, no problem. */
    g_ctx = "ipv4 tiny first fragment (8 bytes of tcp)";
    dec(&p, &f, pkt_frag4_tiny, sizeof pkt_frag4_tiny, LT_LINK_IPV4);
    OK(&p);
    CHECK_EQ(p.ip.mf, 1);
    CHECK_EQ(p.ip.proto, 6);
    CHECK_EQ(p.l4, LT_L4_NONE);
    CHECK_EQ(p.l4_off, 20);
    CHECK_EQ(p.payload_off, 20);
    CHECK_EQ(p.payload_len, 8);
    g_ctx = "";
}

static void test_udp_icmp(void)
{
    lt_packet p;
    lt_frame f;
    g_ctx = "ipv4 udp dns";
    dec(&p, &f, pkt_udp, sizeof pkt_udp, LT_LINK_EN10MB);
    OK(&p);
    CHECK_IP(4, p.ip.src, "192.168.1.11");
    CHECK_IP(4, p.ip.dst, "209.87.249.18");
    CHECK_EQ(p.ip.id, 22989);
    CHECK_EQ(p.ip.df, 0);
    CHECK_EQ(p.l4, LT_L4_UDP);
    CHECK_EQ(p.l4_off, 34);
    CHECK_EQ(p.udp.sport, 43966);
    CHECK_EQ(p.udp.dport, 53);
    CHECK_EQ(p.udp.len, 64);
    CHECK_EQ(p.udp.csum, 0x7824);
    CHECK_EQ(p.payload_off, 42);
    CHECK_EQ(p.payload_len, 56);

    g_ctx = "icmp echo request";
    dec(&p, &f, pkt_icmp, sizeof pkt_icmp, LT_LINK_EN10MB);
    OK(&p);
    check_invariants(&p, &f);
    CHECK_IP(4, p.ip.src, "172.16.133.2");
    CHECK_IP(4, p.ip.dst, "172.217.11.78");
    CHECK_EQ(p.ip.proto, 1);
    CHECK_EQ(p.l4, LT_L4_ICMP);
    CHECK_EQ(p.l4_off, 34);
    CHECK_EQ(p.icmp.type, 8);
    CHECK_EQ(p.icmp.code, 0);
    CHECK_EQ(p.icmp.csum, 0xef24);
    CHECK_EQ(p.icmp.rest, 0x04ca0001u);      /* id 1226, seq 1 */
    CHECK_EQ(p.payload_off, 42);
    CHECK_EQ(p.payload_len, 56);

    g_ctx = "icmpv6 echo request";
    dec(&p, &f, pkt_icmp6, sizeof pkt_icmp6, LT_LINK_EN10MB);
    OK(&p);
    check_invariants(&p, &f);
    CHECK_EQ(p.l3, LT_L3_IPV6);
    CHECK_IP(6, p.ip.src, "2620:0:e00:400e:d1d:db37:beb:5aac");
    CHECK_IP(6, p.ip.dst, "2001:4860:8006::63");
    CHECK_EQ(p.ip.ttl, 128);
    CHECK_EQ(p.ip.proto, 58);
    CHECK_EQ(p.l4, LT_L4_ICMPV6);
    CHECK_EQ(p.l4_off, 54);
    CHECK_EQ(p.icmp.type, 128);
    CHECK_EQ(p.icmp.code, 0);
    CHECK_EQ(p.icmp.csum, 0x2910);
    CHECK_EQ(p.icmp.rest, 0x00010003u);
    CHECK_EQ(p.payload_off, 62);
    CHECK_EQ(p.payload_len, 32);

    /* A 4-byte ICMP message is enough for type and code. */
    g_ctx = "icmp of 4 bytes";
    uint8_t b[sizeof pkt_icmp];
    memcpy(b, pkt_icmp, sizeof b);
    b[16] = 0;
    b[17] = 24;
    dec(&p, &f, b, sizeof b, LT_LINK_EN10MB);
    OK(&p);
    CHECK_EQ(p.l4, LT_L4_ICMP);
    CHECK_EQ(p.icmp.type, 8);
    CHECK_EQ(p.icmp.rest, 0);
    CHECK_EQ(p.payload_len, 0);
    g_ctx = "";
}

/* 802.3 frames: LLC/SNAP with OUI 0 carries an ethertype, others are OTHER. */
static void test_llc_snap(void)
{
    lt_packet p;
    lt_frame f;
    uint8_t b[128];
    size_t ip_len = sizeof pkt_icmp - 14;

    g_ctx = "802.3 + llc/snap + ipv4";
    memcpy(b, pkt_icmp, 12);
    b[12] = 0;
    b[13] = (uint8_t)(8 + ip_len);
    static const uint8_t snap[] = { 0xaa, 0xaa, 0x03, 0x00, 0x00, 0x00, 0x08, 0x00 };
    memcpy(b + 14, snap, sizeof snap);
    memcpy(b + 22, pkt_icmp + 14, ip_len);
    size_t n = 22 + ip_len;
    dec(&p, &f, b, n, LT_LINK_EN10MB);
    OK(&p);
    CHECK_EQ(p.eth.type, 8 + ip_len);
    CHECK_EQ(p.ethertype, 0x0800);
    CHECK_EQ(p.l3_off, 22);
    CHECK_EQ(p.l3, LT_L3_IPV4);
    CHECK_EQ(p.l4, LT_L4_ICMP);
    CHECK_EQ(p.payload_off, 50);
    CHECK_EQ(p.payload_len, 56);
    cut_test("802.3 llc/snap", b, n, LT_LINK_EN10MB);

    g_ctx = "802.3 + snap with a vendor OUI (CDP)";
    b[17] = 0x0c;
    b[20] = 0x20;
    b[21] = 0x00;
    dec(&p, &f, b, n, LT_LINK_EN10MB);
    OK(&p);
    CHECK_EQ(p.l3, LT_L3_OTHER);
    CHECK_EQ(p.ethertype, 0);
    CHECK_EQ(p.l3_off, 14);
    CHECK_EQ(p.payload_off, 14);
    CHECK_EQ(p.payload_len, n - 14);

    g_ctx = "802.3 + llc (STP)";
    b[14] = 0x42;
    b[15] = 0x42;
    dec(&p, &f, b, n, LT_LINK_EN10MB);
    OK(&p);
    CHECK_EQ(p.l3, LT_L3_OTHER);
    CHECK_EQ(p.l3_off, 14);
    cut_test("802.3 llc", b, n, LT_LINK_EN10MB);
    g_ctx = "";
}

static void test_helpers(void)
{
    char buf[64], fl[9];
    static const uint8_t a4[] = { 10, 0, 0, 1 };
    static const uint8_t a6[] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 };
    g_ctx = "lt_ip_ntop";
    CHECK_STR(lt_ip_ntop(4, a4, buf, sizeof buf), "10.0.0.1");
    CHECK_STR(lt_ip_ntop(6, a6, buf, sizeof buf), "2001:db8::1");
    CHECK(lt_ip_ntop(5, a4, buf, sizeof buf) == NULL);
    CHECK_STR(buf, "");
    CHECK(lt_ip_ntop(4, NULL, buf, sizeof buf) == NULL);
    CHECK(lt_ip_ntop(4, a4, buf, 4) == NULL);
    CHECK_STR(buf, "");
    CHECK(lt_ip_ntop(4, a4, buf, 0) == NULL);
    g_ctx = "lt_tcp_flags_str";
    CHECK_STR(lt_tcp_flags_str(0, fl), "");
    CHECK_STR(lt_tcp_flags_str(LT_TCP_SYN | LT_TCP_ACK, fl), "SA");
    CHECK_STR(lt_tcp_flags_str(LT_TCP_ACK, fl), "A");
    CHECK_STR(lt_tcp_flags_str(LT_TCP_FIN | LT_TCP_PSH | LT_TCP_ACK, fl), "FPA");
    CHECK_STR(lt_tcp_flags_str(LT_TCP_RST, fl), "R");
    CHECK_STR(lt_tcp_flags_str(0xff, fl), "FSRPAUEW");
    CHECK_STR(lt_tcp_flags_str(LT_TCP_SYN | LT_TCP_ECE | LT_TCP_CWR, fl), "SEW");
    g_ctx = "";
}

static void test_cuts(void)
{
    cut_test("eth+vlan+tcp syn", pkt_vlan_syn, sizeof pkt_vlan_syn, LT_LINK_EN10MB);
    cut_test("tcp sack", pkt_sack, sizeof pkt_sack, LT_LINK_EN10MB);
    cut_test("qinqinq", pkt_qinqinq, sizeof pkt_qinqinq, LT_LINK_EN10MB);
    cut_test("qinq arp", pkt_qinq_arp, sizeof pkt_qinq_arp, LT_LINK_EN10MB);
    cut_test("arp", pkt_arp, sizeof pkt_arp, LT_LINK_EN10MB);
    cut_test("sll", pkt_sll, sizeof pkt_sll, LT_LINK_LINUX_SLL);
    cut_test("sll2", pkt_sll2, sizeof pkt_sll2, LT_LINK_LINUX_SLL2);
    cut_test("null6", pkt_null6, sizeof pkt_null6, LT_LINK_NULL);
    cut_test("null4", pkt_null4, sizeof pkt_null4, LT_LINK_NULL);
    cut_test("raw4", pkt_raw4, sizeof pkt_raw4, LT_LINK_RAW);
    cut_test("raw6", pkt_raw6, sizeof pkt_raw6, LT_LINK_RAW);
    cut_test("ipv4 linktype", pkt_raw4, sizeof pkt_raw4, LT_LINK_IPV4);
    cut_test("ipv6 linktype", pkt_raw6, sizeof pkt_raw6, LT_LINK_IPV6);
    cut_test("ipv6 ext headers", pkt_v6opts, sizeof pkt_v6opts, LT_LINK_EN10MB);
    cut_test("ipv6 frag", pkt_v6frag, sizeof pkt_v6frag, LT_LINK_EN10MB);
    cut_test("ipv4 options", pkt_ipopts, sizeof pkt_ipopts, LT_LINK_EN10MB);
    cut_test("ipv4 first frag", pkt_frag4_first, sizeof pkt_frag4_first, LT_LINK_EN10MB);
    cut_test("ipv4 next frag", pkt_frag4_next, sizeof pkt_frag4_next, LT_LINK_EN10MB);
    cut_test("ipv4 tiny frag", pkt_frag4_tiny, sizeof pkt_frag4_tiny, LT_LINK_IPV4);
    cut_test("udp", pkt_udp, sizeof pkt_udp, LT_LINK_EN10MB);
    cut_test("icmp", pkt_icmp, sizeof pkt_icmp, LT_LINK_EN10MB);
    cut_test("icmp6", pkt_icmp6, sizeof pkt_icmp6, LT_LINK_EN10MB);
}

/* ---- invalid headers ---------------------------------------------------- */

/* Decodes `n` bytes (wire length `wire`) and checks the outcome. */
static void expect(lt_packet *p, lt_frame *f, const uint8_t *b, size_t n, size_t wire,
                   int lt, int truncated, int invalid, const char *problem,
                   const char *file, int line)
{
    memset(f, 0, sizeof *f);
    f->data = b;
    f->caplen = (uint32_t)n;
    f->len = (uint32_t)wire;
    f->linktype = lt;
    lt_decode(p, f);
    check_invariants(p, f);
    if (p->truncated != truncated || p->invalid != invalid ||
        (problem && (!p->problem || strcmp(p->problem, problem) != 0)) ||
        (!problem && p->problem)) {
        char m[256];
        snprintf(m, sizeof m, "expected truncated=%d invalid=%d \"%s\", got %d %d \"%s\"",
                 truncated, invalid, problem ? problem : "(none)", p->truncated,
                 p->invalid, p->problem ? p->problem : "(none)");
        n_checks++;
        fail_at(file, line, m);
    } else {
        n_checks++;
    }
}

#define EXPECT_INVALID(b, n, lt, msg) \
    expect(&p, &f, (b), (n), (n), (lt), 0, 1, (msg), __FILE__, __LINE__)
#define EXPECT_TRUNCATED(b, n, wire, lt, msg) \
    expect(&p, &f, (b), (n), (wire), (lt), 1, 0, (msg), __FILE__, __LINE__)
#define EXPECT_OK(b, n, wire, lt) \
    expect(&p, &f, (b), (n), (wire), (lt), 0, 0, NULL, __FILE__, __LINE__)

/* A raw IPv6 packet: n destination-options headers, then an empty UDP. */
static size_t build_ext_chain(uint8_t *b, size_t cap, int n)
{
    size_t len = 40 + (size_t)n * 8 + 8;
    if (len > cap)
        return 0;
    memset(b, 0, len);
    b[0] = 0x60;
    b[4] = (uint8_t)((len - 40) >> 8);
    b[5] = (uint8_t)(len - 40);
    b[6] = n ? 60 : 17;
    b[7] = 64;
    b[23] = 1;                               /* ::1 > ::2 */
    b[39] = 2;
    for (int i = 0; i < n; i++) {
        uint8_t *h = b + 40 + i * 8;
        h[0] = i == n - 1 ? 17 : 60;
        h[1] = 0;
        h[2] = 1;                            /* PadN, 4 bytes */
        h[3] = 4;
    }
    uint8_t *u = b + 40 + (size_t)n * 8;
    u[0] = 0x04; u[1] = 0xd2; u[2] = 0x00; u[3] = 0x35; u[5] = 8;
    return len;
}

static void test_invalid(void)
{
    lt_packet p;
    lt_frame f;
    uint8_t b[1200];
    size_t n;

    g_ctx = "invalid ipv4";
    /* IHL 4 */
    memcpy(b, pkt_vlan_syn, n = sizeof pkt_vlan_syn);
    b[18] = 0x44;
    EXPECT_INVALID(b, n, LT_LINK_EN10MB, "ipv4: header length 16 < 20");
    CHECK_EQ(p.l3, LT_L3_IPV4);              /* the fixed header stays filled */
    CHECK_IP(4, p.ip.src, "10.38.251.146");
    CHECK_EQ(p.l4, LT_L4_NONE);
    CHECK_EQ(p.eth.vlan[0], 3136);
    b[18] = 0x40;
    EXPECT_INVALID(b, n, LT_LINK_EN10MB, "ipv4: header length 0 < 20");
    /* version 6 behind ethertype 0x0800 */
    b[18] = 0x65;
    EXPECT_INVALID(b, n, LT_LINK_EN10MB, "ipv4: version 6");
    CHECK_EQ(p.l3, LT_L3_NONE);
    CHECK_EQ(p.ethertype, 0x0800);
    CHECK_EQ(p.l3_off, 18);
    CHECK_EQ(p.has_eth, 1);
    /* total length < header length */
    memcpy(b, pkt_vlan_syn, n);
    b[20] = 0;
    b[21] = 19;
    EXPECT_INVALID(b, n, LT_LINK_EN10MB, "ipv4: total length < header length");
    CHECK_EQ(p.l3, LT_L3_IPV4);
    /* IHL 15 (60 bytes) but total length 40 */
    memcpy(b, pkt_vlan_syn, n);
    b[18] = 0x4f;
    b[20] = 0;
    b[21] = 40;
    EXPECT_INVALID(b, n, LT_LINK_EN10MB, "ipv4: total length < header length");
    /* total length > wire length */
    memcpy(b, pkt_vlan_syn, n);
    b[20] = 0x01;
    b[21] = 0x00;
    EXPECT_INVALID(b, n, LT_LINK_EN10MB, "ipv4: total length > frame");
    CHECK_EQ(p.ip.total_len, 256);
    /* invalid, yet what the frame holds is decoded, as tshark does */
    CHECK_EQ(p.l4, LT_L4_TCP);
    CHECK_EQ(p.payload_off + p.payload_len, n);
    /* ... but within a wire length the snap length cut: fine */
    EXPECT_OK(b, n, 18 + 256, LT_LINK_EN10MB);
    CHECK_EQ(p.l4, LT_L4_TCP);
    CHECK_EQ(p.payload_off, 78);
    CHECK_EQ(p.payload_len, 4);              /* what the capture kept */
    /* total length 0: segmentation offload, length from the frame */
    memcpy(b, pkt_icmp, n = sizeof pkt_icmp);
    b[16] = 0;
    b[17] = 0;
    EXPECT_OK(b, n, n, LT_LINK_EN10MB);
    CHECK_EQ(p.ip.tso, 1);
    CHECK_EQ(p.ip.total_len, 84);
    CHECK_EQ(p.l4, LT_L4_ICMP);
    CHECK_EQ(p.payload_len, 56);
    /* raw IP whose version is neither 4 nor 6 */
    memcpy(b, pkt_raw4, n = sizeof pkt_raw4);
    b[0] = 0x55;
    EXPECT_INVALID(b, n, LT_LINK_RAW, "raw: IP version 5");
    CHECK_EQ(p.l3, LT_L3_NONE);
    EXPECT_INVALID(b, n, LT_LINK_IPV4, "ipv4: version 5");
    memcpy(b, pkt_raw6, n = sizeof pkt_raw6);
    EXPECT_INVALID(b, n, LT_LINK_IPV4, "ipv4: version 6");
    EXPECT_INVALID(pkt_raw4, sizeof pkt_raw4, LT_LINK_IPV6, "ipv6: version 4");

    g_ctx = "invalid tcp";
    memcpy(b, pkt_vlan_syn, n = sizeof pkt_vlan_syn);
    b[50] = 0x30;                            /* data offset 3 */
    EXPECT_INVALID(b, n, LT_LINK_EN10MB, "tcp: header length 12 < 20");
    CHECK_EQ(p.l4, LT_L4_TCP);
    CHECK_EQ(p.tcp.sport, 33372);
    CHECK_EQ(p.tcp.hdr_len, 12);
    CHECK_EQ(p.payload_len, 0);
    b[50] = 0xf0;                            /* 60 bytes > IP payload of 40 */
    EXPECT_INVALID(b, n, LT_LINK_EN10MB, "tcp: header length > IP payload");
    CHECK_EQ(p.l4, LT_L4_TCP);
    /* IP payload too short even for the fixed TCP header */
    memcpy(b, pkt_vlan_syn, n);
    b[20] = 0;
    b[21] = 30;
    EXPECT_INVALID(b, n, LT_LINK_EN10MB, "tcp: header runs past IP payload");
    CHECK_EQ(p.l4, LT_L4_NONE);
    CHECK_EQ(p.l4_off, 38);

    g_ctx = "bad tcp options";
    memcpy(b, pkt_vlan_syn, n);
    b[59] = 1;                               /* MSS option length 1 */
    EXPECT_INVALID(b, n, LT_LINK_EN10MB, "tcp: option length < 2");
    CHECK_EQ(p.l4, LT_L4_TCP);               /* the header stays decoded */
    CHECK_EQ(p.tcp.dport, 80);
    CHECK_EQ(p.tcp.has_mss, 0);
    CHECK_EQ(p.tcp.options_len, 20);
    CHECK_EQ(p.payload_off, 78);
    b[59] = 0;
    EXPECT_INVALID(b, n, LT_LINK_EN10MB, "tcp: option length < 2");
    memcpy(b, pkt_vlan_syn, n);
    b[76] = 4;                               /* window scale runs past */
    EXPECT_INVALID(b, n, LT_LINK_EN10MB, "tcp: option runs past header");
    CHECK_EQ(p.tcp.has_mss, 1);              /* options before it were read */
    CHECK_EQ(p.tcp.has_ts, 1);
    CHECK_EQ(p.tcp.has_wscale, 0);
    memcpy(b, pkt_vlan_syn, n);
    b[59] = 3;                               /* MSS length 3 */
    EXPECT_INVALID(b, n, LT_LINK_EN10MB, "tcp: option 2 (mss) length != 4");
    CHECK_EQ(p.tcp.has_mss, 0);
    memcpy(b, pkt_vlan_syn, n);
    b[65] = 12;                              /* timestamps length 12 */
    EXPECT_INVALID(b, n, LT_LINK_EN10MB, "tcp: option 8 (timestamps) length != 10");
    CHECK_EQ(p.tcp.has_ts, 0);
    memcpy(b, pkt_vlan_syn, n);
    b[74] = 0x01;
    b[75] = 0x01;
    b[76] = 0x01;
    b[77] = 0x03;                            /* kind 3 as the very last byte */
    EXPECT_INVALID(b, n, LT_LINK_EN10MB, "tcp: option runs past header");
    memcpy(b, pkt_sack, n = sizeof pkt_sack);
    b[57] = 9;                               /* SACK length 9: not 2 + 8n */
    EXPECT_INVALID(b, n, LT_LINK_EN10MB, "tcp: option 5 (sack) length not 2 + 8n");
    CHECK_EQ(p.tcp.nsack, 0);
    b[57] = 13;                              /* runs past the 12 option bytes */
    EXPECT_INVALID(b, n, LT_LINK_EN10MB, "tcp: option runs past header");

    g_ctx = "invalid udp";
    memcpy(b, pkt_udp, n = sizeof pkt_udp);
    b[38] = 0;
    b[39] = 4;
    EXPECT_INVALID(b, n, LT_LINK_EN10MB, "udp: length 4 < 8");
    CHECK_EQ(p.l4, LT_L4_UDP);
    CHECK_EQ(p.udp.sport, 43966);
    CHECK_EQ(p.payload_len, 0);
    b[39] = 200;
    EXPECT_INVALID(b, n, LT_LINK_EN10MB, "udp: length > IP payload");
    CHECK_EQ(p.payload_off, 42);
    CHECK_EQ(p.payload_len, 56);             /* bounded by the IP length */
    b[39] = 20;                              /* shorter than the IP payload */
    EXPECT_OK(b, n, n, LT_LINK_EN10MB);
    CHECK_EQ(p.payload_len, 12);
    memcpy(b, pkt_udp, n);
    b[16] = 0;
    b[17] = 24;                              /* IP payload of 4 bytes */
    EXPECT_INVALID(b, n, LT_LINK_EN10MB, "udp: header runs past IP payload");

    g_ctx = "invalid icmp";
    memcpy(b, pkt_icmp, n = sizeof pkt_icmp);
    b[16] = 0;
    b[17] = 22;
    EXPECT_INVALID(b, n, LT_LINK_EN10MB, "icmp: header runs past IP payload");
    memcpy(b, pkt_icmp6, n = sizeof pkt_icmp6);
    b[18] = 0;
    b[19] = 2;
    EXPECT_INVALID(b, n, LT_LINK_EN10MB, "icmpv6: header runs past IP payload");

    g_ctx = "invalid ipv6";
    memcpy(b, pkt_v6opts, n = sizeof pkt_v6opts);
    b[63] = 20;                              /* dstopts of 168 bytes */
    EXPECT_INVALID(b, n, LT_LINK_EN10MB, "ipv6: extension header runs past payload");
    CHECK_EQ(p.l3, LT_L3_IPV6);
    CHECK_EQ(p.ip.next_hdrs, 1);
    CHECK_EQ(p.l4, LT_L4_NONE);
    /* the same chain, cut by the snap length within the claimed length */
    EXPECT_TRUNCATED(pkt_v6opts, 80, sizeof pkt_v6opts, LT_LINK_EN10MB,
                     "ipv6: truncated extension header");
    memcpy(b, pkt_v6opts, n);
    b[18] = 0x02;                            /* payload length 512 */
    EXPECT_INVALID(b, n, LT_LINK_EN10MB, "ipv6: payload length > frame");
    memcpy(b, pkt_v6opts, n);
    b[14] = 0x4e;
    EXPECT_INVALID(b, n, LT_LINK_EN10MB, "ipv6: version 4");
    CHECK_EQ(p.ethertype, 0x86DD);
    /* a chain of extension headers */
    n = build_ext_chain(b, sizeof b, 16);
    EXPECT_OK(b, n, n, LT_LINK_RAW);
    CHECK_EQ(p.ip.next_hdrs, 16);
    CHECK_EQ(p.ip.hdr_len, 40 + 16 * 8);
    CHECK_EQ(p.l4, LT_L4_UDP);
    CHECK_EQ(p.udp.dport, 53);
    n = build_ext_chain(b, sizeof b, 17);
    EXPECT_INVALID(b, n, LT_LINK_RAW, "ipv6: more than 16 extension headers");
    n = build_ext_chain(b, sizeof b, 20);
    EXPECT_INVALID(b, n, LT_LINK_RAW, "ipv6: more than 16 extension headers");
    CHECK_EQ(p.ip.next_hdrs, 16);
    CHECK_EQ(p.l4, LT_L4_NONE);
    /* three headers, the last one running past the payload length */
    n = build_ext_chain(b, sizeof b, 3);
    b[40 + 2 * 8 + 1] = 1;                   /* 16 bytes, only 8 + 8 left */
    b[5] = (uint8_t)(b[5] - 8);              /* and the UDP header is gone */
    EXPECT_INVALID(b, n - 8, LT_LINK_RAW, "ipv6: extension header runs past payload");

    g_ctx = "ipv6 jumbogram";
    /* plen 0, hop-by-hop with a jumbo payload option, UDP + 16 bytes */
    static const uint8_t jumbo[] = {
        0x60, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x40,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2,
        0x11, 0x00, 0xc2, 0x04, 0x00, 0x00, 0x00, 0x20,
        0x04, 0xd2, 0x00, 0x35, 0x00, 0x18, 0x00, 0x00,
        'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o', 'p',
    };
    memcpy(b, jumbo, n = sizeof jumbo);
    EXPECT_OK(b, n, n, LT_LINK_RAW);
    CHECK_EQ(p.ip.jumbo, 1);
    CHECK_EQ(p.ip.total_len, 72);
    CHECK_EQ(p.ip.next_hdrs, 1);
    CHECK_EQ(p.l4, LT_L4_UDP);
    CHECK_EQ(p.payload_off, 56);
    CHECK_EQ(p.payload_len, 16);
    cut_test("ipv6 jumbogram", b, n, LT_LINK_RAW);
    b[53] = 0;                               /* UDP jumbogram: length 0 */
    EXPECT_OK(b, n, n, LT_LINK_RAW);
    CHECK_EQ(p.payload_len, 16);
    memcpy(b, jumbo, n);
    b[47] = 0xe8;
    b[46] = 0x03;                            /* jumbo length 1000 */
    EXPECT_INVALID(b, n, LT_LINK_RAW, "ipv6: jumbo payload length > frame");
    memcpy(b, jumbo, n);
    b[42] = 0x01;                            /* PadN instead of jumbo */
    EXPECT_INVALID(b, n, LT_LINK_RAW, "ipv6: payload length 0 without jumbo option");
    /* plen 0 without hop-by-hop: BIG TCP / GSO, length from the frame */
    memcpy(b, pkt_null6, n = sizeof pkt_null6);
    b[8] = 0;
    b[9] = 0;
    EXPECT_OK(b, n, n, LT_LINK_NULL);
    CHECK_EQ(p.ip.tso, 1);
    CHECK_EQ(p.ip.total_len, 72);
    CHECK_EQ(p.l4, LT_L4_TCP);
    CHECK_EQ(p.payload_off, 76);

    g_ctx = "arp with long addresses";
    memcpy(b, pkt_arp, n = sizeof pkt_arp);
    b[18] = 0xff;                            /* hlen 255 */
    EXPECT_INVALID(b, n, LT_LINK_EN10MB, "arp: addresses run past frame");
    CHECK_EQ(p.l3, LT_L3_ARP);
    CHECK_EQ(p.arp.hlen, 255);
    CHECK(p.arp.sha == NULL && p.arp.tpa == NULL);
    EXPECT_TRUNCATED(b, n, 600, LT_LINK_EN10MB, "arp: truncated addresses");
    b[19] = 0xff;
    EXPECT_TRUNCATED(b, n, 1100, LT_LINK_EN10MB, "arp: truncated addresses");

    g_ctx = "short and odd frames";
    EXPECT_INVALID(pkt_arp, 0, LT_LINK_EN10MB, "eth: frame shorter than header");
    EXPECT_INVALID(pkt_arp, 10, LT_LINK_EN10MB, "eth: frame shorter than header");
    EXPECT_TRUNCATED(pkt_arp, 10, 60, LT_LINK_EN10MB, "eth: truncated header");
    EXPECT_INVALID(pkt_arp, 0, LT_LINK_RAW, "raw: empty frame");
    EXPECT_INVALID(pkt_raw4, 12, LT_LINK_RAW, "ipv4: frame shorter than header");
    EXPECT_INVALID(pkt_sll, 15, LT_LINK_LINUX_SLL, "sll: frame shorter than header");
    EXPECT_INVALID(pkt_sll2, 19, LT_LINK_LINUX_SLL2, "sll2: frame shorter than header");
    EXPECT_INVALID(pkt_null4, 3, LT_LINK_NULL, "null: frame shorter than header");
    EXPECT_INVALID(pkt_qinqinq, 24, LT_LINK_EN10MB, "vlan: frame shorter than tag");
    CHECK_EQ(p.eth.ntags, 2);
    /* caplen > len (an insane source): the captured bytes count */
    expect(&p, &f, pkt_udp, sizeof pkt_udp, 20, LT_LINK_EN10MB, 0, 0, NULL,
           __FILE__, __LINE__);
    CHECK_EQ(p.l4, LT_L4_UDP);
    /* NULL data with a caplen: nothing is read */
    expect(&p, &f, NULL, 60, 60, LT_LINK_EN10MB, 1, 0, "eth: truncated header",
           __FILE__, __LINE__);
    /* unknown link type: no network layer, no problem */
    EXPECT_OK(pkt_udp, sizeof pkt_udp, sizeof pkt_udp, 147);
    CHECK_EQ(p.l3, LT_L3_NONE);
    CHECK_EQ(p.has_eth, 0);
    CHECK_EQ(p.payload_off, 0);
    CHECK_EQ(p.payload_len, 0);
    EXPECT_OK(pkt_udp, sizeof pkt_udp, sizeof pkt_udp, -1);
    /* unknown ethertype: l3 OTHER, the rest is payload */
    memcpy(b, pkt_udp, n = sizeof pkt_udp);
    b[12] = 0x88;
    b[13] = 0xcc;                            /* LLDP */
    EXPECT_OK(b, n, n, LT_LINK_EN10MB);
    CHECK_EQ(p.l3, LT_L3_OTHER);
    CHECK_EQ(p.ethertype, 0x88cc);
    CHECK_EQ(p.payload_off, 14);
    CHECK_EQ(p.payload_len, n - 14);
    /* 250 VLAN tags: all walked, two recorded */
    memcpy(b, pkt_udp, 12);
    for (int i = 0; i < 250; i++) {
        b[12 + i * 4] = 0x81;
        b[13 + i * 4] = 0x00;
        b[14 + i * 4] = 0x00;
        b[15 + i * 4] = (uint8_t)i;
    }
    b[1012] = 0x08;
    b[1013] = 0x00;
    memcpy(b + 1014, pkt_udp + 14, sizeof pkt_udp - 14);
    n = 1014 + sizeof pkt_udp - 14;
    EXPECT_OK(b, n, n, LT_LINK_EN10MB);
    CHECK_EQ(p.eth.ntags, 250);
    CHECK_EQ(p.eth.nvlan, 2);
    CHECK_EQ(p.eth.vlan[1], 1);
    CHECK_EQ(p.l4, LT_L4_UDP);
    g_ctx = "";
}

/* ---- real captures ------------------------------------------------------ */

#define CUTS_PER_FILE 2000u     /* cut decodes per capture file */
#define CUT_PREFIX 160u         /* cut at every length up to this, + caplen-1 */

typedef struct totals {
    unsigned files, refused, packets, truncated, invalid, cuts;
} totals;

static int capture_name(const char *name)
{
    size_t n = strlen(name);
    return (n > 5 && strcmp(name + n - 5, ".pcap") == 0) ||
           (n > 7 && strcmp(name + n - 7, ".pcapng") == 0) ||
           (n > 4 && strcmp(name + n - 4, ".cap") == 0);
}

/* libpcap reports DLT_ values; they equal the LINKTYPE_ values of the file
 * except LINKTYPE_RAW (101), which it turns into DLT_RAW (12 here). */
static int link_of(pcap_t *pc)
{
    int dlt = pcap_datalink(pc);
    return dlt == DLT_RAW ? LT_LINK_RAW : dlt;
}

typedef struct tally {
    const char *msg;
    unsigned n;
} tally;

static void run_capture(const char *dir, const char *name, totals *t)
{
    char path[4096], err[PCAP_ERRBUF_SIZE];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    pcap_t *pc = pcap_open_offline(path, err);
    if (!pc) {
        printf("  note: libpcap refuses %s: %s\n", name, err);
        t->refused++;
        return;
    }
    t->files++;
    int lt = link_of(pc);
    g_ctx = name;

    struct pcap_pkthdr *h;
    const u_char *data;
    unsigned budget = CUTS_PER_FILE, npk = 0, ntr = 0, ninv = 0;
    tally tl[4] = { { 0 } };
    int rc;
    while ((rc = pcap_next_ex(pc, &h, &data)) == 1) {
        lt_frame fr = { .data = data, .caplen = h->caplen, .len = h->len,
                        .ts_sec = h->ts.tv_sec, .linktype = lt };
        lt_packet p;
        lt_decode(&p, &fr);
        check_invariants(&p, &fr);
        npk++;
        ntr += p.truncated;
        ninv += p.invalid;
        if (p.problem) {
            for (int i = 0; i < 4; i++) {
                if (!tl[i].msg || tl[i].msg == p.problem) {
                    tl[i].msg = p.problem;
                    tl[i].n++;
                    break;
                }
            }
        }
        if (budget > 0) {
            uint32_t done = cut_all(data, h->caplen, h->len, lt, CUT_PREFIX, budget);
            budget -= done;
            t->cuts += done;
        }
    }
    if (rc == -1)
        printf("  note: %s: read error after %u packets: %s\n", name, npk,
               pcap_geterr(pc));
    pcap_close(pc);
    g_ctx = "";
    t->packets += npk;
    t->truncated += ntr;
    t->invalid += ninv;
    if (ntr || ninv) {
        printf("  %s: %u packets, %u truncated, %u invalid:", name, npk, ntr, ninv);
        for (int i = 0; i < 4 && tl[i].msg; i++)
            printf(" \"%s\" x%u", tl[i].msg, tl[i].n);
        printf("\n");
    }
}

static int run_folder(const char *dir, totals *t)
{
    struct dirent **list;
    int n = scandir(dir, &list, NULL, alphasort);
    if (n < 0)
        return -1;
    for (int i = 0; i < n; i++) {
        if (capture_name(list[i]->d_name))
            run_capture(dir, list[i]->d_name, t);
        free(list[i]);
    }
    free(list);
    return 0;
}

/* ---- cross-check with tshark -------------------------------------------- */

#define TSHARK_PACKETS 50

static const char *const tshark_prefixes[] = {
    "tcp_", "ipv6_", "vlan_", "sll_", "sll2_", "null_", "rawip_", "icmp_",
    "frag4_", "frag6_", NULL,
};

enum { F_FRAME, F_IP_SRC, F_IP_DST, F_IP6_SRC, F_IP6_DST, F_TCP_SP, F_TCP_DP,
       F_TCP_SEQ, F_UDP_SP, F_UDP_DP, F_VLAN_AD, F_VLAN, F_SLL_TYPE, F_SLL_IF,
       F_COUNT };

/* 802.1ad (S-)tags are ieee8021ad.id in tshark, 802.1Q (C-)tags vlan.id. */
#define TSHARK_FIELDS "-e frame.number -e ip.src -e ip.dst -e ipv6.src -e ipv6.dst " \
    "-e tcp.srcport -e tcp.dstport -e tcp.seq_raw -e udp.srcport -e udp.dstport " \
    "-e ieee8021ad.id -e vlan.id -e sll.pkttype -e sll.ifindex"

/* Why a difference from tshark is expected. */
enum { X_PROBLEM, X_INNER, X_LINK, X_FRAG, X_COUNT };
static const char *const x_names[X_COUNT] = {
    "we flagged the packet truncated/invalid before that layer",
    "tshark's field is inside a tunnel or an ICMP error (our l4 is the outer one)",
    "a link or network layer we do not decode (l3 OTHER/NONE)",
    "a first fragment too short for the transport header: tshark shows the "
    "partial header, we leave l4 to reassembly",
};

typedef struct xstats {
    unsigned files, packets, fields, unexplained, explained[X_COUNT];
} xstats;

typedef struct ours {
    lt_packet p;
    char src[64], dst[64];
} ours;

/* The first of tshark's comma-separated occurrences. */
static void first_value(const char *field, char *out, size_t n)
{
    size_t i = 0;
    while (field[i] && field[i] != ',' && i + 1 < n) {
        out[i] = field[i];
        i++;
    }
    out[i] = '\0';
}

static unsigned count_values(const char *field)
{
    if (!*field)
        return 0;
    unsigned n = 1;
    for (; *field; field++)
        n += *field == ',';
    return n;
}

static unsigned x_shown;
static int x_verbose;           /* LT_TEST_VERBOSE set: show explained ones */

static void explained(xstats *x, int why, const char *name, unsigned frame,
                      const char *what)
{
    x->explained[why]++;
    if (x_verbose)
        printf("  tshark: %s frame %u %s: %s\n", name, frame, what, x_names[why]);
}

static void mismatch(xstats *x, const char *name, unsigned frame, const char *what,
                     const char *mine, const char *theirs)
{
    x->unexplained++;
    if (x_shown++ < 40)
        fprintf(stderr, "%s:%d: FAIL tshark mismatch %s frame %u %s: ours \"%s\", tshark \"%s\"\n",
                __FILE__, __LINE__, name, frame, what, mine, theirs);
}

static void compare_num(xstats *x, const char *name, unsigned frame, const char *what,
                        unsigned long long mine, const char *field)
{
    char v[64], m[32];
    first_value(field, v, sizeof v);
    x->fields++;
    if (strtoull(v, NULL, 10) != mine || !*v) {
        snprintf(m, sizeof m, "%llu", mine);
        mismatch(x, name, frame, what, m, v);
    }
}

static void compare_row(xstats *x, const char *name, unsigned frame, const ours *o,
                        char **fl)
{
    const lt_packet *p = &o->p;
    char v[128];
    int problem = p->problem != NULL;

    /* addresses */
    int tf = p->l3 == LT_L3_IPV4 ? F_IP_SRC : p->l3 == LT_L3_IPV6 ? F_IP6_SRC : -1;
    if (tf >= 0) {
        first_value(fl[tf], v, sizeof v);
        x->fields++;
        if (strcmp(v, o->src) != 0)
            mismatch(x, name, frame, tf == F_IP_SRC ? "ip.src" : "ipv6.src", o->src, v);
        first_value(fl[tf + 1], v, sizeof v);
        x->fields++;
        if (strcmp(v, o->dst) != 0)
            mismatch(x, name, frame, tf == F_IP_SRC ? "ip.dst" : "ipv6.dst", o->dst, v);
    } else if (*fl[F_IP_SRC] || *fl[F_IP6_SRC]) {
        explained(x, problem ? X_PROBLEM : X_LINK, name, frame, "ip");
    }

    /* transport */
    int inner = p->l4 == LT_L4_ICMP || p->l4 == LT_L4_ICMPV6 || p->l4 == LT_L4_OTHER;
    if (p->l4 == LT_L4_TCP) {
        if (!*fl[F_TCP_SP]) {
            mismatch(x, name, frame, "tcp", "tcp", "(none)");
        } else {
            compare_num(x, name, frame, "tcp.srcport", p->tcp.sport, fl[F_TCP_SP]);
            compare_num(x, name, frame, "tcp.dstport", p->tcp.dport, fl[F_TCP_DP]);
            compare_num(x, name, frame, "tcp.seq_raw", p->tcp.seq, fl[F_TCP_SEQ]);
        }
    } else if (*fl[F_TCP_SP]) {
        if (inner || p->l4 == LT_L4_UDP)
            explained(x, X_INNER, name, frame, "tcp");
        else if (p->l4 == LT_L4_NONE && p->ip.is_fragment && p->ip.frag_offset == 0)
            explained(x, X_FRAG, name, frame, "tcp");
        else if (problem)
            explained(x, X_PROBLEM, name, frame, "tcp");
        else if (p->l3 == LT_L3_OTHER || p->l3 == LT_L3_NONE)
            explained(x, X_LINK, name, frame, "tcp");
        else
            mismatch(x, name, frame, "tcp", "(none)", fl[F_TCP_SP]);
    }
    if (p->l4 == LT_L4_UDP) {
        if (!*fl[F_UDP_SP]) {
            mismatch(x, name, frame, "udp", "udp", "(none)");
        } else {
            compare_num(x, name, frame, "udp.srcport", p->udp.sport, fl[F_UDP_SP]);
            compare_num(x, name, frame, "udp.dstport", p->udp.dport, fl[F_UDP_DP]);
        }
    } else if (*fl[F_UDP_SP]) {
        if (inner)
            explained(x, X_INNER, name, frame, "udp");
        else if (p->l4 == LT_L4_NONE && p->ip.is_fragment && p->ip.frag_offset == 0)
            explained(x, X_FRAG, name, frame, "udp");
        else if (problem)
            explained(x, X_PROBLEM, name, frame, "udp");
        else if (p->l3 == LT_L3_OTHER || p->l3 == LT_L3_NONE)
            explained(x, X_LINK, name, frame, "udp");
        else
            mismatch(x, name, frame, "udp", "(none)", fl[F_UDP_SP]);
    }

    /* VLAN tags, outermost first: tshark's S-tags, then its C-tags */
    char tags[256];
    snprintf(tags, sizeof tags, "%s%s%s", fl[F_VLAN_AD],
             *fl[F_VLAN_AD] && *fl[F_VLAN] ? "," : "", fl[F_VLAN]);
    unsigned nv = count_values(tags);
    x->fields++;
    if (nv != p->eth.ntags) {
        char m[16], t[16];
        snprintf(m, sizeof m, "%u", p->eth.ntags);
        snprintf(t, sizeof t, "%u", nv);
        mismatch(x, name, frame, "number of vlan tags", m, t);
    } else {
        const char *s = tags;
        for (unsigned i = 0; i < p->eth.nvlan; i++) {
            compare_num(x, name, frame, "vlan id", p->eth.vlan[i], s);
            s = strchr(s, ',');
            if (!s)
                break;
            s++;
        }
    }

    /* SLL */
    if (p->has_sll) {
        compare_num(x, name, frame, "sll.pkttype", p->sll.pkttype, fl[F_SLL_TYPE]);
        if (p->frame->linktype == LT_LINK_LINUX_SLL2)
            compare_num(x, name, frame, "sll.ifindex", p->sll.ifindex, fl[F_SLL_IF]);
    }
}

static void tshark_file(const char *dir, const char *name, xstats *x)
{
    char path[4096], cmd[8192], err[PCAP_ERRBUF_SIZE];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (strchr(path, '\''))
        return;
    pcap_t *pc = pcap_open_offline(path, err);
    if (!pc)
        return;                             /* reported with the captures */

    /* Our decode of the first packets (bytes copied: libpcap reuses its). */
    static ours mine[TSHARK_PACKETS];
    static uint8_t bytes[TSHARK_PACKETS][2048];
    static lt_frame frames[TSHARK_PACKETS];
    int lt = link_of(pc), n = 0;
    struct pcap_pkthdr *h;
    const u_char *data;
    while (n < TSHARK_PACKETS && pcap_next_ex(pc, &h, &data) == 1) {
        uint32_t c = h->caplen < sizeof bytes[n] ? h->caplen : (uint32_t)sizeof bytes[n];
        memcpy(bytes[n], data, c);
        frames[n] = (lt_frame){ .data = bytes[n], .caplen = c, .len = h->len,
                                .linktype = lt };
        if (c < h->caplen)      /* keep the wire length honest for the cut */
            frames[n].len = h->len > c ? h->len : c;
        lt_decode(&mine[n].p, &frames[n]);
        lt_ip_ntop(mine[n].p.ip.version, mine[n].p.ip.src, mine[n].src, sizeof mine[n].src);
        lt_ip_ntop(mine[n].p.ip.version, mine[n].p.ip.dst, mine[n].dst, sizeof mine[n].dst);
        n++;
    }
    pcap_close(pc);

    snprintf(cmd, sizeof cmd,
             "tshark -n -r '%s' -c %d -o ip.defragment:FALSE -o ipv6.defragment:FALSE "
             "-T fields -E occurrence=a -E separator=/t " TSHARK_FIELDS " 2>/dev/null",
             path, TSHARK_PACKETS);
    FILE *ts = popen(cmd, "r");
    if (!ts)
        return;
    x->files++;
    char *line = NULL;
    size_t cap = 0;
    int rows = 0;
    while (getline(&line, &cap, ts) > 0) {
        char *fl[F_COUNT];
        int nf = 0;
        char *s = line;
        s[strcspn(s, "\r\n")] = '\0';
        while (nf < F_COUNT) {
            fl[nf++] = s;
            s = strchr(s, '\t');
            if (!s)
                break;
            *s++ = '\0';
        }
        while (nf < F_COUNT)
            fl[nf++] = "";
        unsigned frame = (unsigned)strtoul(fl[F_FRAME], NULL, 10);
        if (frame < 1 || frame > (unsigned)n) {
            mismatch(x, name, frame, "frame", "(none)", "a tshark row");
            continue;
        }
        rows++;
        x->packets++;
        compare_row(x, name, frame, &mine[frame - 1], fl);
    }
    free(line);
    pclose(ts);
    if (rows != n) {
        char m[16], t[16];
        snprintf(m, sizeof m, "%d", n);
        snprintf(t, sizeof t, "%d", rows);
        mismatch(x, name, 0, "packet count", m, t);
    }
}

static void tshark_check(const char *dir)
{
    if (system("tshark -v >/dev/null 2>&1") != 0) {
        printf("skip: tshark not found, no cross-check\n");
        return;
    }
    struct dirent **list;
    int n = scandir(dir, &list, NULL, alphasort);
    if (n < 0)
        return;
    xstats x = { 0 };
    for (int i = 0; i < n; i++) {
        const char *nm = list[i]->d_name;
        for (int k = 0; tshark_prefixes[k]; k++) {
            if (strncmp(nm, tshark_prefixes[k], strlen(tshark_prefixes[k])) == 0 &&
                capture_name(nm)) {
                tshark_file(dir, nm, &x);
                break;
            }
        }
        free(list[i]);
    }
    free(list);
    n_checks += (int)x.fields;
    n_failed += (int)x.unexplained;
    printf("tshark: %u files, %u packets, %u fields compared, %u unexplained mismatches\n",
           x.files, x.packets, x.fields, x.unexplained);
    for (int i = 0; i < X_COUNT; i++)
        if (x.explained[i])
            printf("tshark: %u explained differences: %s\n", x.explained[i], x_names[i]);
}

/* ---- main --------------------------------------------------------------- */

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: test_decode SAMPLES_DIR SHARED_PCAPS_DIR\n");
        return 1;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    x_verbose = getenv("LT_TEST_VERBOSE") != NULL;

    test_helpers();
    test_eth_vlan_tcp_syn();
    test_tcp_sack();
    test_qinqinq();
    test_qinq_arp();
    test_arp();
    test_sll();
    test_sll2();
    test_null_loop();
    test_raw();
    test_ipv6_ext();
    test_ipv4_options_frag();
    test_udp_icmp();
    test_llc_snap();
    test_cuts();
    test_invalid();
    printf("hand-built packets: %d checks, %d failed\n", n_checks, n_failed);

    const char *shared = argv[2];
    char mal[4096];
    snprintf(mal, sizeof mal, "%s/malformed", shared);
    totals t = { 0 };
    if (run_folder(shared, &t) < 0) {
        printf("skip: no shared pcaps (%s)\n", shared);
    } else {
        if (run_folder(mal, &t) < 0)
            printf("skip: no %s\n", mal);
        printf("captures: %u files (%u refused by libpcap), %u packets, %u truncated, "
               "%u invalid, %u cut decodes\n", t.files, t.refused, t.packets,
               t.truncated, t.invalid, t.cuts);
        tshark_check(shared);
    }

    printf("%d checks, %d failed\n", n_checks, n_failed);
    return n_failed ? 1 : 0;
}
