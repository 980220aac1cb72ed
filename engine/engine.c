#include "engine.h"
#include "engine_int.h"
#include "decode.h"
#include "dissect.h"
#include "dump.h"
#include "filter.h"
#include "lcodec.h"
#include "ldns.h"
#include "lresp.h"
#include "lintrospect.h"
#include "lfiles.h"
#include "sha256.h"
#include "lpacket.h"
#include "lutil.h"
#include "report.h"
#include "signals.h"
#include "priv.h"
#include "source.h"
#include "stopcond.h"
#include "timers.h"
#include "track.h"

#include <errno.h>
#include <dirent.h>
#include <limits.h>
#include <lauxlib.h>
#include <pcap/pcap.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

void lt_engine_note_input_error(lt_engine *e, const char *msg)
{
    if (!e->input_error[0])
        snprintf(e->input_error, sizeof e->input_error, "%s", msg);
    fprintf(e->repl ? lt_repl_errfile(e->repl) : stderr, "lunatap: %s\n", msg);
    e->bad_input = 1;
}

static void on_read(uv_idle_t *idle);

static void stop_reader(lt_engine *e)
{
    if (!e->reader_open)
        return;
    e->reader_open = 0;
    if (e->live) {
        uv_poll_stop(&e->poller);
        uv_close((uv_handle_t *)&e->poller, NULL);
    } else {
        uv_idle_stop(&e->reader);
        uv_close((uv_handle_t *)&e->reader, NULL);
    }
}

static void stop(lt_engine *e)
{
    if (e->stopping)
        return;
    e->stopping = 1;
    lt_stopcond_close(&e->sc);
    lt_timers_close(e->timers);
    stop_reader(e);
    uv_poll_stop(&e->sigpoll);
    uv_close((uv_handle_t *)&e->sigpoll, NULL);
    if (e->repl) {
        lt_repl_close(e->repl);
        uv_check_stop(&e->flusher);
        uv_close((uv_handle_t *)&e->flusher, NULL);
    }
}

void lt_engine_stop(lt_engine *e)
{
    stop(e);
}

/* The end of the input (end of file, a read error, -c, stop()): the run
 * ends; in the REPL reading ends, the sessions end, and the prompt stays. */
void lt_engine_end_input(lt_engine *e)
{
    if (!e->repl) {
        stop(e);
        return;
    }
    if (e->input_done)
        return;
    e->input_done = 1;
    e->paused = 1;
    e->step_left = 0;
    e->showing = 0;
    stop_reader(e);
    lt_track_finish(e->track);
    lt_repl_message(e->repl, "-- end of capture: %llu packets read, %llu passed the filter",
                    (unsigned long long)e->c.packets, (unsigned long long)e->c.passed);
    if (e->quit_at_end)
        stop(e);
    else
        lt_repl_ready(e->repl);
}

/* Offline, pausing stops reading; live, frames go on being read (the
 * helper would count them as drops otherwise) and are discarded. */
void lt_engine_set_paused(lt_engine *e, int paused)
{
    e->paused = paused;
    if (!e->live && e->reader_open && !e->input_done) {
        if (paused)
            uv_idle_stop(&e->reader);
        else
            uv_idle_start(&e->reader, on_read);
    }
    if (paused && e->repl)
        lt_repl_ready(e->repl);
}

/* Live: the helper's counters (accumulated there) into e->c. */
static void refresh_drops(lt_engine *e)
{
    lt_live_stats st;
    if (!e->live || lt_live_read_stats(e->src, &st) != 0)
        return;
    e->c.live_received = st.received;
    e->c.drops.kernel = st.dropped_kernel;
    e->c.drops.interface = st.dropped_interface;
    e->c.drops.handoff = st.dropped_handoff;
}

