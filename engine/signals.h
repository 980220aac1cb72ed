/*
 * signals.h — SIGINT, SIGTERM and SIGUSR1 for one run.
 *
 * lunatap installs its own handlers rather than libuv's uv_signal: a reader
 * waiting on a pipe (`-r -` fed slowly) does not return to the loop, and
 * libuv's handlers restart the read, so a signal would wait for the next
 * packet. These handlers only record the signal and write a byte to a
 * self-pipe (both async-signal-safe). The loop watches the pipe's read end
 * with uv_poll; a reader waiting for input watches it too (see
 * lt_source_waiter in source.h) and lets the engine act at once.
 *
 * - SIGINT, SIGTERM: LT_SIG_STOP. A second one (the run is already
 *   finishing) exits from the handler at once with status 128 + the
 *   signal's number (130 for SIGINT); output not yet written is lost.
 * - SIGUSR1: LT_SIG_STATS, once per signal received (coalesced between two
 *   lt_signals_take calls).
 *
 * In the REPL's interrupt mode (below), SIGINT interrupts instead.
 *
 * Handlers are per process, so this state is too: one run at a time.
 */
#ifndef LUNATAP_SIGNALS_H
#define LUNATAP_SIGNALS_H

#include <stddef.h>

enum { LT_SIG_STOP = 1, LT_SIG_STATS = 2, LT_SIG_INTERRUPT = 4 };

/* The REPL: SIGINT no longer stops the run; it calls fn(ud) from the
 * handler (fn must be async-signal-safe) and is reported as
 * LT_SIG_INTERRUPT, once per signal (coalesced). SIGTERM still stops. */
void lt_signals_interrupt_mode(void (*fn)(void *), void *ud);

/* Installs the handlers and makes the self-pipe. 0, or -1 with a message. */
int lt_signals_install(char *err, size_t errlen);

/* The self-pipe's read end (non-blocking), readable when a signal came. */
int lt_signals_fd(void);

/* What came since the last call (LT_SIG_* bits); drains the pipe.
 * LT_SIG_STOP, once set, stays set. */
unsigned lt_signals_take(void);

/* Restores the previous handlers and closes the pipe. */
void lt_signals_uninstall(void);

#endif
