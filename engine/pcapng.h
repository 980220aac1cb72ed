/*
 * pcapng.h — a bounded pcapng reader of our own.
 *
 * Why not libpcap: libpcap 1.10 refuses files whose interfaces differ in
 * link type or snapshot length, which tshark reads. This reader accepts every
 * section and interface and reports each frame with its own link type.
 *
 * Contract:
 * - lt_pcapng_open() takes a stream positioned at the first byte of the
 *   file (the Section Header Block) and takes ownership of it (closed by
 *   lt_pcapng_close()).
 * - Every block length is checked before its body is read: shorter than 12,
 *   not a multiple of 4, larger than LT_PCAPNG_MAX_BLOCK, or a trailer that
 *   differs from the header is an error naming the block type and the file
 *   offset. Memory use is bounded by LT_PCAPNG_MAX_BLOCK plus per-interface
 *   state (at most LT_PCAPNG_MAX_IFACES interfaces).
 * - Frames returned by next() stay valid until the next call to next() or
 *   close().
 */
#ifndef LUNATAP_PCAPNG_H
#define LUNATAP_PCAPNG_H

#include <stdio.h>
#include "frame.h"

#define LT_PCAPNG_MAGIC 0x0A0D0D0Au
#define LT_PCAPNG_MAX_BLOCK (16u * 1024 * 1024)
#define LT_PCAPNG_MAX_IFACES 65536u

typedef struct lt_pcapng lt_pcapng;

/* Reads the Section Header Block. NULL on failure with a message in err
 * ("not a pcapng file", "unsupported pcapng version 0.1", ...); the stream
 * is closed on failure too. */
lt_pcapng *lt_pcapng_open(FILE *f, char *err, size_t errlen);

/* LT_NEXT_FRAME, LT_NEXT_EOF or LT_NEXT_ERROR (see lt_pcapng_error()). */
int lt_pcapng_next(lt_pcapng *r, lt_frame *out);

/* Message for the last LT_NEXT_ERROR, naming block and offset. */
const char *lt_pcapng_error(const lt_pcapng *r);

/* Number of interfaces described so far in the current section. */
uint32_t lt_pcapng_ifaces(const lt_pcapng *r);

/* Link type of the first interface described, or -1 before any. */
int lt_pcapng_first_linktype(const lt_pcapng *r);

void lt_pcapng_close(lt_pcapng *r);

#endif
