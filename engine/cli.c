#include "cli.h"

#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <lua.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <uv.h>

#define DEFAULT_SCRIPT "simple_capture"

static const char usage_text[] =
    "usage: lunatap [options] [SCRIPT [script options] [SCRIPT [script options] ...]]\n"
    "       lunatap repl [options] [SCRIPT ...]    an interactive Lua prompt (docs/repl.md)\n"
    "\n"
    "Reads packets, decodes them and runs Lua trace scripts over them.\n"
    "SCRIPT is a bundled script name (see --list-scripts) or a path to a .lua file;\n"
    "without one, simple_capture runs. Arguments after a script are its own options\n"
    "(lunatap SCRIPT --help lists them) until an argument names the next script.\n"
    "\n"
    "Input and output:\n"
    "  -r FILE            read a pcap or pcapng file; '-' reads standard input\n"
    "  -f EXPR            BPF filter expression (pcap-filter(7)), as in tcpdump\n"
    "  -c N               stop after N packets that passed the filter\n"
    "  --max-bytes SIZE   stop once the packets that passed the filter total SIZE\n"
    "                     captured bytes (suffixes k, M, G)\n"
    "  --duration SEC     stop SEC seconds after the first packet (capture time)\n"
    "  --clock CLOCK      what script timers follow: 'capture' time (default) or\n"
    "                     'wall' time (for a pipe from a live capture)\n"
    "  -w FILE            write the packets that passed the filter to a pcap file\n"
    "  -L DIR             also find Lua modules and dissectors in DIR (repeatable)\n"
    "\n"
    "Live capture (through the lunatap-capture helper; see docs/live.md):\n"
    "  -i IFACE           capture on IFACE (-f is then compiled by the helper, in the kernel)\n"
    "  -D, --list-interfaces  list capture devices with their flags and addresses\n"
    "  -B, --buffer-size SIZE  kernel capture buffer (default 32M; suffixes k, M, G)\n"
    "  -s, --snaplen N    bytes kept of each packet (default 262144)\n"
    "  --no-promisc       do not put the interface in promiscuous mode\n"
    "  --buffer-timeout MS  deliver packets at least every MS milliseconds\n"
    "  --immediate        deliver each packet as it arrives\n"
    "  -I, --monitor      monitor mode (Wi-Fi)\n"
    "  --user NAME        user the helper and, started as root, lunatap become (default nobody)\n"
    "\n"
    "Script limits (per run; reaching one is reported, never a crash):\n"
    "  --lua-mem SIZE     Lua memory for all scripts (default 512M; suffixes k, M, G)\n"
    "  --lua-budget N     VM instructions per callback (default 100M; suffixes k, M, G)\n"
    "  --lua-time MS      wall-clock milliseconds per callback (default 2000)\n"
    "  --max-output SIZE  bytes scripts may print in total (default 1G; 0 = no cap)\n"
    "  --allow-write DIR  let scripts write files under DIR with open_file() (default: none)\n"
    "  --max-write SIZE   bytes scripts may write to files in total (default 1G)\n"
    "  --max-body SIZE    HTTP body bytes kept per message (default 16M; 0 = no bodies)\n"
    "  --flow-mem SIZE    memory for sessions and their waiting TCP data; past it the\n"
    "                     oldest idle sessions are evicted (default 128M)\n"
    "\n"
    "REPL (lunatap repl):\n"
    "  --history FILE     where the prompt's history is kept (default\n"
    "                     $XDG_STATE_HOME/lunatap/history or ~/.local/state/lunatap/history)\n"
    "  --no-history       keep no history file\n"
    "\n"
    "Other:\n"
    "  --list-scripts     list the bundled scripts\n"
    "  -h, --help         this text\n"
    "  -V, --version      versions of lunatap and its libraries\n"
    "\n"
    "Exit status: 0 success, 1 bad input met while reading (or a script error),\n"
    "2 usage error.\n";

