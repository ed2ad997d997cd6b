/*  sim_nics.c — NICs and their addresses: allocation, and what create,
    terminate and migration 3 do to NICs.

    A NIC's address is an integer; the database's partial unique index on
    (subnet, address) is what guarantees no address is ever held twice,
    across instances and containers and across processes; the allocator
    only finds the free one that will not trip it. Allocation is AWS's:
    the network address, the three after it (gateway, DNS, reserved) and
    the broadcast address are never handed out. Each subnet searches from
    its own cursor (next_host) and wraps once, so a released address is
    reused only after the subnet has gone round, as clouds avoid handing an
    address straight to a new owner. Everything runs inside the caller's
    BEGIN IMMEDIATE transaction.

    Terminating an instance frees its addresses (its NICs stay, addressless,
    while the instance is still described) and deletes the NICs of the
    containers on it, so their addresses are free at once. */
#include "providers/sim/sim_private.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

//  .0 network, .1 gateway, .2 DNS, .3 reserved: the first host is .4.
#define S_HOST_FIRST 4

void
sim_bind_text(sqlite3_stmt *stmt, const char *a, const char *b, const char *c, const char *d)
{
    const char *values[] = {a, b, c, d};
    for (int i = 0; i < 4; i++)
        if (values[i])
            sqlite3_bind_text(stmt, i + 1, values[i], -1, SQLITE_STATIC);
}

int
sim_lookup_text(en_sim_cloud_t *self, const char *sql, const char *a, const char *b, const char *c,
                char *out, size_t size, bool *found, en_err_t *err)
{
    sqlite3_stmt *stmt;
    if (sim_prepare(self, sql, &stmt, err))
        return -1;
    sim_bind_text(stmt, a, b, c, NULL);
    int rc = sqlite3_step(stmt);
    *found = rc == SQLITE_ROW;
    if (out)
        snprintf(out, size, "%s", "");
    if (*found && out)
        sim_copy_text(out, size, stmt, 0);
    sqlite3_finalize(stmt);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return sim_db_fail(self, rc, "reading networks", err);
    return 0;
}

int
sim_run(en_sim_cloud_t *self, const char *sql, const char *a, const char *b, const char *c,
        en_err_t *err)
{
    sqlite3_stmt *stmt;
    if (sim_prepare(self, sql, &stmt, err))
        return -1;
    sim_bind_text(stmt, a, b, c, NULL);
    int rc = sqlite3_step(stmt);
    sqlite3_finalize(stmt);
    if (rc != SQLITE_DONE)
        return sim_db_fail(self, rc, "changing NICs", err);
    return 0;
}

//  A fresh "eni-<16 hex>" id and, unless mac is NULL, a fresh locally
//  administered unicast MAC (02:xx:xx:xx:xx:xx), neither used yet.
static int
s_new_names(en_sim_cloud_t *self, char id[EN_SIM_NAME_MAX], char *mac, en_err_t *err)
{
    for (int attempt = 0; attempt < 8; attempt++) {
        uint8_t b[13];
        if (getrandom(b, sizeof b, 0) != (ssize_t)sizeof b)
            return en_err_set(err, EN_INTERNAL, "no randomness for a NIC id");
        snprintf(id, EN_SIM_NAME_MAX, "eni-%02x%02x%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2],
                 b[3], b[4], b[5], b[6], b[7]);
        if (mac)
            snprintf(mac, EN_SIM_NAME_MAX, "02:%02x:%02x:%02x:%02x:%02x", b[8], b[9], b[10], b[11],
                     b[12]);
        bool used;
        if (sim_lookup_text(self, "SELECT 1 FROM nics WHERE id = ?1 OR mac = ?2", id,
                            mac ? mac : "", NULL, NULL, 0, &used, err))
            return -1;
        if (!used)
            return 0;
    }
    return en_err_set(err, EN_INTERNAL, "cannot find an unused NIC id");
}

