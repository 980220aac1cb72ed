#include "repl.h"

#include <errno.h>
#include <fcntl.h>
#include <histedit.h>
#include <lauxlib.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PROMPT "> "
#define PROMPT_MORE ">> "
#define CHUNK_MAX ((size_t)1 << 20)    /* an unfinished chunk longer than this is dropped */
#define LINE_MAX_PLAIN ((size_t)64 << 10)
#define HISTORY_FILE_MAX ((size_t)4 << 20)

struct lt_repl {
    uv_poll_t poll;
    uv_idle_t idle;         /* standard input is a regular file: epoll refuses it */
    int polling, idling;
    uv_loop_t *loop;
    lt_host *h;
    lt_output *out;
    int script;
    lt_repl_ops ops;
    int tty;
    EditLine *el;
    History *hist;
    int hist_fd;
    volatile sig_atomic_t prompt_shown; /* the prompt and the edited line are on screen */
    volatile sig_atomic_t reading;      /* waiting for input, no command running */
    int done;
    int mod_ref;            /* lunatap.repl */
    char *chunk;            /* lines of an unfinished chunk */
    size_t chunk_len;
    char *plain;            /* standard input that is not a terminal: unread lines */
    size_t plain_len;
    int eof;
    FILE *err;
};

/* ------------------------------------------------------------------ */
/* history file: one entry per line, "\n" and "\\" escaped             */

static int make_dirs(char *path)
{
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        int rc = mkdir(path, 0700);
        *p = '/';
        if (rc != 0 && errno != EEXIST)
            return -1;
    }
    return 0;
}

int lt_repl_open_history(const char *path, char *err, size_t errlen)
{
    char buf[4096];
    err[0] = '\0';
    if (path && !path[0])
        return -1;
    if (!path) {
        const char *state = getenv("XDG_STATE_HOME");
        const char *home = getenv("HOME");
        if (state && state[0] == '/')
            snprintf(buf, sizeof buf, "%s/lunatap/history", state);
        else if (home && home[0] == '/')
            snprintf(buf, sizeof buf, "%s/.local/state/lunatap/history", home);
        else
            return -1; /* nowhere to keep it: no history, no complaint */
        if (make_dirs(buf) != 0) {
            snprintf(err, errlen, "history: cannot make the directory of %s: %s", buf,
                     strerror(errno));
            return -1;
        }
        path = buf;
    }
    int fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0)
        snprintf(err, errlen, "history: cannot open %s: %s", path, strerror(errno));
    return fd;
}

/* Entries are single lines on disk; a multi-line chunk is one entry. */
static void write_escaped(int fd, const char *s)
{
    char buf[4096];
    size_t n = 0;
    for (;; s++) {
        if (n + 3 > sizeof buf || !*s) {
            if (!*s)
                buf[n++] = '\n';
            if (write(fd, buf, n) < 0)
                return;
            n = 0;
            if (!*s)
                return;
        }
        if (*s == '\n' || *s == '\\') {
            buf[n++] = '\\';
            buf[n++] = *s == '\n' ? 'n' : '\\';
        } else {
            buf[n++] = *s;
        }
    }
}

static void unescape(char *s)
{
    char *w = s;
    for (; *s; s++) {
        if (*s == '\\' && (s[1] == 'n' || s[1] == '\\')) {
            *w++ = s[1] == 'n' ? '\n' : '\\';
            s++;
        } else {
            *w++ = *s;
        }
    }
    *w = '\0';
}

static void load_history(lt_repl *r)
{
    HistEvent ev;
    struct stat st;
    if (r->hist_fd < 0 || fstat(r->hist_fd, &st) != 0 || st.st_size <= 0)
        return;
    size_t size = (size_t)st.st_size;
    off_t from = size > HISTORY_FILE_MAX ? (off_t)(size - HISTORY_FILE_MAX) : 0;
    size -= (size_t)from;
    char *text = malloc(size + 1);
    if (!text)
        return;
    ssize_t n = pread(r->hist_fd, text, size, from);
    text[n > 0 ? n : 0] = '\0';
    char *line = text;
    if (from > 0 && (line = strchr(text, '\n')))
        line++; /* the first line was cut */
    while (line && *line) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        unescape(line);
        if (*line)
            history(r->hist, &ev, H_ENTER, line);
        line = nl ? nl + 1 : NULL;
    }
    free(text);
}