enum { OPT_LUA_MEM = 256, OPT_LUA_BUDGET, OPT_LUA_TIME, OPT_MAX_OUTPUT, OPT_LIST,
       OPT_ALLOW_WRITE, OPT_MAX_WRITE, OPT_MAX_BODY, OPT_MAX_BYTES, OPT_DURATION,
       OPT_CLOCK, OPT_HISTORY, OPT_NO_HISTORY, OPT_FLOW_MEM };

static const struct option long_opts[] = {
    { "help", no_argument, NULL, 'h' },
    { "version", no_argument, NULL, 'V' },
    { "list-scripts", no_argument, NULL, OPT_LIST },
    { "lua-mem", required_argument, NULL, OPT_LUA_MEM },
    { "lua-budget", required_argument, NULL, OPT_LUA_BUDGET },
    { "lua-time", required_argument, NULL, OPT_LUA_TIME },
    { "max-output", required_argument, NULL, OPT_MAX_OUTPUT },
    { "allow-write", required_argument, NULL, OPT_ALLOW_WRITE },
    { "max-write", required_argument, NULL, OPT_MAX_WRITE },
    { "max-body", required_argument, NULL, OPT_MAX_BODY },
    { "flow-mem", required_argument, NULL, OPT_FLOW_MEM },
    { "max-bytes", required_argument, NULL, OPT_MAX_BYTES },
    { "duration", required_argument, NULL, OPT_DURATION },
    { "clock", required_argument, NULL, OPT_CLOCK },
    { "history", required_argument, NULL, OPT_HISTORY },
    { "no-history", no_argument, NULL, OPT_NO_HISTORY },
    LT_LIVE_LONG_OPTIONS,
    { NULL, 0, NULL, 0 },
};

static int is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

const char *lt_cli_home(void)
{
    static char home[4096];
    const char *env = getenv("LUNATAP_HOME");
    if (env && *env)
        return env;
    /* A build tree runs the sources it was built from. */
    snprintf(home, sizeof home, "%s/scripts", LUNATAP_SRCDIR);
    if (is_dir(home))
        return LUNATAP_SRCDIR;
    return LUNATAP_DATADIR;
}

/* Parses N with an optional k/M/G suffix (multiplier `unit`: 1024 or 1000). */
static int parse_amount(const char *opt, const char *s, uint64_t unit, uint64_t *out)
{
    char *end;
    errno = 0;
    if (*s == '-' || *s == '\0')
        goto bad;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s)
        goto bad;
    uint64_t mul = 1;
    switch (*end) {
    case '\0': break;
    case 'k': case 'K': mul = unit; end++; break;
    case 'm': case 'M': mul = unit * unit; end++; break;
    case 'g': case 'G': mul = unit * unit * unit; end++; break;
    default: goto bad;
    }
    if (*end != '\0' || (v && mul > UINT64_MAX / v))
        goto bad;
    *out = (uint64_t)v * mul;
    return 0;
bad:
    fprintf(stderr, "lunatap: %s: '%s' is not a valid amount\n", opt, s);
    return -1;
}

static void print_version(void)
{
    printf("lunatap %s\n%s\n%s\nlibuv %s\n", LUNATAP_VERSION, pcap_lib_version(),
           LUA_RELEASE, uv_version_string());
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The first comment line of a script, as its one-line description. */
static void describe(const char *path, char *out, size_t outlen)
{
    out[0] = '\0';
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#')
            continue;
        if (strncmp(line, "--", 2) == 0) {
            char *t = line + 2;
            while (*t == ' ' || *t == '-')
                t++;
            t[strcspn(t, "\r\n")] = '\0';
            snprintf(out, outlen, "%s", t);
        }
        break;
    }
    fclose(f);
}

static int list_scripts(void)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/scripts", lt_cli_home());
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "lunatap: %s: %s\n", dir, strerror(errno));
        return LT_CLI_USAGE;
    }
    char *names[256];
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) && n < 256) {
        size_t len = strlen(de->d_name);
        if (len > 4 && strcmp(de->d_name + len - 4, ".lua") == 0)
            names[n++] = strndup(de->d_name, len - 4);
    }
    closedir(d);
    qsort(names, (size_t)n, sizeof names[0], compare_names);
    for (int i = 0; i < n; i++) {
        char path[4600], desc[512];
        snprintf(path, sizeof path, "%s/%s.lua", dir, names[i]);
        describe(path, desc, sizeof desc);
        printf("%-18s %s\n", names[i], desc);
        free(names[i]);
    }
    return LT_CLI_DONE;
}

