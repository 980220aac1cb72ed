/*
 * test_capture_ctl — lunatap-capture's control channel, driven directly
 * (livewire.h): the helper is started on lo as the engine starts it (fds
 * 3, 4, 5) and sent what a compromised engine could send: short and
 * unknown messages, requests without or with inner NULs, one too long,
 * a bad expression, random bytes. Each gets an error reply naming the
 * request it can; good requests get FILTER_OK; the helper keeps running
 * and capturing, and exits 0 when its socket closes. Needs root (exit 77
 * otherwise); argv[3] is the helper's path (tests/CMakeLists.txt).
 */
#include "check.h"
#include "livewire.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static int ctl;

static pid_t start(const char *helper, int *sock)
{
    int sv[2], cv[2];
    int page = memfd_create("test-stats", 0);
    if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) != 0 || socketpair(AF_UNIX, SOCK_SEQPACKET, 0, cv) != 0 ||
        page < 0 || ftruncate(page, sizeof(lt_wire_stats)) != 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        int a = fcntl(sv[1], F_DUPFD, 10), b = fcntl(page, F_DUPFD, 10), c = fcntl(cv[1], F_DUPFD, 10);
        dup2(a, LT_WIRE_FD_SOCK);
        dup2(b, LT_WIRE_FD_STATS);
        dup2(c, LT_WIRE_FD_CTL);
        for (int fd = 6; fd < 64; fd++)
            close(fd);
        execl(helper, helper, "-i", "lo", "--user", "nobody", "-f", "udp port 9", (char *)NULL);
        _exit(127);
    }
    close(sv[1]);
    close(cv[1]);
    close(page);
    *sock = sv[0];
    ctl = cv[0];
    return pid;
}

/* The next reply within 3 s: its type, or 0 for none. */
static uint32_t reply(lt_wire_filter_reply *r)
{
    struct pollfd p = { ctl, POLLIN, 0 };
    if (poll(&p, 1, 3000) != 1)
        return 0;
    unsigned char buf[sizeof *r + 16];
    ssize_t n = recv(ctl, buf, sizeof buf, MSG_DONTWAIT);
    if (n < 0 || lt_wire_parse_filter_reply(buf, (size_t)n, r) != 0)
        return 0;
    return r->type;
}

static void ask(const void *msg, size_t n, uint32_t want_type, uint32_t want_seq, const char *want_text)
{
    lt_wire_filter_reply r;
    CHECK_EQ(send(ctl, msg, n, MSG_NOSIGNAL), (ssize_t)n);
    CHECK_EQ(reply(&r), want_type);
    CHECK_EQ(r.seq, want_seq);
    n_checks++;
    if (want_text && !strstr(r.text, want_text)) {
        fprintf(stderr, "%s: reply \"%.300s\" lacks \"%s\"\n", g_ctx, r.text, want_text);
        n_failed++;
    }
}

static size_t req(unsigned char *m, uint32_t seq, const char *text, size_t len)
{
    lt_wire_setfilter h = { LT_WIRE_SETFILTER, seq };
    memcpy(m, &h, sizeof h);
    memcpy(m + sizeof h, text, len);
    return sizeof h + len;
}

int main(int argc, char **argv)
{
    if (geteuid() != 0) {
        printf("test_capture_ctl: skipped: the capture helper needs root to open lo\n");
        return 77;
    }
    if (argc < 4) {
        fprintf(stderr, "usage: test_capture_ctl SAMPLES SHARED HELPER\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    int sock = -1;
    pid_t pid = start(argv[3], &sock);
    CHECK(pid > 0);
    lt_wire_hello hello;
    CHECK_EQ(recv(sock, &hello, sizeof hello, 0), (ssize_t)sizeof hello);
    CHECK_EQ(hello.type, LT_WIRE_HELLO);

    static unsigned char m[LT_WIRE_SETFILTER_MAX + 64];
    g_ctx = "short";
    ask("abc", 3, LT_WIRE_FILTER_ERR, 0, "too short");
    g_ctx = "unknown type";
    lt_wire_batch b = { LT_WIRE_BATCH, 5 };
    memcpy(m, &b, sizeof b);
    memcpy(m + sizeof b, "udp", 4);
    ask(m, sizeof b + 4, LT_WIRE_FILTER_ERR, 0, "unknown type");
    g_ctx = "no NUL";
    ask(m, req(m, 11, "udp", 3), LT_WIRE_FILTER_ERR, 11, "not NUL-terminated");
    g_ctx = "inner NUL";
    ask(m, req(m, 12, "udp\0tcp", 8), LT_WIRE_FILTER_ERR, 12, "NUL byte inside");
    g_ctx = "too long";
    memset(m + sizeof(lt_wire_setfilter), 'x', LT_WIRE_FILTER_MAX + 10);
    size_t n = req(m, 13, "x", 1) + LT_WIRE_FILTER_MAX + 9;
    m[n - 1] = '\0';
    ask(m, n, LT_WIRE_FILTER_ERR, 13, "at most 65535");
    g_ctx = "bad expression";
    ask(m, req(m, 14, "udp port nonsense", 18), LT_WIRE_FILTER_ERR, 14,
        "bad filter expression 'udp port nonsense': ");
    g_ctx = "a newline in a bad expression";
    lt_wire_filter_reply r;
    CHECK_EQ(send(ctl, m, req(m, 15, "udp\nport x", 11), 0), (ssize_t)req(m, 15, "udp\nport x", 11));
    CHECK_EQ(reply(&r), LT_WIRE_FILTER_ERR);
    CHECK(strstr(r.text, "'udp port x'") != NULL); /* one line */
    g_ctx = "good";
    ask(m, req(m, 16, "udp port 53", 12), LT_WIRE_FILTER_OK, 16, "");
    ask(m, req(m, 17, "", 1), LT_WIRE_FILTER_OK, 17, "");

    g_ctx = "random bytes";
    uint64_t x = 0x2545F4914F6CDD1Du;
    int answered = 0;
    for (int i = 0; i < 300; i++) {
        size_t len = 1 + (size_t)(x % 64);
        for (size_t k = 0; k < len; k++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            m[k] = (unsigned char)x;
        }
        if (i % 2 && len >= 4) {
            uint32_t t = LT_WIRE_SETFILTER;
            memcpy(m, &t, sizeof t);
        }
        if (send(ctl, m, len, MSG_NOSIGNAL) == (ssize_t)len && reply(&r) != 0)
            answered++;
    }
    CHECK_EQ(answered, 300);
    g_ctx = "still alive";
    CHECK_EQ(waitpid(pid, NULL, WNOHANG), 0);
    ask(m, req(m, 18, "udp port 9", 11), LT_WIRE_FILTER_OK, 18, "");

    g_ctx = "the end";
    close(sock);
    int st = -1;
    CHECK_EQ(waitpid(pid, &st, 0), pid);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    close(ctl);
    return check_summary("test_capture_ctl");
}
