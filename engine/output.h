/*
 * output.h — lunatap's buffered standard output with a byte cap.
 *
 * Everything scripts print goes through here: one buffer, flushed when
 * full, at exit, and after every line when stdout is a terminal. Past the
 * cap, output is dropped and counted, never buffered without bound.
 */
#ifndef LUNATAP_OUTPUT_H
#define LUNATAP_OUTPUT_H

#include <stddef.h>
#include <stdint.h>

typedef struct lt_output {
    int fd;
    int tty;                 /* flush after each newline */
    uint64_t cap;            /* bytes allowed in total; 0 = no cap */
    uint64_t written;        /* bytes accepted */
    uint64_t dropped;        /* bytes refused by the cap */
    int write_failed;        /* EPIPE or other: further output is lost */
    int write_errno;         /* why (0 for a write of 0 bytes) */
    uint64_t lost;           /* bytes not written after it failed */
    /* The REPL's terminal: called with 1 before bytes go out (the prompt
     * and the line being edited are cleared) and 0 after (redrawn). */
    void (*around)(void *ud, int before);
    void *around_ud;
    size_t used;
    char buf[64 * 1024];
} lt_output;

void lt_output_init(lt_output *o, int fd, uint64_t cap);

/* Appends n bytes. Returns 0, or -1 when the cap refused (some of) them. */
int lt_output_write(lt_output *o, const char *s, size_t n);

void lt_output_flush(lt_output *o);

#endif
