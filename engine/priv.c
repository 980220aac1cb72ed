#include "priv.h"

#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

/* capset(2) directly: glibc has no wrapper and libcap is not needed for
 * "clear everything". */
static int caps_clear(void)
{
    struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
    struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3];
    memset(d, 0, sizeof d);
    return (int)syscall(SYS_capset, &h, d);
}

static int caps_any(void)
{
    struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
    struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3];
    if (syscall(SYS_capget, &h, d) != 0)
        return 1;
    for (int i = 0; i < _LINUX_CAPABILITY_U32S_3; i++)
        if (d[i].effective || d[i].permitted || d[i].inheritable)
            return 1;
    return 0;
}

/* Root: become `user`. The order matters: groups and gid first, while we
 * still may change them. */
static int become_user(const char *user, char *err, size_t errlen)
{
    errno = 0;
    struct passwd *pw = getpwnam(user);
    if (!pw) {
        snprintf(err, errlen, "--user %s: no such user", user);
        return -1;
    }
    if (pw->pw_uid == 0) {
        snprintf(err, errlen, "--user %s: refusing to run as uid 0", user);
        return -1;
    }
    if (setgroups(0, NULL) != 0 || setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) != 0 ||
        setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) != 0) {
        snprintf(err, errlen, "cannot become user %s: %s", user, strerror(errno));
        return -1;
    }
    if (geteuid() == 0 || getuid() == 0 || getegid() == 0) {
        snprintf(err, errlen, "cannot become user %s: still uid or gid 0", user);
        return -1;
    }
    return 0;
}

int lt_priv_drop(const char *user, char *err, size_t errlen)
{
    /* The bounding set first: shrinking it takes CAP_SETPCAP, which root
     * has until it becomes the user, and a process started with file
     * capabilities never has (NO_NEW_PRIVS below makes the bounding set
     * moot for later execs in that case). */
    for (int c = 0; c <= CAP_LAST_CAP; c++)
        if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) != 0 && errno != EPERM && errno != EINVAL)
            break;
    if ((geteuid() == 0 || getuid() == 0) && become_user(user, err, errlen) != 0)
        return -1;
    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
    if (caps_clear() != 0) {
        snprintf(err, errlen, "cannot drop capabilities: %s", strerror(errno));
        return -1;
    }
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
        snprintf(err, errlen, "cannot set no_new_privs: %s", strerror(errno));
        return -1;
    }
    if (caps_any()) {
        snprintf(err, errlen, "capabilities are still held after dropping them");
        return -1;
    }
    return 0;
}
