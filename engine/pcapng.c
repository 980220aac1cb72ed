/*
 * pcapng.c — a bounded pcapng reader (see pcapng.h for the contract).
 *
 * The stream is read strictly forward with fread, so pipes work. Each block
 * is read whole into one reusable buffer after its header has been checked;
 * every later read of block bytes goes through an accessor that checks the
 * offset against the block length, so a lying field cannot reach past it.
 */
#include "pcapng.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

enum {
    BT_SHB = 0x0A0D0D0A,
    BT_IDB = 0x00000001,
    BT_OPB = 0x00000002,
    BT_SPB = 0x00000003,
    BT_NRB = 0x00000004,
    BT_ISB = 0x00000005,
    BT_EPB = 0x00000006,
    BT_SJE = 0x00000009,
    BT_DSB = 0x0000000A,
    BT_CB = 0x00000BAD,
    BT_DCB = 0x40000BAD,
};

#define BOM 0x1A2B3C4Du
#define BOM_SWAPPED 0x4D3C2B1Au

/* Smallest legal total length of each block type we parse: header (8),
 * fixed body fields, trailer (4). Types we skip only need the 12. */
enum {
    MIN_BLOCK = 12,
    MIN_SHB = 28,
    MIN_IDB = 20,
    MIN_EPB = 32,
    MIN_OPB = 32,
    MIN_SPB = 16,
};

/* Default if_tsresol: microseconds (exponent 6 of 10). */
#define TSRESOL_DEFAULT 6u
#define TSRESOL_POW2 0x80u

#define OPT_ENDOFOPT 0
#define OPT_IF_TSRESOL 9
#define OPT_IF_TSOFFSET 14

#define FIRST_BUF_SIZE 4096u
#define FIRST_IFACE_CAP 4u
#define NSEC_PER_SEC 1000000000u

struct iface {
    int linktype;
    uint32_t snaplen;
    uint8_t tsresol;  /* raw if_tsresol byte */
    int64_t tsoffset; /* seconds */
};

struct lt_pcapng {
    FILE *f;
    uint64_t next_off; /* file offset of the next block */

    /* The current block, whole (header to trailer). */
    uint8_t *buf;
    size_t cap;
    uint32_t blen;
    uint32_t btype;
    uint64_t boff;

    bool big_endian; /* byte order of the current section */

    struct iface *ifs;
    uint32_t nifs;
    uint32_t ifcap;
    int first_linktype;

    int sticky; /* once EOF or ERROR, stay there */
    char err[256];
};

/* ---- errors ---------------------------------------------------------- */

static const char *block_name(uint32_t type)
{
    switch (type) {
    case BT_SHB: return "SHB";
    case BT_IDB: return "IDB";
    case BT_OPB: return "OPB";
    case BT_SPB: return "SPB";
    case BT_NRB: return "NRB";
    case BT_ISB: return "ISB";
    case BT_EPB: return "EPB";
    case BT_SJE: return "SJE";
    case BT_DSB: return "DSB";
    case BT_CB: return "CB";
    case BT_DCB: return "DCB";
    default: return NULL;
    }
}

static void set_error(lt_pcapng *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void set_error(lt_pcapng *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->err, sizeof r->err, fmt, ap);
    va_end(ap);
    r->sticky = LT_NEXT_ERROR;
}

/* Prefixes the message with the block's type and file offset, so a user
 * can find the bad bytes with a hex dump. */
