/*  sim_cloud.c — opening the sim cloud's database: schema, seed, transactions.

    The cloud is one SQLite file shared by every process that opens it. We
    run it in WAL mode, so readers never block the one writer and a reader
    always sees a consistent snapshot, with synchronous=FULL, so a
    committed change survives a power cut as it would in a real cloud's
    control plane, and with foreign keys on.

    Schema changes are migrations: an ordered table of steps, each taking
    the database from user_version i to i + 1 (PRAGMA user_version is the
    schema version). Step 1 creates the tables and seeds the regions, zones
    and instance-type catalogue; step 2 adds security groups; step 3 adds
    spaces, subnets and NICs, and moves the addresses of existing instances
    onto NICs. Open runs the missing steps in ONE
    BEGIN IMMEDIATE transaction that first re-reads the version, so when two
    processes race on a fresh file, one migrates and seeds and the other
    finds the work done: the seed is present exactly once. application_id
    marks the file as a sim cloud, so a stray SQLite file is refused rather
    than grafted onto.

    Every change elsewhere runs in BEGIN IMMEDIATE, which takes the write
    lock up front; a transaction that starts as a reader and later writes
    could fail with SQLITE_BUSY_SNAPSHOT halfway, and retrying half a change
    is how updates get lost. Busy waits use our own busy handler (short
    jittered retries, see s_busy) and, for the busy results SQLite reports
    without waiting, our own jittered retry. */
#include "providers/sim/sim_private.h"

#include "common/clock.h"
#include "common/sqlbusy.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

//  'ensi' — marks a database as a sim cloud.
#define SIM_APPLICATION_ID 0x656e7369

static const char s_schema_v1[] =
    "CREATE TABLE regions ("
    "  name TEXT PRIMARY KEY,"
    "  idx INTEGER NOT NULL UNIQUE," //  10.<idx>.0.0/16
    "  next_host INTEGER NOT NULL"   //  where the next address search starts
    ");"
    "CREATE TABLE zones ("
    "  name TEXT PRIMARY KEY,"
    "  region TEXT NOT NULL REFERENCES regions(name),"
    "  available INTEGER NOT NULL DEFAULT 1"
    ");"
    "CREATE TABLE instance_types ("
    "  region TEXT NOT NULL REFERENCES regions(name),"
    "  name TEXT NOT NULL,"
    "  arch TEXT NOT NULL,"
    "  cores INTEGER NOT NULL,"
    "  mem_mib INTEGER NOT NULL,"
    "  root_disk_mib INTEGER NOT NULL,"
    "  cpu_power INTEGER NOT NULL,"
    "  virt_type TEXT NOT NULL,"
    "  cost INTEGER NOT NULL,"
    "  deprecated INTEGER NOT NULL DEFAULT 0,"
    "  PRIMARY KEY (region, name)"
    ");"
    "CREATE TABLE instances ("
    "  id TEXT PRIMARY KEY,"
    "  name TEXT NOT NULL,"
    "  region TEXT NOT NULL REFERENCES regions(name),"
    "  zone TEXT NOT NULL REFERENCES zones(name),"
    "  instance_type TEXT NOT NULL,"
    "  arch TEXT NOT NULL,"
    "  cores INTEGER NOT NULL,"
    "  mem_mib INTEGER NOT NULL,"
    "  root_disk_mib INTEGER NOT NULL,"
    "  cpu_power INTEGER NOT NULL,"
    "  addr_host INTEGER," //  host number in the region's /16; NULL once released
    "  created_ms INTEGER NOT NULL,"
    "  terminated_ms INTEGER"
    ");"
    //  The invariants hold in the database itself, whatever a process does.
    "CREATE UNIQUE INDEX instances_live_name ON instances(region, name)"
    "  WHERE terminated_ms IS NULL;"
    "CREATE UNIQUE INDEX instances_live_addr ON instances(region, addr_host)"
    "  WHERE addr_host IS NOT NULL;"
    //  Index entries end with the rowid, so this also yields a region's
    //  instances oldest first.
    "CREATE INDEX instances_by_region ON instances(region);"
    "CREATE TABLE tags ("
    "  instance_id TEXT NOT NULL REFERENCES instances(id) ON DELETE CASCADE,"
    "  seq INTEGER NOT NULL,"
    "  key TEXT NOT NULL,"
    "  value TEXT NOT NULL,"
    "  PRIMARY KEY (instance_id, key)"
    ") WITHOUT ROWID;"
    "CREATE INDEX tags_by_value ON tags(key, value);"
    "CREATE TABLE knobs (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE calls (method TEXT PRIMARY KEY, count INTEGER NOT NULL);"
    //  AUTOINCREMENT: a slot id is never reused, so releasing a stale id
    //  can never free somebody else's slot.
    "CREATE TABLE leases ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  method TEXT NOT NULL,"
    "  pid INTEGER NOT NULL,"
    "  pid_start INTEGER NOT NULL,"
    "  pid_ns TEXT NOT NULL,"
    "  acquired_ms INTEGER NOT NULL,"
    "  expires_ms INTEGER NOT NULL"
    ");"
    "CREATE TABLE stats (key TEXT PRIMARY KEY, value INTEGER NOT NULL);";

