/*  format.c — tables, YAML and JSON output, and typed key=value words
    (see format.h).

    Text is built in memory (open_memstream) and returned, never written
    straight to stdout, so that tests can compare whole outputs and a
    command prints nothing when it fails half way.

    YAML is emitted event by event from the JSON view with libyaml. The one
    subtlety is strings that YAML would read back as something else ("true",
    "123", "", "~"): go-yaml, and so Juju, double-quotes those, and so do we,
    with a YAML 1.1 resolver (cli_yaml_resolve). lib/common/cloudyaml.c has
    the same resolver for reading, but behind its internal header; should
    it become public, this one can go. */
#include "format.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

static const char *s_format_names[] = {"tabular", "yaml", "json"};

int
cli_format_parse(const char *name, cli_format_t *out)
{
    for (size_t i = 0; i < sizeof s_format_names / sizeof s_format_names[0]; i++)
        if (name && strcmp(name, s_format_names[i]) == 0) {
            *out = (cli_format_t)i;
            return 0;
        }
    return -1;
}

const char *
cli_format_name(cli_format_t format)
{
    return s_format_names[format];
}

//  --------------------------------------------------------------------------
//  Tables

struct cli_table {
    size_t columns;
    bool *right;
    char **cells; // rows * columns, row 0 is the header
    size_t rows;  // including the header
    size_t alloc;
};

static void
s_table_append(cli_table_t *self, const char *const *cells)
{
    if (self->rows == self->alloc) {
        self->alloc = self->alloc ? self->alloc * 2 : 8;
        self->cells = realloc(self->cells, self->alloc * self->columns * sizeof(char *));
    }
    for (size_t c = 0; c < self->columns; c++)
        self->cells[self->rows * self->columns + c] = strdup(cells[c] ? cells[c] : "");
    self->rows++;
}

cli_table_t *
cli_table_new(const char *const *headers)
{
    size_t n = 0;
    while (headers && headers[n])
        n++;
    if (n == 0)
        return NULL;
    cli_table_t *self = calloc(1, sizeof *self);
    self->columns = n;
    self->right = calloc(n, sizeof(bool));
    s_table_append(self, headers);
    return self;
}

void
cli_table_destroy(cli_table_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    cli_table_t *self = *self_p;
    for (size_t i = 0; i < self->rows * self->columns; i++)
        free(self->cells[i]);
    free(self->cells);
    free(self->right);
    free(self);
    *self_p = NULL;
}

void
cli_table_align_right(cli_table_t *self, size_t column)
{
    if (column < self->columns)
        self->right[column] = true;
}

void
cli_table_row(cli_table_t *self, ...)
{
    const char **cells = calloc(self->columns, sizeof(char *));
    va_list ap;
    va_start(ap, self);
    for (size_t c = 0; c < self->columns; c++)
        cells[c] = va_arg(ap, const char *);
    va_end(ap);
    s_table_append(self, cells);
    free(cells);
}

size_t
cli_table_rows(const cli_table_t *self)
{
    return self->rows - 1;
}

//  Width on a terminal: UTF-8 continuation bytes take no column.
static size_t
s_width(const char *text)
{
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)text; *p; p++)
        n += (*p & 0xC0) != 0x80;
    return n;
}

char *
cli_table_render(const cli_table_t *self)
{
    size_t *width = calloc(self->columns, sizeof(size_t));
    for (size_t r = 0; r < self->rows; r++)
        for (size_t c = 0; c < self->columns; c++) {
            size_t w = s_width(self->cells[r * self->columns + c]);
            if (w > width[c])
                width[c] = w;
        }
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&text, &size);
    char *line = NULL;
    size_t line_size = 0;
    for (size_t r = 0; r < self->rows; r++) {
        FILE *l = open_memstream(&line, &line_size);
        for (size_t c = 0; c < self->columns; c++) {
            const char *cell = self->cells[r * self->columns + c];
            size_t pad = width[c] - s_width(cell);
            if (self->right[c])
                fprintf(l, "%*s%s", (int)pad, "", cell);
            else
                fprintf(l, "%s%*s", cell, (int)pad, "");
            if (c + 1 < self->columns)
                fputs("  ", l);
        }
        fclose(l);
        // like tabwriter's trailing-blank trim: the last cell is not padded
        size_t n = strlen(line);
        while (n && line[n - 1] == ' ')
            n--;
        fprintf(out, "%.*s\n", (int)n, line);
        free(line);
        line = NULL;
    }
    fclose(out);
    free(width);
    return text;
}

//  --------------------------------------------------------------------------
//  YAML 1.1 scalar resolution (go-yaml v2 resolve.go)

static bool
s_in(const char *word, const char *const *list)
{
    for (; *list; list++)
        if (strcmp(word, *list) == 0)
            return true;
    return false;
}

