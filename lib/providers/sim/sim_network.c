/*  sim_network.c — the sim cloud's networks as its API shows them: spaces,
    subnets, NICs, and container addresses.

    The seed (sim_cloud.c, migration 3) splits each region's /16 into
    subnets, one zone each, grouped into spaces. An instance gets its NICs
    in create's transaction (sim_nics.c); a container on an instance gets
    NICs with static addresses from the host's subnets here, through
    sim_nics.c's allocator. Reads run in one read transaction, so a space
    and its subnets, or an instance and its NICs, come from one snapshot.

    Container allocation is exactly once per (host, container tag,
    interface name), by a unique index: a resent request finds what the
    first one allocated and answers it unchanged, and the whole request is
    one write transaction, so it takes every address or none. Release
    deletes container NICs only; an instance's own NICs go with it. */
#include "providers/sim/sim_private.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  Offsets from the network address (sim_nics.c never hands out these).
#define S_GATEWAY 1
#define S_DNS 2

#define S_SUBNET_COLUMNS "s.id, s.region, s.zone, s.space_id, s.cidr, s.vlan_tag, s.network, s.mtu"
#define S_NIC_COLUMNS                                                                              \
    "n.id, n.region, n.instance_id, n.container_tag, n.device_index, n.interface_name,"            \
    " n.parent_interface_name, n.interface_type, n.config_type, n.mac, n.address, n.disabled,"     \
    " n.no_auto_start, n.mtu, " S_SUBNET_COLUMNS
#define S_NIC_FROM " FROM nics n JOIN subnets s ON s.id = n.subnet_id"

void
sim_ipv4_format(int64_t address, char *buf, size_t size)
{
    snprintf(buf, size, "%d.%d.%d.%d", (int)(address >> 24) & 0xff, (int)(address >> 16) & 0xff,
             (int)(address >> 8) & 0xff, (int)address & 0xff);
}

//  --- rows ---

//  Fill a subnet from S_SUBNET_COLUMNS starting at column `first`.
static void
s_fill_subnet(en_sim_subnet_t *subnet, sqlite3_stmt *stmt, int first)
{
    sim_copy_text(subnet->id, sizeof subnet->id, stmt, first);
    sim_copy_text(subnet->region, sizeof subnet->region, stmt, first + 1);
    sim_copy_text(subnet->zone, sizeof subnet->zone, stmt, first + 2);
    sim_copy_text(subnet->space_id, sizeof subnet->space_id, stmt, first + 3);
    sim_copy_text(subnet->cidr, sizeof subnet->cidr, stmt, first + 4);
    subnet->vlan_tag = sqlite3_column_int(stmt, first + 5);
    int64_t network = sqlite3_column_int64(stmt, first + 6);
    sim_ipv4_format(network + S_GATEWAY, subnet->gateway, sizeof subnet->gateway);
    sim_ipv4_format(network + S_DNS, subnet->dns, sizeof subnet->dns);
    snprintf(subnet->dns_search_domain, sizeof subnet->dns_search_domain, "%.48s.sim.internal",
             subnet->region);
    subnet->mtu = sqlite3_column_int(stmt, first + 7);
}

static void
s_fill_subnet_row(void *row, sqlite3_stmt *stmt)
{
    s_fill_subnet(row, stmt, 0);
}

static void
s_fill_nic(void *row, sqlite3_stmt *stmt)
{
    en_sim_nic_t *nic = row;
    sim_copy_text(nic->id, sizeof nic->id, stmt, 0);
    sim_copy_text(nic->region, sizeof nic->region, stmt, 1);
    sim_copy_text(nic->instance_id, sizeof nic->instance_id, stmt, 2);
    sim_copy_text(nic->container_tag, sizeof nic->container_tag, stmt, 3);
    nic->device_index = sqlite3_column_int(stmt, 4);
    sim_copy_text(nic->interface_name, sizeof nic->interface_name, stmt, 5);
    sim_copy_text(nic->parent_interface_name, sizeof nic->parent_interface_name, stmt, 6);
    sim_copy_text(nic->interface_type, sizeof nic->interface_type, stmt, 7);
    sim_copy_text(nic->config_type, sizeof nic->config_type, stmt, 8);
    sim_copy_text(nic->mac, sizeof nic->mac, stmt, 9);
    if (sqlite3_column_type(stmt, 10) != SQLITE_NULL)
        sim_ipv4_format(sqlite3_column_int64(stmt, 10), nic->address, sizeof nic->address);
    nic->disabled = sqlite3_column_int(stmt, 11) != 0;
    nic->no_auto_start = sqlite3_column_int(stmt, 12) != 0;
    nic->mtu = sqlite3_column_int(stmt, 13);
    s_fill_subnet(&nic->subnet, stmt, 14);
}

