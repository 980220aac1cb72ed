/*
 * engine_int.h — the engine's state, shared by engine.c (reading, the
 * loop) and replctl.c (what the REPL's functions do to the capture).
 * Nothing else includes it.
 */
#ifndef LUNATAP_ENGINE_INT_H
#define LUNATAP_ENGINE_INT_H

#include <signal.h>
#include <uv.h>

#include "decode.h"
#include "dump.h"
#include "engine.h"
#include "filter.h"
#include "lfiles.h"
#include "repl.h"
#include "ring.h"
#include "report.h"
#include "source.h"
#include "stopcond.h"
#include "timers.h"
#include "track.h"

/* Frames read per turn of the loop: large enough to amortise the loop,
 * small enough that a signal is seen within a few milliseconds. */
#define LT_BATCH 256

typedef struct lt_counters {
    uint64_t packets, bytes;        /* read from the source */
    uint64_t passed, filtered;      /* by the filter */
    uint64_t passed_bytes;          /* captured bytes of the frames that passed */
    uint64_t truncated, invalid;
    uint64_t written, not_written;
    lt_drops drops;                 /* live only: the live source fills them */
    uint64_t live_received;         /* live only: what the kernel passed to the helper */
} lt_counters;

typedef struct lt_engine {
    const lt_config *cfg;
    uv_loop_t loop;
    uv_idle_t reader;
    uv_poll_t sigpoll;              /* the signal self-pipe (signals.h) */
    uv_poll_t poller;               /* live: the helper's socket */
    int live;                       /* -i: reading from lunatap-capture */
    lt_source *src;
    lt_filter *flt;
    lt_dump *dump;
    lt_host *host;
    lt_track *track;
    lt_files *files;                /* --allow-write, or NULL */
    lt_timers *timers;              /* every() and after() */
    lt_output out;
    lt_counters c;
    lt_drops drops_warned;          /* the drop counters the last warning showed */
    lt_stopcond sc;                 /* -c, --max-bytes, --duration */
    lt_packet pkt;
    int stopping;
    int stop_asked;                 /* a script called stop() */
    int looping;                    /* run_loop's handles are set up */
    int reader_open;                /* the reader's handle is initialised, not closed */
    int bad_input;
    char input_error[1100];
    /* lunatap repl */
    lt_repl *repl;
    int repl_script;
    int history_fd;
    uv_check_t flusher;             /* output out after every loop turn */
    int paused;                     /* pause(): offline no reading; live frames discarded */
    int input_done;                 /* end of the file or a stop condition: the REPL stays */
    uint64_t step_left;             /* step(n): frames to let through, then pause */
    uint64_t step_asked;            /* step(n) typed: done once the command returns */
    int showing;                    /* stepping: each frame is shown */
    volatile sig_atomic_t interrupted; /* Ctrl-C: a step in progress ends */
    volatile sig_atomic_t interrupt_at_prompt; /* Ctrl-C while the user was typing */
    char *filter_text;              /* filter(): the expression in force, or NULL */
    uint64_t discarded_paused;      /* live frames that came while paused */
    lt_ring *ring;                  /* last(n): copies of the latest frames that passed */
    int quit_at_end;                /* commands ended during run(): stop at the file's end */
} lt_engine;

/* engine.c */
int lt_engine_handle_frame(lt_engine *e, const lt_frame *f);
void lt_engine_set_paused(lt_engine *e, int paused);
void lt_engine_read(lt_engine *e, int max);
void lt_engine_end_input(lt_engine *e);
void lt_engine_stop(lt_engine *e);
void lt_engine_note_input_error(lt_engine *e, const char *msg);

/* replctl.c: the REPL's own functions in its environment */
void lt_replctl_env(lt_engine *e);
/* After a command: a step(n) it asked for runs now (offline). */
void lt_replctl_after_command(lt_engine *e);

#endif

