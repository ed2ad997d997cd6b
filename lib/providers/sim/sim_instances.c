/*  sim_instances.c — changing instances: create, terminate, set_tags.

    Invariants are enforced by the database, not by care: a live name is
    unique per region and a live address is unique per subnet (partial
    unique indexes). Create checks them first only to report Juju-style
    errors. A create, with its tags, its NICs and their addresses
    (sim_network.c) and its security group memberships, is one
    transaction, so no instance is ever seen without the tags that say who
    owns it, outside the groups that guard it, or without its address.

    Like EC2's CreateTags right after RunInstances, set_tags does not find
    an instance still inside its consistency delay. Terminate does: an
    instance must never outlive a terminate that said it succeeded. */
#include "providers/sim/sim_private.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#define S_NAME_MAX 255

int
sim_check_tags(const en_sim_tag_t *tags, size_t count, en_err_t *err)
{
    if (count && !tags)
        return en_err_set(err, EN_NOT_VALID, "tags not specified");
    if (count > EN_SIM_TAGS_MAX)
        return en_err_set(err, EN_NOT_VALID, "more than %d tags", EN_SIM_TAGS_MAX);
    for (size_t i = 0; i < count; i++) {
        const char *key = tags[i].key, *value = tags[i].value;
        if (!key || !*key || strlen(key) > EN_SIM_TAG_KEY_MAX)
            return en_err_set(err, EN_NOT_VALID, "tag key \"%s\" not valid", key ? key : "");
        if (!value || strlen(value) > EN_SIM_TAG_VALUE_MAX)
            return en_err_set(err, EN_NOT_VALID, "value of tag \"%s\" not valid", key);
        for (size_t j = 0; j < i; j++)
            if (strcmp(tags[j].key, key) == 0)
                return en_err_set(err, EN_NOT_VALID, "duplicate tag key \"%s\"", key);
    }
    return 0;
}

//  Upsert tags: an existing key keeps its place and takes the new value,
//  a new key goes last.
static int
s_put_tags(en_sim_cloud_t *self, const char *id, const en_sim_tag_t *tags, size_t count,
           en_err_t *err)
{
    if (count == 0)
        return 0;
    sqlite3_stmt *stmt;
    if (sim_prepare(self,
                    "INSERT INTO tags (instance_id, seq, key, value) VALUES (?1,"
                    " (SELECT coalesce(max(seq), 0) + 1 FROM tags WHERE instance_id = ?1),"
                    " ?2, ?3) ON CONFLICT (instance_id, key) DO UPDATE SET value = excluded.value",
                    &stmt, err))
        return -1;
    int rc = SQLITE_DONE;
    sqlite3_bind_text(stmt, 1, id, -1, SQLITE_STATIC);
    for (size_t i = 0; i < count && rc == SQLITE_DONE; i++) {
        sqlite3_reset(stmt);
        sqlite3_bind_text(stmt, 2, tags[i].key, -1, SQLITE_STATIC);
        sqlite3_bind_text(stmt, 3, tags[i].value, -1, SQLITE_STATIC);
        rc = sqlite3_step(stmt);
    }
    sqlite3_finalize(stmt);
    if (rc != SQLITE_DONE)
        return sim_db_fail(self, rc, "writing tags", err);

    if (sim_prepare(self, "SELECT count(*) FROM tags WHERE instance_id = ?1", &stmt, err))
        return -1;
    sqlite3_bind_text(stmt, 1, id, -1, SQLITE_STATIC);
    rc = sqlite3_step(stmt);
    int64_t total = rc == SQLITE_ROW ? sqlite3_column_int64(stmt, 0) : 0;
    sqlite3_finalize(stmt);
    if (rc != SQLITE_ROW)
        return sim_db_fail(self, rc, "counting tags", err);
    if (total > EN_SIM_TAGS_MAX)
        return en_err_set(err, EN_NOT_VALID, "instance \"%s\" would have more than %d tags", id,
                          EN_SIM_TAGS_MAX);
    return 0;
}

//  Run a one-row query with text parameters. When a row comes back the
//  statement is returned in *row for the caller to read and finalize;
//  otherwise *row is NULL.
static int
s_lookup(en_sim_cloud_t *self, const char *sql, const char *a, const char *b, sqlite3_stmt **row,
         en_err_t *err)
{
    sqlite3_stmt *stmt;
    *row = NULL;
    if (sim_prepare(self, sql, &stmt, err))
        return -1;
    sqlite3_bind_text(stmt, 1, a, -1, SQLITE_STATIC);
    if (b)
        sqlite3_bind_text(stmt, 2, b, -1, SQLITE_STATIC);
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW) {
        *row = stmt;
        return 0;
    }
    sqlite3_finalize(stmt);
    if (rc != SQLITE_DONE)
        return sim_db_fail(self, rc, "lookup", err);
    return 0;
}

