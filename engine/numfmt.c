#include "numfmt.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>

#define DIGITS 17

static size_t fallback(double d, char *out)
{
    return (size_t)snprintf(out, LT_NUMFMT_SIZE, "%.*g", DIGITS, d);
}

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
    int shift = DIGITS - e; /* 0 .. 21: 10^shift fits a long double exactly */
    long double scale = 1.0L;
    for (int i = 0; i < shift; i++)
        scale *= 10.0L;
    long double x = (long double)v * scale;
    long double r = nearbyintl(x);
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
