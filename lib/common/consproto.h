/*  consproto.h — constraints between the C value (constraints.h) and the
    wire's en.Constraints (types.proto).

    Presence is kept both ways: a set attribute gets its oneof case on the
    wire even when its value is zero or empty, and a set list becomes a
    present StringList even when it has no values, so `mem=` and `tags=`
    survive the trip exactly as constraints.h describes them.

    Anyone who turns a constraints string into a request (the CLI) or a
    request into a value (the broker) converts here, at its edge. */
#ifndef EN_CONSPROTO_H
#define EN_CONSPROTO_H

#include "common/arena.h"
#include "common/constraints.h"
#include "common/err.h"
#include "types.pb-c.h"

//  The wire form of c, built in the arena (freed with it).
En__Constraints *en_constraints_to_proto(en_arena_t *arena, const en_constraints_t *c);
//  The C value of a wire message (NULL = nothing set); out is reset first
//  and left empty on error (EN_NOT_VALID `constraints do not convert`).
int en_constraints_from_proto(const En__Constraints *c, en_constraints_t *out, en_err_t *err);

#endif
