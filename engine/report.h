/*
 * report.h — what lunatap tells the user on stderr while it runs: the
 * statistics line SIGUSR1 asks for, and the drop warning of a live capture.
 *
 * Both are printed with fresh numbers every time (node_pcap's drop warning
 * repeated a stale snapshot).
 */
#ifndef LUNATAP_REPORT_H
#define LUNATAP_REPORT_H

#include <lua.h>
#include <stdint.h>
#include <stdio.h>

/* The live capture's drop counters, accumulated (Linux resets the kernel's
 * when read: the live source adds each reading to these). Offline all 0. */
typedef struct lt_drops {
    uint64_t kernel;        /* dropped_kernel: no room in the kernel's buffer */
    uint64_t interface;     /* dropped_interface: by the interface or its driver */
    uint64_t handoff;       /* dropped_handoff: capture helper -> engine */
} lt_drops;

/* One line from the statistics table at `idx` (the table stats() returns):
 *   lunatap: stats: received=N decoded=N ... dropped_handoff=N
 * A field the table lacks prints as 0. */
void lt_report_stats_line(lua_State *L, int idx, FILE *f);

/* Warns when a drop counter grew since the last warning (*warned holds
 * the numbers it showed, and is updated):
 *   lunatap: warning: packets dropped: 12 more since the last warning
 *   (kernel 40, interface 0, hand-off 2 in all)
 * Returns 1 when it printed. Meant for a 1-second timer while capturing. */
int lt_report_drops(lt_drops *warned, const lt_drops *now, FILE *f);

#endif
