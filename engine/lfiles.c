#include "lfiles.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lutil.h"

#define PATH_CAP 4096 /* longest path a script may give, NUL included */

struct lt_files {
    int dirfd;          /* the granted directory; every open starts here */
    uint64_t max_bytes;
    lt_files_stats st;
};

typedef struct lt_file {
    int fd;             /* -1 once closed */
    lt_files *fs;
    char path[];        /* as the script gave it, for messages */
} lt_file;

enum { MODE_W, MODE_A, MODE_X };

lt_files *lt_files_new(const char *dir, uint64_t max_bytes, char *err, size_t errlen)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "--allow-write %s: %s", dir,
                 errno == ENOTDIR ? "not a directory" : strerror(errno));
        return NULL;
    }
    lt_files *fs = calloc(1, sizeof *fs);
    if (!fs) {
        snprintf(err, errlen, "--allow-write %s: out of memory", dir);
        close(fd);
        return NULL;
    }
    fs->dirfd = fd;
    fs->max_bytes = max_bytes;
    return fs;
}

void lt_files_free(lt_files *fs)
{
    if (!fs)
        return;
    close(fs->dirfd);
    free(fs);
}

const lt_files_stats *lt_files_stats_get(const lt_files *fs)
{
    return &fs->st;
}

/* ------------------------------------------------------------------ */
/* reaching a file without leaving the directory                       */

/* Why a path is refused before touching the file system, or NULL. */
static const char *path_problem(const char *p, size_t n)
{
    if (n == 0)
        return "the path is empty";
    if (memchr(p, '\0', n))
        return "the path contains a NUL byte";
    if (n >= PATH_CAP)
        return "the path is longer than 4095 bytes";
    if (p[0] == '/')
        return "absolute paths are not allowed (give a path relative to the --allow-write "
               "directory)";
    if (p[n - 1] == '/')
        return "the path names a directory, not a file";
    for (const char *c = p; c; c = strchr(c, '/')) {
        c += *c == '/';
        if (c[0] == '.' && c[1] == '.' && (c[2] == '/' || c[2] == '\0'))
            return "'..' components are not allowed";
    }
    return NULL;
}

/* The reason a component could not be opened. Symbolic links and FIFOs
 * are named as such: O_NOFOLLOW reports a link as ELOOP, ENOTDIR or EEXIST
 * and O_NONBLOCK a FIFO as ENXIO, which read badly. `whole` is set when
 * the component is the whole path, which the message names already. */
static void component_error(int dirfd, const char *name, int whole, int err, char *why,
                            size_t len)
{
    struct stat st;
    int found = fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
    if (found && S_ISLNK(st.st_mode))
        snprintf(why, len, "'%.300s' is a symbolic link (symbolic links are not followed)", name);
    else if (found && (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode)))
        snprintf(why, len, "'%.300s' is not a regular file", name);
    else if (whole)
        snprintf(why, len, "%s", strerror(err));
    else
        snprintf(why, len, "'%.300s': %s", name, strerror(err));
}

/* Opens the directory `name` under dirfd, making it when missing. */
static int open_dir_at(int dirfd, const char *name)
{
    const int flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
    int fd = openat(dirfd, name, flags);
    if (fd < 0 && errno == ENOENT) {
        if (mkdirat(dirfd, name, 0755) != 0 && errno != EEXIST)
            return -1;
        fd = openat(dirfd, name, flags); /* O_NOFOLLOW again: a racing symlink fails */
    }
    return fd;
}

/*
 * Opens the last component under dirfd. O_NONBLOCK keeps a FIFO planted in
 * the directory from hanging the run; O_TRUNC waits until the file is known
 * to be a regular file with no other hard link (one to a file outside the
 * directory would let the script write there).
 */
static int open_leaf(int dirfd, const char *name, int whole, int mode, char *why, size_t len)
{
    int flags = O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK;
    flags |= mode == MODE_A ? O_APPEND : mode == MODE_X ? O_EXCL : 0;
    int fd = openat(dirfd, name, flags, 0644);
    if (fd < 0) {
        component_error(dirfd, name, whole, errno, why, len);
        return -1;
    }
    struct stat st;
    const char *bad = NULL;
    if (fstat(fd, &st) != 0)
        bad = strerror(errno);
    else if (!S_ISREG(st.st_mode))
        bad = "not a regular file";
    else if (st.st_nlink > 1)
        bad = "the file has other hard links (refused: one could lead outside the directory)";
    else if (mode == MODE_W && ftruncate(fd, 0) != 0)
        bad = strerror(errno);
    else if (fcntl(fd, F_SETFL, flags & O_APPEND) != 0)
        bad = strerror(errno);
    if (bad) {
        snprintf(why, len, "%s", bad);
        close(fd);
        return -1;
    }
    return fd;
}

/* Walks path from the granted directory one component at a time. On
 * failure returns -1 with the reason in why; no descriptor is left open. */
static int open_beneath(lt_files *fs, const char *path, int mode, char *why, size_t len)
{
    char buf[PATH_CAP];
    snprintf(buf, sizeof buf, "%s", path);
    int fd = fs->dirfd;
    char *name = buf;
    for (char *slash; (slash = strchr(name, '/')) != NULL; name = slash + 1) {
        *slash = '\0';
        if (name[0] == '\0' || strcmp(name, ".") == 0)
            continue;
        int next = open_dir_at(fd, name);
        if (next < 0)
            component_error(fd, name, 0, errno, why, len);
        if (fd != fs->dirfd)
            close(fd);
        if (next < 0)
            return -1;
        fd = next;
    }
    int leaf = open_leaf(fd, name, name == buf, mode, why, len);
    if (fd != fs->dirfd)
        close(fd);
    return leaf;
}