//  First free host offset in [from, last] of the subnet at network; 0 when
//  none. A gap starts at `from` itself or right after a used address.
static int
s_free_host(en_sim_cloud_t *self, const char *subnet, int64_t network, int64_t from, int64_t last,
            int64_t *host, en_err_t *err)
{
    sqlite3_stmt *stmt;
    if (sim_prepare(self,
                    "SELECT h FROM (SELECT ?2 AS h UNION ALL SELECT address - ?4 + 1 FROM nics"
                    "               WHERE subnet_id = ?1 AND address >= ?4 + ?2"
                    "               AND address < ?4 + ?3) c"
                    " WHERE NOT EXISTS (SELECT 1 FROM nics"
                    "                   WHERE subnet_id = ?1 AND address = ?4 + c.h)"
                    " ORDER BY h LIMIT 1",
                    &stmt, err))
        return -1;
    sqlite3_bind_text(stmt, 1, subnet, -1, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 2, from);
    sqlite3_bind_int64(stmt, 3, last);
    sqlite3_bind_int64(stmt, 4, network);
    int rc = sqlite3_step(stmt);
    *host = rc == SQLITE_ROW ? sqlite3_column_int64(stmt, 0) : 0;
    sqlite3_finalize(stmt);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return sim_db_fail(self, rc, "allocating an address", err);
    return 0;
}

//  The subnet's next free address, from its cursor, wrapping once; the
//  cursor moves past it. UNAVAILABLE when the subnet is full.
static int
s_allocate(en_sim_cloud_t *self, const char *subnet, int64_t *address, en_err_t *err)
{
    sqlite3_stmt *stmt;
    if (sim_prepare(self, "SELECT network, prefix, next_host FROM subnets WHERE id = ?1", &stmt,
                    err))
        return -1;
    sqlite3_bind_text(stmt, 1, subnet, -1, SQLITE_STATIC);
    int rc = sqlite3_step(stmt);
    int64_t network = 0, prefix = 32, next = 0;
    if (rc == SQLITE_ROW) {
        network = sqlite3_column_int64(stmt, 0);
        prefix = sqlite3_column_int64(stmt, 1);
        next = sqlite3_column_int64(stmt, 2);
    }
    sqlite3_finalize(stmt);
    if (rc != SQLITE_ROW)
        return rc == SQLITE_DONE ? en_err_set(err, EN_NOT_VALID, "subnet \"%s\" not found", subnet)
                                 : sim_db_fail(self, rc, "reading subnets", err);
    int64_t last = prefix >= 8 && prefix <= 30 ? (1LL << (32 - prefix)) - 2 : 0;
    if (next < S_HOST_FIRST || next > last)
        next = S_HOST_FIRST;
    int64_t host = 0;
    if (last >= S_HOST_FIRST && s_free_host(self, subnet, network, next, last, &host, err))
        return -1;
    if (host == 0 && next > S_HOST_FIRST &&
        s_free_host(self, subnet, network, S_HOST_FIRST, last, &host, err))
        return -1;
    if (host == 0)
        return en_err_set(err, EN_UNAVAILABLE, "insufficient free addresses in subnet \"%s\"",
                          subnet);
    if (sim_prepare(self, "UPDATE subnets SET next_host = ?2 WHERE id = ?1", &stmt, err))
        return -1;
    sqlite3_bind_text(stmt, 1, subnet, -1, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 2, host >= last ? S_HOST_FIRST : host + 1);
    rc = sqlite3_step(stmt);
    sqlite3_finalize(stmt);
    if (rc != SQLITE_DONE)
        return sim_db_fail(self, rc, "allocating an address", err);
    *address = network + host;
    return 0;
}

