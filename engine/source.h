/*
 * source.h — where frames come from.
 *
 * One interface for every source: "next frame". Offline files are read by
 * libpcap (classic pcap) or by our own pcapng reader (pcapng: see pcapng.h
 * for why); "-" reads either format from standard input. Live capture
 * (later) implements the same operations, so everything after the source
 * is one code path.
 */
#ifndef LUNATAP_SOURCE_H
#define LUNATAP_SOURCE_H

#include <stddef.h>
#include "frame.h"

typedef struct lt_source lt_source;

/* How a reader waits on an input that can stay quiet (a pipe, a FIFO, a
 * terminal; never a regular file): it polls the input and `wake_fd`, and
 * whenever wake_fd becomes readable, or `timeout_ms` (NULL: none) passes,
 * it calls `service`, the engine's work while input is quiet (signals,
 * wall-clock timers). `service` returning nonzero ends reading: the
 * source then reports end of input, or an error if a frame was cut (the
 * engine knows why it stopped). */
typedef struct lt_source_waiter {
    int wake_fd;
    int (*timeout_ms)(void *ud);  /* -1 = wait for input or wake_fd only */
    int (*service)(void *ud);
    void *ud;
} lt_source_waiter;

typedef struct lt_source_ops {
    int (*next)(lt_source *s, lt_frame *out);  /* LT_NEXT_* */
    const char *(*error)(const lt_source *s);   /* after LT_NEXT_ERROR */
    void (*close)(lt_source *s);
} lt_source_ops;

struct lt_source {
    const lt_source_ops *ops;
    const char *name;    /* file name as given, for messages */
    int linktype;        /* first link type known, or -1 */
    unsigned snaplen;
    const char *format;  /* "pcap" or "pcapng" */
    struct lt_replay *in; /* the input stream (see lt_source_set_waiter) */
};

/* Opens a capture file ("-" = stdin). NULL with a message in err naming the
 * file and what is wrong ("not a pcap or pcapng file", ...). */
lt_source *lt_source_open_file(const char *path, char *err, size_t errlen);

/* Sets how reading waits on an input that can stay quiet (copied). */
void lt_source_set_waiter(lt_source *s, const lt_source_waiter *w);

static inline int lt_source_next(lt_source *s, lt_frame *f) { return s->ops->next(s, f); }
static inline const char *lt_source_error(const lt_source *s) { return s->ops->error(s); }
static inline void lt_source_close(lt_source *s) { if (s) s->ops->close(s); }

#endif
