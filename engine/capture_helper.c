/*
 * lunatap-capture — the only part of lunatap that ever holds capture rights.
 *
 * The engine starts it with its end of a SOCK_SEQPACKET socketpair on fd 3
 * and the shared statistics page (a memfd) on fd 4 (see livewire.h). It
 * opens the device, sets the BPF filter, gives up every privilege
 * (priv.h), says hello, and from then on only copies packets: it gathers
 * them into batches of about 64 KiB and sends each with one non-blocking
 * send. A batch the socket has no room for (the engine is slow) is dropped
 * and counted, so the kernel's ring keeps draining and the helper never
 * blocks on the engine. It exits when the engine closes its end, when a
 * send says the engine is gone, or (PR_SET_PDEATHSIG) when the engine dies.
 *
 * On fd 5, the control channel, the engine may ask for a new filter
 * (filter() in the REPL): the helper compiles it against its handle, with
 * the netmask it looked up at open, and installs it, and answers. The
 * engine runs untrusted Lua, so every request is checked
 * (lt_wire_parse_setfilter) and a malformed one only gets an error reply.
 */
#include "livewire.h"
#include "priv.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <pcap/pcap.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define HANDOFF_SNDBUF (16 << 20) /* socket room for batches the engine has not read yet */
#define SNAPLEN_MAX ((int)LT_WIRE_SNAPLEN_MAX)
/* libpcap's default of 0 waits for a full block (TPACKET_V3) before it
 * delivers anything: a quiet link would show nothing for minutes. */
#define DEFAULT_TIMEOUT_MS 100

typedef struct opts {
    const char *iface, *filter, *user;
    int promisc, immediate, monitor;
    int buffer_size, timeout_ms, snaplen;
    pid_t parent;
} opts;

typedef struct helper {
    pcap_t *p;
    int sock;
    int ctl;                        /* the control channel, -1 without one */
    bpf_u_int32 netmask;            /* the device's, as at open, for pcap_compile */
    unsigned char *req;             /* LT_WIRE_SETFILTER_MAX bytes: the request being read */
    lt_wire_stats *st;
    /* what pcap_stats said last, to accumulate across counter resets */
    unsigned last_recv, last_drop, last_ifdrop;
    uint64_t recv, drop, ifdrop;
    unsigned char *buf;
    size_t used;
    uint32_t count;
    int gone;                       /* the engine closed its end */
    uint32_t ts_mul;                /* 1 when the device gives nanoseconds, 1000 for microseconds */
} helper;

static void store(uint64_t *field, uint64_t v)
{
    __atomic_store_n(field, v, __ATOMIC_RELAXED);
}

/* Sends one message; the helper exits if it cannot even say why it stops. */
static void send_error(int sock, int code, const char *fmt, const char *a, const char *b)
{
    lt_wire_error m;
    memset(&m, 0, sizeof m);
    m.type = LT_WIRE_ERROR;
    m.exit_code = code;
    snprintf(m.text, sizeof m.text, fmt, a, b);
    m.text[strcspn(m.text, "\r\n")] = '\0'; /* one line */
    if (send(sock, &m, sizeof m, MSG_NOSIGNAL) < 0)
        fprintf(stderr, "lunatap: %s\n", m.text);
    exit(code);
}

static int parse_int(const char *s, int lo, int hi, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return -1;
    *out = (int)v;
    return 0;
}

static int parse_args(int argc, char **argv, opts *o)
{
    static const struct option lo[] = {
        { "no-promisc", no_argument, NULL, 'P' }, { "immediate", no_argument, NULL, 'm' },
        { "buffer-timeout", required_argument, NULL, 't' }, { "user", required_argument, NULL, 'u' },
        { "parent", required_argument, NULL, 'p' }, { NULL, 0, NULL, 0 },
    };
    *o = (opts){ .user = LT_DEFAULT_USER, .promisc = 1, .timeout_ms = DEFAULT_TIMEOUT_MS, .snaplen = SNAPLEN_MAX };
    int c, parent = 0;
    while ((c = getopt_long(argc, argv, "i:f:B:s:I", lo, NULL)) != -1) {
        int bad = 0;
        switch (c) {
        case 'i': o->iface = optarg; break;
        case 'f': o->filter = optarg; break;
        case 'u': o->user = optarg; break;
        case 'P': o->promisc = 0; break;
        case 'm': o->immediate = 1; break;
        case 'I': o->monitor = 1; break;
        case 'B': bad = parse_int(optarg, 1, 1 << 30, &o->buffer_size); break;
        case 't': bad = parse_int(optarg, 0, 60000, &o->timeout_ms); break;
        case 's': bad = parse_int(optarg, 1, SNAPLEN_MAX, &o->snaplen); break;
        case 'p': bad = parse_int(optarg, 1, 1 << 30, &parent); break;
        default: bad = 1;
        }
        if (bad)
            return -1;
    }
    o->parent = (pid_t)parent;
    return o->iface && optind == argc ? 0 : -1;
}

