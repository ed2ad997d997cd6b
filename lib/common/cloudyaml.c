/*  cloudyaml.c — reading YAML for the cloud files: node tree and scalars.

    libyaml's event parser builds a small node tree of the first document
    (with anchors, aliases and a visit budget), and helpers walk it, naming
    the path of any node of the wrong shape. Plain scalars are resolved the
    way go-yaml v2 resolves them for interface{}, and a decoded value can be
    rendered as Go's `%T(%#v)`, so our messages read like Juju's. The reasons
    for building our own tree are in cloudfile_int.h. */
#include "common/cloudfile_int.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  A bounded appender: writes what fits, always NUL-terminates.
typedef struct {
    char *buf;
    size_t n;
    size_t len;
} s_out_t;

//  An empty appender over buf (n bytes).
static s_out_t
s_out(char *buf, size_t n)
{
    if (n)
        buf[0] = '\0';
    return (s_out_t){buf, n, 0};
}

static void s_put(s_out_t *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
s_put(s_out_t *o, const char *fmt, ...)
{
    if (o->n == 0 || o->len >= o->n - 1)
        return;
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(o->buf + o->len, o->n - o->len, fmt, ap);
    va_end(ap);
    if (w > 0)
        o->len = o->len + (size_t)w < o->n ? o->len + (size_t)w : o->n - 1;
}

static void
s_put_quoted(s_out_t *o, const char *s)
{
    //  Go's %q escapes for quotes and ASCII controls; other bytes pass as-is.
    static const char plain[] = "\"\\\a\b\f\n\r\t\v", escaped[] = "\"\\abfnrtv";
    s_put(o, "\"");
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        const char *c = strchr(plain, *p);
        if (c)
            s_put(o, "\\%c", escaped[c - plain]);
        else if (*p < 0x20 || *p == 0x7f)
            s_put(o, "\\x%02x", *p);
        else
            s_put(o, "%c", *p);
    }
    s_put(o, "\"");
}

void
en_cf_go_quote(const char *s, char *buf, size_t n)
{
    s_out_t o = s_out(buf, n);
    s_put_quoted(&o, s);
}

void
en_cf_go_list(const char *const *items, size_t count, bool quote, char *buf, size_t n)
{
    s_out_t o = s_out(buf, n);
    s_put(&o, "[");
    for (size_t i = 0; i < count; i++) {
        if (i)
            s_put(&o, " ");
        if (quote)
            s_put_quoted(&o, items[i]);
        else
            s_put(&o, "%s", items[i]);
    }
    s_put(&o, "]");
}

//  ---------------------------------------------------------------------------
//  Scalar resolution (go-yaml v2 resolve.go, for decoding into interface{})

static bool
s_in(const char *s, const char *const *set)
{
    for (; *set; set++)
        if (strcmp(s, *set) == 0)
            return true;
    return false;
}

static const char *const s_nulls[] = {"~", "null", "Null", "NULL", NULL};
static const char *const s_trues[] = {"y",  "Y",  "yes",  "Yes",  "YES",  "on",
                                      "On", "ON", "true", "True", "TRUE", NULL};
static const char *const s_falses[] = {"n",   "N",   "no",    "No",    "NO",    "off",
                                       "Off", "OFF", "false", "False", "FALSE", NULL};
static const char *const s_pos_infs[] = {".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", NULL};
static const char *const s_neg_infs[] = {"-.inf", "-.Inf", "-.INF", NULL};
static const char *const s_nans[] = {".nan", ".NaN", ".NAN", NULL};

