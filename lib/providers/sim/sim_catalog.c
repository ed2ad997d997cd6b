/*  sim_catalog.c — the sim cloud's regions, zones and instance types.

    The catalogue is seeded with the schema and only zone availability
    changes afterwards, so reads here are single statements. Rows are flat
    structs with bounded names, returned as one malloc'd array the caller
    free()s. Each public function is a cloud API call: it passes the call
    gate (sim_call_begin) before its work and frees its slot after. */
#include "providers/sim/sim_private.h"

#include <stdlib.h>
#include <string.h>

int
sim_region_index(en_sim_cloud_t *self, const char *region, int *index, en_err_t *err)
{
    if (!region)
        return en_err_set(err, EN_NOT_VALID, "region not specified");
    sqlite3_stmt *stmt;
    if (sim_prepare(self, "SELECT idx FROM regions WHERE name = ?1", &stmt, err))
        return -1;
    sqlite3_bind_text(stmt, 1, region, -1, SQLITE_STATIC);
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW && index)
        *index = sqlite3_column_int(stmt, 0);
    sqlite3_finalize(stmt);
    if (rc == SQLITE_DONE)
        return en_err_set(err, EN_NOT_VALID, "region \"%s\" not valid", region);
    if (rc != SQLITE_ROW)
        return sim_db_fail(self, rc, "reading regions", err);
    return 0;
}

int
sim_rows(en_sim_cloud_t *self, sqlite3_stmt *stmt, void (*fill)(void *, sqlite3_stmt *),
         size_t size, void **rows, size_t *count, en_err_t *err)
{
    size_t capacity = *count;
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        if (sim_grow(rows, &capacity, *count, size)) {
            rc = SQLITE_NOMEM;
            break;
        }
        void *row = (char *)*rows + *count * size;
        memset(row, 0, size);
        fill(row, stmt);
        (*count)++;
    }
    sqlite3_finalize(stmt);
    if (rc != SQLITE_DONE)
        return sim_db_fail(self, rc, "reading rows", err);
    return 0;
}

//  Run a catalogue query (optionally bound to a region) and build an array
//  of `size`-byte rows with `fill`.
typedef void(s_fill_fn)(void *row, sqlite3_stmt *stmt);

static int
s_query(en_sim_cloud_t *self, const char *sql, const char *region, s_fill_fn *fill, size_t size,
        void **rows, size_t *count, en_err_t *err)
{
    *rows = NULL;
    *count = 0;
    sqlite3_stmt *stmt;
    if (sim_prepare(self, sql, &stmt, err))
        return -1;
    if (region)
        sqlite3_bind_text(stmt, 1, region, -1, SQLITE_STATIC);
    if (sim_rows(self, stmt, fill, size, rows, count, err)) {
        free(*rows);
        *rows = NULL;
        *count = 0;
        return -1;
    }
    return 0;
}

static void
s_fill_region(void *row, sqlite3_stmt *stmt)
{
    en_sim_region_t *region = row;
    sim_copy_text(region->name, sizeof region->name, stmt, 0);
    region->index = sqlite3_column_int(stmt, 1);
}

static void
s_fill_zone(void *row, sqlite3_stmt *stmt)
{
    en_sim_zone_t *zone = row;
    sim_copy_text(zone->name, sizeof zone->name, stmt, 0);
    sim_copy_text(zone->region, sizeof zone->region, stmt, 1);
    zone->available = sqlite3_column_int(stmt, 2) != 0;
}

static void
s_fill_type(void *row, sqlite3_stmt *stmt)
{
    en_sim_instance_type_t *type = row;
    sim_copy_text(type->name, sizeof type->name, stmt, 0);
    sim_copy_text(type->arch, sizeof type->arch, stmt, 1);
    type->cores = (uint64_t)sqlite3_column_int64(stmt, 2);
    type->mem_mib = (uint64_t)sqlite3_column_int64(stmt, 3);
    type->root_disk_mib = (uint64_t)sqlite3_column_int64(stmt, 4);
    type->cpu_power = (uint64_t)sqlite3_column_int64(stmt, 5);
    sim_copy_text(type->virt_type, sizeof type->virt_type, stmt, 6);
    type->cost = (uint64_t)sqlite3_column_int64(stmt, 7);
    type->deprecated = sqlite3_column_int(stmt, 8) != 0;
}

int
en_sim_cloud_regions(en_sim_cloud_t *self, en_sim_region_t **regions, size_t *count, en_err_t *err)
{
    *regions = NULL;
    *count = 0;
    if (sim_call_begin(self, "regions", err))
        return -1;
    int rc = s_query(self, "SELECT name, idx FROM regions ORDER BY idx", NULL, s_fill_region,
                     sizeof **regions, (void **)regions, count, err);
    sim_call_end(self);
    return rc;
}

int
en_sim_cloud_zones(en_sim_cloud_t *self, const char *region, en_sim_zone_t **zones, size_t *count,
                   en_err_t *err)
{
    *zones = NULL;
    *count = 0;
    if (sim_call_begin(self, "zones", err))
        return -1;
    int rc = sim_region_index(self, region, NULL, err);
    if (rc == 0)
        rc = s_query(self,
                     "SELECT name, region, available FROM zones WHERE region = ?1 ORDER BY name",
                     region, s_fill_zone, sizeof **zones, (void **)zones, count, err);
    sim_call_end(self);
    return rc;
}

int
en_sim_cloud_instance_types(en_sim_cloud_t *self, const char *region,
                            en_sim_instance_type_t **types, size_t *count, en_err_t *err)
{
    *types = NULL;
    *count = 0;
    if (sim_call_begin(self, "instance_types", err))
        return -1;
    int rc = sim_region_index(self, region, NULL, err);
    if (rc == 0)
        rc = s_query(self,
                     "SELECT name, arch, cores, mem_mib, root_disk_mib, cpu_power, virt_type,"
                     " cost, deprecated FROM instance_types WHERE region = ?1"
                     " ORDER BY cost, name",
                     region, s_fill_type, sizeof **types, (void **)types, count, err);
    sim_call_end(self);
    return rc;
}

static int
s_set_zone_available(en_sim_cloud_t *self, const char *zone, bool available, en_err_t *err)
{
    if (!zone)
        return en_err_set(err, EN_NOT_VALID, "availability zone not specified");
    sqlite3_stmt *stmt;
    if (sim_prepare(self, "UPDATE zones SET available = ?2 WHERE name = ?1", &stmt, err))
        return -1;
    sqlite3_bind_text(stmt, 1, zone, -1, SQLITE_STATIC);
    sqlite3_bind_int(stmt, 2, available);
    int rc = sqlite3_step(stmt);
    sqlite3_finalize(stmt);
    if (rc != SQLITE_DONE)
        return sim_db_fail(self, rc, "updating a zone", err);
    if (sqlite3_changes(self->db) == 0)
        return en_err_set(err, EN_NOT_VALID, "availability zone \"%s\" not valid", zone);
    return 0;
}

int
en_sim_cloud_set_zone_available(en_sim_cloud_t *self, const char *zone, bool available,
                                en_err_t *err)
{
    if (sim_call_begin(self, "set_zone_available", err))
        return -1;
    int rc = s_set_zone_available(self, zone, available, err);
    sim_call_end(self);
    return rc;
}
