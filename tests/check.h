/*
 * check.h — the tiny check harness the C unit tests share: count checks,
 * print each failure with file, line and context, and let main() report.
 * Each test program is one translation unit, so the state is static here.
 */
#ifndef LUNATAP_TEST_CHECK_H
#define LUNATAP_TEST_CHECK_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

static int n_checks, n_failed;
static const char *g_ctx = ""; /* what is being checked, for messages */

static void fail_at(const char *file, int line, const char *what)
{
    n_failed++;
    fprintf(stderr, "%s:%d: FAIL%s%s: %s\n", file, line, g_ctx[0] ? " in " : "", g_ctx, what);
}

#define CHECK(cond) do { \
        n_checks++; \
        if (!(cond)) fail_at(__FILE__, __LINE__, #cond); \
    } while (0)

#define CHECK_EQ(a, b) do { \
        long long a_ = (long long)(a), b_ = (long long)(b); \
        n_checks++; \
        if (a_ != b_) { \
            char m_[256]; \
            snprintf(m_, sizeof m_, "%s == %s (%lld != %lld)", #a, #b, a_, b_); \
            fail_at(__FILE__, __LINE__, m_); \
        } \
    } while (0)

#define CHECK_STR(a, b) do { \
        const char *a_ = (a), *b_ = (b); \
        n_checks++; \
        if (!a_ || !b_ || strcmp(a_, b_) != 0) { \
            char m_[256]; \
            snprintf(m_, sizeof m_, "%s == \"%s\" (got \"%s\")", #a, b_ ? b_ : "(null)", \
                     a_ ? a_ : "(null)"); \
            fail_at(__FILE__, __LINE__, m_); \
        } \
    } while (0)

/* xorshift64: the same pseudo-random run on every machine, so a failure
 * found once can be found again. *state must not be 0. */
static inline uint64_t check_rand(uint64_t *state)
{
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    return *state;
}

/* The closing line ("NAME: N checks, M failed") and the exit status. */
static inline int check_summary(const char *name)
{
    printf("%s: %d checks, %d failed\n", name, n_checks, n_failed);
    return n_failed ? 1 : 0;
}

#endif