/* The statistics table of stats() and of the "done" event. */
static void push_stats(lua_State *L, void *ud)
{
    lt_engine *e = ud;
    refresh_drops(e);
    const lt_host_stats *hs = &e->host->st;
    lua_createtable(L, 0, 24);
    lt_set_int(L, "packets", e->c.packets);
    lt_set_int(L, "received", e->live ? e->c.live_received : e->c.packets);
    lt_set_int(L, "decoded", e->c.passed);
    lt_set_int(L, "dropped_kernel", e->c.drops.kernel);
    lt_set_int(L, "dropped_interface", e->c.drops.interface);
    lt_set_int(L, "dropped_handoff", e->c.drops.handoff);
    lt_set_int(L, "bytes", e->c.bytes);
    lt_set_int(L, "passed", e->c.passed);
    lt_set_int(L, "passed_bytes", e->c.passed_bytes);
    lt_set_int(L, "filtered", e->c.filtered);
    lt_set_int(L, "truncated", e->c.truncated);
    lt_set_int(L, "invalid", e->c.invalid);
    lt_set_int(L, "written", e->c.written);
    lt_set_int(L, "not_written", e->c.not_written);
    lt_set_int(L, "lua_mem", e->host->mem);
    lt_set_int(L, "lua_mem_peak", e->host->mem_peak);
    lt_set_int(L, "lua_mem_limit", e->host->lim.mem);
    lt_set_int(L, "lua_calls", hs->calls);
    lt_set_int(L, "lua_errors", hs->errors);
    lt_set_int(L, "lua_budget_errors", hs->budget_errors);
    lt_set_int(L, "lua_memory_errors", hs->memory_errors);
    lt_set_int(L, "lua_disabled", hs->disabled);
    lt_set_int(L, "lua_interrupts", e->host->interrupts);
    lt_set_int(L, "output_bytes", e->out.written);
    lt_set_int(L, "output_dropped", e->out.dropped);
    if (e->files) {
        const lt_files_stats *fs = lt_files_stats_get(e->files);
        lt_set_int(L, "files_opened", fs->opened);
        lt_set_int(L, "files_bytes", fs->bytes_written);
        lt_set_int(L, "files_refused", fs->writes_refused);
    }
    if (e->cfg->repl) {
        lt_set_int(L, "discarded_paused", e->discarded_paused);
        lt_set_int(L, "last_kept", e->ring ? lt_ring_count(e->ring) : 0);
        lt_set_int(L, "last_evicted", e->ring ? lt_ring_evicted(e->ring) : 0);
    }
    if (e->track)
        lt_track_stats(e->track, L);
    if (e->timers)
        lt_timers_stats(e->timers, L);
    if (e->input_error[0]) {
        lua_pushstring(L, e->input_error);
        lua_setfield(L, -2, "input_error");
    }
}

static void dispatch_packet(lt_engine *e, const lt_frame *f)
{
    lt_decode(&e->pkt, f);
    e->c.truncated += e->pkt.truncated;
    e->c.invalid += e->pkt.invalid;
    lt_host *h = e->host;
    int wanted = lt_host_wants(h, LT_EV_PACKET);
    if (wanted || e->showing) {
        h->cur = &e->pkt;
        if (wanted) {
            int g = lt_host_unguard(h);
            lt_packet_push(h->L, h);
            lt_host_guard(h, g);
            lt_host_dispatch(h, LT_EV_PACKET, 1);
        }
        if (e->showing) {
            int g = lt_host_unguard(h);
            lt_packet_push(h->L, h);
            lt_host_guard(h, g);
            lt_repl_show_packet(e->repl);
        }
        h->cur = NULL;
        lt_host_expire(h, LT_EPOCH_PACKET);
    }
    lt_track_packet(e->track, &e->pkt);
    if (e->ring)
        lt_ring_push(e->ring, f);
}

/* One frame from the source: filter, write, decode, dispatch. Returns 0 to
 * go on, -1 to stop. */
int lt_engine_handle_frame(lt_engine *e, const lt_frame *f)
{
    char err[512];
    if (e->paused && e->live) {
        e->discarded_paused++;
        return 0;
    }
    if (lt_stopcond_past_duration(&e->sc, f))
        return -1;
    /* Capture time moves to this frame: what was due before it fires
     * first (a timer's stop() ends reading before the frame). */
    lt_timers_on_frame(e->timers, (double)f->ts_sec + f->ts_nsec / 1e9);
    if (e->stop_asked)
        return -1;
    e->c.packets++;
    e->c.bytes += f->caplen;
    if (e->flt) {
        int m = lt_filter_match(e->flt, f, err, sizeof err);
        if (m < 0) {
            lt_engine_note_input_error(e, err);
            return -1;
        }
        if (!m) {
            e->c.filtered++;
            return 0;
        }
    }
    e->c.passed++;
    e->c.passed_bytes += f->caplen;
    if (e->dump) {
        int w = lt_dump_write(e->dump, f, err, sizeof err);
        if (w < 0) {
            lt_engine_note_input_error(e, err);
            return -1;
        }
        if (w == 0)
            e->c.written++;
        else
            e->c.not_written++;
    }
    dispatch_packet(e, f);
    if (e->step_left && --e->step_left == 0) {
        e->showing = 0;
        lt_engine_set_paused(e, 1);
    }
    if (e->stop_asked || lt_stopcond_reached(&e->sc, e->c.passed, e->c.passed_bytes))
        return -1;
    return 0;
}

