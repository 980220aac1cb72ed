/*
 * lpattern.c — see lpattern.h. The matching algorithm is Lua 5.4's
 * backtracking matcher (lstrlib.c, MIT licence), with the same results
 * and error messages, written again here so that its loops can count
 * their steps.
 */
#include "lpattern.h"

#include <ctype.h>
#include <lauxlib.h>
#include <string.h> /* memmem (the build defines _GNU_SOURCE): linear-time plain search */

#define ESC '%'
#define SPECIALS "^$*+?.([%-"
#define MAX_DEPTH 200   /* C recursion of one match, as Lua's MAXCCALLS */
#define MAX_CAPTURES 32 /* as Lua's MAX_CAPTURES */
#define CAP_UNFINISHED (-1)
#define CAP_POSITION (-2)

#define uchar(c) ((unsigned char)(c))

typedef struct mstate {
    const char *src_init, *src_end; /* the subject */
    const char *p_end;              /* the pattern's end */
    lua_State *L;
    lt_pattern_cfg *cfg;
    int depth;                      /* recursion left */
    int level;                      /* captures open or closed */
    struct {
        const char *init;
        ptrdiff_t len;
    } cap[MAX_CAPTURES];
} mstate;

/* Steps are charged in batches that carry over from call to call, so a
 * loop of short matches pays for them too. */
static void step(mstate *ms)
{
    if (++ms->cfg->pending == LT_PATTERN_CHARGE) {
        ms->cfg->pending = 0;
        ms->cfg->charge(ms->L, ms->cfg->ud, LT_PATTERN_CHARGE);
    }
}

static const char *match(mstate *ms, const char *s, const char *p);

/* ---- one character against one class ---- */

static int in_class(int c, int cl)
{
    int yes;
    switch (tolower(cl)) {
    case 'a': yes = isalpha(c); break;
    case 'c': yes = iscntrl(c); break;
    case 'd': yes = isdigit(c); break;
    case 'g': yes = isgraph(c); break;
    case 'l': yes = islower(c); break;
    case 'p': yes = ispunct(c); break;
    case 's': yes = isspace(c); break;
    case 'u': yes = isupper(c); break;
    case 'w': yes = isalnum(c); break;
    case 'x': yes = isxdigit(c); break;
    case 'z': yes = c == 0; break; /* deprecated in Lua 5.2, still matched by 5.4 */
    default: return cl == c;
    }
    return isupper(cl) ? !yes : yes;
}

/* c against the set [p, close], p at its '[' and close at its ']'. */
static int in_set(int c, const char *p, const char *close)
{
    int hit = 1;
    if (p[1] == '^') {
        hit = 0;
        p++;
    }
    while (++p < close) {
        if (*p == ESC) {
            p++;
            if (in_class(c, uchar(*p)))
                return hit;
        } else if (p[1] == '-' && p + 2 < close) {
            p += 2;
            if (uchar(p[-2]) <= c && c <= uchar(*p))
                return hit;
        } else if (uchar(*p) == c) {
            return hit;
        }
    }
    return !hit;
}

/* The end of the single-character class at p. */
static const char *class_end(mstate *ms, const char *p)
{
    char c = *p++;
    if (c == ESC) {
        if (p == ms->p_end)
            luaL_error(ms->L, "malformed pattern (ends with '%%')");
        return p + 1;
    }
    if (c == '[') {
        if (*p == '^')
            p++;
        do { /* the first character is in the set even when it is ']' */
            if (p == ms->p_end)
                luaL_error(ms->L, "malformed pattern (missing ']')");
            if (*p++ == ESC && p < ms->p_end)
                p++;
        } while (*p != ']');
        return p + 1;
    }
    return p;
}

static int single(const mstate *ms, const char *s, const char *p, const char *ep)
{
    if (s >= ms->src_end)
        return 0;
    int c = uchar(*s);
    switch (*p) {
    case '.': return 1;
    case ESC: return in_class(c, uchar(p[1]));
    case '[': return in_set(c, p, ep - 1);
    default: return uchar(*p) == c;
    }
}

