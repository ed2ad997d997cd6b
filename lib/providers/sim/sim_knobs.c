/*  sim_knobs.c — the sim cloud's behaviour knobs, stored in its database.

    Knobs live in table `knobs` rather than in memory so that every process
    of the cloud obeys the same values and a test, or the cloud definition's
    config block, can change them at runtime. Absent rows mean the default,
    so a schema never needs seeding for a new knob.

    What knobs exist is data: one table of integer knobs with defaults and
    bounds, plus `fail.<method>` for every cloud method. Values are
    validated and normalised when they are set, so the call path can trust
    what it reads. configure_json applies a whole object in one transaction:
    a bad key leaves every knob as it was. */
#include "providers/sim/sim_private.h"

#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_VALUE_MAX (EN_ERR_MSG_MAX + 64)
#define S_KEY_MAX 64

static const struct {
    const char *key;
    int64_t fallback;
    int64_t max;
} s_int_knobs[] = {
    {"latency_ms", 0, 3600000},
    {"running_delay_ms", 0, 86400000},
    {"consistency_delay_ms", 0, 86400000},
    {"max_concurrent", 0, 1000000},
    {"terminated_retention_ms", 3600000, 30LL * 86400000},
};

#define S_INT_KNOBS (sizeof s_int_knobs / sizeof s_int_knobs[0])

//  Index into s_int_knobs, S_INT_KNOBS for a fail knob, -1 when unknown.
static int
s_classify(const char *key)
{
    if (!key)
        return -1;
    for (size_t i = 0; i < S_INT_KNOBS; i++)
        if (strcmp(key, s_int_knobs[i].key) == 0)
            return (int)i;
    if (strncmp(key, "fail.", 5) == 0 && sim_method_known(key + 5))
        return (int)S_INT_KNOBS;
    return -1;
}

int
sim_fail_parse(const char *value, sim_fail_t *fail, en_err_t *err)
{
    memset(fail, 0, sizeof *fail);
    const char *p = value ? value : "";
    while (isspace((unsigned char)*p))
        p++;
    char word[32];
    size_t len = strcspn(p, " \t\n");
    if (len == 0 || len >= sizeof word)
        return en_err_set(err, EN_NOT_VALID,
                          "fail knob \"%s\": expected \"<KIND> [count <N>] "
                          "[message]\"",
                          value ? value : "");
    for (size_t i = 0; i < len; i++)
        word[i] = (char)toupper((unsigned char)p[i]);
    word[len] = '\0';
    fail->kind = en_kind_from_name(word);
    if (fail->kind == EN_KIND_COUNT || fail->kind == EN_OK)
        return en_err_set(err, EN_NOT_VALID, "fail knob: unknown error kind \"%.*s\"", (int)len, p);
    p += len;
    while (isspace((unsigned char)*p))
        p++;
    //  "count N" only when N follows; otherwise "count" starts the message.
    if (strncmp(p, "count", 5) == 0 && isspace((unsigned char)p[5])) {
        char *end;
        long long n = strtoll(p + 5, &end, 10);
        if (end != p + 5 && (*end == '\0' || isspace((unsigned char)*end))) {
            if (n < 1)
                return en_err_set(err, EN_NOT_VALID, "fail knob: count must be at least 1");
            fail->count = n;
            p = end;
            while (isspace((unsigned char)*p))
                p++;
        }
    }
    snprintf(fail->message, sizeof fail->message, "%s", p);
    return 0;
}

void
sim_fail_format(const sim_fail_t *fail, char *buf, size_t size)
{
    char count[32] = "";
    if (fail->count > 0)
        snprintf(count, sizeof count, " count %lld", (long long)fail->count);
    snprintf(buf, size, "%s%s%s%s", en_kind_name(fail->kind), count, *fail->message ? " " : "",
             fail->message);
}

//  Validate `value` for `key` and write its canonical form; out NULL-ed
//  (reset) when value is NULL.
static int
s_normalize(const char *key, const char *value, char *out, size_t size, bool *reset, en_err_t *err)
{
    int knob = s_classify(key);
    if (knob < 0)
        return en_err_set(err, EN_NOT_VALID, "unknown sim knob \"%s\"", key ? key : "");
    *reset = value == NULL;
    if (*reset)
        return 0;
    if (knob == (int)S_INT_KNOBS) {
        sim_fail_t fail;
        if (sim_fail_parse(value, &fail, err))
            return en_err_annotate(err, "sim knob \"%s\"", key);
        sim_fail_format(&fail, out, size);
        return 0;
    }
    char *end;
    long long n = strtoll(value, &end, 10);
    if (end == value || *end != '\0' || n < 0 || n > s_int_knobs[knob].max)
        return en_err_set(err, EN_NOT_VALID,
                          "sim knob \"%s\": value \"%s\" not valid (want 0..%lld)", key, value,
                          (long long)s_int_knobs[knob].max);
    snprintf(out, size, "%lld", n);
    return 0;
}

static int
s_store(en_sim_cloud_t *self, const char *key, const char *value, en_err_t *err)
{
    sqlite3_stmt *stmt;
    const char *sql = value ? "INSERT INTO knobs (key, value) VALUES (?1, ?2)"
                              " ON CONFLICT (key) DO UPDATE SET value = excluded.value"
                            : "DELETE FROM knobs WHERE key = ?1";
    if (sim_prepare(self, sql, &stmt, err))
        return -1;
    sqlite3_bind_text(stmt, 1, key, -1, SQLITE_STATIC);
    if (value)
        sqlite3_bind_text(stmt, 2, value, -1, SQLITE_STATIC);
    int rc = sqlite3_step(stmt);
    sqlite3_finalize(stmt);
    if (rc != SQLITE_DONE)
        return sim_db_fail(self, rc, "storing a knob", err);
    return 0;
}