//  The seed: two regions, five zones, and a catalogue that mixes amd64 and
//  arm64, general, compute and memory shapes, and one deprecated type.
//  sim-west is 10% dearer and lacks the largest memory type, so code that
//  assumes every region has the same catalogue is caught.
static const struct {
    const char *name;
    int index;
} s_seed_regions[] = {{"sim-east", 1}, {"sim-west", 2}};

static const struct {
    const char *name;
    const char *region;
} s_seed_zones[] = {
    {"sim-east-a", "sim-east"}, {"sim-east-b", "sim-east"}, {"sim-east-c", "sim-east"},
    {"sim-west-a", "sim-west"}, {"sim-west-b", "sim-west"},
};

static const struct {
    const char *name;
    const char *arch;
    int cores, mem_mib, root_disk_mib, cpu_power, cost;
    bool deprecated;
    const char *only_region; //  NULL: every region
} s_seed_types[] = {
    {"t0.micro", "amd64", 1, 1024, 8192, 50, 10, true, NULL},
    {"s1.small", "amd64", 1, 2048, 8192, 100, 20, false, NULL},
    {"s1.medium", "amd64", 2, 4096, 16384, 200, 40, false, NULL},
    {"s1.large", "amd64", 4, 8192, 32768, 400, 80, false, NULL},
    {"s1.xlarge", "amd64", 8, 16384, 65536, 800, 160, false, NULL},
    {"c1.large", "amd64", 4, 4096, 32768, 500, 70, false, NULL},
    {"c1.xlarge", "amd64", 8, 8192, 65536, 1000, 140, false, NULL},
    {"m1.large", "amd64", 2, 16384, 32768, 200, 90, false, NULL},
    {"m1.xlarge", "amd64", 4, 32768, 65536, 400, 180, false, "sim-east"},
    {"a1.small", "arm64", 1, 2048, 8192, 100, 16, false, NULL},
    {"a1.medium", "arm64", 2, 4096, 16384, 200, 32, false, NULL},
    {"a1.large", "arm64", 4, 8192, 32768, 400, 64, false, NULL},
    {"a1.xlarge", "arm64", 8, 16384, 65536, 800, 128, false, NULL},
};

#define S_COUNT(a) (sizeof(a) / sizeof((a)[0]))

