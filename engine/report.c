#include "report.h"

#include <inttypes.h>

/* The fields of the SIGUSR1 line, in order: stable names of stats(). */
static const char *const line_fields[] = {
    "received", "decoded", "truncated", "invalid", "sessions", "session_evictions",
    "reassembly_mem", "lua_mem", "dropped_kernel", "dropped_interface", "dropped_handoff",
    NULL,
};

void lt_report_stats_line(lua_State *L, int idx, FILE *f)
{
    idx = lua_absindex(L, idx);
    fputs("lunatap: stats:", f);
    for (const char *const *k = line_fields; *k; k++) {
        lua_pushstring(L, *k);
        lua_rawget(L, idx);
        long long v = lua_isinteger(L, -1) ? (long long)lua_tointeger(L, -1) : 0;
        lua_pop(L, 1);
        fprintf(f, " %s=%lld", *k, v);
    }
    fputc('\n', f);
    fflush(f);
}

int lt_report_drops(lt_drops *warned, const lt_drops *now, FILE *f)
{
    uint64_t before = warned->kernel + warned->interface + warned->handoff;
    uint64_t after = now->kernel + now->interface + now->handoff;
    if (after <= before)
        return 0;
    fprintf(f, "lunatap: warning: packets dropped: %" PRIu64 " more since the last warning "
               "(kernel %" PRIu64 ", interface %" PRIu64 ", hand-off %" PRIu64 " in all)\n",
            after - before, now->kernel, now->interface, now->handoff);
    fflush(f);
    *warned = *now;
    return 1;
}
