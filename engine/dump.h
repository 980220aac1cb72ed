/*
 * dump.h — `-w FILE`: the frames that passed the filter, as a pcap file.
 *
 * The file is created at start (so a bad path is a usage error before any
 * reading) and its header written at the first frame, when the link type
 * is known. A pcap file holds one link type: frames of another (possible in
 * pcapng input) are counted as skipped and reported.
 */
#ifndef LUNATAP_DUMP_H
#define LUNATAP_DUMP_H

#include <stddef.h>
#include <stdint.h>
#include "frame.h"

typedef struct lt_dump lt_dump;

lt_dump *lt_dump_create(const char *path, char *err, size_t errlen);

/* 0 written, 1 skipped (other link type), -1 write error (message in err). */
int lt_dump_write(lt_dump *d, const lt_frame *f, char *err, size_t errlen);

uint64_t lt_dump_skipped(const lt_dump *d);

/* Flushes and closes; -1 when the final flush failed. */
int lt_dump_close(lt_dump *d, char *err, size_t errlen);

#endif