/* pcap_activate's warnings are shown; its errors end the helper. */
static void activate(helper *h, const opts *o)
{
    int rc = pcap_activate(h->p);
    if (rc == 0)
        return;
    const char *why = pcap_geterr(h->p);
    if (rc == PCAP_ERROR_NO_SUCH_DEVICE)
        send_error(h->sock, 2, "-i %s: no such capture device%s", o->iface, "");
    if (rc == PCAP_ERROR_PERM_DENIED)
        send_error(h->sock, 2, "-i %s: not permitted to capture (run as root, or install "
                               "lunatap-capture with file capabilities: see docs/live.md)%s",
                   o->iface, "");
    if (rc < 0)
        send_error(h->sock, 2, "-i %s: %s", o->iface, *why ? why : pcap_statustostr(rc));
    fprintf(stderr, "lunatap: -i %s: warning: %s%s%s\n", o->iface, pcap_statustostr(rc),
            *why ? ": " : "", why);
}

static void open_device(helper *h, const opts *o)
{
    char perr[PCAP_ERRBUF_SIZE];
    h->p = pcap_create(o->iface, perr);
    if (!h->p)
        send_error(h->sock, 2, "-i %s: %s", o->iface, perr);
    pcap_set_snaplen(h->p, o->snaplen);
    pcap_set_promisc(h->p, o->promisc);
    pcap_set_timeout(h->p, o->timeout_ms);
    if (o->buffer_size)
        pcap_set_buffer_size(h->p, o->buffer_size);
    if (o->immediate)
        pcap_set_immediate_mode(h->p, 1);
    if (o->monitor && pcap_set_rfmon(h->p, 1) != 0)
        send_error(h->sock, 2, "-i %s: monitor mode: %s", o->iface, pcap_geterr(h->p));
    pcap_set_tstamp_precision(h->p, PCAP_TSTAMP_PRECISION_NANO);
    activate(h, o);
    /* A device without nanosecond stamps gives microseconds in tv_usec. */
    h->ts_mul = pcap_get_tstamp_precision(h->p) == PCAP_TSTAMP_PRECISION_NANO ? 1 : 1000;
    /* Looked up once, for -f and for the filters the engine asks for later. */
    bpf_u_int32 net = 0, mask = PCAP_NETMASK_UNKNOWN;
    if (pcap_lookupnet(o->iface, &net, &mask, perr) != 0)
        mask = PCAP_NETMASK_UNKNOWN;
    h->netmask = mask;
    if (!o->filter)
        return;
    struct bpf_program prog;
    if (pcap_compile(h->p, &prog, o->filter, 1, mask) != 0)
        send_error(h->sock, 2, "bad filter expression '%s': %s", o->filter, pcap_geterr(h->p));
    int rc = pcap_setfilter(h->p, &prog);
    pcap_freecode(&prog);
    if (rc != 0)
        send_error(h->sock, 2, "-f '%s': cannot set the filter: %s", o->filter, pcap_geterr(h->p));
}

/* pcap_stats' counters are 32 bits and some platforms reset them when read:
 * a value below the last one is counted as a fresh start. */
static uint64_t grow(uint64_t total, unsigned *last, unsigned now)
{
    total += now >= *last ? now - *last : now;
    *last = now;
    return total;
}

static void refresh_stats(helper *h)
{
    struct pcap_stat ps;
    if (pcap_stats(h->p, &ps) != 0)
        return;
    h->recv = grow(h->recv, &h->last_recv, ps.ps_recv);
    h->drop = grow(h->drop, &h->last_drop, ps.ps_drop);
    h->ifdrop = grow(h->ifdrop, &h->last_ifdrop, ps.ps_ifdrop);
    store(&h->st->received, h->recv);
    store(&h->st->dropped_kernel, h->drop);
    store(&h->st->dropped_interface, h->ifdrop);
}