//  Go's strconv.ParseInt(s, 0, 64), falling back to ParseUint: returns 0 when
//  s is not an integer, 1 for an int64 in *iv, 2 for a uint64-only value.
static int
s_go_int(const char *s, long long *iv, unsigned long long *uv)
{
    const char *p = s;
    bool neg = false, sign = false;
    if (*p == '+' || *p == '-') {
        neg = *p == '-';
        sign = true;
        p++;
    }
    unsigned base = 10;
    if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
        base = 16, p += 2;
    else if (p[0] == '0' && (p[1] == 'b' || p[1] == 'B'))
        base = 2, p += 2;
    else if (p[0] == '0' && (p[1] == 'o' || p[1] == 'O'))
        base = 8, p += 2;
    else if (p[0] == '0' && p[1])
        base = 8, p += 1;
    if (!*p)
        return 0;
    unsigned long long v = 0;
    for (; *p; p++) {
        unsigned d;
        if (*p >= '0' && *p <= '9')
            d = (unsigned)(*p - '0');
        else if (*p >= 'a' && *p <= 'f')
            d = (unsigned)(*p - 'a' + 10);
        else if (*p >= 'A' && *p <= 'F')
            d = (unsigned)(*p - 'A' + 10);
        else
            return 0;
        if (d >= base || v > (ULLONG_MAX - d) / base)
            return 0;
        v = v * base + d;
    }
    if (neg) {
        if (v > (unsigned long long)LLONG_MAX + 1)
            return 0;
        *iv = v == (unsigned long long)LLONG_MAX + 1 ? LLONG_MIN : -(long long)v;
        return 1;
    }
    if (v <= (unsigned long long)LLONG_MAX) {
        *iv = (long long)v;
        return 1;
    }
    if (sign) //  ParseUint takes no sign
        return 0;
    *uv = v;
    return 2;
}

//  go-yaml's yamlStyleFloat: ^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$
static bool
s_float_syntax(const char *p)
{
    if (*p == '+' || *p == '-')
        p++;
    if (*p == '.') {
        p++;
        if (!isdigit((unsigned char)*p))
            return false;
        while (isdigit((unsigned char)*p))
            p++;
    } else {
        if (!isdigit((unsigned char)*p))
            return false;
        while (isdigit((unsigned char)*p))
            p++;
        if (*p == '.')
            for (p++; isdigit((unsigned char)*p); p++)
                ;
    }
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-')
            p++;
        if (!isdigit((unsigned char)*p))
            return false;
        while (isdigit((unsigned char)*p))
            p++;
    }
    return *p == '\0';
}

//  strtod that must consume everything and not overflow (Go's ParseFloat
//  reports a range error for overflow but not for underflow).
static bool
s_strtod(const char *s, double *out)
{
    char *end;
    errno = 0;
    double d = strtod(s, &end);
    if (end == s || *end || (errno == ERANGE && isinf(d)))
        return false;
    *out = d;
    return true;
}

//  The value of a plain scalar; numbers are decoded into the out params.
static en_yaml_type_t
s_resolve(const char *s, long long *iv, unsigned long long *uv, int *intkind, double *fv)
{
    *intkind = 0;
    if (!*s || s_in(s, s_nulls))
        return EN_YAML_NULL;
    if (s_in(s, s_trues) || s_in(s, s_falses))
        return EN_YAML_BOOL;
    if (s_in(s, s_pos_infs)) {
        *fv = INFINITY;
        return EN_YAML_FLOAT;
    }
    if (s_in(s, s_neg_infs)) {
        *fv = -INFINITY;
        return EN_YAML_FLOAT;
    }
    if (s_in(s, s_nans)) {
        *fv = NAN;
        return EN_YAML_FLOAT;
    }
    char c = s[0];
    if (c == '.')
        return s_strtod(s, fv) ? EN_YAML_FLOAT : EN_YAML_STR;
    if (!(isdigit((unsigned char)c) || c == '+' || c == '-'))
        return EN_YAML_STR;
    //  go-yaml drops underscores before trying numbers.
    size_t n = strlen(s);
    char small[64];
    char *plain = n < sizeof small ? small : malloc(n + 1);
    if (!plain)
        return EN_YAML_STR;
    size_t j = 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] != '_')
            plain[j++] = s[i];
    plain[j] = '\0';
    en_yaml_type_t t = EN_YAML_STR;
    if ((*intkind = s_go_int(plain, iv, uv)) != 0)
        t = EN_YAML_INT;
    else if (s_float_syntax(plain) && s_strtod(plain, fv))
        t = EN_YAML_FLOAT;
    if (plain != small)
        free(plain);
    return t;
}