/* ---- the pattern items that are not a single class ---- */

static const char *balance(mstate *ms, const char *s, const char *p)
{
    if (p >= ms->p_end - 1)
        luaL_error(ms->L, "malformed pattern (missing arguments to '%%b')");
    if (*s != *p)
        return NULL;
    int open = *p, close = p[1], count = 1;
    while (++s < ms->src_end) {
        step(ms);
        if (*s == close) {
            if (--count == 0)
                return s + 1;
        } else if (*s == open) {
            count++;
        }
    }
    return NULL;
}

/* '*' and '+': as many as match, then fewer until the rest matches. */
static const char *greedy(mstate *ms, const char *s, const char *p, const char *ep)
{
    ptrdiff_t n = 0;
    while (single(ms, s + n, p, ep)) {
        step(ms);
        n++;
    }
    for (; n >= 0; n--) {
        step(ms);
        const char *res = match(ms, s + n, ep + 1);
        if (res)
            return res;
    }
    return NULL;
}

/* '-': as few as let the rest match. */
static const char *lazy(mstate *ms, const char *s, const char *p, const char *ep)
{
    for (;;) {
        step(ms);
        const char *res = match(ms, s, ep + 1);
        if (res)
            return res;
        if (!single(ms, s, p, ep))
            return NULL;
        s++;
    }
}

static const char *open_capture(mstate *ms, const char *s, const char *p, ptrdiff_t what)
{
    if (ms->level >= MAX_CAPTURES)
        luaL_error(ms->L, "too many captures");
    ms->cap[ms->level].init = s;
    ms->cap[ms->level].len = what;
    ms->level++;
    const char *res = match(ms, s, p);
    if (!res)
        ms->level--;
    return res;
}

static const char *close_capture(mstate *ms, const char *s, const char *p)
{
    int l = ms->level - 1;
    while (l >= 0 && ms->cap[l].len != CAP_UNFINISHED)
        l--;
    if (l < 0)
        luaL_error(ms->L, "invalid pattern capture");
    ms->cap[l].len = s - ms->cap[l].init;
    const char *res = match(ms, s, p);
    if (!res)
        ms->cap[l].len = CAP_UNFINISHED;
    return res;
}

/* %1 .. %9: the text of an earlier, closed capture again. */
static const char *back_reference(mstate *ms, const char *s, int digit)
{
    int l = digit - '1';
    if (l < 0 || l >= ms->level || ms->cap[l].len == CAP_UNFINISHED)
        luaL_error(ms->L, "invalid capture index %%%d", l + 1);
    size_t len = (size_t)ms->cap[l].len;
    if ((size_t)(ms->src_end - s) >= len && memcmp(ms->cap[l].init, s, len) == 0)
        return s + len;
    return NULL;
}

/* %f[set]: where the previous character is not in the set and this one is. */
static const char *frontier(mstate *ms, const char *s, const char **pp)
{
    const char *p = *pp + 2;
    if (*p != '[')
        luaL_error(ms->L, "missing '[' after '%%f' in pattern");
    const char *ep = class_end(ms, p);
    int before = s == ms->src_init ? '\0' : uchar(s[-1]);
    if (!in_set(before, p, ep - 1) && in_set(uchar(*s), p, ep - 1)) {
        *pp = ep;
        return s;
    }
    return NULL;
}

/* ---- the matcher ---- */