int
sim_nic_insert(en_sim_cloud_t *self, const sim_nic_spec_t *spec, en_err_t *err)
{
    char id[EN_SIM_NAME_MAX], mac[EN_SIM_NAME_MAX];
    bool have_mac = spec->mac && *spec->mac;
    int64_t address = spec->address;
    if (s_new_names(self, id, have_mac ? NULL : mac, err) ||
        (!address && s_allocate(self, spec->subnet_id, &address, err)))
        return -1;
    sqlite3_stmt *stmt;
    if (sim_prepare(self,
                    "INSERT INTO nics (id, region, instance_id, container_tag, device_index,"
                    " interface_name, mac, subnet_id, address, parent_interface_name,"
                    " config_type, interface_type, disabled, no_auto_start, mtu)"
                    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, 'ethernet', ?12, ?13,"
                    " CASE WHEN ?14 > 0 THEN ?14"
                    "      ELSE (SELECT mtu FROM subnets WHERE id = ?8) END)",
                    &stmt, err))
        return -1;
    sqlite3_bind_text(stmt, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 2, spec->region, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 3, spec->instance_id, -1, SQLITE_STATIC);
    if (spec->container_tag)
        sqlite3_bind_text(stmt, 4, spec->container_tag, -1, SQLITE_STATIC);
    sqlite3_bind_int(stmt, 5, spec->device_index);
    sqlite3_bind_text(stmt, 6, spec->interface_name, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 7, have_mac ? spec->mac : mac, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 8, spec->subnet_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 9, address);
    sqlite3_bind_text(stmt, 10, spec->parent_interface_name ? spec->parent_interface_name : "", -1,
                      SQLITE_STATIC);
    sqlite3_bind_text(stmt, 11, spec->config_type, -1, SQLITE_STATIC);
    sqlite3_bind_int(stmt, 12, spec->disabled);
    sqlite3_bind_int(stmt, 13, spec->no_auto_start);
    sqlite3_bind_int(stmt, 14, spec->mtu);
    int rc = sqlite3_step(stmt);
    sqlite3_finalize(stmt);
    if (rc != SQLITE_DONE)
        return sim_db_fail(self, rc, "inserting a NIC", err);
    return 0;
}

//  --- what create, terminate and migration 3 share ---

int
sim_subnet_zone(en_sim_cloud_t *self, const char *region, const char *subnet, char *zone,
                size_t size, en_err_t *err)
{
    bool found;
    if (sim_lookup_text(self, "SELECT zone FROM subnets WHERE id = ?1 AND region = ?2",
                        subnet ? subnet : "", region, NULL, zone, size, &found, err))
        return -1;
    if (!found)
        return en_err_set(err, EN_NOT_VALID, "subnet \"%s\" not found", subnet ? subnet : "");
    return 0;
}

int
sim_nics_attach(en_sim_cloud_t *self, const char *region, const char *instance_id, const char *zone,
                const char *const *subnets, size_t subnet_count, en_err_t *err)
{
    char fallback[EN_SIM_NAME_MAX];
    const char *const defaults[] = {fallback};
    if (subnet_count == 0) {
        bool found;
        if (sim_lookup_text(self, "SELECT id FROM subnets WHERE zone = ?1 AND is_default", zone,
                            NULL, NULL, fallback, sizeof fallback, &found, err))
            return -1;
        if (!found)
            return en_err_set(err, EN_UNAVAILABLE, "zone \"%s\" has no default subnet", zone);
        subnets = defaults;
        subnet_count = 1;
    }
    //  Check them all before taking any address, so a bad list is reported
    //  as such rather than as a full subnet.
    for (size_t i = 0; i < subnet_count; i++) {
        char in_zone[EN_SIM_NAME_MAX];
        if (sim_subnet_zone(self, region, subnets[i], in_zone, sizeof in_zone, err))
            return -1;
        if (strcmp(in_zone, zone) != 0)
            return en_err_set(err, EN_NOT_VALID, "subnet \"%s\" is not in zone \"%s\"", subnets[i],
                              zone);
        for (size_t j = 0; j < i; j++)
            if (strcmp(subnets[j], subnets[i]) == 0)
                return en_err_set(err, EN_NOT_VALID, "subnet \"%s\" given twice", subnets[i]);
    }
    for (size_t i = 0; i < subnet_count; i++) {
        char name[32];
        snprintf(name, sizeof name, "eth%zu", i);
        sim_nic_spec_t spec = {
            .region = region,
            .instance_id = instance_id,
            .device_index = (int)i,
            .interface_name = name,
            .subnet_id = subnets[i],
            .config_type = "dhcp",
        };
        if (sim_nic_insert(self, &spec, err))
            return -1;
    }
    return 0;
}

