#include "signals.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int pipe_fd[2] = { -1, -1 };
static volatile sig_atomic_t stops;        /* SIGINT and SIGTERM received */
static volatile sig_atomic_t stats_asked;  /* SIGUSR1 received (wraps; compared) */
static sig_atomic_t stats_seen;
static volatile sig_atomic_t interrupts;   /* SIGINT in interrupt mode (wraps; compared) */
static sig_atomic_t interrupts_seen;
static void (*volatile interrupt_fn)(void *);
static void *volatile interrupt_ud;
static struct sigaction old_int, old_term, old_usr1;
static int installed;

static void wake(void)
{
    int saved = errno;
    char b = 1;
    /* Full pipe: a byte is already waiting, the reader will look. */
    ssize_t n = write(pipe_fd[1], &b, 1);
    (void)n;
    errno = saved;
}

static void on_signal(int sig)
{
    if (sig == SIGUSR1) {
        stats_asked++;
        wake();
        return;
    }
    if (sig == SIGINT && interrupt_fn) {
        interrupt_fn(interrupt_ud);
        interrupts++;
        wake();
        return;
    }
    if (stops) {
        /* The user wants out now: whatever is pending is dropped. */
        static const char msg[] = "lunatap: interrupted again, exiting at once\n";
        ssize_t n = write(STDERR_FILENO, msg, sizeof msg - 1);
        (void)n;
        _exit(128 + sig);
    }
    stops = 1;
    wake();
}

static int set_flags(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    return fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 ||
           fcntl(fd, F_SETFD, FD_CLOEXEC) < 0 ? -1 : 0;
}

int lt_signals_install(char *err, size_t errlen)
{
    if (pipe(pipe_fd) != 0 || set_flags(pipe_fd[0]) != 0 || set_flags(pipe_fd[1]) != 0) {
        snprintf(err, errlen, "cannot set up signal handling: %s", strerror(errno));
        lt_signals_uninstall();
        return -1;
    }
    stops = 0;
    stats_asked = stats_seen = 0;
    interrupts = interrupts_seen = 0;
    interrupt_fn = NULL;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    /* SA_RESTART: stdio (the -w writer, stderr) does not retry an
     * interrupted write and would lose data; poll(2) returns EINTR anyway,
     * and the self-pipe wakes it. */
    sa.sa_flags = SA_RESTART;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    sigaction(SIGUSR1, &sa, &old_usr1);
    installed = 1;
    return 0;
}

int lt_signals_fd(void)
{
    return pipe_fd[0];
}

unsigned lt_signals_take(void)
{
    char buf[64];
    /* Drain first: a signal after this leaves a byte for the next wake-up. */
    while (pipe_fd[0] >= 0 && read(pipe_fd[0], buf, sizeof buf) > 0)
        ;
    unsigned what = stops ? LT_SIG_STOP : 0;
    sig_atomic_t asked = stats_asked;
    if (asked != stats_seen) {
        stats_seen = asked;
        what |= LT_SIG_STATS;
    }
    sig_atomic_t ints = interrupts;
    if (ints != interrupts_seen) {
        interrupts_seen = ints;
        what |= LT_SIG_INTERRUPT;
    }
    return what;
}

void lt_signals_interrupt_mode(void (*fn)(void *), void *ud)
{
    interrupt_ud = ud;
    interrupt_fn = fn;
}

void lt_signals_uninstall(void)
{
    if (installed) {
        sigaction(SIGINT, &old_int, NULL);
        sigaction(SIGTERM, &old_term, NULL);
        sigaction(SIGUSR1, &old_usr1, NULL);
        installed = 0;
    }
    interrupt_fn = NULL;
    for (int i = 0; i < 2; i++) {
        if (pipe_fd[i] >= 0)
            close(pipe_fd[i]);
        pipe_fd[i] = -1;
    }
}
