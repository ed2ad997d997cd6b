/*  cloudio.c — writing the cloud files, and the small containers they use.

    An emitter wrapper over libyaml with a sticky failure flag (callers check
    once, at the end) that quotes strings exactly when go-yaml would; atomic
    0600 file writes (temp file in the same directory, fsync, rename) and
    bounded reads; ordered key/value lists and string arrays whose capacity is
    implied by their count. */
#include "common/cloudfile_int.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

//  Files bigger than this are not cloud files; refuse rather than slurp.
#define S_MAX_FILE (8u * 1024 * 1024)

//  ---------------------------------------------------------------------------
//  Strings and arrays

char *
en_cf_strdup(const char *s)
{
    return strdup(s ? s : "");
}

bool
en_cf_streq(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "") == 0;
}

int
en_cf_grow(void *items_p, size_t count, size_t elem)
{
    //  Capacity is implied by count (4, 8, 16, ...) so arrays need no
    //  separate capacity field: reallocate only when count hits a boundary.
    if (count != 0 && (count < 4 || (count & (count - 1)) != 0))
        return 0;
    size_t cap = count == 0 ? 4 : count * 2;
    if (cap > SIZE_MAX / elem)
        return -1;
    void **items = items_p;
    void *grown = realloc(*items, cap * elem);
    if (!grown)
        return -1;
    *items = grown;
    return 0;
}

int
en_cf_strv_push(char ***v, size_t *count, const char *s)
{
    if (en_cf_grow(v, *count, sizeof **v))
        return -1;
    char *copy = en_cf_strdup(s);
    if (!copy)
        return -1;
    (*v)[(*count)++] = copy;
    return 0;
}

void
en_cf_strv_free(char ***v, size_t *count)
{
    for (size_t i = 0; i < *count; i++)
        free((*v)[i]);
    free(*v);
    *v = NULL;
    *count = 0;
}

int
en_cf_strv_copy(char ***dst, size_t *dst_count, char *const *src, size_t count)
{
    for (size_t i = 0; i < count; i++)
        if (en_cf_strv_push(dst, dst_count, src[i])) {
            en_cf_strv_free(dst, dst_count);
            return -1;
        }
    return 0;
}

bool
en_cf_strv_equal(char *const *a, size_t na, char *const *b, size_t nb)
{
    if (na != nb)
        return false;
    for (size_t i = 0; i < na; i++)
        if (!en_cf_streq(a[i], b[i]))
            return false;
    return true;
}

int
en_cloudfile_set_string(char **field, const char *value)
{
    char *copy = en_cf_strdup(value);
    if (!copy)
        return -1;
    free(*field);
    *field = copy;
    return 0;
}

//  ---------------------------------------------------------------------------
//  Ordered key/value lists

const en_kv_t *
en_kvlist_find(const en_kvlist_t *self, const char *key)
{
    for (size_t i = 0; self && key && i < self->count; i++)
        if (strcmp(self->items[i].key, key) == 0)
            return &self->items[i];
    return NULL;
}

const char *
en_kvlist_get(const en_kvlist_t *self, const char *key)
{
    const en_kv_t *kv = en_kvlist_find(self, key);
    return kv ? kv->value : NULL;
}

int
en_kvlist_set(en_kvlist_t *self, const char *key, const char *value, en_yaml_type_t type)
{
    char *v = strdup(type == EN_YAML_NULL ? "null" : value ? value : "");
    if (!v)
        return -1;
    en_kv_t *kv = (en_kv_t *)en_kvlist_find(self, key);
    if (kv) {
        free(kv->value);
        kv->value = v;
        kv->type = type;
        return 0;
    }
    char *k = en_cf_strdup(key);
    if (!k || en_cf_grow(&self->items, self->count, sizeof *self->items)) {
        free(k);
        free(v);
        return -1;
    }
    self->items[self->count++] = (en_kv_t){k, v, type};
    return 0;
}

bool
en_kvlist_unset(en_kvlist_t *self, const char *key)
{
    const en_kv_t *kv = en_kvlist_find(self, key);
    if (!kv)
        return false;
    size_t i = (size_t)(kv - self->items);
    free(self->items[i].key);
    free(self->items[i].value);
    memmove(&self->items[i], &self->items[i + 1], (self->count - i - 1) * sizeof *self->items);
    self->count--;
    return true;
}