//  Digits of the given base with '_' separators, at least one digit.
static bool
s_digits(const char *p, int base)
{
    bool any = false;
    for (; *p; p++) {
        if (*p == '_')
            continue;
        int d = isdigit((unsigned char)*p)    ? *p - '0'
                : isxdigit((unsigned char)*p) ? 10 + tolower((unsigned char)*p) - 'a'
                                              : 99;
        if (d >= base)
            return false;
        any = true;
    }
    return any;
}

static bool
s_is_int(const char *s)
{
    if (*s == '+' || *s == '-')
        s++;
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
        return s_digits(s + 2, 16);
    if (s[0] == '0' && (s[1] == 'b' || s[1] == 'B'))
        return s_digits(s + 2, 2);
    if (s[0] == '0' && (s[1] == 'o' || s[1] == 'O'))
        return s_digits(s + 2, 8);
    return s_digits(s, 10);
}

//  ^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$
static bool
s_is_float(const char *s)
{
    if (*s == '+' || *s == '-')
        s++;
    size_t whole = strspn(s, "0123456789");
    s += whole;
    if (*s == '.') {
        size_t frac = strspn(s + 1, "0123456789");
        if (!whole && !frac)
            return false;
        s += 1 + frac;
    } else if (!whole)
        return false;
    if (*s == 'e' || *s == 'E') {
        s++;
        if (*s == '+' || *s == '-')
            s++;
        size_t exp = strspn(s, "0123456789");
        if (!exp)
            return false;
        s += exp;
    }
    return *s == '\0';
}

//  YYYY-M-D at the start, as go-yaml's parseTimestamp needs.
static bool
s_is_timestamp(const char *s)
{
    if (strspn(s, "0123456789") != 4 || s[4] != '-')
        return false;
    size_t month = strspn(s + 5, "0123456789");
    if (month < 1 || month > 2 || s[5 + month] != '-')
        return false;
    size_t day = strspn(s + 6 + month, "0123456789");
    return day >= 1 && day <= 2;
}

cli_yaml_kind_t
cli_yaml_resolve(const char *plain)
{
    static const char *const nulls[] = {"", "~", "null", "Null", "NULL", NULL};
    static const char *const bools[] = {
        "y", "Y",  "yes", "Yes", "YES",   "true",  "True",  "TRUE", "on",  "On",  "ON", "n",
        "N", "no", "No",  "NO",  "false", "False", "FALSE", "off",  "Off", "OFF", NULL};
    static const char *const floats[] = {".inf",  ".Inf",  ".INF",  "+.inf", "+.Inf",
                                         "+.INF", "-.inf", "-.Inf", "-.INF", ".nan",
                                         ".NaN",  ".NAN",  NULL};
    if (s_in(plain, nulls))
        return CLI_YAML_NULL;
    if (s_in(plain, bools))
        return CLI_YAML_BOOL;
    if (s_in(plain, floats))
        return CLI_YAML_FLOAT;
    if (s_is_int(plain))
        return CLI_YAML_INT;
    if (s_is_float(plain))
        return CLI_YAML_FLOAT;
    if (s_is_timestamp(plain))
        return CLI_YAML_TIMESTAMP;
    return CLI_YAML_STR;
}

//  --------------------------------------------------------------------------
//  JSON and YAML output

char *
cli_json_render(const json_t *value)
{
    char *body = json_dumps(value, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    if (!body)
        return NULL;
    size_t n = strlen(body);
    char *text = realloc(body, n + 2);
    text[n] = '\n';
    text[n + 1] = '\0';
    return text;
}

static int
s_yaml_write(void *data, unsigned char *buffer, size_t size)
{
    return fwrite(buffer, 1, size, (FILE *)data) == size;
}

static int
s_emit_scalar(yaml_emitter_t *e, const char *text, yaml_scalar_style_t style)
{
    yaml_event_t ev;
    yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)text, (int)strlen(text), 1, 1,
                                 style);
    return yaml_emitter_emit(e, &ev) ? 0 : -1;
}

//  Multi-line text as a literal block (certificates read naturally);
//  text YAML would take for another type double-quoted, as go-yaml does.
static yaml_scalar_style_t
s_string_style(const char *text)
{
    if (strchr(text, '\n'))
        return YAML_LITERAL_SCALAR_STYLE;
    if (cli_yaml_resolve(text) != CLI_YAML_STR)
        return YAML_DOUBLE_QUOTED_SCALAR_STYLE;
    return YAML_ANY_SCALAR_STYLE;
}

static bool
s_is_container(const json_t *v)
{
    return json_is_object(v) || json_is_array(v);
}