//  --- API: reads ---

//  Open a read transaction and check the region (and, unless NULL, that
//  the instance is visible).
static int
s_read_begin(en_sim_cloud_t *self, const char *region, const char *instance_id, en_err_t *err)
{
    if (sim_tx_read(self, err))
        return -1;
    if (sim_region_index(self, region, NULL, err) ||
        (instance_id && sim_instance_visible(self, region, instance_id, err))) {
        sim_tx_rollback(self);
        return -1;
    }
    return 0;
}

static int
s_subnets(en_sim_cloud_t *self, const char *region, const char *instance_id,
          en_sim_subnet_t **subnets, size_t *count, en_err_t *err)
{
    if (s_read_begin(self, region, instance_id, err))
        return -1;
    sqlite3_stmt *stmt;
    int rc = sim_prepare(self,
                         "SELECT " S_SUBNET_COLUMNS " FROM subnets s WHERE s.region = ?1"
                         " AND (?2 IS NULL OR EXISTS (SELECT 1 FROM nics n"
                         "      WHERE n.subnet_id = s.id AND n.instance_id = ?2"
                         "      AND n.container_tag IS NULL))"
                         " ORDER BY s.id",
                         &stmt, err);
    if (rc == 0) {
        sim_bind_text(stmt, region, instance_id, NULL, NULL);
        rc =
            sim_rows(self, stmt, s_fill_subnet_row, sizeof **subnets, (void **)subnets, count, err);
    }
    sim_tx_rollback(self);
    return rc;
}

int
en_sim_cloud_subnets(en_sim_cloud_t *self, const char *region, const char *instance_id,
                     en_sim_subnet_t **subnets, size_t *count, en_err_t *err)
{
    *subnets = NULL;
    *count = 0;
    if (sim_call_begin(self, "subnets", err))
        return -1;
    int rc = s_subnets(self, region, instance_id, subnets, count, err);
    sim_call_end(self);
    if (rc) {
        free(*subnets);
        *subnets = NULL;
        *count = 0;
    }
    return rc;
}

void
en_sim_spaces_free(en_sim_space_t **spaces_p, size_t count)
{
    if (!spaces_p || !*spaces_p)
        return;
    for (size_t i = 0; i < count; i++)
        free((*spaces_p)[i].subnets);
    free(*spaces_p);
    *spaces_p = NULL;
}

static void
s_fill_space(void *row, sqlite3_stmt *stmt)
{
    en_sim_space_t *space = row;
    sim_copy_text(space->id, sizeof space->id, stmt, 0);
    sim_copy_text(space->region, sizeof space->region, stmt, 1);
    sim_copy_text(space->name, sizeof space->name, stmt, 2);
}

static int
s_spaces(en_sim_cloud_t *self, const char *region, en_sim_space_t **spaces, size_t *count,
         en_err_t *err)
{
    if (s_read_begin(self, region, NULL, err))
        return -1;
    sqlite3_stmt *stmt;
    int rc = sim_prepare(
        self, "SELECT id, region, name FROM spaces WHERE region = ?1 ORDER BY name", &stmt, err);
    if (rc == 0) {
        sim_bind_text(stmt, region, NULL, NULL, NULL);
        rc = sim_rows(self, stmt, s_fill_space, sizeof **spaces, (void **)spaces, count, err);
    }
    for (size_t i = 0; rc == 0 && i < *count; i++) {
        en_sim_space_t *space = &(*spaces)[i];
        rc = sim_prepare(self,
                         "SELECT " S_SUBNET_COLUMNS " FROM subnets s WHERE s.space_id = ?1"
                         " ORDER BY s.id",
                         &stmt, err);
        if (rc == 0) {
            sim_bind_text(stmt, space->id, NULL, NULL, NULL);
            rc = sim_rows(self, stmt, s_fill_subnet_row, sizeof *space->subnets,
                          (void **)&space->subnets, &space->subnet_count, err);
        }
    }
    sim_tx_rollback(self);
    return rc;
}