static void note_read_error(lt_engine *e)
{
    char msg[1024];
    snprintf(msg, sizeof msg, "%s: %s (after %llu packets)", e->src->name,
             lt_source_error(e->src), (unsigned long long)e->c.packets);
    lt_engine_note_input_error(e, msg);
}

/* Reads up to `max` frames from a file; fewer once paused (a step that
 * ran out) or at the end of the input. */
void lt_engine_read(lt_engine *e, int max)
{
    lt_frame f;
    for (int i = 0; i < max && !e->stopping && !e->input_done && !e->paused; i++) {
        if (e->stop_asked) {
            lt_engine_end_input(e);
            break;
        }
        int rc = lt_source_next(e->src, &f);
        if (rc == LT_NEXT_FRAME && lt_engine_handle_frame(e, &f) == 0)
            continue;
        /* (A signal or stop() that ended reading may have cut a frame.) */
        if (rc == LT_NEXT_ERROR && !e->stopping)
            note_read_error(e);
        lt_engine_end_input(e);
    }
}

static void on_read(uv_idle_t *idle)
{
    lt_engine *e = idle->data;
    if (e->paused)
        uv_idle_stop(idle);
    else
        lt_engine_read(e, LT_BATCH);
}

static int service_waiting(void *ud);

/* Frames a live turn reads before giving the loop a turn (signals and
 * timers are looked at within a turn too, below); the batch being read is
 * always finished first (its frames are not visible to the poll). */
#define LT_LIVE_TURN 4096

static void on_live_read(uv_poll_t *poll, int status, int events)
{
    lt_engine *e = poll->data;
    lt_frame f;
    for (int i = 0; !e->stopping && !e->input_done && (i < LT_LIVE_TURN || lt_live_pending(e->src));
         i++) {
        if (e->stop_asked) {
            lt_engine_end_input(e);
            return;
        }
        /* A slow script can make a turn last seconds (4096 frames at 2 ms
         * each is 8 s): signals, timers and the once-a-second tick (drop
         * warning, session timeouts) are looked at between frames too. */
        if ((i & 63) == 63 && service_waiting(e))
            return;
        int rc = lt_source_next(e->src, &f);
        if (rc == LT_NEXT_AGAIN)
            return;
        if (rc == LT_NEXT_FRAME && lt_engine_handle_frame(e, &f) == 0)
            continue;
        if (rc == LT_NEXT_ERROR)
            note_read_error(e);
        lt_engine_end_input(e);
        return;
    }
}

/* SIGUSR1: the statistics line on stderr; capture goes on. */
static void print_stats_line(lt_engine *e)
{
    lua_State *L = e->host->L;
    int g = lt_host_unguard(e->host);
    push_stats(L, e);
    lt_report_stats_line(L, -1, e->repl ? lt_repl_errfile(e->repl) : stderr);
    lua_pop(L, 1);
    lt_host_guard(e->host, g);
}

/* Acts on the signals that came (signals.h); 1 once reading is to end.
 * Runs from the loop or from a reader waiting on a quiet pipe, never
 * inside Lua. */
static int service_signals(void *ud)
{
    lt_engine *e = ud;
    unsigned what = lt_signals_take();
    if (what & LT_SIG_STATS)
        print_stats_line(e);
    if (what & LT_SIG_STOP)
        stop(e);
    if ((what & LT_SIG_INTERRUPT) && e->repl && e->interrupt_at_prompt) {
        e->interrupt_at_prompt = 0;
        lt_repl_interrupted(e->repl);
    }
    return e->stopping;
}

/* A reader waiting on a quiet pipe: signals, then wall-clock timers. */
static int service_waiting(void *ud)
{
    lt_engine *e = ud;
    if (service_signals(e))
        return 1;
    lt_timers_service(e->timers);
    if (e->stop_asked)
        stop(e);
    return e->stopping;
}

