/*
 * live.c — the engine's side of live capture: starting lunatap-capture,
 * reading its batches, reading its counters, asking it for a new filter,
 * and -D.
 *
 * Ownership: a frame's bytes point into the message buffer, valid until the
 * next call to next() (frame.h); a message is received only once every
 * frame of the previous one was handed out.
 */
#include "live.h"
#include "livewire.h"
#include "priv.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <netdb.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define HELLO_WAIT_MS 15000     /* opening a device takes milliseconds; this is "stuck" */
#define REAP_WAIT_MS 2000       /* a helper told to stop gets this long before SIGKILL */
#define FILTER_WAIT_MS 3000     /* compiling a filter takes milliseconds; this is "stuck" */

typedef struct live_source {
    lt_source base;
    char name[128];             /* "-i IFACE", for messages */
    int sock;
    int ctl;                    /* the control channel (livewire.h) */
    uint32_t ctl_seq;           /* the last request's number */
    pid_t pid;                  /* 0 once reaped */
    int status;                 /* its wait status once reaped */
    lt_wire_stats *st;          /* the shared page */
    unsigned char *buf;         /* the message being read */
    size_t len, pos;
    uint32_t left;              /* frames in it not yet handed out */
    char err[LT_WIRE_TEXT_MAX + 128];
} live_source;

static const lt_source_ops live_ops;

static live_source *as_live(const lt_source *s)
{
    return s && s->ops == &live_ops ? (live_source *)s : NULL;
}

/* Waits up to ms for the helper to exit; 1 once reaped. */
static int reap(live_source *ls, int ms)
{
    for (int waited = 0; ls->pid; waited += 10) {
        pid_t r = waitpid(ls->pid, &ls->status, WNOHANG);
        if (r == ls->pid || (r < 0 && errno != EINTR)) {
            ls->pid = 0;
            break;
        }
        if (waited >= ms)
            return 0;
        usleep(10000);
    }
    return 1;
}

static void describe_exit(live_source *ls)
{
    reap(ls, REAP_WAIT_MS);
    int st = ls->status;
    if (ls->pid)
        snprintf(ls->err, sizeof ls->err, "capture helper closed its socket");
    else if (WIFSIGNALED(st))
        snprintf(ls->err, sizeof ls->err, "capture helper exited (killed by signal %d, %s)",
                 WTERMSIG(st), strsignal(WTERMSIG(st)));
    else
        snprintf(ls->err, sizeof ls->err, "capture helper exited with status %d",
                 WIFEXITED(st) ? WEXITSTATUS(st) : -1);
}

/* Receives one message without blocking: >0 its length, 0 the helper is
 * gone (err says how), -1 nothing there yet, -2 a protocol error. */
static ssize_t receive(live_source *ls)
{
    ssize_t n = recv(ls->sock, ls->buf, LT_WIRE_BATCH_MAX, MSG_DONTWAIT | MSG_TRUNC);
    if (n < 0) {
        if (errno == EAGAIN || errno == EINTR)
            return -1;
        int why = errno;
        describe_exit(ls);
        if (why != ECONNRESET) { /* not just the helper gone: say what failed */
            size_t len = strlen(ls->err);
            snprintf(ls->err + len, sizeof ls->err - len, " (reading its socket: %s)", strerror(why));
        }
        return 0;
    }
    if (n == 0) {
        describe_exit(ls);
        return 0;
    }
    if ((size_t)n > LT_WIRE_BATCH_MAX || (size_t)n < sizeof(uint32_t)) {
        snprintf(ls->err, sizeof ls->err, "capture helper sent a message of %zd bytes", n);
        return -2;
    }
    return n;
}

/* Checks a batch's header; its records are checked as they are read. */
static int start_batch(live_source *ls, size_t n)
{
    lt_wire_batch b;
    if (n < sizeof b)
        return -1;
    memcpy(&b, ls->buf, sizeof b);
    if (b.type != LT_WIRE_BATCH)
        return -1;
    ls->len = n;
    ls->pos = sizeof b;
    ls->left = b.count;
    return 0;
}