/* Resolves a script argument to a file; the name reported stays as given. */
static int resolve_script(const char *arg, char **path)
{
    size_t len = strlen(arg);
    int lua_suffix = len > 4 && strcmp(arg + len - 4, ".lua") == 0;
    if (strchr(arg, '/') || lua_suffix) {
        if (!lua_suffix || !is_file(arg))
            return -1;
        *path = strdup(arg);
        return *path ? 0 : -1;
    }
    char buf[4600];
    snprintf(buf, sizeof buf, "%s/scripts/%s.lua", lt_cli_home(), arg);
    if (!is_file(buf))
        return -1;
    *path = strdup(buf);
    return *path ? 0 : -1;
}

static int add_script(lt_config *cfg, const char *name, char *path, char **argv)
{
    if (cfg->nscripts == LT_MAX_SCRIPTS) {
        fprintf(stderr, "lunatap: too many scripts (limit %d)\n", LT_MAX_SCRIPTS);
        free(path);
        return -1;
    }
    lt_script_arg *s = &cfg->scripts[cfg->nscripts++];
    s->path = path;
    s->name = name;
    s->argv = argv;
    s->argc = 0;
    return 0;
}

/* Splits argv[first..] into scripts and their options. */
static int split_scripts(lt_config *cfg, int argc, char **argv, int first)
{
    static char *no_args[] = { NULL };
    if (first >= argc && cfg->repl)
        return LT_CLI_RUN; /* the prompt is the script */
    if (first >= argc) {
        char *path;
        if (resolve_script(DEFAULT_SCRIPT, &path) != 0) {
            fprintf(stderr, "lunatap: bundled script %s not found under %s\n", DEFAULT_SCRIPT,
                    lt_cli_home());
            return LT_CLI_USAGE;
        }
        return add_script(cfg, DEFAULT_SCRIPT, path, no_args) ? LT_CLI_USAGE : LT_CLI_RUN;
    }
    for (int i = first; i < argc; i++) {
        char *path = NULL;
        int is_script = argv[i][0] != '-' && resolve_script(argv[i], &path) == 0;
        if (i == first && !is_script) {
            fprintf(stderr, "lunatap: '%s' is not a script: give a bundled name (see "
                            "--list-scripts) or a path to a .lua file\n", argv[i]);
            return LT_CLI_USAGE;
        }
        if (is_script) {
            const char *name = argv[i];
            if (add_script(cfg, name, path, argv + i + 1) != 0)
                return LT_CLI_USAGE;
        } else {
            cfg->scripts[cfg->nscripts - 1].argc++;
        }
    }
    return LT_CLI_RUN;
}

static int bad_value(const char *opt, const char *arg, const char *want)
{
    fprintf(stderr, "lunatap: %s: '%s' is out of range (give %s)\n", opt, arg, want);
    return -1;
}

/* --max-bytes, --duration (-c is with the short options) and --clock. */
static int parse_stop_option(lt_config *cfg, int c, const char *arg)
{
    if (c == OPT_CLOCK) {
        if (strcmp(arg, "capture") != 0 && strcmp(arg, "wall") != 0) {
            fprintf(stderr, "lunatap: --clock: '%s' is not a clock (give capture or wall)\n", arg);
            return -1;
        }
        cfg->wall_clock = strcmp(arg, "wall") == 0;
        return 0;
    }
    if (c == OPT_MAX_BYTES) {
        if (parse_amount("--max-bytes", arg, 1024, &cfg->max_bytes) != 0)
            return -1;
        if (cfg->max_bytes == 0)
            return bad_value("--max-bytes", arg, "a positive number of bytes");
        return 0;
    }
    if (c != OPT_DURATION)
        return -1;
    char *end;
    errno = 0;
    double v = strtod(arg, &end);
    if (errno || end == arg || *end != '\0') {
        fprintf(stderr, "lunatap: --duration: '%s' is not a number of seconds\n", arg);
        return -1;
    }
    /* Up to ten years: the bound also keeps the milliseconds of the live
     * timer within range. */
    if (!(v > 0 && v <= 315360000.0))
        return bad_value("--duration", arg, "seconds, more than 0 and at most 315360000");
    cfg->duration = v;
    return 0;
}

