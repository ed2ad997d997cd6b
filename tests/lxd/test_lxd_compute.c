/*  lxd compute driver (lxd_compute.c) against the real LXD daemon that
    scripts/lxd-setup.sh prepared (pool `default`, image alias
    environs/busybox).

    The tests run in order and share two models whose uuids are new on
    every run, so their bridges and profiles are this run's alone:
    - model A: create with tags (user.* config, running, the nonce file,
      a DHCP address in the model bridge's /24), a second create of the
      same name, list and describe, set_tags, limits from constraints, bad
      input leaving nothing behind, terminate (twice), release_model;
    - model B: eight creates in parallel, each thread on its own
      connection, all racing to make the model's bridge and profile.
    Only containers made here are touched; the teardown deletes whatever a
    failed test left. Waiting is polling with a deadline, never a sleep. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <curl/curl.h>
#include <pthread.h>

#include "common/clock.h"
#include "providers/lxd/lxd_private.h"

#define IMAGE "environs/busybox"
#define PARALLEL_MAX 64

static const en_compute_ops_t *OPS = &lxd_compute_ops;
static en_compute_t *C;
static en_lxd_t *LXD; // the test's own look at LXD
static char MODEL_A[40], MODEL_B[40], CONTROLLER[40], SHORT[8];

static void
s_uuid(char out[40])
{
    unsigned char b[16];
    FILE *f = fopen("/dev/urandom", "rb");
    assert_non_null(f);
    assert_int_equal(fread(b, 1, 16, f), 16);
    fclose(f);
    snprintf(out, 40, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
             b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
             b[14], b[15]);
}

static void
s_name(char *out, size_t size, const char *model, int machine)
{
    snprintf(out, size, "enc-%.6s-%d", model, machine);
}

static en_compute_t *
s_open(void)
{
    en_err_t err;
    en_cloud_spec_t spec = {
        .type = "lxd", .name = "localhost", .region = "localhost", .endpoint = ""};
    en_compute_t *c = OPS->open(&spec, NULL, &err);
    if (!c)
        fprintf(stderr, "open: %s\n", err.message);
    return c;
}

//  Create machine <machine> of model with the standard tags.
static int
s_create(en_compute_t *c, const char *model, int machine, const char *image,
         const en_constraints_t *cons, en_instance_t *out, en_err_t *err)
{
    char name[64], id[16], nonce[64];
    s_name(name, sizeof name, model, machine);
    snprintf(id, sizeof id, "%d", machine);
    snprintf(nonce, sizeof nonce, "machine-%d:%s", machine, model);
    en_tag_t tags[] = {
        {"juju-model-uuid", model},
        {"juju-controller-uuid", CONTROLLER},
        {"juju-machine-id", id},
        {"juju-machine-nonce", nonce},
    };
    en_create_args_t args = {
        .name = name,
        .type = "container",
        .image = image,
        .cons = cons,
        .tags = tags,
        .tag_count = 4,
    };
    return OPS->create(c, &args, out, err);
}

static json_t *
s_get(const char *fmt, const char *name)
{
    char path[256];
    snprintf(path, sizeof path, fmt, name);
    json_t *meta = NULL;
    en_err_t err;
    if (en_lxd_call(LXD, "GET", path, NULL, &meta, NULL, 0, &err))
        return NULL;
    return meta;
}

static bool
s_exists(const char *fmt, const char *name)
{
    json_t *j = s_get(fmt, name);
    json_decref(j);
    return j != NULL;
}

static const char *
s_config(json_t *obj, const char *key)
{
    return json_string_value(json_object_get(json_object_get(obj, "config"), key));
}

//  Every instance of this run, by name prefix, deleted.
static void
s_sweep(const char *model)
{
    char prefix[32];
    s_name(prefix, sizeof prefix, model, 0);
    prefix[strlen(prefix) - 1] = '\0';
    json_t *all = s_get("/1.0/instances%s", "");
    size_t i;
    json_t *v;
    json_array_foreach(all, i, v)
    {
        const char *url = json_string_value(v);
        const char *name = url ? strrchr(url, '/') + 1 : "";
        if (strncmp(name, prefix, strlen(prefix)) == 0) {
            const char *ids[] = {name};
            en_err_t err;
            OPS->terminate(C, ids, 1, &err);
        }
    }
    json_decref(all);
}

static int
setup(void **state)
{
    (void)state;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    s_uuid(MODEL_A);
    s_uuid(MODEL_B);
    s_uuid(CONTROLLER);
    memcpy(SHORT, MODEL_A, 6);
    en_err_t err;
    LXD = en_lxd_new(&(en_lxd_config_t){0}, &err);
    C = s_open();
    return LXD && C ? 0 : -1;
}

static int
teardown(void **state)
{
    (void)state;
    s_sweep(MODEL_A);
    s_sweep(MODEL_B);
    en_err_t err;
    en_tag_t f = {"juju-controller-uuid", CONTROLLER};
    if (OPS->release_model(C, &f, 1, &err))
        fprintf(stderr, "teardown release: %s\n", err.message);
    OPS->close(&C);
    en_lxd_destroy(&LXD);
    curl_global_cleanup();
    return 0;
}

static void
catalogue_and_zones(void **state)
{
    (void)state;
    en_err_t err;
    const en_instance_type_t *types;
    size_t n;
    assert_int_equal(OPS->instance_types(C, &types, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_string_equal(types[0].name, "container");
    assert_string_equal(types[0].virt_type, "container");
    assert_true(types[0].arch_count >= 1);
    assert_true(types[0].cpu_cores >= 1);
    assert_true(types[0].mem >= 256);
    en_zone_t *zones;
    assert_int_equal(OPS->zones(C, &zones, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_true(zones[0].available);
    assert_true(strlen(zones[0].name) > 0);
    en_zones_free(&zones, n);
    int limit = 0;
    assert_int_equal(OPS->concurrency(C, &limit, &err), 0);
    assert_true(limit > 0);
}

//  The address of inst in the /24 of the model bridge, polled for.
static bool
s_wait_address(const char *name, const char *model, char *addr, size_t size)
{
    char bridge[LXD_BRIDGE_MAX];
    lxd_bridge_name(model, bridge);
    json_t *net = s_get("/1.0/networks/%s", bridge);
    uint32_t want = 0;
    char net_addr[64] = "";
    snprintf(net_addr, sizeof net_addr, "%s", s_config(net, "ipv4.address"));
    json_decref(net);
    *strchr(net_addr, '/') = '\0';
    struct in_addr a;
    assert_int_equal(inet_pton(AF_INET, net_addr, &a), 1);
    want = ntohl(a.s_addr) & 0xffffff00u;
    int64_t deadline = en_mono_ms() + 30000;
    while (en_mono_ms() < deadline) {
        en_instance_t *found;
        size_t n;
        en_err_t err;
        assert_int_equal(OPS->describe(C, &name, 1, &found, &n, &err), 0);
        assert_int_equal(n, 1);
        for (size_t i = 0; i < found[0].address_count; i++)
            if (inet_pton(AF_INET, found[0].addresses[i], &a) == 1 &&
                (ntohl(a.s_addr) & 0xffffff00u) == want) {
                snprintf(addr, size, "%s", found[0].addresses[i]);
                en_instances_free(&found, n);
                return true;
            }
        en_instances_free(&found, n);
        en_sleep_ms(50); // polling with a deadline
    }
    return false;
}

static void
create_tags_running_nonce_address(void **state)
{
    (void)state;
    en_err_t err;
    en_instance_t inst;
    int64_t t0 = en_mono_ms();
    int rc = s_create(C, MODEL_A, 0, IMAGE, NULL, &inst, &err);
    int64_t t1 = en_mono_ms();
    if (rc)
        fail_msg("create: %s", err.message);
    printf("# create+start of one container (first of its model: bridge, profile): %lld ms\n",
           (long long)(t1 - t0));
    char name[64];
    s_name(name, sizeof name, MODEL_A, 0);
    assert_string_equal(inst.id, name);
    assert_string_equal(inst.status, "running");
    assert_string_equal(inst.status_message, "Running");
    assert_true(inst.live);
    assert_string_equal(inst.instance_type, "container");
    assert_true(inst.mem > 0 && inst.cpu_cores > 0);
    assert_string_equal(en_kvlist_get(&inst.tags, "juju-model-uuid"), MODEL_A);
    assert_string_equal(en_kvlist_get(&inst.tags, "juju-machine-id"), "0");
    en_instance_clear(&inst);

    json_t *j = s_get("/1.0/instances/%s", name);
    assert_non_null(j);
    assert_string_equal(s_config(j, "user.juju-model-uuid"), MODEL_A);
    assert_string_equal(s_config(j, "user.juju-controller-uuid"), CONTROLLER);
    assert_string_equal(json_string_value(json_object_get(j, "status")), "Running");
    char profile[LXD_PROFILE_MAX];
    lxd_profile_name(MODEL_A, profile);
    assert_string_equal(json_string_value(json_array_get(json_object_get(j, "profiles"), 0)),
                        profile);
    json_decref(j);

    char *data = NULL;
    size_t len = 0;
    char nonce[64];
    snprintf(nonce, sizeof nonce, "machine-0:%s", MODEL_A);
    assert_int_equal(OPS->read_file(C, name, LXD_NONCE_FILE, &data, &len, &err), 0);
    assert_string_equal(data, nonce);
    free(data);
    assert_int_equal(OPS->read_file(C, name, "/var/lib/juju/nope", &data, &len, &err), -1);
    assert_int_equal(err.kind, EN_NOT_FOUND);

    char addr[64];
    int64_t t2 = en_mono_ms();
    assert_true(s_wait_address(name, MODEL_A, addr, sizeof addr));
    printf("# DHCP address %s after %lld ms more\n", addr, (long long)(en_mono_ms() - t2));
    char **addrs;
    size_t n;
    assert_int_equal(lxd_instance_addresses(C, name, &addrs, &n, &err), 0);
    assert_true(n >= 1);
    assert_string_equal(addrs[0], addr);
    for (size_t i = 0; i < n; i++)
        free(addrs[i]);
    free(addrs);
}

static void
create_again_already_exists(void **state)
{
    (void)state;
    en_err_t err;
    en_instance_t inst;
    assert_int_equal(s_create(C, MODEL_A, 0, IMAGE, NULL, &inst, &err), -1);
    assert_int_equal(err.kind, EN_ALREADY_EXISTS);
    char name[64];
    s_name(name, sizeof name, MODEL_A, 0);
    assert_non_null(strstr(err.message, name));
}

static void
list_by_model_oldest_first(void **state)
{
    (void)state;
    en_err_t err;
    en_instance_t inst;
    int64_t t0 = en_mono_ms();
    if (s_create(C, MODEL_A, 1, IMAGE, NULL, &inst, &err))
        fail_msg("create: %s", err.message);
    printf("# create+start of one container (model ready): %lld ms\n",
           (long long)(en_mono_ms() - t0));
    en_instance_clear(&inst);
    char n0[64], n1[64];
    s_name(n0, sizeof n0, MODEL_A, 0);
    s_name(n1, sizeof n1, MODEL_A, 1);
    en_tag_t f = {"juju-model-uuid", MODEL_A};
    en_instance_t *found;
    size_t n;
    assert_int_equal(OPS->list(C, &f, 1, &found, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_string_equal(found[0].id, n0);
    assert_string_equal(found[1].id, n1);
    en_instances_free(&found, n);
    //  two filters, one with any value
    en_tag_t f2[] = {{"juju-model-uuid", MODEL_A}, {"juju-machine-id", "1"}};
    assert_int_equal(OPS->list(C, f2, 2, &found, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_string_equal(found[0].id, n1);
    en_instances_free(&found, n);
    en_tag_t f3[] = {{"juju-model-uuid", MODEL_A}, {"juju-machine-nonce", NULL}};
    assert_int_equal(OPS->list(C, f3, 2, &found, &n, &err), 0);
    assert_int_equal(n, 2);
    en_instances_free(&found, n);
    //  LXD's filter compares without case: the driver does not
    char upper[40];
    for (size_t i = 0; i <= strlen(MODEL_A); i++)
        upper[i] = (char)(MODEL_A[i] >= 'a' && MODEL_A[i] <= 'f' ? MODEL_A[i] - 32 : MODEL_A[i]);
    en_tag_t f4 = {"juju-model-uuid", upper};
    assert_int_equal(OPS->list(C, &f4, 1, &found, &n, &err), 0);
    assert_int_equal(n, 0);
    en_instances_free(&found, n);
}

static void
describe_order_and_unknown(void **state)
{
    (void)state;
    char n0[64], n1[64];
    s_name(n0, sizeof n0, MODEL_A, 0);
    s_name(n1, sizeof n1, MODEL_A, 1);
    const char *ids[] = {n1, "enc-nope-9", n0, n1, "bad name/x"};
    en_instance_t *found;
    size_t n;
    en_err_t err;
    assert_int_equal(OPS->describe(C, ids, 5, &found, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_string_equal(found[0].id, n1);
    assert_string_equal(found[1].id, n0);
    assert_string_equal(found[0].zone, found[1].zone);
    assert_true(strlen(found[0].zone) > 0);
    en_instances_free(&found, n);
    const char *none[] = {"enc-nope-9"};
    assert_int_equal(OPS->describe(C, none, 1, &found, &n, &err), 0);
    assert_int_equal(n, 0);
    en_instances_free(&found, n);
}

static void
set_tags_replaces_named(void **state)
{
    (void)state;
    char n1[64];
    s_name(n1, sizeof n1, MODEL_A, 1);
    en_tag_t tags[] = {{"juju-machine-id", "1x"}, {"juju-units-deployed", "a/0"}};
    en_err_t err;
    assert_int_equal(OPS->set_tags(C, n1, tags, 2, &err), 0);
    const char *ids[] = {n1};
    en_instance_t *found;
    size_t n;
    assert_int_equal(OPS->describe(C, ids, 1, &found, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_string_equal(en_kvlist_get(&found[0].tags, "juju-machine-id"), "1x");
    assert_string_equal(en_kvlist_get(&found[0].tags, "juju-units-deployed"), "a/0");
    assert_string_equal(en_kvlist_get(&found[0].tags, "juju-model-uuid"), MODEL_A);
    en_instances_free(&found, n);
    assert_int_equal(OPS->set_tags(C, "enc-nope-9", tags, 2, &err), -1);
    assert_int_equal(err.kind, EN_NOT_FOUND);
    assert_string_equal(err.message, "instance \"enc-nope-9\" not found");
}

static void
limits_from_constraints(void **state)
{
    (void)state;
    en_constraints_t cons;
    en_err_t err;
    en_constraints_init(&cons);
    assert_int_equal(en_constraints_parse(&cons, "cores=1 mem=256M root-disk=1G", &err), 0);
    en_instance_t inst;
    if (s_create(C, MODEL_A, 2, IMAGE, &cons, &inst, &err))
        fail_msg("create: %s", err.message);
    assert_int_equal(inst.cpu_cores, 1);
    assert_int_equal(inst.mem, 256);
    assert_int_equal(inst.root_disk, 1024);
    en_instance_clear(&inst);
    en_constraints_reset(&cons);
    char name[64];
    s_name(name, sizeof name, MODEL_A, 2);
    json_t *j = s_get("/1.0/instances/%s", name);
    assert_string_equal(s_config(j, "limits.cpu"), "1");
    assert_string_equal(s_config(j, "limits.memory"), "256MiB");
    json_t *root = json_object_get(json_object_get(j, "devices"), "root");
    assert_string_equal(json_string_value(json_object_get(root, "size")), "1024MiB");
    assert_string_equal(json_string_value(json_object_get(root, "pool")), "default");
    json_decref(j);
    const char *ids[] = {name};
    assert_int_equal(OPS->terminate(C, ids, 1, &err), 0);
}

static void
bad_input_leaves_nothing(void **state)
{
    (void)state;
    en_err_t err;
    en_instance_t inst;
    char name[64];
    s_name(name, sizeof name, MODEL_A, 3);
    assert_int_equal(s_create(C, MODEL_A, 3, "environs/nope", NULL, &inst, &err), -1);
    printf("# unknown alias: %s: %s\n", en_kind_name(err.kind), err.message);
    assert_int_equal(err.kind, EN_NOT_FOUND);
    assert_false(s_exists("/1.0/instances/%s", name));
    const char *fp = "00000000000000000000000000000000000000000000000000000000000000ff";
    assert_int_equal(s_create(C, MODEL_A, 3, fp, NULL, &inst, &err), -1);
    printf("# unknown fingerprint: %s: %s\n", en_kind_name(err.kind), err.message);
    assert_int_not_equal(err.kind, EN_OK);
    assert_false(s_exists("/1.0/instances/%s", name));
    assert_int_equal(s_create(C, MODEL_A, 3, NULL, NULL, &inst, &err), -1);
    assert_int_equal(err.kind, EN_NOT_VALID);
    char want[128];
    snprintf(want, sizeof want, "no image for instance \"%s\"", name);
    assert_string_equal(err.message, want);
}

static void
bad_groups_subnets_and_tags(void **state)
{
    (void)state;
    char name[64];
    s_name(name, sizeof name, MODEL_A, 4);
    en_tag_t tags[] = {{"juju-model-uuid", MODEL_A}, {"juju-machine-nonce", "n"}};
    const char *groups[] = {"juju-nope-group"};
    const char *subnets[] = {"enc-nope-net"};
    en_create_args_t args = {.name = name,
                             .image = IMAGE,
                             .tags = tags,
                             .tag_count = 2,
                             .groups = groups,
                             .group_count = 1};
    en_instance_t inst;
    en_err_t err;
    assert_int_equal(OPS->create(C, &args, &inst, &err), -1);
    assert_int_equal(err.kind, EN_NOT_FOUND);
    assert_string_equal(err.message, "security group \"juju-nope-group\" not found");
    args.group_count = 0;
    args.subnets = subnets;
    args.subnet_count = 1;
    assert_int_equal(OPS->create(C, &args, &inst, &err), -1);
    assert_int_equal(err.kind, EN_NOT_FOUND);
    assert_string_equal(err.message, "subnet \"enc-nope-net\" not found");
    args.subnet_count = 0;
    args.tag_count = 0;
    assert_int_equal(OPS->create(C, &args, &inst, &err), -1);
    assert_int_equal(err.kind, EN_NOT_VALID);
    assert_false(s_exists("/1.0/instances/%s", name));
}

static void
release_refused_while_in_use(void **state)
{
    (void)state;
    en_tag_t f = {"juju-model-uuid", MODEL_A};
    en_err_t err;
    assert_int_equal(OPS->release_model(C, &f, 1, &err), -1);
    assert_int_equal(err.kind, EN_UNAVAILABLE);
    assert_true(err.retryable);
    assert_non_null(strstr(err.message, "is in use"));
    char profile[LXD_PROFILE_MAX];
    lxd_profile_name(MODEL_A, profile);
    assert_true(s_exists("/1.0/profiles/%s", profile));
}

static void
terminate_twice_then_release(void **state)
{
    (void)state;
    char n0[64], n1[64];
    s_name(n0, sizeof n0, MODEL_A, 0);
    s_name(n1, sizeof n1, MODEL_A, 1);
    const char *ids[] = {n0, n1, "enc-nope-9"};
    en_err_t err;
    int64_t t0 = en_mono_ms();
    assert_int_equal(OPS->terminate(C, ids, 3, &err), 0);
    printf("# terminate of 2 running containers: %lld ms\n", (long long)(en_mono_ms() - t0));
    assert_int_equal(OPS->terminate(C, ids, 3, &err), 0);
    en_tag_t f = {"juju-model-uuid", MODEL_A};
    en_instance_t *found;
    size_t n;
    assert_int_equal(OPS->list(C, &f, 1, &found, &n, &err), 0);
    assert_int_equal(n, 0);
    en_instances_free(&found, n);
    assert_int_equal(OPS->describe(C, ids, 3, &found, &n, &err), 0);
    assert_int_equal(n, 0);
    en_instances_free(&found, n);

    if (OPS->release_model(C, &f, 1, &err))
        fail_msg("release: %s", err.message);
    char profile[LXD_PROFILE_MAX], bridge[LXD_BRIDGE_MAX];
    lxd_profile_name(MODEL_A, profile);
    lxd_bridge_name(MODEL_A, bridge);
    assert_false(s_exists("/1.0/profiles/%s", profile));
    assert_false(s_exists("/1.0/networks/%s", bridge));
    assert_int_equal(OPS->release_model(C, &f, 1, &err), 0);
}

typedef struct {
    int machine;
    int rc;
    en_err_t err;
    int64_t ms;
} s_job_t;

static void *
s_worker(void *arg)
{
    s_job_t *job = arg;
    en_compute_t *c = s_open();
    en_instance_t inst;
    int64_t t0 = en_mono_ms();
    job->rc = c ? s_create(c, MODEL_B, job->machine, IMAGE, NULL, &inst, &job->err) : -1;
    job->ms = en_mono_ms() - t0;
    if (job->rc == 0)
        en_instance_clear(&inst);
    lxd_compute_ops.close(&c);
    return NULL;
}

static void
parallel_creates_all_succeed(void **state)
{
    (void)state;
    //  8 by default; ENVIRONS_TEST_LXD_PARALLEL to measure more
    const char *env = getenv("ENVIRONS_TEST_LXD_PARALLEL");
    int parallel = env && atoi(env) > 0 && atoi(env) <= PARALLEL_MAX ? atoi(env) : 8;
    pthread_t threads[PARALLEL_MAX];
    s_job_t jobs[PARALLEL_MAX];
    int64_t t0 = en_mono_ms();
    for (int i = 0; i < parallel; i++) {
        jobs[i] = (s_job_t){.machine = i};
        assert_int_equal(pthread_create(&threads[i], NULL, s_worker, &jobs[i]), 0);
    }
    for (int i = 0; i < parallel; i++)
        pthread_join(threads[i], NULL);
    int64_t total = en_mono_ms() - t0, slowest = 0;
    for (int i = 0; i < parallel; i++) {
        if (jobs[i].rc)
            fail_msg("machine %d: %s", i, jobs[i].err.message);
        slowest = jobs[i].ms > slowest ? jobs[i].ms : slowest;
    }
    printf("# %d parallel creates (new model): all done in %lld ms, slowest %lld ms\n", parallel,
           (long long)total, (long long)slowest);
    en_tag_t f = {"juju-model-uuid", MODEL_B};
    en_instance_t *found;
    size_t n;
    en_err_t err;
    assert_int_equal(OPS->list(C, &f, 1, &found, &n, &err), 0);
    assert_int_equal(n, parallel);
    const char *ids[PARALLEL_MAX];
    for (size_t i = 0; i < n; i++)
        ids[i] = found[i].id;
    t0 = en_mono_ms();
    assert_int_equal(OPS->terminate(C, ids, n, &err), 0);
    printf("# terminate of %d: %lld ms\n", parallel, (long long)(en_mono_ms() - t0));
    en_instances_free(&found, n);
    if (OPS->release_model(C, &f, 1, &err))
        fail_msg("release: %s", err.message);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(catalogue_and_zones),
        cmocka_unit_test(create_tags_running_nonce_address),
        cmocka_unit_test(create_again_already_exists),
        cmocka_unit_test(list_by_model_oldest_first),
        cmocka_unit_test(describe_order_and_unknown),
        cmocka_unit_test(set_tags_replaces_named),
        cmocka_unit_test(limits_from_constraints),
        cmocka_unit_test(bad_input_leaves_nothing),
        cmocka_unit_test(bad_groups_subnets_and_tags),
        cmocka_unit_test(release_refused_while_in_use),
        cmocka_unit_test(terminate_twice_then_release),
        cmocka_unit_test(parallel_creates_all_succeed),
    };
    return cmocka_run_group_tests_name("lxd.compute", tests, setup, teardown);
}