static int
s_emit(yaml_emitter_t *e, const json_t *v)
{
    yaml_event_t ev;
    if (json_is_object(v)) {
        yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1,
                                            json_object_size(v) ? YAML_BLOCK_MAPPING_STYLE
                                                                : YAML_FLOW_MAPPING_STYLE);
        if (!yaml_emitter_emit(e, &ev))
            return -1;
        const char *key;
        json_t *item;
        json_object_foreach((json_t *)v, key, item)
        {
            if (s_emit_scalar(e, key, s_string_style(key)) || s_emit(e, item))
                return -1;
        }
        yaml_mapping_end_event_initialize(&ev);
        return yaml_emitter_emit(e, &ev) ? 0 : -1;
    }
    if (json_is_array(v)) {
        bool flow = true;
        size_t i;
        json_t *item;
        json_array_foreach(v, i, item)
        {
            flow = flow && !s_is_container(item);
        }
        yaml_sequence_start_event_initialize(
            &ev, NULL, NULL, 1, flow ? YAML_FLOW_SEQUENCE_STYLE : YAML_BLOCK_SEQUENCE_STYLE);
        if (!yaml_emitter_emit(e, &ev))
            return -1;
        json_array_foreach(v, i, item)
        {
            if (s_emit(e, item))
                return -1;
        }
        yaml_sequence_end_event_initialize(&ev);
        return yaml_emitter_emit(e, &ev) ? 0 : -1;
    }
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        return s_emit_scalar(e, s, s_string_style(s));
    }
    if (json_is_null(v))
        return s_emit_scalar(e, "null", YAML_PLAIN_SCALAR_STYLE);
    char *text = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    int rc = s_emit_scalar(e, text ? text : "null", YAML_PLAIN_SCALAR_STYLE);
    free(text);
    return rc;
}

char *
cli_yaml_render(const json_t *value)
{
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&text, &size);
    yaml_emitter_t e;
    yaml_event_t ev;
    int rc = -1;
    yaml_emitter_initialize(&e);
    yaml_emitter_set_output(&e, s_yaml_write, out);
    yaml_emitter_set_unicode(&e, 1);
    yaml_emitter_set_width(&e, -1);
    yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING);
    if (!yaml_emitter_emit(&e, &ev))
        goto cleanup;
    yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1);
    if (!yaml_emitter_emit(&e, &ev) || s_emit(&e, value))
        goto cleanup;
    yaml_document_end_event_initialize(&ev, 1);
    if (!yaml_emitter_emit(&e, &ev))
        goto cleanup;
    yaml_stream_end_event_initialize(&ev);
    if (!yaml_emitter_emit(&e, &ev) || !yaml_emitter_flush(&e))
        goto cleanup;
    rc = 0;
cleanup:
    yaml_emitter_delete(&e);
    fclose(out);
    if (rc) {
        free(text);
        return NULL;
    }
    return text;
}

void
cli_json_set_text(json_t *object, const char *key, const char *text)
{
    if (text && *text)
        json_object_set_new(object, key, json_string(text));
}

json_t *
cli_json_strings(char *const *items, size_t count)
{
    json_t *array = json_array();
    for (size_t i = 0; i < count; i++)
        json_array_append_new(array, json_string(items[i]));
    return array;
}

char *
cli_join(char *const *items, size_t count, const char *sep)
{
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&text, &size);
    for (size_t i = 0; i < count; i++)
        fprintf(out, "%s%s", i ? sep : "", items[i]);
    fclose(out);
    return text;
}

//  --------------------------------------------------------------------------
//  key=value words

json_t *
cli_value_typed(const char *text)
{
    if (strcmp(text, "true") == 0)
        return json_true();
    if (strcmp(text, "false") == 0)
        return json_false();
    const char *p = text + (*text == '-' || *text == '+');
    if (*p && strspn(p, "0123456789") == strlen(p)) {
        errno = 0;
        char *end;
        long long n = strtoll(text, &end, 10);
        if (errno == 0 && *end == '\0')
            return json_integer((json_int_t)n);
    }
    return json_string(text); // NULL when text is not UTF-8
}

int
cli_kv_split(const char *word, char **key, const char **value, en_err_t *err)
{
    const char *eq = strchr(word, '=');
    if (!eq || eq == word)
        return en_err_set(err, EN_NOT_VALID, "expected \"key=value\", got \"%s\"", word);
    *key = strndup(word, (size_t)(eq - word));
    *value = eq + 1;
    return 0;
}

int
cli_kv_set(json_t *object, const char *word, bool typed, en_err_t *err)
{
    char *key;
    const char *text;
    if (cli_kv_split(word, &key, &text, err))
        return -1;
    json_t *value = typed ? cli_value_typed(text) : json_string(text);
    int rc = value ? json_object_set_new(object, key, value) : -1;
    if (rc)
        en_err_set(err, EN_NOT_VALID, "\"%s\" is not valid UTF-8", word);
    free(key);
    return rc;
}

char *
cli_value_text(const json_t *value)
{
    if (json_is_string(value))
        return strdup(json_string_value(value));
    char *text = json_dumps(value, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    return text ? text : strdup("");
}
