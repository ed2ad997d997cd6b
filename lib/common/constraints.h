/*  constraints.h — Juju's constraints.Value and constraints.Validator in C.

    A constraints value says what hardware a machine must have: `mem=4G
    cores=2 spaces=a,^b zones=z1`. It is parsed from, and printed to, Juju's
    string syntax (docs/juju-environs.md §2.2), because stored constraints
    are compared as strings and users type them on the command line.

    Design:
    - en_constraints_t is a plain public struct, like a Go Value. Go marks
      "set" with a non-nil pointer; here one bit per attribute in `set` does
      it, so `mem=` and `mem=0` (set, zero) differ from an absent mem (§10
      item 10), and `tags=` (set, empty) overrides a fallback where an absent
      tags does not. An unset attribute always holds zero/NULL/empty; a set
      string is never NULL. Strings and lists are owned by the struct.
    - Attributes are numbered in canonical String() order (Juju main's
      order) and described by one table in constraints.c: name, kind, where
      the field lives and how a value is checked. Parsing, printing, copying,
      comparing and merging all walk that table.
    - Sets of attributes are bitmasks (en_cons_attrs_t). The validator's
      conflicts and unsupported sets, Validate's unsupported answer and the
      masking step of Merge are all mask arithmetic.
    - The validator (en_cons_validator_t) follows Juju 2.0–2.3: Validate
      collects unsupported attributes (a warning, never an error), then
      checks conflicts, then vocabularies. Juju main checks vocabularies
      first and has conflict resolvers; we keep the documented 2.x order
      (§2.3, §10 item 11) and have no resolvers.
    - Errors carry Juju's exact messages with kind EN_NOT_VALID.

    Deliberate differences from Go, each where Go is undefined or lossy:
    sizes reject NaN, infinities, hex floats and values >= 2^64; a size
    written as a plain integer is computed exactly instead of through a
    float64 (identical below 2^53); validation errors name the first bad
    attribute in sorted order instead of map order; UpdateVocabulary keeps
    old values first, then new ones, instead of map order; registering an
    unknown attribute name is an error instead of being silently kept; the
    "valid values are" list is cut at EN_ERR_MSG_MAX like every message. */
#ifndef EN_CONSTRAINTS_H
#define EN_CONSTRAINTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

//  Attributes in canonical String() order.
typedef enum {
    EN_CONS_ARCH = 0,
    EN_CONS_CONTAINER,
    EN_CONS_CORES, //  alias "cpu-cores"
    EN_CONS_CPU_POWER,
    EN_CONS_NESTED_VIRTUALIZATION,
    EN_CONS_INSTANCE_ROLE,
    EN_CONS_INSTANCE_TYPE,
    EN_CONS_MEM,
    EN_CONS_ROOT_DISK,
    EN_CONS_ROOT_DISK_SOURCE,
    EN_CONS_TAGS,
    EN_CONS_SPACES,
    EN_CONS_VIRT_TYPE,
    EN_CONS_ZONES,
    EN_CONS_ALLOCATE_PUBLIC_IP,
    EN_CONS_IMAGE_ID,
    EN_CONS_ATTR_COUNT
} en_cons_attr_t;

//  A set of attributes: bit (1u << attr).
typedef uint32_t en_cons_attrs_t;

typedef struct {
    char **items;
    size_t count;
} en_cons_list_t;

typedef struct {
    en_cons_attrs_t set; //  which attributes are set, even to zero or empty
    char *arch;
    char *container; //  "lxd", "kvm", "none" or ""
    uint64_t cores;
    uint64_t cpu_power; //  100 = 1 Amazon ECU
    bool nested_virtualization;
    char *instance_role;
    char *instance_type;
    uint64_t mem;       //  MiB
    uint64_t root_disk; //  MiB
    char *root_disk_source;
    en_cons_list_t tags;
    en_cons_list_t spaces; //  "^name" excludes a space
    char *virt_type;
    en_cons_list_t zones;
    bool allocate_public_ip;
    char *image_id;
} en_constraints_t;

//  --------------------------------------------------------------------------
//  Attribute names

static inline en_cons_attrs_t
en_cons_bit(en_cons_attr_t attr)
{
    return (en_cons_attrs_t)1u << attr;
}

//  "mem", "cpu-power", …; NULL when out of range.
const char *en_cons_attr_name(en_cons_attr_t attr);
//  Resolves aliases ("cpu-cores" → EN_CONS_CORES); EN_CONS_ATTR_COUNT when
//  the name is unknown.
en_cons_attr_t en_cons_attr_from_name(const char *name);
//  Names of the attributes in `attrs`, sorted by name and joined by ",",
//  e.g. "cpu-power,virt-type" (Juju's warning text). snprintf semantics:
//  returns the length the whole text needs.
size_t en_cons_attrs_join(en_cons_attrs_t attrs, char *buf, size_t size);

//  Go's %q of a string (quotes, backslash escapes), as Juju's messages use
//  it. snprintf semantics.
size_t en_go_quote(char *buf, size_t size, const char *s);

//  --------------------------------------------------------------------------
//  Values

//  Zero a struct on the stack: no attribute set.
void en_constraints_init(en_constraints_t *self);
//  Free the contents and zero again. Safe on an initialised struct.
void en_constraints_reset(en_constraints_t *self);
//  Heap form: NULL on out-of-memory; destroy frees, NULLs, is idempotent.
en_constraints_t *en_constraints_new(void);
void en_constraints_destroy(en_constraints_t **self_p);
//  Deep copy; dst is reset first. Returns 0, or -1 on out-of-memory (dst
//  left empty).
int en_constraints_copy(en_constraints_t *dst, const en_constraints_t *src, en_err_t *err);
//  Same attributes set, with equal values (Go's DeepEquals).
bool en_constraints_equal(const en_constraints_t *a, const en_constraints_t *b);