static void remember(lt_repl *r, const char *chunk)
{
    HistEvent ev;
    if (!r->hist || !chunk[strspn(chunk, " \t\n")])
        return;
    if (history(r->hist, &ev, H_FIRST) == 0 && strcmp(ev.str, chunk) == 0)
        return; /* the same as the last one */
    history(r->hist, &ev, H_ENTER, chunk);
    if (r->hist_fd >= 0)
        write_escaped(r->hist_fd, chunk);
}

/* The file keeps growing while the REPL runs; at the end it is rewritten
 * with what the editor kept (the last LT_REPL_HISTORY_MAX). */
static void save_history(lt_repl *r)
{
    HistEvent ev;
    if (r->hist_fd < 0 || !r->hist)
        return;
    if (ftruncate(r->hist_fd, 0) == 0 && history(r->hist, &ev, H_LAST) == 0) {
        do
            write_escaped(r->hist_fd, ev.str);
        while (history(r->hist, &ev, H_PREV) == 0);
    }
    close(r->hist_fd);
    r->hist_fd = -1;
}

/* ------------------------------------------------------------------ */
/* the screen                                                          */

static const char *prompt_text(const lt_repl *r)
{
    return r->chunk_len ? PROMPT_MORE : PROMPT;
}

static char *el_prompt(EditLine *el)
{
    lt_repl *r;
    el_get(el, EL_CLIENTDATA, &r);
    return (char *)prompt_text(r);
}

/* Clears the prompt and the edited line, however many rows they wrap to,
 * leaving the cursor at the start of the first. */
static void hide_prompt(lt_repl *r)
{
    const LineInfo *li = el_line(r->el);
    int cols = 0;
    if (el_get(r->el, EL_GETTC, "co", &cols) != 0 || cols <= 0)
        cols = 80;
    size_t at = strlen(prompt_text(r)) + (size_t)(li->cursor - li->buffer);
    size_t row = at / (size_t)cols;
    char seq[32];
    int n = row ? snprintf(seq, sizeof seq, "\r\033[%zuA\033[J", row)
                : snprintf(seq, sizeof seq, "\r\033[J");
    fflush(stdout);
    if (write(STDOUT_FILENO, seq, (size_t)n) < 0)
        return;
}

static void show_prompt(lt_repl *r)
{
    el_set(r->el, EL_REFRESH);
}

static void around_output(void *ud, int before)
{
    lt_repl *r = ud;
    if (!r->tty || !r->prompt_shown)
        return;
    if (before)
        hide_prompt(r);
    else
        show_prompt(r);
}

/* Reports from the host (h->err) go out through the same redraw. */
static ssize_t err_write(void *cookie, const char *buf, size_t n)
{
    lt_repl *r = cookie;
    lt_output_flush(r->out);
    around_output(r, 1);
    size_t off = 0;
    while (off < n) {
        ssize_t k = write(STDERR_FILENO, buf + off, n - off);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        off += (size_t)k;
    }
    around_output(r, 0);
    return (ssize_t)n;
}

FILE *lt_repl_errfile(lt_repl *r)
{
    return r->err ? r->err : stderr;
}

void lt_repl_message(lt_repl *r, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf - 1, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n > sizeof buf - 2)
        n = (int)sizeof buf - 2;
    buf[n++] = '\n';
    lt_output_write(r->out, buf, (size_t)n);
    lt_output_flush(r->out);
}

/* ------------------------------------------------------------------ */
/* running what the user typed                                         */

void lt_repl_push_fn(lt_repl *r, const char *name)
{
    lua_rawgeti(r->h->L, LUA_REGISTRYINDEX, r->mod_ref);
    lua_getfield(r->h->L, -1, name);
    lua_remove(r->h->L, -2);
}

static void show_error(lt_repl *r, const char *prefix)
{
    const char *msg = lua_tostring(r->h->L, -1);
    lt_output_flush(r->out);
    fprintf(lt_repl_errfile(r), "%s%s\n", prefix, msg ? msg : "(error object is not a string)");
    fflush(lt_repl_errfile(r));
    lua_pop(r->h->L, 1);
}

/* Calls lunatap.repl[fn] on the value on top of the stack (popped), with
 * { env = the REPL's environment } so functions print by their names, and
 * prints the text it returns on a line of its own. */
