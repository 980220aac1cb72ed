#include "dump.h"

#include <errno.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LT_DUMP_SNAPLEN 262144

struct lt_dump {
    char *path;
    FILE *f;             /* until the header is written */
    pcap_t *dead;
    pcap_dumper_t *dumper;
    int linktype;
    uint64_t skipped;
};

lt_dump *lt_dump_create(const char *path, char *err, size_t errlen)
{
    lt_dump *d = calloc(1, sizeof *d);
    if (!d || !(d->path = strdup(path))) {
        free(d);
        snprintf(err, errlen, "%s: out of memory", path);
        return NULL;
    }
    d->f = strcmp(path, "-") == 0 ? stdout : fopen(path, "wb");
    if (!d->f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        free(d->path);
        free(d);
        return NULL;
    }
    d->linktype = -1;
    return d;
}

static int start(lt_dump *d, int linktype, char *err, size_t errlen)
{
    d->dead = pcap_open_dead_with_tstamp_precision(linktype, LT_DUMP_SNAPLEN,
                                                   PCAP_TSTAMP_PRECISION_NANO);
    if (!d->dead) {
        snprintf(err, errlen, "%s: cannot write link type %d", d->path, linktype);
        return -1;
    }
    d->dumper = pcap_dump_fopen(d->dead, d->f);
    if (!d->dumper) {
        snprintf(err, errlen, "%s: %s", d->path, pcap_geterr(d->dead));
        return -1;
    }
    d->f = NULL; /* owned by the dumper now */
    d->linktype = linktype;
    return 0;
}

int lt_dump_write(lt_dump *d, const lt_frame *f, char *err, size_t errlen)
{
    if (d->linktype < 0 && start(d, f->linktype, err, errlen) != 0)
        return -1;
    if (f->linktype != d->linktype) {
        d->skipped++;
        return 1;
    }
    struct pcap_pkthdr h;
    h.ts.tv_sec = (time_t)f->ts_sec;
    h.ts.tv_usec = (suseconds_t)f->ts_nsec; /* nanosecond file */
    h.caplen = f->caplen;
    h.len = f->len;
    pcap_dump((u_char *)d->dumper, &h, f->data);
    return 0;
}

uint64_t lt_dump_skipped(const lt_dump *d)
{
    return d->skipped;
}

int lt_dump_close(lt_dump *d, char *err, size_t errlen)
{
    int rc = 0;
    if (!d)
        return 0;
    if (d->dumper) {
        if (pcap_dump_flush(d->dumper) != 0) {
            snprintf(err, errlen, "%s: write failed", d->path);
            rc = -1;
        }
        pcap_dump_close(d->dumper);
    } else if (d->f) {
        /* No frame passed: still leave a valid, empty capture. */
        if (start(d, DLT_EN10MB, err, errlen) == 0) {
            pcap_dump_close(d->dumper);
        } else {
            rc = -1;
            if (d->f && d->f != stdout)
                fclose(d->f);
        }
    }
    if (d->dead)
        pcap_close(d->dead);
    free(d->path);
    free(d);
    return rc;
}