/* -i and the options of live capture (live.h). */
static int parse_live_option(lt_config *cfg, int c, const char *arg)
{
    lt_live_config *l = &cfg->live;
    uint64_t v;
    switch (c) {
    case 'i': l->iface = arg; break;
    case 'I': l->monitor = 1; break;
    case LT_OPT_NO_PROMISC: l->no_promisc = 1; break;
    case LT_OPT_IMMEDIATE: l->immediate = 1; break;
    case LT_OPT_USER: l->user = arg; break;
    case 'B':
        if (parse_amount("-B", arg, 1024, &v) != 0)
            return -1;
        if (v < 65536 || v > ((uint64_t)1 << 30))
            return bad_value("-B", arg, "from 64k to 1G");
        l->buffer_size = v;
        break;
    case 's':
        if (parse_amount("-s", arg, 1024, &v) != 0)
            return -1;
        if (v == 0 || v > 262144)
            return bad_value("-s", arg, "bytes from 1 to 262144");
        l->snaplen = (uint32_t)v;
        break;
    case LT_OPT_BUFFER_TIMEOUT:
        if (parse_amount("--buffer-timeout", arg, 1000, &v) != 0)
            return -1;
        if (v > 60000)
            return bad_value("--buffer-timeout", arg, "milliseconds from 0 to 60000");
        l->timeout_ms = (int)v;
        break;
    default: return -1;
    }
    return 0;
}

/* --allow-write and the sizes that go with what scripts keep and write. */
static int parse_file_option(lt_config *cfg, int c, const char *arg)
{
    uint64_t v;
    switch (c) {
    case OPT_ALLOW_WRITE:
        if (cfg->allow_write) {
            fprintf(stderr, "lunatap: --allow-write: give one directory only\n");
            return -1;
        }
        if (!is_dir(arg)) {
            fprintf(stderr, "lunatap: --allow-write %s: not a directory\n", arg);
            return -1;
        }
        cfg->allow_write = arg;
        break;
    case OPT_MAX_WRITE:
        if (parse_amount("--max-write", arg, 1024, &v) != 0)
            return -1;
        if (v == 0)
            return bad_value("--max-write", arg, "a positive number of bytes");
        cfg->max_write = v;
        break;
    case OPT_MAX_BODY:
        if (parse_amount("--max-body", arg, 1024, &v) != 0)
            return -1;
        cfg->max_body = v;
        break;
    case OPT_FLOW_MEM:
        if (parse_amount("--flow-mem", arg, 1024, &v) != 0)
            return -1;
        if (v < ((uint64_t)1 << 20) || v > ((uint64_t)1 << 40))
            return bad_value("--flow-mem", arg, "a size from 1M to 1024G");
        cfg->flow_mem = v;
        break;
    default:
        if (c == OPT_MAX_BYTES || c == OPT_DURATION || c == OPT_CLOCK)
            return parse_stop_option(cfg, c, arg);
        return parse_live_option(cfg, c, arg);
    }
    return 0;
}