static void show_with(lt_repl *r, const char *fn, const char *what)
{
    lua_State *L = r->h->L;
    lt_repl_push_fn(r, fn);
    lua_insert(L, -2);
    lua_createtable(L, 0, 1);
    lt_host_push_env(r->h, r->script);
    lua_setfield(L, -2, "env");
    if (lt_host_call_keep(r->h, 2, 1, r->script, what) != LUA_OK) {
        char prefix[64];
        snprintf(prefix, sizeof prefix, "cannot show the %s: ", what);
        show_error(r, prefix);
        return;
    }
    size_t n;
    const char *s = lua_tolstring(L, -1, &n);
    if (s) {
        lt_output_write(r->out, s, n);
        lt_output_write(r->out, "\n", 1);
    }
    lua_pop(L, 1);
}

static void show_value(lt_repl *r)
{
    show_with(r, "format", "value");
}

void lt_repl_show_packet(lt_repl *r)
{
    show_with(r, "summary", "packet");
}

/* Compiles the chunk as "return CHUNK" (an expression) or as statements.
 * 1 with the function pushed, 0 when it is unfinished, -1 on a syntax
 * error (message pushed). */
static int compile(lt_repl *r, const char *src, size_t len)
{
    lua_State *L = r->h->L;
    const char *ret = lua_pushfstring(L, "return %s;", src);
    int st = luaL_loadbufferx(L, ret, strlen(ret), "=stdin", "t");
    lua_remove(L, -2);
    if (st == LUA_OK)
        return 1;
    lua_pop(L, 1);
    st = luaL_loadbufferx(L, src, len, "=stdin", "t");
    if (st == LUA_OK)
        return 1;
    size_t mlen;
    const char *msg = lua_tolstring(L, -1, &mlen);
    static const char eof_mark[] = "<eof>";
    if (st == LUA_ERRSYNTAX && msg && mlen >= sizeof eof_mark - 1 &&
        strcmp(msg + mlen - (sizeof eof_mark - 1), eof_mark) == 0) {
        lua_pop(L, 1);
        return 0;
    }
    return -1;
}

static void run_function(lt_repl *r)
{
    lua_State *L = r->h->L;
    lt_host_push_env(r->h, r->script);
    lua_setupvalue(L, -2, 1);
    int base = lua_gettop(L) - 1;
    if (lt_host_call_keep(r->h, 0, LUA_MULTRET, r->script, "command") != LUA_OK) {
        show_error(r, "");
        return;
    }
    int nres = lua_gettop(L) - base;
    if (nres > 0) {
        lt_host_push_env(r->h, r->script);
        lua_pushvalue(L, base + 1);
        lua_setfield(L, -2, "_");
        lua_pop(L, 1);
    }
    for (int i = 1; i <= nres; i++) {
        lua_pushvalue(L, base + i);
        show_value(r);
    }
    lua_settop(L, base);
}

static void drop_chunk(lt_repl *r)
{
    free(r->chunk);
    r->chunk = NULL;
    r->chunk_len = 0;
}

static int append_chunk(lt_repl *r, const char *line)
{
    size_t n = strlen(line);
    if (r->chunk_len + n + 2 > CHUNK_MAX) {
        drop_chunk(r);
        lt_output_flush(r->out);
        fprintf(lt_repl_errfile(r), "input longer than %zu bytes: dropped\n", CHUNK_MAX);
        return -1;
    }
    char *c = realloc(r->chunk, r->chunk_len + n + 2);
    if (!c)
        return -1;
    r->chunk = c;
    if (r->chunk_len)
        c[r->chunk_len++] = '\n';
    memcpy(c + r->chunk_len, line, n + 1);
    r->chunk_len += n;
    return 0;
}

static void run_line(lt_repl *r, const char *line);
static void on_readable(uv_poll_t *p, int status, int events);
static void on_idle(uv_idle_t *idle);

/* One line typed: adds it to the chunk; runs the chunk once complete. */
static void on_line(lt_repl *r, const char *line)
{
    r->reading = 0;
    run_line(r, line);
    r->reading = !r->done;
}

static void run_line(lt_repl *r, const char *line)
{
    if (append_chunk(r, line) != 0)
        return;
    int g = lt_host_unguard(r->h);
    int c = compile(r, r->chunk, r->chunk_len);
    lt_host_guard(r->h, g);
    if (c == 0)
        return; /* more lines to come */
    remember(r, r->chunk);
    drop_chunk(r);
    if (c < 0)
        show_error(r, "");
    else
        run_function(r);
    lt_output_flush(r->out);
    if (r->ops.after_command && !r->done)
        r->ops.after_command(r->ops.ud);
    lt_output_flush(r->out);
}

/* ------------------------------------------------------------------ */
/* completion                                                          */