//  Security groups (sim_groups.c). A group's name is unique per region.
//  A rule is one range with one CIDR set, kept as the canonical CIDRs
//  sorted and joined by ',' ("0.0.0.0/0" when unrestricted), so "the same
//  rule" is a primary key. Memberships are written by create and outlive
//  termination (EC2 still describes a terminated instance's groups); only
//  a live member keeps a group in use.
static const char s_schema_v2[] =
    "CREATE TABLE groups ("
    "  id INTEGER PRIMARY KEY,"
    "  region TEXT NOT NULL REFERENCES regions(name),"
    "  name TEXT NOT NULL,"
    "  created_ms INTEGER NOT NULL,"
    "  UNIQUE (region, name)"
    ");"
    "CREATE TABLE group_tags ("
    "  group_id INTEGER NOT NULL REFERENCES groups(id) ON DELETE CASCADE,"
    "  seq INTEGER NOT NULL,"
    "  key TEXT NOT NULL,"
    "  value TEXT NOT NULL,"
    "  PRIMARY KEY (group_id, key)"
    ") WITHOUT ROWID;"
    "CREATE TABLE rules ("
    "  group_id INTEGER NOT NULL REFERENCES groups(id) ON DELETE CASCADE,"
    "  protocol TEXT NOT NULL,"
    "  from_port INTEGER NOT NULL,"
    "  to_port INTEGER NOT NULL,"
    "  cidrs TEXT NOT NULL,"
    "  PRIMARY KEY (group_id, protocol, from_port, to_port, cidrs)"
    ") WITHOUT ROWID;"
    "CREATE TABLE memberships ("
    "  instance_id TEXT NOT NULL REFERENCES instances(id) ON DELETE CASCADE,"
    "  group_id INTEGER NOT NULL REFERENCES groups(id) ON DELETE CASCADE,"
    "  seq INTEGER NOT NULL,"
    "  PRIMARY KEY (instance_id, group_id)"
    ") WITHOUT ROWID;"
    "CREATE INDEX memberships_by_group ON memberships(group_id);";

//  Networks (sim_network.c). A subnet is one zone's slice of its region's
//  /16, kept both as text (its CIDR, as callers name it) and as numbers
//  (network address, prefix) for allocation; next_host is where its next
//  address search starts, as an offset from the network address. A NIC
//  belongs to an instance, or to a container hosted on it (container_tag
//  set); its address is a 32-bit integer, NULL once released. The partial
//  unique indexes are the invariants: no address held twice in a subnet,
//  a container's interface allocated once, one device index per instance
//  NIC. addr_host, the region-wide allocation of versions 1 and 2, is
//  converted into device-0 NICs (s_seed_v3) and no longer used, nor is
//  regions.next_host.
static const char s_schema_v3[] =
    "CREATE TABLE spaces ("
    "  id TEXT PRIMARY KEY,"
    "  region TEXT NOT NULL REFERENCES regions(name),"
    "  name TEXT NOT NULL,"
    "  UNIQUE (region, name)"
    ");"
    "CREATE TABLE subnets ("
    "  id TEXT PRIMARY KEY,"
    "  region TEXT NOT NULL REFERENCES regions(name),"
    "  zone TEXT NOT NULL REFERENCES zones(name),"
    "  space_id TEXT NOT NULL REFERENCES spaces(id),"
    "  cidr TEXT NOT NULL UNIQUE,"
    "  network INTEGER NOT NULL,"
    "  prefix INTEGER NOT NULL,"
    "  vlan_tag INTEGER NOT NULL DEFAULT 0,"
    "  mtu INTEGER NOT NULL,"
    "  is_default INTEGER NOT NULL DEFAULT 0,"
    "  next_host INTEGER NOT NULL"
    ");"
    "CREATE UNIQUE INDEX subnets_zone_default ON subnets(zone) WHERE is_default;"
    "CREATE INDEX subnets_by_space ON subnets(space_id);"
    "CREATE TABLE nics ("
    "  id TEXT PRIMARY KEY,"
    "  region TEXT NOT NULL REFERENCES regions(name),"
    "  instance_id TEXT NOT NULL REFERENCES instances(id) ON DELETE CASCADE,"
    "  container_tag TEXT,"
    "  device_index INTEGER NOT NULL,"
    "  interface_name TEXT NOT NULL,"
    "  mac TEXT NOT NULL UNIQUE,"
    "  subnet_id TEXT NOT NULL REFERENCES subnets(id),"
    "  address INTEGER,"
    "  parent_interface_name TEXT NOT NULL DEFAULT '',"
    "  config_type TEXT NOT NULL,"
    "  interface_type TEXT NOT NULL DEFAULT 'ethernet',"
    "  disabled INTEGER NOT NULL DEFAULT 0,"
    "  no_auto_start INTEGER NOT NULL DEFAULT 0,"
    "  mtu INTEGER NOT NULL"
    ");"
    "CREATE UNIQUE INDEX nics_live_addr ON nics(subnet_id, address) WHERE address IS NOT NULL;"
    "CREATE UNIQUE INDEX nics_container_once ON nics(instance_id, container_tag, interface_name)"
    "  WHERE container_tag IS NOT NULL;"
    "CREATE UNIQUE INDEX nics_instance_device ON nics(instance_id, device_index)"
    "  WHERE container_tag IS NULL;"
    "CREATE INDEX nics_by_instance ON nics(instance_id, container_tag, device_index);"
    "CREATE INDEX nics_by_region ON nics(region, container_tag);"
    "DROP INDEX instances_live_addr;";