en_yaml_type_t
en_yaml_resolve(const char *s)
{
    long long iv;
    unsigned long long uv;
    int ik;
    double fv;
    return s_resolve(s, &iv, &uv, &ik, &fv);
}

en_yaml_type_t
en_ynode_type(const en_ynode_t *n)
{
    if (n->kind != EN_YNODE_SCALAR)
        return EN_YAML_STR;
    en_yaml_type_t plain = en_yaml_resolve(n->value);
    if (n->tag) {
        //  An explicit tag wins when the text fits it (`!!float 1` is a
        //  float); anything else, including unknown tags, reads as a string.
        if (strcmp(n->tag, EN_YAML_TAG_NULL) == 0 && plain == EN_YAML_NULL)
            return EN_YAML_NULL;
        if (strcmp(n->tag, EN_YAML_TAG_BOOL) == 0 && plain == EN_YAML_BOOL)
            return EN_YAML_BOOL;
        if (strcmp(n->tag, EN_YAML_TAG_INT) == 0 && plain == EN_YAML_INT)
            return EN_YAML_INT;
        if (strcmp(n->tag, EN_YAML_TAG_FLOAT) == 0 &&
            (plain == EN_YAML_FLOAT || plain == EN_YAML_INT))
            return EN_YAML_FLOAT;
        return EN_YAML_STR;
    }
    return n->plain ? plain : EN_YAML_STR;
}

bool
en_ynode_int(const en_ynode_t *n, long long *out)
{
    unsigned long long uv;
    int ik;
    double fv;
    return n->kind == EN_YNODE_SCALAR && en_ynode_type(n) == EN_YAML_INT &&
           s_resolve(n->value, out, &uv, &ik, &fv) == EN_YAML_INT && ik == 1;
}

bool
en_ynode_is_null(const en_ynode_t *n)
{
    return n->kind == EN_YNODE_SCALAR && en_ynode_type(n) == EN_YAML_NULL;
}

//  ---------------------------------------------------------------------------
//  Go's rendering of decoded values

//  Go's %v (and %#v) of a float64: strconv's shortest 'g' format, i.e. the
//  fewest digits that read back as v, in exponent form when the decimal
//  exponent is < -4 or >= 6 (fmt.Println(1e6) prints 1e+06).
static void
s_go_float(s_out_t *o, double v)
{
    if (isnan(v)) {
        s_put(o, "NaN");
        return;
    }
    if (isinf(v)) {
        s_put(o, v > 0 ? "+Inf" : "-Inf");
        return;
    }
    char e[64];
    int prec = 1;
    for (; prec < 17; prec++) {
        snprintf(e, sizeof e, "%.*e", prec - 1, v);
        if (strtod(e, NULL) == v)
            break;
    }
    snprintf(e, sizeof e, "%.*e", prec - 1, v);
    const char *ep = strchr(e, 'e');
    int exp = ep ? atoi(ep + 1) : 0;
    if (exp < -4 || exp >= 6) {
        s_put(o, "%s", e); //  C, like Go, prints at least two exponent digits
    } else {
        int decimals = prec - 1 - exp;
        s_put(o, "%.*f", decimals > 0 ? decimals : 0, v);
    }
}

static void s_go_sharpv(s_out_t *o, const en_ynode_t *n, int depth);

