/*  constraints.c — Juju constraints: one attribute table, the string syntax
    and the validator.

    Everything that differs per attribute is in s_attrs: its name, its kind
    (string, count, size in MiB, bool, list), where its field lives and how
    a parsed value is checked. Parse, String, copy, equality, the vocabulary
    check and Merge are written once over that table, so a new attribute is
    one row here and one field in the header.

    Parsing follows CON's ParseWithAliases exactly: split each argument on
    unescaped spaces ("\ " is a literal space), trim, skip empty tokens,
    split name=value at the first "=", resolve the alias, then set the
    attribute once. Error texts are Juju's (docs/juju-environs.md §2.2). */
#include "common/constraints.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum { S_STRING, S_UINT, S_SIZE, S_BOOL, S_LIST } s_kind_t;

//  Checks one parsed string (a scalar, or one item of a list). On failure
//  writes the reason, e.g. `"cheese" not recognized`, and returns false.
typedef bool(s_check_fn)(const char *value, char *reason, size_t size);

typedef struct {
    const char *name;
    s_kind_t kind;
    size_t offset;
    s_check_fn *check;
    bool empty_is_unset; //  allocate-public-ip: an empty value is ignored
} s_attr_t;

static s_check_fn s_check_arch, s_check_container, s_check_space;

static const s_attr_t s_attrs[EN_CONS_ATTR_COUNT] = {
    [EN_CONS_ARCH] = {"arch", S_STRING, offsetof(en_constraints_t, arch), s_check_arch, false},
    [EN_CONS_CONTAINER] = {"container", S_STRING, offsetof(en_constraints_t, container),
                           s_check_container, false},
    [EN_CONS_CORES] = {"cores", S_UINT, offsetof(en_constraints_t, cores), NULL, false},
    [EN_CONS_CPU_POWER] = {"cpu-power", S_UINT, offsetof(en_constraints_t, cpu_power), NULL, false},
    [EN_CONS_NESTED_VIRTUALIZATION] = {"nested-virtualization", S_BOOL,
                                       offsetof(en_constraints_t, nested_virtualization), NULL,
                                       false},
    [EN_CONS_INSTANCE_ROLE] = {"instance-role", S_STRING, offsetof(en_constraints_t, instance_role),
                               NULL, false},
    [EN_CONS_INSTANCE_TYPE] = {"instance-type", S_STRING, offsetof(en_constraints_t, instance_type),
                               NULL, false},
    [EN_CONS_MEM] = {"mem", S_SIZE, offsetof(en_constraints_t, mem), NULL, false},
    [EN_CONS_ROOT_DISK] = {"root-disk", S_SIZE, offsetof(en_constraints_t, root_disk), NULL, false},
    [EN_CONS_ROOT_DISK_SOURCE] = {"root-disk-source", S_STRING,
                                  offsetof(en_constraints_t, root_disk_source), NULL, false},
    [EN_CONS_TAGS] = {"tags", S_LIST, offsetof(en_constraints_t, tags), NULL, false},
    [EN_CONS_SPACES] = {"spaces", S_LIST, offsetof(en_constraints_t, spaces), s_check_space, false},
    [EN_CONS_VIRT_TYPE] = {"virt-type", S_STRING, offsetof(en_constraints_t, virt_type), NULL,
                           false},
    [EN_CONS_ZONES] = {"zones", S_LIST, offsetof(en_constraints_t, zones), NULL, false},
    [EN_CONS_ALLOCATE_PUBLIC_IP] = {"allocate-public-ip", S_BOOL,
                                    offsetof(en_constraints_t, allocate_public_ip), NULL, true},
    [EN_CONS_IMAGE_ID] = {"image-id", S_STRING, offsetof(en_constraints_t, image_id), NULL, false},
};

//  Juju checks conflicts and vocabularies, and lists names, in sorted name
//  order; this is that order (test "attrs_join_sorts_by_name" guards it).
static const en_cons_attr_t s_by_name[EN_CONS_ATTR_COUNT] = {
    EN_CONS_ALLOCATE_PUBLIC_IP,
    EN_CONS_ARCH,
    EN_CONS_CONTAINER,
    EN_CONS_CORES,
    EN_CONS_CPU_POWER,
    EN_CONS_IMAGE_ID,
    EN_CONS_INSTANCE_ROLE,
    EN_CONS_INSTANCE_TYPE,
    EN_CONS_MEM,
    EN_CONS_NESTED_VIRTUALIZATION,
    EN_CONS_ROOT_DISK,
    EN_CONS_ROOT_DISK_SOURCE,
    EN_CONS_SPACES,
    EN_CONS_TAGS,
    EN_CONS_VIRT_TYPE,
    EN_CONS_ZONES,
};

//  juju/utils 2016 AllSupportedArches (§2.1).
static const char *const s_arches[] = {"amd64", "i386", "armhf", "arm64", "ppc64el", "s390x"};
static const char *const s_containers[] = {"lxd", "kvm", "none"};

//  --------------------------------------------------------------------------
//  Field access through the table

