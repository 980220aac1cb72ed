/* open_file through Lua in a fresh directory: modes, paths refused (empty,
 * absolute, '..', NUL), symbolic links inside the directory that point
 * outside (as the file and as a directory on the way), nested directories
 * made, the byte cap, the 256-open limit, closed files, the message when
 * no directory was granted, and lt_files_new's errors. */
#include "lfiles.h"

#include <fcntl.h>
#include <lauxlib.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"

#define CHECK_LUA(L, code) do { \
        n_checks++; \
        if (luaL_dostring(L, code) != LUA_OK) { \
            fail_at(__FILE__, __LINE__, lua_tostring(L, -1)); \
            lua_pop(L, 1); \
        } \
    } while (0)

static char root[64];      /* the test's scratch directory */
static char granted[128];  /* root/out: what --allow-write gets */

static lua_State *new_state(lt_files *fs)
{
    lua_State *L = luaL_newstate();
    luaL_openlibs(L);
    lua_pushlightuserdata(L, fs);
    lua_pushcclosure(L, lt_files_api_open, 1);
    lua_setglobal(L, "open_file");
    return L;
}

/* Contents of root/rel, or "" when it cannot be read. */
static const char *slurp(const char *rel)
{
    static char buf[4096];
    char path[512];
    snprintf(path, sizeof path, "%s/%s", root, rel);
    buf[0] = '\0';
    FILE *f = fopen(path, "r");
    if (!f)
        return "(missing)";
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static int file_mode(const char *rel)
{
    char path[512];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", root, rel);
    return stat(path, &st) == 0 ? (int)(st.st_mode & 0777) : -1;
}

static void spit(const char *rel, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", root, rel);
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

static void test_not_granted(void)
{
    g_ctx = "not granted";
    lua_State *L = new_state(NULL);
    CHECK_LUA(L, "local ok, e = pcall(open_file, 'x.txt')\n"
                 "assert(e == 'open_file: writing files needs --allow-write DIR on the command line', e)");
    lua_close(L);
    char err[128] = ""; /* small enough for CHECK_STR's message buffer */
    CHECK(lt_files_new("/nonexistent/lunatap", 100, err, sizeof err) == NULL);
    CHECK_STR(err, "--allow-write /nonexistent/lunatap: No such file or directory");
    char file[256];
    snprintf(file, sizeof file, "%s/plain", root);
    spit("plain", "x");
    CHECK(lt_files_new(file, 100, err, sizeof err) == NULL);
    CHECK(strstr(err, "plain: not a directory") != NULL);
    unlink(file);
}

static void test_modes(lt_files *fs)
{
    g_ctx = "modes";
    lua_State *L = new_state(fs);
    CHECK_LUA(L, "local f = open_file('a.txt') assert(f:write('one ', 2, ' ', 3.5) == f)\n"
                 "assert(tostring(f) == 'file (a.txt)') f:close()\n"
                 "assert(tostring(f) == 'file (a.txt, closed)')");
    CHECK_STR(slurp("out/a.txt"), "one 2 3.5");
    CHECK_EQ(file_mode("out/a.txt"), 0644);
    CHECK_LUA(L, "local f = open_file('a.txt', 'a') f:write('\\n', 'more') f:close()");
    CHECK_STR(slurp("out/a.txt"), "one 2 3.5\nmore");
    CHECK_LUA(L, "local f = open_file('a.txt', 'w') f:write('new') f:close()");
    CHECK_STR(slurp("out/a.txt"), "new");
    CHECK_LUA(L, "local ok, e = pcall(open_file, 'a.txt', 'x')\n"
                 "assert(e == \"open_file: 'a.txt': File exists\", e)");
    CHECK_LUA(L, "local f = open_file('b.txt', 'x') f:write('b') f:close()");
    CHECK_STR(slurp("out/b.txt"), "b");
    CHECK_LUA(L, "local ok, e = pcall(open_file, 'c.txt', 'r')\n"
                 "assert(not ok and e:find('mode must be \"w\", \"a\" or \"x\"', 1, true), e)");
    /* Closed files, to-be-closed variables, and what write accepts. */
    CHECK_LUA(L, "local f = open_file('c.txt') f:close()\n"
                 "local ok, e = pcall(f.write, f, 'x')\n"
                 "assert(e == \"open_file: 'c.txt': attempt to use a closed file\", e)\n"
                 "assert(not pcall(f.close, f))");
    CHECK_LUA(L, "do local f <close> = open_file('d.txt') f:write('d') end");
    CHECK_STR(slurp("out/d.txt"), "d");
    CHECK_LUA(L, "local f = open_file('e.txt')\n"
                 "local ok, e = pcall(f.write, f, 'x', {})\n"
                 "assert(not ok and e:find('string or number expected', 1, true), e) f:close()");
    CHECK_STR(slurp("out/e.txt"), "");
    CHECK_LUA(L, "assert(getmetatable(open_file('f.txt')) == false)");
    lua_close(L); /* collects f.txt's file */
    CHECK_EQ(lt_files_stats_get(fs)->open_now, 0);
}

static void test_paths(lt_files *fs)
{
    g_ctx = "paths";
    lua_State *L = new_state(fs);
    CHECK_LUA(L, "local f = open_file('logs/2024/01/x.log') f:write('deep') f:close()");
    CHECK_STR(slurp("out/logs/2024/01/x.log"), "deep");
    CHECK_EQ(file_mode("out/logs/2024"), 0755);
    CHECK_LUA(L, "local f = open_file('./logs//y.log') f:write('y') f:close()");
    CHECK_STR(slurp("out/logs/y.log"), "y");
    CHECK_LUA(L, "local function refused(p, why)\n"
                 "  local ok, e = pcall(open_file, p)\n"
                 "  assert(not ok and e:find(why, 1, true), p .. ': ' .. tostring(e))\n"
                 "end\n"
                 "refused('', 'the path is empty')\n"
                 "refused('/etc/passwd', 'absolute paths are not allowed')\n"
                 "refused('../escape.txt', \"'..' components are not allowed\")\n"
                 "refused('logs/../../escape.txt', \"'..' components\")\n"
                 "refused('logs/..', \"'..' components\")\n"
                 "refused('a\\0b', 'NUL byte')\n"
                 "refused('logs/', 'names a directory')\n"
                 "refused('logs', 'Is a directory')\n"
                 "refused(('x'):rep(5000), 'longer than 4095')\n"
                 "refused(('x'):rep(300), 'File name too long')\n"
                 "refused('a.txt/b', \"'a.txt': Not a directory\")\n"
                 "local ok, e = pcall(open_file, 'logs/2024')\n"
                 "assert(e == \"open_file: 'logs/2024': '2024': Is a directory\", e)");
    CHECK_STR(slurp("escape.txt"), "(missing)");
    /* '..' inside a name is only a name. */
    CHECK_LUA(L, "local f = open_file('a..b') f:close() f = open_file('..c') f:close()");
    lua_close(L);
}

/* Links in the granted directory to outside it must not be followed,
 * whether they name the file or a directory on the way. */
static void test_symlinks(lt_files *fs)
{
    g_ctx = "symlinks";
    char path[512], target[512];
    spit("secret", "untouched");
    snprintf(target, sizeof target, "%s/secret", root);
    snprintf(path, sizeof path, "%s/link.txt", granted);
    CHECK(symlink(target, path) == 0);
    snprintf(path, sizeof path, "%s/dangling.txt", granted);
    CHECK(symlink("/tmp/lunatap-never-created", path) == 0);
    snprintf(path, sizeof path, "%s/outside", root);
    CHECK(mkdir(path, 0755) == 0);
    snprintf(path, sizeof path, "%s/linkdir", granted);
    snprintf(target, sizeof target, "%s/outside", root);
    CHECK(symlink(target, path) == 0);
    snprintf(path, sizeof path, "%s/logs/inner", granted);
    CHECK(symlink(target, path) == 0);
    lua_State *L = new_state(fs);
    CHECK_LUA(L, "local function refused(p, m)\n"
                 "  local ok, e = pcall(open_file, p, m)\n"
                 "  assert(not ok and e:find('is a symbolic link (symbolic links are not followed)', 1, true),\n"
                 "         p .. ': ' .. tostring(e))\n"
                 "end\n"
                 "for _, m in ipairs{'w', 'a', 'x'} do\n"
                 "  refused('link.txt', m) refused('dangling.txt', m)\n"
                 "  refused('linkdir/x.txt', m) refused('logs/inner/x.txt', m)\n"
                 "  refused('linkdir/new/x.txt', m)\n"
                 "end");
    CHECK_STR(slurp("secret"), "untouched");
    CHECK_STR(slurp("outside/x.txt"), "(missing)");
    CHECK_STR(slurp("outside/new"), "(missing)");
    CHECK(access("/tmp/lunatap-never-created", F_OK) != 0);
    /* A hard link to a file outside is refused too, before truncating. */
    snprintf(path, sizeof path, "%s/hard.txt", granted);
    snprintf(target, sizeof target, "%s/secret", root);
    CHECK(link(target, path) == 0);
    CHECK_LUA(L, "local ok, e = pcall(open_file, 'hard.txt')\n"
                 "assert(not ok and e:find('other hard links', 1, true), e)");
    CHECK_STR(slurp("secret"), "untouched");
    /* A FIFO must not hang the run. */
    snprintf(path, sizeof path, "%s/fifo", granted);
    CHECK(mkfifo(path, 0644) == 0);
    CHECK_LUA(L, "local ok, e = pcall(open_file, 'fifo')\n"
                 "assert(e == \"open_file: 'fifo': 'fifo' is not a regular file\", e)");
    lua_close(L);
}

static void test_cap(void)
{
    g_ctx = "cap";
    char err[256];
    lt_files *fs = lt_files_new(granted, 10, err, sizeof err);
    CHECK(fs != NULL);
    lua_State *L = new_state(fs);
    CHECK_LUA(L, "local f = open_file('cap.txt') f:write('123456')\n"
                 "local ok, e = pcall(f.write, f, 'ab', 'cde')\n"
                 "assert(e == 'open_file: write cap of 10 bytes reached (--max-write)', e)\n"
                 "f:write('abcd') f:close()\n"
                 "local g = open_file('cap2.txt')\n"
                 "assert(not pcall(g.write, g, 'x')) g:write('') g:close()");
    CHECK_STR(slurp("out/cap.txt"), "123456abcd");
    const lt_files_stats *st = lt_files_stats_get(fs);
    CHECK_EQ(st->bytes_written, 10);
    CHECK_EQ(st->writes_refused, 2);
    CHECK_EQ(st->opened, 2);
    lua_close(L);
    lt_files_free(fs);
}

static void test_open_limit(lt_files *fs)
{
    g_ctx = "open limit";
    lua_State *L = new_state(fs);
    CHECK_LUA(L, "local t = {}\n"
                 "for i = 1, 256 do t[i] = open_file('many/' .. i) end\n"
                 "local ok, e = pcall(open_file, 'many/257')\n"
                 "assert(e == \"open_file: 'many/257': too many open files (at most 256 at once; \" ..\n"
                 "            'close some with f:close())', e)\n"
                 "t[1]:close() open_file('many/257'):close()\n"
                 "t = nil collectgarbage()");
    CHECK_EQ(lt_files_stats_get(fs)->open_now, 0);
    lua_close(L);
}

int main(void)
{
    snprintf(root, sizeof root, "/tmp/lunatap-files-XXXXXX");
    if (!mkdtemp(root)) {
        perror("mkdtemp");
        return 1;
    }
    snprintf(granted, sizeof granted, "%s/out", root);
    mkdir(granted, 0755);
    umask(022);
    test_not_granted();
    char err[256];
    lt_files *fs = lt_files_new(granted, 1 << 20, err, sizeof err);
    CHECK(fs != NULL);
    test_modes(fs);
    test_paths(fs);
    test_symlinks(fs);
    test_open_limit(fs);
    lt_files_free(fs);
    test_cap();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", root);
    return check_summary("test_files");
}
