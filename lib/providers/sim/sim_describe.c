/*  sim_describe.c — reading instances back: describe and list.

    An instance is one row of `instances` plus its rows of `tags`. Its state
    is not stored but computed when read, from the row's timestamps and the
    knobs of the moment: pending until running_delay_ms after creation,
    then running; once terminated, shutting-down for consistency_delay_ms,
    then terminated. So no background thread is needed, and every process
    computes the same answer.

    Eventual consistency, like EC2's, is a filter on reads: describe and
    list do not see an instance for consistency_delay_ms after its creation,
    and list keeps showing a terminated one for as long. Each read runs in
    one read transaction, so an instance and its tags come from the same
    snapshot. One row reader (s_load_row) serves describe, list and create's
    read-back, so every call reports an instance the same way. The tag
    filters of list (sim_filter_*) are shared with sim_groups.c's
    list_groups. */
#include "providers/sim/sim_private.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_COLUMNS                                                                                  \
    "i.id, i.name, i.region, i.zone, i.instance_type, i.arch, i.cores, i.mem_mib,"                 \
    " i.root_disk_mib, i.cpu_power, i.created_ms, i.terminated_ms"

//  What a read needs besides the row: the clock and knobs of the moment,
//  and the prepared tag and address queries.
typedef struct {
    int64_t now;
    int64_t running_delay;
    int64_t consistency_delay;
    sqlite3_stmt *tags;
    sqlite3_stmt *addresses;
} s_view_t;

static int
s_view_open(en_sim_cloud_t *self, s_view_t *view, en_err_t *err)
{
    memset(view, 0, sizeof *view);
    view->now = sim_now_ms();
    if (sim_knob_int(self, "running_delay_ms", &view->running_delay, err) ||
        sim_knob_int(self, "consistency_delay_ms", &view->consistency_delay, err))
        return -1;
    //  In primary-key order; s_load_tags puts them in seq order, which
    //  costs far less than a sort inside SQLite for every instance.
    if (sim_prepare(self, "SELECT key, value, seq FROM tags WHERE instance_id = ?1", &view->tags,
                    err))
        return -1;
    //  The instance's own NICs (not its containers'), primary first.
    return sim_prepare(self,
                       "SELECT address FROM nics WHERE instance_id = ?1 AND container_tag IS NULL"
                       " AND address IS NOT NULL ORDER BY device_index",
                       &view->addresses, err);
}

static void
s_view_close(s_view_t *view)
{
    sqlite3_finalize(view->tags);
    sqlite3_finalize(view->addresses);
    view->tags = NULL;
    view->addresses = NULL;
}

const char *
en_sim_state_name(en_sim_state_t state)
{
    switch (state) {
    case EN_SIM_PENDING:
        return "pending";
    case EN_SIM_RUNNING:
        return "running";
    case EN_SIM_SHUTTING_DOWN:
        return "shutting-down";
    case EN_SIM_TERMINATED:
        return "terminated";
    }
    return "unknown";
}

void
en_sim_instance_clear(en_sim_instance_t *instance)
{
    if (!instance)
        return;
    free(instance->id);
    free(instance->name);
    free(instance->region);
    free(instance->zone);
    free(instance->instance_type);
    free(instance->arch);
    for (size_t i = 0; i < instance->address_count; i++)
        free(instance->addresses[i]);
    free(instance->addresses);
    //  Tags are const for callers passing them in; here the instance owns them.
    for (size_t i = 0; i < instance->tag_count; i++) {
        free((char *)instance->tags[i].key);
        free((char *)instance->tags[i].value);
    }
    free(instance->tags);
    memset(instance, 0, sizeof *instance);
}

void
en_sim_instances_free(en_sim_instance_t **instances_p, size_t count)
{
    if (!instances_p || !*instances_p)
        return;
    for (size_t i = 0; i < count; i++)
        en_sim_instance_clear(&(*instances_p)[i]);
    free(*instances_p);
    *instances_p = NULL;
}

static char *
s_text(sqlite3_stmt *stmt, int column, bool *oom)
{
    const unsigned char *text = sqlite3_column_text(stmt, column);
    char *copy = strdup(text ? (const char *)text : "");
    if (!copy)
        *oom = true;
    return copy;
}