static const char *
s_go_type(const en_ynode_t *n)
{
    if (n->kind == EN_YNODE_SEQ)
        return "[]interface {}";
    if (n->kind == EN_YNODE_MAP)
        return "map[interface {}]interface {}";
    long long iv;
    unsigned long long uv;
    int ik;
    double fv;
    switch (en_ynode_type(n)) {
    case EN_YAML_NULL:
        return "interface {}";
    case EN_YAML_BOOL:
        return "bool";
    case EN_YAML_FLOAT:
        return "float64";
    case EN_YAML_INT:
        s_resolve(n->value, &iv, &uv, &ik, &fv);
        return ik == 2 ? "uint64" : "int";
    default:
        return "string";
    }
}

static void
s_go_scalar(s_out_t *o, const en_ynode_t *n)
{
    long long iv = 0;
    unsigned long long uv = 0;
    int ik = 0;
    double fv = 0;
    en_yaml_type_t t = en_ynode_type(n);
    s_resolve(n->value, &iv, &uv, &ik, &fv);
    switch (t) {
    case EN_YAML_NULL:
        s_put(o, "interface {}(nil)");
        break;
    case EN_YAML_BOOL:
        s_put(o, "%s", s_in(n->value, s_trues) ? "true" : "false");
        break;
    case EN_YAML_INT:
        if (ik == 2)
            s_put(o, "0x%llx", uv);
        else
            s_put(o, "%lld", iv);
        break;
    case EN_YAML_FLOAT:
        if (ik == 1) //  `!!float 1`
            fv = (double)iv;
        s_go_float(o, fv);
        break;
    default:
        s_put_quoted(o, n->value);
    }
}

//  Go's %#v; nested containers are elided past a few levels to keep error
//  messages bounded (Go would print them in full).
static void
s_go_sharpv(s_out_t *o, const en_ynode_t *n, int depth)
{
    if (n->kind == EN_YNODE_SCALAR) {
        s_go_scalar(o, n);
        return;
    }
    s_put(o, "%s{", s_go_type(n));
    if (depth > 4) {
        s_put(o, "...}");
        return;
    }
    bool map = n->kind == EN_YNODE_MAP;
    for (size_t i = 0; i < n->count && o->len < o->n - 1; i += map ? 2 : 1) {
        if (i)
            s_put(o, ", ");
        s_go_sharpv(o, n->items[i], depth + 1);
        if (map) {
            s_put(o, ":");
            s_go_sharpv(o, n->items[i + 1], depth + 1);
        }
    }
    s_put(o, "}");
}

void
en_ynode_go_value(const en_ynode_t *node, char *buf, size_t n)
{
    s_out_t o = s_out(buf, n);
    s_put(&o, "%s(", s_go_type(node));
    if (node->kind == EN_YNODE_SCALAR && en_ynode_type(node) == EN_YAML_NULL)
        s_put(&o, "nil");
    else
        s_go_sharpv(&o, node, 0);
    s_put(&o, ")");
}

const char *
en_ynode_describe(const en_ynode_t *n)
{
    if (n->kind == EN_YNODE_SEQ)
        return "a sequence";
    if (n->kind == EN_YNODE_MAP)
        return "a mapping";
    switch (en_ynode_type(n)) {
    case EN_YAML_NULL:
        return "null";
    case EN_YAML_BOOL:
        return "a bool";
    case EN_YAML_INT:
        return "an int";
    case EN_YAML_FLOAT:
        return "a float";
    default:
        return "a string";
    }
}

//  ---------------------------------------------------------------------------
//  Node tree from libyaml events

typedef struct {
    char *name;
    en_ynode_t *node;
} s_anchor_t;

typedef struct {
    en_ydoc_t *doc;
    en_ynode_t **stack;
    char **stack_anchor; //  anchor of each open container, registered at its end
    size_t depth;
    s_anchor_t *anchors;
    size_t anchor_count;
} s_builder_t;