int
en_sim_cloud_spaces(en_sim_cloud_t *self, const char *region, en_sim_space_t **spaces,
                    size_t *count, en_err_t *err)
{
    *spaces = NULL;
    *count = 0;
    if (sim_call_begin(self, "spaces", err))
        return -1;
    int rc = s_spaces(self, region, spaces, count, err);
    sim_call_end(self);
    if (rc) {
        en_sim_spaces_free(spaces, *count);
        *count = 0;
    }
    return rc;
}

//  Append the NICs of the region matching `where` (SQL that may end in
//  ORDER BY; parameters ?1 region, then ?2..?4) to *nics.
static int
s_nics(en_sim_cloud_t *self, const char *where, const char *region, const char *b, const char *c,
       const char *d, en_sim_nic_t **nics, size_t *count, en_err_t *err)
{
    char sql[1024];
    snprintf(sql, sizeof sql, "SELECT " S_NIC_COLUMNS S_NIC_FROM " WHERE n.region = ?1 AND %s",
             where);
    sqlite3_stmt *stmt;
    if (sim_prepare(self, sql, &stmt, err))
        return -1;
    sim_bind_text(stmt, region, b, c, d);
    return sim_rows(self, stmt, s_fill_nic, sizeof **nics, (void **)nics, count, err);
}

static int
s_interfaces(en_sim_cloud_t *self, const char *region, const char *instance_id, en_sim_nic_t **nics,
             size_t *count, en_err_t *err)
{
    if (!instance_id)
        return en_err_set(err, EN_NOT_VALID, "instance id not specified");
    if (s_read_begin(self, region, instance_id, err))
        return -1;
    int rc = s_nics(self, "n.instance_id = ?2 AND n.container_tag IS NULL ORDER BY n.device_index",
                    region, instance_id, NULL, NULL, nics, count, err);
    sim_tx_rollback(self);
    return rc;
}

int
en_sim_cloud_interfaces(en_sim_cloud_t *self, const char *region, const char *instance_id,
                        en_sim_nic_t **nics, size_t *count, en_err_t *err)
{
    *nics = NULL;
    *count = 0;
    if (sim_call_begin(self, "interfaces", err))
        return -1;
    int rc = s_interfaces(self, region, instance_id, nics, count, err);
    sim_call_end(self);
    if (rc) {
        free(*nics);
        *nics = NULL;
        *count = 0;
    }
    return rc;
}

int
en_sim_cloud_container_nics(en_sim_cloud_t *self, const char *region, en_sim_nic_t **nics,
                            size_t *count, en_err_t *err)
{
    *nics = NULL;
    *count = 0;
    if (s_read_begin(self, region, NULL, err))
        return -1;
    int rc = s_nics(self,
                    "n.container_tag IS NOT NULL"
                    " ORDER BY n.instance_id, n.container_tag, n.device_index",
                    region, NULL, NULL, NULL, nics, count, err);
    sim_tx_rollback(self);
    if (rc) {
        free(*nics);
        *nics = NULL;
        *count = 0;
    }
    return rc;
}

//  --- API: container addresses ---

static bool
s_given(const char *text)
{
    return text && *text;
}

//  "xx:xx:xx:xx:xx:xx", hex digits either case.
static bool
s_mac_valid(const char *mac)
{
    if (strlen(mac) != 17)
        return false;
    for (int i = 0; i < 17; i++)
        if (i % 3 == 2 ? mac[i] != ':' : !isxdigit((unsigned char)mac[i]))
            return false;
    return true;
}