//  An instance's tags in the order they were first set (seq): each is
//  inserted into place as it comes, as an instance has a few (at most
//  EN_SIM_TAGS_MAX).
static int
s_load_tags(en_sim_cloud_t *self, s_view_t *view, en_sim_instance_t *out, en_err_t *err)
{
    size_t capacity = 0;
    bool oom = false;
    int64_t seqs[EN_SIM_TAGS_MAX];
    sqlite3_reset(view->tags);
    sqlite3_bind_text(view->tags, 1, out->id, -1, SQLITE_STATIC);
    int rc;
    while ((rc = sqlite3_step(view->tags)) == SQLITE_ROW) {
        if (out->tag_count == EN_SIM_TAGS_MAX)
            return en_err_set(err, EN_INTERNAL, "instance \"%s\" has more than %d tags", out->id,
                              EN_SIM_TAGS_MAX);
        if (sim_grow((void **)&out->tags, &capacity, out->tag_count, sizeof *out->tags))
            return en_err_set(err, EN_INTERNAL, "out of memory");
        int64_t seq = sqlite3_column_int64(view->tags, 2);
        size_t at = out->tag_count++;
        for (; at > 0 && seqs[at - 1] > seq; at--) {
            seqs[at] = seqs[at - 1];
            out->tags[at] = out->tags[at - 1];
        }
        seqs[at] = seq;
        out->tags[at].key = s_text(view->tags, 0, &oom);
        out->tags[at].value = s_text(view->tags, 1, &oom);
    }
    if (oom)
        return en_err_set(err, EN_INTERNAL, "out of memory");
    if (rc != SQLITE_DONE)
        return sim_db_fail(self, rc, "reading tags", err);
    return 0;
}

//  The addresses of an instance's NICs in device order.
static int
s_load_addresses(en_sim_cloud_t *self, s_view_t *view, en_sim_instance_t *out, en_err_t *err)
{
    size_t capacity = 0;
    sqlite3_reset(view->addresses);
    sqlite3_bind_text(view->addresses, 1, out->id, -1, SQLITE_STATIC);
    int rc;
    while ((rc = sqlite3_step(view->addresses)) == SQLITE_ROW) {
        char address[EN_SIM_ADDR_MAX];
        sim_ipv4_format(sqlite3_column_int64(view->addresses, 0), address, sizeof address);
        if (sim_grow((void **)&out->addresses, &capacity, out->address_count,
                     sizeof *out->addresses) ||
            !(out->addresses[out->address_count] = strdup(address)))
            return en_err_set(err, EN_INTERNAL, "out of memory");
        out->address_count++;
    }
    if (rc != SQLITE_DONE)
        return sim_db_fail(self, rc, "reading addresses", err);
    return 0;
}

//  Fill *out from a row selected with S_COLUMNS.
static int
s_load_row(en_sim_cloud_t *self, s_view_t *view, sqlite3_stmt *row, en_sim_instance_t *out,
           en_err_t *err)
{
    bool oom = false;
    memset(out, 0, sizeof *out);
    out->id = s_text(row, 0, &oom);
    out->name = s_text(row, 1, &oom);
    out->region = s_text(row, 2, &oom);
    out->zone = s_text(row, 3, &oom);
    out->instance_type = s_text(row, 4, &oom);
    out->arch = s_text(row, 5, &oom);
    out->cores = (uint64_t)sqlite3_column_int64(row, 6);
    out->mem_mib = (uint64_t)sqlite3_column_int64(row, 7);
    out->root_disk_mib = (uint64_t)sqlite3_column_int64(row, 8);
    out->cpu_power = (uint64_t)sqlite3_column_int64(row, 9);
    out->created_ms = sqlite3_column_int64(row, 10);
    out->terminated_ms = sqlite3_column_int64(row, 11);
    if (out->terminated_ms)
        out->state = view->now < out->terminated_ms + view->consistency_delay ? EN_SIM_SHUTTING_DOWN
                                                                              : EN_SIM_TERMINATED;
    else
        out->state =
            view->now < out->created_ms + view->running_delay ? EN_SIM_PENDING : EN_SIM_RUNNING;
    if (oom)
        return en_err_set(err, EN_INTERNAL, "out of memory");
    // like a cloud's public address, the address shows once the instance
    // runs: a bootstrap has to wait for it (statement 53); a terminated
    // instance's NICs hold none
    if (out->state != EN_SIM_PENDING && s_load_addresses(self, view, out, err))
        return -1;
    return s_load_tags(self, view, out, err);
}