static en_ynode_t *
s_node_new(en_ydoc_t *doc, en_ynode_kind_t kind, const yaml_char_t *tag, const yaml_mark_t *mark)
{
    en_ynode_t *n = calloc(1, sizeof *n);
    if (!n)
        return NULL;
    n->kind = kind;
    n->line = mark->line + 1;
    n->next_alloc = doc->all;
    doc->all = n;
    doc->node_count++;
    if (tag && !(n->tag = strdup((const char *)tag)))
        return NULL;
    return n;
}

static int
s_attach(s_builder_t *b, en_ynode_t *n)
{
    if (b->depth == 0) {
        if (!b->doc->root)
            b->doc->root = n;
        return 0;
    }
    en_ynode_t *parent = b->stack[b->depth - 1];
    if (en_cf_grow(&parent->items, parent->count, sizeof *parent->items))
        return -1;
    parent->items[parent->count++] = n;
    return 0;
}

static int
s_register_anchor(s_builder_t *b, char *name, en_ynode_t *n)
{
    if (!name)
        return 0;
    //  A later anchor of the same name shadows the earlier one (YAML spec).
    if (en_cf_grow(&b->anchors, b->anchor_count, sizeof *b->anchors)) {
        free(name);
        return -1;
    }
    b->anchors[b->anchor_count++] = (s_anchor_t){name, n};
    return 0;
}

static en_ynode_t *
s_find_anchor(s_builder_t *b, const char *name)
{
    for (size_t i = b->anchor_count; i-- > 0;)
        if (strcmp(b->anchors[i].name, name) == 0)
            return b->anchors[i].node;
    return NULL;
}

//  One event into the tree. Returns 0, -1 out of memory, -2 with msg set.
static int
s_build_event(s_builder_t *b, yaml_event_t *ev, char *msg, size_t msg_n)
{
    en_ydoc_t *doc = b->doc;
    en_ynode_t *n;
    switch (ev->type) {
    case YAML_SCALAR_EVENT: {
        //  A "\0" escape would silently cut our C strings short.
        if (strlen((const char *)ev->data.scalar.value) != ev->data.scalar.length) {
            snprintf(msg, msg_n, "line %zu: NUL character in a scalar is not supported",
                     ev->start_mark.line + 1);
            return -2;
        }
        n = s_node_new(doc, EN_YNODE_SCALAR, ev->data.scalar.tag, &ev->start_mark);
        if (!n || !(n->value = strdup((const char *)ev->data.scalar.value)))
            return -1;
        n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
        if (s_attach(b, n))
            return -1;
        char *anchor = NULL;
        if (ev->data.scalar.anchor && !(anchor = strdup((const char *)ev->data.scalar.anchor)))
            return -1;
        return s_register_anchor(b, anchor, n);
    }
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT: {
        //  libyaml's scanner costs O(depth) per token, so deep nesting is
        //  quadratic; no cloud file needs more than a handful of levels.
        if (b->depth >= EN_YAML_MAX_DEPTH) {
            snprintf(msg, msg_n, "line %zu: exceeded max depth of %d", ev->start_mark.line + 1,
                     EN_YAML_MAX_DEPTH);
            return -2;
        }
        bool seq = ev->type == YAML_SEQUENCE_START_EVENT;
        const yaml_char_t *tag = seq ? ev->data.sequence_start.tag : ev->data.mapping_start.tag;
        const yaml_char_t *anchor =
            seq ? ev->data.sequence_start.anchor : ev->data.mapping_start.anchor;
        n = s_node_new(doc, seq ? EN_YNODE_SEQ : EN_YNODE_MAP, tag, &ev->start_mark);
        if (!n || !(n->value = strdup("")) || s_attach(b, n))
            return -1;
        if (en_cf_grow(&b->stack, b->depth, sizeof *b->stack) ||
            en_cf_grow(&b->stack_anchor, b->depth, sizeof *b->stack_anchor))
            return -1;
        char *copy = NULL;
        if (anchor && !(copy = strdup((const char *)anchor)))
            return -1;
        b->stack[b->depth] = n;
        b->stack_anchor[b->depth++] = copy;
        return 0;
    }
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT:
        if (b->depth == 0)
            return 0;
        b->depth--;
        return s_register_anchor(b, b->stack_anchor[b->depth], b->stack[b->depth]);
    case YAML_ALIAS_EVENT:
        //  Only complete nodes are registered, so an alias never points at
        //  one of its own ancestors: the tree stays acyclic.
        n = s_find_anchor(b, (const char *)ev->data.alias.anchor);
        if (!n) {
            snprintf(msg, msg_n, "line %zu: unknown anchor '%s' referenced",
                     ev->start_mark.line + 1, (const char *)ev->data.alias.anchor);
            return -2;
        }
        return s_attach(b, n);
    default:
        return 0;
    }
}

