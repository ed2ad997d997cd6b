/*  test_simplestreams.h — reading simplestreams test data from EN_SHARED_DIR
    (set by en_test) for the test_simplestreams_*.c files. */
#ifndef EN_TEST_SIMPLESTREAMS_H
#define EN_TEST_SIMPLESTREAMS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "simplestreams/ss.h"

#define SS_DATA "/testdata/simplestreams/"

//  Whole file under <shared>/testdata/simplestreams/<rel>; aborts the test on failure.
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

//  The signed text of a .sjson file (signature NOT checked: ssverify's job).
static inline char *
ss_read_sjson(const char *rel, size_t *len)
{
    size_t raw_len;
    char *raw = ss_read(rel, &raw_len);
    char *body;
    en_err_t err = {0};
    if (en_ss_clearsign_body(raw, raw_len, &body, len, &err) < 0) {
        fprintf(stderr, "%s: %s\n", rel, err.message);
        abort();
    }
    free(raw);
    return body;
}

static inline en_ss_index_t *
ss_index_file(const char *rel, bool sjson)
{
    size_t len;
    char *buf = sjson ? ss_read_sjson(rel, &len) : ss_read(rel, &len);
    en_err_t err = {0};
    en_ss_index_t *idx = en_ss_index_parse(buf, len, rel, &err);
    if (!idx)
        fprintf(stderr, "%s\n", err.message);
    free(buf);
    return idx;
}

static inline en_ss_products_t *
ss_products_file(const char *rel, bool sjson)
{
    size_t len;
    char *buf = sjson ? ss_read_sjson(rel, &len) : ss_read(rel, &len);
    en_err_t err = {0};
    en_ss_products_t *p = en_ss_products_parse(buf, len, rel, &err);
    if (!p)
        fprintf(stderr, "%s\n", err.message);
    free(buf);
    return p;
}

#define SS_N(a) (sizeof(a) / sizeof((a)[0]))

#endif