static int block_error(lt_pcapng *r, uint32_t type, uint64_t off,
                       const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int block_error(lt_pcapng *r, uint32_t type, uint64_t off,
                       const char *fmt, ...)
{
    char what[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);

    const char *name = block_name(type);
    if (name)
        set_error(r, "pcapng: block type 0x%08" PRIX32 " (%s) at offset %" PRIu64 ": %s",
                  type, name, off, what);
    else
        set_error(r, "pcapng: block type 0x%08" PRIX32 " at offset %" PRIu64 ": %s",
                  type, off, what);
    return LT_NEXT_ERROR;
}

/* ---- byte access ----------------------------------------------------- */

static uint16_t load16(const uint8_t *p, bool be)
{
    return be ? (uint16_t)(p[0] << 8 | p[1]) : (uint16_t)(p[1] << 8 | p[0]);
}

static uint32_t load32(const uint8_t *p, bool be)
{
    if (be)
        return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
               (uint32_t)p[2] << 8 | p[3];
    return (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 |
           (uint32_t)p[1] << 8 | p[0];
}

static uint64_t load64(const uint8_t *p, bool be)
{
    uint64_t a = load32(p, be), b = load32(p + 4, be);
    return be ? a << 32 | b : b << 32 | a;
}

/* Callers check offsets against the block's fixed part or walk with their
 * own bounds; the asserts catch a bug in that arithmetic, not bad input. */
static uint16_t get16(const lt_pcapng *r, uint32_t off)
{
    assert(off <= r->blen && 2 <= r->blen - off);
    return load16(r->buf + off, r->big_endian);
}

static uint32_t get32(const lt_pcapng *r, uint32_t off)
{
    assert(off <= r->blen && 4 <= r->blen - off);
    return load32(r->buf + off, r->big_endian);
}

static uint64_t get64(const lt_pcapng *r, uint32_t off)
{
    assert(off <= r->blen && 8 <= r->blen - off);
    return load64(r->buf + off, r->big_endian);
}

/* A 64-bit timestamp is stored as high word then low word, each in the
 * section's byte order (not as one 64-bit integer). */
static uint64_t get_ts(const lt_pcapng *r, uint32_t off)
{
    return (uint64_t)get32(r, off) << 32 | get32(r, off + 4);
}

/* ---- reading blocks -------------------------------------------------- */

/* Reads exactly n bytes unless the stream ends; returns the count read. */
static size_t read_bytes(lt_pcapng *r, uint8_t *dst, size_t n)
{
    return n ? fread(dst, 1, n, r->f) : 0;
}

static int short_read(lt_pcapng *r, uint64_t off, size_t needed, size_t got)
{
    if (ferror(r->f)) {
        set_error(r, "pcapng: read error in block at offset %" PRIu64 ": %s",
                  off, strerror(errno));
        return LT_NEXT_ERROR;
    }
    set_error(r, "pcapng: truncated block at offset %" PRIu64
              " (needed %zu bytes, got %zu)", off, needed, got);
    return LT_NEXT_ERROR;
}

static bool grow_buffer(lt_pcapng *r, size_t need)
{
    if (need <= r->cap)
        return true;
    size_t cap = r->cap ? r->cap : FIRST_BUF_SIZE;
    while (cap < need)
        cap *= 2;
    if (cap > LT_PCAPNG_MAX_BLOCK)
        cap = LT_PCAPNG_MAX_BLOCK;
    uint8_t *p = realloc(r->buf, cap);
    if (!p)
        return false;
    r->buf = p;
    r->cap = cap;
    return true;
}

static uint32_t min_length(uint32_t type)
{
    switch (type) {
    case BT_SHB: return MIN_SHB;
    case BT_IDB: return MIN_IDB;
    case BT_EPB: return MIN_EPB;
    case BT_OPB: return MIN_OPB;
    case BT_SPB: return MIN_SPB;
    default: return MIN_BLOCK;
    }
}

static int check_length(lt_pcapng *r, uint32_t type, uint32_t len)
{
    uint32_t min = min_length(type);
    if (len % 4 != 0)
        return block_error(r, type, r->boff,
                           "total length %" PRIu32 " is not a multiple of 4", len);
    if (len < min)
        return block_error(r, type, r->boff,
                           "total length %" PRIu32 " is less than the minimum %" PRIu32,
                           len, min);
    if (len > LT_PCAPNG_MAX_BLOCK)
        return block_error(r, type, r->boff,
                           "total length %" PRIu32 " exceeds the limit of %u bytes",
                           len, LT_PCAPNG_MAX_BLOCK);
    return 0;
}

/* The byte order of a section is only known from the SHB's byte-order
 * magic, which follows its length: decide it before reading the length. */
static int read_bom(lt_pcapng *r, uint8_t *hdr)
{
    size_t got = read_bytes(r, hdr + 8, 4);
    if (got < 4)
        return short_read(r, r->boff, 12, 8 + got);
    uint32_t bom = load32(hdr + 8, false);
    if (bom == BOM)
        r->big_endian = false;
    else if (bom == BOM_SWAPPED)
        r->big_endian = true;
    else
        return block_error(r, BT_SHB, r->boff,
                           "bad byte-order magic 0x%08" PRIX32, bom);
    return 0;
}

/* Reads the next block whole into r->buf. LT_NEXT_FRAME means "a block is
 * there". With want_shb, anything but an SHB is "not a pcapng file". */
static int read_block(lt_pcapng *r, bool want_shb)
{
    uint8_t hdr[12];
    size_t hlen = 8;
    r->boff = r->next_off;
    size_t got = read_bytes(r, hdr, 8);

    if (want_shb && (got < 4 || load32(hdr, false) != LT_PCAPNG_MAGIC)) {
        set_error(r, "not a pcapng file");
        return LT_NEXT_ERROR;
    }
    if (got == 0 && !ferror(r->f)) {
        r->sticky = LT_NEXT_EOF;
        return LT_NEXT_EOF;
    }
    if (got < 8)
        return short_read(r, r->boff, 8, got);

    /* The SHB type reads the same in both byte orders. */
    uint32_t type = load32(hdr, r->big_endian);
    if (load32(hdr, false) == LT_PCAPNG_MAGIC) {
        type = BT_SHB;
        if (read_bom(r, hdr) != 0)
            return LT_NEXT_ERROR;
        hlen = 12;
    }
    uint32_t len = load32(hdr + 4, r->big_endian);
    if (check_length(r, type, len) != 0)
        return LT_NEXT_ERROR;
    if (!grow_buffer(r, len))
        return block_error(r, type, r->boff,
                           "out of memory for %" PRIu32 " bytes", len);

    memcpy(r->buf, hdr, hlen);
    got = read_bytes(r, r->buf + hlen, len - hlen);
    if (got < len - hlen)
        return short_read(r, r->boff, len, hlen + got);

    r->btype = type;
    r->blen = len;
    r->next_off += len;
    uint32_t trailer = get32(r, len - 4);
    if (trailer != len)
        return block_error(r, type, r->boff,
                           "trailer length %" PRIu32 " differs from header length %" PRIu32,
                           trailer, len);
    return LT_NEXT_FRAME;
}

/* ---- options --------------------------------------------------------- */

static const char *option_name(uint32_t btype, uint16_t code)
{
    switch (code) {
    case 0: return "opt_endofopt";
    case 1: return "opt_comment";
    case 2988: case 2989: case 19372: case 19373: return "opt_custom";
    default: break;
    }
    if (btype == BT_SHB) {
        static const char *const shb[] = {
            [2] = "shb_hardware", [3] = "shb_os", [4] = "shb_userappl",
        };
        if (code < sizeof shb / sizeof shb[0] && shb[code])
            return shb[code];
    } else if (btype == BT_IDB) {
        static const char *const idb[] = {
            [2] = "if_name", [3] = "if_description", [4] = "if_IPv4addr",
            [5] = "if_IPv6addr", [6] = "if_MACaddr", [7] = "if_EUIaddr",
            [8] = "if_speed", [9] = "if_tsresol", [10] = "if_tzone",
            [11] = "if_filter", [12] = "if_os", [13] = "if_fcslen",
            [14] = "if_tsoffset", [15] = "if_hardware", [16] = "if_txspeed",
            [17] = "if_rxspeed",
        };
        if (code < sizeof idb / sizeof idb[0] && idb[code])
            return idb[code];
    }
    return "unknown";
}

typedef void option_fn(struct iface *ifc, const lt_pcapng *r, uint16_t code,
                       uint32_t off, uint16_t len);

/* Walks the options from `start` to the trailer, calling fn (if any) for
 * each one. Every option's padded value must end before the trailer. */
static int walk_options(lt_pcapng *r, uint32_t start, option_fn *fn,
                        struct iface *ifc)
{
    uint32_t end = r->blen - 4;
    uint32_t off = start;
    /* Block lengths, fixed parts and padded options are all multiples of
     * 4, so either a whole option header is left or nothing is. */
    while (end - off >= 4) {
        uint16_t code = get16(r, off);
        uint16_t len = get16(r, off + 2);
        if (code == OPT_ENDOFOPT)
            break;
        uint32_t padded = ((uint32_t)len + 3u) & ~3u;
        if (padded > end - off - 4)
            return block_error(r, r->btype, r->boff,
                               "option %u (%s) at offset %" PRIu32
                               " of the block runs past its end "
                               "(length %u, %" PRIu32 " bytes left)",
                               code, option_name(r->btype, code), off, len,
                               end - off - 4);
        if (fn)
            fn(ifc, r, code, off + 4, len);
        off += 4 + padded;
    }
    return 0;
}

/* Options of unexpected length are ignored, as Wireshark does, rather than
 * failing a capture over a time stamp detail. */
static void idb_option(struct iface *ifc, const lt_pcapng *r, uint16_t code,
                       uint32_t off, uint16_t len)
{
    if (code == OPT_IF_TSRESOL && len == 1) {
        ifc->tsresol = r->buf[off];
    } else if (code == OPT_IF_TSOFFSET && len == 8) {
        uint64_t u = get64(r, off);
        /* Two's complement without an implementation-defined cast. */
        ifc->tsoffset = u <= INT64_MAX ? (int64_t)u : -(int64_t)(~u) - 1;
    }
}

/* ---- timestamps ------------------------------------------------------ */

/* floor(x * 10^9 / 2^shift), exact, for x < 2^shift (so the result is
 * below 10^9). The product needs up to 94 bits: keep it as hi:lo. */
static uint32_t frac_pow2_to_nsec(uint64_t x, unsigned shift)
{
    uint64_t p1 = (x >> 32) * NSEC_PER_SEC;          /* < 2^62 */
    uint64_t p0 = (x & 0xFFFFFFFFu) * NSEC_PER_SEC;  /* < 2^62 */
    uint64_t lo = ((p1 & 0xFFFFFFFFu) << 32) + p0;
    uint64_t hi = (p1 >> 32) + (lo < p0 ? 1 : 0);
    uint64_t q;
    if (shift >= 128)
        q = 0;
    else if (shift >= 64)
        q = hi >> (shift - 64);
    else if (shift == 0)
        q = lo;
    else
        q = hi << (64 - shift) | lo >> shift;
    return (uint32_t)q;
}

static uint64_t pow10_u64(unsigned e)
{
    uint64_t v = 1;
    while (e--)
        v *= 10;
    return v;
}

/* Splits ts (in units of the interface's resolution) into whole seconds
 * and nanoseconds using integer arithmetic only. */
static void ts_split(uint8_t tsresol, uint64_t ts, uint64_t *sec, uint32_t *nsec)
{
    unsigned e = tsresol & 0x7Fu;
    if (tsresol & TSRESOL_POW2) {
        if (e >= 64) {
            *sec = 0;
            *nsec = frac_pow2_to_nsec(ts, e);
        } else {
            *sec = e ? ts >> e : ts;
            uint64_t frac = e ? ts & ((UINT64_C(1) << e) - 1) : 0;
            *nsec = frac_pow2_to_nsec(frac, e);
        }
        return;
    }
    /* 10^19 is the largest power of ten in 64 bits; any finer resolution
     * leaves whole seconds at 0. */
    if (e > 19) {
        *sec = 0;
        *nsec = e - 9 > 19 ? 0 : (uint32_t)(ts / pow10_u64(e - 9));
        return;
    }
    uint64_t unit = pow10_u64(e);
    *sec = ts / unit;
    uint64_t frac = ts % unit;
    if (e <= 9)
        *nsec = (uint32_t)(frac * pow10_u64(9 - e));
    else
        *nsec = (uint32_t)(frac / pow10_u64(e - 9));
}

static int set_time(lt_pcapng *r, const struct iface *ifc, uint64_t ts,
                    lt_frame *out)
{
    uint64_t sec;
    uint32_t nsec;
    ts_split(ifc->tsresol, ts, &sec, &nsec);
    int64_t off = ifc->tsoffset;
    bool ok = sec <= INT64_MAX;
    if (ok && off > 0)
        ok = (int64_t)sec <= INT64_MAX - off;
    /* off < 0 cannot overflow: sec >= 0. */
    if (!ok)
        return block_error(r, r->btype, r->boff,
                           "time stamp %" PRIu64 " with offset %" PRId64
                           " s is out of range", ts, off);
    out->ts_sec = (int64_t)sec + off;
    out->ts_nsec = nsec;
    return 0;
}

/* ---- block handlers -------------------------------------------------- */

static int on_shb(lt_pcapng *r)
{
    uint16_t major = get16(r, 12), minor = get16(r, 14);
    /* 1.2 was written by some old tools and is read as 1.0 by libpcap and
     * Wireshark. */
    if (major != 1 || (minor != 0 && minor != 2))
        return block_error(r, BT_SHB, r->boff,
                           "unsupported pcapng version %u.%u", major, minor);
    if (walk_options(r, 24, NULL, NULL) != 0)
        return LT_NEXT_ERROR;
    r->nifs = 0;
    return 0;
}

static bool grow_ifaces(lt_pcapng *r)
{
    if (r->nifs < r->ifcap)
        return true;
    uint32_t cap = r->ifcap ? r->ifcap * 2 : FIRST_IFACE_CAP;
    if (cap > LT_PCAPNG_MAX_IFACES)
        cap = LT_PCAPNG_MAX_IFACES;
    struct iface *p = realloc(r->ifs, (size_t)cap * sizeof *p);
    if (!p)
        return false;
    r->ifs = p;
    r->ifcap = cap;
    return true;
}

static int on_idb(lt_pcapng *r)
{
    if (r->nifs >= LT_PCAPNG_MAX_IFACES)
        return block_error(r, BT_IDB, r->boff,
                           "too many interfaces (limit %u)", LT_PCAPNG_MAX_IFACES);
    struct iface ifc = {
        .linktype = get16(r, 8),
        .snaplen = get32(r, 12),
        .tsresol = TSRESOL_DEFAULT,
        .tsoffset = 0,
    };
    if (walk_options(r, 16, idb_option, &ifc) != 0)
        return LT_NEXT_ERROR;
    if (!grow_ifaces(r))
        return block_error(r, BT_IDB, r->boff, "out of memory for interfaces");
    r->ifs[r->nifs++] = ifc;
    if (r->first_linktype < 0)
        r->first_linktype = ifc.linktype;
    return 0;
}

static const struct iface *find_iface(lt_pcapng *r, uint32_t id)
{
    if (id < r->nifs)
        return &r->ifs[id];
    block_error(r, r->btype, r->boff,
                "interface id %" PRIu32 " out of range (%" PRIu32 " interfaces)",
                id, r->nifs);
    return NULL;
}

/* EPB and OPB share a layout after the interface field: ts high, ts low,
 * captured length, original length, data. */
static int packet_block(lt_pcapng *r, uint32_t id, lt_frame *out)
{
    const struct iface *ifc = find_iface(r, id);
    if (!ifc)
        return LT_NEXT_ERROR;
    uint32_t caplen = get32(r, 20), len = get32(r, 24);
    uint32_t room = r->blen - 32;
    if (caplen > room)
        return block_error(r, r->btype, r->boff,
                           "captured length %" PRIu32 " exceeds the %" PRIu32
                           " bytes of packet data in the block", caplen, room);
    if (set_time(r, ifc, get_ts(r, 12), out) != 0)
        return LT_NEXT_ERROR;
    out->data = r->buf + 28;
    out->caplen = caplen;
    out->len = len;
    out->linktype = ifc->linktype;
    out->ifindex = id;
    return LT_NEXT_FRAME;
}

static int on_epb(lt_pcapng *r, lt_frame *out)
{
    return packet_block(r, get32(r, 8), out);
}

static int on_opb(lt_pcapng *r, lt_frame *out)
{
    /* 16-bit interface id, then a 16-bit drop count we have no use for. */
    return packet_block(r, get16(r, 8), out);
}

static int on_spb(lt_pcapng *r, lt_frame *out)
{
    if (r->nifs == 0)
        return block_error(r, BT_SPB, r->boff, "no interface described before it");
    const struct iface *ifc = &r->ifs[0];
    uint32_t len = get32(r, 8);
    /* An SPB has no captured length: it is whatever of the packet fits,
     * limited by the snapshot length. */
    uint32_t caplen = r->blen - MIN_SPB;
    if (len < caplen)
        caplen = len;
    if (ifc->snaplen != 0 && ifc->snaplen < caplen)
        caplen = ifc->snaplen;
    out->data = r->buf + 12;
    out->caplen = caplen;
    out->len = len;
    out->ts_sec = 0;
    out->ts_nsec = 0;
    out->linktype = ifc->linktype;
    out->ifindex = 0;
    return LT_NEXT_FRAME;
}

/* ---- public API ------------------------------------------------------ */

lt_pcapng *lt_pcapng_open(FILE *f, char *err, size_t errlen)
{
    lt_pcapng *r = calloc(1, sizeof *r);
    if (!r) {
        if (err && errlen)
            snprintf(err, errlen, "pcapng: out of memory");
        fclose(f);
        return NULL;
    }
    r->f = f;
    r->first_linktype = -1;
    if (read_block(r, true) != LT_NEXT_FRAME || on_shb(r) != 0) {
        if (err && errlen)
            snprintf(err, errlen, "%s", r->err);
        lt_pcapng_close(r);
        return NULL;
    }
    return r;
}

int lt_pcapng_next(lt_pcapng *r, lt_frame *out)
{
    if (r->sticky != 0)
        return r->sticky;
    /* Each pass consumes at least 12 bytes, so this ends on any input. */
    for (;;) {
        int rc = read_block(r, false);
        if (rc != LT_NEXT_FRAME)
            return rc;
        switch (r->btype) {
        case BT_SHB: rc = on_shb(r); break;
        case BT_IDB: rc = on_idb(r); break;
        case BT_EPB: return on_epb(r, out);
        case BT_OPB: return on_opb(r, out);
        case BT_SPB: return on_spb(r, out);
        default: rc = 0; break; /* NRB, ISB, DSB, custom, unknown */
        }
        if (rc != 0)
            return LT_NEXT_ERROR;
    }
}

const char *lt_pcapng_error(const lt_pcapng *r)
{
    return r->err;
}

uint32_t lt_pcapng_ifaces(const lt_pcapng *r)
{
    return r->nifs;
}

int lt_pcapng_first_linktype(const lt_pcapng *r)
{
    return r->first_linktype;
}

void lt_pcapng_close(lt_pcapng *r)
{
    if (!r)
        return;
    if (r->f)
        fclose(r->f);
    free(r->buf);
    free(r->ifs);
    free(r);
}
