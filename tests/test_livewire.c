/*
 * test_livewire — the control channel's messages (livewire.h): requests
 * built by the engine parse back; everything else the helper may be sent
 * (short, unknown type, no NUL, a NUL inside, too long, every truncation
 * of a good request, random bytes) is refused with a reason and never
 * read past its end; replies are checked for size and type and their text
 * is made one NUL-terminated line.
 */
#include "check.h"
#include "livewire.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng = 0x9e3779b97f4a7c15u;

static uint64_t next(void)
{
    return check_rand(&rng);
}

/* CHECK_STR for texts of any length. */
#define SAME(got, want) same_at(__LINE__, (got), (want))
static void same_at(int line, const char *got, const char *want)
{
    n_checks++;
    if (!got || strcmp(got, want) != 0) {
        fprintf(stderr, "test_livewire.c:%d: got \"%.200s\", want \"%.200s\"\n", line, got ? got : "(null)", want);
        n_failed++;
    }
}

/* Parses exactly n bytes from a heap copy, so ASan sees any overread.
 * *elen: the accepted expression's strlen (it points into the copy, gone
 * on return; *expr is left NULL). */
static size_t elen;
static int parse(const void *msg, size_t n, uint32_t *seq, const char **expr, char *why)
{
    unsigned char *copy = malloc(n ? n : 1);
    memcpy(copy, msg, n);
    int rc = lt_wire_parse_setfilter(copy, n, seq, expr, why, 256);
    elen = 0;
    if (rc == 0) {
        CHECK(*expr == (const char *)copy + sizeof(lt_wire_setfilter));
        elen = strlen(*expr);
    }
    *expr = NULL;
    free(copy);
    return rc;
}

static void round_trip(void)
{
    static unsigned char buf[LT_WIRE_SETFILTER_MAX];
    const char *exprs[] = { "", "udp port 53", "tcp and (port 80 or port 443)" };
    for (size_t i = 0; i < sizeof exprs / sizeof *exprs; i++) {
        size_t n = lt_wire_build_setfilter(buf, sizeof buf, (uint32_t)i + 1, exprs[i]);
        CHECK_EQ(n, sizeof(lt_wire_setfilter) + strlen(exprs[i]) + 1);
        unsigned char *copy = malloc(n);
        memcpy(copy, buf, n);
        uint32_t seq;
        const char *expr;
        char why[256];
        CHECK_EQ(lt_wire_parse_setfilter(copy, n, &seq, &expr, why, sizeof why), 0);
        CHECK_EQ(seq, i + 1);
        SAME(expr, exprs[i]);
        free(copy);
    }
    /* the longest expression fits, one more byte does not */
    char *big = malloc(LT_WIRE_FILTER_MAX + 2);
    memset(big, 'x', LT_WIRE_FILTER_MAX + 1);
    big[LT_WIRE_FILTER_MAX] = '\0';
    size_t n = lt_wire_build_setfilter(buf, sizeof buf, 9, big);
    CHECK_EQ(n, LT_WIRE_SETFILTER_MAX);
    uint32_t seq;
    const char *expr;
    char why[256];
    CHECK_EQ(parse(buf, n, &seq, &expr, why), 0);
    big[LT_WIRE_FILTER_MAX] = 'x';
    big[LT_WIRE_FILTER_MAX + 1] = '\0';
    CHECK_EQ(lt_wire_build_setfilter(buf, sizeof buf, 9, big), 0);
    CHECK_EQ(lt_wire_build_setfilter(buf, 12, 9, "udp port 53"), 0); /* no room */
    free(big);
}