static int is_word_char(char c)
{
    return c == '_' || c == '.' || c == ':' || (c >= '0' && c <= '9') ||
           (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* Pushes the candidates for the text before the cursor (a table), or
 * returns -1. */
static int candidates(lt_repl *r, const char *before)
{
    lt_repl_push_fn(r, "complete");
    lt_host_push_env(r->h, r->script);
    lua_pushstring(r->h->L, before);
    lua_pushinteger(r->h->L, (lua_Integer)strlen(before));
    if (lt_host_call_keep(r->h, 3, 1, r->script, "completion") != LUA_OK) {
        lua_pop(r->h->L, 1);
        return -1;
    }
    if (!lua_istable(r->h->L, -1)) {
        lua_pop(r->h->L, 1);
        return -1;
    }
    return 0;
}

static size_t common_prefix(lua_State *L, int t, lua_Integer n, const char **first)
{
    lua_rawgeti(L, t, 1);
    *first = lua_tostring(L, -1);
    lua_pop(L, 1); /* the string stays in the table */
    size_t len = *first ? strlen(*first) : 0;
    for (lua_Integer i = 2; i <= n && len > 0; i++) {
        lua_rawgeti(L, t, i);
        const char *s = lua_tostring(L, -1);
        size_t k = 0;
        while (k < len && s && s[k] == (*first)[k])
            k++;
        len = k;
        lua_pop(L, 1);
    }
    return len;
}

/* Lists the candidates as readline lists file names: each without the
 * part they all share up to the last '.' or ':' of the word (skip bytes). */
static void list_candidates(lt_repl *r, int t, lua_Integer n, size_t skip)
{
    lua_State *L = r->h->L;
    int cols = 80;
    el_get(r->el, EL_GETTC, "co", &cols);
    size_t width = 0;
    for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, t, i);
        size_t k = 0;
        lua_tolstring(L, -1, &k);
        k = k > skip ? k - skip : 0;
        width = k > width ? k : width;
        lua_pop(L, 1);
    }
    width += 2;
    size_t per_row = cols > 0 && (size_t)cols > width ? (size_t)cols / width : 1;
    fputs("\n", stdout);
    for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, t, i);
        const char *s = lua_tostring(L, -1);
        s = s && strlen(s) >= skip ? s + skip : s;
        int last = (size_t)i % per_row == 0 || i == n;
        if (last)
            fprintf(stdout, "%s\n", s ? s : "");
        else
            fprintf(stdout, "%-*s", (int)width, s ? s : "");
        lua_pop(L, 1);
    }
    fflush(stdout);
}

static unsigned char complete(EditLine *el, int ch)
{
    (void)ch;
    lt_repl *r;
    el_get(el, EL_CLIENTDATA, &r);
    const LineInfo *li = el_line(el);
    size_t before_len = (size_t)(li->cursor - li->buffer);
    char *before = malloc(before_len + 1);
    if (!before)
        return CC_ERROR;
    memcpy(before, li->buffer, before_len);
    before[before_len] = '\0';
    size_t word = 0;
    size_t skip = 0; /* the word up to its last '.' or ':' */
    while (word < before_len && is_word_char(before[before_len - word - 1])) {
        char c = before[before_len - word - 1];
        word++;
        if (!skip && (c == '.' || c == ':'))
            skip = word;
    }
    skip = skip ? word - skip + 1 : 0;
    lua_State *L = r->h->L;
    int g = lt_host_unguard(r->h);
    int rc = candidates(r, before);
    lt_host_guard(r->h, g);
    free(before);
    if (rc != 0)
        return CC_ERROR;
    int t = lua_gettop(L);
    lua_Integer n = (lua_Integer)lua_rawlen(L, t);
    unsigned char res = CC_ERROR;
    const char *first = NULL;
    size_t common = n > 0 ? common_prefix(L, t, n, &first) : 0;
    if (n > 0 && first && common > word) {
        char *ins = strndup(first, common);
        if (ins) {
            el_deletestr(el, (int)word);
            el_insertstr(el, ins);
            free(ins);
            res = CC_REFRESH;
        }
    } else if (n > 1) {
        list_candidates(r, t, n, skip);
        res = CC_REDISPLAY;
    }
    lua_settop(L, t - 1);
    return res;
}

/* ------------------------------------------------------------------ */
/* reading                                                             */

static void quit_as(lt_repl *r, int eof)
{
    if (r->done)
        return;
    r->done = 1;
    r->prompt_shown = 0;
    if (r->ops.quit)
        r->ops.quit(r->ops.ud, eof);
}