void
en_kvlist_clear(en_kvlist_t *self)
{
    if (!self)
        return;
    for (size_t i = 0; i < self->count; i++) {
        free(self->items[i].key);
        free(self->items[i].value);
    }
    free(self->items);
    self->items = NULL;
    self->count = 0;
}

int
en_kvlist_copy(en_kvlist_t *dst, const en_kvlist_t *src)
{
    for (size_t i = 0; i < src->count; i++)
        if (en_kvlist_set(dst, src->items[i].key, src->items[i].value, src->items[i].type)) {
            en_kvlist_clear(dst);
            return -1;
        }
    return 0;
}

bool
en_kvlist_equal(const en_kvlist_t *a, const en_kvlist_t *b)
{
    if (a->count != b->count)
        return false;
    for (size_t i = 0; i < a->count; i++)
        if (strcmp(a->items[i].key, b->items[i].key) ||
            strcmp(a->items[i].value, b->items[i].value) || a->items[i].type != b->items[i].type)
            return false;
    return true;
}

//  ---------------------------------------------------------------------------
//  Emitter

static int
s_emit_output(void *data, unsigned char *buffer, size_t size)
{
    en_yemit_t *e = data;
    if (e->len + size + 1 > e->cap) {
        size_t cap = e->cap ? e->cap : 256;
        while (cap < e->len + size + 1)
            cap *= 2;
        char *grown = realloc(e->buf, cap);
        if (!grown)
            return 0;
        e->buf = grown;
        e->cap = cap;
    }
    memcpy(e->buf + e->len, buffer, size);
    e->len += size;
    e->buf[e->len] = '\0';
    return 1;
}

//  Emit an initialised event (ok = the initialiser's result). After the
//  first failure later events are dropped, so callers check once at the end.
static void
s_emit(en_yemit_t *e, yaml_event_t *ev, int ok)
{
    if (!ok) {
        e->failed = true;
        e->problem = "out of memory";
        return;
    }
    if (e->failed) {
        yaml_event_delete(ev);
        return;
    }
    if (!yaml_emitter_emit(&e->emitter, ev)) {
        e->failed = true;
        e->problem = e->emitter.problem ? e->emitter.problem : "emitter error";
    }
}

int
en_yemit_begin(en_yemit_t *e)
{
    memset(e, 0, sizeof *e);
    if (!yaml_emitter_initialize(&e->emitter))
        return -1;
    yaml_emitter_set_output(&e->emitter, s_emit_output, e);
    yaml_emitter_set_unicode(&e->emitter, 1);
    yaml_emitter_set_indent(&e->emitter, 2);
    yaml_emitter_set_width(&e->emitter, -1); //  never fold long values
    yaml_event_t ev;
    s_emit(e, &ev, yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING));
    s_emit(e, &ev, yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1));
    return 0;
}

void
en_yemit_map_start(en_yemit_t *e, bool flow)
{
    yaml_event_t ev;
    s_emit(e, &ev,
           yaml_mapping_start_event_initialize(
               &ev, NULL, NULL, 1, flow ? YAML_FLOW_MAPPING_STYLE : YAML_BLOCK_MAPPING_STYLE));
}

void
en_yemit_map_end(en_yemit_t *e)
{
    yaml_event_t ev;
    s_emit(e, &ev, yaml_mapping_end_event_initialize(&ev));
}

void
en_yemit_seq_start(en_yemit_t *e, bool flow)
{
    yaml_event_t ev;
    s_emit(e, &ev,
           yaml_sequence_start_event_initialize(
               &ev, NULL, NULL, 1, flow ? YAML_FLOW_SEQUENCE_STYLE : YAML_BLOCK_SEQUENCE_STYLE));
}

void
en_yemit_seq_end(en_yemit_t *e)
{
    yaml_event_t ev;
    s_emit(e, &ev, yaml_sequence_end_event_initialize(&ev));
}