//  The zone to place into: the one asked for if it is in the region and
//  available, else the available zone of the region with fewest live
//  instances.
static int
s_pick_zone(en_sim_cloud_t *self, const char *region, const char *zone, char *out, size_t size,
            en_err_t *err)
{
    sqlite3_stmt *row;
    if (zone) {
        if (s_lookup(self, "SELECT available FROM zones WHERE name = ?1 AND region = ?2", zone,
                     region, &row, err))
            return -1;
        if (!row)
            return en_err_set(err, EN_NOT_VALID, "availability zone \"%s\" not valid", zone);
        bool available = sqlite3_column_int(row, 0) != 0;
        sqlite3_finalize(row);
        if (!available)
            return en_err_set(err, EN_UNAVAILABLE, "zone \"%s\" is unavailable", zone);
        snprintf(out, size, "%s", zone);
        return 0;
    }
    if (s_lookup(self,
                 "SELECT z.name FROM zones z WHERE z.region = ?1 AND z.available"
                 " ORDER BY (SELECT count(*) FROM instances i"
                 "           WHERE i.zone = z.name AND i.terminated_ms IS NULL), z.name"
                 " LIMIT 1",
                 region, NULL, &row, err))
        return -1;
    if (!row)
        return en_err_set(err, EN_UNAVAILABLE, "no available zones in region \"%s\"", region);
    sim_copy_text(out, size, row, 0);
    sqlite3_finalize(row);
    return 0;
}

//  A fresh "i-<16 hex>" not used in the database.
static int
s_new_id(en_sim_cloud_t *self, char id[19], en_err_t *err)
{
    for (int attempt = 0; attempt < 8; attempt++) {
        uint8_t bytes[8];
        if (getrandom(bytes, sizeof bytes, 0) != (ssize_t)sizeof bytes)
            return en_err_set(err, EN_INTERNAL, "no randomness for an instance id");
        snprintf(id, 19, "i-%02x%02x%02x%02x%02x%02x%02x%02x", bytes[0], bytes[1], bytes[2],
                 bytes[3], bytes[4], bytes[5], bytes[6], bytes[7]);
        sqlite3_stmt *row;
        if (s_lookup(self, "SELECT 1 FROM instances WHERE id = ?1", id, NULL, &row, err))
            return -1;
        if (!row)
            return 0;
        sqlite3_finalize(row);
    }
    return en_err_set(err, EN_INTERNAL, "cannot find an unused instance id");
}

//  The create transaction's body: checks, then the row, its address and tags.
static int
s_create_locked(en_sim_cloud_t *self, const char *region, const char *zone, const char *type,
                const char *name, const en_sim_tag_t *tags, size_t tag_count,
                const char *const *groups, size_t group_count, const char *const *subnets,
                size_t subnet_count, en_sim_instance_t *out, en_err_t *err)
{
    char id[19], placed[EN_SIM_NAME_MAX], subnet_zone[EN_SIM_NAME_MAX];
    sqlite3_stmt *spec = NULL, *stmt = NULL;
    int rc = -1;
    if (sim_region_index(self, region, NULL, err))
        goto cleanup;
    if (s_lookup(self,
                 "SELECT arch, cores, mem_mib, root_disk_mib, cpu_power FROM instance_types"
                 " WHERE region = ?1 AND name = ?2",
                 region, type, &spec, err))
        goto cleanup;
    if (!spec) {
        en_err_set(err, EN_NOT_VALID, "instance type \"%s\" not valid in region \"%s\"", type,
                   region);
        goto cleanup;
    }
    //  Like EC2's RunInstances with a subnet: the subnet decides the zone.
    if (!zone && subnet_count) {
        if (sim_subnet_zone(self, region, subnets[0], subnet_zone, sizeof subnet_zone, err))
            goto cleanup;
        zone = subnet_zone;
    }
    if (s_pick_zone(self, region, zone, placed, sizeof placed, err))
        goto cleanup;
    if (s_lookup(self,
                 "SELECT 1 FROM instances WHERE region = ?1 AND name = ?2"
                 " AND terminated_ms IS NULL",
                 region, name, &stmt, err))
        goto cleanup;
    if (stmt) {
        en_err_set(err, EN_ALREADY_EXISTS, "instance \"%s\" already exists", name);
        goto cleanup;
    }
    sqlite3_finalize(stmt);
    stmt = NULL;
    if (s_new_id(self, id, err))
        goto cleanup;
    if (sim_prepare(self,
                    "INSERT INTO instances (id, name, region, zone, instance_type, arch, cores,"
                    " mem_mib, root_disk_mib, cpu_power, created_ms)"
                    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                    &stmt, err))
        goto cleanup;
    sqlite3_bind_text(stmt, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 2, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 3, region, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 4, placed, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 5, type, -1, SQLITE_STATIC);
    for (int column = 0; column < 5; column++)
        sqlite3_bind_value(stmt, 6 + column, sqlite3_column_value(spec, column));
    sqlite3_bind_int64(stmt, 11, sim_now_ms());
    int step = sqlite3_step(stmt);
    if (step != SQLITE_DONE) {
        sim_db_fail(self, step, "inserting an instance", err);
        goto cleanup;
    }
    if (sim_nics_attach(self, region, id, placed, subnets, subnet_count, err) ||
        s_put_tags(self, id, tags, tag_count, err) ||
        sim_groups_join(self, region, id, groups, group_count, err))
        goto cleanup;

    //  Read back through the one row reader, so create answers exactly as
    //  describe will; the creator sees its instance at once.
    rc = sim_instance_load(self, id, out, err);
cleanup:
    sqlite3_finalize(spec);
    sqlite3_finalize(stmt);
    return rc;
}