static void
s_parser_problem(const yaml_parser_t *p, char *msg, size_t n)
{
    const char *problem = p->problem ? p->problem : "unknown problem parsing YAML content";
    //  Reader errors (bad encoding) have an offset, not a line.
    if (p->error == YAML_READER_ERROR)
        snprintf(msg, n, "%s", problem);
    else if (p->problem)
        snprintf(msg, n, "line %zu: %s", p->problem_mark.line + 1, problem);
    else
        snprintf(msg, n, "line %zu: %s", p->context_mark.line + 1, problem);
}

int
en_ydoc_load(en_ydoc_t *doc, const char *data, size_t len, const char *prefix, en_err_t *err)
{
    memset(doc, 0, sizeof *doc);
    doc->prefix = prefix;
    doc->err = err;
    s_builder_t b = {.doc = doc};
    yaml_parser_t parser;
    char msg[EN_ERR_MSG_MAX] = "";
    int rc = -1;
    if (!yaml_parser_initialize(&parser)) {
        en_err_set(err, EN_INTERNAL, "%s: out of memory", prefix);
        return -1;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)(data ? data : ""),
                                 data ? len : 0);
    for (bool done = false; !done;) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&parser, &ev)) {
            s_parser_problem(&parser, msg, sizeof msg);
            en_err_set(err, EN_NOT_VALID, "%s: yaml: %s", prefix, msg);
            goto cleanup;
        }
        //  Like yaml.Unmarshal, only the first document counts.
        done = ev.type == YAML_STREAM_END_EVENT || ev.type == YAML_DOCUMENT_END_EVENT;
        int brc = s_build_event(&b, &ev, msg, sizeof msg);
        yaml_event_delete(&ev);
        if (brc == -1) {
            en_err_set(err, EN_INTERNAL, "%s: out of memory", prefix);
            goto cleanup;
        }
        if (brc == -2) {
            en_err_set(err, EN_NOT_VALID, "%s: yaml: %s", prefix, msg);
            goto cleanup;
        }
    }
    //  Generous for documents that merely reuse a few anchors, fatal for
    //  exponential alias fan-out.
    doc->budget = 100000 + 100 * doc->node_count;
    rc = 0;
cleanup:
    yaml_parser_delete(&parser);
    for (size_t i = 0; i < b.depth; i++)
        free(b.stack_anchor[i]);
    free(b.stack);
    free(b.stack_anchor);
    for (size_t i = 0; i < b.anchor_count; i++)
        free(b.anchors[i].name);
    free(b.anchors);
    if (rc)
        en_ydoc_free(doc);
    return rc;
}

void
en_ydoc_free(en_ydoc_t *doc)
{
    for (en_ynode_t *n = doc->all, *next; n; n = next) {
        next = n->next_alloc;
        free(n->tag);
        free(n->value);
        free(n->items);
        free(n);
    }
    doc->all = NULL;
    doc->root = NULL;
}

int
en_ydoc_visit(en_ydoc_t *doc)
{
    if (++doc->visits <= doc->budget)
        return 0;
    return en_err_set(doc->err, EN_NOT_VALID, "%s: yaml: document contains excessive aliasing",
                      doc->prefix);
}

