/*  test_sim_compute.c — the sim provider's compute driver
    (en_compute_ops_t): where a cloud's database lives, the catalogue as
    instance types, instances created with their tags, and what describe,
    list and terminate report. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "providers/provider.h"

static char s_home[64];

static int
s_setup(void **state)
{
    (void)state;
    snprintf(s_home, sizeof s_home, "/tmp/environs-compute-XXXXXX");
    assert_non_null(mkdtemp(s_home));
    return 0;
}

static int
s_teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", s_home);
    return system(cmd) == 0 ? 0 : -1;
}

static const en_compute_ops_t *
s_ops(void)
{
    const en_provider_t *sim = en_provider_builtin("sim");
    assert_non_null(sim);
    assert_non_null(sim->compute);
    return sim->compute;
}

//  LXD's catalogue is synthesized from the host: its policy has no
//  instance types and no zone placement (statements 89, 90, 93); the sim
//  keeps EC2's (NULL).
static void
lxd_compute_names_its_own_policy(void **state)
{
    (void)state;
    const en_provider_t *lxd = en_provider_builtin("lxd");
    assert_non_null(lxd);
    assert_non_null(lxd->compute);
    const en_compute_policy_t *p = lxd->compute->policy;
    assert_non_null(p);
    assert_string_equal(p->name, "LXD");
    assert_false(p->instance_types);
    assert_false(p->zone_placement);
    assert_null(en_provider_builtin("sim")->compute->policy);
}

static void
database_is_the_endpoint_else_under_home(void **state)
{
    (void)state;
    const en_compute_ops_t *ops = s_ops();
    en_err_t err;
    char path[128];
    snprintf(path, sizeof path, "%s/explicit.db", s_home);
    en_cloud_spec_t spec = {.type = "sim", .name = "mine", .region = "sim-east", .endpoint = path};
    en_compute_t *c = ops->open(&spec, s_home, &err);
    assert_non_null(c);
    ops->close(&c);
    assert_null(c);
    assert_int_equal(access(path, F_OK), 0);
    spec.endpoint = NULL;
    c = ops->open(&spec, s_home, &err);
    assert_non_null(c);
    ops->close(&c);
    snprintf(path, sizeof path, "%s/sim/mine.db", s_home);
    assert_int_equal(access(path, F_OK), 0);
    struct stat st;
    snprintf(path, sizeof path, "%s/sim", s_home);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
}

static void
instance_types_are_the_regions_catalogue(void **state)
{
    (void)state;
    const en_compute_ops_t *ops = s_ops();
    en_err_t err;
    en_cloud_spec_t spec = {.type = "sim", .name = "sim", .region = "sim-west"};
    en_compute_t *c = ops->open(&spec, s_home, &err);
    assert_non_null(c);
    const en_instance_type_t *types = NULL;
    size_t n = 0;
    assert_int_equal(ops->instance_types(c, &types, &n, &err), 0);
    assert_true(n > 0);
    bool deprecated = false, east_only = false;
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(types[i].arch_count, 1);
        assert_true(types[i].mem > 0 && types[i].cost > 0);
        deprecated |= types[i].deprecated;
        east_only |= strcmp(types[i].name, "m1.xlarge") == 0;
    }
    assert_true(deprecated);
    assert_false(east_only); // m1.xlarge is sold in sim-east only
    en_zone_t *zones = NULL;
    size_t nz = 0;
    assert_int_equal(ops->zones(c, &zones, &nz, &err), 0);
    assert_int_equal(nz, 2);
    en_zones_free(&zones, nz);
    ops->close(&c);
}

static void
create_describe_list_terminate(void **state)
{
    (void)state;
    const en_compute_ops_t *ops = s_ops();
    en_err_t err;
    en_cloud_spec_t spec = {.type = "sim", .name = "sim", .region = "sim-east"};
    en_compute_t *c = ops->open(&spec, s_home, &err);
    assert_non_null(c);
    en_tag_t tags[] = {{"juju-model-uuid", "m1"}, {"owner", "ops"}};
    en_instance_t inst = {0};
    assert_int_equal(ops->create(c,
                                 &(en_create_args_t){.name = "juju-m1-0",
                                                     .zone = "sim-east-b",
                                                     .type = "s1.small",
                                                     .tags = tags,
                                                     .tag_count = 2},
                                 &inst, &err),
                     0);
    assert_string_equal(inst.zone, "sim-east-b");
    assert_string_equal(inst.instance_type, "s1.small");
    assert_string_equal(en_kvlist_get(&inst.tags, "owner"), "ops");
    assert_true(inst.live);
    assert_true(inst.address_count >= 1);
    // the same name again, while live: ALREADY_EXISTS
    en_instance_t dup = {0};
    assert_int_equal(ops->create(c,
                                 &(en_create_args_t){.name = "juju-m1-0",
                                                     .type = "s1.small",
                                                     .tags = tags,
                                                     .tag_count = 2},
                                 &dup, &err),
                     -1);
    assert_int_equal(err.kind, EN_ALREADY_EXISTS);
    en_tag_t filter = {"juju-model-uuid", "m1"};
    en_instance_t *found = NULL;
    size_t n = 0;
    assert_int_equal(ops->list(c, &filter, 1, &found, &n, &err), 0);
    assert_int_equal(n, 1);
    en_instances_free(&found, n);
    en_tag_t retag = {"owner", "dev"};
    assert_int_equal(ops->set_tags(c, inst.id, &retag, 1, &err), 0);
    const char *ids[] = {inst.id, "i-0000000000000000"};
    assert_int_equal(ops->describe(c, ids, 2, &found, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_string_equal(en_kvlist_get(&found[0].tags, "owner"), "dev");
    assert_string_equal(en_kvlist_get(&found[0].tags, "juju-model-uuid"), "m1");
    en_instances_free(&found, n);
    assert_int_equal(ops->terminate(c, ids, 2, &err), 0);
    assert_int_equal(ops->describe(c, ids, 1, &found, &n, &err), 0);
    assert_true(n == 0 || !found[0].live);
    en_instances_free(&found, n);
    assert_int_equal(ops->list(c, &filter, 1, &found, &n, &err), 0);
    for (size_t i = 0; i < n; i++)
        assert_false(found[i].live);
    en_instances_free(&found, n);
    en_instance_clear(&inst);
    ops->close(&c);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(lxd_compute_names_its_own_policy),
        cmocka_unit_test_setup_teardown(database_is_the_endpoint_else_under_home, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(instance_types_are_the_regions_catalogue, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(create_describe_list_terminate, s_setup, s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