/* ------------------------------------------------------------------ */
/* the file object                                                     */

static lt_file *check_open(lua_State *L)
{
    lt_file *f = luaL_checkudata(L, 1, LT_FILES_MT);
    if (f->fd < 0)
        luaL_error(L, "open_file: '%s': attempt to use a closed file", f->path);
    return f;
}

static int close_fd(lt_file *f)
{
    int fd = f->fd;
    f->fd = -1;
    f->fs->st.open_now--;
    /* Linux releases the descriptor even when close reports EINTR. */
    return close(fd) == 0 || errno == EINTR ? 0 : -1;
}

static int write_all(lt_file *f, const char *s, size_t n)
{
    while (n > 0) {
        ssize_t w = write(f->fd, s, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -1;
        f->fs->st.bytes_written += (uint64_t)w;
        s += w;
        n -= (size_t)w;
    }
    return 0;
}

/* The whole call is checked against the cap first, so a refused write
 * leaves nothing half-written. */
static int file_write(lua_State *L)
{
    lt_file *f = check_open(L);
    int top = lua_gettop(L);
    uint64_t total = 0;
    for (int i = 2; i <= top; i++) {
        int t = lua_type(L, i);
        if (t != LUA_TSTRING && t != LUA_TNUMBER)
            return luaL_typeerror(L, i, "string or number");
        size_t len;
        lua_tolstring(L, i, &len);
        total += len;
    }
    lt_files *fs = f->fs;
    if (total > fs->max_bytes - fs->st.bytes_written) {
        fs->st.writes_refused++;
        char cap[24];
        snprintf(cap, sizeof cap, "%" PRIu64, fs->max_bytes);
        return luaL_error(L, "open_file: write cap of %s bytes reached (--max-write)", cap);
    }
    for (int i = 2; i <= top; i++) {
        size_t len;
        const char *s = lua_tolstring(L, i, &len);
        if (write_all(f, s, len) != 0)
            return luaL_error(L, "open_file: '%s': write: %s", f->path, strerror(errno));
    }
    lua_settop(L, 1);
    return 1;
}

static int file_close(lua_State *L)
{
    lt_file *f = check_open(L);
    if (close_fd(f) != 0)
        return luaL_error(L, "open_file: '%s': close: %s", f->path, strerror(errno));
    lua_pushboolean(L, 1);
    return 1;
}

/* __gc and __close: quietly, and only if still open. */
static int file_release(lua_State *L)
{
    lt_file *f = luaL_checkudata(L, 1, LT_FILES_MT);
    if (f->fd >= 0)
        close_fd(f);
    return 0;
}

static int file_tostring(lua_State *L)
{
    lt_file *f = luaL_checkudata(L, 1, LT_FILES_MT);
    lua_pushfstring(L, "file (%s%s)", f->path, f->fd < 0 ? ", closed" : "");
    return 1;
}

static void push_file_metatable(lua_State *L)
{
    if (!luaL_newmetatable(L, LT_FILES_MT))
        return;
    static const luaL_Reg methods[] = {
        { "write", file_write }, { "close", file_close }, { NULL, NULL },
    };
    luaL_newlib(L, methods);
    lua_setfield(L, -2, "__index");
    static const luaL_Reg meta[] = {
        { "__gc", file_release }, { "__close", file_release },
        { "__tostring", file_tostring }, { NULL, NULL },
    };
    luaL_setfuncs(L, meta, 0);
    lt_seal_metatable(L, LT_FILES_MT);
}

static int check_mode(lua_State *L, int idx)
{
    const char *m = luaL_optstring(L, idx, "w");
    if (strcmp(m, "w") == 0)
        return MODE_W;
    if (strcmp(m, "a") == 0)
        return MODE_A;
    if (strcmp(m, "x") == 0)
        return MODE_X;
    return luaL_argerror(L, idx, "mode must be \"w\", \"a\" or \"x\"");
}

int lt_files_api_open(lua_State *L)
{
    lt_files *fs = lua_touserdata(L, lua_upvalueindex(1));
    if (!fs)
        return luaL_error(L, "open_file: writing files needs --allow-write DIR on the command line");
    size_t n;
    const char *path = luaL_checklstring(L, 1, &n);
    int mode = check_mode(L, 2);
    const char *bad = path_problem(path, n);
    if (bad)
        return luaL_error(L, "open_file: '%s': %s", path, bad);
    if (fs->st.open_now >= LT_FILES_MAX_OPEN)
        return luaL_error(L, "open_file: '%s': too many open files (at most %d at once; close "
                             "some with f:close())", path, LT_FILES_MAX_OPEN);
    /* The object exists before the descriptor, so a memory error while
     * making it cannot leak one. */
    lt_file *f = lua_newuserdatauv(L, sizeof *f + n + 1, 0);
    f->fd = -1;
    f->fs = fs;
    memcpy(f->path, path, n + 1);
    push_file_metatable(L);
    lua_setmetatable(L, -2);
    char why[512];
    int fd = open_beneath(fs, path, mode, why, sizeof why);
    if (fd < 0)
        return luaL_error(L, "open_file: '%s': %s", path, why);
    f->fd = fd;
    fs->st.open_now++;
    fs->st.opened++;
    return 1;
}
