#include "numfmt.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>

#define DIGITS 17

static size_t fallback(double d, char *out)
{
    return (size_t)snprintf(out, LT_NUMFMT_SIZE, "%.*g", DIGITS, d);
}

/* 10^0 .. 10^21, exact as long doubles (5^21 < 2^64). */
static const long double POW10[] = {
    1e0L, 1e1L, 1e2L, 1e3L, 1e4L, 1e5L, 1e6L, 1e7L, 1e8L, 1e9L, 1e10L,
    1e11L, 1e12L, 1e13L, 1e14L, 1e15L, 1e16L, 1e17L, 1e18L, 1e19L, 1e20L, 1e21L,
};

/* The 17 significant digits of v (> 0) and its decimal exponent k, so that
 * v = 0.d1d2...d17 * 10^k, in *digits; 0 when they are not certain. */
static int scaled_digits(double v, uint64_t *digits, int *k)
{
    static const double lower = 1e-4, upper = 1e17;
    if (!(v >= lower && v < upper))
        return 0;
    int e = 0; /* 10^(e-1) <= v < 10^e */
    for (double p = 1.0; p <= v; p *= 10.0)
        e++;
    for (double p = 1.0; p / 10.0 > v; p /= 10.0)
        e--;
    int shift = DIGITS - e; /* 0 .. 21 */
    long double x = (long double)v * POW10[shift];
    /* rintl, not nearbyintl: the same rounding, without saving and
     * restoring the floating-point environment (a tenth of a JSON line) */
    long double r = rintl(x);
    long double off = fabsl(x - r);
    /* the product is off by at most 2^-64 relative, under 0.01 here */
    if (off > 0.49L && off < 0.51L)
        return 0;
    if (r < 1e16L || r >= 1e17L)
        return 0; /* the guess of e was off, or rounding carried a digit */
    *digits = (uint64_t)r;
    *k = e;
    return 1;
}

size_t lt_format_g17(double d, char out[LT_NUMFMT_SIZE])
{
    uint64_t digits;
    int k;
    if (!isfinite(d) || d == 0 || !scaled_digits(fabs(d), &digits, &k))
        return fallback(d, out);
    char sig[DIGITS];
    for (int i = DIGITS - 1; i >= 0; i--) {
        sig[i] = (char)('0' + digits % 10);
        digits /= 10;
    }
    int last = DIGITS; /* %g drops trailing zeros of the fraction */
    while (last > (k > 0 ? k : 0) && sig[last - 1] == '0')
        last--;
    size_t n = 0;
    if (d < 0)
        out[n++] = '-';
    if (k > 0) {
        for (int i = 0; i < k; i++)
            out[n++] = sig[i];
        if (last > k)
            out[n++] = '.';
        for (int i = k; i < last; i++)
            out[n++] = sig[i];
    } else {
        out[n++] = '0';
        out[n++] = '.';
        for (int i = k; i < 0; i++)
            out[n++] = '0';
        for (int i = 0; i < last; i++)
            out[n++] = sig[i];
    }
    out[n] = '\0';
    return n;
}
