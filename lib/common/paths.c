/*  paths.c — see paths.h. */
#include "common/paths.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int
en_home(char *out, size_t size)
{
    const char *home = getenv("ENVIRONS_HOME");
    if (home && *home)
        return snprintf(out, size, "%s", home) < (int) size ? 0 : -1;
    const char *xdg = getenv("XDG_DATA_HOME");
    if (xdg && *xdg)
        return snprintf(out, size, "%s/environs", xdg) < (int) size ? 0 : -1;
    const char *user = getenv("HOME");
    if (user && *user)
        return snprintf(out, size, "%s/.local/share/environs", user) < (int) size ? 0 : -1;
    return -1;
}

int
en_mkdirs(const char *path, unsigned mode)
{
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int) sizeof buf)
        return -1;
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, mode) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    return mkdir(buf, mode) != 0 && errno != EEXIST ? -1 : 0;
}
