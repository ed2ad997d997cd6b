/*  spacename.h — Juju's ConvertSpaceName (docs/juju-environs.md §5.1): a
    provider's space name made into a valid Juju space name, unique among
    the names already taken. */
#ifndef EN_SPACENAME_H
#define EN_SPACENAME_H

#include <stddef.h>

//  Normalise name (spaces to `-`, lower case, only [0-9a-z-] kept, `-`
//  trimmed at both ends, runs of `-` collapsed; nothing left: `empty`),
//  then append -2, -3, ... while the result is among taken[0..n). Returns
//  a malloc'd string (caller frees); name NULL counts as "".
char *en_space_name_convert(const char *name, const char *const *taken, size_t n);

#endif
