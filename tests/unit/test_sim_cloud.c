/*  The sim cloud: one SQLite file shared by threads and processes, behaving
    like a real cloud — seed, instances, tags, addresses, zones, failure
    injection, eventual consistency, the concurrency limit.

    Each test gets its own database in a fresh mkdtemp directory. Nothing
    sleeps to synchronise: tests that wait on the cloud's clock poll with a
    deadline, and assert against the timestamps the cloud reports, so a slow
    machine (or valgrind) weakens nothing it cannot observe. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "providers/sim/sim_cloud.h"

typedef struct {
    char dir[64];
    char path[128];
    en_sim_cloud_t *cloud;
} fixture_t;

static int64_t
s_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
s_setup_fresh(void **state)
{
    fixture_t *fx = calloc(1, sizeof *fx);
    snprintf(fx->dir, sizeof fx->dir, "/tmp/en-sim-XXXXXX");
    if (!fx || !mkdtemp(fx->dir))
        return -1;
    snprintf(fx->path, sizeof fx->path, "%s/cloud.db", fx->dir);
    *state = fx;
    return 0;
}

static int
s_setup(void **state)
{
    if (s_setup_fresh(state))
        return -1;
    fixture_t *fx = *state;
    en_err_t err;
    fx->cloud = en_sim_cloud_open(fx->path, &err);
    return fx->cloud ? 0 : -1;
}

static int
s_teardown(void **state)
{
    fixture_t *fx = *state;
    en_sim_cloud_close(&fx->cloud);
    const char *suffixes[] = {"", "-wal", "-shm", ".junk"};
    for (size_t i = 0; i < 4; i++) {
        char file[160];
        snprintf(file, sizeof file, "%s%s", fx->path, suffixes[i]);
        unlink(file);
    }
    rmdir(fx->dir);
    free(fx);
    return 0;
}

//  Create an instance in sim-east and keep only its id (caller frees).
static char *
s_create(en_sim_cloud_t *cloud, const char *name, const char *model)
{
    en_sim_tag_t tags[] = {{"juju-model-uuid", model}, {"juju-machine-id", name}};
    en_sim_instance_t inst;
    en_err_t err;
    int rc = en_sim_cloud_create(cloud, "sim-east", "sim-east-a", "s1.small", name, tags, 2, &inst,
                                 &err);
    if (rc)
        fail_msg("create %s: %s", name, err.message);
    char *id = strdup(inst.id);
    en_sim_instance_clear(&inst);
    return id;
}

static const char *
s_tag(const en_sim_instance_t *inst, const char *key)
{
    for (size_t i = 0; i < inst->tag_count; i++)
        if (strcmp(inst->tags[i].key, key) == 0)
            return inst->tags[i].value;
    return NULL;
}

//  --- seed ---

typedef struct {
    const char *path;
    pthread_barrier_t *barrier;
    size_t regions, zones, east_types, west_types;
    int rc;
} opener_t;

static int
s_count_catalogue(en_sim_cloud_t *cloud, opener_t *out)
{
    en_err_t err;
    en_sim_region_t *regions;
    en_sim_zone_t *zones;
    en_sim_instance_type_t *types;
    size_t n, total = 0;
    if (en_sim_cloud_regions(cloud, &regions, &out->regions, &err))
        return -1;
    free(regions);
    const char *names[] = {"sim-east", "sim-west"};
    for (int r = 0; r < 2; r++) {
        if (en_sim_cloud_zones(cloud, names[r], &zones, &n, &err))
            return -1;
        free(zones);
        total += n;
        if (en_sim_cloud_instance_types(cloud, names[r], &types,
                                        r ? &out->west_types : &out->east_types, &err))
            return -1;
        free(types);
    }
    out->zones = total;
    return 0;
}

static void *
s_opener(void *arg)
{
    opener_t *op = arg;
    en_err_t err;
    pthread_barrier_wait(op->barrier);
    en_sim_cloud_t *cloud = en_sim_cloud_open(op->path, &err);
    op->rc = cloud ? s_count_catalogue(cloud, op) : -1;
    en_sim_cloud_close(&cloud);
    return NULL;
}

static void
s_assert_seed(const opener_t *op)
{
    assert_int_equal(op->rc, 0);
    assert_int_equal(op->regions, 2);
    assert_int_equal(op->zones, 5);
    assert_int_equal(op->east_types, 13);
    assert_int_equal(op->west_types, 12);
}

static void
seed_once_when_threads_open_a_fresh_database_together(void **state)
{
    fixture_t *fx = *state;
    enum { N = 4 };
    pthread_barrier_t barrier;
    pthread_barrier_init(&barrier, NULL, N);
    pthread_t threads[N];
    opener_t ops[N];
    for (int i = 0; i < N; i++) {
        ops[i] = (opener_t){.path = fx->path, .barrier = &barrier};
        pthread_create(&threads[i], NULL, s_opener, &ops[i]);
    }
    for (int i = 0; i < N; i++)
        pthread_join(threads[i], NULL);
    pthread_barrier_destroy(&barrier);
    for (int i = 0; i < N; i++)
        s_assert_seed(&ops[i]);
}

static void
seed_once_when_a_forked_child_opens_at_the_same_time(void **state)
{
    fixture_t *fx = *state;
    int go[2];
    assert_int_equal(pipe(go), 0);
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        char byte;
        close(go[1]);
        if (read(go[0], &byte, 1) != 1)
            _exit(2);
        en_err_t err;
        en_sim_cloud_t *cloud = en_sim_cloud_open(fx->path, &err);
        opener_t op = {0};
        op.rc = cloud ? s_count_catalogue(cloud, &op) : -1;
        en_sim_cloud_close(&cloud);
        _exit(op.rc == 0 && op.regions == 2 && op.zones == 5 && op.east_types == 13 ? 0 : 1);
    }
    close(go[0]);
    assert_int_equal(write(go[1], "g", 1), 1); //  both open now
    close(go[1]);
    en_err_t err;
    fx->cloud = en_sim_cloud_open(fx->path, &err);
    assert_non_null(fx->cloud);
    opener_t op = {0};
    op.rc = s_count_catalogue(fx->cloud, &op);
    int status;
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    s_assert_seed(&op);
}

//  --- catalogue ---

static void
catalogue_has_regions_zones_and_mixed_arch_types(void **state)
{
    fixture_t *fx = *state;
    en_err_t err;
    en_sim_region_t *regions;
    size_t n;
    assert_int_equal(en_sim_cloud_regions(fx->cloud, &regions, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_string_equal(regions[0].name, "sim-east");
    assert_int_equal(regions[0].index, 1);
    assert_string_equal(regions[1].name, "sim-west");
    free(regions);

    en_sim_zone_t *zones;
    assert_int_equal(en_sim_cloud_zones(fx->cloud, "sim-east", &zones, &n, &err), 0);
    assert_int_equal(n, 3);
    assert_string_equal(zones[0].name, "sim-east-a");
    assert_string_equal(zones[2].name, "sim-east-c");
    assert_string_equal(zones[1].region, "sim-east");
    assert_true(zones[0].available);
    free(zones);

    en_sim_instance_type_t *types;
    assert_int_equal(en_sim_cloud_instance_types(fx->cloud, "sim-west", &types, &n, &err), 0);
    int amd64 = 0, arm64 = 0, deprecated = 0;
    for (size_t i = 0; i < n; i++) {
        amd64 += strcmp(types[i].arch, "amd64") == 0;
        arm64 += strcmp(types[i].arch, "arm64") == 0;
        deprecated += types[i].deprecated;
        assert_string_equal(types[i].virt_type, "hvm");
        assert_true(types[i].cores > 0 && types[i].mem_mib >= 1024 && types[i].cost > 0);
        assert_true(types[i].root_disk_mib > 0 && types[i].cpu_power > 0);
        if (i > 0)
            assert_true(types[i - 1].cost <= types[i].cost);
    }
    assert_true(n >= 12);
    assert_true(amd64 > 0 && arm64 > 0);
    assert_int_equal(deprecated, 1);
    free(types);

    assert_int_equal(en_sim_cloud_zones(fx->cloud, "moon-1", &zones, &n, &err), -1);
    assert_int_equal(err.kind, EN_NOT_VALID);
    assert_string_equal(err.message, "region \"moon-1\" not valid");
    assert_null(zones);
}

//  --- instances ---

static void
instance_create_describe_list_terminate(void **state)
{
    fixture_t *fx = *state;
    en_err_t err;
    en_sim_tag_t tags[] = {{"juju-model-uuid", "m-1"}, {"juju-is-controller", "true"}};
    en_sim_instance_t inst;
    assert_int_equal(en_sim_cloud_create(fx->cloud, "sim-east", "sim-east-b", "s1.medium",
                                         "juju-m1-0", tags, 2, &inst, &err),
                     0);
    assert_int_equal(strlen(inst.id), 18);
    assert_int_equal(strncmp(inst.id, "i-", 2), 0);
    assert_int_equal(strspn(inst.id + 2, "0123456789abcdef"), 16);
    assert_string_equal(inst.name, "juju-m1-0");
    assert_string_equal(inst.zone, "sim-east-b");
    assert_string_equal(inst.arch, "amd64");
    assert_int_equal(inst.cores, 2);
    assert_int_equal(inst.mem_mib, 4096);
    assert_int_equal(inst.state, EN_SIM_RUNNING);
    assert_int_equal(inst.address_count, 1);
    assert_int_equal(strncmp(inst.addresses[0], "10.1.", 5), 0);
    assert_int_equal(inst.tag_count, 2);
    assert_string_equal(inst.tags[0].key, "juju-model-uuid");
    assert_string_equal(inst.tags[1].value, "true");
    assert_true(inst.created_ms > 0 && inst.terminated_ms == 0);

    //  describe: found ones only, each once, in request order
    const char *ids[] = {"i-0000000000000000", inst.id, inst.id};
    en_sim_instance_t *found;
    size_t n;
    assert_int_equal(en_sim_cloud_describe(fx->cloud, "sim-east", ids, 3, &found, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_string_equal(found[0].id, inst.id);
    assert_string_equal(found[0].addresses[0], inst.addresses[0]);
    assert_string_equal(s_tag(&found[0], "juju-model-uuid"), "m-1");
    en_sim_instances_free(&found, n);
    assert_null(found);
    //  other region: not there
    assert_int_equal(en_sim_cloud_describe(fx->cloud, "sim-west", ids, 3, &found, &n, &err), 0);
    assert_int_equal(n, 0);

    assert_int_equal(en_sim_cloud_list(fx->cloud, "sim-east", NULL, 0, false, &found, &n, &err), 0);
    assert_int_equal(n, 1);
    en_sim_instances_free(&found, n);

    //  the cloud is the file: a new handle sees the same instance
    en_sim_cloud_close(&fx->cloud);
    en_sim_cloud_close(&fx->cloud); //  idempotent
    fx->cloud = en_sim_cloud_open(fx->path, &err);
    assert_non_null(fx->cloud);

    //  terminate: unknown ids are not an error, and terminating twice is fine
    const char *doomed[] = {inst.id, "i-ffffffffffffffff"};
    assert_int_equal(en_sim_cloud_terminate(fx->cloud, "sim-east", doomed, 2, &err), 0);
    assert_int_equal(en_sim_cloud_terminate(fx->cloud, "sim-east", doomed, 2, &err), 0);
    assert_int_equal(en_sim_cloud_terminate(fx->cloud, "sim-east", NULL, 0, &err), 0);
    assert_int_equal(en_sim_cloud_describe(fx->cloud, "sim-east", ids, 3, &found, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_int_equal(found[0].state, EN_SIM_TERMINATED);
    assert_string_equal(en_sim_state_name(found[0].state), "terminated");
    assert_int_equal(found[0].address_count, 0);
    assert_true(found[0].terminated_ms >= found[0].created_ms);
    en_sim_instances_free(&found, n);
    assert_int_equal(en_sim_cloud_list(fx->cloud, "sim-east", NULL, 0, false, &found, &n, &err), 0);
    assert_int_equal(n, 0);
    assert_int_equal(en_sim_cloud_list(fx->cloud, "sim-east", NULL, 0, true, &found, &n, &err), 0);
    assert_int_equal(n, 1);
    en_sim_instances_free(&found, n);
    en_sim_instance_clear(&inst);
    en_sim_instance_clear(&inst); //  safe on a cleared struct
}

static void
set_tags_replaces_same_keys_and_keeps_others(void **state)
{
    fixture_t *fx = *state;
    en_err_t err;
    char *id = s_create(fx->cloud, "m0", "model-a");
    en_sim_tag_t more[] = {{"juju-machine-id", "0-renamed"}, {"extra", "1"}};
    assert_int_equal(en_sim_cloud_set_tags(fx->cloud, "sim-east", id, more, 2, &err), 0);
    const char *ids[] = {id};
    en_sim_instance_t *found;
    size_t n;
    assert_int_equal(en_sim_cloud_describe(fx->cloud, "sim-east", ids, 1, &found, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_int_equal(found[0].tag_count, 3);
    assert_string_equal(found[0].tags[0].key, "juju-model-uuid");
    assert_string_equal(found[0].tags[0].value, "model-a");
    assert_string_equal(found[0].tags[1].key, "juju-machine-id");
    assert_string_equal(found[0].tags[1].value, "0-renamed");
    assert_string_equal(found[0].tags[2].key, "extra");
    en_sim_instances_free(&found, n);

    //  bad tags change nothing
    en_sim_tag_t dup[] = {{"a", "1"}, {"a", "2"}};
    assert_int_equal(en_sim_cloud_set_tags(fx->cloud, "sim-east", id, dup, 2, &err), -1);
    assert_int_equal(err.kind, EN_NOT_VALID);
    en_sim_tag_t many[EN_SIM_TAGS_MAX];
    char keys[EN_SIM_TAGS_MAX][16];
    for (int i = 0; i < EN_SIM_TAGS_MAX; i++) {
        snprintf(keys[i], sizeof keys[i], "k%d", i);
        many[i] = (en_sim_tag_t){keys[i], "v"};
    }
    assert_int_equal(en_sim_cloud_set_tags(fx->cloud, "sim-east", id, many, EN_SIM_TAGS_MAX, &err),
                     -1); //  3 existing + 50 new > 50
    assert_int_equal(err.kind, EN_NOT_VALID);
    assert_int_equal(en_sim_cloud_describe(fx->cloud, "sim-east", ids, 1, &found, &n, &err), 0);
    assert_int_equal(found[0].tag_count, 3);
    en_sim_instances_free(&found, n);

    assert_int_equal(en_sim_cloud_set_tags(fx->cloud, "sim-east", "i-nope", more, 2, &err), -1);
    assert_int_equal(err.kind, EN_NOT_FOUND);
    assert_string_equal(err.message, "instance \"i-nope\" not found");
    free(id);
}

static void
tag_filters_isolate_models(void **state)
{
    fixture_t *fx = *state;
    en_err_t err;
    char *ids[5];
    ids[0] = s_create(fx->cloud, "a0", "model-a");
    ids[1] = s_create(fx->cloud, "a1", "model-a");
    ids[2] = s_create(fx->cloud, "a2", "model-a");
    ids[3] = s_create(fx->cloud, "b0", "model-b");
    ids[4] = s_create(fx->cloud, "b1", "model-b");
    en_sim_tag_t ctl[] = {{"juju-is-controller", "true"}};
    assert_int_equal(en_sim_cloud_set_tags(fx->cloud, "sim-east", ids[1], ctl, 1, &err), 0);

    en_sim_instance_t *found;
    size_t n;
    en_sim_tag_t model_a[] = {{"juju-model-uuid", "model-a"}};
    assert_int_equal(en_sim_cloud_list(fx->cloud, "sim-east", model_a, 1, false, &found, &n, &err),
                     0);
    assert_int_equal(n, 3);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(s_tag(&found[i], "juju-model-uuid"), "model-a");
    assert_string_equal(found[0].id, ids[0]); //  oldest first
    en_sim_instances_free(&found, n);

    en_sim_tag_t model_b[] = {{"juju-model-uuid", "model-b"}};
    assert_int_equal(en_sim_cloud_list(fx->cloud, "sim-east", model_b, 1, false, &found, &n, &err),
                     0);
    assert_int_equal(n, 2);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(s_tag(&found[i], "juju-model-uuid"), "model-b");
    en_sim_instances_free(&found, n);

    //  filters are ANDed; a NULL value matches any value
    en_sim_tag_t both[] = {{"juju-model-uuid", "model-a"}, {"juju-is-controller", "true"}};
    assert_int_equal(en_sim_cloud_list(fx->cloud, "sim-east", both, 2, false, &found, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_string_equal(found[0].id, ids[1]);
    en_sim_instances_free(&found, n);
    en_sim_tag_t any[] = {{"juju-model-uuid", NULL}};
    assert_int_equal(en_sim_cloud_list(fx->cloud, "sim-east", any, 1, false, &found, &n, &err), 0);
    assert_int_equal(n, 5);
    en_sim_instances_free(&found, n);
    en_sim_tag_t none[] = {{"juju-model-uuid", "model-c"}};
    assert_int_equal(en_sim_cloud_list(fx->cloud, "sim-east", none, 1, false, &found, &n, &err), 0);
    assert_int_equal(n, 0);
    for (int i = 0; i < 5; i++)
        free(ids[i]);
}

static void
duplicate_live_name_refused_until_terminated(void **state)
{
    fixture_t *fx = *state;
    en_err_t err;
    char *id = s_create(fx->cloud, "juju-abc-0", "m");
    en_sim_instance_t inst;
    assert_int_equal(en_sim_cloud_create(fx->cloud, "sim-east", "sim-east-c", "a1.small",
                                         "juju-abc-0", NULL, 0, &inst, &err),
                     -1);
    assert_int_equal(err.kind, EN_ALREADY_EXISTS);
    assert_string_equal(err.message, "instance \"juju-abc-0\" already exists");
    assert_null(inst.id);

    //  names are per region
    assert_int_equal(en_sim_cloud_create(fx->cloud, "sim-west", NULL, "a1.small", "juju-abc-0",
                                         NULL, 0, &inst, &err),
                     0);
    assert_string_equal(inst.arch, "arm64");
    assert_int_equal(strncmp(inst.addresses[0], "10.2.", 5), 0);
    en_sim_instance_clear(&inst);

    const char *ids[] = {id};
    assert_int_equal(en_sim_cloud_terminate(fx->cloud, "sim-east", ids, 1, &err), 0);
    assert_int_equal(en_sim_cloud_create(fx->cloud, "sim-east", "sim-east-c", "a1.small",
                                         "juju-abc-0", NULL, 0, &inst, &err),
                     0);
    assert_string_not_equal(inst.id, id);
    en_sim_instance_clear(&inst);
    free(id);
}

static void
addresses_unique_across_200_instances_and_released(void **state)
{
    fixture_t *fx = *state;
    enum { N = 200 };
    en_err_t err;
    char *ids[N];
    char name[32];
    for (int i = 0; i < N; i++) {
        snprintf(name, sizeof name, "m%d", i);
        ids[i] = s_create(fx->cloud, name, "m");
    }
    en_sim_instance_t *found;
    size_t n;
    assert_int_equal(en_sim_cloud_list(fx->cloud, "sim-east", NULL, 0, false, &found, &n, &err), 0);
    assert_int_equal(n, N);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(found[i].address_count, 1);
        const char *a = found[i].addresses[0];
        assert_int_equal(strncmp(a, "10.1.", 5), 0);
        assert_string_not_equal(a, "10.1.0.0"); //  network
        assert_string_not_equal(a, "10.1.0.1"); //  gateway
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(a, found[j].addresses[0]);
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(found[i].id, found[j].id);
    }
    en_sim_instances_free(&found, n);

    //  terminate half: their addresses go, the live ones keep theirs, and
    //  new instances never get a live address
    assert_int_equal(
        en_sim_cloud_terminate(fx->cloud, "sim-east", (const char *const *)ids, N / 2, &err), 0);
    assert_int_equal(
        en_sim_cloud_describe(fx->cloud, "sim-east", (const char *const *)ids, N, &found, &n, &err),
        0);
    assert_int_equal(n, N);
    for (size_t i = 0; i < N / 2; i++)
        assert_int_equal(found[i].address_count, 0);
    en_sim_instances_free(&found, n);
    for (int i = 0; i < 20; i++) {
        snprintf(name, sizeof name, "new%d", i);
        free(s_create(fx->cloud, name, "m"));
    }
    assert_int_equal(en_sim_cloud_list(fx->cloud, "sim-east", NULL, 0, false, &found, &n, &err), 0);
    assert_int_equal(n, N / 2 + 20);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(found[i].addresses[0], found[j].addresses[0]);
    en_sim_instances_free(&found, n);
    for (int i = 0; i < N; i++)
        free(ids[i]);
}

static void
unavailable_zone_is_refused_and_skipped(void **state)
{
    fixture_t *fx = *state;
    en_err_t err;
    en_sim_instance_t inst;
    assert_int_equal(en_sim_cloud_set_zone_available(fx->cloud, "sim-east-a", false, &err), 0);
    assert_int_equal(en_sim_cloud_set_zone_available(fx->cloud, "sim-east-b", false, &err), 0);
    assert_int_equal(en_sim_cloud_create(fx->cloud, "sim-east", "sim-east-a", "s1.small", "x", NULL,
                                         0, &inst, &err),
                     -1);
    assert_int_equal(err.kind, EN_UNAVAILABLE);
    assert_true(err.retryable);
    assert_string_equal(err.message, "zone \"sim-east-a\" is unavailable");

    en_sim_zone_t *zones;
    size_t n;
    assert_int_equal(en_sim_cloud_zones(fx->cloud, "sim-east", &zones, &n, &err), 0);
    assert_false(zones[0].available);
    assert_false(zones[1].available);
    assert_true(zones[2].available);
    free(zones);

    //  no placement: the cloud picks an available zone
    assert_int_equal(
        en_sim_cloud_create(fx->cloud, "sim-east", NULL, "s1.small", "x", NULL, 0, &inst, &err), 0);
    assert_string_equal(inst.zone, "sim-east-c");
    en_sim_instance_clear(&inst);
    assert_int_equal(en_sim_cloud_set_zone_available(fx->cloud, "sim-east-c", false, &err), 0);
    assert_int_equal(
        en_sim_cloud_create(fx->cloud, "sim-east", NULL, "s1.small", "y", NULL, 0, &inst, &err),
        -1);
    assert_int_equal(err.kind, EN_UNAVAILABLE);
    assert_int_equal(en_sim_cloud_set_zone_available(fx->cloud, "sim-east-a", true, &err), 0);
    assert_int_equal(
        en_sim_cloud_create(fx->cloud, "sim-east", NULL, "s1.small", "y", NULL, 0, &inst, &err), 0);
    assert_string_equal(inst.zone, "sim-east-a");
    en_sim_instance_clear(&inst);
    assert_int_equal(en_sim_cloud_set_zone_available(fx->cloud, "nowhere", true, &err), -1);
    assert_int_equal(err.kind, EN_NOT_VALID);
}

static void
unknown_region_zone_or_type_is_not_valid(void **state)
{
    fixture_t *fx = *state;
    en_err_t err;
    en_sim_instance_t inst;
    struct {
        const char *region, *zone, *type, *message;
    } cases[] = {
        {"moon-1", NULL, "s1.small", "region \"moon-1\" not valid"},
        {"sim-east", "sim-west-a", "s1.small", "availability zone \"sim-west-a\" not valid"},
        {"sim-east", "sim-east-z", "s1.small", "availability zone \"sim-east-z\" not valid"},
        {"sim-east", NULL, "x9.huge", "instance type \"x9.huge\" not valid in region \"sim-east\""},
        {"sim-west", NULL, "m1.xlarge",
         "instance type \"m1.xlarge\" not valid in region \"sim-west\""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_int_equal(en_sim_cloud_create(fx->cloud, cases[i].region, cases[i].zone,
                                             cases[i].type, "n", NULL, 0, &inst, &err),
                         -1);
        assert_int_equal(err.kind, EN_NOT_VALID);
        assert_string_equal(err.message, cases[i].message);
    }
    en_sim_tag_t dup[] = {{"k", "1"}, {"k", "2"}};
    assert_int_equal(
        en_sim_cloud_create(fx->cloud, "sim-east", NULL, "s1.small", "n", dup, 2, &inst, &err), -1);
    assert_int_equal(err.kind, EN_NOT_VALID);
    assert_int_equal(
        en_sim_cloud_create(fx->cloud, "sim-east", NULL, "s1.small", "", NULL, 0, &inst, &err), -1);
    assert_int_equal(err.kind, EN_NOT_VALID);
    //  a deprecated type is still startable by name
    assert_int_equal(
        en_sim_cloud_create(fx->cloud, "sim-east", NULL, "t0.micro", "n", NULL, 0, &inst, &err), 0);
    en_sim_instance_clear(&inst);
}

//  --- knobs ---

static void
failure_injected_for_exactly_n_calls(void **state)
{
    fixture_t *fx = *state;
    en_err_t err;
    en_sim_instance_t inst;
    assert_int_equal(
        en_sim_cloud_knob_set(fx->cloud, "fail.create", "unavailable count 2 cloud on fire", &err),
        0);
    char *value = en_sim_cloud_knob_get(fx->cloud, "fail.create", &err);
    assert_string_equal(value, "UNAVAILABLE count 2 cloud on fire");
    free(value);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(en_sim_cloud_create(fx->cloud, "sim-east", NULL, "s1.small", "m0", NULL, 0,
                                             &inst, &err),
                         -1);
        assert_int_equal(err.kind, EN_UNAVAILABLE);
        assert_string_equal(err.message, "cloud on fire");
    }
    assert_null(en_sim_cloud_knob_get(fx->cloud, "fail.create", &err));
    assert_int_equal(err.kind, EN_NOT_FOUND);
    assert_int_equal(
        en_sim_cloud_create(fx->cloud, "sim-east", NULL, "s1.small", "m0", NULL, 0, &inst, &err),
        0);
    en_sim_instance_clear(&inst);
    en_sim_instance_t *found;
    size_t n;
    assert_int_equal(en_sim_cloud_list(fx->cloud, "sim-east", NULL, 0, false, &found, &n, &err), 0);
    assert_int_equal(n, 1); //  the failed calls created nothing
    en_sim_instances_free(&found, n);
    assert_int_equal(en_sim_cloud_call_count(fx->cloud, "create", &err), 3);
    assert_int_equal(en_sim_cloud_call_count(fx->cloud, "list", &err), 1);

    //  without a count the method stays broken, with Juju's dummy wording
    assert_int_equal(en_sim_cloud_knob_set(fx->cloud, "fail.list", "internal", &err), 0);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(en_sim_cloud_list(fx->cloud, "sim-east", NULL, 0, false, &found, &n, &err),
                         -1);
        assert_int_equal(err.kind, EN_INTERNAL);
        assert_string_equal(err.message, "sim.list is broken");
    }
    assert_int_equal(en_sim_cloud_knob_set(fx->cloud, "fail.list", NULL, &err), 0);
    assert_int_equal(en_sim_cloud_list(fx->cloud, "sim-east", NULL, 0, false, &found, &n, &err), 0);
    en_sim_instances_free(&found, n);

    //  bad knobs are refused
    assert_int_equal(en_sim_cloud_knob_set(fx->cloud, "fail.launch", "INTERNAL", &err), -1);
    assert_int_equal(err.kind, EN_NOT_VALID);
    assert_int_equal(en_sim_cloud_knob_set(fx->cloud, "fail.create", "BOGUS x", &err), -1);
    assert_int_equal(err.kind, EN_NOT_VALID);
    assert_int_equal(en_sim_cloud_knob_set(fx->cloud, "fail.create", "OK", &err), -1);
    assert_int_equal(en_sim_cloud_knob_set(fx->cloud, "latency_ms", "-1", &err), -1);
    assert_int_equal(en_sim_cloud_knob_set(fx->cloud, "latency_ms", "12ms", &err), -1);
    assert_int_equal(en_sim_cloud_call_count(fx->cloud, "nope", &err), -1);

    assert_int_equal(en_sim_cloud_reset_counters(fx->cloud, &err), 0);
    assert_int_equal(en_sim_cloud_call_count(fx->cloud, "create", &err), 0);
}

static void
configure_json_applies_all_or_nothing(void **state)
{
    fixture_t *fx = *state;
    en_err_t err;
    assert_int_equal(
        en_sim_cloud_configure_json(fx->cloud,
                                    "{\"latency_ms\": 5, \"max_concurrent\": \"4\","
                                    " \"fail\": {\"describe\": \"NOT_FOUND count 1 gone\"}}",
                                    &err),
        0);
    char *v = en_sim_cloud_knob_get(fx->cloud, "latency_ms", &err);
    assert_string_equal(v, "5");
    free(v);
    v = en_sim_cloud_knob_get(fx->cloud, "max_concurrent", &err);
    assert_string_equal(v, "4");
    free(v);
    v = en_sim_cloud_knob_get(fx->cloud, "fail.describe", &err);
    assert_string_equal(v, "NOT_FOUND count 1 gone");
    free(v);

    assert_int_equal(
        en_sim_cloud_configure_json(fx->cloud, "{\"latency_ms\": 50, \"bogus\": 1}", &err), -1);
    assert_int_equal(err.kind, EN_NOT_VALID);
    assert_string_equal(err.message, "unknown sim knob \"bogus\"");
    v = en_sim_cloud_knob_get(fx->cloud, "latency_ms", &err);
    assert_string_equal(v, "5"); //  nothing applied
    free(v);

    assert_int_equal(en_sim_cloud_configure_json(
                         fx->cloud, "{\"latency_ms\": null, \"fail.describe\": null}", &err),
                     0);
    v = en_sim_cloud_knob_get(fx->cloud, "latency_ms", &err);
    assert_string_equal(v, "0");
    free(v);
    assert_null(en_sim_cloud_knob_get(fx->cloud, "fail.describe", &err));
    v = en_sim_cloud_knob_get(fx->cloud, "terminated_retention_ms", &err);
    assert_string_equal(v, "3600000");
    free(v);

    assert_int_equal(en_sim_cloud_configure_json(fx->cloud, "{not json", &err), -1);
    assert_int_equal(err.kind, EN_NOT_VALID);
    assert_int_equal(en_sim_cloud_configure_json(fx->cloud, "[1]", &err), -1);
    assert_int_equal(err.kind, EN_NOT_VALID);
    assert_int_equal(en_sim_cloud_configure_json(fx->cloud, "{\"latency_ms\": 1.5}", &err), -1);
    assert_int_equal(err.kind, EN_NOT_VALID);
}

static void
latency_is_spent_inside_each_call(void **state)
{
    fixture_t *fx = *state;
    en_err_t err;
    assert_int_equal(en_sim_cloud_knob_set(fx->cloud, "latency_ms", "150", &err), 0);
    en_sim_region_t *regions;
    size_t n;
    int64_t start = s_now_ms();
    assert_int_equal(en_sim_cloud_regions(fx->cloud, &regions, &n, &err), 0);
    assert_true(s_now_ms() - start >= 150);
    free(regions);
    //  the operator console is not an API call: no latency
    start = s_now_ms();
    char *v = en_sim_cloud_knob_get(fx->cloud, "latency_ms", &err);
    free(v);
    assert_true(s_now_ms() - start < 150);
}

static void
consistency_delay_hides_new_and_keeps_terminated(void **state)
{
    fixture_t *fx = *state;
    enum { T = 200, DEADLINE_MS = 10000 };
    en_err_t err;
    assert_int_equal(en_sim_cloud_knob_set(fx->cloud, "consistency_delay_ms", "200", &err), 0);
    en_sim_instance_t inst;
    en_sim_tag_t tags[] = {{"juju-model-uuid", "m"}};
    assert_int_equal(
        en_sim_cloud_create(fx->cloud, "sim-east", NULL, "s1.small", "m0", tags, 1, &inst, &err),
        0);
    const char *ids[] = {inst.id};
    en_sim_instance_t *found;
    size_t n;

    //  right after creation: invisible, unless the window has already passed
    assert_int_equal(en_sim_cloud_describe(fx->cloud, "sim-east", ids, 1, &found, &n, &err), 0);
    en_sim_instances_free(&found, n);
    assert_true(n == 0 || s_now_ms() >= inst.created_ms + T);
    bool invisible = n == 0;
    en_sim_tag_t more[] = {{"x", "y"}};
    if (en_sim_cloud_set_tags(fx->cloud, "sim-east", inst.id, more, 1, &err) != 0) {
        assert_int_equal(err.kind, EN_NOT_FOUND); //  EC2's CreateTags-too-soon
        assert_true(invisible);
    }

    //  poll until visible; it must not show before T
    int64_t deadline = s_now_ms() + DEADLINE_MS;
    do {
        assert_int_equal(en_sim_cloud_list(fx->cloud, "sim-east", tags, 1, false, &found, &n, &err),
                         0);
        en_sim_instances_free(&found, n);
    } while (n == 0 && s_now_ms() < deadline);
    assert_int_equal(n, 1);
    assert_true(s_now_ms() >= inst.created_ms + T);

    //  after termination it is listed as shutting-down for T, then gone
    assert_int_equal(en_sim_cloud_terminate(fx->cloud, "sim-east", ids, 1, &err), 0);
    assert_int_equal(en_sim_cloud_describe(fx->cloud, "sim-east", ids, 1, &found, &n, &err), 0);
    assert_int_equal(n, 1);
    int64_t terminated = found[0].terminated_ms;
    assert_true(found[0].state == EN_SIM_SHUTTING_DOWN || s_now_ms() >= terminated + T);
    en_sim_instances_free(&found, n);
    assert_int_equal(en_sim_cloud_list(fx->cloud, "sim-east", tags, 1, false, &found, &n, &err), 0);
    assert_true(n == 1 || s_now_ms() >= terminated + T);
    if (n == 1)
        assert_string_equal(en_sim_state_name(found[0].state), "shutting-down");
    en_sim_instances_free(&found, n);
    deadline = s_now_ms() + DEADLINE_MS;
    do {
        assert_int_equal(en_sim_cloud_list(fx->cloud, "sim-east", tags, 1, false, &found, &n, &err),
                         0);
        en_sim_instances_free(&found, n);
    } while (n == 1 && s_now_ms() < deadline);
    assert_int_equal(n, 0);
    assert_true(s_now_ms() >= terminated + T);
    en_sim_instance_clear(&inst);
}

static void
instance_is_pending_then_running(void **state)
{
    fixture_t *fx = *state;
    enum { DELAY = 200, DEADLINE_MS = 10000 };
    en_err_t err;
    assert_int_equal(en_sim_cloud_knob_set(fx->cloud, "running_delay_ms", "200", &err), 0);
    en_sim_instance_t inst;
    assert_int_equal(
        en_sim_cloud_create(fx->cloud, "sim-east", NULL, "s1.small", "m0", NULL, 0, &inst, &err),
        0);
    assert_true(inst.state == EN_SIM_PENDING || s_now_ms() >= inst.created_ms + DELAY);
    const char *ids[] = {inst.id};
    en_sim_instance_t *found;
    size_t n;
    en_sim_state_t state_now;
    int64_t deadline = s_now_ms() + DEADLINE_MS;
    do {
        assert_int_equal(en_sim_cloud_describe(fx->cloud, "sim-east", ids, 1, &found, &n, &err), 0);
        assert_int_equal(n, 1);
        state_now = found[0].state;
        en_sim_instances_free(&found, n);
    } while (state_now == EN_SIM_PENDING && s_now_ms() < deadline);
    assert_int_equal(state_now, EN_SIM_RUNNING);
    assert_true(s_now_ms() >= inst.created_ms + DELAY);
    en_sim_instance_clear(&inst);
}

//  --- the concurrency limit ---

typedef struct {
    const char *path;
    pthread_barrier_t *barrier;
    int rc;
    en_err_t err;
} caller_t;

static void *
s_caller(void *arg)
{
    caller_t *call = arg;
    en_sim_cloud_t *cloud = en_sim_cloud_open(call->path, &call->err);
    pthread_barrier_wait(call->barrier);
    call->rc = -2;
    if (cloud) {
        en_sim_region_t *regions;
        size_t n;
        call->rc = en_sim_cloud_regions(cloud, &regions, &n, &call->err);
        free(regions);
    }
    en_sim_cloud_close(&cloud);
    return NULL;
}

static void
concurrency_limit_holds_across_handles(void **state)
{
    fixture_t *fx = *state;
    enum { N = 6 };
    en_err_t err;
    assert_int_equal(en_sim_cloud_configure_json(
                         fx->cloud, "{\"max_concurrent\": 2, \"latency_ms\": 200}", &err),
                     0);
    pthread_barrier_t barrier;
    pthread_barrier_init(&barrier, NULL, N);
    pthread_t threads[N];
    caller_t calls[N];
    for (int i = 0; i < N; i++) {
        calls[i] = (caller_t){.path = fx->path, .barrier = &barrier};
        pthread_create(&threads[i], NULL, s_caller, &calls[i]);
    }
    for (int i = 0; i < N; i++)
        pthread_join(threads[i], NULL);
    pthread_barrier_destroy(&barrier);

    int ok = 0, limited = 0;
    for (int i = 0; i < N; i++) {
        if (calls[i].rc == 0)
            ok++;
        else {
            assert_int_equal(calls[i].err.kind, EN_UNAVAILABLE);
            assert_string_equal(calls[i].err.message, "request limit exceeded");
            assert_true(calls[i].err.retryable);
            limited++;
        }
    }
    assert_true(ok >= 1);
    assert_true(limited >= 1);
    int now, peak;
    assert_int_equal(en_sim_cloud_in_flight(fx->cloud, &now, &peak, &err), 0);
    assert_int_equal(now, 0);
    assert_true(peak >= 1 && peak <= 2);
    assert_int_equal(en_sim_cloud_call_count(fx->cloud, "regions", &err), N);
}

static void
stale_lease_of_a_killed_process_is_reclaimed(void **state)
{
    fixture_t *fx = *state;
    enum { DEADLINE_MS = 10000 };
    en_err_t err;
    assert_int_equal(en_sim_cloud_configure_json(
                         fx->cloud, "{\"max_concurrent\": 1, \"latency_ms\": 60000}", &err),
                     0);
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        //  Hold the only slot for a minute; the parent kills us first.
        en_sim_cloud_t *cloud = en_sim_cloud_open(fx->path, &err);
        en_sim_region_t *regions;
        size_t n;
        if (cloud)
            en_sim_cloud_regions(cloud, &regions, &n, &err);
        _exit(1);
    }
    int now = 0, peak;
    int64_t deadline = s_now_ms() + DEADLINE_MS;
    do
        assert_int_equal(en_sim_cloud_in_flight(fx->cloud, &now, &peak, &err), 0);
    while (now == 0 && s_now_ms() < deadline);
    assert_int_equal(now, 1);

    //  While the holder lives, the limit holds.
    assert_int_equal(en_sim_cloud_knob_set(fx->cloud, "latency_ms", "0", &err), 0);
    en_sim_region_t *regions;
    size_t n;
    assert_int_equal(en_sim_cloud_regions(fx->cloud, &regions, &n, &err), -1);
    assert_string_equal(err.message, "request limit exceeded");

    kill(child, SIGKILL);
    int status;
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(WIFSIGNALED(status));

    //  Long before the lease would expire, the dead holder's slot is free.
    assert_int_equal(en_sim_cloud_in_flight(fx->cloud, &now, &peak, &err), 0);
    assert_int_equal(now, 0);
    assert_int_equal(en_sim_cloud_regions(fx->cloud, &regions, &n, &err), 0);
    free(regions);
}

static void
expired_lease_of_a_foreign_holder_is_reclaimed(void **state)
{
    //  A holder in another pid namespace cannot be checked for life, so its
    //  lease is judged by expiry alone: one live and one expired, written
    //  as such a holder would have.
    fixture_t *fx = *state;
    en_err_t err;
    sqlite3 *db;
    assert_int_equal(sqlite3_open(fx->path, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 10000);
    char sql[512];
    snprintf(sql, sizeof sql,
             "INSERT INTO leases (method, pid, pid_start, pid_ns, acquired_ms, expires_ms)"
             " VALUES ('create', 1, 1, 'pid:[1]', 0, %lld),"
             "        ('create', 1, 1, 'pid:[1]', 0, 1)",
             (long long)s_now_ms() + 60000);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);

    assert_int_equal(en_sim_cloud_knob_set(fx->cloud, "max_concurrent", "2", &err), 0);
    int now, peak;
    assert_int_equal(en_sim_cloud_in_flight(fx->cloud, &now, &peak, &err), 0);
    assert_int_equal(now, 1); //  the expired one does not count
    en_sim_region_t *regions;
    size_t n;
    assert_int_equal(en_sim_cloud_regions(fx->cloud, &regions, &n, &err), 0);
    free(regions);
    assert_int_equal(en_sim_cloud_in_flight(fx->cloud, &now, &peak, &err), 0);
    assert_int_equal(peak, 2); //  ours plus the live foreign one
}

typedef struct {
    const char *path;
    pthread_barrier_t *barrier;
    int index;
    int created, injected, duplicate, other;
} creator_t;

static void *
s_creator(void *arg)
{
    creator_t *cr = arg;
    en_err_t err;
    en_sim_cloud_t *cloud = en_sim_cloud_open(cr->path, &err);
    pthread_barrier_wait(cr->barrier);
    for (int i = 0; cloud && i < 11; i++) {
        char name[32];
        //  Ten names of its own, then one that every thread wants.
        if (i < 10)
            snprintf(name, sizeof name, "t%d-%d", cr->index, i);
        else
            snprintf(name, sizeof name, "contested");
        en_sim_instance_t inst;
        if (en_sim_cloud_create(cloud, "sim-east", NULL, "s1.small", name, NULL, 0, &inst, &err) ==
            0)
            cr->created++;
        else if (err.kind == EN_INTERNAL && strcmp(err.message, "injected") == 0)
            cr->injected++;
        else if (err.kind == EN_ALREADY_EXISTS)
            cr->duplicate++;
        else
            cr->other++;
        en_sim_instance_clear(&inst);
    }
    if (!cloud)
        cr->other++;
    en_sim_cloud_close(&cloud);
    return NULL;
}

static void
concurrent_creates_lose_no_update(void **state)
{
    //  Four handles create at once: every counted failure is consumed
    //  exactly once, a contested name is won once, addresses stay unique.
    fixture_t *fx = *state;
    enum { N = 4 };
    en_err_t err;
    assert_int_equal(
        en_sim_cloud_knob_set(fx->cloud, "fail.create", "INTERNAL count 5 injected", &err), 0);
    pthread_barrier_t barrier;
    pthread_barrier_init(&barrier, NULL, N);
    pthread_t threads[N];
    creator_t crs[N];
    for (int i = 0; i < N; i++) {
        crs[i] = (creator_t){.path = fx->path, .barrier = &barrier, .index = i};
        pthread_create(&threads[i], NULL, s_creator, &crs[i]);
    }
    int created = 0, injected = 0, duplicate = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(threads[i], NULL);
        assert_int_equal(crs[i].other, 0);
        created += crs[i].created;
        injected += crs[i].injected;
        duplicate += crs[i].duplicate;
    }
    pthread_barrier_destroy(&barrier);
    assert_int_equal(injected, 5);
    assert_int_equal(created + injected + duplicate, N * 11);
    assert_int_equal(en_sim_cloud_call_count(fx->cloud, "create", &err), N * 11);

    en_sim_instance_t *found;
    size_t n;
    assert_int_equal(en_sim_cloud_list(fx->cloud, "sim-east", NULL, 0, false, &found, &n, &err), 0);
    assert_int_equal(n, (size_t)created);
    int contested = 0;
    for (size_t i = 0; i < n; i++) {
        contested += strcmp(found[i].name, "contested") == 0;
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(found[i].addresses[0], found[j].addresses[0]);
    }
    //  Only the contested name can be refused, and only after it was won.
    assert_true(contested <= 1);
    assert_true(duplicate <= N - 1);
    if (duplicate)
        assert_int_equal(contested, 1);
    en_sim_instances_free(&found, n);
}

//  --- bad database files ---

static void
corrupt_or_foreign_file_is_a_clear_error(void **state)
{
    fixture_t *fx = *state;
    en_err_t err;
    FILE *file = fopen(fx->path, "w");
    assert_non_null(file);
    for (int i = 0; i < 200; i++)
        fputs("this is certainly not an SQLite database\n", file);
    fclose(file);
    assert_null(en_sim_cloud_open(fx->path, &err));
    assert_int_equal(err.kind, EN_NOT_VALID);
    assert_non_null(strstr(err.message, "not a database"));
    assert_non_null(strstr(err.message, fx->path));

    //  a directory, and a path in a directory that does not exist
    assert_null(en_sim_cloud_open(fx->dir, &err));
    assert_int_equal(err.kind, EN_NOT_VALID);
    assert_null(en_sim_cloud_open("/nonexistent-dir/x/cloud.db", &err));
    assert_int_equal(err.kind, EN_NOT_VALID);
    assert_null(en_sim_cloud_open(NULL, &err));
    assert_int_equal(err.kind, EN_NOT_VALID);

    //  a valid SQLite database of some other program is not grafted onto
    unlink(fx->path);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(fx->path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "CREATE TABLE t (x)", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    assert_null(en_sim_cloud_open(fx->path, &err));
    assert_int_equal(err.kind, EN_NOT_VALID);
    assert_non_null(strstr(err.message, "not a sim cloud"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(seed_once_when_threads_open_a_fresh_database_together,
                                        s_setup_fresh, s_teardown),
        cmocka_unit_test_setup_teardown(seed_once_when_a_forked_child_opens_at_the_same_time,
                                        s_setup_fresh, s_teardown),
        cmocka_unit_test_setup_teardown(catalogue_has_regions_zones_and_mixed_arch_types, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(instance_create_describe_list_terminate, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(set_tags_replaces_same_keys_and_keeps_others, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(tag_filters_isolate_models, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(duplicate_live_name_refused_until_terminated, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(addresses_unique_across_200_instances_and_released, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(unavailable_zone_is_refused_and_skipped, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(unknown_region_zone_or_type_is_not_valid, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(failure_injected_for_exactly_n_calls, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(configure_json_applies_all_or_nothing, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(latency_is_spent_inside_each_call, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(consistency_delay_hides_new_and_keeps_terminated, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(instance_is_pending_then_running, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(concurrency_limit_holds_across_handles, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(concurrent_creates_lose_no_update, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(stale_lease_of_a_killed_process_is_reclaimed, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(expired_lease_of_a_foreign_holder_is_reclaimed, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(corrupt_or_foreign_file_is_a_clear_error, s_setup_fresh,
                                        s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