static int
s_create(en_sim_cloud_t *self, const char *region, const char *zone, const char *type,
         const char *name, const en_sim_tag_t *tags, size_t tag_count, const char *const *groups,
         size_t group_count, const char *const *subnets, size_t subnet_count,
         en_sim_instance_t *out, en_err_t *err)
{
    if (subnet_count && !subnets)
        return en_err_set(err, EN_NOT_VALID, "subnets not specified");
    if (!type)
        return en_err_set(err, EN_NOT_VALID, "instance type not specified");
    if (!name || !*name || strlen(name) > S_NAME_MAX)
        return en_err_set(err, EN_NOT_VALID, "instance name \"%s\" not valid", name ? name : "");
    if (sim_check_tags(tags, tag_count, err) || sim_tx_write(self, err))
        return -1;
    if (s_create_locked(self, region, zone, type, name, tags, tag_count, groups, group_count,
                        subnets, subnet_count, out, err) ||
        sim_tx_commit(self, err)) {
        sim_tx_rollback(self);
        en_sim_instance_clear(out);
        return -1;
    }
    return 0;
}

int
en_sim_cloud_create(en_sim_cloud_t *self, const char *region, const char *zone,
                    const char *instance_type, const char *name, const en_sim_tag_t *tags,
                    size_t tag_count, en_sim_instance_t *out, en_err_t *err)
{
    return en_sim_cloud_create_in_groups(self, region, zone, instance_type, name, tags, tag_count,
                                         NULL, 0, out, err);
}

int
en_sim_cloud_create_in_groups(en_sim_cloud_t *self, const char *region, const char *zone,
                              const char *instance_type, const char *name,
                              const en_sim_tag_t *tags, size_t tag_count,
                              const char *const *groups, size_t group_count,
                              en_sim_instance_t *out, en_err_t *err)
{
    return en_sim_cloud_create_placed(self, region, zone, instance_type, name, tags, tag_count,
                                      groups, group_count, NULL, 0, out, err);
}

int
en_sim_cloud_create_placed(en_sim_cloud_t *self, const char *region, const char *zone,
                           const char *instance_type, const char *name, const en_sim_tag_t *tags,
                           size_t tag_count, const char *const *groups, size_t group_count,
                           const char *const *subnets, size_t subnet_count, en_sim_instance_t *out,
                           en_err_t *err)
{
    memset(out, 0, sizeof *out);
    if (sim_call_begin(self, "create", err))
        return -1;
    int rc = s_create(self, region, zone, instance_type, name, tags, tag_count, groups, group_count,
                      subnets, subnet_count, out, err);
    sim_call_end(self);
    return rc;
}

