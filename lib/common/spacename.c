/*  spacename.c — ConvertSpaceName (spacename.h). */
#include "common/spacename.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool
s_taken(const char *name, const char *const *taken, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (taken[i] && strcmp(taken[i], name) == 0)
            return true;
    return false;
}

char *
en_space_name_convert(const char *name, const char *const *taken, size_t n)
{
    if (!name)
        name = "";
    size_t len = strlen(name);
    // room for "empty" and for the longest suffix a size_t gives
    size_t cap = (len > 5 ? len : 5) + 32;
    char *out = malloc(cap);
    size_t used = 0;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        if (c == ' ')
            c = '-';
        else if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        else if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
            continue;
        // a leading `-` never stays, and a run of them is one
        if (c == '-' && (used == 0 || out[used - 1] == '-'))
            continue;
        out[used++] = c;
    }
    while (used > 0 && out[used - 1] == '-')
        used--;
    out[used] = '\0';
    if (used == 0)
        strcpy(out, "empty");
    if (!s_taken(out, taken, n))
        return out;
    size_t base = strlen(out);
    for (size_t k = 2;; k++) {
        snprintf(out + base, cap - base, "-%zu", k);
        if (!s_taken(out, taken, n))
            return out;
    }
}