//  Attribute numbers come from callers; out of range is treated as unknown.
static bool
s_valid(en_cons_attr_t attr)
{
    return (unsigned)attr < EN_CONS_ATTR_COUNT;
}

static void *
s_field(const en_constraints_t *self, en_cons_attr_t attr)
{
    //  The table holds offsets into en_constraints_t; const-ness is the
    //  caller's, restored by the typed accessors below.
    return (char *)self + s_attrs[attr].offset;
}

static char **
s_str(const en_constraints_t *self, en_cons_attr_t attr)
{
    return (char **)s_field(self, attr);
}

static uint64_t *
s_uint(const en_constraints_t *self, en_cons_attr_t attr)
{
    return (uint64_t *)s_field(self, attr);
}

static bool *
s_bool(const en_constraints_t *self, en_cons_attr_t attr)
{
    return (bool *)s_field(self, attr);
}

static en_cons_list_t *
s_list(const en_constraints_t *self, en_cons_attr_t attr)
{
    return (en_cons_list_t *)s_field(self, attr);
}

static void
s_list_clear(en_cons_list_t *list)
{
    for (size_t i = 0; i < list->count; i++)
        free(list->items[i]);
    free(list->items);
    list->items = NULL;
    list->count = 0;
}

static int
s_list_copy(en_cons_list_t *dst, const char *const *items, size_t count)
{
    dst->items = NULL;
    dst->count = 0;
    if (count == 0)
        return 0;
    dst->items = calloc(count, sizeof(char *));
    if (!dst->items)
        return -1;
    for (; dst->count < count; dst->count++) {
        dst->items[dst->count] = strdup(items[dst->count]);
        if (!dst->items[dst->count]) {
            s_list_clear(dst);
            return -1;
        }
    }
    return 0;
}

//  --------------------------------------------------------------------------
//  Names

const char *
en_cons_attr_name(en_cons_attr_t attr)
{
    if (!s_valid(attr))
        return NULL;
    return s_attrs[attr].name;
}

en_cons_attr_t
en_cons_attr_from_name(const char *name)
{
    if (!name)
        return EN_CONS_ATTR_COUNT;
    if (strcmp(name, "cpu-cores") == 0)
        return EN_CONS_CORES;
    for (int a = 0; a < EN_CONS_ATTR_COUNT; a++)
        if (strcmp(name, s_attrs[a].name) == 0)
            return (en_cons_attr_t)a;
    return EN_CONS_ATTR_COUNT;
}

//  A bounded text builder with snprintf semantics: len counts everything
//  appended even when it no longer fits.
typedef struct {
    char *buf;
    size_t size;
    size_t len;
} s_out_t;

static void
s_putc(s_out_t *out, char c)
{
    if (out->len + 1 < out->size)
        out->buf[out->len] = c;
    out->len++;
    if (out->size)
        out->buf[out->len < out->size ? out->len : out->size - 1] = '\0';
}

static void
s_puts(s_out_t *out, const char *s)
{
    while (*s)
        s_putc(out, *s++);
}

size_t
en_cons_attrs_join(en_cons_attrs_t attrs, char *buf, size_t size)
{
    s_out_t out = {buf, size, 0};
    if (size)
        buf[0] = '\0';
    for (int i = 0; i < EN_CONS_ATTR_COUNT; i++) {
        if (!(attrs & en_cons_bit(s_by_name[i])))
            continue;
        if (out.len)
            s_putc(&out, ',');
        s_puts(&out, s_attrs[s_by_name[i]].name);
    }
    return out.len;
}

size_t
en_go_quote(char *buf, size_t size, const char *s)
{
    //  Pairs of (byte, letter) that strconv.Quote writes as backslash-letter.
    static const char escapes[] = "\"\"\\\\\aa\bb\ff\nn\rr\tt\vv";
    s_out_t out = {buf, size, 0};
    if (size)
        buf[0] = '\0';
    s_putc(&out, '"');
    for (const unsigned char *p = (const unsigned char *)s; p && *p; p++) {
        const char *esc = NULL;
        for (const char *e = escapes; *e && !esc; e += 2)
            esc = (unsigned char)*e == *p ? e : NULL;
        char hex[5];
        if (esc) {
            s_putc(&out, '\\');
            s_putc(&out, esc[1]);
        } else if (*p < 0x20 || *p == 0x7f) {
            snprintf(hex, sizeof hex, "\\x%02x", *p);
            s_puts(&out, hex);
        } else
            s_putc(&out, (char)*p); //  UTF-8 passes through, as Go prints it
    }
    s_putc(&out, '"');
    return out.len;
}

//  --------------------------------------------------------------------------
//  Values

void
en_constraints_init(en_constraints_t *self)
{
    memset(self, 0, sizeof *self);
}

void
en_constraints_unset(en_constraints_t *self, en_cons_attr_t attr)
{
    if (!s_valid(attr))
        return;
    switch (s_attrs[attr].kind) {
    case S_STRING:
        free(*s_str(self, attr));
        *s_str(self, attr) = NULL;
        break;
    case S_UINT:
    case S_SIZE:
        *s_uint(self, attr) = 0;
        break;
    case S_BOOL:
        *s_bool(self, attr) = false;
        break;
    case S_LIST:
        s_list_clear(s_list(self, attr));
        break;
    }
    self->set &= ~en_cons_bit(attr);
}