static void flush(helper *h)
{
    if (!h->count)
        return;
    lt_wire_batch *b = (lt_wire_batch *)h->buf;
    b->type = LT_WIRE_BATCH;
    b->count = h->count;
    ssize_t n = send(h->sock, h->buf, h->used, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n >= 0)
        __atomic_add_fetch(&h->st->forwarded, h->count, __ATOMIC_RELAXED);
    else if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) /* the engine is behind */
        __atomic_add_fetch(&h->st->dropped_handoff, h->count, __ATOMIC_RELAXED);
    else { /* EPIPE, ECONNRESET: the engine is gone; anything else is no drop to count */
        if (errno != EPIPE && errno != ECONNRESET)
            fprintf(stderr, "lunatap: capture helper: send: %s\n", strerror(errno));
        h->gone = 1;
    }
    h->used = sizeof(lt_wire_batch);
    h->count = 0;
}

static void on_packet(u_char *ud, const struct pcap_pkthdr *ph, const u_char *bytes)
{
    helper *h = (helper *)ud;
    uint32_t caplen = ph->caplen > LT_WIRE_SNAPLEN_MAX ? LT_WIRE_SNAPLEN_MAX : ph->caplen;
    uint32_t need = lt_wire_rec_size(caplen);
    if (h->used + need > LT_WIRE_BATCH_MAX)
        flush(h);
    lt_wire_rec r = { (int64_t)ph->ts.tv_sec, (uint32_t)ph->ts.tv_usec * h->ts_mul, caplen, ph->len, 0 };
    memcpy(h->buf + h->used, &r, sizeof r);
    memcpy(h->buf + h->used + sizeof r, bytes, caplen);
    memset(h->buf + h->used + sizeof r + caplen, 0, need - sizeof r - caplen);
    h->used += need;
    h->count++;
    if (h->used >= LT_WIRE_BATCH_FLUSH)
        flush(h);
}

/* The expression as a reply quotes it: the first 200 bytes, "..." after a
 * longer one. */
static void quote_expr(char *out, size_t outlen, const char *expr)
{
    size_t len = strlen(expr);
    snprintf(out, outlen, "%.200s%s", expr, len > 200 ? "..." : "");
}

/* Compiles and installs expr; 0, or -1 with why in r->text. The old filter
 * stays in force when either step fails. */
static int set_filter(helper *h, const char *expr, lt_wire_filter_reply *r)
{
    char q[256];
    struct bpf_program prog;
    if (pcap_compile(h->p, &prog, expr, 1, h->netmask) != 0) {
        quote_expr(q, sizeof q, expr);
        snprintf(r->text, sizeof r->text, "bad filter expression '%s': %s", q, pcap_geterr(h->p));
        return -1;
    }
    int rc = pcap_setfilter(h->p, &prog);
    pcap_freecode(&prog);
    if (rc != 0) {
        quote_expr(q, sizeof q, expr);
        snprintf(r->text, sizeof r->text, "cannot set the filter '%s': %s", q, pcap_geterr(h->p));
        return -1;
    }
    return 0;
}

/* Reads one request from the control channel and answers it. The bytes
 * come from a process that runs untrusted Lua: a request that is not well
 * formed gets an error reply, nothing else. */
static void serve_request(helper *h)
{
    /* MSG_TRUNC: n is the request's real size, even when it did not fit. */
    ssize_t n = recv(h->ctl, h->req, LT_WIRE_SETFILTER_MAX, MSG_DONTWAIT | MSG_TRUNC);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
        h->gone = 1; /* the engine closed its end */
        return;
    }
    if (n < 0)
        return;
    lt_wire_filter_reply r;
    memset(&r, 0, sizeof r);
    const char *expr;
    int ok = lt_wire_parse_setfilter(h->req, (size_t)n, &r.seq, &expr, r.text, sizeof r.text) == 0;
    /* Packets the old filter passed go out before the answer. */
    flush(h);
    if (h->gone)
        return;
    if (ok)
        ok = set_filter(h, expr, &r) == 0;
    r.type = ok ? LT_WIRE_FILTER_OK : LT_WIRE_FILTER_ERR;
    if (ok)
        r.text[0] = '\0';
    for (char *c = r.text; *c; c++) /* one line, whatever the expression held */
        if ((unsigned char)*c < 0x20)
            *c = ' ';
    if (send(h->ctl, &r, sizeof r, MSG_DONTWAIT | MSG_NOSIGNAL) < 0 && errno != EAGAIN &&
        errno != EWOULDBLOCK && errno != ENOBUFS)
        h->gone = 1; /* EPIPE: the engine is gone; a full socket: it is not reading, the reply is lost */
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Reads what the kernel has, hands it over, and keeps the counters fresh;
 * returns when the engine is gone. */
