/*  instancetype.h — choosing an instance type and image for constraints.

    Juju's environs/instances (docs/juju-environs.md §3): which of a cloud's
    instance types satisfy a constraints value, in which order, and which
    (instance type, image) pair to launch.

    Design:
    - A catalogue is an array of en_instance_type_t owned by the caller
      (usually a static table in a driver); every string in it is borrowed.
    - A match is a pointer into that array plus the arches left after the
      arch constraint, never a copy, so matching allocates nothing per type.
    - en_matching_instance_types is Go's MatchingInstanceTypes, one call,
      one malloc'd result. en_itype_catalogue_t is the fast path for a
      catalogue used many times: built once, it pre-sorts the types in cost
      order and interns their arches as bits, then answers a selection into
      a caller buffer without allocating or sorting. Both give the same
      answer (tests compare them); a built catalogue is never modified, so
      threads may share it.
    - Go sorts with the unstable sort.Sort (§10 item 9). We sort stably:
      types equal under byCost keep their catalogue order, and in the
      largest-memory fallback, of types equal in memory and cost the first
      in the catalogue wins.
    - Failures use kind EN_NOT_FOUND and Juju's texts, e.g. `no instance
      types in test matching constraints "cpu-power=9001"`. */
#ifndef EN_INSTANCETYPE_H
#define EN_INSTANCETYPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/constraints.h"
#include "common/err.h"

//  Minimum memory (MiB) asked for when neither mem nor instance-type is set
//  (minMemoryHeuristic), and the controller default of 2.2a+ (3.5 GiB).
enum { EN_MIN_MEMORY_HEURISTIC = 1024, EN_CONTROLLER_DEFAULT_MEM = 3584 };

typedef struct {
    const char *id;
    const char *name;
    const char *const *arches;
    size_t arch_count;
    uint64_t cpu_cores;
    uint64_t mem;       //  MiB
    uint64_t root_disk; //  MiB; 0 = unknown, which satisfies any root-disk
    uint64_t cost;      //  region-specific; 0 = unknown
    bool has_cpu_power; //  cpu_power is known
    uint64_t cpu_power;
    const char *virt_type; //  NULL = unknown
    const char *const *tags;
    size_t tag_count;
    bool deprecated; //  chosen only when asked for by name
} en_instance_type_t;

//  A matching type and the arches it keeps after the arch constraint:
//  type->arches[arch_first .. arch_first + arch_count).
typedef struct {
    const en_instance_type_t *type;
    uint32_t arch_first;
    uint32_t arch_count;
} en_itype_match_t;

//  itype.match(cons): does this type satisfy cons (§3.1)? Fills *match.
bool en_instance_type_match(const en_instance_type_t *type, const en_constraints_t *cons,
                            en_itype_match_t *match);

//  Stable sort in byCost order (cost, mem, cpu-power when both known, cores,
//  root disk).
void en_itype_sort_by_cost(en_itype_match_t *matches, size_t count);

//  MatchingInstanceTypes (§3.2): *out is malloc'd (caller frees) and holds
//  *count matches in cost order. On error *out is NULL and *count 0.
int en_matching_instance_types(const en_instance_type_t *types, size_t n_types, const char *region,
                               const en_constraints_t *cons, en_itype_match_t **out, size_t *count,
                               en_err_t *err);

//  --------------------------------------------------------------------------
//  Prepared catalogue (fast path)

typedef struct en_itype_catalogue en_itype_catalogue_t;

//  Borrows types, which must outlive the catalogue. NULL on out-of-memory.
en_itype_catalogue_t *en_itype_catalogue_new(const en_instance_type_t *types, size_t count);
void en_itype_catalogue_destroy(en_itype_catalogue_t **self_p);
size_t en_itype_catalogue_size(const en_itype_catalogue_t *self);
//  As en_matching_instance_types, into out (room for cap matches; cap as
//  large as the catalogue always suffices). Allocates nothing unless the
//  catalogue mixes known and unknown cpu-power among types of equal cost
//  and memory, where byCost is not a total order and the matches must be
//  sorted per call.
int en_itype_catalogue_match(const en_itype_catalogue_t *self, const char *region,
                             const en_constraints_t *cons, en_itype_match_t *out, size_t cap,
                             size_t *count, en_err_t *err);

//  --------------------------------------------------------------------------
//  Defaults and images

//  bootstrap.withDefaultControllerConstraints (2.2a+, §3.4): when none of
//  instance-type, cores, cpu-power, mem is Has* (non-empty / > 0), set
//  mem=3584. So `mem=` and `mem=0` still get the default (§10 item 10).
void en_controller_default_constraints(en_constraints_t *cons);

typedef struct {
    const char *id;
    const char *arch;
    const char *virt_type; //  "" or NULL = not specified
} en_image_t;

typedef struct {
    const char *region;
    const char *series;
    const char *const *arches; //  only named in the no-images error
    size_t arch_count;
    const en_constraints_t *cons; //  NULL = no constraints
} en_instance_constraint_t;

typedef struct {
    en_itype_match_t itype;
    const en_image_t *image;
} en_instance_spec_t;

//  FindInstanceSpec (§3.3): the first matching type in cost order whose
//  arches include an image's arch, preferring exact virt-type matches over
//  images that name none, then 64-bit arches, then arch name, then order
//  of discovery.
int en_find_instance_spec(const en_image_t *images, size_t n_images,
                          const en_instance_constraint_t *ic, const en_instance_type_t *types,
                          size_t n_types, en_instance_spec_t *spec, en_err_t *err);
//  The same answer (or error) from a prepared catalogue, whose types are
//  the list: matching without a sort, one malloc for the matches.
int en_itype_catalogue_find_spec(const en_itype_catalogue_t *self, const en_image_t *images,
                                 size_t n_images, const en_instance_constraint_t *ic,
                                 en_instance_spec_t *spec, en_err_t *err);

#endif