void
en_constraints_reset(en_constraints_t *self)
{
    if (!self)
        return;
    for (int a = 0; a < EN_CONS_ATTR_COUNT; a++)
        en_constraints_unset(self, (en_cons_attr_t)a);
    en_constraints_init(self);
}

en_constraints_t *
en_constraints_new(void)
{
    return calloc(1, sizeof(en_constraints_t));
}

void
en_constraints_destroy(en_constraints_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    en_constraints_reset(*self_p);
    free(*self_p);
    *self_p = NULL;
}

//  Copy one attribute (set or not) from src over dst.
static int
s_copy_attr(en_constraints_t *dst, const en_constraints_t *src, en_cons_attr_t attr)
{
    en_constraints_unset(dst, attr);
    if (!en_constraints_is_set(src, attr))
        return 0;
    switch (s_attrs[attr].kind) {
    case S_STRING:
        return en_constraints_set_string(dst, attr, *s_str(src, attr));
    case S_UINT:
    case S_SIZE:
        return en_constraints_set_uint(dst, attr, *s_uint(src, attr));
    case S_BOOL:
        return en_constraints_set_bool(dst, attr, *s_bool(src, attr));
    case S_LIST: {
        const en_cons_list_t *list = s_list(src, attr);
        return en_constraints_set_list(dst, attr, (const char *const *)list->items, list->count);
    }
    }
    return -1;
}

int
en_constraints_copy(en_constraints_t *dst, const en_constraints_t *src, en_err_t *err)
{
    if (dst == src)
        return 0;
    en_constraints_reset(dst);
    for (int a = 0; a < EN_CONS_ATTR_COUNT; a++)
        if (s_copy_attr(dst, src, (en_cons_attr_t)a) != 0) {
            en_constraints_reset(dst);
            return en_err_set(err, EN_INTERNAL, "out of memory copying constraints");
        }
    return 0;
}

static bool
s_str_equal(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "") == 0;
}

bool
en_constraints_equal(const en_constraints_t *a, const en_constraints_t *b)
{
    if (a->set != b->set)
        return false;
    for (int i = 0; i < EN_CONS_ATTR_COUNT; i++) {
        en_cons_attr_t attr = (en_cons_attr_t)i;
        if (!en_constraints_is_set(a, attr))
            continue;
        switch (s_attrs[attr].kind) {
        case S_STRING:
            if (!s_str_equal(*s_str(a, attr), *s_str(b, attr)))
                return false;
            break;
        case S_UINT:
        case S_SIZE:
            if (*s_uint(a, attr) != *s_uint(b, attr))
                return false;
            break;
        case S_BOOL:
            if (*s_bool(a, attr) != *s_bool(b, attr))
                return false;
            break;
        case S_LIST: {
            const en_cons_list_t *la = s_list(a, attr), *lb = s_list(b, attr);
            if (la->count != lb->count)
                return false;
            for (size_t k = 0; k < la->count; k++)
                if (strcmp(la->items[k], lb->items[k]) != 0)
                    return false;
            break;
        }
        }
    }
    return true;
}

bool
en_constraints_is_set(const en_constraints_t *self, en_cons_attr_t attr)
{
    return s_valid(attr) && (self->set & en_cons_bit(attr)) != 0;
}

bool
en_constraints_has(const en_constraints_t *self, en_cons_attr_t attr)
{
    if (!en_constraints_is_set(self, attr))
        return false;
    switch (s_attrs[attr].kind) {
    case S_STRING: {
        const char *v = *s_str(self, attr);
        if (attr == EN_CONS_CONTAINER && strcmp(v, "none") == 0)
            return false;
        return *v != '\0';
    }
    case S_UINT:
    case S_SIZE:
        return *s_uint(self, attr) > 0;
    case S_BOOL:
        return true;
    case S_LIST:
        return s_list(self, attr)->count > 0;
    }
    return false;
}

bool
en_constraints_is_empty(const en_constraints_t *self)
{
    //  Every set attribute prints as "name=…", so String() is "" exactly
    //  when nothing is set.
    return self->set == 0;
}

int
en_constraints_set_string(en_constraints_t *self, en_cons_attr_t attr, const char *value)
{
    if (!s_valid(attr) || s_attrs[attr].kind != S_STRING)
        return -1;
    char *copy = strdup(value ? value : "");
    if (!copy)
        return -1;
    en_constraints_unset(self, attr);
    *s_str(self, attr) = copy;
    self->set |= en_cons_bit(attr);
    return 0;
}

int
en_constraints_set_uint(en_constraints_t *self, en_cons_attr_t attr, uint64_t value)
{
    if (!s_valid(attr) || (s_attrs[attr].kind != S_UINT && s_attrs[attr].kind != S_SIZE))
        return -1;
    *s_uint(self, attr) = value;
    self->set |= en_cons_bit(attr);
    return 0;
}

