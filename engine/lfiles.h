/*
 * lfiles.h — file writing for scripts, granted with --allow-write DIR.
 *
 * The only way a script can write a file is the global open_file(path
 * [, mode]), and only when the run was given a directory:
 * - path is relative to that directory; empty and absolute paths, `..`
 *   components and NUL bytes are refused. The file is reached with openat()
 *   one component at a time from a descriptor on the directory, with
 *   O_NOFOLLOW everywhere, so no symbolic link (planted before or during
 *   the run) can lead out of it. Missing intermediate directories are made
 *   (0755). Only regular files with one link are written.
 * - mode "w" (create or truncate; the default), "a" (append), "x" (create,
 *   fail if it exists). Files are created 0644.
 * - Every byte written by every file of the run counts against max_bytes;
 *   a write that would pass it writes nothing and raises. At most
 *   LT_FILES_MAX_OPEN files are open at once.
 *
 * Lifetime: file objects point at their lt_files, so free the lt_files
 * only after the Lua state (whose collector closes the files) is closed.
 */
#ifndef LUNATAP_LFILES_H
#define LUNATAP_LFILES_H

#include <lua.h>
#include <stddef.h>
#include <stdint.h>

#define LT_FILES_MAX_OPEN 256
#define LT_FILES_MT "lunatap.file"

typedef struct lt_files lt_files;

typedef struct lt_files_stats {
    uint64_t opened;           /* files opened successfully */
    uint64_t bytes_written;
    uint64_t writes_refused;   /* writes refused by the byte cap */
    unsigned open_now;
} lt_files_stats;

/* Opens dir (which must exist and be a directory) for the run. On failure
 * returns NULL with a message naming dir in err. */
lt_files *lt_files_new(const char *dir, uint64_t max_bytes, char *err, size_t errlen);
void lt_files_free(lt_files *fs);
const lt_files_stats *lt_files_stats_get(const lt_files *fs);

/* open_file(path [, mode]) -> file, with the lt_files* as a light userdata
 * in upvalue 1 (NULL when the run has no --allow-write). The file has
 * f:write(...) (strings and numbers; returns f), f:close(), tostring(f),
 * and closes itself when collected or when a <close> variable ends. */
int lt_files_api_open(lua_State *L);

#endif