static int live_next(lt_source *s, lt_frame *out)
{
    live_source *ls = (live_source *)s;
    while (ls->left == 0) {
        ssize_t n = receive(ls);
        if (n == -1)
            return LT_NEXT_AGAIN;
        if (n == 0 || n == -2)
            return LT_NEXT_ERROR;
        if (start_batch(ls, (size_t)n) != 0) {
            snprintf(ls->err, sizeof ls->err, "capture helper sent a message that is not a batch");
            return LT_NEXT_ERROR;
        }
    }
    lt_wire_rec r;
    if (ls->len - ls->pos < sizeof r)
        goto bad;
    memcpy(&r, ls->buf + ls->pos, sizeof r);
    if (r.caplen > ls->len - ls->pos - sizeof r || lt_wire_rec_size(r.caplen) > ls->len - ls->pos ||
        r.ts_nsec > 999999999u || r.len < r.caplen)
        goto bad;
    out->data = ls->buf + ls->pos + sizeof r;
    out->caplen = r.caplen;
    out->len = r.len;
    out->ts_sec = r.ts_sec;
    out->ts_nsec = r.ts_nsec;
    out->linktype = s->linktype;
    out->ifindex = 0;
    ls->pos += lt_wire_rec_size(r.caplen);
    ls->left--;
    return LT_NEXT_FRAME;
bad:
    snprintf(ls->err, sizeof ls->err, "capture helper sent a batch whose records overrun it");
    return LT_NEXT_ERROR;
}

static const char *live_error(const lt_source *s)
{
    return ((const live_source *)s)->err;
}

static void live_close(lt_source *s)
{
    live_source *ls = (live_source *)s;
    if (ls->sock >= 0)
        close(ls->sock); /* the helper sees the socket close and exits */
    if (ls->ctl >= 0)
        close(ls->ctl);
    if (ls->pid && !reap(ls, REAP_WAIT_MS)) {
        kill(ls->pid, SIGKILL);
        reap(ls, REAP_WAIT_MS);
    }
    if (ls->st)
        munmap(ls->st, sizeof *ls->st);
    free(ls->buf);
    free(ls);
}

static const lt_source_ops live_ops = { live_next, live_error, live_close };