//  Set, even if to zero or empty (Go: pointer non-nil).
bool en_constraints_is_set(const en_constraints_t *self, en_cons_attr_t attr);
//  Juju's Has*: set and non-zero / non-empty; container also not "none";
//  the two booleans only need to be set.
bool en_constraints_has(const en_constraints_t *self, en_cons_attr_t attr);
//  Juju's IsEmpty: String() == "", i.e. nothing set.
bool en_constraints_is_empty(const en_constraints_t *self);

//  Assign a field directly, without the parser's checks (like assigning a
//  Go field; Merge must be able to see a Value{Arch: "foo"}). Each returns
//  0, or -1 when the attribute is of another kind or memory runs out.
int en_constraints_set_string(en_constraints_t *self, en_cons_attr_t attr, const char *value);
int en_constraints_set_uint(en_constraints_t *self, en_cons_attr_t attr, uint64_t value);
int en_constraints_set_bool(en_constraints_t *self, en_cons_attr_t attr, bool value);
int en_constraints_set_list(en_constraints_t *self, en_cons_attr_t attr, const char *const *items,
                            size_t count);
void en_constraints_unset(en_constraints_t *self, en_cons_attr_t attr);

//  IncludeSpaces (exclude false) or ExcludeSpaces (exclude true, the "^"
//  stripped): fills up to cap borrowed names, returns how many there are.
size_t en_constraints_spaces(const en_constraints_t *self, bool exclude, const char **out,
                             size_t cap);

//  --------------------------------------------------------------------------
//  String syntax

//  Parse one argument of Juju syntax into self (reset first). On error self
//  is left empty and err holds Juju's message, e.g. `bad "mem" constraint:
//  already set`. Returns 0 or -1.
int en_constraints_parse(en_constraints_t *self, const char *str, en_err_t *err);
//  Parse(args...): duplicates across arguments are errors too. `aliased`
//  (may be NULL) receives the attributes that were named by an alias
//  (ParseWithAliases; today only cores via "cpu-cores").
int en_constraints_parse_args(en_constraints_t *self, const char *const *args, size_t count,
                              en_cons_attrs_t *aliased, en_err_t *err);

//  Canonical form, e.g. "arch=amd64 mem=2048M tags=", spaces in values
//  escaped as "\ ". snprintf semantics (returns the full length).
size_t en_constraints_format(const en_constraints_t *self, char *buf, size_t size);
//  Same, malloc'd; caller frees. NULL on out-of-memory.
char *en_constraints_string(const en_constraints_t *self);

//  Package-level constraints.Merge(values...): Parse of every value's
//  String(), so any overlap is an error (`bad "arch" constraint: already
//  set`). out is reset first and left empty on error.
int en_constraints_merge(const en_constraints_t *const *values, size_t count, en_constraints_t *out,
                         en_err_t *err);

//  --------------------------------------------------------------------------
//  Validator

typedef struct en_cons_validator en_cons_validator_t;

//  NULL on out-of-memory.
en_cons_validator_t *en_cons_validator_new(void);
void en_cons_validator_destroy(en_cons_validator_t **self_p);

//  Every red conflicts with every blue, both ways. Registering a key again
//  replaces its conflict set. Names resolve aliases; an unknown name is an
//  error (`unknown constraint "x"`) and changes nothing.
int en_cons_validator_register_conflicts(en_cons_validator_t *self, const char *const *reds,
                                         size_t n_reds, const char *const *blues, size_t n_blues,
                                         en_err_t *err);
//  Replaces the whole unsupported set.
int en_cons_validator_register_unsupported(en_cons_validator_t *self, const char *const *names,
                                           size_t count, en_err_t *err);
//  Replaces the attribute's allowed values. Values are in constraint syntax
//  ("amd64", "4"); numeric attributes compare as numbers.
int en_cons_validator_register_vocabulary(en_cons_validator_t *self, const char *attr,
                                          const char *const *values, size_t count, en_err_t *err);
//  Registers when absent, otherwise adds the values not already present.
int en_cons_validator_update_vocabulary(en_cons_validator_t *self, const char *attr,
                                        const char *const *values, size_t count, en_err_t *err);

//  Validate (2.0–2.3 order): *unsupported (may be NULL) receives the set
//  unsupported attributes, even when an error follows; then conflicts
//  (`ambiguous constraints: "arch" overlaps with "instance-type"`), then
//  vocabularies (`invalid constraint value: arch=ppc64el\nvalid values are:
//  [amd64 arm64]`). Unsupported attributes alone return 0.
int en_cons_validator_validate(const en_cons_validator_t *self, const en_constraints_t *cons,
                               en_cons_attrs_t *unsupported, en_err_t *err);
//  Merge: both values must validate (unsupported ignored); every attribute
//  set in cons clears its conflicts from the fallback; the result is cons
//  plus what remains of the fallback. out may alias an input; on error it
//  is left empty.
int en_cons_validator_merge(const en_cons_validator_t *self, const en_constraints_t *fallback,
                            const en_constraints_t *cons, en_constraints_t *out, en_err_t *err);

//  Introspection, for describing a validator over the wire.
en_cons_attrs_t en_cons_validator_unsupported(const en_cons_validator_t *self);
en_cons_attrs_t en_cons_validator_conflicts(const en_cons_validator_t *self, en_cons_attr_t attr);
//  Borrowed values, NULL with *count 0 when no vocabulary is registered.
const char *const *en_cons_validator_vocabulary(const en_cons_validator_t *self,
                                                en_cons_attr_t attr, size_t *count);

#endif