void lt_repl_quit(lt_repl *r)
{
    quit_as(r, 0);
}

/* A fresh, empty line with its prompt. */
static void new_prompt(lt_repl *r)
{
    if (r->done)
        return;
    r->reading = 1;
    if (r->tty) {
        el_set(r->el, EL_UNBUFFERED, 1);
        r->prompt_shown = 1;
    }
}

static void end_prompt(lt_repl *r)
{
    r->reading = 0;
    if (r->tty) {
        r->prompt_shown = 0;
        el_set(r->el, EL_UNBUFFERED, 0); /* the terminal back to normal */
    }
}

static void read_tty(lt_repl *r)
{
    int n = 0;
    const char *line = el_gets(r->el, &n);
    if (!line) {
        if (n < 0 && errno != EINTR && errno != EAGAIN) {
            end_prompt(r);
            lt_repl_quit(r); /* the terminal went away */
        }
        return;
    }
    if (n == 1 && line[0] == 4) { /* Ctrl-D on an empty line */
        end_prompt(r);
        fputs("\n", stdout);
        fflush(stdout);
        lt_repl_quit(r);
        return;
    }
    if (n == 0 || line[n - 1] != '\n')
        return; /* still editing */
    char *copy = strndup(line, (size_t)n - 1);
    end_prompt(r);
    if (copy)
        on_line(r, copy);
    free(copy);
    new_prompt(r);
}

static int busy(lt_repl *r)
{
    return r->ops.busy && r->ops.busy(r->ops.ud);
}

static void input_on(lt_repl *r, int on)
{
    if (r->polling)
        on ? uv_poll_start(&r->poll, UV_READABLE, on_readable) : uv_poll_stop(&r->poll);
    if (r->idling)
        on ? uv_idle_start(&r->idle, on_idle) : uv_idle_stop(&r->idle);
}

/* Runs the complete lines read so far, in order; a command that set a
 * file running (run()) holds the next ones until it pauses or ends, so
 * commands from a pipe see what the ones before them did. */
static void drain_plain(lt_repl *r)
{
    while (!r->done && !busy(r)) {
        char *nl = memchr(r->plain, '\n', r->plain_len);
        if (!nl && !(r->eof && r->plain_len) && r->plain_len < LINE_MAX_PLAIN)
            break;
        size_t n = nl ? (size_t)(nl - r->plain) : r->plain_len; /* a last or overlong line */
        char *line = strndup(r->plain, n);
        size_t used = nl ? n + 1 : n;
        memmove(r->plain, r->plain + used, r->plain_len - used);
        r->plain_len -= used;
        if (line)
            on_line(r, line);
        free(line);
    }
    if (r->eof && !r->plain_len)
        quit_as(r, 1); /* the engine lets a file still running finish */
}

static void read_plain(lt_repl *r)
{
    if (busy(r)) {
        input_on(r, 0);
        return;
    }
    ssize_t n = read(STDIN_FILENO, r->plain + r->plain_len, LINE_MAX_PLAIN - r->plain_len);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return;
    if (n <= 0) {
        r->eof = 1;
        input_on(r, 0);
    } else {
        r->plain_len += (size_t)n;
    }
    drain_plain(r);
    if (busy(r))
        input_on(r, 0);
}

void lt_repl_ready(lt_repl *r)
{
    /* (Inside a command, the loop running it looks again when it returns.) */
    if (!r || r->tty || r->done || !r->reading)
        return;
    drain_plain(r);
    if (!r->done && !r->eof && !busy(r))
        input_on(r, 1);
}

static void on_idle(uv_idle_t *idle)
{
    read_plain(idle->data);
}

static void on_readable(uv_poll_t *p, int status, int events)
{
    (void)events;
    lt_repl *r = p->data;
    if (status < 0) {
        lt_repl_quit(r);
        return;
    }
    if (r->tty)
        read_tty(r);
    else
        read_plain(r);
}

int lt_repl_at_prompt(const lt_repl *r)
{
    return r->reading;
}

void lt_repl_interrupted(lt_repl *r)
{
    if (r->done)
        return;
    drop_chunk(r);
    if (r->tty && r->prompt_shown) {
        end_prompt(r);
        fputs("^C\n", stdout);
        fflush(stdout);
        new_prompt(r);
    }
}

/* ------------------------------------------------------------------ */
/* life cycle                                                          */

