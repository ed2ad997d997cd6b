/*  sim_private.h — what the files of the sim cloud share, and nobody else.

    The sim cloud is split by topic: sim_cloud.c opens the database, owns the
    schema, the seed and the transaction helpers; sim_calls.c is the one
    gate every API call passes (latency, failure injection, the concurrency
    limit, call counters); sim_knobs.c stores and validates knobs;
    sim_catalog.c answers regions, zones and instance types; sim_instances.c
    changes instances and sim_describe.c reads them back; sim_groups.c keeps
    security groups, their rules and memberships; sim_nics.c allocates NICs
    and addresses and sim_network.c answers the network API; sim_images.c
    publishes the cloud's image metadata. Functions shared between
    those files are named sim_<verb>; statics stay s_<verb>. */
#ifndef EN_SIM_PRIVATE_H
#define EN_SIM_PRIVATE_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/cloudfile.h"
#include "common/err.h"
#include "providers/sim/sim_cloud.h"

struct _en_sim_cloud_t {
    sqlite3 *db;
    char *path;
    unsigned seed;     //  jitter for busy retries (rand_r)
    int64_t busy_ms;   //  when the current wait for a lock began
    int64_t lease_id;  //  concurrency slot held by the call in progress, 0 none
    int64_t orphan_id; //  a slot whose release failed; released by the next call
    int64_t pid;       //  this process, as written into the slots it leases
    int64_t pid_start; //  its start time in clock ticks since boot, 0 unknown
    char pid_ns[64];   //  its pid namespace ("pid:[4026531836]"), "" unknown
};

//  How long a handle waits for the database lock before it reports
//  UNAVAILABLE. Also the SQLite busy_timeout.
#define SIM_BUSY_MS 10000

//  --- sim_cloud.c: database helpers ---

int64_t sim_now_ms(void);
void sim_sleep_ms(int64_t ms);

//  Turn the handle's last SQLite error into an en_err_t; returns -1.
int sim_db_fail(en_sim_cloud_t *self, int rc, const char *what, en_err_t *err);

int sim_prepare(en_sim_cloud_t *self, const char *sql, sqlite3_stmt **stmt, en_err_t *err);

//  Run a statement that returns no rows to completion.
int sim_exec(en_sim_cloud_t *self, const char *sql, en_err_t *err);

//  BEGIN IMMEDIATE (writes) or BEGIN (a consistent snapshot for reads),
//  retrying while the database is busy; then COMMIT (retrying) or ROLLBACK.
//  A failed commit rolls back.
int sim_tx_write(en_sim_cloud_t *self, en_err_t *err);
int sim_tx_read(en_sim_cloud_t *self, en_err_t *err);
int sim_tx_commit(en_sim_cloud_t *self, en_err_t *err);
void sim_tx_rollback(en_sim_cloud_t *self);

//  Make room for one more element in a growing array; -1 when out of memory.
int sim_grow(void **array, size_t *capacity, size_t count, size_t size);

//  Copy a text column into a fixed buffer ("" for NULL).
void sim_copy_text(char *dst, size_t size, sqlite3_stmt *stmt, int column);

//  --- sim_calls.c: the gate every API call passes ---

//  Count the call, then apply the concurrency limit, latency and failure
//  injection for `method`. On success the caller does its work and then
//  calls sim_call_end, which frees the concurrency slot.
int sim_call_begin(en_sim_cloud_t *self, const char *method, en_err_t *err);
void sim_call_end(en_sim_cloud_t *self);

//  Learn this process's identity and register the SQL functions the slot
//  table needs; called once by open.
int sim_calls_init(en_sim_cloud_t *self, en_err_t *err);

//  Free a slot whose release failed earlier; called by close.
void sim_calls_close(en_sim_cloud_t *self);

//  Whether `method` names a cloud API method.
bool sim_method_known(const char *method);

//  --- sim_compute.c ---

//  The database of the cloud spec names: its endpoint when set, else
//  <home>/sim/<cloud-name>.db (home NULL: en_home(); the directory is
//  made). Shared by compute's open and the image metadata (sim_images.c).
int sim_spec_db_path(const en_cloud_spec_t *spec, const char *home, char *path, size_t size,
                     en_err_t *err);

//  --- sim_knobs.c ---

//  An integer knob (its default when unset), read inside the caller's
//  transaction.
int sim_knob_int(en_sim_cloud_t *self, const char *key, int64_t *value, en_err_t *err);

//  A parsed `fail.<method>` value; count 0 means every call fails.
typedef struct {
    en_kind_t kind;
    int64_t count;
    char message[EN_ERR_MSG_MAX];
} sim_fail_t;

int sim_fail_parse(const char *value, sim_fail_t *fail, en_err_t *err);
void sim_fail_format(const sim_fail_t *fail, char *buf, size_t size);

//  --- sim_instances.c ---

