/*
 * frame.h — one captured frame as every source hands it to the engine.
 *
 * Ownership: `data` belongs to the source and stays valid only until the
 * next call to that source's next() or close(). Whoever needs the bytes
 * longer copies them.
 */
#ifndef LUNATAP_FRAME_H
#define LUNATAP_FRAME_H

#include <stdint.h>

typedef struct lt_frame {
    const uint8_t *data;
    uint32_t caplen;   /* bytes present in data */
    uint32_t len;      /* bytes on the wire (>= caplen for a sane source) */
    int64_t ts_sec;    /* capture time, seconds since the epoch */
    uint32_t ts_nsec;  /* nanoseconds, 0..999999999 */
    int linktype;      /* LINKTYPE_* value (as in pcap files) */
    uint32_t ifindex;  /* interface number within the file (pcapng), else 0 */
} lt_frame;

/* Result of a source's next(): */
enum {
    LT_NEXT_ERROR = -1, /* read failed; the source's error() says why */
    LT_NEXT_EOF = 0,
    LT_NEXT_FRAME = 1,
    LT_NEXT_AGAIN = 2,  /* live: nothing more now; wait for the descriptor */
};

#endif