//  Append every row of a query to a growing instance array.
static int
s_load_rows(en_sim_cloud_t *self, s_view_t *view, sqlite3_stmt *stmt, en_sim_instance_t **instances,
            size_t *count, en_err_t *err)
{
    size_t capacity = 0;
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        if (sim_grow((void **)instances, &capacity, *count, sizeof **instances))
            return en_err_set(err, EN_INTERNAL, "out of memory");
        //  Count the slot before loading so a half-filled one is freed too.
        if (s_load_row(self, view, stmt, &(*instances)[(*count)++], err))
            return -1;
    }
    if (rc != SQLITE_DONE)
        return sim_db_fail(self, rc, "reading instances", err);
    return 0;
}

int
sim_instance_load(en_sim_cloud_t *self, const char *id, en_sim_instance_t *out, en_err_t *err)
{
    s_view_t view;
    sqlite3_stmt *stmt = NULL;
    int rc = -1;
    if (s_view_open(self, &view, err) == 0 &&
        sim_prepare(self, "SELECT " S_COLUMNS " FROM instances i WHERE i.id = ?1", &stmt, err) ==
            0) {
        sqlite3_bind_text(stmt, 1, id, -1, SQLITE_STATIC);
        int step = sqlite3_step(stmt);
        if (step == SQLITE_ROW)
            rc = s_load_row(self, &view, stmt, out, err);
        else if (step == SQLITE_DONE)
            en_err_set(err, EN_NOT_FOUND, "instance \"%s\" not found", id);
        else
            sim_db_fail(self, step, "reading an instance", err);
    }
    sqlite3_finalize(stmt);
    s_view_close(&view);
    return rc;
}

static int
s_describe(en_sim_cloud_t *self, const char *region, const char *const *ids, size_t id_count,
           en_sim_instance_t **instances, size_t *count, en_err_t *err)
{
    if (id_count && !ids)
        return en_err_set(err, EN_NOT_VALID, "instance ids not specified");
    if (id_count == 0)
        return sim_region_index(self, region, NULL, err);
    //  The ids go in as one JSON array: SQL then removes duplicates and
    //  keeps the order of first mention in one query.
    json_t *array = json_array();
    for (size_t i = 0; array && i < id_count; i++)
        if (ids[i])
            json_array_append_new(array, json_string(ids[i]));
    char *wanted = array ? json_dumps(array, JSON_COMPACT) : NULL;
    json_decref(array);
    if (!wanted)
        return en_err_set(err, EN_INTERNAL, "out of memory");

    s_view_t view = {0};
    sqlite3_stmt *stmt = NULL;
    int rc = -1;
    if (sim_tx_read(self, err))
        goto cleanup;
    if (sim_region_index(self, region, NULL, err) || s_view_open(self, &view, err))
        goto cleanup;
    if (sim_prepare(self,
                    "SELECT " S_COLUMNS " FROM"
                    " (SELECT value AS want, min(key) AS pos FROM json_each(?2) GROUP BY value) w"
                    " JOIN instances i ON i.id = w.want"
                    " WHERE i.region = ?1 AND i.created_ms + ?3 <= ?4 ORDER BY w.pos",
                    &stmt, err))
        goto cleanup;
    sqlite3_bind_text(stmt, 1, region, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 2, wanted, -1, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 3, view.consistency_delay);
    sqlite3_bind_int64(stmt, 4, view.now);
    rc = s_load_rows(self, &view, stmt, instances, count, err);
cleanup:
    sqlite3_finalize(stmt);
    s_view_close(&view);
    sim_tx_rollback(self); //  a read: nothing to commit
    free(wanted);
    return rc;
}

int
en_sim_cloud_describe(en_sim_cloud_t *self, const char *region, const char *const *ids,
                      size_t id_count, en_sim_instance_t **instances, size_t *count, en_err_t *err)
{
    *instances = NULL;
    *count = 0;
    if (sim_call_begin(self, "describe", err))
        return -1;
    int rc = s_describe(self, region, ids, id_count, instances, count, err);
    sim_call_end(self);
    if (rc) {
        en_sim_instances_free(instances, *count);
        *count = 0;
    }
    return rc;
}

