#include "filter.h"

#include <pcap/pcap.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>

#define LT_FILTER_MAX_LINKTYPES 32
#define LT_FILTER_SNAPLEN 262144

typedef struct compiled {
    int linktype;
    int ok;                       /* 0: compiling failed for this type */
    struct bpf_program prog;
} compiled;

struct lt_filter {
    char *expr;
    int n;
    compiled progs[LT_FILTER_MAX_LINKTYPES];
};

static int compile_for(const char *expr, int linktype, struct bpf_program *prog,
                       char *err, size_t errlen)
{
    pcap_t *dead = pcap_open_dead(linktype, LT_FILTER_SNAPLEN);
    if (!dead) {
        snprintf(err, errlen, "bad filter expression '%s': cannot set up link type %d", expr, linktype);
        return -1;
    }
    int rc = pcap_compile(dead, prog, expr, 1, PCAP_NETMASK_UNKNOWN);
    if (rc != 0) {
        const char *name = pcap_datalink_val_to_name(linktype);
        snprintf(err, errlen, "bad filter expression '%s' for link type %s: %s", expr,
                 name ? name : "unknown", pcap_geterr(dead));
    }
    pcap_close(dead);
    return rc == 0 ? 0 : -1;
}

static compiled *find_or_compile(lt_filter *flt, int linktype, char *err, size_t errlen)
{
    for (int i = 0; i < flt->n; i++)
        if (flt->progs[i].linktype == linktype)
            return &flt->progs[i];
    if (flt->n == LT_FILTER_MAX_LINKTYPES) {
        snprintf(err, errlen, "filter: more than %d link types in one capture", LT_FILTER_MAX_LINKTYPES);
        return NULL;
    }
    compiled *c = &flt->progs[flt->n++];
    c->linktype = linktype;
    c->ok = compile_for(flt->expr, linktype, &c->prog, err, errlen) == 0;
    return c;
}

lt_filter *lt_filter_new(const char *expr, int linktype, char *err, size_t errlen)
{
    lt_filter *flt = calloc(1, sizeof *flt);
    if (!flt || !(flt->expr = strdup(expr))) {
        free(flt);
        snprintf(err, errlen, "filter: out of memory");
        return NULL;
    }
    compiled *c = find_or_compile(flt, linktype < 0 ? DLT_EN10MB : linktype, err, errlen);
    if (!c || !c->ok) {
        lt_filter_free(flt);
        return NULL;
    }
    return flt;
}

int lt_filter_match(lt_filter *flt, const lt_frame *f, char *err, size_t errlen)
{
    compiled *c = find_or_compile(flt, f->linktype, err, errlen);
    if (!c)
        return -1;
    if (!c->ok) {
        snprintf(err, errlen, "filter '%s' cannot be compiled for link type %d", flt->expr, f->linktype);
        return -1;
    }
    struct pcap_pkthdr h;
    h.ts.tv_sec = (time_t)f->ts_sec;
    h.ts.tv_usec = (suseconds_t)(f->ts_nsec / 1000);
    h.caplen = f->caplen;
    h.len = f->len;
    return pcap_offline_filter(&c->prog, &h, f->data) != 0;
}

void lt_filter_free(lt_filter *flt)
{
    if (!flt)
        return;
    for (int i = 0; i < flt->n; i++)
        if (flt->progs[i].ok)
            pcap_freecode(&flt->progs[i].prog);
    free(flt->expr);
    free(flt);
}