/* Next to our own binary, unless LUNATAP_CAPTURE_HELPER names another. */
static int helper_path(char *out, size_t outlen, char *err, size_t errlen)
{
    const char *env = getenv(LT_LIVE_HELPER_ENV);
    if (env && *env) {
        snprintf(out, outlen, "%s", env);
    } else {
        char self[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
        if (n < 0) {
            snprintf(err, errlen, "cannot find the capture helper: /proc/self/exe: %s", strerror(errno));
            return -1;
        }
        self[n] = '\0';
        snprintf(out, outlen, "%s/%s", dirname(self), LT_LIVE_HELPER_NAME);
    }
    if (access(out, X_OK) != 0) {
        snprintf(err, errlen, "capture helper %s: %s (install it next to lunatap, or name it in %s)",
                 out, strerror(errno), LT_LIVE_HELPER_ENV);
        return -1;
    }
    return 0;
}

#define MAX_HELPER_ARGS 24
static void build_args(const lt_live_config *c, const char *filter, const char *path,
                       char bufs[4][32], char **argv)
{
    int n = 0;
    argv[n++] = (char *)path;
    argv[n++] = "-i";
    argv[n++] = (char *)c->iface;
    argv[n++] = "--user";
    argv[n++] = (char *)(c->user ? c->user : LT_DEFAULT_USER);
    snprintf(bufs[0], 32, "%llu", (unsigned long long)c->buffer_size);
    argv[n++] = "-B";
    argv[n++] = bufs[0];
    snprintf(bufs[1], 32, "%d", (int)getpid());
    argv[n++] = "--parent";
    argv[n++] = bufs[1];
    if (c->snaplen) {
        snprintf(bufs[2], 32, "%u", c->snaplen);
        argv[n++] = "-s";
        argv[n++] = bufs[2];
    }
    if (c->timeout_ms >= 0) {
        snprintf(bufs[3], 32, "%d", c->timeout_ms);
        argv[n++] = "--buffer-timeout";
        argv[n++] = bufs[3];
    }
    if (c->no_promisc)
        argv[n++] = "--no-promisc";
    if (c->immediate)
        argv[n++] = "--immediate";
    if (c->monitor)
        argv[n++] = "-I";
    if (filter) {
        argv[n++] = "-f";
        argv[n++] = (char *)filter;
    }
    argv[n] = NULL;
}

/* In the child: the socket on fd 3, the page on fd 4, the control channel
 * on fd 5, then exec. */
static void exec_helper(int sock, int page, int ctl, char **argv)
{
    /* Copies out of the way of fds 3 to 5, closed at exec (dup2 clears
     * close-on-exec on the numbers the helper is given). */
    int a = fcntl(sock, F_DUPFD_CLOEXEC, 10), b = fcntl(page, F_DUPFD_CLOEXEC, 10);
    int c = fcntl(ctl, F_DUPFD_CLOEXEC, 10);
    if (a < 0 || b < 0 || c < 0 || dup2(a, LT_WIRE_FD_SOCK) < 0 || dup2(b, LT_WIRE_FD_STATS) < 0 ||
        dup2(c, LT_WIRE_FD_CTL) < 0)
        _exit(126);
    /* The helper reads and prints nothing there: holding the engine's
     * stdout would keep a pipe (lunatap | head) open after the engine. */
    int null = open("/dev/null", O_RDWR);
    if (null < 0 || dup2(null, STDIN_FILENO) < 0 || dup2(null, STDOUT_FILENO) < 0)
        _exit(126);
    signal(SIGPIPE, SIG_DFL);
    execv(argv[0], argv);
    fprintf(stderr, "lunatap: cannot run the capture helper %s: %s\n", argv[0], strerror(errno));
    _exit(127);
}

static int spawn(live_source *ls, char **argv, char *err, size_t errlen)
{
    int sv[2], cv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
        snprintf(err, errlen, "-i: socketpair: %s", strerror(errno));
        return -1;
    }
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, cv) != 0) {
        snprintf(err, errlen, "-i: socketpair: %s", strerror(errno));
        close(sv[0]);
        close(sv[1]);
        return -1;
    }
    int page = memfd_create("lunatap-stats", MFD_CLOEXEC);
    if (page < 0 || ftruncate(page, sizeof(lt_wire_stats)) != 0 ||
        (ls->st = mmap(NULL, sizeof(lt_wire_stats), PROT_READ | PROT_WRITE, MAP_SHARED, page, 0)) == MAP_FAILED) {
        snprintf(err, errlen, "-i: shared statistics page: %s", strerror(errno));
        ls->st = NULL;
        if (page >= 0)
            close(page);
        close(sv[0]);
        close(sv[1]);
        close(cv[0]);
        close(cv[1]);
        return -1;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0)
        exec_helper(sv[1], page, cv[1], argv);
    close(sv[1]);
    close(cv[1]);
    close(page);
    ls->sock = sv[0];
    ls->ctl = cv[0];
    if (pid < 0) {
        snprintf(err, errlen, "-i: fork: %s", strerror(errno));
        return -1;
    }
    ls->pid = pid;
    return 0;
}

/* The helper's first word: hello, or why not. */
static int await_hello(live_source *ls, char *err, size_t errlen, int *code)
{
    struct pollfd pfd = { ls->sock, POLLIN, 0 };
    int r;
    do /* a signal (SIGUSR1, a first SIGINT) must not end the wait */
        r = poll(&pfd, 1, HELLO_WAIT_MS);
    while (r < 0 && errno == EINTR);
    *code = 1;
    if (r == 0) {
        snprintf(err, errlen, "%s: capture helper did not answer within %d ms", ls->name, HELLO_WAIT_MS);
        return -1;
    }
    if (r < 0) { /* no blocking recv on a socket poll could not watch */
        snprintf(err, errlen, "%s: waiting for the capture helper: %s", ls->name, strerror(errno));
        return -1;
    }
    ssize_t n = recv(ls->sock, ls->buf, LT_WIRE_BATCH_MAX, MSG_TRUNC | MSG_DONTWAIT);
    uint32_t type = 0;
    if (n >= (ssize_t)sizeof type)
        memcpy(&type, ls->buf, sizeof type);
    if (n == (ssize_t)sizeof(lt_wire_error) && type == LT_WIRE_ERROR) {
        lt_wire_error m;
        memcpy(&m, ls->buf, sizeof m);
        m.text[sizeof m.text - 1] = '\0';
        snprintf(err, errlen, "%s", m.text);
        *code = m.exit_code == 2 ? 2 : 1;
        return -1;
    }
    if (n == (ssize_t)sizeof(lt_wire_hello) && type == LT_WIRE_HELLO) {
        lt_wire_hello h;
        memcpy(&h, ls->buf, sizeof h);
        ls->base.linktype = h.linktype;
        ls->base.snaplen = h.snaplen;
        return 0;
    }
    if (n <= 0) {
        describe_exit(ls);
        snprintf(err, errlen, "%s: %s before opening the device", ls->name, ls->err);
    } else {
        snprintf(err, errlen, "%s: capture helper sent %zd bytes that are not a hello", ls->name, n);
    }
    return -1;
}