static const char *match(mstate *ms, const char *s, const char *p)
{
    if (ms->depth-- == 0)
        luaL_error(ms->L, "pattern too complex");
    for (;;) {
        step(ms);
        if (p == ms->p_end)
            break;
        if (*p == '(') {
            s = p[1] == ')' ? open_capture(ms, s, p + 2, CAP_POSITION)
                            : open_capture(ms, s, p + 1, CAP_UNFINISHED);
            break;
        }
        if (*p == ')') {
            s = close_capture(ms, s, p + 1);
            break;
        }
        if (*p == '$' && p + 1 == ms->p_end) {
            s = s == ms->src_end ? s : NULL;
            break;
        }
        if (*p == ESC && p[1] == 'b') {
            s = balance(ms, s, p + 2);
            if (!s)
                break;
            p += 4;
            continue;
        }
        if (*p == ESC && p[1] == 'f') {
            s = frontier(ms, s, &p);
            if (!s)
                break;
            continue;
        }
        if (*p == ESC && isdigit(uchar(p[1]))) {
            s = back_reference(ms, s, uchar(p[1]));
            if (!s)
                break;
            p += 2;
            continue;
        }
        const char *ep = class_end(ms, p);
        if (!single(ms, s, p, ep)) {
            if (*ep == '*' || *ep == '?' || *ep == '-') {
                p = ep + 1; /* zero of them is a match */
                continue;
            }
            s = NULL;
            break;
        }
        if (*ep == '?') {
            const char *res = match(ms, s + 1, ep + 1);
            if (res) {
                s = res;
                break;
            }
            p = ep + 1;
            continue;
        }
        if (*ep == '+') {
            s = greedy(ms, s + 1, p, ep);
            break;
        }
        if (*ep == '*') {
            s = greedy(ms, s, p, ep);
            break;
        }
        if (*ep == '-') {
            s = lazy(ms, s, p, ep);
            break;
        }
        s++;
        p = ep;
    }
    ms->depth++;
    return s;
}

/* ---- captures ---- */

/* Capture i of the match [s, e) (the whole match when there are none):
 * its text in *cap and its length, or CAP_POSITION with the position
 * pushed. */
static ptrdiff_t capture(mstate *ms, int i, const char *s, const char *e, const char **cap)
{
    if (i >= ms->level) {
        if (i != 0)
            luaL_error(ms->L, "invalid capture index %%%d", i + 1);
        *cap = s;
        return e - s;
    }
    ptrdiff_t len = ms->cap[i].len;
    *cap = ms->cap[i].init;
    if (len == CAP_UNFINISHED)
        luaL_error(ms->L, "unfinished capture");
    if (len == CAP_POSITION)
        lua_pushinteger(ms->L, (ms->cap[i].init - ms->src_init) + 1);
    return len;
}

static void push_capture(mstate *ms, int i, const char *s, const char *e)
{
    const char *cap;
    ptrdiff_t len = capture(ms, i, s, e, &cap);
    if (len != CAP_POSITION)
        lua_pushlstring(ms->L, cap, (size_t)len);
}

/* Pushes every capture (the whole match when s is given and there are
 * none); returns how many. */
static int push_captures(mstate *ms, const char *s, const char *e)
{
    int n = ms->level == 0 && s ? 1 : ms->level;
    luaL_checkstack(ms->L, n, "too many captures");
    for (int i = 0; i < n; i++)
        push_capture(ms, i, s, e);
    return n;
}

/* ---- the functions ---- */

static void prepare(mstate *ms, lua_State *L, const char *s, size_t ls, const char *p, size_t lp)
{
    ms->L = L;
    ms->cfg = lua_touserdata(L, lua_upvalueindex(1));
    ms->src_init = s;
    ms->src_end = s + ls;
    ms->p_end = p + lp;
}

static void restart(mstate *ms)
{
    ms->level = 0;
    ms->depth = MAX_DEPTH;
}

/* A 1-based position, negative from the end, clipped to [1, ..]. */
static size_t start_at(lua_Integer pos, size_t len)
{
    if (pos > 0)
        return (size_t)pos;
    if (pos == 0 || pos < -(lua_Integer)len)
        return 1;
    return len + (size_t)pos + 1;
}

