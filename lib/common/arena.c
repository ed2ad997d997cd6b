/*  arena.c — chained blocks; big requests get a block of their own. */
#include "common/arena.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EN_ARENA_BLOCK 8192

typedef struct block {
    struct block *next;
    size_t used, size;
    max_align_t data[];
} block_t;

struct en_arena {
    block_t *head;
};

static block_t *
s_block_new(size_t size)
{
    block_t *b = malloc(sizeof(block_t) + size);
    if (!b)
        abort();
    b->next = NULL;
    b->used = 0;
    b->size = size;
    return b;
}

en_arena_t *
en_arena_new(void)
{
    en_arena_t *self = calloc(1, sizeof *self);
    if (self)
        self->head = s_block_new(EN_ARENA_BLOCK);
    return self;
}

void
en_arena_reset(en_arena_t *self)
{
    block_t *b = self->head;
    while (b->next) {
        block_t *next = b->next;
        free(b);
        b = next;
    }
    // keep the last (oldest, standard-size) block
    self->head = b;
    b->used = 0;
}

void
en_arena_destroy(en_arena_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    en_arena_t *self = *self_p;
    block_t *b = self->head;
    while (b) {
        block_t *next = b->next;
        free(b);
        b = next;
    }
    free(self);
    *self_p = NULL;
}

void *
en_arena_alloc(en_arena_t *self, size_t size)
{
    size_t align = sizeof(max_align_t);
    size = (size + align - 1) / align * align;
    if (size == 0)
        size = align;
    block_t *b = self->head;
    if (b->used + size > b->size) {
        b = s_block_new(size > EN_ARENA_BLOCK ? size : EN_ARENA_BLOCK);
        b->next = self->head;
        self->head = b;
    }
    void *p = (char *) b->data + b->used;
    b->used += size;
    memset(p, 0, size);
    return p;
}

char *
en_arena_strdup(en_arena_t *self, const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s) + 1;
    char *p = en_arena_alloc(self, n);
    memcpy(p, s, n);
    return p;
}

char *
en_arena_printf(en_arena_t *self, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *p = en_arena_alloc(self, (size_t) n + 1);
    va_start(ap, fmt);
    vsnprintf(p, (size_t) n + 1, fmt, ap);
    va_end(ap);
    return p;
}

void *
en_arena_array(en_arena_t *self, size_t n, size_t elem)
{
    return en_arena_alloc(self, n * elem);
}