lt_source *lt_live_open(const lt_live_config *cfg, const char *filter, char *err, size_t errlen,
                        int *code)
{
    char path[PATH_MAX], bufs[4][32];
    char *argv[MAX_HELPER_ARGS];
    *code = 1;
    if (helper_path(path, sizeof path, err, errlen) != 0)
        return NULL;
    live_source *ls = calloc(1, sizeof *ls);
    if (!ls || !(ls->buf = malloc(LT_WIRE_BATCH_MAX))) {
        free(ls);
        snprintf(err, errlen, "-i %s: out of memory", cfg->iface);
        return NULL;
    }
    ls->base.ops = &live_ops;
    ls->base.name = ls->name;
    ls->base.format = "live";
    ls->sock = -1;
    ls->ctl = -1;
    snprintf(ls->name, sizeof ls->name, "-i %s", cfg->iface);
    build_args(cfg, filter, path, bufs, argv);
    if (spawn(ls, argv, err, errlen) != 0 || await_hello(ls, err, errlen, code) != 0) {
        live_close(&ls->base);
        return NULL;
    }
    return &ls->base;
}

int lt_live_fd(const lt_source *s)
{
    live_source *ls = as_live(s);
    return ls ? ls->sock : -1;
}

int lt_live_pending(const lt_source *s)
{
    live_source *ls = as_live(s);
    return ls && ls->left > 0;
}

static uint64_t load(const uint64_t *field)
{
    return __atomic_load_n(field, __ATOMIC_RELAXED);
}

int lt_live_read_stats(const lt_source *s, lt_live_stats *out)
{
    live_source *ls = as_live(s);
    if (!ls || !ls->st)
        return -1;
    out->received = load(&ls->st->received);
    out->dropped_kernel = load(&ls->st->dropped_kernel);
    out->dropped_interface = load(&ls->st->dropped_interface);
    out->dropped_handoff = load(&ls->st->dropped_handoff);
    out->forwarded = load(&ls->st->forwarded);
    return 0;
}

/* ---- filter() ---- */

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits for the answer to request `seq`: 0 OK, -1 with err set. Answers to
 * earlier requests (one that timed out, then came) are skipped. */
static int await_filter_reply(live_source *ls, uint32_t seq, char *err, size_t errlen)
{
    int64_t deadline = mono_ms() + FILTER_WAIT_MS;
    for (;;) {
        int64_t left = deadline - mono_ms();
        if (left <= 0) {
            snprintf(err, errlen, "the capture helper did not answer within %d s", FILTER_WAIT_MS / 1000);
            return -1;
        }
        struct pollfd pfd = { ls->ctl, POLLIN, 0 };
        int r = poll(&pfd, 1, (int)left);
        if (r < 0 && errno == EINTR) /* SIGUSR1, a SIGINT: the wait goes on */
            continue;
        if (r < 0) {
            snprintf(err, errlen, "the capture helper's control channel: poll: %s", strerror(errno));
            return -1;
        }
        if (r == 0)
            continue; /* the deadline says so above */
        lt_wire_filter_reply m;
        unsigned char buf[sizeof m];
        ssize_t n = recv(ls->ctl, buf, sizeof buf, MSG_DONTWAIT | MSG_TRUNC);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
            continue;
        if (n <= 0) {
            snprintf(err, errlen, "the capture helper has ended");
            return -1;
        }
        if (lt_wire_parse_filter_reply(buf, (size_t)n, &m) != 0) {
            snprintf(err, errlen, "the capture helper sent %zd bytes that are not a filter reply", n);
            return -1;
        }
        if (m.seq != seq)
            continue;
        if (m.type == LT_WIRE_FILTER_OK)
            return 0;
        snprintf(err, errlen, "%s", m.text[0] ? m.text : "the capture helper refused the filter");
        return -1;
    }
}

