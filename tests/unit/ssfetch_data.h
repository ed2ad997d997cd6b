/*  ssfetch_data.h — reading testdata/simplestreams/ (under EN_SHARED_DIR,
    which en_test sets) for test_ssfetch.c and test_ssverify.c. */
#ifndef EN_SSFETCH_DATA_H
#define EN_SSFETCH_DATA_H

#include <stdio.h>
#include <stdlib.h>

#define SS_DATA "/testdata/simplestreams/"

//  <shared>/testdata/simplestreams/<rel>, whole, NUL-terminated; aborts
//  the test when it cannot be read.
static inline char *
ss_read(const char *rel, size_t *len)
{
    const char *shared = getenv("EN_SHARED_DIR");
    char path[1024];
    snprintf(path, sizeof path, "%s%s%s", shared ? shared : "../shared", SS_DATA, rel);
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "cannot open %s\n", path);
        abort();
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n)
        abort();
    buf[n] = '\0';
    fclose(f);
    *len = (size_t)n;
    return buf;
}

#endif
