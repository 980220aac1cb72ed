/*
 * test_numfmt — lt_format_g17 writes what snprintf("%.17g") writes: for
 * random bit patterns, capture timestamps at microsecond and nanosecond
 * resolution, their differences (latencies), values at and next to powers
 * of ten, halves, and the edges of its own range, in both signs.
 */
#include "check.h"
#include "numfmt.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng = 88172645463325252u;

static uint64_t next(void)
{
    return check_rand(&rng);
}

static long mismatches;

static void same(double d)
{
    for (int sign = 0; sign < 2; sign++, d = -d) {
        char want[64], got[LT_NUMFMT_SIZE];
        snprintf(want, sizeof want, "%.17g", d);
        size_t n = lt_format_g17(d, got);
        n_checks++;
        if (strcmp(want, got) != 0 || n != strlen(want)) {
            char m[160];
            snprintf(m, sizeof m, "%a: snprintf %s, lt_format_g17 %s", d, want, got);
            if (mismatches++ < 10)
                fail_at(__FILE__, __LINE__, m); /* the first few are enough to see */
            else
                n_failed++;
        }
    }
}

int main(void)
{
    for (int i = 0; i < 300000; i++) {
        uint64_t bits = next();
        double d;
        memcpy(&d, &bits, sizeof d);
        same(d);
    }
    for (int i = 0; i < 300000; i++) {
        double sec = 1.5e9 + (double)(next() % 400000000u);
        double us = sec + (double)(next() % 1000000u) / 1e6;
        double ns = sec + (double)(next() % 1000000000u) / 1e9;
        same(us);
        same(ns);
        same(ns - us);
        same((double)(next() % 100000000u) / 1e9);
    }
    for (int e = -8; e <= 20; e++) {
        double p = pow(10.0, e);
        for (int j = -50; j <= 50; j++) {
            same(nextafter(p, j < 0 ? 0 : INFINITY) + j * p * 1e-17);
            same(p + j * 1e-3);
        }
        same(p);
        same(p * 0.5);
        same(p * 9.999999999999999);
    }
    for (int i = 0; i < 100000; i++)
        same((double)(next() % 100000000) + 0.5);
    same(1e-4);
    same(nextafter(1e-4, 0));
    same(1e17);
    same(nextafter(1e17, 0));
    same(0.0);
    same(5e-324);
    same(1.7976931348623157e308);
    printf("%d checks, %d failed\n", n_checks, n_failed);
    return n_failed ? 1 : 0;
}
