/*  The sim cloud's networks: the seeded spaces and subnets, instances'
    NICs, container addresses, the migration that moved old addresses onto
    NICs, and the network driver.

    Each test gets its own database in a fresh mkdtemp directory. The
    invariant under test throughout is that no address is ever held by two
    NICs at once and every address lies inside its subnet's CIDR, outside
    the five addresses AWS reserves. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "providers/provider.h"
#include "providers/sim/sim_cloud.h"

typedef struct {
    char dir[64];
    char path[128];
    en_sim_cloud_t *cloud;
} fixture_t;

static int
s_setup(void **state)
{
    fixture_t *fx = calloc(1, sizeof *fx);
    if (!fx)
        return -1;
    snprintf(fx->dir, sizeof fx->dir, "/tmp/en-simnet-XXXXXX");
    if (!mkdtemp(fx->dir))
        return -1;
    snprintf(fx->path, sizeof fx->path, "%s/cloud.db", fx->dir);
    en_err_t err;
    fx->cloud = en_sim_cloud_open(fx->path, &err);
    *state = fx;
    return fx->cloud ? 0 : -1;
}

static int
s_teardown(void **state)
{
    fixture_t *fx = *state;
    en_sim_cloud_close(&fx->cloud);
    const char *suffixes[] = {"", "-wal", "-shm"};
    for (size_t i = 0; i < 3; i++) {
        char file[160];
        snprintf(file, sizeof file, "%s%s", fx->path, suffixes[i]);
        unlink(file);
    }
    rmdir(fx->dir);
    free(fx);
    return 0;
}

//  --- address arithmetic, done independently of the cloud's ---

static uint32_t
s_ip(const char *text)
{
    struct in_addr a;
    if (inet_pton(AF_INET, text, &a) != 1)
        fail_msg("\"%s\" is not an IPv4 address", text);
    return ntohl(a.s_addr);
}

//  Whether address is a host the cloud may hand out in cidr: inside it,
//  and neither the network, +1, +2, +3 nor the broadcast address.
static bool
s_usable_in(const char *address, const char *cidr)
{
    char net[32];
    snprintf(net, sizeof net, "%s", cidr);
    char *slash = strchr(net, '/');
    assert_non_null(slash);
    *slash = '\0';
    int prefix = atoi(slash + 1);
    uint32_t size = 1u << (32 - prefix), base = s_ip(net), a = s_ip(address);
    return a >= base + 4 && a < base + size - 1;
}

//  Create in sim-east (or the given region) and keep the instance.
static void
s_create(en_sim_cloud_t *cloud, const char *region, const char *zone, const char *name,
         const char *const *subnets, size_t n, en_sim_instance_t *out)
{
    en_err_t err;
    if (en_sim_cloud_create_placed(cloud, region, zone, "s1.small", name, NULL, 0, NULL, 0, subnets,
                                   n, out, &err))
        fail_msg("create %s: %s", name, err.message);
}

static char *
s_create_id(en_sim_cloud_t *cloud, const char *zone, const char *name, const char *const *subnets,
            size_t n)
{
    en_sim_instance_t inst;
    s_create(cloud, "sim-east", zone, name, subnets, n, &inst);
    char *id = strdup(inst.id);
    en_sim_instance_clear(&inst);
    return id;
}

static size_t
s_container_nics(en_sim_cloud_t *cloud, en_sim_nic_t **nics)
{
    en_err_t err;
    size_t n;
    assert_int_equal(en_sim_cloud_container_nics(cloud, "sim-east", nics, &n, &err), 0);
    return n;
}

static en_sim_prepared_nic_t
s_prep(const char *name, const char *subnet, const char *cidr)
{
    return (en_sim_prepared_nic_t){.interface_name = name, .subnet_id = subnet, .cidr = cidr};
}

//  --- seed ---

static void
seed_spaces_and_subnets_read_back(void **state)
{
    fixture_t *fx = *state;
    en_err_t err;
    en_sim_space_t *spaces;
    size_t n;
    assert_int_equal(en_sim_cloud_spaces(fx->cloud, "sim-east", &spaces, &n, &err), 0);
    assert_int_equal(n, 3);
    const char *names[] = {"dmz", "internal", "storage"};
    size_t per_space[] = {2, 3, 2};
    for (size_t i = 0; i < 3; i++) {
        char id[64];
        snprintf(id, sizeof id, "sp-sim-east-%s", names[i]);
        assert_string_equal(spaces[i].name, names[i]);
        assert_string_equal(spaces[i].id, id);
        assert_int_equal(spaces[i].subnet_count, per_space[i]);
        for (size_t j = 0; j < spaces[i].subnet_count; j++)
            assert_string_equal(spaces[i].subnets[j].space_id, id);
    }
    //  storage: the VLAN with jumbo frames, by subnet id
    en_sim_subnet_t *st = spaces[2].subnets;
    assert_string_equal(st[0].id, "subnet-sim-east-a-storage");
    assert_string_equal(st[0].cidr, "10.1.240.0/20");
    assert_string_equal(st[0].zone, "sim-east-a");
    assert_string_equal(st[1].id, "subnet-sim-east-c-storage");
    assert_string_equal(st[1].cidr, "10.1.224.0/20");
    for (int j = 0; j < 2; j++) {
        assert_int_equal(st[j].vlan_tag, 42);
        assert_int_equal(st[j].mtu, 9000);
    }
    en_sim_spaces_free(&spaces, n);
    assert_null(spaces);

    assert_int_equal(en_sim_cloud_spaces(fx->cloud, "sim-west", &spaces, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_string_equal(spaces[0].id, "sp-sim-west-dmz");
    assert_string_equal(spaces[1].id, "sp-sim-west-internal");
    en_sim_spaces_free(&spaces, n);

    struct {
        const char *id, *cidr, *zone, *space, *gateway, *dns;
        int vlan, mtu;
    } east[] = {
        {"subnet-sim-east-a-dmz", "10.1.192.0/20", "sim-east-a", "sp-sim-east-dmz", "10.1.192.1",
         "10.1.192.2", 0, 1500},
        {"subnet-sim-east-a-internal", "10.1.0.0/18", "sim-east-a", "sp-sim-east-internal",
         "10.1.0.1", "10.1.0.2", 0, 1500},
        {"subnet-sim-east-a-storage", "10.1.240.0/20", "sim-east-a", "sp-sim-east-storage",
         "10.1.240.1", "10.1.240.2", 42, 9000},
        {"subnet-sim-east-b-dmz", "10.1.208.0/20", "sim-east-b", "sp-sim-east-dmz", "10.1.208.1",
         "10.1.208.2", 0, 1500},
        {"subnet-sim-east-b-internal", "10.1.64.0/18", "sim-east-b", "sp-sim-east-internal",
         "10.1.64.1", "10.1.64.2", 0, 1500},
        {"subnet-sim-east-c-internal", "10.1.128.0/18", "sim-east-c", "sp-sim-east-internal",
         "10.1.128.1", "10.1.128.2", 0, 1500},
        {"subnet-sim-east-c-storage", "10.1.224.0/20", "sim-east-c", "sp-sim-east-storage",
         "10.1.224.1", "10.1.224.2", 42, 9000},
    };
    en_sim_subnet_t *subnets;
    assert_int_equal(en_sim_cloud_subnets(fx->cloud, "sim-east", NULL, &subnets, &n, &err), 0);
    assert_int_equal(n, 7);
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(subnets[i].id, east[i].id);
        assert_string_equal(subnets[i].region, "sim-east");
        assert_string_equal(subnets[i].cidr, east[i].cidr);
        assert_string_equal(subnets[i].zone, east[i].zone);
        assert_string_equal(subnets[i].space_id, east[i].space);
        assert_string_equal(subnets[i].gateway, east[i].gateway);
        assert_string_equal(subnets[i].dns, east[i].dns);
        assert_string_equal(subnets[i].dns_search_domain, "sim-east.sim.internal");
        assert_int_equal(subnets[i].vlan_tag, east[i].vlan);
        assert_int_equal(subnets[i].mtu, east[i].mtu);
    }
    free(subnets);

    //  Each region's subnets cover its /16 exactly: sizes add up to 65536
    //  and no two overlap.
    const char *regions[] = {"sim-east", "sim-west"};
    for (int r = 0; r < 2; r++) {
        assert_int_equal(en_sim_cloud_subnets(fx->cloud, regions[r], NULL, &subnets, &n, &err), 0);
        assert_int_equal(n, r == 0 ? 7 : 3);
        uint64_t total = 0;
        uint32_t region_base = (10u << 24) | ((uint32_t)(r + 1) << 16);
        uint32_t base[8], size[8];
        for (size_t i = 0; i < n; i++) {
            char net[EN_SIM_ADDR_MAX];
            snprintf(net, sizeof net, "%s", subnets[i].cidr);
            char *slash = strchr(net, '/');
            *slash = '\0';
            size[i] = 1u << (32 - atoi(slash + 1));
            base[i] = s_ip(net);
            assert_true(base[i] >= region_base && base[i] + size[i] <= region_base + 65536);
            total += size[i];
            for (size_t j = 0; j < i; j++)
                assert_true(base[i] + size[i] <= base[j] || base[j] + size[j] <= base[i]);
        }
        assert_int_equal(total, 65536);
        free(subnets);
    }
    assert_int_equal(en_sim_cloud_subnets(fx->cloud, "moon-1", NULL, &subnets, &n, &err), -1);
    assert_int_equal(err.kind, EN_NOT_VALID);
}

//  --- instances' NICs ---

static void
create_with_subnets_gives_one_nic_each_in_order(void **state)
{
    fixture_t *fx = *state;
    en_err_t err;
    const char *subnets[] = {"subnet-sim-east-a-dmz", "subnet-sim-east-a-storage",
                             "subnet-sim-east-a-internal"};
    en_sim_instance_t inst;
    s_create(fx->cloud, "sim-east", "sim-east-a", "web", subnets, 3, &inst);
    assert_string_equal(inst.zone, "sim-east-a");
    assert_int_equal(inst.address_count, 3);

    en_sim_nic_t *nics;
    size_t n;
    assert_int_equal(en_sim_cloud_interfaces(fx->cloud, "sim-east", inst.id, &nics, &n, &err), 0);
    assert_int_equal(n, 3);
    const char *cidrs[] = {"10.1.192.0/20", "10.1.240.0/20", "10.1.0.0/18"};
    const char *first[] = {"10.1.192.4", "10.1.240.4", "10.1.0.4"}; //  a fresh subnet's first
    for (size_t i = 0; i < n; i++) {
        char name[32];
        snprintf(name, sizeof name, "eth%zu", i);
        assert_int_equal(nics[i].device_index, (int)i);
        assert_string_equal(nics[i].interface_name, name);
        assert_string_equal(nics[i].subnet.id, subnets[i]);
        assert_string_equal(nics[i].subnet.cidr, cidrs[i]);
        assert_string_equal(nics[i].address, first[i]);
        assert_true(s_usable_in(nics[i].address, cidrs[i]));
        assert_string_equal(nics[i].address, inst.addresses[i]); //  device order
        assert_string_equal(nics[i].config_type, "dhcp");
        assert_string_equal(nics[i].interface_type, "ethernet");
        assert_string_equal(nics[i].container_tag, "");
        assert_string_equal(nics[i].instance_id, inst.id);
        assert_int_equal(strncmp(nics[i].id, "eni-", 4), 0);
        assert_int_equal(strlen(nics[i].id), 20);
        assert_int_equal(strncmp(nics[i].mac, "02:", 3), 0);
        assert_int_equal(strlen(nics[i].mac), 17);
        assert_int_equal(nics[i].mtu, i == 1 ? 9000 : 1500);
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(nics[i].mac, nics[j].mac);
    }
    free(nics);

    //  describe reports the same addresses in the same order
    const char *ids[] = {inst.id};
    en_sim_instance_t *found;
    assert_int_equal(en_sim_cloud_describe(fx->cloud, "sim-east", ids, 1, &found, &n, &err), 0);
    assert_int_equal(found[0].address_count, 3);
    for (size_t i = 0; i < 3; i++)
        assert_string_equal(found[0].addresses[i], first[i]);
    en_sim_instances_free(&found, n);

    //  the instance's subnets, by id
    en_sim_subnet_t *mine;
    assert_int_equal(en_sim_cloud_subnets(fx->cloud, "sim-east", inst.id, &mine, &n, &err), 0);
    assert_int_equal(n, 3);
    assert_string_equal(mine[0].id, "subnet-sim-east-a-dmz");
    assert_string_equal(mine[1].id, "subnet-sim-east-a-internal");
    assert_string_equal(mine[2].id, "subnet-sim-east-a-storage");
    free(mine);

    //  no zone: the first subnet decides it
    en_sim_instance_t other;
    const char *in_c[] = {"subnet-sim-east-c-storage"};
    s_create(fx->cloud, "sim-east", NULL, "db", in_c, 1, &other);
    assert_string_equal(other.zone, "sim-east-c");
    assert_string_equal(other.addresses[0], "10.1.224.4");
    en_sim_instance_clear(&other);
    en_sim_instance_clear(&inst);
}

static void
create_with_bad_subnets_creates_nothing(void **state)
{
    fixture_t *fx = *state;
    en_err_t err;
    en_sim_instance_t inst;
    struct {
        const char *zone;
        const char *subnets[2];
        size_t n;
        const char *message;
    } cases[] = {
        {"sim-east-a", {"subnet-nowhere"}, 1, "subnet \"subnet-nowhere\" not found"},
        {"sim-east-a",
         {"subnet-sim-east-a-internal", "subnet-sim-east-b-dmz"},
         2,
         "subnet \"subnet-sim-east-b-dmz\" is not in zone \"sim-east-a\""},
        {"sim-east-a",
         {"subnet-sim-east-a-dmz", "subnet-sim-east-a-dmz"},
         2,
         "subnet \"subnet-sim-east-a-dmz\" given twice"},
        //  another region's subnet is not one of this region's
        {"sim-east-a",
         {"subnet-sim-west-a-internal"},
         1,
         "subnet \"subnet-sim-west-a-internal\" not found"},
        {NULL, {"subnet-nowhere"}, 1, "subnet \"subnet-nowhere\" not found"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_int_equal(en_sim_cloud_create_placed(fx->cloud, "sim-east", cases[i].zone,
                                                    "s1.small", "x", NULL, 0, NULL, 0,
                                                    cases[i].subnets, cases[i].n, &inst, &err),
                         -1);
        assert_int_equal(err.kind, EN_NOT_VALID);
        assert_string_equal(err.message, cases[i].message);
        assert_null(inst.id);
    }
    en_sim_instance_t *found;
    size_t n;
    assert_int_equal(en_sim_cloud_list(fx->cloud, "sim-east", NULL, 0, true, &found, &n, &err), 0);
    assert_int_equal(n, 0);
    //  and no address was taken: the next one in each subnet is the first
    const char *both[] = {"subnet-sim-east-a-internal", "subnet-sim-east-a-dmz"};
    s_create(fx->cloud, "sim-east", "sim-east-a", "x", both, 2, &inst);
    assert_string_equal(inst.addresses[0], "10.1.0.4");
    assert_string_equal(inst.addresses[1], "10.1.192.4");
    en_sim_instance_clear(&inst);
}

static void
default_subnet_is_the_zones_internal_one(void **state)
{
    fixture_t *fx = *state;
    en_err_t err;
    struct {
        const char *region, *zone, *subnet, *address;
    } cases[] = {
        {"sim-east", "sim-east-a", "subnet-sim-east-a-internal", "10.1.0.4"},
        {"sim-east", "sim-east-b", "subnet-sim-east-b-internal", "10.1.64.4"},
        {"sim-east", "sim-east-c", "subnet-sim-east-c-internal", "10.1.128.4"},
        {"sim-west", "sim-west-a", "subnet-sim-west-a-internal", "10.2.0.4"},
        {"sim-west", "sim-west-b", "subnet-sim-west-b-internal", "10.2.128.4"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        en_sim_instance_t inst;
        char name[16];
        snprintf(name, sizeof name, "m%zu", i);
        s_create(fx->cloud, cases[i].region, cases[i].zone, name, NULL, 0, &inst);
        assert_int_equal(inst.address_count, 1);
        assert_string_equal(inst.addresses[0], cases[i].address);
        en_sim_nic_t *nics;
        size_t n;
        assert_int_equal(
            en_sim_cloud_interfaces(fx->cloud, cases[i].region, inst.id, &nics, &n, &err), 0);
        assert_int_equal(n, 1);
        assert_string_equal(nics[0].subnet.id, cases[i].subnet);
        assert_string_equal(nics[0].interface_name, "eth0");
        free(nics);
        en_sim_instance_clear(&inst);
    }
}

//  Fill a /20 to the last address through one container on a host, then
//  show the subnet is full, that a released address is the one reused,
//  and that terminating the host frees everything.
static void
addresses_never_reused_while_live_and_reusable_after_terminate(void **state)
{
    fixture_t *fx = *state;
    en_err_t err;
    enum { USABLE = 4096 - 5, N = 60 };
    const char *dmz = "subnet-sim-east-a-dmz";

    //  many instances: all distinct; terminating some never lets a new one
    //  take a live address
    char *ids[N];
    for (int i = 0; i < N; i++) {
        char name[16];
        snprintf(name, sizeof name, "m%d", i);
        ids[i] = s_create_id(fx->cloud, "sim-east-b", name, NULL, 0);
    }
    assert_int_equal(
        en_sim_cloud_terminate(fx->cloud, "sim-east", (const char *const *)ids, N / 2, &err), 0);
    for (int i = 0; i < N / 2; i++) {
        char name[16];
        snprintf(name, sizeof name, "n%d", i);
        free(s_create_id(fx->cloud, "sim-east-b", name, NULL, 0));
    }
    en_sim_instance_t *all;
    size_t n;
    assert_int_equal(en_sim_cloud_list(fx->cloud, "sim-east", NULL, 0, false, &all, &n, &err), 0);
    assert_int_equal(n, N);
    for (size_t i = 0; i < n; i++) {
        assert_true(s_usable_in(all[i].addresses[0], "10.1.64.0/18"));
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(all[i].addresses[0], all[j].addresses[0]);
    }
    en_sim_instances_free(&all, n);
    for (int i = 0; i < N; i++)
        free(ids[i]);

    //  a host with one dmz address, and a container taking all the others
    const char *subnets[] = {"subnet-sim-east-a-internal", dmz};
    char *host = s_create_id(fx->cloud, "sim-east-a", "host", subnets, 2);
    size_t want = USABLE - 1;
    en_sim_prepared_nic_t *prep = calloc(want, sizeof *prep);
    char(*names)[16] = calloc(want, sizeof *names);
    for (size_t i = 0; i < want; i++) {
        snprintf(names[i], sizeof names[i], "eth%zu", i);
        prep[i] = s_prep(names[i], dmz, NULL);
    }
    en_sim_nic_t *nics;
    assert_int_equal(en_sim_cloud_allocate_container_addresses(fx->cloud, "sim-east", host,
                                                               "machine-0-lxd-0", prep, want, &nics,
                                                               &n, &err),
                     0);
    assert_int_equal(n, want);
    free(nics);
    free(prep);
    free(names);
    n = s_container_nics(fx->cloud, &nics);
    assert_int_equal(n, want);
    //  every usable address of the /20 exactly once (host's included)
    uint8_t *seen = calloc(4096, 1);
    en_sim_nic_t *own;
    size_t own_n;
    assert_int_equal(en_sim_cloud_interfaces(fx->cloud, "sim-east", host, &own, &own_n, &err), 0);
    seen[s_ip(own[1].address) - s_ip("10.1.192.0")]++;
    free(own);
    for (size_t i = 0; i < n; i++) {
        assert_true(s_usable_in(nics[i].address, "10.1.192.0/20"));
        assert_int_equal(seen[s_ip(nics[i].address) - s_ip("10.1.192.0")]++, 0);
    }
    free(seen);
    char released[EN_SIM_ADDR_MAX], released_id[EN_SIM_NAME_MAX];
    snprintf(released, sizeof released, "%s", nics[7].address);
    snprintf(released_id, sizeof released_id, "%s", nics[7].id);
    free(nics);

    //  full
    en_sim_prepared_nic_t one = s_prep("eth0", dmz, NULL);
    assert_int_equal(en_sim_cloud_allocate_container_addresses(
                         fx->cloud, "sim-east", host, "machine-0-lxd-1", &one, 1, &nics, &n, &err),
                     -1);
    assert_int_equal(err.kind, EN_UNAVAILABLE);
    assert_string_equal(err.message,
                        "insufficient free addresses in subnet \"subnet-sim-east-a-dmz\"");
    const char *in_dmz[] = {dmz};
    en_sim_instance_t inst;
    assert_int_equal(en_sim_cloud_create_placed(fx->cloud, "sim-east", "sim-east-a", "s1.small",
                                                "late", NULL, 0, NULL, 0, in_dmz, 1, &inst, &err),
                     -1);
    assert_int_equal(err.kind, EN_UNAVAILABLE);

    //  one released: that one is the address the next allocation gets
    en_sim_nic_ref_t ref = {.provider_id = released_id};
    assert_int_equal(en_sim_cloud_release_container_addresses(fx->cloud, "sim-east", &ref, 1, &err),
                     0);
    assert_int_equal(en_sim_cloud_allocate_container_addresses(
                         fx->cloud, "sim-east", host, "machine-0-lxd-1", &one, 1, &nics, &n, &err),
                     0);
    assert_string_equal(nics[0].address, released);
    free(nics);

    //  the host goes, and with it every address: a new instance fits
    const char *gone[] = {host};
    assert_int_equal(en_sim_cloud_terminate(fx->cloud, "sim-east", gone, 1, &err), 0);
    assert_int_equal(s_container_nics(fx->cloud, &nics), 0);
    free(nics);
    s_create(fx->cloud, "sim-east", "sim-east-a", "late", in_dmz, 1, &inst);
    assert_true(s_usable_in(inst.addresses[0], "10.1.192.0/20"));
    en_sim_instance_clear(&inst);
    free(host);
}

//  --- migration 3 ---

//  A version 2 database is the current one without the network tables,
//  with the region-wide address index back and addresses in addr_host;
//  we make one by taking those away from a current database (migration 3
//  only adds tables and drops that index, so this is v2's schema).
static void
a_version_2_database_keeps_its_addresses_on_nics(void **state)
{
    fixture_t *fx = *state;
    en_err_t err;
    char *a = s_create_id(fx->cloud, "sim-east-a", "a", NULL, 0);
    char *c = s_create_id(fx->cloud, "sim-east-c", "c", NULL, 0);
    char *dead = s_create_id(fx->cloud, "sim-east-b", "dead", NULL, 0);
    en_sim_instance_t w;
    s_create(fx->cloud, "sim-west", "sim-west-b", "w", NULL, 0, &w);
    const char *gone[] = {dead};
    assert_int_equal(en_sim_cloud_terminate(fx->cloud, "sim-east", gone, 1, &err), 0);
    en_sim_cloud_close(&fx->cloud);

    sqlite3 *db;
    assert_int_equal(sqlite3_open(fx->path, &db), SQLITE_OK);
    char sql[1024];
    //  10.1.0.2 (version 2 handed out hosts from .0.2), 10.1.230.7 in
    //  east-c's storage subnet, 10.2.200.9 in west-b's dmz
    snprintf(sql, sizeof sql,
             "DROP TABLE nics; DROP TABLE subnets; DROP TABLE spaces;"
             " CREATE UNIQUE INDEX instances_live_addr ON instances(region, addr_host)"
             "   WHERE addr_host IS NOT NULL;"
             " UPDATE instances SET addr_host = 2 WHERE id = '%s';"
             " UPDATE instances SET addr_host = 230 * 256 + 7 WHERE id = '%s';"
             " UPDATE instances SET addr_host = 200 * 256 + 9 WHERE id = '%s';"
             " PRAGMA user_version = 2",
             a, c, w.id);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);

    fx->cloud = en_sim_cloud_open(fx->path, &err);
    assert_non_null(fx->cloud);
    struct {
        const char *region, *id, *subnet, *address;
    } want[] = {
        {"sim-east", a, "subnet-sim-east-a-internal", "10.1.0.2"},
        {"sim-east", c, "subnet-sim-east-c-storage", "10.1.230.7"},
        {"sim-west", w.id, "subnet-sim-west-b-dmz", "10.2.200.9"},
    };
    for (size_t i = 0; i < 3; i++) {
        en_sim_nic_t *nics;
        size_t n;
        assert_int_equal(
            en_sim_cloud_interfaces(fx->cloud, want[i].region, want[i].id, &nics, &n, &err), 0);
        assert_int_equal(n, 1);
        assert_int_equal(nics[0].device_index, 0);
        assert_string_equal(nics[0].interface_name, "eth0");
        assert_string_equal(nics[0].subnet.id, want[i].subnet);
        assert_string_equal(nics[0].address, want[i].address);
        free(nics);
        en_sim_instance_t *found;
        const char *ids[] = {want[i].id};
        assert_int_equal(en_sim_cloud_describe(fx->cloud, want[i].region, ids, 1, &found, &n, &err),
                         0);
        assert_int_equal(found[0].address_count, 1);
        assert_string_equal(found[0].addresses[0], want[i].address);
        en_sim_instances_free(&found, n);
    }
    //  the terminated instance got no NIC; addr_host is no longer used
    assert_int_equal(sqlite3_open(fx->path, &db), SQLITE_OK);
    sqlite3_stmt *stmt;
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT (SELECT count(*) FROM nics),"
                                        " (SELECT count(*) FROM instances WHERE addr_host"
                                        "  IS NOT NULL), (SELECT count(*) FROM sqlite_master"
                                        "  WHERE name = 'instances_live_addr')",
                                        -1, &stmt, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(stmt, 0), 3);
    assert_int_equal(sqlite3_column_int(stmt, 1), 0);
    assert_int_equal(sqlite3_column_int(stmt, 2), 0);
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    //  the kept address is never handed out again while held
    en_sim_nic_t *nics;
    size_t n;
    char *host = s_create_id(fx->cloud, "sim-east-c", "h",
                             (const char *const[]){"subnet-sim-east-c-storage"}, 1);
    en_sim_prepared_nic_t prep = s_prep("eth0", NULL, NULL);
    for (int i = 0; i < 5; i++) {
        char tag[32];
        snprintf(tag, sizeof tag, "machine-1-lxd-%d", i);
        assert_int_equal(en_sim_cloud_allocate_container_addresses(fx->cloud, "sim-east", host, tag,
                                                                   &prep, 1, &nics, &n, &err),
                         0);
        assert_string_not_equal(nics[0].address, "10.1.230.7");
        free(nics);
    }
    free(host);
    en_sim_instance_clear(&w);
    free(a);
    free(c);
    free(dead);
}

//  --- container addresses ---

static void
allocate_errors_have_exact_messages_and_change_nothing(void **state)
{
    fixture_t *fx = *state;
    en_err_t err;
    const char *subnets[] = {"subnet-sim-east-a-internal", "subnet-sim-east-a-dmz"};
    char *host = s_create_id(fx->cloud, "sim-east-a", "host", subnets, 2);
    char *dead = s_create_id(fx->cloud, "sim-east-a", "dead", NULL, 0);
    const char *gone[] = {dead};
    assert_int_equal(en_sim_cloud_terminate(fx->cloud, "sim-east", gone, 1, &err), 0);

    en_sim_prepared_nic_t eth0 = s_prep("eth0", NULL, NULL);
    en_sim_prepared_nic_t no_primary[] = {s_prep("eth1", NULL, NULL)};
    en_sim_prepared_nic_t off_host[] = {s_prep("eth0", "subnet-sim-east-a-storage", NULL)};
    en_sim_prepared_nic_t other_zone[] = {s_prep("eth0", NULL, NULL),
                                          s_prep("eth1", NULL, "10.1.64.0/18")};
    en_sim_prepared_nic_t unknown[] = {s_prep("eth0", "subnet-nowhere", NULL)};
    en_sim_prepared_nic_t twice[] = {s_prep("eth0", NULL, NULL), s_prep("eth0", NULL, NULL)};
    //  the second entry fails after the first took its address: all or nothing
    en_sim_prepared_nic_t late[] = {s_prep("eth0", NULL, NULL),
                                    s_prep("eth1", "subnet-sim-east-c-storage", NULL)};
    struct {
        const char *host;
        const en_sim_prepared_nic_t *prep;
        size_t n;
        en_kind_t kind;
        const char *message;
    } cases[] = {
        {host, NULL, 0, EN_NOT_VALID, "no prepared info to allocate"},
        {host, no_primary, 1, EN_NOT_VALID, "cannot find primary interface for container"},
        {host, off_host, 1, EN_NOT_VALID, NULL},
        {host, other_zone, 2, EN_NOT_VALID, NULL},
        {host, unknown, 1, EN_NOT_VALID, NULL},
        {host, twice, 2, EN_NOT_VALID, "interface \"eth0\" given twice"},
        {host, late, 2, EN_NOT_VALID, NULL},
        {"i-0000000000000000", &eth0, 1, EN_NOT_FOUND, "instance \"i-0000000000000000\" not found"},
        {dead, &eth0, 1, EN_NOT_FOUND, NULL},
    };
    char expect[256];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        en_sim_nic_t *nics = NULL;
        size_t n = 99;
        assert_int_equal(en_sim_cloud_allocate_container_addresses(
                             fx->cloud, "sim-east", cases[i].host, "machine-0-lxd-0", cases[i].prep,
                             cases[i].n, &nics, &n, &err),
                         -1);
        assert_int_equal(err.kind, cases[i].kind);
        assert_null(nics);
        assert_int_equal(n, 0);
        if (cases[i].message)
            assert_string_equal(err.message, cases[i].message);
    }
    //  the generated messages, spelled out
    const struct {
        size_t index;
        const char *subnet;
    } not_on_host[] = {{2, "subnet-sim-east-a-storage"},
                       {3, "subnet-sim-east-b-internal"},
                       {4, "subnet-nowhere"},
                       {6, "subnet-sim-east-c-storage"}};
    for (size_t i = 0; i < 4; i++) {
        en_sim_nic_t *nics;
        size_t n;
        size_t c = not_on_host[i].index;
        assert_int_equal(en_sim_cloud_allocate_container_addresses(fx->cloud, "sim-east", host,
                                                                   "machine-0-lxd-0", cases[c].prep,
                                                                   cases[c].n, &nics, &n, &err),
                         -1);
        snprintf(expect, sizeof expect, "subnet \"%s\" is not on host \"%s\"",
                 not_on_host[i].subnet, host);
        assert_string_equal(err.message, expect);
    }
    en_sim_nic_t *nics;
    size_t n;
    assert_int_equal(en_sim_cloud_allocate_container_addresses(
                         fx->cloud, "sim-east", dead, "machine-0-lxd-0", &eth0, 1, &nics, &n, &err),
                     -1);
    snprintf(expect, sizeof expect, "instance \"%s\" not found", dead);
    assert_string_equal(err.message, expect);

    //  a host not yet visible is not found either
    assert_int_equal(en_sim_cloud_knob_set(fx->cloud, "consistency_delay_ms", "60000", &err), 0);
    char *fresh = s_create_id(fx->cloud, "sim-east-a", "fresh", NULL, 0);
    assert_int_equal(en_sim_cloud_allocate_container_addresses(fx->cloud, "sim-east", fresh,
                                                               "machine-0-lxd-0", &eth0, 1, &nics,
                                                               &n, &err),
                     -1);
    assert_int_equal(err.kind, EN_NOT_FOUND);
    assert_int_equal(en_sim_cloud_interfaces(fx->cloud, "sim-east", fresh, &nics, &n, &err), -1);
    assert_int_equal(err.kind, EN_NOT_FOUND);
    en_sim_subnet_t *subs;
    assert_int_equal(en_sim_cloud_subnets(fx->cloud, "sim-east", fresh, &subs, &n, &err), -1);
    assert_int_equal(err.kind, EN_NOT_FOUND);
    assert_int_equal(en_sim_cloud_knob_set(fx->cloud, "consistency_delay_ms", NULL, &err), 0);

    //  nothing was allocated by any of it: the first allocation in the
    //  host's primary subnet is the address after the host's own
    assert_int_equal(s_container_nics(fx->cloud, &nics), 0);
    free(nics);
    assert_int_equal(en_sim_cloud_allocate_container_addresses(
                         fx->cloud, "sim-east", host, "machine-0-lxd-0", &eth0, 1, &nics, &n, &err),
                     0);
    assert_string_equal(nics[0].address, "10.1.0.7"); //  host .4, dead .5, fresh .6
    free(nics);
    free(fresh);
    free(dead);
    free(host);
}

static void
allocate_again_answers_the_same_nics(void **state)
{
    fixture_t *fx = *state;
    en_err_t err;
    const char *subnets[] = {"subnet-sim-east-a-internal", "subnet-sim-east-a-dmz",
                             "subnet-sim-east-a-storage"};
    char *host = s_create_id(fx->cloud, "sim-east-a", "host", subnets, 3);
    //  eth0 last in the request: it is still device 0
    en_sim_prepared_nic_t prep[] = {
        {.interface_name = "eth1", .cidr = "10.1.192.0/20", .mac = "02:AA:bb:cc:dd:01"},
        {.interface_name = "eth2",
         .subnet_id = "subnet-sim-east-a-storage",
         .parent_interface_name = "br-storage",
         .mtu = 8000,
         .disabled = true,
         .no_auto_start = true},
        {.interface_name = "eth3", .cidr = "192.168.0.0/24"}, //  unknown: the primary's
        {.interface_name = "eth0"},
    };
    en_sim_nic_t *first, *again;
    size_t n, n2;
    assert_int_equal(en_sim_cloud_allocate_container_addresses(
                         fx->cloud, "sim-east", host, "machine-0-lxd-3", prep, 4, &first, &n, &err),
                     0);
    assert_int_equal(n, 4);
    struct {
        const char *name, *subnet, *cidr, *parent;
        int mtu;
    } want[] = {
        {"eth0", "subnet-sim-east-a-internal", "10.1.0.0/18", "br-eth0", 1500},
        {"eth1", "subnet-sim-east-a-dmz", "10.1.192.0/20", "br-eth1", 1500},
        {"eth2", "subnet-sim-east-a-storage", "10.1.240.0/20", "br-storage", 8000},
        {"eth3", "subnet-sim-east-a-internal", "10.1.0.0/18", "br-eth0", 1500},
    };
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(first[i].device_index, (int)i);
        assert_string_equal(first[i].interface_name, want[i].name);
        assert_string_equal(first[i].subnet.id, want[i].subnet);
        assert_string_equal(first[i].parent_interface_name, want[i].parent);
        assert_int_equal(first[i].mtu, want[i].mtu);
        assert_true(s_usable_in(first[i].address, want[i].cidr));
        assert_string_equal(first[i].config_type, "static");
        assert_string_equal(first[i].container_tag, "machine-0-lxd-3");
        assert_string_equal(first[i].instance_id, host);
        assert_int_equal(strncmp(first[i].id, "eni-", 4), 0);
    }
    assert_string_equal(first[1].mac, "02:AA:bb:cc:dd:01");
    assert_int_equal(strncmp(first[0].mac, "02:", 3), 0);
    assert_true(first[2].disabled && first[2].no_auto_start);
    assert_false(first[0].disabled || first[0].no_auto_start);
    assert_int_equal(first[2].subnet.vlan_tag, 42);

    //  resent, even in another order: the same NICs, no new address
    en_sim_prepared_nic_t resend[] = {prep[3], prep[2], prep[1], prep[0]};
    assert_int_equal(en_sim_cloud_allocate_container_addresses(fx->cloud, "sim-east", host,
                                                               "machine-0-lxd-3", resend, 4, &again,
                                                               &n2, &err),
                     0);
    assert_int_equal(n2, 4);
    //  device order: eth0, then as given (eth3, eth2, eth1)
    size_t map[] = {0, 3, 2, 1};
    for (size_t i = 0; i < 4; i++) {
        assert_string_equal(again[i].id, first[map[i]].id);
        assert_string_equal(again[i].address, first[map[i]].address);
        assert_string_equal(again[i].mac, first[map[i]].mac);
        assert_int_equal(again[i].device_index, first[map[i]].device_index);
    }
    free(again);
    en_sim_nic_t *all;
    assert_int_equal(s_container_nics(fx->cloud, &all), 4);
    free(all);

    //  a MAC in use elsewhere is refused
    en_sim_prepared_nic_t clash = {.interface_name = "eth0", .mac = "02:aa:BB:cc:dd:01"};
    assert_int_equal(en_sim_cloud_allocate_container_addresses(fx->cloud, "sim-east", host,
                                                               "machine-0-lxd-4", &clash, 1, &again,
                                                               &n2, &err),
                     -1);
    assert_int_equal(err.kind, EN_NOT_VALID);
    assert_string_equal(err.message, "MAC address \"02:aa:BB:cc:dd:01\" already in use");
    //  the host's own NICs are not its containers'
    en_sim_nic_t *own;
    assert_int_equal(en_sim_cloud_interfaces(fx->cloud, "sim-east", host, &own, &n2, &err), 0);
    assert_int_equal(n2, 3);
    for (size_t i = 0; i < n2; i++)
        for (size_t j = 0; j < n; j++)
            assert_string_not_equal(own[i].address, first[j].address);
    free(own);
    free(first);
    free(host);
}

static void
release_frees_container_nics_and_ignores_the_rest(void **state)
{
    fixture_t *fx = *state;
    en_err_t err;
    char *host = s_create_id(fx->cloud, "sim-east-a", "host", NULL, 0);
    en_sim_prepared_nic_t prep[] = {s_prep("eth0", NULL, NULL), s_prep("eth1", NULL, NULL)};
    en_sim_nic_t *c1, *c2, *own;
    size_t n;
    assert_int_equal(en_sim_cloud_allocate_container_addresses(
                         fx->cloud, "sim-east", host, "machine-0-lxd-1", prep, 2, &c1, &n, &err),
                     0);
    assert_int_equal(en_sim_cloud_allocate_container_addresses(
                         fx->cloud, "sim-east", host, "machine-0-lxd-2", prep, 1, &c2, &n, &err),
                     0);
    assert_int_equal(en_sim_cloud_interfaces(fx->cloud, "sim-east", host, &own, &n, &err), 0);
    en_sim_nic_ref_t refs[] = {
        {.provider_id = c1[0].id},
        {.mac = c1[1].mac},
        {.provider_id = own[0].id},              //  an instance's NIC: ignored
        {.mac = own[0].mac},                     //  likewise
        {.provider_id = "eni-0000000000000000"}, //  unknown
        {0},
    };
    for (int round = 0; round < 2; round++) //  twice: the second finds nothing
        assert_int_equal(
            en_sim_cloud_release_container_addresses(fx->cloud, "sim-east", refs, 6, &err), 0);
    en_sim_nic_t *left;
    assert_int_equal(s_container_nics(fx->cloud, &left), 1);
    assert_string_equal(left[0].id, c2[0].id);
    free(left);
    en_sim_nic_t *still;
    assert_int_equal(en_sim_cloud_interfaces(fx->cloud, "sim-east", host, &still, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_string_equal(still[0].address, own[0].address);
    free(still);
    //  allocating again for lxd-1 takes new NICs (the old ones are gone)
    en_sim_nic_t *c1b;
    assert_int_equal(en_sim_cloud_allocate_container_addresses(
                         fx->cloud, "sim-east", host, "machine-0-lxd-1", prep, 2, &c1b, &n, &err),
                     0);
    assert_int_equal(n, 2);
    assert_string_not_equal(c1b[0].id, c1[0].id);
    free(c1b);
    free(c1);
    free(c2);
    free(own);
    free(host);
}

static void
terminate_frees_container_addresses(void **state)
{
    fixture_t *fx = *state;
    en_err_t err;
    char *a = s_create_id(fx->cloud, "sim-east-a", "a", NULL, 0);
    char *b = s_create_id(fx->cloud, "sim-east-a", "b", NULL, 0);
    en_sim_prepared_nic_t eth0 = s_prep("eth0", NULL, NULL);
    en_sim_nic_t *nics;
    size_t n;
    for (int i = 0; i < 3; i++) {
        char tag[32];
        snprintf(tag, sizeof tag, "machine-0-lxd-%d", i);
        assert_int_equal(en_sim_cloud_allocate_container_addresses(
                             fx->cloud, "sim-east", i < 2 ? a : b, tag, &eth0, 1, &nics, &n, &err),
                         0);
        free(nics);
    }
    assert_int_equal(s_container_nics(fx->cloud, &nics), 3);
    free(nics);
    const char *gone[] = {a};
    assert_int_equal(en_sim_cloud_terminate(fx->cloud, "sim-east", gone, 1, &err), 0);
    assert_int_equal(s_container_nics(fx->cloud, &nics), 1);
    assert_string_equal(nics[0].instance_id, b);
    free(nics);
    //  the host's own NIC stays (terminated instances are still described)
    //  but holds no address
    sqlite3 *db;
    sqlite3_stmt *stmt;
    assert_int_equal(sqlite3_open(fx->path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT count(*), count(address) FROM nics"
                                        " WHERE instance_id = ?1",
                                        -1, &stmt, NULL),
                     SQLITE_OK);
    sqlite3_bind_text(stmt, 1, a, -1, SQLITE_STATIC);
    assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(stmt, 0), 1);
    assert_int_equal(sqlite3_column_int(stmt, 1), 0);
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    const char *ids[] = {a};
    en_sim_instance_t *found;
    assert_int_equal(en_sim_cloud_describe(fx->cloud, "sim-east", ids, 1, &found, &n, &err), 0);
    assert_int_equal(found[0].address_count, 0);
    en_sim_instances_free(&found, n);
    free(a);
    free(b);
}

//  N processes, each with its own handle, allocate for their own
//  containers on one host at the same moment.
static void
concurrent_processes_never_share_an_address(void **state)
{
    fixture_t *fx = *state;
    en_err_t err;
    enum { N = 8, PER = 3 };
    const char *subnets[] = {"subnet-sim-east-a-internal", "subnet-sim-east-a-dmz"};
    char *host = s_create_id(fx->cloud, "sim-east-a", "host", subnets, 2);
    int go[2];
    assert_int_equal(pipe(go), 0);
    pid_t pids[N];
    for (int i = 0; i < N; i++) {
        pids[i] = fork();
        assert_true(pids[i] >= 0);
        if (pids[i] == 0) {
            close(go[1]);
            char c;
            if (read(go[0], &c, 1) != 0) //  wait for the start (the pipe's close)
                _exit(3);
            en_sim_cloud_t *cloud = en_sim_cloud_open(fx->path, &err);
            if (!cloud)
                _exit(2);
            char tag[32];
            snprintf(tag, sizeof tag, "machine-0-lxd-%d", i);
            en_sim_prepared_nic_t prep[PER] = {
                {.interface_name = "eth0"},
                {.interface_name = "eth1", .subnet_id = "subnet-sim-east-a-dmz"},
                {.interface_name = "eth2"},
            };
            en_sim_nic_t *nics;
            size_t n;
            int rc = en_sim_cloud_allocate_container_addresses(cloud, "sim-east", host, tag, prep,
                                                               PER, &nics, &n, &err);
            free(nics);
            en_sim_cloud_close(&cloud);
            _exit(rc == 0 && n == PER ? 0 : 1);
        }
    }
    close(go[0]);
    close(go[1]); //  go
    for (int i = 0; i < N; i++) {
        int status;
        assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
    }
    en_sim_nic_t *nics;
    size_t n = s_container_nics(fx->cloud, &nics);
    assert_int_equal(n, N * PER);
    en_sim_nic_t *own;
    size_t own_n;
    assert_int_equal(en_sim_cloud_interfaces(fx->cloud, "sim-east", host, &own, &own_n, &err), 0);
    for (size_t i = 0; i < n; i++) {
        assert_true(s_usable_in(nics[i].address, nics[i].subnet.cidr));
        assert_string_equal(nics[i].subnet.id, nics[i].device_index == 1
                                                   ? "subnet-sim-east-a-dmz"
                                                   : "subnet-sim-east-a-internal");
        for (size_t j = 0; j < i; j++) {
            assert_string_not_equal(nics[i].address, nics[j].address);
            assert_string_not_equal(nics[i].mac, nics[j].mac);
        }
        for (size_t j = 0; j < own_n; j++)
            assert_string_not_equal(nics[i].address, own[j].address);
    }
    free(own);
    free(nics);
    free(host);
}

//  --- the call gate ---

static void
network_methods_are_api_calls(void **state)
{
    fixture_t *fx = *state;
    en_err_t err;
    char *host = s_create_id(fx->cloud, "sim-east-a", "host", NULL, 0);
    const char *methods[] = {"spaces", "subnets", "interfaces", "allocate_container_addresses",
                             "release_container_addresses"};
    assert_int_equal(en_sim_cloud_reset_counters(fx->cloud, &err), 0);
    en_sim_prepared_nic_t eth0 = s_prep("eth0", NULL, NULL);
    en_sim_nic_ref_t ref = {.mac = "02:00:00:00:00:00"};
    for (int round = 0; round < 2; round++) {
        for (size_t m = 0; m < 5; m++) {
            char key[64];
            snprintf(key, sizeof key, "fail.%s", methods[m]);
            if (round == 0)
                assert_int_equal(en_sim_cloud_knob_set(fx->cloud, key, "UNAVAILABLE count 1", &err),
                                 0);
            en_sim_space_t *spaces = NULL;
            en_sim_subnet_t *subnets = NULL;
            en_sim_nic_t *nics = NULL;
            size_t n = 0;
            int rc;
            switch (m) {
            case 0:
                rc = en_sim_cloud_spaces(fx->cloud, "sim-east", &spaces, &n, &err);
                en_sim_spaces_free(&spaces, n);
                break;
            case 1:
                rc = en_sim_cloud_subnets(fx->cloud, "sim-east", NULL, &subnets, &n, &err);
                free(subnets);
                break;
            case 2:
                rc = en_sim_cloud_interfaces(fx->cloud, "sim-east", host, &nics, &n, &err);
                free(nics);
                break;
            case 3:
                rc = en_sim_cloud_allocate_container_addresses(
                    fx->cloud, "sim-east", host, "machine-0-lxd-0", &eth0, 1, &nics, &n, &err);
                free(nics);
                break;
            default:
                rc = en_sim_cloud_release_container_addresses(fx->cloud, "sim-east", &ref, 1, &err);
            }
            if (round == 0) {
                char message[96];
                snprintf(message, sizeof message, "sim.%s is broken", methods[m]);
                assert_int_equal(rc, -1);
                assert_int_equal(err.kind, EN_UNAVAILABLE);
                assert_string_equal(err.message, message);
                assert_null(spaces);
                assert_null(subnets);
                assert_null(nics);
            } else
                assert_int_equal(rc, 0);
        }
    }
    for (size_t m = 0; m < 5; m++)
        assert_int_equal(en_sim_cloud_call_count(fx->cloud, methods[m], &err), 2);
    //  the failed allocation took nothing; the console is not a call
    en_sim_nic_t *nics;
    assert_int_equal(s_container_nics(fx->cloud, &nics), 1);
    free(nics);
    assert_int_equal(en_sim_cloud_call_count(fx->cloud, "interfaces", &err), 2);
    free(host);
}

//  --- the provider's network driver ---

static void
driver_network_is_the_sim_network(void **state)
{
    fixture_t *fx = *state;
    en_err_t err;
    const en_provider_t *sim = en_provider_builtin("sim");
    const en_network_ops_t *net = sim->network;
    assert_non_null(net);
    assert_true(net->spaces && net->space_discovery && net->container_addresses);
    // lxd has networking without spaces or container addresses
    const en_network_ops_t *lxd = en_provider_builtin("lxd")->network;
    assert_non_null(lxd);
    assert_false(lxd->spaces || lxd->space_discovery || lxd->container_addresses);

    en_cloud_spec_t spec = {
        .type = "sim", .name = "sim", .region = "sim-east", .endpoint = fx->path};
    en_compute_t *c = sim->compute->open(&spec, NULL, &err);
    assert_non_null(c);
    const char *subnets[] = {"subnet-sim-east-a-storage", "subnet-sim-east-a-internal"};
    en_instance_t inst;
    assert_int_equal(sim->compute->create(c,
                                          &(en_create_args_t){.name = "m0",
                                                              .zone = "sim-east-a",
                                                              .type = "s1.small",
                                                              .subnets = subnets,
                                                              .subnet_count = 2},
                                          &inst, &err),
                     0);
    assert_int_equal(inst.address_count, 2);
    assert_string_equal(inst.addresses[0], "10.1.240.4");
    en_instance_t bad;
    const char *wrong[] = {"subnet-sim-east-b-dmz"};
    assert_int_equal(sim->compute->create(c,
                                          &(en_create_args_t){.name = "m1",
                                                              .zone = "sim-east-a",
                                                              .type = "s1.small",
                                                              .subnets = wrong,
                                                              .subnet_count = 1},
                                          &bad, &err),
                     -1);
    assert_string_equal(err.message,
                        "subnet \"subnet-sim-east-b-dmz\" is not in zone \"sim-east-a\"");

    en_nic_t *nics;
    size_t n;
    assert_int_equal(net->interfaces(c, inst.id, &nics, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_int_equal(nics[0].device_index, 0);
    assert_int_equal(strncmp(nics[0].provider_id, "eni-", 4), 0);
    assert_string_equal(nics[0].subnet_id, "subnet-sim-east-a-storage");
    assert_string_equal(nics[0].space_id, "sp-sim-east-storage");
    assert_string_equal(nics[0].cidr, "10.1.240.0/20");
    assert_string_equal(nics[0].vlan_id, "vlan-42");
    assert_int_equal(nics[0].vlan_tag, 42);
    assert_string_equal(nics[0].address_id, "");
    assert_string_equal(nics[0].address, "10.1.240.4");
    assert_string_equal(nics[0].gateway, "10.1.240.1");
    assert_int_equal(nics[0].dns_server_count, 1);
    assert_string_equal(nics[0].dns_servers[0], "10.1.240.2");
    assert_int_equal(nics[0].dns_search_domain_count, 1);
    assert_string_equal(nics[0].dns_search_domains[0], "sim-east.sim.internal");
    assert_int_equal(nics[0].zone_count, 1);
    assert_string_equal(nics[0].zones[0], "sim-east-a");
    assert_int_equal(nics[0].mtu, 9000);
    assert_string_equal(nics[0].config_type, "dhcp");
    assert_string_equal(nics[0].interface_type, "ethernet");
    assert_string_equal(nics[0].interface_name, "eth0");
    assert_string_equal(nics[0].parent_interface_name, "");
    assert_string_equal(nics[1].vlan_id, "");
    assert_int_equal(nics[1].mtu, 1500);
    en_nics_free(&nics, n);

    en_subnet_t *subs;
    assert_int_equal(net->subnets(c, NULL, &subs, &n, &err), 0);
    assert_int_equal(n, 7);
    assert_string_equal(subs[0].id, "subnet-sim-east-a-dmz");
    en_subnets_free(&subs, n);
    assert_int_equal(net->subnets(c, inst.id, &subs, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_string_equal(subs[0].id, "subnet-sim-east-a-internal");
    assert_string_equal(subs[1].id, "subnet-sim-east-a-storage");
    assert_int_equal(subs[1].vlan_tag, 42);
    assert_string_equal(subs[1].space_id, "sp-sim-east-storage");
    assert_string_equal(subs[1].zones[0], "sim-east-a");
    en_subnets_free(&subs, n);
    assert_int_equal(net->subnets(c, "i-0000000000000000", &subs, &n, &err), -1);
    assert_int_equal(err.kind, EN_NOT_FOUND);

    en_space_t *spaces;
    assert_int_equal(net->spaces_list(c, &spaces, &n, &err), 0);
    assert_int_equal(n, 3);
    assert_string_equal(spaces[1].name, "internal");
    assert_string_equal(spaces[1].id, "sp-sim-east-internal");
    assert_int_equal(spaces[1].subnet_count, 3);
    assert_string_equal(spaces[1].subnets[2].cidr, "10.1.128.0/18");
    en_spaces_free(&spaces, n);

    en_nic_t prepared[] = {{.interface_name = "eth0", .mac = "", .subnet_id = "", .cidr = ""},
                           {.interface_name = "eth1", .cidr = "10.1.240.0/20"}};
    assert_int_equal(
        net->allocate_container(c, inst.id, "machine-0-lxd-0", prepared, 2, &nics, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_string_equal(nics[0].config_type, "static");
    assert_string_equal(nics[0].subnet_id, "subnet-sim-east-a-storage"); //  the host's primary
    assert_string_equal(nics[0].parent_interface_name, "br-eth0");
    assert_string_equal(nics[1].parent_interface_name, "br-eth0");
    assert_true(s_usable_in(nics[1].address, "10.1.240.0/20"));
    en_nic_ref_t refs[] = {{.provider_id = nics[0].provider_id}, {.mac = nics[1].mac}};
    assert_int_equal(net->release_container(c, refs, 2, &err), 0);
    assert_int_equal(net->release_container(c, refs, 2, &err), 0);
    en_nics_free(&nics, n);
    en_sim_nic_t *left;
    assert_int_equal(s_container_nics(fx->cloud, &left), 0);
    free(left);
    en_instance_clear(&inst);
    sim->compute->close(&c);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(seed_spaces_and_subnets_read_back, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(create_with_subnets_gives_one_nic_each_in_order, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(create_with_bad_subnets_creates_nothing, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(default_subnet_is_the_zones_internal_one, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(
            addresses_never_reused_while_live_and_reusable_after_terminate, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(a_version_2_database_keeps_its_addresses_on_nics, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(allocate_errors_have_exact_messages_and_change_nothing,
                                        s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(allocate_again_answers_the_same_nics, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(release_frees_container_nics_and_ignores_the_rest, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(terminate_frees_container_addresses, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(concurrent_processes_never_share_an_address, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(network_methods_are_api_calls, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(driver_network_is_the_sim_network, s_setup, s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