//  The seed's networks: spaces per region, and subnets that cover each
//  region's /16 exactly (so every address of a region, an old addr_host
//  included, lies in one subnet). A subnet is 10.<region idx>.<third>.0/
//  <prefix>; each zone's `internal` subnet is its default. Storage is a
//  VLAN with jumbo frames, as storage networks often are.
static const struct {
    const char *region;
    const char *name;
} s_seed_spaces[] = {
    {"sim-east", "internal"}, {"sim-east", "dmz"}, {"sim-east", "storage"},
    {"sim-west", "internal"}, {"sim-west", "dmz"},
};

static const struct {
    const char *zone;
    const char *space;
    int third, prefix, vlan_tag, mtu;
} s_seed_subnets[] = {
    {"sim-east-a", "internal", 0, 18, 0, 1500},   {"sim-east-b", "internal", 64, 18, 0, 1500},
    {"sim-east-c", "internal", 128, 18, 0, 1500}, {"sim-east-a", "dmz", 192, 20, 0, 1500},
    {"sim-east-b", "dmz", 208, 20, 0, 1500},      {"sim-east-c", "storage", 224, 20, 42, 9000},
    {"sim-east-a", "storage", 240, 20, 42, 9000}, {"sim-west-a", "internal", 0, 17, 0, 1500},
    {"sim-west-b", "internal", 128, 18, 0, 1500}, {"sim-west-b", "dmz", 192, 18, 0, 1500},
};

static int s_seed_v1(en_sim_cloud_t *self, en_err_t *err);
static int s_seed_v3(en_sim_cloud_t *self, en_err_t *err);

//  Migration i takes the schema from version i to i + 1.
static const struct {
    const char *sql;
    int (*seed)(en_sim_cloud_t *self, en_err_t *err);
} s_migrations[] = {
    {s_schema_v1, s_seed_v1},
    {s_schema_v2, NULL},
    {s_schema_v3, s_seed_v3},
};

#define SIM_SCHEMA_VERSION ((int)S_COUNT(s_migrations))

int64_t
sim_now_ms(void)
{
    return en_now_ms(); // the cloud's timestamps are wall clock, shared by processes
}

void
sim_sleep_ms(int64_t ms)
{
    if (ms <= 0)
        return;
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
        ;
}

int
sim_db_fail(en_sim_cloud_t *self, int rc, const char *what, en_err_t *err)
{
    const char *detail = self->db ? sqlite3_errmsg(self->db) : sqlite3_errstr(rc);
    switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return en_err_set(err, EN_UNAVAILABLE, "sim cloud database \"%s\" is busy", self->path);
    case SQLITE_NOTADB:
    case SQLITE_CORRUPT:
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
    case SQLITE_PERM:
        return en_err_set(err, EN_NOT_VALID, "sim cloud database \"%s\": %s", self->path, detail);
    case SQLITE_NOMEM:
        return en_err_set(err, EN_INTERNAL, "out of memory");
    default:
        return en_err_set(err, EN_INTERNAL, "sim cloud database \"%s\": %s: %s", self->path, what,
                          detail);
    }
}