static int
s_terminate_locked(en_sim_cloud_t *self, const char *region, const char *const *ids,
                   size_t id_count, en_err_t *err)
{
    int64_t now = sim_now_ms(), retention;
    if (sim_region_index(self, region, NULL, err) ||
        sim_knob_int(self, "terminated_retention_ms", &retention, err))
        return -1;
    sqlite3_stmt *stmt;
    if (sim_prepare(self,
                    "UPDATE instances SET terminated_ms = ?3"
                    " WHERE region = ?1 AND id = ?2 AND terminated_ms IS NULL",
                    &stmt, err))
        return -1;
    int rc = SQLITE_DONE;
    sqlite3_bind_text(stmt, 1, region, -1, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 3, now);
    for (size_t i = 0; i < id_count && rc == SQLITE_DONE; i++) {
        if (!ids[i])
            continue;
        sqlite3_reset(stmt);
        sqlite3_bind_text(stmt, 2, ids[i], -1, SQLITE_STATIC);
        rc = sqlite3_step(stmt);
        //  Only an instance this call terminated gives up its addresses.
        if (rc == SQLITE_DONE && sqlite3_changes(self->db) == 1 &&
            sim_nics_release(self, ids[i], err)) {
            sqlite3_finalize(stmt);
            return -1;
        }
    }
    sqlite3_finalize(stmt);
    if (rc != SQLITE_DONE)
        return sim_db_fail(self, rc, "terminating", err);

    //  Forget instances terminated long ago (tags go with them), as EC2
    //  stops reporting them after about an hour.
    if (sim_prepare(self, "DELETE FROM instances WHERE terminated_ms < ?1", &stmt, err))
        return -1;
    sqlite3_bind_int64(stmt, 1, now - retention);
    rc = sqlite3_step(stmt);
    sqlite3_finalize(stmt);
    if (rc != SQLITE_DONE)
        return sim_db_fail(self, rc, "purging terminated instances", err);
    return 0;
}

static int
s_terminate(en_sim_cloud_t *self, const char *region, const char *const *ids, size_t id_count,
            en_err_t *err)
{
    if (id_count && !ids)
        return en_err_set(err, EN_NOT_VALID, "instance ids not specified");
    if (sim_tx_write(self, err))
        return -1;
    if (s_terminate_locked(self, region, ids, id_count, err)) {
        sim_tx_rollback(self);
        return -1;
    }
    return sim_tx_commit(self, err);
}

int
en_sim_cloud_terminate(en_sim_cloud_t *self, const char *region, const char *const *ids,
                       size_t id_count, en_err_t *err)
{
    if (sim_call_begin(self, "terminate", err))
        return -1;
    int rc = s_terminate(self, region, ids, id_count, err);
    sim_call_end(self);
    return rc;
}

static int
s_set_tags_locked(en_sim_cloud_t *self, const char *region, const char *id,
                  const en_sim_tag_t *tags, size_t tag_count, en_err_t *err)
{
    if (sim_region_index(self, region, NULL, err) || sim_instance_visible(self, region, id, err))
        return -1;
    return s_put_tags(self, id, tags, tag_count, err);
}

int
sim_instance_visible(en_sim_cloud_t *self, const char *region, const char *id, en_err_t *err)
{
    int64_t delay;
    if (sim_knob_int(self, "consistency_delay_ms", &delay, err))
        return -1;
    sqlite3_stmt *row;
    if (s_lookup(self,
                 "SELECT created_ms FROM instances"
                 " WHERE region = ?1 AND id = ?2 AND terminated_ms IS NULL",
                 region, id, &row, err))
        return -1;
    //  Like EC2's CreateTags right after RunInstances: not found yet.
    bool visible = row && sqlite3_column_int64(row, 0) + delay <= sim_now_ms();
    sqlite3_finalize(row);
    if (!visible)
        return en_err_set(err, EN_NOT_FOUND, "instance \"%s\" not found", id);
    return 0;
}

static int
s_set_tags(en_sim_cloud_t *self, const char *region, const char *id, const en_sim_tag_t *tags,
           size_t tag_count, en_err_t *err)
{
    if (!id)
        return en_err_set(err, EN_NOT_VALID, "instance id not specified");
    if (sim_check_tags(tags, tag_count, err) || sim_tx_write(self, err))
        return -1;
    if (s_set_tags_locked(self, region, id, tags, tag_count, err)) {
        sim_tx_rollback(self);
        return -1;
    }
    return sim_tx_commit(self, err);
}

int
en_sim_cloud_set_tags(en_sim_cloud_t *self, const char *region, const char *id,
                      const en_sim_tag_t *tags, size_t tag_count, en_err_t *err)
{
    if (sim_call_begin(self, "set_tags", err))
        return -1;
    int rc = s_set_tags(self, region, id, tags, tag_count, err);
    sim_call_end(self);
    return rc;
}
