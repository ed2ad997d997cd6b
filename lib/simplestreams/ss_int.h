/*  ss_int.h — helpers shared by the ss_*.c files (not public).

    Parsers turn the jansson DOM into arena-allocated structs and drop the
    DOM. Strings go through a per-parse intern table, so the thousands of
    repeated keys and values ("ftype", "amd64", "disk1.img") of a big
    products file are stored once; the table itself is freed when parsing
    ends, leaving nothing mutable behind. */
#ifndef EN_SS_INT_H
#define EN_SS_INT_H

#include <jansson.h>

#include "common/arena.h"
#include "simplestreams/ss.h"

typedef struct {
    en_arena_t *arena;
    const char **slots; //  open addressing, power of two
    size_t cap, used;
} ss_intern_t;

int ss_intern_init(ss_intern_t *self, en_arena_t *arena, size_t hint);
void ss_intern_fini(ss_intern_t *self);
//  Arena copy of s, shared with every equal string interned before.
const char *ss_intern(ss_intern_t *self, const char *s);

//  json_loadb with the "<name>: invalid JSON at line L column C: ..." message.
json_t *ss_json_load(const char *buf, size_t len, const char *name, en_err_t *err);

//  Scalar (string or number) as text in buf (numbers) or borrowed (strings);
//  NULL for other types.
const char *ss_scalar_text(json_t *v, char *buf, size_t size);

//  Optional string member: NULL when absent; -1 with NOT_VALID
//  `<ctx>"<key>" is not a string` when present with another type.
int ss_opt_string(json_t *obj, const char *key, ss_intern_t *in, const char **out, const char *ctx,
                  en_err_t *err);

//  "clouds": [{region, endpoint}...] (absent = none).
int ss_parse_clouds(json_t *obj, ss_intern_t *in, const en_ss_cloud_t **out, size_t *count,
                    const char *ctx, en_err_t *err);

bool ss_cloud_listed(const en_ss_cloud_t *clouds, size_t n, const en_ss_cloud_t *cloud);
bool ss_cloud_empty(const en_ss_cloud_t *c);

#endif