static int no_specials(const char *p, size_t lp)
{
    for (size_t i = 0; i < lp; i++)
        if (p[i] != '\0' && strchr(SPECIALS, p[i]))
            return 0;
    return 1;
}

/* The subject at 1 and the pattern at 2, or an error for a subject over
 * the limit. */
static const char *subject(lua_State *L, const char *fn, size_t *ls, int plain)
{
    const char *s = luaL_checklstring(L, 1, ls);
    lt_pattern_cfg *cfg = lua_touserdata(L, lua_upvalueindex(1));
    if (cfg->subject_max && *ls > cfg->subject_max && !plain)
        luaL_error(L, "string.%s: subject of %I bytes exceeds the pattern limit of %I bytes "
                      "(use buf:find for plain search)",
                   fn, (lua_Integer)*ls, (lua_Integer)cfg->subject_max);
    return s;
}

static int find_or_match(lua_State *L, int find)
{
    size_t ls, lp;
    const char *s = subject(L, find ? "find" : "match", &ls, find && lua_toboolean(L, 4));
    const char *p = luaL_checklstring(L, 2, &lp);
    size_t init = start_at(luaL_optinteger(L, 3, 1), ls) - 1;
    if (init > ls) {
        luaL_pushfail(L);
        return 1;
    }
    if (find && (lua_toboolean(L, 4) || no_specials(p, lp))) {
        const char *at = lp == 0 ? s + init : memmem(s + init, ls - init, p, lp);
        if (at) {
            lua_pushinteger(L, (at - s) + 1);
            lua_pushinteger(L, (lua_Integer)((at - s) + lp));
            return 2;
        }
        luaL_pushfail(L);
        return 1;
    }
    mstate ms;
    int anchor = *p == '^';
    if (anchor) {
        p++;
        lp--;
    }
    prepare(&ms, L, s, ls, p, lp);
    const char *from = s + init;
    do {
        restart(&ms);
        const char *e = match(&ms, from, p);
        if (e) {
            if (!find)
                return push_captures(&ms, from, e);
            lua_pushinteger(L, (from - s) + 1);
            lua_pushinteger(L, e - s);
            return push_captures(&ms, NULL, NULL) + 2;
        }
    } while (from++ < ms.src_end && !anchor);
    luaL_pushfail(L);
    return 1;
}

static int api_find(lua_State *L)
{
    return find_or_match(L, 1);
}

static int api_match(lua_State *L)
{
    return find_or_match(L, 0);
}

typedef struct gmatch_state {
    const char *src, *p, *lastmatch;
    mstate ms;
} gmatch_state;

/* Upvalues: cfg, the subject, the pattern, the state. */
static int gmatch_next(lua_State *L)
{
    gmatch_state *gm = lua_touserdata(L, lua_upvalueindex(4));
    gm->ms.L = L; /* it may be called from another coroutine */
    for (const char *src = gm->src; src <= gm->ms.src_end; src++) {
        restart(&gm->ms);
        const char *e = match(&gm->ms, src, gm->p);
        if (e && e != gm->lastmatch) {
            gm->src = gm->lastmatch = e;
            return push_captures(&gm->ms, src, e);
        }
    }
    return 0;
}

static int api_gmatch(lua_State *L)
{
    size_t ls, lp;
    const char *s = subject(L, "gmatch", &ls, 0);
    const char *p = luaL_checklstring(L, 2, &lp);
    size_t init = start_at(luaL_optinteger(L, 3, 1), ls) - 1;
    lua_settop(L, 2);
    gmatch_state *gm = lua_newuserdatauv(L, sizeof *gm, 0);
    if (init > ls)
        init = ls + 1; /* past the end: no match at all */
    prepare(&gm->ms, L, s, ls, p, lp);
    gm->src = s + init;
    gm->p = p;
    gm->lastmatch = NULL;
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_pushcclosure(L, gmatch_next, 4);
    return 1;
}

