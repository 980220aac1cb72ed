/*
 * source.c — offline capture files.
 *
 * The first four bytes pick the reader. They are read through a small
 * stdio cookie stream that replays them, so pipes (which cannot seek) work
 * exactly like files. Below the cookie, the input is read with read(2):
 * a pipe hands over what it has at once (stdio's fread would wait for a
 * whole buffer), and a quiet pipe is waited on with poll(2) next to the
 * engine's wake-up descriptor (lt_source_waiter).
 */
#include "source.h"
#include "pcapng.h"

#include <errno.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* 128 KiB: few system calls, and small enough that the buffer read(2)
 * copies into stays in the CPU's cache between refills. With 1 MiB the
 * copy went to memory and the decoder then missed on every packet:
 * a run with no handler took 67 ms against 37 ms on bench/proto.sh's
 * 1,000-session capture (79 MB; AMD EPYC, 2026-12-04). */
#define LT_SOURCE_STDIO_BUF (1u << 17)

/* ---- a stream that first replays a few peeked bytes ---- */

typedef struct lt_replay {
    FILE *under;
    int fd;                 /* under's descriptor, read with read(2) */
    int quiet;              /* can have nothing to read for a while: wait with poll */
    int has_waiter;
    lt_source_waiter w;
    unsigned char head[4];
    size_t head_len, head_pos;
    char *buf;              /* the stream's buffer: glibc ignores the size
                             * setvbuf is given without one */
} replay;

/* Waits until the input is readable; -1 when the engine's service ends
 * reading meanwhile. */
static int wait_input(replay *r)
{
    if (!r->quiet || !r->has_waiter)
        return 0;
    for (;;) {
        struct pollfd p[2] = { { r->fd, POLLIN, 0 }, { r->w.wake_fd, POLLIN, 0 } };
        int timeout = r->w.timeout_ms ? r->w.timeout_ms(r->w.ud) : -1;
        int n = poll(p, r->w.wake_fd >= 0 ? 2 : 1, timeout);
        if (n < 0 && errno != EINTR)
            return 0; /* read(2) reports what is wrong */
        if (n > 0 && p[0].revents)
            return 0; /* data, end of input or an error: read(2) tells */
        if (r->w.service(r->w.ud))
            return -1;
    }
}

/* read(2), again after a signal handler interrupted it. */
static ssize_t read_some(replay *r, char *buf, size_t size)
{
    for (;;) {
        if (wait_input(r) != 0)
            return 0;
        ssize_t n = read(r->fd, buf, size);
        if (n >= 0 || errno != EINTR)
            return n;
    }
}

static ssize_t replay_read(void *cookie, char *buf, size_t size)
{
    replay *r = cookie;
    if (r->head_pos < r->head_len) {
        size_t n = r->head_len - r->head_pos;
        if (n > size)
            n = size;
        memcpy(buf, r->head + r->head_pos, n);
        r->head_pos += n;
        return (ssize_t)n;
    }
    return read_some(r, buf, size);
}

static int replay_close(void *cookie)
{
    replay *r = cookie;
    int rc = r->under == stdin ? 0 : fclose(r->under);
    free(r->buf);
    free(r);
    return rc;
}

/* Opens path, peeks its magic, and returns a stream positioned at byte 0. */
static FILE *open_peeked(const char *path, uint32_t *magic, size_t *got, replay **rp,
                         char *err, size_t errlen)
{
    FILE *under = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!under) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    replay *r = calloc(1, sizeof *r);
    if (!r) {
        if (under != stdin)
            fclose(under);
        snprintf(err, errlen, "%s: out of memory", path);
        return NULL;
    }
    r->under = under;
    r->fd = fileno(under);
    struct stat st;
    r->quiet = fstat(r->fd, &st) != 0 || !S_ISREG(st.st_mode);
    while (r->head_len < sizeof r->head) {
        ssize_t n = read_some(r, (char *)r->head + r->head_len, sizeof r->head - r->head_len);
        if (n < 0) {
            snprintf(err, errlen, "%s: %s", path, strerror(errno));
            replay_close(r);
            return NULL;
        }
        if (n == 0)
            break;
        r->head_len += (size_t)n;
    }
    *got = r->head_len;
    *magic = (uint32_t)r->head[0] | (uint32_t)r->head[1] << 8 |
             (uint32_t)r->head[2] << 16 | (uint32_t)r->head[3] << 24;
    cookie_io_functions_t io = { .read = replay_read, .close = replay_close };
    FILE *f = fopencookie(r, "rb", io);
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        replay_close(r);
        return NULL;
    }
    /* Without memory for the buffer the stream keeps its default one. */
    r->buf = malloc(LT_SOURCE_STDIO_BUF);
    if (r->buf)
        setvbuf(f, r->buf, _IOFBF, LT_SOURCE_STDIO_BUF);
    *rp = r;
    return f;
}

/* ---- classic pcap through libpcap ---- */

typedef struct pcap_source {
    lt_source base;
    pcap_t *p;
    char err[PCAP_ERRBUF_SIZE + 64];
} pcap_source;

