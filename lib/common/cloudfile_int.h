/*  cloudfile_int.h — machinery shared by the cloud file readers and writers.

    Not for callers outside cloudfile.c, cloudspec.c, credfile.c, ctrlfile.c,
    cloudyaml.c and cloudio.c.

    Reading: libyaml's event parser builds a small node tree (en_ynode_t) of
    the first document. We build it ourselves rather than use libyaml's
    document loader because the loader gives every untagged plain scalar the
    `!!str` tag, so `!!str 123` and `123` would look alike; credentials.yaml
    needs the difference (the first is a string, the second int(123)).
    Anchors are registered when their node is complete, so an alias can only
    point backwards and the tree has no cycles; aliases share nodes, and the
    walkers charge every visit to a budget so that "billion laughs" input
    fails with an error instead of eating the machine.

    Scalars are resolved the way go-yaml v2 resolves them for interface{}
    (YAML 1.1: yes/no/on/off are bools, 0x1F and 0o17 are ints, ...), because
    that decides what Juju accepts as a string.

    Writing: a thin wrapper over libyaml's emitter with a sticky failure flag,
    quoting strings exactly when go-yaml would (when the plain text would
    resolve to something other than a string). */
#ifndef EN_CLOUDFILE_INT_H
#define EN_CLOUDFILE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <yaml.h>

#include "common/cloudfile.h"

//  ---- node tree ------------------------------------------------------------

typedef enum { EN_YNODE_SCALAR, EN_YNODE_SEQ, EN_YNODE_MAP } en_ynode_kind_t;

typedef struct en_ynode en_ynode_t;
struct en_ynode {
    en_ynode_kind_t kind;
    char *tag;          //  explicit tag as written (expanded), NULL when implicit
    char *value;        //  scalar text, NUL-terminated ("" for containers)
    bool plain;         //  scalar written without quotes or block style
    size_t line;        //  1-based
    en_ynode_t **items; //  SEQ: elements; MAP: key, value, key, value, ...
    size_t count;
    en_ynode_t *next_alloc; //  every node of a document, for freeing
};

typedef struct {
    en_ynode_t *root; //  NULL for an empty document
    en_ynode_t *all;
    size_t node_count;
    size_t visits;
    size_t budget;
    const char *prefix; //  "cannot unmarshal yaml ..." for this file kind
    en_err_t *err;
} en_ydoc_t;

//  Containers nested deeper than this are refused (go-yaml refuses past
//  10000; our files need about six levels and libyaml slows quadratically).
#define EN_YAML_MAX_DEPTH 100

//  Parse the first document of data. On a YAML error sets EN_NOT_VALID
//  `<prefix>: yaml: line N: <problem>` and returns -1 (doc is freed).
int en_ydoc_load(en_ydoc_t *doc, const char *data, size_t len, const char *prefix, en_err_t *err);
void en_ydoc_free(en_ydoc_t *doc);

//  Charge one node visit; -1 with an error once the alias budget is spent.
int en_ydoc_visit(en_ydoc_t *doc);

#define EN_YAML_TAG_STR "tag:yaml.org,2002:str"
#define EN_YAML_TAG_NULL "tag:yaml.org,2002:null"
#define EN_YAML_TAG_BOOL "tag:yaml.org,2002:bool"
#define EN_YAML_TAG_INT "tag:yaml.org,2002:int"
#define EN_YAML_TAG_FLOAT "tag:yaml.org,2002:float"

//  How a plain (untagged, unquoted) scalar's text resolves.
en_yaml_type_t en_yaml_resolve(const char *text);
//  How a scalar node resolves (tag first, then plain resolution).
en_yaml_type_t en_ynode_type(const en_ynode_t *n);
bool en_ynode_is_null(const en_ynode_t *n);
//  The value of an int node that fits in int64; false otherwise.
bool en_ynode_int(const en_ynode_t *n, long long *out);
//  "a mapping", "a sequence", "null", "a string", "an int", ...
const char *en_ynode_describe(const en_ynode_t *n);
//  Go's `%T(%#v)` of the value go-yaml would decode into interface{}, e.g.
//  int(123), bool(true), float64(1.5), string("x"),
//  []interface {}{"a"}; bounded to n bytes.
void en_ynode_go_value(const en_ynode_t *node, char *buf, size_t n);

