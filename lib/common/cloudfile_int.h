/*  cloudfile_int.h — machinery shared by the cloud file readers and writers.

    Not for callers outside cloudfile.c, cloudspec.c, credfile.c, ctrlfile.c,
    cloudyaml.c, cloudio.c and cloudfile_list.c.

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
    resolve to something other than a string).

    Named lists: clouds, a cloud's credentials, credentials by cloud and
    controllers are all arrays of owned pointers to structs keyed by a string
    field. One descriptor per list says where the array, its count and the
    key are (offsets, as the readers' field tables do) and how to free, copy
    and compare an item; find/add/remove/copy/equal are written once against
    it. A cloud file descriptor adds the top-level key the list lives under
    and how one entry reads and writes, so that the three files share one
    reader, writer, loader and saver. */
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
//  A string array as a flow sequence: [a, b].
void en_yemit_strv(en_yemit_t *e, char *const *v, size_t count);
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

//  ---- named lists (cloudfile_list.c) ---------------------------------------

//  A container holding `T **<items>; size_t <count>;` of items that own a
//  `char *<key>`. The functions below take the container (self) and reach
//  the array through the offsets. Item functions take void pointers so one
//  descriptor serves every T; each list wraps its typed functions in them.
typedef struct {
    size_t items_offset;           //  offsetof(container, the T ** array)
    size_t count_offset;           //  offsetof(container, its size_t count)
    size_t key_offset;             //  offsetof(T, its char * key)
    const char *nil_error;         //  add(NULL): e.g. "nil cloud not valid"
    const char *oom_error;         //  add out of memory: e.g. "adding cloud: out of memory"
    void (*destroy)(void *item_p); //  T_destroy(T **): frees and NULLs
    void *(*dup)(const void *item);
    bool (*equal)(const void *a, const void *b);
} en_cf_list_t;

//  Borrowed item whose key is key, or NULL (also for a NULL self or key).
void *en_cf_list_find(const en_cf_list_t *d, const void *self, const char *key);
//  Takes ownership of *item_p (item_p is the address of a T *) and NULLs
//  it; an item with the same key is destroyed and replaced in place,
//  otherwise the item is appended. EN_NOT_VALID for a NULL item.
int en_cf_list_add(const en_cf_list_t *d, void *self, void *item_p, en_err_t *err);
//  Returns true when an item with that key was destroyed and removed.
bool en_cf_list_remove(const en_cf_list_t *d, void *self, const char *key);
//  Adds a copy of each of src's items to dst (src may be NULL). On failure
//  returns -1 with dst holding the copies made so far.
int en_cf_list_copy(const en_cf_list_t *d, void *dst, const void *src);
//  Same items, in the same order; NULL equals only NULL.
bool en_cf_list_equal(const en_cf_list_t *d, const void *a, const void *b);
//  Destroys every item and frees the array; self stays usable (empty).
void en_cf_list_clear(const en_cf_list_t *d, void *self);

//  A sequence of scalars (each as en_ydoc_string reads it, named path[i] in
//  errors) appended to a string array; null adds nothing.
int en_ydoc_strv(en_ydoc_t *doc, const en_ynode_t *seq, const char *path, char ***v, size_t *count);

//  Reads one item from the YAML node at path, or writes one (as a mapping).
typedef int(en_cf_read_fn)(en_ydoc_t *doc, const en_ynode_t *node, const char *path, void *obj);
typedef void(en_cf_write_fn)(en_yemit_t *e, const void *obj);

//  Each item of a list as `key: <write(item)>`, into the mapping being
//  written. self may be NULL (nothing is written).
void en_cf_list_emit(en_yemit_t *e, const en_cf_list_t *d, const void *self, en_cf_write_fn *write);

//  One cloud file: a top-level mapping whose key `section` maps names to the
//  items of list. Other top-level keys are ignored, as go-yaml ignores
//  unknown keys, unless read_other takes them.
typedef struct {
    const char *section; //  "clouds", "credentials", "controllers"
    const char *prefix;  //  of parse errors: "cannot unmarshal yaml ..."
    const char *marshal; //  of format errors: "cannot marshal ..."
    const en_cf_list_t *list;
    void *(*create)(const char *name); //  a new, empty item
    en_cf_read_fn *read;               //  an entry's body into its item
    en_cf_write_fn *write;             //  an item as its entry's body
    //  Another top-level key (path is the key) into the container; may be NULL.
    en_cf_read_fn *read_other;
    //  Top-level keys written after the list; may be NULL.
    en_cf_write_fn *write_other;
} en_cf_file_t;

//  Fill self, an empty container, from YAML text (NULL data reads as an
//  empty document). A NULL self is reported as out of memory, so callers can
//  pass their _new() straight in. 0, or -1 with err set.
int en_cf_parse(const en_cf_file_t *f, const char *data, size_t len, void *self, en_err_t *err);
//  en_cf_parse of a file's contents; a missing file leaves self empty.
int en_cf_load(const en_cf_file_t *f, const char *path, void *self, en_err_t *err);
//  The file's text (caller frees); self may be NULL for an empty list.
char *en_cf_format(const en_cf_file_t *f, const void *self, en_err_t *err);
//  en_cf_format, written atomically (en_cf_write_file).
int en_cf_save(const en_cf_file_t *f, const void *self, const char *path, en_err_t *err);

#endif
