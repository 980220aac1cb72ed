#include "output.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

void lt_output_init(lt_output *o, int fd, uint64_t cap)
{
    memset(o, 0, sizeof *o);
    o->fd = fd;
    o->tty = isatty(fd);
    o->cap = cap;
}

void lt_output_flush(lt_output *o)
{
    if (o->used && o->around)
        o->around(o->around_ud, 1);
    size_t off = 0;
    while (off < o->used && !o->write_failed) {
        ssize_t n = write(o->fd, o->buf + off, o->used - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            /* A closed pipe (`lunatap ... | head`) ends output, not the run. */
            o->write_failed = 1;
            o->write_errno = n < 0 ? errno : 0;
            break;
        }
        off += (size_t)n;
    }
    if (o->write_failed)
        o->lost += o->used - off; /* what never went out */
    if (o->used && o->around)
        o->around(o->around_ud, 0);
    o->used = 0;
}

static void append(lt_output *o, const char *s, size_t n)
{
    while (n > 0) {
        size_t room = sizeof o->buf - o->used;
        size_t k = n < room ? n : room;
        memcpy(o->buf + o->used, s, k);
        o->used += k;
        s += k;
        n -= k;
        if (o->used == sizeof o->buf)
            lt_output_flush(o);
    }
}

int lt_output_write(lt_output *o, const char *s, size_t n)
{
    int rc = 0;
    if (o->cap && o->written + n > o->cap) {
        size_t keep = (size_t)(o->cap - o->written);
        o->dropped += n - keep;
        n = keep;
        rc = -1;
    }
    if (o->write_failed) {
        o->lost += n;
        return -1;
    }
    append(o, s, n);
    o->written += n;
    if (o->tty && n > 0 && memchr(s, '\n', n))
        lt_output_flush(o);
    return rc;
}