char *
sim_filter_sql(const char *head, const char *tags, int first, size_t filter_count,
               const char *tail)
{
    size_t size = strlen(head) + strlen(tail) + filter_count * (strlen(tags) + 120) + 1;
    char *sql = malloc(size);
    if (!sql)
        return NULL;
    size_t used = (size_t)snprintf(sql, size, "%s", head);
    for (size_t f = 0; f < filter_count; f++) {
        int k = first + 2 * (int)f, v = k + 1;
        used += (size_t)snprintf(sql + used, size - used,
                                 " AND EXISTS (SELECT 1 FROM %s"
                                 " AND t.key = ?%d AND (?%d IS NULL OR t.value = ?%d))",
                                 tags, k, v, v);
    }
    snprintf(sql + used, size - used, "%s", tail);
    return sql;
}

int
sim_filters_check(const en_sim_tag_t *filters, size_t filter_count, en_err_t *err)
{
    if (filter_count && !filters)
        return en_err_set(err, EN_NOT_VALID, "tag filters not specified");
    if (filter_count > EN_SIM_TAGS_MAX)
        return en_err_set(err, EN_NOT_VALID, "more than %d tag filters", EN_SIM_TAGS_MAX);
    for (size_t f = 0; f < filter_count; f++)
        if (!filters[f].key || !*filters[f].key)
            return en_err_set(err, EN_NOT_VALID, "tag filter without a key");
    return 0;
}

void
sim_filters_bind(sqlite3_stmt *stmt, int first, const en_sim_tag_t *filters, size_t filter_count)
{
    for (size_t f = 0; f < filter_count; f++) {
        sqlite3_bind_text(stmt, first + 2 * (int)f, filters[f].key, -1, SQLITE_STATIC);
        if (filters[f].value)
            sqlite3_bind_text(stmt, first + 1 + 2 * (int)f, filters[f].value, -1, SQLITE_STATIC);
    }
}

//  SQL for list: ?1..?4 are the region, the consistency delay, the time
//  and include_terminated; the filters' keys and values follow.
static char *
s_list_sql(size_t filter_count)
{
    static const char head[] = "SELECT " S_COLUMNS " FROM instances i"
                               " WHERE i.region = ?1 AND i.created_ms + ?2 <= ?3"
                               " AND (i.terminated_ms IS NULL OR i.terminated_ms + ?2 > ?3 OR ?4)";
    //  rowid is insertion order, which timestamps cannot break ties in.
    return sim_filter_sql(head, "tags t WHERE t.instance_id = i.id", 5, filter_count,
                          " ORDER BY i.rowid");
}

static int
s_list(en_sim_cloud_t *self, const char *region, const en_sim_tag_t *filters, size_t filter_count,
       bool include_terminated, en_sim_instance_t **instances, size_t *count, en_err_t *err)
{
    if (sim_filters_check(filters, filter_count, err))
        return -1;
    char *sql = s_list_sql(filter_count);
    if (!sql)
        return en_err_set(err, EN_INTERNAL, "out of memory");

    s_view_t view = {0};
    sqlite3_stmt *stmt = NULL;
    int rc = -1;
    if (sim_tx_read(self, err))
        goto cleanup;
    if (sim_region_index(self, region, NULL, err) || s_view_open(self, &view, err) ||
        sim_prepare(self, sql, &stmt, err))
        goto cleanup;
    sqlite3_bind_text(stmt, 1, region, -1, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 2, view.consistency_delay);
    sqlite3_bind_int64(stmt, 3, view.now);
    sqlite3_bind_int(stmt, 4, include_terminated);
    sim_filters_bind(stmt, 5, filters, filter_count);
    rc = s_load_rows(self, &view, stmt, instances, count, err);
cleanup:
    sqlite3_finalize(stmt);
    s_view_close(&view);
    sim_tx_rollback(self);
    free(sql);
    return rc;
}

int
en_sim_cloud_list(en_sim_cloud_t *self, const char *region, const en_sim_tag_t *filters,
                  size_t filter_count, bool include_terminated, en_sim_instance_t **instances,
                  size_t *count, en_err_t *err)
{
    *instances = NULL;
    *count = 0;
    if (sim_call_begin(self, "list", err))
        return -1;
    int rc = s_list(self, region, filters, filter_count, include_terminated, instances, count, err);
    sim_call_end(self);
    if (rc) {
        en_sim_instances_free(instances, *count);
        *count = 0;
    }
    return rc;
}