static int pcap_src_next(lt_source *s, lt_frame *out)
{
    pcap_source *ps = (pcap_source *)s;
    struct pcap_pkthdr *h;
    const u_char *data;
    int rc = pcap_next_ex(ps->p, &h, &data);
    if (rc == PCAP_ERROR_BREAK)
        return LT_NEXT_EOF;
    if (rc != 1) {
        snprintf(ps->err, sizeof ps->err, "%s", pcap_geterr(ps->p));
        return LT_NEXT_ERROR;
    }
    out->data = data;
    out->caplen = h->caplen;
    out->len = h->len;
    out->ts_sec = h->ts.tv_sec;
    /* Opened with nanosecond precision: tv_usec holds nanoseconds. */
    out->ts_nsec = (uint32_t)h->ts.tv_usec;
    out->linktype = s->linktype;
    out->ifindex = 0;
    return LT_NEXT_FRAME;
}

static const char *pcap_src_error(const lt_source *s)
{
    return ((const pcap_source *)s)->err;
}

static void pcap_src_close(lt_source *s)
{
    pcap_source *ps = (pcap_source *)s;
    pcap_close(ps->p); /* closes the stream too */
    free(ps);
}

static const lt_source_ops pcap_ops = { pcap_src_next, pcap_src_error, pcap_src_close };

/* libpcap hands out DLT_ values; frames carry LINKTYPE_ values, as files
 * (and pcapng) store them. Of the types we decode, only raw IP differs. */
static int linktype_of_dlt(int dlt)
{
    switch (dlt) {
    case DLT_RAW: return 101;  /* 12 or 14 depending on the platform */
    default: return dlt;
    }
}

static lt_source *open_pcap(FILE *f, const char *path, char *err, size_t errlen)
{
    char perr[PCAP_ERRBUF_SIZE];
    pcap_t *p = pcap_fopen_offline_with_tstamp_precision(f, PCAP_TSTAMP_PRECISION_NANO, perr);
    if (!p) {
        fclose(f);
        snprintf(err, errlen, "%s: %s", path, perr);
        return NULL;
    }
    pcap_source *ps = calloc(1, sizeof *ps);
    if (!ps) {
        pcap_close(p);
        snprintf(err, errlen, "%s: out of memory", path);
        return NULL;
    }
    ps->base.ops = &pcap_ops;
    ps->base.name = path;
    ps->base.linktype = linktype_of_dlt(pcap_datalink(p));
    ps->base.snaplen = (unsigned)pcap_snapshot(p);
    ps->base.format = "pcap";
    ps->p = p;
    return &ps->base;
}

/* ---- pcapng through our own reader ---- */

typedef struct pcapng_source {
    lt_source base;
    lt_pcapng *r;
} pcapng_source;

static int ng_next(lt_source *s, lt_frame *out)
{
    pcapng_source *ns = (pcapng_source *)s;
    int rc = lt_pcapng_next(ns->r, out);
    if (rc == LT_NEXT_FRAME && s->linktype < 0)
        s->linktype = out->linktype;
    return rc;
}

static const char *ng_error(const lt_source *s)
{
    return lt_pcapng_error(((const pcapng_source *)s)->r);
}

static void ng_close(lt_source *s)
{
    pcapng_source *ns = (pcapng_source *)s;
    lt_pcapng_close(ns->r);
    free(ns);
}

static const lt_source_ops pcapng_ops = { ng_next, ng_error, ng_close };

static lt_source *open_pcapng(FILE *f, const char *path, char *err, size_t errlen)
{
    char nerr[256];
    lt_pcapng *r = lt_pcapng_open(f, nerr, sizeof nerr);
    if (!r) {
        snprintf(err, errlen, "%s: %s", path, nerr);
        return NULL;
    }
    pcapng_source *ns = calloc(1, sizeof *ns);
    if (!ns) {
        lt_pcapng_close(r);
        snprintf(err, errlen, "%s: out of memory", path);
        return NULL;
    }
    ns->base.ops = &pcapng_ops;
    ns->base.name = path;
    ns->base.linktype = lt_pcapng_first_linktype(r);
    ns->base.snaplen = 262144;
    ns->base.format = "pcapng";
    ns->r = r;
    return &ns->base;
}

void lt_source_set_waiter(lt_source *s, const lt_source_waiter *w)
{
    if (!s->in)
        return;
    s->in->w = *w;
    s->in->has_waiter = 1;
}

lt_source *lt_source_open_file(const char *path, char *err, size_t errlen)
{
    uint32_t magic = 0;
    size_t got = 0;
    replay *r = NULL;
    FILE *f = open_peeked(path, &magic, &got, &r, err, errlen);
    if (!f)
        return NULL;
    if (got < 4) {
        fclose(f);
        snprintf(err, errlen, "%s: not a pcap or pcapng file (%s)", path,
                 got == 0 ? "empty" : "shorter than a file header");
        return NULL;
    }
    lt_source *s = magic == LT_PCAPNG_MAGIC ? open_pcapng(f, path, err, errlen)
                                            : open_pcap(f, path, err, errlen);
    if (s)
        s->in = r;
    return s;
}