int
en_constraints_set_bool(en_constraints_t *self, en_cons_attr_t attr, bool value)
{
    if (!s_valid(attr) || s_attrs[attr].kind != S_BOOL)
        return -1;
    *s_bool(self, attr) = value;
    self->set |= en_cons_bit(attr);
    return 0;
}

int
en_constraints_set_list(en_constraints_t *self, en_cons_attr_t attr, const char *const *items,
                        size_t count)
{
    if (!s_valid(attr) || s_attrs[attr].kind != S_LIST)
        return -1;
    en_cons_list_t copy;
    if (s_list_copy(&copy, items, count) != 0)
        return -1;
    en_constraints_unset(self, attr);
    *s_list(self, attr) = copy;
    self->set |= en_cons_bit(attr);
    return 0;
}

size_t
en_constraints_spaces(const en_constraints_t *self, bool exclude, const char **out, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < self->spaces.count; i++) {
        const char *name = self->spaces.items[i];
        if ((name[0] == '^') != exclude)
            continue;
        if (n < cap)
            out[n] = exclude ? name + 1 : name;
        n++;
    }
    return n;
}

//  --------------------------------------------------------------------------
//  Value checks and scalar parsers (reasons are Juju's texts)

static bool
s_one_of(const char *value, const char *const *set, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(value, set[i]) == 0)
            return true;
    return false;
}

//  Writes `<before>"<value>"<after>` as the reason and returns false.
static bool
s_reject(const char *value, const char *before, const char *after, char *reason, size_t size)
{
    char quoted[EN_ERR_MSG_MAX];
    en_go_quote(quoted, sizeof quoted, value);
    snprintf(reason, size, "%s%s%s", before, quoted, after);
    return false;
}

static bool
s_check_arch(const char *value, char *reason, size_t size)
{
    if (*value == '\0' || s_one_of(value, s_arches, sizeof s_arches / sizeof *s_arches))
        return true;
    return s_reject(value, "", " not recognized", reason, size);
}

static bool
s_check_container(const char *value, char *reason, size_t size)
{
    if (*value == '\0' || s_one_of(value, s_containers, sizeof s_containers / sizeof *s_containers))
        return true;
    return s_reject(value, "invalid container type ", "", reason, size);
}

