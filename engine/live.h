/*
 * live.h — capturing from a network interface through lunatap-capture.
 *
 * The engine never opens a device itself. lt_live_open() starts the
 * capture helper (capture_helper.c), which opens and filters the device
 * and drops every privilege; the engine then reads batches of packets from
 * a socket the loop polls (lt_live_fd), as a source like any other. Its
 * statistics (livewire.h) can be read at any time with lt_live_read_stats().
 */
#ifndef LUNATAP_LIVE_H
#define LUNATAP_LIVE_H

#include <stddef.h>
#include <stdint.h>
#include "source.h"

#define LT_LIVE_DEFAULT_BUFFER ((uint64_t)32 << 20) /* -B: libpcap's own default is 2 MiB */
#define LT_LIVE_HELPER_ENV "LUNATAP_CAPTURE_HELPER"
#define LT_LIVE_HELPER_NAME "lunatap-capture"

typedef struct lt_live_config {
    const char *iface;      /* -i, NULL = not live */
    const char *user;       /* --user: who the helper and the engine become as root */
    int no_promisc;         /* --no-promisc */
    int immediate;          /* --immediate */
    int monitor;            /* -I */
    int timeout_ms;         /* --buffer-timeout, -1 = libpcap's default */
    uint64_t buffer_size;   /* -B, bytes */
    uint32_t snaplen;       /* -s, 0 = the helper's default (262144) */
} lt_live_config;

/* Option ids for getopt_long, clear of cli.c's own. */
enum { LT_OPT_NO_PROMISC = 512, LT_OPT_BUFFER_TIMEOUT, LT_OPT_IMMEDIATE, LT_OPT_USER };
#define LT_LIVE_LONG_OPTIONS                                                   \
    { "interface", required_argument, NULL, 'i' },                            \
    { "list-interfaces", no_argument, NULL, 'D' },                            \
    { "buffer-size", required_argument, NULL, 'B' },                          \
    { "snaplen", required_argument, NULL, 's' },                              \
    { "monitor", no_argument, NULL, 'I' },                                    \
    { "no-promisc", no_argument, NULL, LT_OPT_NO_PROMISC },                   \
    { "buffer-timeout", required_argument, NULL, LT_OPT_BUFFER_TIMEOUT },     \
    { "immediate", no_argument, NULL, LT_OPT_IMMEDIATE },                     \
    { "user", required_argument, NULL, LT_OPT_USER }

typedef struct lt_live_stats {
    uint64_t received, dropped_kernel, dropped_interface, dropped_handoff, forwarded;
} lt_live_stats;

/* -D: prints every device with its flags, description and addresses.
 * Returns an exit status. */
int lt_live_list_interfaces(void);

/* Starts the helper and waits until the device is open and filtered. NULL
 * with a one-line message in err and the exit status in *code (2 for an
 * unknown interface, a bad filter, missing permission). */
lt_source *lt_live_open(const lt_live_config *cfg, const char *filter, char *err, size_t errlen,
                        int *code);

/* The descriptor to poll for readability. */
int lt_live_fd(const lt_source *s);

/* Frames left in the batch being read: read them before waiting again. */
int lt_live_pending(const lt_source *s);

/* Fresh counters (at most LT_WIRE_STATS_MS old for the kernel's); 0, or -1
 * when s is not a live source. Safe to call from any callback. */
int lt_live_read_stats(const lt_source *s, lt_live_stats *out);

/* Replaces the kernel filter of a running capture with expr ("" removes
 * it), as -f set it at open: the helper compiles expr against its handle
 * (the device's link type and netmask) and installs it. Blocks until the
 * helper answers, at most 3 s; frames keep arriving on lt_live_fd()
 * meanwhile and are read afterwards. Frames already on their way were
 * captured under the old filter (the caller filters them again). 0 once
 * the new filter is in force; -1 with a one-line message in err, the old
 * filter still in force: libpcap's reason for a bad expression ("bad filter
 * expression 'EXPR': ..."), an expression over LT_WIRE_FILTER_MAX (65535)
 * bytes, "the capture helper has ended", "the capture helper did not
 * answer within 3 s" (then the helper may still install expr later; its
 * late answer is skipped by the next call). */
int lt_live_set_filter(lt_source *s, const char *expr, char *err, size_t errlen);


#endif
