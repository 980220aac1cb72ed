/*
 * lpattern.h — string.find, string.match, string.gmatch and string.gsub
 * for the sandbox, with Lua 5.4's pattern semantics and results, whose
 * matcher counts its steps. Lua's own matcher runs inside one C call,
 * where no count hook fires: a pattern like ("a*"):rep(6) .. "b" against
 * 80 bytes backtracks for minutes and nothing could stop it. Here every
 * step (a character tried, a backtrack, a recursion) is charged, in
 * batches, to whoever pushed the functions: the host charges them to the
 * callback's instruction budget and checks its time limit, so such a
 * match ends like any runaway loop.
 *
 * tests/test_pattern.c compares the four functions with Lua's on random
 * patterns and subjects, errors included.
 */
#ifndef LUNATAP_LPATTERN_H
#define LUNATAP_LPATTERN_H

#include <lua.h>

/* Steps charged at a time. */
#define LT_PATTERN_CHARGE 1024

/* Called every LT_PATTERN_CHARGE steps; raises a Lua error to stop the
 * match. */
typedef void (*lt_pattern_charge_fn)(lua_State *L, void *ud, unsigned steps);

typedef struct lt_pattern_cfg {
    lt_pattern_charge_fn charge;
    void *ud;
    size_t subject_max; /* longer subjects are refused (0: any); a plain
                         * find is not limited */
    unsigned pending;   /* steps not charged yet */
} lt_pattern_cfg;

/* Pushes a table with find, match, gmatch and gsub charging to cfg, which
 * must outlive every function pushed (and every gmatch iterator). */
void lt_pattern_push(lua_State *L, lt_pattern_cfg *cfg);

#endif