int
sim_nics_release(en_sim_cloud_t *self, const char *instance_id, en_err_t *err)
{
    return sim_run(self,
                   "UPDATE nics SET address = NULL"
                   " WHERE instance_id = ?1 AND container_tag IS NULL AND address IS NOT NULL",
                   instance_id, NULL, NULL, err) ||
                   sim_run(self,
                           "DELETE FROM nics WHERE instance_id = ?1 AND container_tag IS NOT NULL",
                           instance_id, NULL, NULL, err)
               ? -1
               : 0;
}

int
sim_nics_convert(en_sim_cloud_t *self, en_err_t *err)
{
    //  Read first, then write: the instances to convert, with the subnet
    //  of their address (the seed's subnets cover each region's /16).
    typedef struct {
        char id[EN_SIM_NAME_MAX];
        char region[EN_SIM_NAME_MAX];
        char subnet[EN_SIM_NAME_MAX];
        int64_t address;
    } s_old_t;
    s_old_t *old = NULL;
    size_t count = 0, capacity = 0;
    sqlite3_stmt *stmt;
    int rc = -1;
    if (sim_prepare(self,
                    "WITH a AS (SELECT i.rowid AS seq, i.id, i.region,"
                    "                  (10 << 24) | (r.idx << 16) | i.addr_host AS address"
                    "           FROM instances i JOIN regions r ON r.name = i.region"
                    "           WHERE i.addr_host IS NOT NULL AND i.terminated_ms IS NULL)"
                    " SELECT a.id, a.region, s.id, a.address FROM a"
                    " LEFT JOIN subnets s ON s.region = a.region AND s.network <= a.address"
                    "   AND a.address < s.network + (1 << (32 - s.prefix))"
                    " ORDER BY a.seq",
                    &stmt, err))
        return -1;
    int step;
    while ((step = sqlite3_step(stmt)) == SQLITE_ROW) {
        if (sim_grow((void **)&old, &capacity, count, sizeof *old)) {
            step = SQLITE_NOMEM;
            break;
        }
        s_old_t *o = &old[count++];
        sim_copy_text(o->id, sizeof o->id, stmt, 0);
        sim_copy_text(o->region, sizeof o->region, stmt, 1);
        sim_copy_text(o->subnet, sizeof o->subnet, stmt, 2);
        o->address = sqlite3_column_int64(stmt, 3);
    }
    sqlite3_finalize(stmt);
    if (step != SQLITE_DONE) {
        sim_db_fail(self, step, "reading instances to convert", err);
        goto cleanup;
    }
    for (size_t i = 0; i < count; i++) {
        if (!*old[i].subnet) {
            char address[EN_SIM_ADDR_MAX];
            sim_ipv4_format(old[i].address, address, sizeof address);
            en_err_set(err, EN_INTERNAL, "instance \"%s\": no subnet holds its address %s",
                       old[i].id, address);
            goto cleanup;
        }
        sim_nic_spec_t spec = {
            .region = old[i].region,
            .instance_id = old[i].id,
            .interface_name = "eth0",
            .subnet_id = old[i].subnet,
            .address = old[i].address,
            .config_type = "dhcp",
        };
        if (sim_nic_insert(self, &spec, err))
            goto cleanup;
    }
    rc = sim_exec(self, "UPDATE instances SET addr_host = NULL WHERE addr_host IS NOT NULL", err);
cleanup:
    free(old);
    return rc;
}
