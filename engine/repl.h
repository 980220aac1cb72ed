/*
 * repl.h — the interactive prompt of `lunatap repl`: the terminal side.
 *
 * Reads standard input on the engine's libuv loop, with libedit when it is
 * a terminal (line editing, history, tab completion) and plain lines
 * otherwise. A line is Lua, run in the REPL's own script environment under
 * the same sandbox and limits as a script (lt_host_call_keep); an
 * incomplete chunk waits for more lines, as lua.c does; an expression's
 * values are shown by lunatap.repl's format(). Output that comes while the
 * prompt is shown (handlers, reports) clears the prompt and the line being
 * edited first and redraws them after (lt_output.around).
 *
 * What the REPL does to the capture (pause, step, filter...) is the
 * engine's: the REPL only tells it when a command has finished
 * (ops.after_command) and when the user is done (ops.quit).
 */
#ifndef LUNATAP_REPL_H
#define LUNATAP_REPL_H

#include <stdio.h>
#include <uv.h>

#include "lhost.h"
#include "output.h"

#define LT_REPL_HISTORY_MAX 1000     /* entries kept in the history file */
#define LT_REPL_RING_FRAMES 1000     /* last(n): packets kept ... */
#define LT_REPL_RING_BYTES ((size_t)16 << 20) /* ... within this many bytes */

typedef struct lt_repl lt_repl;

typedef struct lt_repl_ops {
    void (*after_command)(void *ud);
    /* The user is done: exit(), Ctrl-D, or (eof 1) the end of commands
     * from a pipe or file, after which a capture still running may
     * finish first. */
    void (*quit)(void *ud, int eof);
    /* A file is being read (run()): commands from a pipe wait. */
    int (*busy)(void *ud);
    void *ud;
} lt_repl_ops;

/* Opens the history file before privileges are dropped (the engine may
 * become nobody, who cannot open it later). path NULL: the default under
 * $XDG_STATE_HOME or ~/.local/state; "" : no history. Returns the fd, -1
 * when there is none (a message in err when that is an error). */
int lt_repl_open_history(const char *path, char *err, size_t errlen);

/* Sets up the REPL for `script` (lt_host_add_script) on `loop`, reading
 * standard input; takes the history fd. NULL with a message on failure. */
lt_repl *lt_repl_new(uv_loop_t *loop, lt_host *h, lt_output *out, int script, int history_fd,
                     const lt_repl_ops *ops, char *err, size_t errlen);

/* Shows the first prompt and starts reading. */
void lt_repl_start(lt_repl *r);

/* A Ctrl-C came (signals.h's interrupt mode) while the prompt was shown
 * (lt_repl_at_prompt, read in the signal handler): the line and any
 * unfinished chunk are dropped and a fresh prompt shown. A Ctrl-C that
 * interrupted a command leaves the next prompt alone. */
void lt_repl_interrupted(lt_repl *r);

/* Async-signal-safe: the prompt is waiting for the user. */
int lt_repl_at_prompt(const lt_repl *r);

/* A message from the engine (end of capture, filter changed...): shown
 * on its own line without garbling the prompt. */
void lt_repl_message(lt_repl *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Shows `pkt` (the value on top of the host's stack, popped) on one line
 * with lunatap.repl's summary(); used while stepping. */
void lt_repl_show_packet(lt_repl *r);

/* Where the host's reports go while the REPL runs: through the prompt
 * redraw. */
FILE *lt_repl_errfile(lt_repl *r);

/* The capture paused or ended: commands from a pipe held by busy() go on. */
void lt_repl_ready(lt_repl *r);

/* Ends the session as Ctrl-D does (exit()). */
void lt_repl_quit(lt_repl *r);

/* The REPL's environment's lunatap.repl module function `name`, pushed. */
void lt_repl_push_fn(lt_repl *r, const char *name);

/* Stops reading, restores the terminal, writes the history file. */
void lt_repl_close(lt_repl *r);
void lt_repl_free(lt_repl *r);

#endif