//  The request as a whole, before the transaction: every entry named
//  (once, within bounds), one of them eth0, whose index goes to *primary.
static int
s_check_prepared(const char *host_id, const char *container_tag,
                 const en_sim_prepared_nic_t *prepared, size_t count, size_t *primary,
                 en_err_t *err)
{
    if (!s_given(host_id))
        return en_err_set(err, EN_NOT_VALID, "instance id not specified");
    if (!s_given(container_tag) || strlen(container_tag) >= EN_SIM_CONTAINER_TAG_MAX)
        return en_err_set(err, EN_NOT_VALID, "container tag \"%s\" not valid",
                          container_tag ? container_tag : "");
    if (count == 0 || !prepared)
        return en_err_set(err, EN_NOT_VALID, "no prepared info to allocate");
    *primary = count;
    for (size_t i = 0; i < count; i++) {
        const en_sim_prepared_nic_t *p = &prepared[i];
        if (!s_given(p->interface_name) || strlen(p->interface_name) >= EN_SIM_NAME_MAX)
            return en_err_set(err, EN_NOT_VALID, "interface name \"%s\" not valid",
                              p->interface_name ? p->interface_name : "");
        if (s_given(p->parent_interface_name) &&
            strlen(p->parent_interface_name) >= EN_SIM_NAME_MAX)
            return en_err_set(err, EN_NOT_VALID, "parent interface name \"%s\" not valid",
                              p->parent_interface_name);
        if (s_given(p->mac) && !s_mac_valid(p->mac))
            return en_err_set(err, EN_NOT_VALID, "MAC address \"%s\" not valid", p->mac);
        if (p->mtu < 0)
            return en_err_set(err, EN_NOT_VALID, "MTU %d not valid", p->mtu);
        for (size_t j = 0; j < i; j++)
            if (strcmp(prepared[j].interface_name, p->interface_name) == 0)
                return en_err_set(err, EN_NOT_VALID, "interface \"%s\" given twice",
                                  p->interface_name);
        if (strcmp(p->interface_name, "eth0") == 0)
            *primary = i;
    }
    if (*primary == count)
        return en_err_set(err, EN_NOT_VALID, "cannot find primary interface for container");
    return 0;
}

//  The subnet of one entry, which must be one the host has a NIC in; the
//  name of the host's NIC there goes to host_nic.
static int
s_entry_subnet(en_sim_cloud_t *self, const char *region, const char *host_id,
               const en_sim_prepared_nic_t *p, char subnet[EN_SIM_NAME_MAX],
               char host_nic[EN_SIM_NAME_MAX], en_err_t *err)
{
    bool found = false;
    if (s_given(p->subnet_id))
        snprintf(subnet, EN_SIM_NAME_MAX, "%s", p->subnet_id);
    else if (s_given(p->cidr) &&
             sim_lookup_text(self, "SELECT id FROM subnets WHERE region = ?1 AND cidr = ?2", region,
                             p->cidr, NULL, subnet, EN_SIM_NAME_MAX, &found, err))
        return -1;
    //  Like MAAS: an unknown CIDR falls back to the primary's network.
    if (!s_given(p->subnet_id) && !found &&
        sim_lookup_text(self,
                        "SELECT subnet_id FROM nics WHERE instance_id = ?1"
                        " AND container_tag IS NULL ORDER BY device_index LIMIT 1",
                        host_id, NULL, NULL, subnet, EN_SIM_NAME_MAX, &found, err))
        return -1;
    if (sim_lookup_text(self,
                        "SELECT interface_name FROM nics WHERE instance_id = ?1"
                        " AND container_tag IS NULL AND subnet_id = ?2"
                        " ORDER BY device_index LIMIT 1",
                        host_id, subnet, NULL, host_nic, EN_SIM_NAME_MAX, &found, err))
        return -1;
    if (!found)
        return en_err_set(err, EN_NOT_VALID, "subnet \"%s\" is not on host \"%s\"", subnet,
                          host_id);
    return 0;
}

//  One entry, unless (host, tag, name) already has its NIC.
static int
s_allocate_entry(en_sim_cloud_t *self, const char *region, const char *host_id,
                 const char *container_tag, const en_sim_prepared_nic_t *p, int device_index,
                 en_err_t *err)
{
    bool found;
    if (sim_lookup_text(self,
                        "SELECT 1 FROM nics WHERE instance_id = ?1 AND container_tag = ?2"
                        " AND interface_name = ?3",
                        host_id, container_tag, p->interface_name, NULL, 0, &found, err))
        return -1;
    if (found)
        return 0;
    char subnet[EN_SIM_NAME_MAX], host_nic[EN_SIM_NAME_MAX], bridge[EN_SIM_NAME_MAX + 3];
    if (s_entry_subnet(self, region, host_id, p, subnet, host_nic, err))
        return -1;
    if (s_given(p->mac)) {
        if (sim_lookup_text(self, "SELECT 1 FROM nics WHERE mac = ?1 COLLATE NOCASE", p->mac, NULL,
                            NULL, NULL, 0, &found, err))
            return -1;
        if (found)
            return en_err_set(err, EN_NOT_VALID, "MAC address \"%s\" already in use", p->mac);
    }
    snprintf(bridge, sizeof bridge, "br-%s", host_nic);
    sim_nic_spec_t spec = {
        .region = region,
        .instance_id = host_id,
        .container_tag = container_tag,
        .device_index = device_index,
        .interface_name = p->interface_name,
        .mac = p->mac,
        .subnet_id = subnet,
        .parent_interface_name =
            s_given(p->parent_interface_name) ? p->parent_interface_name : bridge,
        .config_type = "static",
        .disabled = p->disabled,
        .no_auto_start = p->no_auto_start,
        .mtu = p->mtu,
    };
    return sim_nic_insert(self, &spec, err);
}