//  go-yaml's isBase60Float: YAML 1.1 readers may take "1:20" for a number,
//  so go-yaml quotes it although it reads it back as a string itself.
static bool
s_base60(const char *s)
{
    const char *p = s;
    if (*p == '+' || *p == '-')
        p++;
    if (!isdigit((unsigned char)*p))
        return false;
    while (isdigit((unsigned char)*p) || *p == '_')
        p++;
    int groups = 0;
    while (*p == ':') {
        p++;
        if (!isdigit((unsigned char)*p))
            return false;
        if (*p <= '5' && isdigit((unsigned char)p[1]))
            p += 2;
        else if (isdigit((unsigned char)p[1]))
            return false;
        else
            p++;
        groups++;
    }
    if (!groups)
        return false;
    if (*p == '.')
        for (p++; isdigit((unsigned char)*p) || *p == '_'; p++)
            ;
    return *p == '\0';
}

static void
s_emit_scalar(en_yemit_t *e, const char *text, const char *tag, yaml_scalar_style_t style)
{
    yaml_event_t ev;
    int implicit = tag ? 0 : 1;
    s_emit(e, &ev,
           yaml_scalar_event_initialize(&ev, NULL, (const yaml_char_t *)tag,
                                        (const yaml_char_t *)text, (int)strlen(text), implicit,
                                        implicit, style));
}

void
en_yemit_str(en_yemit_t *e, const char *s)
{
    s = s ? s : "";
    yaml_scalar_style_t style = YAML_PLAIN_SCALAR_STYLE;
    if (strchr(s, '\n'))
        style = YAML_LITERAL_SCALAR_STYLE;
    else if (en_yaml_resolve(s) != EN_YAML_STR || s_base60(s))
        style = YAML_DOUBLE_QUOTED_SCALAR_STYLE;
    s_emit_scalar(e, s, NULL, style);
}

void
en_yemit_typed(en_yemit_t *e, const char *text, en_yaml_type_t type)
{
    static const char *const tags[] = {
        [EN_YAML_STR] = EN_YAML_TAG_STR,     [EN_YAML_NULL] = EN_YAML_TAG_NULL,
        [EN_YAML_BOOL] = EN_YAML_TAG_BOOL,   [EN_YAML_INT] = EN_YAML_TAG_INT,
        [EN_YAML_FLOAT] = EN_YAML_TAG_FLOAT,
    };
    if (type == EN_YAML_STR || (unsigned)type > EN_YAML_FLOAT) {
        en_yemit_str(e, text);
        return;
    }
    text = type == EN_YAML_NULL ? "null" : text ? text : "";
    //  Plain when the text reads back as the type by itself; otherwise say
    //  the type with a tag (e.g. `!!float 1`).
    if (en_yaml_resolve(text) == type)
        s_emit_scalar(e, text, NULL, YAML_PLAIN_SCALAR_STYLE);
    else
        s_emit_scalar(e, text, tags[type], YAML_PLAIN_SCALAR_STYLE);
}

void
en_yemit_kv(en_yemit_t *e, const char *key, const char *value)
{
    en_yemit_str(e, key);
    en_yemit_str(e, value);
}

void
en_yemit_kv_opt(en_yemit_t *e, const char *key, const char *value)
{
    if (value && *value)
        en_yemit_kv(e, key, value);
}

void
en_yemit_strv(en_yemit_t *e, char *const *v, size_t count)
{
    en_yemit_seq_start(e, true);
    for (size_t i = 0; i < count; i++)
        en_yemit_str(e, v[i]);
    en_yemit_seq_end(e);
}

void
en_yemit_kvlist(en_yemit_t *e, const en_kvlist_t *list)
{
    en_yemit_map_start(e, false);
    for (size_t i = 0; i < list->count; i++) {
        en_yemit_str(e, list->items[i].key);
        en_yemit_typed(e, list->items[i].value, list->items[i].type);
    }
    en_yemit_map_end(e);
}

char *
en_yemit_end(en_yemit_t *e, en_err_t *err)
{
    yaml_event_t ev;
    s_emit(e, &ev, yaml_document_end_event_initialize(&ev, 1));
    s_emit(e, &ev, yaml_stream_end_event_initialize(&ev));
    if (!e->failed && !yaml_emitter_flush(&e->emitter)) {
        e->failed = true;
        e->problem = "cannot flush output";
    }
    char *out = NULL;
    if (e->failed)
        en_err_set(err, EN_INTERNAL, "cannot marshal yaml: %s", e->problem);
    else if (!(out = e->buf ? e->buf : strdup("")))
        en_err_set(err, EN_INTERNAL, "cannot marshal yaml: out of memory");
    else
        e->buf = NULL;
    en_yemit_abort(e);
    return out;
}