void
en_ypath(char *buf, const char *parent, const char *key)
{
    s_out_t o = s_out(buf, EN_YPATH_MAX);
    s_put(&o, "%s%s%s", parent, *parent ? "." : "", key);
}

void
en_ypath_index(char *buf, const char *parent, size_t index)
{
    s_out_t o = s_out(buf, EN_YPATH_MAX);
    s_put(&o, "%s[%zu]", parent, index);
}

int
en_ydoc_expected(en_ydoc_t *doc, const en_ynode_t *n, const char *path, const char *want)
{
    char value[64] = "";
    if (n->kind == EN_YNODE_SCALAR && en_ynode_type(n) != EN_YAML_NULL) {
        char text[40];
        snprintf(text, sizeof text, "%s", n->value);
        if (strlen(n->value) >= sizeof text)
            memcpy(text + sizeof text - 4, "...", 4);
        value[0] = ' ';
        en_cf_go_quote(text, value + 1, sizeof value - 1);
    }
    return en_err_set(doc->err, EN_NOT_VALID, "%s: line %zu: %s%sexpected %s, got %s%s",
                      doc->prefix, n->line, path, *path ? ": " : "", want, en_ynode_describe(n),
                      value);
}

//  Sort helper for duplicate detection: key nodes by text, then position.
static int
s_key_cmp(const void *a, const void *b)
{
    const en_ynode_t *const *x = a, *const *y = b;
    int c = strcmp((*x)->value, (*y)->value);
    if (c)
        return c;
    return (*x < *y) ? -1 : (*x > *y);
}

int
en_ydoc_check_map(en_ydoc_t *doc, const en_ynode_t *n, const char *path, bool allow_null)
{
    if (en_ydoc_visit(doc))
        return -1;
    if (allow_null && en_ynode_is_null(n))
        return 0;
    if (n->kind != EN_YNODE_MAP)
        return en_ydoc_expected(doc, n, path, "a mapping");
    size_t pairs = n->count / 2;
    doc->visits += pairs;
    if (pairs < 2)
        return 0;
    //  Sorting keeps this O(n log n) on big maps; equal texts end up adjacent.
    const en_ynode_t **keys = malloc(pairs * sizeof *keys);
    if (!keys)
        return en_err_set(doc->err, EN_INTERNAL, "%s: out of memory", doc->prefix);
    for (size_t i = 0; i < pairs; i++)
        keys[i] = n->items[2 * i];
    qsort(keys, pairs, sizeof *keys, s_key_cmp);
    int rc = 0;
    for (size_t i = 1; i < pairs && rc == 0; i++) {
        const en_ynode_t *a = keys[i - 1], *b = keys[i];
        if (a->kind != EN_YNODE_SCALAR || b->kind != EN_YNODE_SCALAR || strcmp(a->value, b->value))
            continue;
        //  Report the later occurrence against the earlier one.
        const en_ynode_t *first = a->line <= b->line ? a : b;
        const en_ynode_t *again = first == a ? b : a;
        char quoted[128];
        en_cf_go_quote(again->value, quoted, sizeof quoted);
        rc = en_err_set(doc->err, EN_NOT_VALID,
                        "%s: line %zu: %s%smapping key %s already defined at line %zu", doc->prefix,
                        again->line, path, *path ? ": " : "", quoted, first->line);
    }
    free(keys);
    return rc;
}

int
en_ydoc_string(en_ydoc_t *doc, const en_ynode_t *n, const char *path, char **out)
{
    if (en_ydoc_visit(doc))
        return -1;
    if (n->kind != EN_YNODE_SCALAR)
        return en_ydoc_expected(doc, n, path, "a string");
    const char *text = en_ynode_is_null(n) ? "" : n->value;
    if (en_cloudfile_set_string(out, text))
        return en_err_set(doc->err, EN_INTERNAL, "%s: out of memory", doc->prefix);
    return 0;
}