static void refused(void)
{
    uint32_t seq;
    const char *expr;
    char why[256];
    unsigned char m[64] = { 0 };
    lt_wire_setfilter h = { LT_WIRE_SETFILTER, 42 };

    g_ctx = "empty and short";
    CHECK_EQ(parse(m, 0, &seq, &expr, why), -1);
    CHECK_EQ(seq, 0);
    CHECK(expr == NULL);
    memcpy(m, &h, sizeof h);
    CHECK_EQ(parse(m, sizeof h, &seq, &expr, why), -1); /* a header, no text, no NUL */
    CHECK(strstr(why, "too short") != NULL);

    g_ctx = "unknown type";
    lt_wire_setfilter other = { LT_WIRE_BATCH, 42 };
    memcpy(m, &other, sizeof other);
    memcpy(m + sizeof other, "udp", 4);
    CHECK_EQ(parse(m, sizeof other + 4, &seq, &expr, why), -1);
    CHECK_EQ(seq, 0);
    SAME(why, "malformed request: unknown type 0x4c544231");

    g_ctx = "no NUL";
    memcpy(m, &h, sizeof h);
    memcpy(m + sizeof h, "udp", 3);
    CHECK_EQ(parse(m, sizeof h + 3, &seq, &expr, why), -1);
    CHECK_EQ(seq, 42); /* read: the reply can name the request */
    SAME(why, "malformed request: the expression is not NUL-terminated");

    g_ctx = "a NUL inside";
    memcpy(m + sizeof h, "udp\0or tcp", 11);
    CHECK_EQ(parse(m, sizeof h + 11, &seq, &expr, why), -1);
    SAME(why, "malformed request: a NUL byte inside the expression");

    g_ctx = "too long";
    size_t n = LT_WIRE_SETFILTER_MAX + 1;
    unsigned char *big = malloc(n);
    memset(big, 'x', n);
    memcpy(big, &h, sizeof h);
    big[n - 1] = '\0';
    CHECK_EQ(parse(big, n, &seq, &expr, why), -1);
    SAME(why, "the filter expression is 65536 bytes; at most 65535 are accepted");
    /* a size larger than what was received (recv's MSG_TRUNC) is refused
     * before any byte past the header is read */
    CHECK_EQ(lt_wire_parse_setfilter(big, (size_t)1 << 40, &seq, &expr, why, sizeof why), -1);
    free(big);

    g_ctx = "every truncation of a good request";
    unsigned char good[64];
    size_t gn = lt_wire_build_setfilter(good, sizeof good, 5, "udp port 53");
    for (size_t k = 0; k < gn; k++)
        CHECK_EQ(parse(good, k, &seq, &expr, why), -1);
    CHECK_EQ(parse(good, gn, &seq, &expr, why), 0);
    g_ctx = "";
}

static void random_bytes(void)
{
    g_ctx = "random bytes";
    unsigned char m[300];
    long accepted = 0;
    for (int i = 0; i < 200000; i++) {
        size_t n = next() % sizeof m;
        for (size_t k = 0; k < n; k++)
            m[k] = (unsigned char)next();
        if (n >= 4 && next() % 2) { /* half of them with the right type */
            uint32_t t = LT_WIRE_SETFILTER;
            memcpy(m, &t, sizeof t);
        }
        if (n > 9 && next() % 2)
            m[n - 1] = '\0';
        uint32_t seq;
        const char *expr;
        char why[256] = "";
        int rc = parse(m, n, &seq, &expr, why);
        if (rc == 0) {
            accepted++;
            CHECK_EQ(elen, n - sizeof(lt_wire_setfilter) - 1);
        } else {
            n_checks++;
            if (!why[0] || strchr(why, '\n'))
                fail_at(__FILE__, __LINE__, "a refusal without a one-line reason");
        }
    }
    CHECK(accepted > 0);
    g_ctx = "";
}

static void replies(void)
{
    lt_wire_filter_reply r, out;
    memset(&r, 'A', sizeof r);
    r.type = LT_WIRE_FILTER_ERR;
    r.seq = 3;
    memcpy(r.text, "bad\nsecond line", 16);
    CHECK_EQ(lt_wire_parse_filter_reply(&r, sizeof r, &out), 0);
    SAME(out.text, "bad");
    CHECK_EQ(out.seq, 3);
    memset(r.text, 'A', sizeof r.text); /* no NUL at all */
    CHECK_EQ(lt_wire_parse_filter_reply(&r, sizeof r, &out), 0);
    CHECK_EQ(strlen(out.text), sizeof out.text - 1);
    r.type = LT_WIRE_FILTER_OK;
    CHECK_EQ(lt_wire_parse_filter_reply(&r, sizeof r, &out), 0);
    CHECK_EQ(lt_wire_parse_filter_reply(&r, sizeof r - 1, &out), -1);
    CHECK_EQ(lt_wire_parse_filter_reply(&r, 8, &out), -1);
    r.type = LT_WIRE_HELLO;
    CHECK_EQ(lt_wire_parse_filter_reply(&r, sizeof r, &out), -1);
}

int main(void)
{
    round_trip();
    refused();
    random_bytes();
    replies();
    return check_summary("test_livewire");
}
