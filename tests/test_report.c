/* What lunatap prints on stderr while running: the SIGUSR1 statistics
 * line (field names and order, missing fields as 0) and the drop warning
 * (printed only when a counter grew, each time with fresh numbers). */
#include "report.h"

#include <lauxlib.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

/* What was printed to the memory stream (through a pointer: the checks
 * compare strings of any length). */
static char printed_buf[1024];
static char *printed = printed_buf;

static FILE *open_mem(void)
{
    memset(printed_buf, 0, sizeof printed_buf);
    return fmemopen(printed_buf, sizeof printed_buf - 1, "w");
}

/* CHECK_STR's message buffer is too small for whole lines. */
#define CHECK_PRINTED(want) do { \
        CHECK(strcmp(printed, want) == 0); \
        if (strcmp(printed, want) != 0) \
            fprintf(stderr, "  got:  %s\n  want: %s\n", printed, want); \
    } while (0)

static void test_stats_line(void)
{
    lua_State *L = luaL_newstate();
    lua_createtable(L, 0, 4);
    lua_pushinteger(L, 7);
    lua_setfield(L, -2, "received");
    lua_pushinteger(L, 5);
    lua_setfield(L, -2, "decoded");
    lua_pushinteger(L, 2);
    lua_setfield(L, -2, "dropped_handoff");
    lua_pushinteger(L, 99);
    lua_setfield(L, -2, "not_in_the_line");
    FILE *f = open_mem();
    lt_report_stats_line(L, -1, f);
    fclose(f);
    CHECK_PRINTED("lunatap: stats: received=7 decoded=5 truncated=0 invalid=0 sessions=0 "
                       "session_evictions=0 reassembly_mem=0 lua_mem=0 dropped_kernel=0 "
                       "dropped_interface=0 dropped_handoff=2\n");
    CHECK_EQ(lua_gettop(L), 1); /* the table stays, nothing else */
    lua_close(L);
}

static void test_drops(void)
{
    lt_drops warned = { 0, 0, 0 }, now = { 0, 0, 0 };
    FILE *f = open_mem();
    CHECK_EQ(lt_report_drops(&warned, &now, f), 0); /* nothing dropped: silent */
    fclose(f);
    CHECK_PRINTED("");

    now = (lt_drops){ 40, 0, 2 };
    f = open_mem();
    CHECK_EQ(lt_report_drops(&warned, &now, f), 1);
    fclose(f);
    CHECK_PRINTED("lunatap: warning: packets dropped: 42 more since the last warning "
                       "(kernel 40, interface 0, hand-off 2 in all)\n");
    CHECK_EQ(warned.kernel, 40);

    f = open_mem();
    CHECK_EQ(lt_report_drops(&warned, &now, f), 0); /* no growth: no stale repeat */
    fclose(f);
    CHECK_PRINTED("");

    now.interface = 5;
    f = open_mem();
    CHECK_EQ(lt_report_drops(&warned, &now, f), 1);
    fclose(f);
    CHECK_PRINTED("lunatap: warning: packets dropped: 5 more since the last warning "
                       "(kernel 40, interface 5, hand-off 2 in all)\n");
}

int main(void)
{
    test_stats_line();
    test_drops();
    return check_summary("test_report");
}
