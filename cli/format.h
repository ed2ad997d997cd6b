/*  format.h — how the CLI prints: aligned tables, YAML and JSON, and how it
    reads typed `key=value` words.

    Every listing command builds one JSON value (jansson) as its view and,
    for the default format, a table. The view is the single source for the
    machine formats: JSON is it printed compactly with sorted keys, YAML is
    it walked through the libyaml emitter in insertion order (the order the
    command built it in, which is Juju's field order). Nothing here talks to
    the gateway, so all of it is unit-tested with fixed input. */
#ifndef EN_CLI_FORMAT_H
#define EN_CLI_FORMAT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/err.h"

typedef enum { CLI_FORMAT_TABULAR = 0, CLI_FORMAT_YAML, CLI_FORMAT_JSON } cli_format_t;

//  "tabular", "yaml" or "json"; returns 0, or -1 when the name is unknown.
int cli_format_parse(const char *name, cli_format_t *out);
const char *cli_format_name(cli_format_t format);

//  --------------------------------------------------------------------------
//  Tables, aligned like Juju's tabwriter: columns padded to their widest
//  cell (in characters, not bytes) and separated by two spaces, no trailing
//  blanks. Cells are copied.

typedef struct cli_table cli_table_t;

//  headers: NULL-terminated. Returns NULL when there are none.
cli_table_t *cli_table_new(const char *const *headers);
void cli_table_destroy(cli_table_t **self_p);
//  Pad this column on the left (numbers), as Juju's SetColumnAlignRight.
void cli_table_align_right(cli_table_t *self, size_t column);
//  Exactly one const char * per column follows; NULL prints as "".
void cli_table_row(cli_table_t *self, ...);
size_t cli_table_rows(const cli_table_t *self);
//  The table as text, header first, each line ending in '\n'. Caller frees.
char *cli_table_render(const cli_table_t *self);

//  --------------------------------------------------------------------------
//  YAML and JSON

//  Compact JSON, keys sorted, with a trailing newline. Caller frees.
char *cli_json_render(const json_t *value);
//  Block YAML (no document markers) with a trailing newline: multi-line
//  strings as literal blocks, strings that YAML would read back as another
//  type double-quoted, lists of scalars in flow style. Caller frees; NULL
//  only when libyaml fails.
char *cli_yaml_render(const json_t *value);

//  How YAML 1.1 (as go-yaml v2 resolves it) reads an unquoted scalar.
typedef enum {
    CLI_YAML_STR = 0,
    CLI_YAML_NULL,
    CLI_YAML_BOOL,
    CLI_YAML_INT,
    CLI_YAML_FLOAT,
    CLI_YAML_TIMESTAMP, // 2006-01-02...: go-yaml quotes these on output but
                        // decodes them as strings into interface{}
} cli_yaml_kind_t;
cli_yaml_kind_t cli_yaml_resolve(const char *plain);

//  View helpers: set key to text only when text is not empty (Juju's
//  omitempty); a JSON array of strings; strings joined with sep (caller frees).
void cli_json_set_text(json_t *object, const char *key, const char *text);
json_t *cli_json_strings(char *const *items, size_t count);
char *cli_join(char *const *items, size_t count, const char *sep);

//  --------------------------------------------------------------------------
//  key=value words

//  A command-line value typed as model config wants it: "true"/"false" are
//  booleans, a decimal integer that fits 64 bits is a number, anything else
//  is a string. NULL when text is not UTF-8.
json_t *cli_value_typed(const char *text);
//  Split "key=value" at the first '=': *key is a new string (caller frees),
//  *value points into word. EN_NOT_VALID `expected "key=value", got "x"`
//  when there is no '=' or the key is empty.
int cli_kv_split(const char *word, char **key, const char **value, en_err_t *err);
//  Split "key=value" at the first '=' and set the key in object, typed as
//  above when `typed`, else as a string. EN_NOT_VALID `expected "key=value",
//  got "x"` when there is no '=' or the key is empty, or the word is
//  not UTF-8.
int cli_kv_set(json_t *object, const char *word, bool typed, en_err_t *err);
//  A value as a table cell: strings verbatim, anything else as compact
//  JSON. Caller frees.
char *cli_value_text(const json_t *value);

#endif