//  The prepared entry at device index k: eth0 first, then the others in
//  the order given.
static size_t
s_device_entry(size_t k, size_t primary)
{
    return k == 0 ? primary : k <= primary ? k - 1 : k;
}

static int
s_allocate_locked(en_sim_cloud_t *self, const char *region, const char *host_id,
                  const char *container_tag, const en_sim_prepared_nic_t *prepared, size_t count,
                  size_t primary, en_sim_nic_t **nics, size_t *nic_count, en_err_t *err)
{
    if (sim_region_index(self, region, NULL, err) ||
        sim_instance_visible(self, region, host_id, err))
        return -1;
    for (size_t k = 0; k < count; k++)
        if (s_allocate_entry(self, region, host_id, container_tag,
                             &prepared[s_device_entry(k, primary)], (int)k, err))
            return -1;
    //  Answer what is stored, so a resend sees exactly the first answer.
    for (size_t k = 0; k < count; k++)
        if (s_nics(self, "n.instance_id = ?2 AND n.container_tag = ?3 AND n.interface_name = ?4",
                   region, host_id, container_tag,
                   prepared[s_device_entry(k, primary)].interface_name, nics, nic_count, err))
            return -1;
    return 0;
}

int
en_sim_cloud_allocate_container_addresses(en_sim_cloud_t *self, const char *region,
                                          const char *host_id, const char *container_tag,
                                          const en_sim_prepared_nic_t *prepared,
                                          size_t prepared_count, en_sim_nic_t **nics, size_t *count,
                                          en_err_t *err)
{
    *nics = NULL;
    *count = 0;
    if (sim_call_begin(self, "allocate_container_addresses", err))
        return -1;
    size_t primary = 0;
    int rc = -1;
    if (s_check_prepared(host_id, container_tag, prepared, prepared_count, &primary, err) == 0 &&
        sim_tx_write(self, err) == 0) {
        rc = s_allocate_locked(self, region, host_id, container_tag, prepared, prepared_count,
                               primary, nics, count, err);
        if (rc == 0)
            rc = sim_tx_commit(self, err);
        else
            sim_tx_rollback(self);
    }
    sim_call_end(self);
    if (rc) {
        free(*nics);
        *nics = NULL;
        *count = 0;
    }
    return rc;
}

static int
s_release_locked(en_sim_cloud_t *self, const char *region, const en_sim_nic_ref_t *refs,
                 size_t count, en_err_t *err)
{
    if (sim_region_index(self, region, NULL, err))
        return -1;
    for (size_t i = 0; i < count; i++) {
        bool by_id = s_given(refs[i].provider_id);
        if (!by_id && !s_given(refs[i].mac))
            continue;
        if (sim_run(self,
                    by_id ? "DELETE FROM nics WHERE region = ?1 AND id = ?2"
                            " AND container_tag IS NOT NULL"
                          : "DELETE FROM nics WHERE region = ?1 AND mac = ?2 COLLATE NOCASE"
                            " AND container_tag IS NOT NULL",
                    region, by_id ? refs[i].provider_id : refs[i].mac, NULL, err))
            return -1;
    }
    return 0;
}

int
en_sim_cloud_release_container_addresses(en_sim_cloud_t *self, const char *region,
                                         const en_sim_nic_ref_t *refs, size_t ref_count,
                                         en_err_t *err)
{
    if (sim_call_begin(self, "release_container_addresses", err))
        return -1;
    int rc = -1;
    if (ref_count && !refs)
        en_err_set(err, EN_NOT_VALID, "NICs not specified");
    else if (sim_tx_write(self, err) == 0) {
        rc = s_release_locked(self, region, refs, ref_count, err);
        if (rc == 0)
            rc = sim_tx_commit(self, err);
        else
            sim_tx_rollback(self);
    }
    sim_call_end(self);
    return rc;
}