/* The replacement string (argument 3) with %0-%9 and %% for the match. */
static void add_template(mstate *ms, luaL_Buffer *b, const char *s, const char *e)
{
    lua_State *L = ms->L;
    size_t len;
    const char *t = lua_tolstring(L, 3, &len);
    const char *esc;
    while ((esc = memchr(t, ESC, len)) != NULL) {
        luaL_addlstring(b, t, (size_t)(esc - t));
        esc++;
        if (*esc == ESC) {
            luaL_addchar(b, *esc);
        } else if (*esc == '0') {
            luaL_addlstring(b, s, (size_t)(e - s));
        } else if (isdigit(uchar(*esc))) {
            const char *cap;
            ptrdiff_t n = capture(ms, *esc - '1', s, e, &cap);
            if (n == CAP_POSITION)
                luaL_addvalue(b);
            else
                luaL_addlstring(b, cap, (size_t)n);
        } else {
            luaL_error(L, "invalid use of '%c' in replacement string", ESC);
        }
        len -= (size_t)(esc + 1 - t);
        t = esc + 1;
    }
    luaL_addlstring(b, t, len);
}

/* Adds the replacement of the match [s, e); returns whether it changed
 * anything (a false or nil from a table or function keeps the match). */
static int add_replacement(mstate *ms, luaL_Buffer *b, const char *s, const char *e, int how)
{
    lua_State *L = ms->L;
    if (how == LUA_TFUNCTION) {
        lua_pushvalue(L, 3);
        int n = push_captures(ms, s, e);
        lua_call(L, n, 1);
    } else if (how == LUA_TTABLE) {
        push_capture(ms, 0, s, e);
        lua_gettable(L, 3);
    } else {
        add_template(ms, b, s, e);
        return 1;
    }
    if (!lua_toboolean(L, -1)) {
        lua_pop(L, 1);
        luaL_addlstring(b, s, (size_t)(e - s));
        return 0;
    }
    if (!lua_isstring(L, -1))
        return luaL_error(L, "invalid replacement value (a %s)", luaL_typename(L, -1));
    luaL_addvalue(b);
    return 1;
}

static int api_gsub(lua_State *L)
{
    size_t ls, lp;
    const char *src = subject(L, "gsub", &ls, 0);
    const char *p = luaL_checklstring(L, 2, &lp);
    int how = lua_type(L, 3);
    lua_Integer max = luaL_optinteger(L, 4, (lua_Integer)ls + 1);
    luaL_argexpected(L, how == LUA_TNUMBER || how == LUA_TSTRING || how == LUA_TFUNCTION ||
                            how == LUA_TTABLE,
                     3, "string/function/table");
    const char *lastmatch = NULL;
    int anchor = *p == '^', changed = 0;
    lua_Integer n = 0;
    if (anchor) {
        p++;
        lp--;
    }
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    mstate ms;
    prepare(&ms, L, src, ls, p, lp);
    while (n < max) {
        restart(&ms);
        const char *e = match(&ms, src, p);
        if (e && e != lastmatch) {
            n++;
            changed = add_replacement(&ms, &b, src, e, how) | changed;
            src = lastmatch = e;
        } else if (src < ms.src_end) {
            luaL_addchar(&b, *src++);
        } else {
            break;
        }
        if (anchor)
            break;
    }
    if (!changed) {
        lua_pushvalue(L, 1);
    } else {
        luaL_addlstring(&b, src, (size_t)(ms.src_end - src));
        luaL_pushresult(&b);
    }
    lua_pushinteger(L, n);
    return 2;
}

void lt_pattern_push(lua_State *L, lt_pattern_cfg *cfg)
{
    static const luaL_Reg fns[] = {
        { "find", api_find }, { "match", api_match }, { "gmatch", api_gmatch },
        { "gsub", api_gsub }, { NULL, NULL },
    };
    lua_createtable(L, 0, 4);
    lua_pushlightuserdata(L, cfg);
    luaL_setfuncs(L, fns, 1);
}
