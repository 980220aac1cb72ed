/*
 * filter.h — BPF filters applied to frames of any link type.
 *
 * libpcap compiles a filter for one link type. A pcapng file can mix link
 * types, so a filter is compiled once per link type met (lazily, cached)
 * and run with pcap_offline_filter().
 */
#ifndef LUNATAP_FILTER_H
#define LUNATAP_FILTER_H

#include <stddef.h>
#include "frame.h"

typedef struct lt_filter lt_filter;

/* Compiles `expr` for `linktype` (or Ethernet when < 0) to check it.
 * NULL with "bad filter expression 'EXPR': REASON" in err. */
lt_filter *lt_filter_new(const char *expr, int linktype, char *err, size_t errlen);

/* 1 when the frame passes, 0 when not, -1 when the filter cannot be
 * compiled for the frame's link type (message in err). */
int lt_filter_match(lt_filter *flt, const lt_frame *f, char *err, size_t errlen);

void lt_filter_free(lt_filter *flt);

#endif