//  Paths name nodes in messages: "clouds.mystack.regions", "x.auth-types[2]".
#define EN_YPATH_MAX 256
//  buf = parent + "." + key (or just key when parent is ""), truncated.
void en_ypath(char *buf, const char *parent, const char *key);
//  buf = parent + "[" + index + "]".
void en_ypath_index(char *buf, const char *parent, size_t index);

//  Structural error: EN_NOT_VALID `<prefix>: line L: <path>: expected <want>,
//  got <description of n>`. Returns -1.
int en_ydoc_expected(en_ydoc_t *doc, const en_ynode_t *n, const char *path, const char *want);

//  A mapping check that also rejects duplicate scalar keys (go-yaml v3 style
//  `mapping key "k" already defined at line M`). null is accepted when
//  allow_null. Returns 0 or -1.
int en_ydoc_check_map(en_ydoc_t *doc, const en_ynode_t *n, const char *path, bool allow_null);

//  A scalar as a string field: any scalar is accepted by its text (go-yaml
//  decodes 123 into a string field as "123"); null gives "". Containers are
//  an error. *out is replaced.
int en_ydoc_string(en_ydoc_t *doc, const en_ynode_t *n, const char *path, char **out);

//  ---- emitter --------------------------------------------------------------

typedef struct {
    yaml_emitter_t emitter;
    char *buf;
    size_t len;
    size_t cap;
    bool failed;
    const char *problem;
} en_yemit_t;

int en_yemit_begin(en_yemit_t *e);
void en_yemit_map_start(en_yemit_t *e, bool flow);
void en_yemit_map_end(en_yemit_t *e);
void en_yemit_seq_start(en_yemit_t *e, bool flow);
void en_yemit_seq_end(en_yemit_t *e);
//  A string, quoted when go-yaml would quote it; multi-line → literal block.
void en_yemit_str(en_yemit_t *e, const char *s);
//  A scalar of a resolved type, written plain so it reads back as that type.
void en_yemit_typed(en_yemit_t *e, const char *text, en_yaml_type_t type);
void en_yemit_kv(en_yemit_t *e, const char *key, const char *value);
//  Omitted when value is NULL or "" (Go's omitempty).
void en_yemit_kv_opt(en_yemit_t *e, const char *key, const char *value);
void en_yemit_kvlist(en_yemit_t *e, const en_kvlist_t *list);
//  Ends the stream; returns the text (caller frees) or NULL with EN_INTERNAL.
char *en_yemit_end(en_yemit_t *e, en_err_t *err);
//  Frees an emitter after an early exit; safe after en_yemit_end.
void en_yemit_abort(en_yemit_t *e);

//  ---- files and strings ----------------------------------------------------

//  Whole file, NUL-terminated. A missing file gives *data = NULL and 0.
int en_cf_read_file(const char *path, char **data, size_t *len, en_err_t *err);
//  Temp file in the same directory (0600), fsync, rename.
int en_cf_write_file(const char *path, const char *data, size_t len, en_err_t *err);

//  strdup of s, "" for NULL.
char *en_cf_strdup(const char *s);
bool en_cf_streq(const char *a, const char *b);
//  Append a copy of s to a string array. Returns 0 or -1.
int en_cf_strv_push(char ***v, size_t *count, const char *s);
void en_cf_strv_free(char ***v, size_t *count);
int en_cf_strv_copy(char ***dst, size_t *dst_count, char *const *src, size_t count);
bool en_cf_strv_equal(char *const *a, size_t na, char *const *b, size_t nb);
//  Grow a pointer array (items of elem bytes) to hold one more. 0 or -1.
int en_cf_grow(void *items_p, size_t count, size_t elem);
//  Go's %q of a string, appended into buf (bounded).
void en_cf_go_quote(const char *s, char *buf, size_t n);
//  Go's %v (or %q when quote) of a []string: [a b] or ["a" "b"].
void en_cf_go_list(const char *const *items, size_t count, bool quote, char *buf, size_t n);

#endif