int
sim_prepare(en_sim_cloud_t *self, const char *sql, sqlite3_stmt **stmt, en_err_t *err)
{
    int rc = sqlite3_prepare_v2(self->db, sql, -1, stmt, NULL);
    if (rc != SQLITE_OK)
        return sim_db_fail(self, rc, "prepare", err);
    return 0;
}

int
sim_exec(en_sim_cloud_t *self, const char *sql, en_err_t *err)
{
    int rc = sqlite3_exec(self->db, sql, NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        return sim_db_fail(self, rc, sql, err);
    return 0;
}

//  Run `sql` until it stops reporting busy or SIM_BUSY_MS has passed. The
//  busy handler already waits for locks; this covers the busy results
//  SQLite returns without waiting (WAL recovery, a racing mode change).
static int
s_exec_retrying(en_sim_cloud_t *self, const char *sql, en_err_t *err)
{
    int rc = en_sqlite_exec_busy(self->db, sql, SIM_BUSY_MS, &self->seed);
    return rc == SQLITE_OK ? 0 : sim_db_fail(self, rc, sql, err);
}

int
sim_tx_write(en_sim_cloud_t *self, en_err_t *err)
{
    return s_exec_retrying(self, "BEGIN IMMEDIATE", err);
}

int
sim_tx_read(en_sim_cloud_t *self, en_err_t *err)
{
    return s_exec_retrying(self, "BEGIN", err);
}

int
sim_tx_commit(en_sim_cloud_t *self, en_err_t *err)
{
    //  A COMMIT that reports busy leaves the transaction open, so retrying
    //  it is safe; any other failure must not leave it open.
    if (s_exec_retrying(self, "COMMIT", err) == 0)
        return 0;
    sim_tx_rollback(self);
    return -1;
}

void
sim_tx_rollback(en_sim_cloud_t *self)
{
    if (!sqlite3_get_autocommit(self->db))
        sqlite3_exec(self->db, "ROLLBACK", NULL, NULL, NULL);
}

int
sim_grow(void **array, size_t *capacity, size_t count, size_t size)
{
    if (count < *capacity)
        return 0;
    size_t wanted = *capacity ? *capacity * 2 : 8;
    void *bigger = realloc(*array, wanted * size);
    if (!bigger)
        return -1;
    *array = bigger;
    *capacity = wanted;
    return 0;
}

void
sim_copy_text(char *dst, size_t size, sqlite3_stmt *stmt, int column)
{
    const unsigned char *text = sqlite3_column_text(stmt, column);
    snprintf(dst, size, "%s", text ? (const char *)text : "");
}

static int
s_seed_v1(en_sim_cloud_t *self, en_err_t *err)
{
    sqlite3_stmt *region = NULL, *zone = NULL, *type = NULL;
    int rc = -1;
    if (sim_prepare(self, "INSERT INTO regions (name, idx, next_host) VALUES (?1, ?2, 2)", &region,
                    err) ||
        sim_prepare(self, "INSERT INTO zones (name, region, available) VALUES (?1, ?2, 1)", &zone,
                    err) ||
        sim_prepare(self,
                    "INSERT INTO instance_types (region, name, arch, cores, mem_mib,"
                    " root_disk_mib, cpu_power, virt_type, cost, deprecated)"
                    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'hvm', ?8, ?9)",
                    &type, err))
        goto cleanup;

    for (size_t r = 0; r < S_COUNT(s_seed_regions); r++) {
        sqlite3_reset(region);
        sqlite3_bind_text(region, 1, s_seed_regions[r].name, -1, SQLITE_STATIC);
        sqlite3_bind_int(region, 2, s_seed_regions[r].index);
        int step = sqlite3_step(region);
        if (step != SQLITE_DONE) {
            sim_db_fail(self, step, "seeding regions", err);
            goto cleanup;
        }
        for (size_t t = 0; t < S_COUNT(s_seed_types); t++) {
            const char *only = s_seed_types[t].only_region;
            if (only && strcmp(only, s_seed_regions[r].name) != 0)
                continue;
            //  Region index 1 is the base price; each further region +10%.
            int cost = s_seed_types[t].cost * (9 + s_seed_regions[r].index) / 10;
            sqlite3_reset(type);
            sqlite3_bind_text(type, 1, s_seed_regions[r].name, -1, SQLITE_STATIC);
            sqlite3_bind_text(type, 2, s_seed_types[t].name, -1, SQLITE_STATIC);
            sqlite3_bind_text(type, 3, s_seed_types[t].arch, -1, SQLITE_STATIC);
            sqlite3_bind_int(type, 4, s_seed_types[t].cores);
            sqlite3_bind_int(type, 5, s_seed_types[t].mem_mib);
            sqlite3_bind_int(type, 6, s_seed_types[t].root_disk_mib);
            sqlite3_bind_int(type, 7, s_seed_types[t].cpu_power);
            sqlite3_bind_int(type, 8, cost);
            sqlite3_bind_int(type, 9, s_seed_types[t].deprecated);
            step = sqlite3_step(type);
            if (step != SQLITE_DONE) {
                sim_db_fail(self, step, "seeding instance types", err);
                goto cleanup;
            }
        }
    }
    for (size_t z = 0; z < S_COUNT(s_seed_zones); z++) {
        sqlite3_reset(zone);
        sqlite3_bind_text(zone, 1, s_seed_zones[z].name, -1, SQLITE_STATIC);
        sqlite3_bind_text(zone, 2, s_seed_zones[z].region, -1, SQLITE_STATIC);
        int step = sqlite3_step(zone);
        if (step != SQLITE_DONE) {
            sim_db_fail(self, step, "seeding zones", err);
            goto cleanup;
        }
    }
    rc = 0;
cleanup:
    sqlite3_finalize(region);
    sqlite3_finalize(zone);
    sqlite3_finalize(type);
    return rc;
}

