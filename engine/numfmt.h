/*
 * numfmt.h — a double as printf's "%.17g" writes it, faster.
 *
 * glibc prints the exact decimal expansion with multi-precision arithmetic:
 * a tenth of the cost of a JSON line that holds three times. Values from
 * 1e-4 to below 1e17 (timestamps, latencies) are scaled here by a power of
 * ten that long double holds exactly, and rounded; when the scaled value
 * lies too near a rounding tie for the long double error to be ruled out,
 * or the value is outside that range, snprintf writes it. The text is the
 * same either way (tests/test_numfmt.c compares millions of values).
 */
#ifndef LUNATAP_NUMFMT_H
#define LUNATAP_NUMFMT_H

#include <stddef.h>

#define LT_NUMFMT_SIZE 32

/* Writes d as "%.17g" into out (NUL-terminated); returns its length. */
size_t lt_format_g17(double d, char out[LT_NUMFMT_SIZE]);

#endif