int lt_live_set_filter(lt_source *s, const char *expr, char *err, size_t errlen)
{
    live_source *ls = as_live(s);
    if (!ls) {
        snprintf(err, errlen, "not a live capture");
        return -1;
    }
    size_t len = strlen(expr);
    if (len > LT_WIRE_FILTER_MAX) {
        snprintf(err, errlen, "the filter expression is %zu bytes; at most %u are accepted", len,
                 LT_WIRE_FILTER_MAX);
        return -1;
    }
    if (ls->ctl < 0 || !ls->pid) {
        snprintf(err, errlen, "the capture helper has ended");
        return -1;
    }
    unsigned char *msg = malloc(LT_WIRE_SETFILTER_MAX);
    if (!msg) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    uint32_t seq = ++ls->ctl_seq;
    if (seq == 0) /* 0 answers an unreadable request: never ours */
        seq = ls->ctl_seq = 1;
    size_t n = lt_wire_build_setfilter(msg, LT_WIRE_SETFILTER_MAX, seq, expr);
    ssize_t sent;
    do
        sent = send(ls->ctl, msg, n, MSG_DONTWAIT | MSG_NOSIGNAL);
    while (sent < 0 && errno == EINTR);
    free(msg);
    if (sent < 0) {
        if (errno == EPIPE || errno == ECONNRESET)
            snprintf(err, errlen, "the capture helper has ended");
        else if (errno == EAGAIN || errno == EWOULDBLOCK)
            snprintf(err, errlen, "the capture helper is not reading its requests");
        else
            snprintf(err, errlen, "the capture helper's control channel: send: %s", strerror(errno));
        return -1;
    }
    return await_filter_reply(ls, seq, err, errlen);
}

/* ---- -D ---- */

static void print_flags(bpf_u_int32 f)
{
    printf(" [%s%s%s%s", f & PCAP_IF_UP ? "Up" : "Down", f & PCAP_IF_RUNNING ? ", Running" : "",
           f & PCAP_IF_LOOPBACK ? ", Loopback" : "", f & PCAP_IF_WIRELESS ? ", Wireless" : "");
    switch (f & PCAP_IF_CONNECTION_STATUS) {
    case PCAP_IF_CONNECTION_STATUS_CONNECTED: printf(", Connected"); break;
    case PCAP_IF_CONNECTION_STATUS_DISCONNECTED: printf(", Disconnected"); break;
    default: break;
    }
    printf("]");
}

static void print_addr(const char *label, const struct sockaddr *sa)
{
    char host[NI_MAXHOST];
    if (!sa)
        return;
    socklen_t len = sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
    if (getnameinfo(sa, len, host, sizeof host, NULL, 0, NI_NUMERICHOST) == 0)
        printf(" %s %s", label, host);
}

int lt_live_list_interfaces(void)
{
    pcap_if_t *all;
    char perr[PCAP_ERRBUF_SIZE];
    if (pcap_findalldevs(&all, perr) != 0) {
        fprintf(stderr, "lunatap: -D: %s\n", perr);
        return 1;
    }
    int i = 0;
    for (pcap_if_t *d = all; d; d = d->next) {
        printf("%d.%s", ++i, d->name);
        if (d->description)
            printf(" (%s)", d->description);
        print_flags(d->flags);
        printf("\n");
        for (pcap_addr_t *a = d->addresses; a; a = a->next) {
            if (!a->addr || (a->addr->sa_family != AF_INET && a->addr->sa_family != AF_INET6))
                continue;
            printf("   ");
            print_addr(a->addr->sa_family == AF_INET ? "inet" : "inet6", a->addr);
            print_addr("netmask", a->netmask);
            print_addr("broadcast", a->broadaddr);
            print_addr("peer", a->dstaddr);
            printf("\n");
        }
    }
    pcap_freealldevs(all);
    if (i == 0)
        fprintf(stderr, "lunatap: -D: no capture devices found\n");
    return 0;
}