static int wait_ms(void *ud)
{
    lt_engine *e = ud;
    return lt_timers_wait_ms(e->timers);
}

static void on_signal_pipe(uv_poll_t *p, int status, int events)
{
    service_signals(p->data);
}

static int open_input(lt_engine *e)
{
    char err[1024];
    if (!e->cfg->read_file) {
        fprintf(stderr, "lunatap: no input: give a capture file with -r FILE (or -r - for stdin), "
                        "or an interface with -i IFACE\n");
        return LT_EXIT_USAGE;
    }
    e->src = lt_source_open_file(e->cfg->read_file, err, sizeof err);
    if (!e->src) {
        lt_engine_note_input_error(e, err);
        return LT_EXIT_BAD_INPUT;
    }
    lt_source_waiter w = { lt_signals_fd(), wait_ms, service_waiting, e };
    lt_source_set_waiter(e->src, &w);
    if (e->cfg->filter) {
        e->flt = lt_filter_new(e->cfg->filter, e->src->linktype, err, sizeof err);
        if (!e->flt) {
            fprintf(stderr, "lunatap: %s\n", err);
            return LT_EXIT_USAGE;
        }
    }
    if (e->cfg->write_file) {
        e->dump = lt_dump_create(e->cfg->write_file, err, sizeof err);
        if (!e->dump) {
            fprintf(stderr, "lunatap: -w %s\n", err);
            return LT_EXIT_USAGE;
        }
    }
    return LT_EXIT_OK;
}

/* -i: the helper opens and filters the device; then this process gives up
 * whatever privileges it has, before any Lua is loaded. -w is opened first,
 * as tcpdump does, so it may be written where the user may not. */
static int open_live(lt_engine *e)
{
    char err[1200];
    int code;
    e->src = lt_live_open(&e->cfg->live, e->cfg->filter, err, sizeof err, &code);
    if (!e->src) {
        fprintf(stderr, "lunatap: %s\n", err);
        return code == LT_EXIT_USAGE ? LT_EXIT_USAGE : LT_EXIT_BAD_INPUT;
    }
    e->live = 1;
    const char *lname = pcap_datalink_val_to_name(e->src->linktype);
    const char *ldesc = pcap_datalink_val_to_description(e->src->linktype);
    fprintf(stderr, "lunatap: capturing on %s, link type %s (%s), snapshot length %u bytes\n",
            e->cfg->live.iface, lname ? lname : "?", ldesc ? ldesc : "unknown", e->src->snaplen);
    if (e->cfg->write_file) {
        e->dump = lt_dump_create(e->cfg->write_file, err, sizeof err);
        if (!e->dump) {
            fprintf(stderr, "lunatap: -w %s\n", err);
            return LT_EXIT_USAGE;
        }
    }
    if (lt_priv_drop(e->cfg->live.user ? e->cfg->live.user : LT_DEFAULT_USER, err, sizeof err) != 0) {
        fprintf(stderr, "lunatap: %s\n", err);
        return LT_EXIT_USAGE;
    }
    return LT_EXIT_OK;
}

/* output_is_tty() -> true when standard output is a terminal (colour). */
static int api_output_is_tty(lua_State *L)
{
    lt_engine *e = lua_touserdata(L, lua_upvalueindex(1));
    lua_pushboolean(L, e->out.tty);
    return 1;
}

/* stop(): reading ends after the packet being handled, as with -c; the
 * sessions still open end and "done" runs as at the end of a file. Live,
 * the reader is stopped at once: a stop() from a wall-clock timer or a
 * session timeout on a quiet link would otherwise wait for a packet to
 * wake the reader (stop() only closes handles; the packet being handled
 * still finishes). Offline the readers see stop_asked before their next
 * frame. */
static int api_stop(lua_State *L)
{
    lt_engine *e = lua_touserdata(L, lua_upvalueindex(1));
    e->stop_asked = 1;
    lt_timers_halt(e->timers);
    if (e->live && e->looping)
        lt_engine_end_input(e);
    return 0;
}

