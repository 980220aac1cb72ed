/*
 * priv.h — giving up privileges for good, in the capture helper and in the
 * engine alike.
 *
 * Started as root, a process becomes `user` (supplementary groups cleared,
 * gid and uid set to the user's); either way it then holds no capability
 * (effective, permitted, inheritable, ambient, and the bounding set when it
 * may change it) and sets PR_SET_NO_NEW_PRIVS, so no later execve can give
 * anything back. The result is checked, not assumed.
 */
#ifndef LUNATAP_PRIV_H
#define LUNATAP_PRIV_H

#include <stddef.h>

#define LT_DEFAULT_USER "nobody"

/* 0, or -1 with a message naming the step that failed in err. */
int lt_priv_drop(const char *user, char *err, size_t errlen);

#endif