//  The stored value of a knob into buf; *found false when unset.
static int
s_load(en_sim_cloud_t *self, const char *key, char *buf, size_t size, bool *found, en_err_t *err)
{
    sqlite3_stmt *stmt;
    if (sim_prepare(self, "SELECT value FROM knobs WHERE key = ?1", &stmt, err))
        return -1;
    sqlite3_bind_text(stmt, 1, key, -1, SQLITE_STATIC);
    int rc = sqlite3_step(stmt);
    *found = rc == SQLITE_ROW;
    if (*found)
        sim_copy_text(buf, size, stmt, 0);
    sqlite3_finalize(stmt);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return sim_db_fail(self, rc, "reading a knob", err);
    return 0;
}

int
sim_knob_int(en_sim_cloud_t *self, const char *key, int64_t *value, en_err_t *err)
{
    int knob = s_classify(key);
    if (knob < 0 || knob == (int)S_INT_KNOBS)
        return en_err_set(err, EN_INTERNAL, "\"%s\" is not an integer knob", key);
    char buf[S_VALUE_MAX];
    bool found;
    if (s_load(self, key, buf, sizeof buf, &found, err))
        return -1;
    *value = found ? strtoll(buf, NULL, 10) : s_int_knobs[knob].fallback;
    return 0;
}

int
en_sim_cloud_knob_set(en_sim_cloud_t *self, const char *key, const char *value, en_err_t *err)
{
    char normal[S_VALUE_MAX];
    bool reset;
    if (s_normalize(key, value, normal, sizeof normal, &reset, err) || sim_tx_write(self, err))
        return -1;
    if (s_store(self, key, reset ? NULL : normal, err)) {
        sim_tx_rollback(self);
        return -1;
    }
    return sim_tx_commit(self, err);
}

char *
en_sim_cloud_knob_get(en_sim_cloud_t *self, const char *key, en_err_t *err)
{
    int knob = s_classify(key);
    if (knob < 0) {
        en_err_set(err, EN_NOT_VALID, "unknown sim knob \"%s\"", key ? key : "");
        return NULL;
    }
    char buf[S_VALUE_MAX];
    bool found;
    if (s_load(self, key, buf, sizeof buf, &found, err))
        return NULL;
    if (!found && knob == (int)S_INT_KNOBS) {
        en_err_set(err, EN_NOT_FOUND, "sim knob \"%s\" is not set", key);
        return NULL;
    }
    if (!found)
        snprintf(buf, sizeof buf, "%lld", (long long)s_int_knobs[knob].fallback);
    char *copy = strdup(buf);
    if (!copy)
        en_err_set(err, EN_INTERNAL, "out of memory");
    return copy;
}

//  One knob of a JSON config, normalised and waiting to be stored.
typedef struct {
    char key[S_KEY_MAX];
    char value[S_VALUE_MAX];
    bool reset;
} s_pending_t;

static int
s_collect(const char *key, json_t *json, s_pending_t **pending, size_t *count, size_t *capacity,
          en_err_t *err)
{
    char text[S_VALUE_MAX];
    const char *value = text;
    if (json_is_string(json))
        value = json_string_value(json);
    else if (json_is_integer(json))
        snprintf(text, sizeof text, "%lld", (long long)json_integer_value(json));
    else if (json_is_null(json))
        value = NULL;
    else
        return en_err_set(err, EN_NOT_VALID, "sim knob \"%s\": want a string, an integer or null",
                          key);
    if (sim_grow((void **)pending, capacity, *count, sizeof **pending))
        return en_err_set(err, EN_INTERNAL, "out of memory");
    s_pending_t *slot = &(*pending)[*count];
    if (strlen(key) >= sizeof slot->key)
        return en_err_set(err, EN_NOT_VALID, "unknown sim knob \"%s\"", key);
    snprintf(slot->key, sizeof slot->key, "%s", key);
    if (s_normalize(key, value, slot->value, sizeof slot->value, &slot->reset, err))
        return -1;
    (*count)++;
    return 0;
}

int
en_sim_cloud_configure_json(en_sim_cloud_t *self, const char *json, en_err_t *err)
{
    s_pending_t *pending = NULL;
    size_t count = 0, capacity = 0;
    int rc = -1;
    json_error_t jerr;
    json_t *root = json_loads(json ? json : "", 0, &jerr);
    if (!root) {
        en_err_set(err, EN_NOT_VALID, "sim cloud config: %s (line %d)", jerr.text, jerr.line);
        goto cleanup;
    }
    if (!json_is_object(root)) {
        en_err_set(err, EN_NOT_VALID, "sim cloud config must be a JSON object");
        goto cleanup;
    }
    const char *key;
    json_t *value;
    json_object_foreach(root, key, value)
    {
        if (strcmp(key, "fail") == 0 && json_is_object(value)) {
            const char *method;
            json_t *spec;
            json_object_foreach(value, method, spec)
            {
                char flat[S_KEY_MAX + 8];
                snprintf(flat, sizeof flat, "fail.%s", method);
                if (s_collect(flat, spec, &pending, &count, &capacity, err))
                    goto cleanup;
            }
        } else if (s_collect(key, value, &pending, &count, &capacity, err))
            goto cleanup;
    }
    if (sim_tx_write(self, err))
        goto cleanup;
    for (size_t i = 0; i < count; i++)
        if (s_store(self, pending[i].key, pending[i].reset ? NULL : pending[i].value, err)) {
            sim_tx_rollback(self);
            goto cleanup;
        }
    rc = sim_tx_commit(self, err);
cleanup:
    json_decref(root);
    free(pending);
    return rc;
}
