/*  arena.h — a per-call bump allocator.

    A handler builds its result message out of arena memory; the bus packs
    the result and then frees the whole arena at once. This keeps handlers
    free of per-field frees and lets them point result fields at borrowed
    strings safely (protobuf-c's free_unpacked is never used on results). */
#ifndef EN_ARENA_H
#define EN_ARENA_H

#include <stddef.h>

typedef struct en_arena en_arena_t;

en_arena_t *en_arena_new(void);
void en_arena_destroy(en_arena_t **self_p);
//  Zeroed memory; aborts only on out-of-memory (like malloc failure in czmq).
void *en_arena_alloc(en_arena_t *self, size_t size);
char *en_arena_strdup(en_arena_t *self, const char *s);
char *en_arena_printf(en_arena_t *self, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
//  Array of n pointers, zeroed.
void *en_arena_array(en_arena_t *self, size_t n, size_t elem);
//  Free everything but keep the first block for reuse.
void en_arena_reset(en_arena_t *self);

#endif
