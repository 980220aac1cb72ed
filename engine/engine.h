/*
 * engine.h — one run: a source, the filter, the decoder and the scripts on
 * one libuv loop.
 *
 * Offline files are read in batches from an idle handle, so signals (and,
 * later, timers, live sources and the REPL) share the loop with reading.
 */
#ifndef LUNATAP_ENGINE_H
#define LUNATAP_ENGINE_H

#include <stdint.h>
#include "lhost.h"
#include "live.h"

#define LT_MAX_LIBDIRS 32
#define LT_DEFAULT_MAX_WRITE ((uint64_t)1 << 30) /* --max-write: bytes, all files together */
#define LT_DEFAULT_MAX_BODY ((uint64_t)16 << 20) /* --max-body: HTTP body bytes kept */

typedef struct lt_script_arg {
    const char *path;   /* file to load */
    const char *name;   /* as reported: bundled name or the path given */
    int argc;
    char **argv;
} lt_script_arg;

typedef struct lt_config {
    const char *read_file;          /* -r */
    lt_live_config live;            /* -i and its options (live.h) */
    const char *filter;             /* -f */
    uint64_t count;                 /* -c, 0 = no limit */
    uint64_t max_bytes;             /* --max-bytes, 0 = no limit */
    double duration;                /* --duration seconds, 0 = no limit */
    int wall_clock;                 /* --clock wall: timers on wall time (live: always) */
    const char *write_file;         /* -w */
    const char *libdirs[LT_MAX_LIBDIRS]; /* -L */
    int nlibdirs;
    const char *home;               /* holds lua/, dissectors/, scripts/ */
    lt_limits lim;
    uint64_t max_output;            /* --max-output, 0 = no cap */
    const char *allow_write;        /* --allow-write DIR, NULL = scripts write no files */
    uint64_t max_write;             /* --max-write: bytes written to all files */
    uint64_t max_body;              /* --max-body, 0 = no bodies kept */
    uint64_t flow_mem;              /* --flow-mem, 0 = LT_FLOW_DEFAULT_MEM */
    int repl;                       /* lunatap repl: the interactive prompt */
    const char *history;            /* --history FILE; "" = --no-history; NULL = default */
    lt_script_arg scripts[LT_MAX_SCRIPTS];
    int nscripts;
} lt_config;

/* Exit statuses */
enum { LT_EXIT_OK = 0, LT_EXIT_BAD_INPUT = 1, LT_EXIT_USAGE = 2 };

/* Runs to the end of input or a stop; returns the exit status. */
int lt_engine_run(const lt_config *cfg);

#endif
