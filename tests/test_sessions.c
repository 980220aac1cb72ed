/* Open sessions: lt_track_push_sessions() over the HTTP sample lists every
 * session the table holds (as many as lt_track_open_sessions() and the
 * statistics say), most recently active first, capped by max, as the same
 * objects the session events carry; none once the tracker finished. */
#include "lhost.h"
#include "lsession.h"
#include "source.h"
#include "track.h"

#include <fcntl.h>
#include <lauxlib.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "check.h"

static double number_field(lua_State *L, int idx, const char *name)
{
    lua_getfield(L, idx, name);
    double v = lua_tonumber(L, -1);
    lua_pop(L, 1);
    return v;
}

/* Checks the whole list against the table, and a capped one. */
static void check_list(lt_track *t, lua_State *L)
{
    size_t open = lt_track_open_sessions(t);
    lt_track_push_sessions(t, L, SIZE_MAX);
    int list = lua_gettop(L);
    CHECK_EQ(lua_rawlen(L, list), open);
    double prev = 1e300;
    int bad = 0;
    for (size_t i = 1; i <= open; i++) {
        lua_rawgeti(L, list, (lua_Integer)i);
        bad += !lt_session_is(L, -1);
        double last = number_field(L, -1, "last");
        bad += last > prev;
        prev = last;
        lua_pop(L, 1);
    }
    CHECK_EQ(bad, 0);
    lt_track_push_sessions(t, L, 2);
    CHECK_EQ(lua_rawlen(L, -1), open < 2 ? open : 2);
    if (open) {
        lua_rawgeti(L, -1, 1);
        lua_rawgeti(L, list, 1);
        CHECK(lua_rawequal(L, -1, -2)); /* one object per session */
        lua_pop(L, 2);
    }
    lt_track_push_sessions(t, L, 0);
    CHECK_EQ(lua_rawlen(L, -1), 0);
    lua_settop(L, list - 1);
}

static int run(const char *samples)
{
    char path[4096], err[512];
    snprintf(path, sizeof path, "%s/http-features.pcap", samples);
    lt_source *src = lt_source_open_file(path, err, sizeof err);
    if (!src) {
        fprintf(stderr, "skipped: %s\n", err);
        return 77;
    }
    lt_limits lim = { LT_DEFAULT_LUA_MEM, LT_DEFAULT_LUA_BUDGET, LT_DEFAULT_LUA_MS,
                      LT_DEFAULT_PATTERN_MAX, LT_DEFAULT_MAX_FAILURES };
    lt_output out;
    lt_output_init(&out, open("/dev/null", O_WRONLY), 0);
    lt_host *h = lt_host_new(&lim, &out, NULL, err, sizeof err);
    lt_track_config cfg;
    lt_track_default_config(&cfg);
    lt_track *t = h ? lt_track_new(h, &cfg) : NULL;
    CHECK(t != NULL);
    if (!t)
        return 1;
    lt_frame f;
    lt_packet p;
    size_t frames = 0, most = 0;
    while (lt_source_next(src, &f) == LT_NEXT_FRAME) {
        lt_decode(&p, &f);
        lt_track_packet(t, &p);
        size_t open = lt_track_open_sessions(t);
        most = open > most ? open : most;
        if (++frames % 7 == 0)
            check_list(t, h->L);
    }
    CHECK(most >= 3); /* the sample has several sessions at once */
    check_list(t, h->L);
    lt_track_finish(t);
    CHECK_EQ(lt_track_open_sessions(t), 0);
    check_list(t, h->L);
    lt_track_free(t);
    lt_host_free(h);
    lt_source_close(src);
    close(out.fd);
    return 0;
}

int main(int argc, char **argv)
{
    int rc = run(argc > 1 ? argv[1] : "samples");
    if (rc == 77)
        return rc;
    return check_summary("test_sessions") || rc;
}