//  names.IsValidSpace: ^(?:[a-z0-9]+(?:-[a-z0-9]+)*)$ after one "^" is
//  stripped (so "^^x" reports "^x").
static bool
s_check_space(const char *value, char *reason, size_t size)
{
    const char *name = value[0] == '^' ? value + 1 : value;
    bool ok = *name != '\0' && *name != '-';
    for (const char *p = name; ok && *p; p++) {
        if (*p == '-')
            ok = p[1] != '\0' && p[1] != '-';
        else
            ok = (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9');
    }
    return ok || s_reject(name, "", " is not a valid space name", reason, size);
}

//  strconv.ParseUint(s, 10, 64); "" is 0.
static bool
s_parse_uint(const char *s, uint64_t *out)
{
    uint64_t v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9')
            return false;
        unsigned d = (unsigned)(*p - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

//  Go's decimal float syntax: [+-] (digits [. digits] | . digits) [e [+-] digits].
//  Sets *integral when the text is only a sign and digits.
static bool
s_float_syntax(const char *s, bool *integral)
{
    const char *p = s;
    if (*p == '+' || *p == '-')
        p++;
    size_t before = strspn(p, "0123456789");
    p += before;
    *integral = before > 0 && *p == '\0';
    size_t after = 0;
    if (*p == '.') {
        after = strspn(p + 1, "0123456789");
        p += 1 + after;
    }
    if (before + after == 0)
        return false;
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-')
            p++;
        size_t exp = strspn(p, "0123456789");
        if (exp == 0)
            return false;
        p += exp;
    }
    return *p == '\0';
}

//  A size in MiB: float with optional M/G/T/P suffix, ceil(value × unit).
static bool
s_parse_size(const char *s, uint64_t *out)
{
    if (*s == '\0') {
        *out = 0;
        return true;
    }
    size_t len = strlen(s);
    uint64_t unit = 1;
    switch (s[len - 1]) {
    case 'M':
        unit = 1, len--;
        break;
    case 'G':
        unit = 1024, len--;
        break;
    case 'T':
        unit = 1024 * 1024, len--;
        break;
    case 'P':
        unit = 1024 * 1024 * 1024, len--;
        break;
    }
    char *num = strndup(s, len);
    if (!num)
        return false;
    bool integral, ok = s_float_syntax(num, &integral);
    if (ok && integral) {
        //  Exact for plain integers; "-0" is 0 and any other negative fails.
        const char *digits = num + (num[0] == '+' || num[0] == '-');
        uint64_t v;
        ok = s_parse_uint(digits, &v) && (num[0] != '-' || v == 0) && v <= UINT64_MAX / unit;
        if (ok)
            *out = v * unit;
    } else if (ok) {
        double v = strtod(num, NULL) * (double)unit;
        v = ceil(v);
        ok = v >= 0 && v < 18446744073709551616.0;
        if (ok)
            *out = (uint64_t)v;
    }
    free(num);
    return ok;
}

//  strconv.ParseBool; "" is false.
static bool
s_parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = {"1", "t", "T", "TRUE", "true", "True"};
    static const char *const no[] = {"", "0", "f", "F", "FALSE", "false", "False"};
    if (s_one_of(s, yes, sizeof yes / sizeof *yes))
        *out = true;
    else if (s_one_of(s, no, sizeof no / sizeof *no))
        *out = false;
    else
        return false;
    return true;
}

//  --------------------------------------------------------------------------
//  Parse

static int
s_bad(en_err_t *err, en_cons_attr_t attr, const char *reason)
{
    return en_err_set(err, EN_NOT_VALID, "bad \"%s\" constraint: %s", s_attrs[attr].name, reason);
}

//  Split a comma list, checking each item. "" is the empty (but set) list.
static int
s_set_list(en_constraints_t *self, en_cons_attr_t attr, const char *value, en_err_t *err)
{
    char reason[EN_ERR_MSG_MAX];
    size_t count = 1;
    for (const char *p = value; *p; p++)
        count += *p == ',';
    char *work = strdup(value);
    const char **items = calloc(count, sizeof(char *));
    int rc = -1;
    if (!work || !items) {
        en_err_set(err, EN_INTERNAL, "out of memory parsing constraints");
        goto cleanup;
    }
    size_t n = 0;
    if (*value) {
        for (char *item = work, *comma; item; item = comma ? comma + 1 : NULL) {
            comma = strchr(item, ',');
            if (comma)
                *comma = '\0';
            if (s_attrs[attr].check && !s_attrs[attr].check(item, reason, sizeof reason)) {
                s_bad(err, attr, reason);
                goto cleanup;
            }
            items[n++] = item;
        }
    }
    rc = en_constraints_set_list(self, attr, items, n);
    if (rc != 0)
        en_err_set(err, EN_INTERNAL, "out of memory parsing constraints");
cleanup:
    free(items);
    free(work);
    return rc;
}

//  setRaw: one name=value, the name already resolved.
static int
s_set_raw(en_constraints_t *self, en_cons_attr_t attr, const char *value, en_err_t *err)
{
    const s_attr_t *desc = &s_attrs[attr];
    char reason[EN_ERR_MSG_MAX];
    if (desc->empty_is_unset && *value == '\0')
        return 0;
    if (en_constraints_is_set(self, attr))
        return s_bad(err, attr, "already set");
    int rc = 0;
    switch (desc->kind) {
    case S_STRING:
        if (desc->check && !desc->check(value, reason, sizeof reason))
            return s_bad(err, attr, reason);
        rc = en_constraints_set_string(self, attr, value);
        break;
    case S_UINT: {
        uint64_t v;
        if (!s_parse_uint(value, &v))
            return s_bad(err, attr, "must be a non-negative integer");
        rc = en_constraints_set_uint(self, attr, v);
        break;
    }
    case S_SIZE: {
        uint64_t v;
        if (!s_parse_size(value, &v))
            return s_bad(err, attr, "must be a non-negative float with optional M/G/T/P suffix");
        rc = en_constraints_set_uint(self, attr, v);
        break;
    }
    case S_BOOL: {
        bool v;
        if (!s_parse_bool(value, &v))
            return s_bad(err, attr, "must be 'true' or 'false'");
        rc = en_constraints_set_bool(self, attr, v);
        break;
    }
    case S_LIST:
        return s_set_list(self, attr, value, err);
    }
    if (rc != 0)
        return en_err_set(err, EN_INTERNAL, "out of memory parsing constraints");
    return 0;
}

//  One token "name=value" (spaces already unescaped and trimmed).
static int
s_parse_token(en_constraints_t *self, char *token, en_cons_attrs_t *aliased, en_err_t *err)
{
    char quoted[EN_ERR_MSG_MAX];
    char *eq = strchr(token, '=');
    if (!eq || eq == token) {
        en_go_quote(quoted, sizeof quoted, token);
        return en_err_set(err, EN_NOT_VALID, "malformed constraint %s", quoted);
    }
    *eq = '\0';
    en_cons_attr_t attr = en_cons_attr_from_name(token);
    if (attr == EN_CONS_ATTR_COUNT) {
        en_go_quote(quoted, sizeof quoted, token);
        return en_err_set(err, EN_NOT_VALID, "unknown constraint %s", quoted);
    }
    if (aliased && strcmp(token, s_attrs[attr].name) != 0)
        *aliased |= en_cons_bit(attr);
    return s_set_raw(self, attr, eq + 1, err);
}

//  Split one argument on unescaped spaces; "\ " becomes a space inside a
//  token; each token is trimmed of whitespace and skipped when empty.
static int
s_parse_arg(en_constraints_t *self, const char *arg, en_cons_attrs_t *aliased, en_err_t *err)
{
    char *token = malloc(strlen(arg) + 1);
    if (!token)
        return en_err_set(err, EN_INTERNAL, "out of memory parsing constraints");
    int rc = 0;
    const char *p = arg;
    while (rc == 0 && *p) {
        size_t len = 0;
        for (; *p && *p != ' '; p++) {
            if (p[0] == '\\' && p[1] == ' ')
                p++;
            token[len++] = *p;
        }
        if (*p == ' ')
            p++;
        while (len > 0 && isspace((unsigned char)token[len - 1]))
            len--;
        token[len] = '\0';
        char *start = token;
        while (isspace((unsigned char)*start))
            start++;
        if (*start)
            rc = s_parse_token(self, start, aliased, err);
    }
    free(token);
    return rc;
}

int
en_constraints_parse_args(en_constraints_t *self, const char *const *args, size_t count,
                          en_cons_attrs_t *aliased, en_err_t *err)
{
    en_constraints_reset(self);
    if (aliased)
        *aliased = 0;
    for (size_t i = 0; i < count; i++) {
        if (args[i] && s_parse_arg(self, args[i], aliased, err) != 0) {
            en_constraints_reset(self);
            return -1;
        }
    }
    return 0;
}

int
en_constraints_parse(en_constraints_t *self, const char *str, en_err_t *err)
{
    return en_constraints_parse_args(self, &str, 1, NULL, err);
}

//  --------------------------------------------------------------------------
//  String

//  Values print with spaces escaped, so that Parse(String()) round-trips.
static void
s_put_value(s_out_t *out, const char *s)
{
    for (; *s; s++) {
        if (*s == ' ')
            s_putc(out, '\\');
        s_putc(out, *s);
    }
}

static void
s_put_uint(s_out_t *out, uint64_t v, const char *unit)
{
    if (v == 0) //  zero prints as an empty value: "mem=", "cores="
        return;
    char num[24];
    snprintf(num, sizeof num, "%llu", (unsigned long long)v);
    s_puts(out, num);
    s_puts(out, unit);
}

size_t
en_constraints_format(const en_constraints_t *self, char *buf, size_t size)
{
    s_out_t out = {buf, size, 0};
    if (size)
        buf[0] = '\0';
    for (int i = 0; i < EN_CONS_ATTR_COUNT; i++) {
        en_cons_attr_t attr = (en_cons_attr_t)i;
        if (!en_constraints_is_set(self, attr))
            continue;
        if (out.len)
            s_putc(&out, ' ');
        s_puts(&out, s_attrs[attr].name);
        s_putc(&out, '=');
        switch (s_attrs[attr].kind) {
        case S_STRING:
            s_put_value(&out, *s_str(self, attr));
            break;
        case S_UINT:
            s_put_uint(&out, *s_uint(self, attr), "");
            break;
        case S_SIZE:
            s_put_uint(&out, *s_uint(self, attr), "M");
            break;
        case S_BOOL:
            s_puts(&out, *s_bool(self, attr) ? "true" : "false");
            break;
        case S_LIST: {
            const en_cons_list_t *list = s_list(self, attr);
            for (size_t k = 0; k < list->count; k++) {
                if (k)
                    s_putc(&out, ',');
                s_put_value(&out, list->items[k]);
            }
            break;
        }
        }
    }
    return out.len;
}

char *
en_constraints_string(const en_constraints_t *self)
{
    size_t len = en_constraints_format(self, NULL, 0);
    char *text = malloc(len + 1);
    if (text)
        en_constraints_format(self, text, len + 1);
    return text;
}

int
en_constraints_merge(const en_constraints_t *const *values, size_t count, en_constraints_t *out,
                     en_err_t *err)
{
    int rc = -1;
    char **texts = calloc(count ? count : 1, sizeof(char *));
    bool ok = texts != NULL;
    for (size_t i = 0; ok && i < count; i++)
        ok = (texts[i] = en_constraints_string(values[i])) != NULL;
    if (ok)
        rc = en_constraints_parse_args(out, (const char *const *)texts, count, NULL, err);
    else {
        en_constraints_reset(out);
        en_err_set(err, EN_INTERNAL, "out of memory merging constraints");
    }
    for (size_t i = 0; texts && i < count; i++)
        free(texts[i]);
    free(texts);
    return rc;
}

//  --------------------------------------------------------------------------
//  Validator

typedef struct {
    bool registered;
    char **values;
    size_t count;
} s_vocab_t;

struct en_cons_validator {
    en_cons_attrs_t unsupported;
    en_cons_attrs_t conflicts[EN_CONS_ATTR_COUNT];
    s_vocab_t vocab[EN_CONS_ATTR_COUNT];
};

en_cons_validator_t *
en_cons_validator_new(void)
{
    return calloc(1, sizeof(en_cons_validator_t));
}

static void
s_vocab_clear(s_vocab_t *vocab)
{
    for (size_t i = 0; i < vocab->count; i++)
        free(vocab->values[i]);
    free(vocab->values);
    memset(vocab, 0, sizeof *vocab);
}

void
en_cons_validator_destroy(en_cons_validator_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    for (int a = 0; a < EN_CONS_ATTR_COUNT; a++)
        s_vocab_clear(&(*self_p)->vocab[a]);
    free(*self_p);
    *self_p = NULL;
}

//  Resolve names (aliases too) into a set; an unknown name fails.
static int
s_names_to_attrs(const char *const *names, size_t count, en_cons_attrs_t *attrs, en_err_t *err)
{
    *attrs = 0;
    for (size_t i = 0; i < count; i++) {
        en_cons_attr_t attr = en_cons_attr_from_name(names[i]);
        if (attr == EN_CONS_ATTR_COUNT) {
            char quoted[EN_ERR_MSG_MAX];
            en_go_quote(quoted, sizeof quoted, names[i]);
            return en_err_set(err, EN_NOT_VALID, "unknown constraint %s", quoted);
        }
        *attrs |= en_cons_bit(attr);
    }
    return 0;
}

int
en_cons_validator_register_conflicts(en_cons_validator_t *self, const char *const *reds,
                                     size_t n_reds, const char *const *blues, size_t n_blues,
                                     en_err_t *err)
{
    en_cons_attrs_t red_set, blue_set;
    if (s_names_to_attrs(reds, n_reds, &red_set, err) != 0 ||
        s_names_to_attrs(blues, n_blues, &blue_set, err) != 0)
        return -1;
    //  As in Go: reds first, then blues, each replacing the key's set.
    for (int a = 0; a < EN_CONS_ATTR_COUNT; a++)
        if (red_set & en_cons_bit((en_cons_attr_t)a))
            self->conflicts[a] = blue_set;
    for (int a = 0; a < EN_CONS_ATTR_COUNT; a++)
        if (blue_set & en_cons_bit((en_cons_attr_t)a))
            self->conflicts[a] = red_set;
    return 0;
}

int
en_cons_validator_register_unsupported(en_cons_validator_t *self, const char *const *names,
                                       size_t count, en_err_t *err)
{
    en_cons_attrs_t attrs;
    if (s_names_to_attrs(names, count, &attrs, err) != 0)
        return -1;
    self->unsupported = attrs;
    return 0;
}

//  Append the values not yet present (keeps the old order, then the new).
static int
s_vocab_add(s_vocab_t *vocab, const char *const *values, size_t count)
{
    char **grown = realloc(vocab->values, (vocab->count + count + 1) * sizeof(char *));
    if (!grown)
        return -1;
    vocab->values = grown;
    for (size_t i = 0; i < count; i++) {
        bool present = false;
        for (size_t k = 0; k < vocab->count && !present; k++)
            present = strcmp(vocab->values[k], values[i]) == 0;
        if (present)
            continue;
        if (!(vocab->values[vocab->count] = strdup(values[i])))
            return -1;
        vocab->count++;
    }
    vocab->registered = true;
    return 0;
}

static int
s_vocabulary(en_cons_validator_t *self, const char *name, const char *const *values, size_t count,
             bool replace, en_err_t *err)
{
    en_cons_attrs_t attrs;
    if (s_names_to_attrs(&name, 1, &attrs, err) != 0)
        return -1;
    s_vocab_t *vocab = &self->vocab[en_cons_attr_from_name(name)];
    s_vocab_t fresh = {0};
    if (!replace && s_vocab_add(&fresh, (const char *const *)vocab->values, vocab->count) != 0)
        goto oom;
    if (s_vocab_add(&fresh, values, count) != 0)
        goto oom;
    s_vocab_clear(vocab);
    *vocab = fresh;
    return 0;
oom:
    s_vocab_clear(&fresh);
    return en_err_set(err, EN_INTERNAL, "out of memory registering a vocabulary");
}

int
en_cons_validator_register_vocabulary(en_cons_validator_t *self, const char *attr,
                                      const char *const *values, size_t count, en_err_t *err)
{
    return s_vocabulary(self, attr, values, count, true, err);
}

int
en_cons_validator_update_vocabulary(en_cons_validator_t *self, const char *attr,
                                    const char *const *values, size_t count, en_err_t *err)
{
    return s_vocabulary(self, attr, values, count, false, err);
}

//  Numbers compare as numbers: "4" and "4.0" both allow cores=4.
static bool
s_vocab_has_number(const s_vocab_t *vocab, uint64_t value)
{
    for (size_t i = 0; i < vocab->count; i++) {
        const char *text = vocab->values[i];
        uint64_t exact;
        bool integral;
        if (s_parse_uint(text, &exact) && *text) {
            if (exact == value)
                return true;
        } else if (s_float_syntax(text, &integral) && strtod(text, NULL) == (double)value)
            return true;
    }
    return false;
}

static bool
s_vocab_has_string(const s_vocab_t *vocab, const char *value)
{
    return s_one_of(value, (const char *const *)vocab->values, vocab->count);
}

static int
s_not_in_vocab(const s_vocab_t *vocab, en_cons_attr_t attr, const char *value, en_err_t *err)
{
    //  Go prints the allowed slice with %v: "[amd64 arm64]".
    char allowed[EN_ERR_MSG_MAX];
    s_out_t out = {allowed, sizeof allowed, 0};
    allowed[0] = '\0';
    s_putc(&out, '[');
    for (size_t i = 0; i < vocab->count; i++) {
        if (i)
            s_putc(&out, ' ');
        s_puts(&out, vocab->values[i]);
    }
    s_putc(&out, ']');
    return en_err_set(err, EN_NOT_VALID, "invalid constraint value: %s=%s\nvalid values are: %s",
                      s_attrs[attr].name, value, allowed);
}

static int
s_check_vocab(const s_vocab_t *vocab, const en_constraints_t *cons, en_cons_attr_t attr,
              en_err_t *err)
{
    switch (s_attrs[attr].kind) {
    case S_STRING: {
        const char *value = *s_str(cons, attr);
        return s_vocab_has_string(vocab, value) ? 0 : s_not_in_vocab(vocab, attr, value, err);
    }
    case S_UINT:
    case S_SIZE: {
        uint64_t value = *s_uint(cons, attr);
        char num[24];
        snprintf(num, sizeof num, "%llu", (unsigned long long)value);
        return s_vocab_has_number(vocab, value) ? 0 : s_not_in_vocab(vocab, attr, num, err);
    }
    case S_BOOL: {
        const char *value = *s_bool(cons, attr) ? "true" : "false";
        return s_vocab_has_string(vocab, value) ? 0 : s_not_in_vocab(vocab, attr, value, err);
    }
    case S_LIST: {
        const en_cons_list_t *list = s_list(cons, attr);
        for (size_t i = 0; i < list->count; i++)
            if (!s_vocab_has_string(vocab, list->items[i]))
                return s_not_in_vocab(vocab, attr, list->items[i], err);
        return 0;
    }
    }
    return 0;
}

//  Juju 2.0–2.3 order (§2.3): unsupported, then conflicts, then values.
//  Main checks values before conflicts and adds conflict resolvers (§10
//  item 11); the doc's primary version is 2.x, and its VALT case "ambiguous
//  constraint errors take precedence" holds either way for unsupported.
int
en_cons_validator_validate(const en_cons_validator_t *self, const en_constraints_t *cons,
                           en_cons_attrs_t *unsupported, en_err_t *err)
{
    if (unsupported)
        *unsupported = cons->set & self->unsupported;
    for (int i = 0; i < EN_CONS_ATTR_COUNT; i++) {
        en_cons_attr_t attr = s_by_name[i];
        if (!en_constraints_is_set(cons, attr))
            continue;
        en_cons_attrs_t clash = self->conflicts[attr] & cons->set;
        for (int k = 0; clash && k < EN_CONS_ATTR_COUNT; k++)
            if (clash & en_cons_bit(s_by_name[k]))
                return en_err_set(err, EN_NOT_VALID,
                                  "ambiguous constraints: \"%s\" overlaps with \"%s\"",
                                  s_attrs[attr].name, s_attrs[s_by_name[k]].name);
    }
    for (int i = 0; i < EN_CONS_ATTR_COUNT; i++) {
        en_cons_attr_t attr = s_by_name[i];
        if (en_constraints_is_set(cons, attr) && self->vocab[attr].registered &&
            s_check_vocab(&self->vocab[attr], cons, attr, err) != 0)
            return -1;
    }
    return 0;
}

int
en_cons_validator_merge(const en_cons_validator_t *self, const en_constraints_t *fallback,
                        const en_constraints_t *cons, en_constraints_t *out, en_err_t *err)
{
    if (en_cons_validator_validate(self, fallback, NULL, err) != 0 ||
        en_cons_validator_validate(self, cons, NULL, err) != 0) {
        en_constraints_reset(out);
        return -1;
    }
    //  Whatever cons sets masks its conflicts in the fallback: an
    //  instance-type at the narrower scope clears an inherited mem.
    en_cons_attrs_t masked = 0;
    for (int a = 0; a < EN_CONS_ATTR_COUNT; a++)
        if (en_constraints_is_set(cons, (en_cons_attr_t)a))
            masked |= self->conflicts[a];
    en_constraints_t merged;
    en_constraints_init(&merged);
    for (int a = 0; a < EN_CONS_ATTR_COUNT; a++) {
        en_cons_attr_t attr = (en_cons_attr_t)a;
        const en_constraints_t *from = en_constraints_is_set(cons, attr) ? cons
                                       : (masked & en_cons_bit(attr))    ? NULL
                                                                         : fallback;
        if (from && s_copy_attr(&merged, from, attr) != 0) {
            en_constraints_reset(&merged);
            en_constraints_reset(out);
            return en_err_set(err, EN_INTERNAL, "out of memory merging constraints");
        }
    }
    en_constraints_reset(out);
    *out = merged;
    return 0;
}

en_cons_attrs_t
en_cons_validator_unsupported(const en_cons_validator_t *self)
{
    return self->unsupported;
}

en_cons_attrs_t
en_cons_validator_conflicts(const en_cons_validator_t *self, en_cons_attr_t attr)
{
    return s_valid(attr) ? self->conflicts[attr] : 0;
}

const char *const *
en_cons_validator_vocabulary(const en_cons_validator_t *self, en_cons_attr_t attr, size_t *count)
{
    const s_vocab_t *vocab = s_valid(attr) ? &self->vocab[attr] : NULL;
    *count = vocab && vocab->registered ? vocab->count : 0;
    return vocab && vocab->registered ? (const char *const *)vocab->values : NULL;
}