static int setup_editor(lt_repl *r, char *err, size_t errlen)
{
    r->el = el_init("lunatap", stdin, stdout, stderr);
    r->hist = history_init();
    if (!r->el || !r->hist) {
        snprintf(err, errlen, "cannot set up line editing");
        return -1;
    }
    HistEvent ev;
    history(r->hist, &ev, H_SETSIZE, LT_REPL_HISTORY_MAX);
    el_set(r->el, EL_CLIENTDATA, r);
    el_set(r->el, EL_EDITOR, "emacs");
    el_set(r->el, EL_SIGNAL, 0); /* signals are the engine's (signals.h) */
    el_set(r->el, EL_PROMPT, el_prompt);
    el_set(r->el, EL_HIST, history, r->hist);
    /* The wide call: the narrow el_set copies the name and help text and
     * never frees them. */
    el_wset(r->el, EL_ADDFN, L"lt-complete", L"complete Lua names and fields", complete);
    el_set(r->el, EL_BIND, "^I", "lt-complete", NULL);
    el_set(r->el, EL_BIND, "^R", "em-inc-search-prev", NULL);
    load_history(r);
    return 0;
}

lt_repl *lt_repl_new(uv_loop_t *loop, lt_host *h, lt_output *out, int script, int history_fd,
                     const lt_repl_ops *ops, char *err, size_t errlen)
{
    lt_repl *r = calloc(1, sizeof *r);
    if (!r) {
        snprintf(err, errlen, "out of memory");
        if (history_fd >= 0)
            close(history_fd);
        return NULL;
    }
    r->h = h;
    r->out = out;
    r->script = script;
    r->ops = *ops;
    r->hist_fd = history_fd;
    r->mod_ref = LUA_NOREF;
    r->tty = isatty(STDIN_FILENO) && isatty(STDOUT_FILENO);
    lua_State *L = h->L;
    int g = lt_host_unguard(h);
    lt_host_push_env(h, script);
    lua_getfield(L, -1, "require");
    lua_pushliteral(L, "lunatap.repl");
    int st = lt_host_call_keep(h, 1, 1, script, "loading lunatap.repl");
    if (st == LUA_OK)
        r->mod_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    else {
        snprintf(err, errlen, "%s", lua_tostring(L, -1));
        lua_pop(L, 1);
    }
    lua_pop(L, 1); /* env */
    lt_host_guard(h, g);
    if (st != LUA_OK || (r->tty && setup_editor(r, err, errlen) != 0) ||
        (!r->tty && !(r->plain = malloc(LINE_MAX_PLAIN + 1)))) {
        if (!err[0])
            snprintf(err, errlen, "out of memory");
        lt_repl_free(r);
        return NULL;
    }
    static cookie_io_functions_t io = { .write = err_write };
    r->err = fopencookie(r, "w", io);
    if (r->err)
        setvbuf(r->err, NULL, _IOLBF, 0);
    out->around = around_output;
    out->around_ud = r;
    r->loop = loop;
    return r;
}

void lt_repl_start(lt_repl *r)
{
    if (uv_poll_init(r->loop, &r->poll, STDIN_FILENO) == 0) {
        r->poll.data = r;
        uv_poll_start(&r->poll, UV_READABLE, on_readable);
        r->polling = 1;
    } else {
        uv_idle_init(r->loop, &r->idle);
        r->idle.data = r;
        uv_idle_start(&r->idle, on_idle);
        r->idling = 1;
    }
    new_prompt(r);
}

void lt_repl_close(lt_repl *r)
{
    if (!r)
        return;
    end_prompt(r);
    if (r->polling) {
        uv_poll_stop(&r->poll);
        uv_close((uv_handle_t *)&r->poll, NULL);
        r->polling = 0;
    }
    if (r->idling) {
        uv_idle_stop(&r->idle);
        uv_close((uv_handle_t *)&r->idle, NULL);
        r->idling = 0;
    }
    save_history(r);
}

void lt_repl_free(lt_repl *r)
{
    if (!r)
        return;
    if (r->out && r->out->around_ud == r)
        r->out->around = NULL;
    if (r->err)
        fclose(r->err);
    if (r->el)
        el_end(r->el);
    if (r->hist)
        history_end(r->hist);
    if (r->hist_fd >= 0)
        close(r->hist_fd);
    if (r->mod_ref != LUA_NOREF)
        luaL_unref(r->h->L, LUA_REGISTRYINDEX, r->mod_ref);
    free(r->chunk);
    free(r->plain);
    free(r);
}