static int parse_option(lt_config *cfg, int c, const char *arg)
{
    uint64_t v;
    switch (c) {
    case 'r': cfg->read_file = arg; break;
    case OPT_HISTORY: cfg->history = arg; break;
    case OPT_NO_HISTORY: cfg->history = ""; break;
    case 'f': cfg->filter = arg; break;
    case 'w': cfg->write_file = arg; break;
    case 'c':
        if (parse_amount("-c", arg, 1000, &cfg->count) != 0)
            return -1;
        if (cfg->count == 0)
            return bad_value("-c", arg, "a positive packet count");
        break;
    case 'L':
        if (cfg->nlibdirs == LT_MAX_LIBDIRS) {
            fprintf(stderr, "lunatap: -L: at most %d directories\n", LT_MAX_LIBDIRS);
            return -1;
        }
        if (!is_dir(arg)) {
            fprintf(stderr, "lunatap: -L %s: not a directory\n", arg);
            return -1;
        }
        cfg->libdirs[cfg->nlibdirs++] = arg;
        break;
    case OPT_LUA_MEM:
        if (parse_amount("--lua-mem", arg, 1024, &v) != 0)
            return -1;
        cfg->lim.mem = (size_t)v;
        break;
    case OPT_LUA_BUDGET:
        if (parse_amount("--lua-budget", arg, 1000, &v) != 0)
            return -1;
        if (v == 0)
            return bad_value("--lua-budget", arg, "a positive number of instructions");
        cfg->lim.insns = v;
        break;
    case OPT_LUA_TIME:
        if (parse_amount("--lua-time", arg, 1000, &v) != 0)
            return -1;
        if (v == 0 || v > 86400000)
            return bad_value("--lua-time", arg, "milliseconds from 1 to 86400000");
        cfg->lim.ms = (uint32_t)v;
        break;
    case OPT_MAX_OUTPUT:
        if (parse_amount("--max-output", arg, 1024, &v) != 0)
            return -1;
        cfg->max_output = v;
        break;
    default: return parse_file_option(cfg, c, arg);
    }
    return 0;
}

int lt_cli_parse(lt_config *cfg, int argc, char **argv)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->lim = (lt_limits){ LT_DEFAULT_LUA_MEM, LT_DEFAULT_LUA_BUDGET, LT_DEFAULT_LUA_MS,
                            LT_DEFAULT_PATTERN_MAX, LT_DEFAULT_MAX_FAILURES };
    cfg->max_output = (uint64_t)1 << 30;
    cfg->max_write = LT_DEFAULT_MAX_WRITE;
    cfg->max_body = LT_DEFAULT_MAX_BODY;
    cfg->home = lt_cli_home();
    cfg->live.buffer_size = LT_LIVE_DEFAULT_BUFFER;
    cfg->live.timeout_ms = -1;
    if (argc > 1 && strcmp(argv[1], "repl") == 0) {
        cfg->repl = 1;
        argv++;
        argc--;
    }
    opterr = 0;
    int c;
    /* '+': stop at the first script name; what follows is the scripts'. */
    while ((c = getopt_long(argc, argv, "+r:f:c:w:L:hVi:DB:s:I", long_opts, NULL)) != -1) {
        switch (c) {
        case 'h': fputs(usage_text, stdout); return LT_CLI_DONE;
        case 'V': print_version(); return LT_CLI_DONE;
        case OPT_LIST: return list_scripts();
        case 'D': return lt_live_list_interfaces() == 0 ? LT_CLI_DONE : LT_CLI_USAGE;
        case '?':
        case ':':
            if (optopt >= OPT_LUA_MEM) /* a long option without its argument */
                fprintf(stderr, "lunatap: option '%s' needs an argument\n", argv[optind - 1]);
            else if (optopt)
                fprintf(stderr, "lunatap: option -%c %s\n", optopt,
                        strchr("rfcwLiBs", optopt) ? "needs an argument" : "is unknown");
            else
                fprintf(stderr, "lunatap: unknown or incomplete option '%s'\n", argv[optind - 1]);
            fprintf(stderr, "Try 'lunatap --help'.\n");
            return LT_CLI_USAGE;
        default:
            if (parse_option(cfg, c, optarg) != 0)
                return LT_CLI_USAGE;
        }
    }
    if ((cfg->history && !cfg->repl)) {
        fprintf(stderr, "lunatap: --history and --no-history are options of 'lunatap repl'\n");
        return LT_CLI_USAGE;
    }
    if (cfg->live.iface && cfg->read_file) {
        fprintf(stderr, "lunatap: -i and -r: give one input\n");
        return LT_CLI_USAGE;
    }
    return split_scripts(cfg, argc, argv, optind);
}