static void pump(helper *h)
{
    /* poll() skips a negative fd: a helper without a control channel. */
    struct pollfd fds[3] = { { pcap_get_selectable_fd(h->p), POLLIN, 0 }, { h->sock, 0, 0 },
                             { h->ctl, POLLIN, 0 } };
    uint64_t next_stats = 0;
    while (!h->gone) {
        int n = poll(fds, 3, LT_WIRE_STATS_MS);
        if (n < 0 && errno != EINTR)
            break;
        if (n < 0)
            fds[0].revents = fds[1].revents = fds[2].revents = 0;
        /* The engine never writes there: anything on its end means it closed. */
        if (fds[1].revents)
            break;
        for (int i = 0; i < 64 && !h->gone; i++) {
            int got = pcap_dispatch(h->p, -1, on_packet, (u_char *)h);
            if (got < 0) {
                fprintf(stderr, "lunatap: capture helper: %s\n", pcap_geterr(h->p));
                return;
            }
            if (got == 0)
                break;
        }
        flush(h);
        /* One request a turn, after the turn's packets went out; POLLHUP
         * alone reads as end-of-file there. */
        if (!h->gone && fds[2].revents)
            serve_request(h);
        if (now_ms() >= next_stats) {
            refresh_stats(h);
            next_stats = now_ms() + LT_WIRE_STATS_MS;
        }
    }
}

static void say_hello(helper *h)
{
    lt_wire_hello m = { LT_WIRE_HELLO, pcap_datalink(h->p), (uint32_t)pcap_snapshot(h->p), 0 };
    if (m.linktype == DLT_RAW)
        m.linktype = 101; /* LINKTYPE_RAW, as files store it */
    if (send(h->sock, &m, sizeof m, MSG_NOSIGNAL) != (ssize_t)sizeof m)
        exit(1);
}

int main(int argc, char **argv)
{
    opts o;
    helper h = { .sock = LT_WIRE_FD_SOCK, .ctl = -1, .used = sizeof(lt_wire_batch) };
    /* Ctrl-C reaches the whole process group: the engine stops, then closes
     * our socket, and that is when we go. */
    signal(SIGINT, SIG_IGN);
    if (parse_args(argc, argv, &o) != 0) {
        fprintf(stderr, "lunatap-capture: started by lunatap only (see docs/live.md)\n");
        return 2;
    }
    h.st = mmap(NULL, sizeof *h.st, PROT_READ | PROT_WRITE, MAP_SHARED, LT_WIRE_FD_STATS, 0);
    h.buf = malloc(LT_WIRE_BATCH_MAX);
    h.req = malloc(LT_WIRE_SETFILTER_MAX);
    if (fcntl(LT_WIRE_FD_CTL, F_GETFD) >= 0)
        h.ctl = LT_WIRE_FD_CTL;
    if (h.st == MAP_FAILED || !h.buf || !h.req)
        send_error(h.sock, 1, "capture helper: %s%s", h.st == MAP_FAILED ? "no statistics page" : "out of memory", "");
    close(LT_WIRE_FD_STATS);
    open_device(&h, &o);
    int sz = HANDOFF_SNDBUF;
    if (setsockopt(h.sock, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof sz) != 0)
        setsockopt(h.sock, SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
    /* What the kernel granted (a normal user is capped at wmem_max): a
     * batch that cannot fit would fail with EMSGSIZE on every send. */
    socklen_t len = sizeof sz;
    if (getsockopt(h.sock, SOL_SOCKET, SO_SNDBUF, &sz, &len) != 0 || (size_t)sz < LT_WIRE_BATCH_MAX) {
        char have[32], need[32];
        snprintf(have, sizeof have, "%d", sz);
        snprintf(need, sizeof need, "%u", (unsigned)LT_WIRE_BATCH_MAX);
        send_error(h.sock, 1, "capture helper: the socket's send buffer is %s bytes, less than one "
                              "batch (%s); raise net.core.wmem_max", have, need);
    }
    char err[256];
    if (lt_priv_drop(o.user, err, sizeof err) != 0)
        send_error(h.sock, 2, "capture helper: %s%s", err, "");
    /* Set after the drop: changing credentials clears it. */
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (o.parent && getppid() != o.parent)
        return 0; /* the engine died before we got here */
    char perr[PCAP_ERRBUF_SIZE];
    if (pcap_setnonblock(h.p, 1, perr) != 0)
        send_error(h.sock, 1, "-i %s: %s", o.iface, perr);
    say_hello(&h);
    pump(&h);
    pcap_close(h.p);
    free(h.buf);
    free(h.req);
    return 0;
}