void
en_yemit_abort(en_yemit_t *e)
{
    yaml_emitter_delete(&e->emitter);
    memset(&e->emitter, 0, sizeof e->emitter);
    free(e->buf);
    e->buf = NULL;
    e->len = e->cap = 0;
}

//  ---------------------------------------------------------------------------
//  Files

//  Go words OS errors in lower case ("no such file or directory").
static const char *
s_errstr(int errnum, char *buf, size_t n)
{
    const char *m = strerror_r(errnum, buf, n);
    if (m != buf)
        snprintf(buf, n, "%s", m);
    if (buf[0] && isupper((unsigned char)buf[0]) && !isupper((unsigned char)buf[1]))
        buf[0] = (char)tolower((unsigned char)buf[0]);
    return buf;
}

int
en_cf_read_file(const char *path, char **data, size_t *len, en_err_t *err)
{
    char eb[128];
    *data = NULL;
    *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return 0;
        return en_err_set(err, EN_INTERNAL, "open %s: %s", path, s_errstr(errno, eb, sizeof eb));
    }
    int rc = -1;
    char *buf = NULL;
    struct stat st;
    if (fstat(fd, &st) < 0) {
        en_err_set(err, EN_INTERNAL, "stat %s: %s", path, s_errstr(errno, eb, sizeof eb));
        goto cleanup;
    }
    if (!S_ISREG(st.st_mode)) {
        en_err_set(err, EN_NOT_VALID, "read %s: not a regular file", path);
        goto cleanup;
    }
    if ((unsigned long long)st.st_size > S_MAX_FILE) {
        en_err_set(err, EN_NOT_VALID, "read %s: file too large (%lld bytes)", path,
                   (long long)st.st_size);
        goto cleanup;
    }
    size_t size = (size_t)st.st_size, got = 0;
    if (!(buf = malloc(size + 1))) {
        en_err_set(err, EN_INTERNAL, "read %s: out of memory", path);
        goto cleanup;
    }
    //  The size can change under us; read what is there up to the limit.
    while (got < size) {
        ssize_t r = read(fd, buf + got, size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            en_err_set(err, EN_INTERNAL, "read %s: %s", path, s_errstr(errno, eb, sizeof eb));
            goto cleanup;
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    buf[got] = '\0';
    *data = buf;
    *len = got;
    buf = NULL;
    rc = 0;
cleanup:
    free(buf);
    close(fd);
    return rc;
}

int
en_cf_write_file(const char *path, const char *data, size_t len, en_err_t *err)
{
    char eb[128];
    const char *slash = strrchr(path, '/');
    size_t dirlen = slash ? (size_t)(slash - path) : 0;
    const char *base = slash ? slash + 1 : path;
    if (!*base)
        return en_err_set(err, EN_NOT_VALID, "cannot write %s: not a file name", path);
    //  Same directory, so rename() is atomic; dot-prefixed so a crash leaves
    //  no file that looks like the real one.
    char *tmp = malloc(dirlen + strlen(base) + 16);
    if (!tmp)
        return en_err_set(err, EN_INTERNAL, "cannot write %s: out of memory", path);
    if (slash)
        sprintf(tmp, "%.*s/.%s.XXXXXX", (int)(slash == path ? 0 : dirlen), path, base);
    else
        sprintf(tmp, ".%s.XXXXXX", base);
    int rc = -1;
    int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0) {
        en_err_set(err, EN_INTERNAL, "cannot write %s: %s", path, s_errstr(errno, eb, sizeof eb));
        free(tmp);
        return -1;
    }
    if (fchmod(fd, 0600) < 0)
        goto fail;
    for (size_t done = 0; done < len;) {
        ssize_t w = write(fd, data + done, len - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            goto fail;
        done += (size_t)w;
    }
    if (fsync(fd) < 0)
        goto fail;
    if (close(fd) < 0) {
        fd = -1;
        goto fail;
    }
    fd = -1;
    if (rename(tmp, path) < 0)
        goto fail;
    rc = 0;
    goto cleanup;
fail:
    en_err_set(err, EN_INTERNAL, "cannot write %s: %s", path, s_errstr(errno, eb, sizeof eb));
    if (fd >= 0)
        close(fd);
    unlink(tmp);
cleanup:
    free(tmp);
    return rc;
}
