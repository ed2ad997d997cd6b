/*  paths.h — where environs keeps its state.

    $ENVIRONS_HOME, else $XDG_DATA_HOME/environs, else
    ~/.local/share/environs (the same rule Juju uses for $JUJU_DATA). */
#ifndef EN_PATHS_H
#define EN_PATHS_H

#include <stddef.h>

//  The state directory; returns -1 when no rule yields one (no HOME).
int en_home(char *out, size_t size);
//  mkdir -p with mode (0700 for state); 0 on success or when it exists.
int en_mkdirs(const char *path, unsigned mode);

#endif
