/*
 * livewire.c — building and checking the control channel's messages
 * (livewire.h). Compiled into both the engine and the capture helper; the
 * helper runs lt_wire_parse_setfilter() on bytes from a process that runs
 * untrusted Lua, so it reads nothing it has not bounded first.
 */
#include "livewire.h"

#include <stdio.h>
#include <string.h>

int lt_wire_parse_setfilter(const void *msg, size_t n, uint32_t *seq, const char **expr,
                            char *why, size_t whylen)
{
    lt_wire_setfilter h;
    *seq = 0;
    *expr = NULL;
    if (n < sizeof h + 1) {
        snprintf(why, whylen, "malformed request: %zu bytes, too short for one", n);
        return -1;
    }
    memcpy(&h, msg, sizeof h);
    if (h.type != LT_WIRE_SETFILTER) {
        snprintf(why, whylen, "malformed request: unknown type 0x%08x", (unsigned)h.type);
        return -1;
    }
    *seq = h.seq;
    if (n > LT_WIRE_SETFILTER_MAX) {
        snprintf(why, whylen, "the filter expression is %zu bytes; at most %u are accepted",
                 n - sizeof h - 1, LT_WIRE_FILTER_MAX);
        return -1;
    }
    const char *text = (const char *)msg + sizeof h;
    size_t len = n - sizeof h - 1;
    if (text[len] != '\0') {
        snprintf(why, whylen, "malformed request: the expression is not NUL-terminated");
        return -1;
    }
    if (memchr(text, '\0', len)) {
        snprintf(why, whylen, "malformed request: a NUL byte inside the expression");
        return -1;
    }
    *expr = text;
    return 0;
}

size_t lt_wire_build_setfilter(void *out, size_t outlen, uint32_t seq, const char *expr)
{
    size_t len = strlen(expr);
    lt_wire_setfilter h = { LT_WIRE_SETFILTER, seq };
    if (len > LT_WIRE_FILTER_MAX || outlen < sizeof h || len >= outlen - sizeof h)
        return 0;
    memcpy(out, &h, sizeof h);
    memcpy((char *)out + sizeof h, expr, len + 1);
    return sizeof h + len + 1;
}

int lt_wire_parse_filter_reply(const void *msg, size_t n, lt_wire_filter_reply *out)
{
    if (n != sizeof *out)
        return -1;
    memcpy(out, msg, sizeof *out);
    if (out->type != LT_WIRE_FILTER_OK && out->type != LT_WIRE_FILTER_ERR)
        return -1;
    out->text[sizeof out->text - 1] = '\0';
    out->text[strcspn(out->text, "\r\n")] = '\0';
    return 0;
}