//  Tags as create and set_tags accept them (count, sizes, duplicate keys).
int sim_check_tags(const en_sim_tag_t *tags, size_t count, en_err_t *err);

//  NOT_FOUND `instance "<id>" not found` unless id is a live instance of
//  the region past its consistency delay (what describe would report);
//  inside the caller's transaction.
int sim_instance_visible(en_sim_cloud_t *self, const char *region, const char *id, en_err_t *err);

//  --- sim_nics.c (inside the caller's write transaction) ---

//  Bind text parameters ?1..?4 (NULL: leave SQL NULL).
void sim_bind_text(sqlite3_stmt *stmt, const char *a, const char *b, const char *c, const char *d);

//  Run a one-row query with text parameters ?1..?3 and copy its first
//  column into out (unless NULL; "" when there is no row); *found says
//  whether there was a row.
int sim_lookup_text(en_sim_cloud_t *self, const char *sql, const char *a, const char *b,
                    const char *c, char *out, size_t size, bool *found, en_err_t *err);

//  Run a statement with text parameters ?1..?3 that returns no rows.
int sim_run(en_sim_cloud_t *self, const char *sql, const char *a, const char *b, const char *c,
            en_err_t *err);

//  A NIC to insert (sim_nic_insert). address 0 allocates one from the subnet; mac NULL or
//  "" makes one up.
typedef struct {
    const char *region;
    const char *instance_id;
    const char *container_tag; //  NULL: the instance's own NIC
    int device_index;
    const char *interface_name;
    const char *mac;
    const char *subnet_id;
    int64_t address;
    const char *parent_interface_name;
    const char *config_type;
    bool disabled;
    bool no_auto_start;
    int mtu; //  0: the subnet's
} sim_nic_spec_t;

//  Insert a NIC, with a fresh id, and a MAC and an address unless given.
int sim_nic_insert(en_sim_cloud_t *self, const sim_nic_spec_t *spec, en_err_t *err);

//  The zone of a subnet of the region; NOT_VALID `subnet "<s>" not found`.
int sim_subnet_zone(en_sim_cloud_t *self, const char *region, const char *subnet, char *zone,
                    size_t size, en_err_t *err);

//  Create's NICs for a new instance in zone: one per subnet, device 0
//  first, or one in the zone's default subnet when there are none.
int sim_nics_attach(en_sim_cloud_t *self, const char *region, const char *instance_id,
                    const char *zone, const char *const *subnets, size_t subnet_count,
                    en_err_t *err);

//  Terminate's part: release the instance's addresses and delete the NICs
//  of the containers on it.
int sim_nics_release(en_sim_cloud_t *self, const char *instance_id, en_err_t *err);

//  Migration 3: each live instance's addr_host becomes a device-0 NIC
//  keeping that address, in the subnet that contains it.
int sim_nics_convert(en_sim_cloud_t *self, en_err_t *err);

//  --- sim_network.c ---

//  "a.b.c.d" of an IPv4 address held as an integer.
void sim_ipv4_format(int64_t address, char *buf, size_t size);

//  --- sim_groups.c ---

//  Put a new instance in the named groups of its region, inside create's
//  transaction; NOT_FOUND `security group "<g>" not found`.
int sim_groups_join(en_sim_cloud_t *self, const char *region, const char *instance_id,
                    const char *const *groups, size_t group_count, en_err_t *err);

//  --- sim_describe.c ---

//  Tag filters (key, and value unless NULL), as list and list_groups take
//  them: checked; turned into SQL, head then one " AND EXISTS (SELECT 1
//  FROM <tags> AND t.key = ... )" per filter then tail, where <tags>
//  names the tag table as t and ties it to the row ("tags t WHERE
//  t.instance_id = i.id"), and the filters are parameters from ?first on;
//  and bound (NULL from sim_filter_sql when out of memory).
int sim_filters_check(const en_sim_tag_t *filters, size_t filter_count, en_err_t *err);
char *sim_filter_sql(const char *head, const char *tags, int first, size_t filter_count,
                     const char *tail);
void sim_filters_bind(sqlite3_stmt *stmt, int first, const en_sim_tag_t *filters,
                      size_t filter_count);

//  One instance by id as its creator sees it: consistency delay ignored.
int sim_instance_load(en_sim_cloud_t *self, const char *id, en_sim_instance_t *out, en_err_t *err);

//  --- sim_catalog.c ---

//  Step a bound statement to its end, appending one `size`-byte row per
//  result, zeroed then filled by fill, to *rows (which may already hold
//  *count rows). Finalizes stmt.
int sim_rows(en_sim_cloud_t *self, sqlite3_stmt *stmt, void (*fill)(void *, sqlite3_stmt *),
             size_t size, void **rows, size_t *count, en_err_t *err);

//  The region's index (its 10.<index>.0.0/16), NOT_VALID when unknown.
int sim_region_index(en_sim_cloud_t *self, const char *region, int *index, en_err_t *err);

#endif