/* The engine's globals in every script and module environment. */
static void engine_env(lua_State *L, int env, int script, void *ud)
{
    lt_engine *e = ud;
    lt_dissect_env(lt_track_dissect(e->track), L, env, script);
    lua_pushlightuserdata(L, e);
    lua_pushcclosure(L, api_output_is_tty, 1);
    lua_setfield(L, env, "output_is_tty");
    lua_pushlightuserdata(L, e);
    lua_pushcclosure(L, api_stop, 1);
    lua_setfield(L, env, "stop");
    lua_pushlightuserdata(L, e->files);
    lua_pushcclosure(L, lt_files_api_open, 1);
    lua_setfield(L, env, "open_file");
    lt_timers_env(e->timers, L, env, script);
}

/* sha256(s) -> lowercase hex digest */
static int api_sha256(lua_State *L)
{
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    char hex[65];
    lt_sha256_hex(s, n, hex);
    lua_pushlstring(L, hex, 64);
    return 1;
}

/* require("lunatap.config"): the settings dissectors and scripts read;
 * require("lunatap.codec"): inflate, unmask, sha256 in C;
 * require("lunatap.resp_scan"): the redis dissector's common messages;
 * require("lunatap.dns_scan"): the DNS messages dns_wire need not decode;
 * require("lunatap.introspect"): kind, fields, expired, keep. */