//  The zone's region and its region's index, from the v1 seed tables.
static int
s_zone_region(const char *zone, const char **region, int *index)
{
    for (size_t z = 0; z < S_COUNT(s_seed_zones); z++) {
        if (strcmp(s_seed_zones[z].name, zone) != 0)
            continue;
        *region = s_seed_zones[z].region;
        for (size_t r = 0; r < S_COUNT(s_seed_regions); r++)
            if (strcmp(s_seed_regions[r].name, *region) == 0) {
                *index = s_seed_regions[r].index;
                return 0;
            }
    }
    return -1;
}

static int
s_seed_v3(en_sim_cloud_t *self, en_err_t *err)
{
    sqlite3_stmt *space = NULL, *subnet = NULL;
    int rc = -1;
    if (sim_prepare(self, "INSERT INTO spaces (id, region, name) VALUES (?1, ?2, ?3)", &space,
                    err) ||
        sim_prepare(self,
                    "INSERT INTO subnets (id, region, zone, space_id, cidr, network, prefix,"
                    " vlan_tag, mtu, is_default, next_host)"
                    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 0)",
                    &subnet, err))
        goto cleanup;
    for (size_t i = 0; i < S_COUNT(s_seed_spaces); i++) {
        char id[EN_SIM_NAME_MAX];
        snprintf(id, sizeof id, "sp-%s-%s", s_seed_spaces[i].region, s_seed_spaces[i].name);
        sqlite3_reset(space);
        sqlite3_bind_text(space, 1, id, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(space, 2, s_seed_spaces[i].region, -1, SQLITE_STATIC);
        sqlite3_bind_text(space, 3, s_seed_spaces[i].name, -1, SQLITE_STATIC);
        int step = sqlite3_step(space);
        if (step != SQLITE_DONE) {
            sim_db_fail(self, step, "seeding spaces", err);
            goto cleanup;
        }
    }
    for (size_t i = 0; i < S_COUNT(s_seed_subnets); i++) {
        const char *region;
        int index;
        if (s_zone_region(s_seed_subnets[i].zone, &region, &index)) {
            en_err_set(err, EN_INTERNAL, "seed subnet in unknown zone \"%s\"",
                       s_seed_subnets[i].zone);
            goto cleanup;
        }
        char id[EN_SIM_NAME_MAX], space_id[EN_SIM_NAME_MAX], cidr[EN_SIM_ADDR_MAX];
        snprintf(id, sizeof id, "subnet-%s-%s", s_seed_subnets[i].zone, s_seed_subnets[i].space);
        snprintf(space_id, sizeof space_id, "sp-%s-%s", region, s_seed_subnets[i].space);
        snprintf(cidr, sizeof cidr, "10.%d.%d.0/%d", index, s_seed_subnets[i].third,
                 s_seed_subnets[i].prefix);
        sqlite3_reset(subnet);
        sqlite3_bind_text(subnet, 1, id, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(subnet, 2, region, -1, SQLITE_STATIC);
        sqlite3_bind_text(subnet, 3, s_seed_subnets[i].zone, -1, SQLITE_STATIC);
        sqlite3_bind_text(subnet, 4, space_id, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(subnet, 5, cidr, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(subnet, 6,
                           (10LL << 24) | ((int64_t)index << 16) |
                               ((int64_t)s_seed_subnets[i].third << 8));
        sqlite3_bind_int(subnet, 7, s_seed_subnets[i].prefix);
        sqlite3_bind_int(subnet, 8, s_seed_subnets[i].vlan_tag);
        sqlite3_bind_int(subnet, 9, s_seed_subnets[i].mtu);
        sqlite3_bind_int(subnet, 10, strcmp(s_seed_subnets[i].space, "internal") == 0);
        int step = sqlite3_step(subnet);
        if (step != SQLITE_DONE) {
            sim_db_fail(self, step, "seeding subnets", err);
            goto cleanup;
        }
    }
    //  Instances created before networks keep their address, now on a NIC.
    rc = sim_nics_convert(self, err);
cleanup:
    sqlite3_finalize(space);
    sqlite3_finalize(subnet);
    return rc;
}

static int
s_pragma_int(en_sim_cloud_t *self, const char *sql, int *value, en_err_t *err)
{
    sqlite3_stmt *stmt;
    if (sim_prepare(self, sql, &stmt, err))
        return -1;
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW)
        *value = sqlite3_column_int(stmt, 0);
    sqlite3_finalize(stmt);
    if (rc != SQLITE_ROW)
        return sim_db_fail(self, rc, sql, err);
    return 0;
}

//  Bring the schema to SIM_SCHEMA_VERSION inside one write transaction.
static int
s_migrate_locked(en_sim_cloud_t *self, en_err_t *err)
{
    int version, app_id, tables;
    if (s_pragma_int(self, "PRAGMA user_version", &version, err) ||
        s_pragma_int(self, "PRAGMA application_id", &app_id, err) ||
        s_pragma_int(self, "SELECT count(*) FROM sqlite_master", &tables, err))
        return -1;
    if ((version > 0 || tables > 0) && app_id != SIM_APPLICATION_ID)
        return en_err_set(err, EN_NOT_VALID, "\"%s\" is an SQLite database but not a sim cloud",
                          self->path);
    if (version > SIM_SCHEMA_VERSION)
        return en_err_set(err, EN_NOT_VALID,
                          "sim cloud database \"%s\" has schema version %d, newer than %d",
                          self->path, version, SIM_SCHEMA_VERSION);
    for (int step = version; step < SIM_SCHEMA_VERSION; step++) {
        if (sim_exec(self, s_migrations[step].sql, err))
            return -1;
        if (s_migrations[step].seed && s_migrations[step].seed(self, err))
            return -1;
    }
    if (version < SIM_SCHEMA_VERSION) {
        char sql[96];
        snprintf(sql, sizeof sql, "PRAGMA application_id = %d; PRAGMA user_version = %d",
                 SIM_APPLICATION_ID, SIM_SCHEMA_VERSION);
        if (sim_exec(self, sql, err))
            return -1;
    }
    return 0;
}

static int
s_migrate(en_sim_cloud_t *self, en_err_t *err)
{
    if (sim_tx_write(self, err))
        return -1;
    if (s_migrate_locked(self, err)) {
        sim_tx_rollback(self);
        return -1;
    }
    return sim_tx_commit(self, err);
}

//  The busy handler: try again after a short jittered pause, for at most
//  SIM_BUSY_MS. SQLite's own (busy_timeout) sleeps 1, 2, 5, 10, ... 100 ms
//  between tries; with dozens of handles queueing for the one write lock,
//  the lock then sits free while every waiter sleeps, and a cloud taking
//  32 calls at once serves a fraction of that (a convoy).
static int
s_busy(void *arg, int tries)
{
    en_sim_cloud_t *self = arg;
    int64_t now = sim_now_ms();
    if (tries == 0)
        self->busy_ms = now;
    else if (now - self->busy_ms >= SIM_BUSY_MS)
        return 0;
    // 50..250 us at first, growing to at most 2 ms for a long wait
    long cap = tries < 8 ? 250L << (tries / 2) : 2000;
    struct timespec ts = {0, (50 + rand_r(&self->seed) % cap) * 1000};
    nanosleep(&ts, NULL);
    return 1;
}

//  Connection settings; WAL is a property of the file, the rest of the
//  connection.
static int
s_configure(en_sim_cloud_t *self, en_err_t *err)
{
    sqlite3_busy_handler(self->db, s_busy, self);
    if (s_exec_retrying(self, "PRAGMA journal_mode = WAL", err))
        return -1;
    sqlite3_stmt *stmt;
    if (sim_prepare(self, "PRAGMA journal_mode", &stmt, err))
        return -1;
    bool wal = sqlite3_step(stmt) == SQLITE_ROW &&
               strcmp((const char *)sqlite3_column_text(stmt, 0), "wal") == 0;
    sqlite3_finalize(stmt);
    if (!wal)
        return en_err_set(err, EN_NOT_VALID,
                          "sim cloud database \"%s\": cannot use WAL journal mode there",
                          self->path);
    return sim_exec(self, "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON", err);
}

en_sim_cloud_t *
en_sim_cloud_open(const char *db_path, en_err_t *err)
{
    if (!db_path || !*db_path) {
        en_err_set(err, EN_NOT_VALID, "sim cloud database path is empty");
        return NULL;
    }
    en_sim_cloud_t *self = calloc(1, sizeof *self);
    if (!self || !(self->path = strdup(db_path))) {
        free(self);
        en_err_set(err, EN_INTERNAL, "out of memory");
        return NULL;
    }
    self->seed = (unsigned)getpid() ^ (unsigned)sim_now_ms() ^ (unsigned)(uintptr_t)self;

    int rc = sqlite3_open_v2(db_path, &self->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
    if (rc != SQLITE_OK) {
        en_err_set(err, EN_NOT_VALID, "cannot open sim cloud database \"%s\": %s", db_path,
                   self->db ? sqlite3_errmsg(self->db) : sqlite3_errstr(rc));
        goto failed;
    }
    if (s_configure(self, err) || sim_calls_init(self, err) || s_migrate(self, err))
        goto failed;
    return self;
failed:
    en_sim_cloud_close(&self);
    return NULL;
}

void
en_sim_cloud_close(en_sim_cloud_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    en_sim_cloud_t *self = *self_p;
    if (self->db) {
        sim_tx_rollback(self);
        sim_calls_close(self);
        sqlite3_close_v2(self->db);
    }
    free(self->path);
    free(self);
    *self_p = NULL;
}

const char *
en_sim_cloud_path(en_sim_cloud_t *self)
{
    return self->path;
}
