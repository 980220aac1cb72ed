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
};

/* Opens a capture file ("-" = stdin). NULL with a message in err naming the
 * file and what is wrong ("not a pcap or pcapng file", ...). */
lt_source *lt_source_open_file(const char *path, char *err, size_t errlen);

static inline int lt_source_next(lt_source *s, lt_frame *f) { return s->ops->next(s, f); }
static inline const char *lt_source_error(const lt_source *s) { return s->ops->error(s); }
static inline void lt_source_close(lt_source *s) { if (s) s->ops->close(s); }

#endif