static void preload_config(lt_engine *e)
{
    lua_State *L = e->host->L;
    int g = lt_host_unguard(e->host);
    lua_createtable(L, 0, 2);
    lt_set_int(L, "max_body", e->cfg->max_body);
    lt_host_preload(e->host, "lunatap.config");
    lt_codec_push_module(L);
    lua_pushcfunction(L, api_sha256);
    lua_setfield(L, -2, "sha256");
    lt_host_preload(e->host, "lunatap.codec");
    lt_resp_push_module(L);
    lt_host_preload(e->host, "lunatap.resp_scan");
    lt_dns_push_module(L);
    lt_host_preload(e->host, "lunatap.dns_scan");
    lt_introspect_push_module(L);
    lt_host_preload(e->host, "lunatap.introspect");
    lt_host_guard(e->host, g);
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

static int is_lua_file(const struct dirent *d)
{
    size_t n = strlen(d->d_name);
    return d->d_name[0] != '.' && n > 4 && strcmp(d->d_name + n - 4, ".lua") == 0;
}

/* True when `path` is one of the scripts named on the command line: a
 * script kept next to the user's dissectors runs once, as a script. */
static int is_named_script(const lt_engine *e, const char *path)
{
    char a[PATH_MAX], b[PATH_MAX];
    if (!realpath(path, a))
        return 0;
    for (int i = 0; i < e->cfg->nscripts; i++)
        if (realpath(e->cfg->scripts[i].path, b) && strcmp(a, b) == 0)
            return 1;
    return 0;
}

/* Loads every *.lua directly in `dir` as a dissector, in name order.
 * `label` is how they are reported ("dissectors" for the bundled ones). */
static int load_dissector_dir(lt_engine *e, const char *dir, const char *label)
{
    struct dirent **list;
    int n = scandir(dir, &list, is_lua_file, by_name);
    if (n < 0) {
        fprintf(stderr, "lunatap: -L %s: cannot read the directory\n", dir);
        return LT_EXIT_USAGE;
    }
    int rc = LT_EXIT_OK;
    for (int i = 0; i < n; i++) {
        char path[4096], name[4096];
        snprintf(path, sizeof path, "%s/%s", dir, list[i]->d_name);
        snprintf(name, sizeof name, "%s/%s", label, list[i]->d_name);
        if (rc == LT_EXIT_OK && !is_named_script(e, path) &&
            lt_host_load_script(e->host, path, name, 0, NULL) != 0)
            rc = LT_EXIT_USAGE;
        free(list[i]);
    }
    free(list);
    return rc;
}

static int load_dissectors(lt_engine *e, const char *bundled)
{
    int rc = load_dissector_dir(e, bundled, "dissectors");
    for (int i = 0; i < e->cfg->nlibdirs && rc == LT_EXIT_OK; i++)
        rc = load_dissector_dir(e, e->cfg->libdirs[i], e->cfg->libdirs[i]);
    return rc;
}

static int load_scripts(lt_engine *e)
{
    char lua_dir[4096], diss_dir[4096];
    const char *paths[LT_MAX_LIBDIRS + 3];
    int n = 0;
    snprintf(lua_dir, sizeof lua_dir, "%s/lua", e->cfg->home);
    snprintf(diss_dir, sizeof diss_dir, "%s/dissectors", e->cfg->home);
    paths[n++] = lua_dir;
    paths[n++] = diss_dir;
    for (int i = 0; i < e->cfg->nlibdirs; i++)
        paths[n++] = e->cfg->libdirs[i];
    paths[n] = NULL;
    char err[512];
    e->host = lt_host_new(&e->cfg->lim, &e->out, paths, err, sizeof err);
    if (!e->host) {
        fprintf(stderr, "lunatap: %s\n", err);
        return LT_EXIT_BAD_INPUT;
    }
    e->host->stats_fn = push_stats;
    e->host->stats_ud = e;
    if (!(e->timers = lt_timers_new(e->host))) {
        fprintf(stderr, "lunatap: out of memory\n");
        return LT_EXIT_BAD_INPUT;
    }
    lt_track_config tc;
    lt_track_default_config(&tc);
    if (e->cfg->flow_mem)
        tc.flow.mem = (size_t)e->cfg->flow_mem;
    int g = lt_host_unguard(e->host);
    e->track = lt_track_new(e->host, &tc);
    lt_host_guard(e->host, g);
    if (!e->track) {
        fprintf(stderr, "lunatap: cannot set up session tracking\n");
        return LT_EXIT_BAD_INPUT;
    }
    if (e->cfg->allow_write) {
        e->files = lt_files_new(e->cfg->allow_write, e->cfg->max_write, err, sizeof err);
        if (!e->files) {
            fprintf(stderr, "lunatap: --allow-write: %s\n", err);
            return LT_EXIT_USAGE;
        }
    }
    e->host->env_fn = engine_env;
    e->host->env_ud = e;
    preload_config(e);
    int drc = load_dissectors(e, diss_dir);
    if (drc != LT_EXIT_OK)
        return drc;
    for (int i = 0; i < e->cfg->nscripts; i++) {
        const lt_script_arg *s = &e->cfg->scripts[i];
        int rc = lt_host_load_script(e->host, s->path, s->name, s->argc, s->argv);
        if (rc == LT_LOAD_HELP)
            return -1;
        if (rc != 0)
            return LT_EXIT_USAGE;
    }
    if (e->cfg->repl) {
        g = lt_host_unguard(e->host);
        e->repl_script = lt_host_add_script(e->host, "repl");
        if (e->repl_script >= 0)
            lt_replctl_env(e);
        lt_host_guard(e->host, g);
        if (e->repl_script < 0)
            return LT_EXIT_BAD_INPUT;
    }
    return LT_EXIT_OK;
}

static void finish(lt_engine *e)
{
    lua_State *L = e->host->L;
    lt_track_finish(e->track); /* every open session ends before "done" */
    int g = lt_host_unguard(e->host);
    push_stats(L, e);
    lt_host_guard(e->host, g);
    lt_host_dispatch(e->host, LT_EV_DONE, 1);
    if (e->repl)
        print_stats_line(e);
    char err[512];
    if (e->dump) {
        uint64_t skipped = lt_dump_skipped(e->dump);
        if (skipped)
            fprintf(stderr, "lunatap: -w %s: %llu packets of another link type not written "
                            "(a pcap file holds one link type)\n",
                    e->cfg->write_file, (unsigned long long)skipped);
        if (lt_dump_close(e->dump, err, sizeof err) != 0)
            lt_engine_note_input_error(e, err);
        e->dump = NULL;
    }
    if (e->out.dropped)
        fprintf(stderr, "lunatap: output cap of %llu bytes reached: %llu bytes dropped\n",
                (unsigned long long)e->out.cap, (unsigned long long)e->out.dropped);
    /* A reader that went away (`| head`) is not an error; a disk that
     * filled up is. */
    lt_output_flush(&e->out);
    if (e->out.write_failed && e->out.write_errno != EPIPE) {
        snprintf(err, sizeof err, "writing standard output: %s: %llu bytes lost",
                 e->out.write_errno ? strerror(e->out.write_errno) : "nothing written",
                 (unsigned long long)e->out.lost);
        lt_engine_note_input_error(e, err);
    }
}

/* Every second of wall time (--clock wall, live): idle sessions end on the
 * system clock, and a drop counter that grew is reported. */
static void on_wall_tick(void *ud, double now)
{
    lt_engine *e = ud;
    lt_track_advance(e->track, now);
    refresh_drops(e);
    lt_report_drops(&e->drops_warned, &e->c.drops, e->repl ? lt_repl_errfile(e->repl) : stderr);
}

/* --duration, live: the wall timer ran out. */
static void on_duration_over(void *ud)
{
    lt_engine_end_input(ud);
}

/* Offline files are read whenever the loop is idle; a live source when its
 * socket is readable (no busy polling). */
static int start_reader(lt_engine *e)
{
    if (!e->src) { /* the REPL without input */
        e->input_done = 1;
        return 0;
    }
    e->reader_open = 1;
    if (e->live) {
        int rc = uv_poll_init(&e->loop, &e->poller, lt_live_fd(e->src));
        if (rc != 0) {
            fprintf(stderr, "lunatap: cannot poll the capture helper's socket: %s\n", uv_strerror(rc));
            return -1;
        }
        e->poller.data = e;
        uv_poll_start(&e->poller, UV_READABLE, on_live_read);
    } else {
        uv_idle_init(&e->loop, &e->reader);
        e->reader.data = e;
        if (!e->paused)
            uv_idle_start(&e->reader, on_read);
    }
    return 0;
}

/* SIGINT in the REPL (from the signal handler): the callback running
 * now, and a step in progress, end. */
static void on_interrupt(void *ud)
{
    lt_engine *e = ud;
    if (e->repl && lt_repl_at_prompt(e->repl) && !e->host->depth) {
        e->interrupt_at_prompt = 1;
        return;
    }
    e->interrupted = 1;
    lt_host_interrupt(e->host);
}

static void on_repl_command(void *ud)
{
    lt_replctl_after_command(ud);
}

static void on_repl_quit(void *ud, int eof)
{
    lt_engine *e = ud;
    if (eof && !e->live && !e->paused && !e->input_done) {
        lt_repl_close(e->repl);
        e->quit_at_end = 1; /* a script of commands ending in run() */
        return;
    }
    stop(e);
}

static int repl_busy(void *ud)
{
    lt_engine *e = ud;
    return !e->live && e->src && !e->paused && !e->input_done && !e->stopping;
}

static void on_check(uv_check_t *c)
{
    lt_engine *e = c->data;
    lt_output_flush(&e->out);
}

static const char *input_name(const lt_engine *e)
{
    return e->live ? e->cfg->live.iface : e->cfg->read_file;
}

/* The prompt on the loop: Ctrl-C interrupts instead of stopping, output
 * goes out after every turn, and a file starts paused. */
static int start_repl(lt_engine *e)
{
    char err[512] = "";
    static const lt_repl_ops ops = { on_repl_command, on_repl_quit, repl_busy, NULL };
    lt_repl_ops o = ops;
    o.ud = e;
    e->repl = lt_repl_new(&e->loop, e->host, &e->out, e->repl_script, e->history_fd, &o, err,
                          sizeof err);
    e->history_fd = -1; /* the REPL's now, even on failure */
    if (!e->repl) {
        fprintf(stderr, "lunatap: repl: %s\n", err);
        return -1;
    }
    e->host->err = lt_repl_errfile(e->repl);
    if (!(e->ring = lt_ring_new(LT_REPL_RING_FRAMES, LT_REPL_RING_BYTES)))
        fprintf(stderr, "lunatap: repl: no memory for last(n): it will show nothing\n");
    lt_signals_interrupt_mode(on_interrupt, e);
    uv_check_init(&e->loop, &e->flusher);
    e->flusher.data = e;
    uv_check_start(&e->flusher, on_check);
    if (!e->src)
        lt_repl_message(e->repl, "lunatap repl: no capture (-r FILE or -i IFACE); help() lists "
                                 "the functions, Ctrl-D or exit() ends");
    else
        lt_repl_message(e->repl, "lunatap repl: %s %s%s; help() lists the functions, Ctrl-D or "
                                 "exit() ends", e->live ? "capturing on" : "reading",
                        input_name(e), e->live ? "" : " (paused: step(n) or run())");
    lt_repl_start(e->repl);
    return 0;
}

static int run_loop(lt_engine *e)
{
    if (uv_loop_init(&e->loop) != 0) {
        fprintf(stderr, "lunatap: cannot start the event loop\n");
        return LT_EXIT_BAD_INPUT;
    }
    e->paused = e->cfg->repl && !e->live;
    if (start_reader(e) != 0 || (e->cfg->repl && start_repl(e) != 0)) {
        stop_reader(e);
        uv_run(&e->loop, UV_RUN_NOWAIT);
        uv_loop_close(&e->loop);
        return LT_EXIT_BAD_INPUT;
    }
    uv_poll_init(&e->loop, &e->sigpoll, lt_signals_fd());
    e->sigpoll.data = e;
    uv_poll_start(&e->sigpoll, UV_READABLE, on_signal_pipe);
    lt_timers_set_tick(e->timers, on_wall_tick, e);
    /* Live, timers, session timeouts and --duration follow the system clock. */
    if ((e->cfg->wall_clock || e->live) && lt_timers_use_wall(e->timers, &e->loop) != 0)
        fprintf(stderr, "lunatap: wall clock: cannot start a timer; timers stay on capture time\n");
    if (e->live && lt_stopcond_start_wall(&e->sc, &e->loop, on_duration_over, e) != 0)
        fprintf(stderr, "lunatap: --duration: cannot start a timer on the wall clock\n");
    e->looping = 1;
    lt_host_dispatch(e->host, LT_EV_START, 0);
    service_signals(e); /* a signal during loading or "start" */
    if (e->stop_asked && e->live)
        stop(e); /* stop() while loading: a quiet link would not wake the reader */
    uv_run(&e->loop, UV_RUN_DEFAULT);
    e->looping = 0;
    uv_loop_close(&e->loop);
    return LT_EXIT_OK;
}

int lt_engine_run(const lt_config *cfg)
{
    lt_engine *e = calloc(1, sizeof *e);
    if (!e) {
        fprintf(stderr, "lunatap: out of memory\n");
        return LT_EXIT_BAD_INPUT;
    }
    e->cfg = cfg;
    e->history_fd = -1;
    if (cfg->repl) {
        char herr[600];
        e->history_fd = lt_repl_open_history(cfg->history, herr, sizeof herr);
        if (herr[0])
            fprintf(stderr, "lunatap: %s (going on without history)\n", herr);
    }
    lt_stopcond_init(&e->sc, cfg->count, cfg->max_bytes, cfg->duration);
    signal(SIGPIPE, SIG_IGN); /* a closed stdout ends output, not the run */
    char serr[256];
    if (lt_signals_install(serr, sizeof serr) != 0) {
        fprintf(stderr, "lunatap: %s\n", serr);
        free(e);
        return LT_EXIT_BAD_INPUT;
    }
    lt_output_init(&e->out, STDOUT_FILENO, cfg->max_output);
    int rc = cfg->live.iface ? open_live(e) : LT_EXIT_OK;
    if (rc == LT_EXIT_OK)
        rc = load_scripts(e);
    if (rc == LT_EXIT_OK && !e->live && !(cfg->repl && !cfg->read_file))
        rc = open_input(e);
    /* Input that cannot be read still ends the run the usual way: "start"
     * and "done" handlers run and see the error in the statistics. */
    if ((rc == LT_EXIT_OK || rc == LT_EXIT_BAD_INPUT) && e->track) {
        if (rc == LT_EXIT_OK)
            rc = run_loop(e);
        else
            lt_host_dispatch(e->host, LT_EV_START, 0);
        finish(e);
        /* In the REPL, an error in what was typed was shown and is over. */
        if (e->bad_input || (!cfg->repl && e->host->st.errors))
            rc = LT_EXIT_BAD_INPUT;
    }
    if (rc < 0)
        rc = LT_EXIT_OK; /* a script printed its help */
    lt_output_flush(&e->out);
    char err[256];
    lt_dump_close(e->dump, err, sizeof err);
    lt_filter_free(e->flt);
    lt_source_close(e->src);
    lt_track_free(e->track);
    if (e->host)
        e->host->err = stderr;
    lt_repl_free(e->repl);
    lt_ring_free(e->ring);
    if (e->history_fd >= 0)
        close(e->history_fd);
    free(e->filter_text);
    lt_host_free(e->host); /* closes files scripts left open */
    lt_timers_free(e->timers);
    lt_files_free(e->files);
    lt_signals_uninstall();
    free(e);
    return rc;
}
