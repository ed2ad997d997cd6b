/*  Instance-type selection: ITT's MatchingInstanceTypes, match and byCost
    tables verbatim, the stable tie-breaks we chose (§10 item 9), the mem
    heuristic against the controller default (§10 item 10), the prepared
    catalogue agreeing with the one-shot call, and FindInstanceSpec (§3.3). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/instancetype.h"

static const char *const s_amd64[] = {"amd64"};
static const char *const s_amd64_armhf[] = {"amd64", "armhf"};
static const char *const s_armhf[] = {"armhf"};

//  ITT instanceTypes: "do not necessarily reflect reality".
static const en_instance_type_t s_itt[] = {
    {.name = "m1.small",
     .arches = s_amd64_armhf,
     .arch_count = 2,
     .cpu_cores = 1,
     .has_cpu_power = true,
     .cpu_power = 100,
     .mem = 1740,
     .cost = 60,
     .root_disk = 8192},
    {.name = "m1.medium",
     .arches = s_amd64_armhf,
     .arch_count = 2,
     .cpu_cores = 1,
     .has_cpu_power = true,
     .cpu_power = 200,
     .mem = 3840,
     .cost = 120,
     .root_disk = 16384},
    {.name = "m1.large",
     .arches = s_amd64,
     .arch_count = 1,
     .cpu_cores = 2,
     .has_cpu_power = true,
     .cpu_power = 400,
     .mem = 7680,
     .cost = 240,
     .root_disk = 32768},
    {.name = "m1.xlarge",
     .arches = s_amd64,
     .arch_count = 1,
     .cpu_cores = 4,
     .has_cpu_power = true,
     .cpu_power = 800,
     .mem = 15360,
     .cost = 480},
    {.name = "t1.micro",
     .arches = s_amd64_armhf,
     .arch_count = 2,
     .cpu_cores = 1,
     .has_cpu_power = true,
     .cpu_power = 20,
     .mem = 613,
     .cost = 20,
     .root_disk = 4096},
    {.name = "c1.medium",
     .arches = s_amd64_armhf,
     .arch_count = 2,
     .cpu_cores = 2,
     .has_cpu_power = true,
     .cpu_power = 500,
     .mem = 1740,
     .cost = 145,
     .root_disk = 8192},
    {.name = "c1.xlarge",
     .arches = s_amd64,
     .arch_count = 1,
     .cpu_cores = 8,
     .has_cpu_power = true,
     .cpu_power = 2000,
     .mem = 7168,
     .cost = 580},
    {.name = "cc1.4xlarge",
     .arches = s_amd64,
     .arch_count = 1,
     .cpu_cores = 8,
     .has_cpu_power = true,
     .cpu_power = 3350,
     .mem = 23552,
     .cost = 1300,
     .virt_type = "hvm"},
    {.name = "cc2.8xlarge",
     .arches = s_amd64,
     .arch_count = 1,
     .cpu_cores = 16,
     .has_cpu_power = true,
     .cpu_power = 8800,
     .mem = 61952,
     .cost = 2400,
     .virt_type = "hvm"},
    {.name = "dep.small",
     .arches = s_amd64,
     .arch_count = 1,
     .cpu_cores = 1,
     .has_cpu_power = true,
     .cpu_power = 100,
     .mem = 1740,
     .cost = 60,
     .deprecated = true},
    {.name = "dep.medium",
     .arches = s_amd64,
     .arch_count = 1,
     .cpu_cores = 2,
     .has_cpu_power = true,
     .cpu_power = 200,
     .mem = 4096,
     .cost = 80,
     .deprecated = true},
};
enum { S_ITT_COUNT = sizeof s_itt / sizeof *s_itt };

static void
s_parse(en_constraints_t *c, const char *text)
{
    en_err_t err = {0};
    if (en_constraints_parse(c, text, &err) != 0)
        fail_msg("parse \"%s\": %s", text, err.message);
}

//  Names of the matches, space-joined, for one-line comparisons.
static void
s_names(const en_itype_match_t *m, size_t n, char *buf, size_t size)
{
    size_t len = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n && len < size; i++)
        len += (size_t)snprintf(buf + len, size - len, "%s%s", i ? " " : "", m[i].type->name);
}

//  Runs both entry points and checks they agree; returns the names.
static int
s_select(const en_instance_type_t *types, size_t n, const char *cons_text, char *names, size_t size,
         en_err_t *err)
{
    en_constraints_t cons;
    en_constraints_init(&cons);
    s_parse(&cons, cons_text);
    en_itype_match_t *one_shot = NULL;
    size_t n_one = 0;
    int rc = en_matching_instance_types(types, n, "test", &cons, &one_shot, &n_one, err);

    en_itype_catalogue_t *cat = en_itype_catalogue_new(types, n);
    assert_non_null(cat);
    en_itype_match_t fast[64];
    size_t n_fast = 0;
    en_err_t fast_err = {0};
    int fast_rc = en_itype_catalogue_match(cat, "test", &cons, fast, 64, &n_fast, &fast_err);
    assert_int_equal(fast_rc, rc);
    assert_int_equal(n_fast, n_one);
    if (rc == 0)
        assert_memory_equal(fast, one_shot, n_one * sizeof *fast);
    else
        assert_string_equal(fast_err.message, err->message);

    s_names(one_shot, n_one, names, size);
    free(one_shot);
    en_itype_catalogue_destroy(&cat);
    en_itype_catalogue_destroy(&cat);
    en_constraints_reset(&cons);
    return rc;
}

//  --------------------------------------------------------------------------
//  ITT getInstanceTypesTest

static const en_instance_type_t s_enough_mem[] = {
    {.id = "5", .name = "it-5", .arches = s_amd64, .arch_count = 1, .mem = 1024, .cpu_cores = 2},
    {.id = "4", .name = "it-4", .arches = s_amd64, .arch_count = 1, .mem = 2048, .cpu_cores = 4},
    {.id = "3", .name = "it-3", .arches = s_amd64, .arch_count = 1, .mem = 1024, .cpu_cores = 4},
    {.id = "2", .name = "it-2", .arches = s_amd64, .arch_count = 1, .mem = 256, .cpu_cores = 4},
    {.id = "1", .name = "it-1", .arches = s_amd64, .arch_count = 1, .mem = 512, .cpu_cores = 4},
};
static const en_instance_type_t s_small_mem[] = {
    {.id = "3", .name = "it-3", .arches = s_amd64, .arch_count = 1, .mem = 2048},
    {.id = "2", .name = "it-2", .arches = s_amd64, .arch_count = 1, .mem = 256},
    {.id = "1", .name = "it-1", .arches = s_amd64, .arch_count = 1, .mem = 512},
};
static const en_instance_type_t s_mem_found[] = {
    {.id = "4", .name = "it-4", .arches = s_armhf, .arch_count = 1, .mem = 8096},
    {.id = "3", .name = "it-3", .arches = s_amd64, .arch_count = 1, .mem = 4096},
    {.id = "2", .name = "it-2", .arches = s_amd64, .arch_count = 1, .mem = 2048},
    {.id = "1", .name = "it-1", .arches = s_amd64, .arch_count = 1, .mem = 512},
};
static const en_instance_type_t s_type_found[] = {
    {.id = "4", .name = "it-4", .arches = s_amd64, .arch_count = 1, .mem = 8096},
    {.id = "3", .name = "it-3", .arches = s_amd64, .arch_count = 1, .mem = 4096},
    {.id = "2", .name = "it-2", .arches = s_amd64, .arch_count = 1, .mem = 2048},
    {.id = "1", .name = "it-1", .arches = s_amd64, .arch_count = 1, .mem = 512},
};
static const en_instance_type_t s_largest[] = {
    {.id = "3", .name = "it-3", .arches = s_amd64, .arch_count = 1, .mem = 1024, .cpu_cores = 2},
    {.id = "2", .name = "it-2", .arches = s_amd64, .arch_count = 1, .mem = 256, .cpu_cores = 4},
    {.id = "1", .name = "it-1", .arches = s_amd64, .arch_count = 1, .mem = 512, .cpu_cores = 4},
};
static const en_instance_type_t s_largest_cost[] = {
    {.id = "4", .name = "it-4", .arches = s_amd64, .arch_count = 1, .mem = 1024, .cpu_cores = 2},
    {.id = "3", .name = "it-3", .arches = s_amd64, .arch_count = 1, .mem = 256, .cpu_cores = 4},
    {.id = "2",
     .name = "it-2",
     .arches = s_amd64,
     .arch_count = 1,
     .mem = 512,
     .cpu_cores = 4,
     .cost = 50},
    {.id = "1",
     .name = "it-1",
     .arches = s_amd64,
     .arch_count = 1,
     .mem = 512,
     .cpu_cores = 4,
     .cost = 100},
};

static const struct {
    const char *about;
    const char *cons;
    const en_instance_type_t *types; //  NULL: s_itt
    size_t n_types;
    const char *expected;
    const char *arch; //  every result keeps only this arch
} s_matching_cases[] = {
    {"cores", "cores=2", NULL, 0, "c1.medium m1.large m1.xlarge c1.xlarge cc1.4xlarge cc2.8xlarge",
     NULL},
    {"cpu-power", "cpu-power=2000", NULL, 0, "c1.xlarge cc1.4xlarge cc2.8xlarge", NULL},
    {"mem", "mem=4G", NULL, 0, "m1.large m1.xlarge c1.xlarge cc1.4xlarge cc2.8xlarge", NULL},
    {"root-disk", "root-disk=16G", NULL, 0,
     "m1.medium m1.large m1.xlarge c1.xlarge cc1.4xlarge cc2.8xlarge", NULL},
    {"arches filtered by constraint", "cpu-power=100 arch=armhf", NULL, 0,
     "m1.small m1.medium c1.medium", "armhf"},
    {"enough memory for mongodb if mem not specified", "cores=4", s_enough_mem, 5, "it-3 it-4",
     NULL},
    {"small mem specified, use that even though less than needed for mongodb", "mem=300M",
     s_small_mem, 3, "it-1 it-3", NULL},
    {"mem specified and match found", "mem=4G arch=amd64", s_mem_found, 4, "it-3", "amd64"},
    {"instance-type specified and match found", "instance-type=it-3", s_type_found, 4, "it-3",
     NULL},
    {"largest mem available matching other constraints if mem not specified", "cores=4", s_largest,
     3, "it-1", NULL},
    {"largest mem available matching other constraints if mem not specified, cost is tie breaker",
     "cores=4", s_largest_cost, 4, "it-2", NULL},
    {"virt-type filtered by constraint", "virt-type=hvm", NULL, 0, "cc1.4xlarge cc2.8xlarge", NULL},
    {"deprecated image type requested by name", "instance-type=dep.small", NULL, 0, "dep.small",
     NULL},
    {"deprecated image type requested by name with constraints",
     "instance-type=dep.small cpu-power=100", NULL, 0, "dep.small", NULL},
};

static void
matching_itt_table_filters_and_orders_by_cost(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof s_matching_cases / sizeof *s_matching_cases; i++) {
        const en_instance_type_t *types =
            s_matching_cases[i].types ? s_matching_cases[i].types : s_itt;
        size_t n = s_matching_cases[i].types ? s_matching_cases[i].n_types : S_ITT_COUNT;
        char names[512];
        en_err_t err = {0};
        if (s_select(types, n, s_matching_cases[i].cons, names, sizeof names, &err) != 0)
            fail_msg("%s: %s", s_matching_cases[i].about, err.message);
        if (strcmp(names, s_matching_cases[i].expected) != 0)
            fail_msg("%s: got \"%s\", want \"%s\"", s_matching_cases[i].about, names,
                     s_matching_cases[i].expected);

        //  arches: filtered to the constraint's, or all kept
        en_constraints_t cons;
        en_constraints_init(&cons);
        s_parse(&cons, s_matching_cases[i].cons);
        en_itype_match_t *m;
        size_t count;
        assert_int_equal(en_matching_instance_types(types, n, "test", &cons, &m, &count, NULL), 0);
        for (size_t k = 0; k < count; k++) {
            if (s_matching_cases[i].arch) {
                assert_int_equal(m[k].arch_count, 1);
                assert_string_equal(m[k].type->arches[m[k].arch_first], s_matching_cases[i].arch);
            } else
                assert_int_equal(m[k].arch_count, m[k].type->arch_count);
        }
        free(m);
        en_constraints_reset(&cons);
    }
}

static void
matching_errors_quote_the_original_constraints(void **state)
{
    (void)state;
    static const struct {
        const char *cons;
        const char *err;
    } cases[] = {
        {"cpu-power=9001", "no instance types in test matching constraints \"cpu-power=9001\""},
        {"arch=i386 mem=8G",
         "no instance types in test matching constraints \"arch=i386 mem=8192M\""},
        {"cores=9000", "no instance types in test matching constraints \"cores=9000\""},
        {"mem=90000M", "no instance types in test matching constraints \"mem=90000M\""},
        {"instance-type=dep.medium mem=8G",
         "no instance types in test matching constraints \"instance-type=dep.medium mem=8192M\""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char names[256];
        en_err_t err = {0};
        //  the first ITT case matches against no types at all
        size_t n = i == 0 ? 0 : S_ITT_COUNT;
        assert_int_equal(s_select(s_itt, n, cases[i].cons, names, sizeof names, &err), -1);
        assert_string_equal(err.message, cases[i].err);
        assert_int_equal(err.kind, EN_NOT_FOUND);
    }
    //  "arch=" is set: Go filters the arches to [""] and nothing is left.
    char names[256];
    en_err_t err = {0};
    assert_int_equal(s_select(s_itt, S_ITT_COUNT, "arch=", names, sizeof names, &err), -1);
    assert_string_equal(err.message, "no instance types in test matching constraints \"arch=\"");
    //  the empty value prints as ""
    assert_int_equal(s_select(s_itt, 0, "", names, sizeof names, &err), -1);
    assert_string_equal(err.message, "no instance types in test matching constraints \"\"");
}

//  ITT instanceTypeMatchTests
static void
match_itt_table_filters_arches_and_checks_each_constraint(void **state)
{
    (void)state;
    static const struct {
        const char *cons;
        const char *itype;
        const char *arches; //  NULL: no match
    } cases[] = {
        {"", "m1.small", "amd64 armhf"},
        {"", "m1.large", "amd64"},
        {"cpu-power=100", "m1.small", "amd64 armhf"},
        {"arch=amd64", "m1.small", "amd64"},
        {"cores=3", "m1.xlarge", "amd64"},
        {"cpu-power=", "t1.micro", "amd64 armhf"},
        {"cpu-power=500", "c1.medium", "amd64 armhf"},
        {"cpu-power=2000", "c1.xlarge", "amd64"},
        {"cpu-power=2001", "cc1.4xlarge", "amd64"},
        {"mem=2G", "m1.medium", "amd64 armhf"},
        {"arch=i386", "m1.small", NULL},
        {"cpu-power=100", "t1.micro", NULL},
        {"cpu-power=9001", "cc2.8xlarge", NULL},
        {"mem=1G", "t1.micro", NULL},
        {"arch=armhf", "c1.xlarge", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const en_instance_type_t *t = NULL;
        for (size_t k = 0; k < S_ITT_COUNT && !t; k++)
            if (strcmp(s_itt[k].name, cases[i].itype) == 0)
                t = &s_itt[k];
        assert_non_null(t);
        en_constraints_t cons;
        en_constraints_init(&cons);
        s_parse(&cons, cases[i].cons);
        en_itype_match_t m;
        bool ok = en_instance_type_match(t, &cons, &m);
        if (!cases[i].arches) {
            if (ok)
                fail_msg("test %zu: %s matched %s", i, cases[i].itype, cases[i].cons);
            assert_null(m.type);
        } else {
            if (!ok)
                fail_msg("test %zu: %s did not match %s", i, cases[i].itype, cases[i].cons);
            char arches[64] = "";
            size_t len = 0;
            for (uint32_t a = m.arch_first; a < m.arch_first + m.arch_count; a++)
                len += (size_t)snprintf(arches + len, sizeof arches - len, "%s%s", len ? " " : "",
                                        t->arches[a]);
            assert_string_equal(arches, cases[i].arches);
        }
        en_constraints_reset(&cons);
    }
}

//  ITT byCostTests
static void
sort_by_cost_itt_table(void **state)
{
    (void)state;
    static const struct {
        const char *about;
        en_instance_type_t types[2];
        const char *expected;
    } cases[] = {
        {"default to lowest cost",
         {{.name = "it-2", .cpu_cores = 2, .mem = 4096, .cost = 240},
          {.name = "it-1", .cpu_cores = 1, .mem = 2048, .cost = 241}},
         "it-2 it-1"},
        {"when no cost associated, pick lowest ram",
         {{.name = "it-2", .cpu_cores = 2, .mem = 4096},
          {.name = "it-1", .cpu_cores = 1, .mem = 2048}},
         "it-1 it-2"},
        {"when cost is the same, pick lowest ram",
         {{.name = "it-2", .cpu_cores = 2, .mem = 4096, .cost = 240},
          {.name = "it-1", .cpu_cores = 1, .mem = 2048, .cost = 240}},
         "it-1 it-2"},
        {"when cost and ram is the same, pick lowest cpu power",
         {{.name = "it-2", .cpu_cores = 2, .has_cpu_power = true, .cpu_power = 200},
          {.name = "it-1", .cpu_cores = 1, .has_cpu_power = true, .cpu_power = 100}},
         "it-1 it-2"},
        {"when cpu power is the same, pick the lowest cores",
         {{.name = "it-2", .cpu_cores = 2, .has_cpu_power = true, .cpu_power = 200},
          {.name = "it-1", .cpu_cores = 1, .has_cpu_power = true, .cpu_power = 200}},
         "it-1 it-2"},
        {"when cpu power is missing in side a, pick the lowest cores",
         {{.name = "it-2", .cpu_cores = 2, .has_cpu_power = true, .cpu_power = 200},
          {.name = "it-1", .cpu_cores = 1}},
         "it-1 it-2"},
        {"when cpu power is missing in side b, pick the lowest cores",
         {{.name = "it-2", .cpu_cores = 2},
          {.name = "it-1", .cpu_cores = 1, .has_cpu_power = true, .cpu_power = 200}},
         "it-1 it-2"},
        {"when cpu cores is the same, pick the lowest root disk size",
         {{.name = "it-2", .cpu_cores = 1, .root_disk = 8192},
          {.name = "it-1", .cpu_cores = 1, .root_disk = 4096}},
         "it-1 it-2"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        en_itype_match_t m[2] = {{.type = &cases[i].types[0]}, {.type = &cases[i].types[1]}};
        en_itype_sort_by_cost(m, 2);
        char names[64];
        s_names(m, 2, names, sizeof names);
        if (strcmp(names, cases[i].expected) != 0)
            fail_msg("%s: got \"%s\"", cases[i].about, names);
    }
}

//  --------------------------------------------------------------------------
//  Choices where Go is unstable (§10 item 9)

static void
equal_types_keep_catalogue_order(void **state)
{
    (void)state;
    //  40 types in 3 cost classes, all else equal: the merge path runs,
    //  and within a class the catalogue order must survive.
    static char names[40][24];
    en_instance_type_t types[40];
    for (int i = 0; i < 40; i++) {
        snprintf(names[i], sizeof names[i], "t%02d", i);
        types[i] = (en_instance_type_t){.name = names[i],
                                        .arches = s_amd64,
                                        .arch_count = 1,
                                        .mem = 2048,
                                        .cost = (uint64_t)(2 - i % 3)};
    }
    char got[512], want[512] = "";
    size_t len = 0;
    for (int cost = 0; cost < 3; cost++)
        for (int i = 0; i < 40; i++)
            if (2 - i % 3 == cost)
                len += (size_t)snprintf(want + len, sizeof want - len, "%s%s", len ? " " : "",
                                        names[i]);
    en_err_t err = {0};
    assert_int_equal(s_select(types, 40, "", got, sizeof got, &err), 0);
    assert_string_equal(got, want);
}

static void
largest_memory_fallback_prefers_cheapest_then_first(void **state)
{
    (void)state;
    const en_instance_type_t types[] = {
        {.name = "a", .arches = s_amd64, .arch_count = 1, .mem = 512, .cost = 50},
        {.name = "b", .arches = s_amd64, .arch_count = 1, .mem = 512, .cost = 50},
        {.name = "c", .arches = s_amd64, .arch_count = 1, .mem = 512, .cost = 70},
        {.name = "d", .arches = s_amd64, .arch_count = 1, .mem = 256, .cost = 1},
    };
    char got[64];
    assert_int_equal(s_select(types, 4, "", got, sizeof got, NULL), 0);
    assert_string_equal(got, "a");
}

//  --------------------------------------------------------------------------
//  mem= / mem=0 against the heuristic and the controller default (§10 item 10)

static void
explicit_empty_or_zero_mem_disables_the_heuristic(void **state)
{
    (void)state;
    const en_instance_type_t types[] = {
        {.name = "big", .arches = s_amd64, .arch_count = 1, .mem = 512},
        {.name = "small", .arches = s_amd64, .arch_count = 1, .mem = 256},
        {.name = "huge", .arches = s_amd64, .arch_count = 1, .mem = 4096},
    };
    char got[64];
    assert_int_equal(s_select(types, 3, "", got, sizeof got, NULL), 0);
    assert_string_equal(got, "huge"); //  only what has >= 1024
    assert_int_equal(s_select(types, 2, "", got, sizeof got, NULL), 0);
    assert_string_equal(got, "big"); //  nothing has 1024: the largest
    assert_int_equal(s_select(types, 2, "mem=", got, sizeof got, NULL), 0);
    assert_string_equal(got, "small big");
    assert_int_equal(s_select(types, 2, "mem=0", got, sizeof got, NULL), 0);
    assert_string_equal(got, "small big");
    //  an instance-type also turns the heuristic off
    assert_int_equal(s_select(types, 3, "instance-type=small", got, sizeof got, NULL), 0);
    assert_string_equal(got, "small");
}

static void
controller_default_is_3584_unless_a_sizing_constraint_has_a_value(void **state)
{
    (void)state;
    static const struct {
        const char *cons;
        const char *want;
    } cases[] = {
        {"", "mem=3584M"},
        {"mem=", "mem=3584M"},  //  HasMem is false for mem=
        {"mem=0", "mem=3584M"}, //  and for mem=0
        {"arch=amd64", "arch=amd64 mem=3584M"},
        {"instance-type=", "instance-type= mem=3584M"},
        {"cores=0 cpu-power=", "cores= cpu-power= mem=3584M"},
        {"mem=2G", "mem=2048M"},
        {"cores=2", "cores=2"},
        {"cpu-power=100", "cpu-power=100"},
        {"instance-type=m1.small", "instance-type=m1.small"},
        {"root-disk=32G", "mem=3584M root-disk=32768M"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        en_constraints_t c;
        en_constraints_init(&c);
        s_parse(&c, cases[i].cons);
        en_controller_default_constraints(&c);
        char got[128];
        en_constraints_format(&c, got, sizeof got);
        if (strcmp(got, cases[i].want) != 0)
            fail_msg("\"%s\": got \"%s\", want \"%s\"", cases[i].cons, got, cases[i].want);
        en_constraints_reset(&c);
    }
}

//  --------------------------------------------------------------------------
//  The prepared catalogue

static uint64_t s_rng = 88172645463325252ULL;

static uint64_t
s_rand(uint64_t n)
{
    s_rng ^= s_rng << 13;
    s_rng ^= s_rng >> 7;
    s_rng ^= s_rng << 17;
    return s_rng % n;
}

//  Random catalogues, with and without mixed cpu-power knowledge among
//  equal cost and memory, against random constraints: both paths agree.
static void
catalogue_agrees_with_one_shot_on_random_catalogues(void **state)
{
    (void)state;
    static const char *const arch_sets[][3] = {
        {"amd64"}, {"arm64"}, {"amd64", "i386"}, {"amd64", "arm64", "s390x"}};
    static const size_t arch_counts[] = {1, 1, 2, 3};
    static const char *const tag_sets[][2] = {{"a"}, {"a", "b"}};
    static const char *const virts[] = {NULL, "hvm", "pv"};
    static const char *const queries[] = {"",
                                          "mem=",
                                          "cores=2",
                                          "cpu-power=150",
                                          "arch=arm64",
                                          "arch=i386 mem=1G",
                                          "mem=300M",
                                          "root-disk=9G",
                                          "tags=a",
                                          "tags=a,b",
                                          "virt-type=hvm",
                                          "instance-type=t007",
                                          "instance-type=t013 cores=1",
                                          "cores=64",
                                          "arch=s390x cpu-power=",
                                          "mem=4G cores=3"};
    static char names[200][8];
    static en_instance_type_t types[200];
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < 200; i++) {
            snprintf(names[i], sizeof names[i], "t%03d", i);
            int a = (int)s_rand(4), tg = (int)s_rand(3);
            types[i] = (en_instance_type_t){
                .name = names[i],
                .arches = arch_sets[a],
                .arch_count = arch_counts[a],
                .cpu_cores = 1 + s_rand(4),
                .mem = 256u << s_rand(4),
                .root_disk = s_rand(2) * 8192,
                .cost = 10 * s_rand(3),
                .has_cpu_power = round == 0 ? s_rand(2) == 0 : true,
                .cpu_power = 100 * s_rand(3),
                .virt_type = virts[s_rand(3)],
                .tags = tg < 2 ? tag_sets[tg] : NULL,
                .tag_count = tg < 2 ? (size_t)tg + 1 : 0,
                .deprecated = s_rand(20) == 0,
            };
        }
        en_itype_catalogue_t *cat = en_itype_catalogue_new(types, 200);
        assert_int_equal(en_itype_catalogue_size(cat), 200);
        static en_itype_match_t fast[200];
        for (size_t q = 0; q < sizeof queries / sizeof *queries; q++) {
            en_constraints_t cons;
            en_constraints_init(&cons);
            s_parse(&cons, queries[q]);
            en_itype_match_t *slow = NULL;
            size_t n_slow = 0, n_fast = 0;
            en_err_t e1 = {0}, e2 = {0};
            int r1 = en_matching_instance_types(types, 200, "r", &cons, &slow, &n_slow, &e1);
            int r2 = en_itype_catalogue_match(cat, "r", &cons, fast, 200, &n_fast, &e2);
            assert_int_equal(r1, r2);
            assert_int_equal(n_slow, n_fast);
            if (r1 == 0)
                assert_memory_equal(slow, fast, n_slow * sizeof *fast);
            else
                assert_string_equal(e1.message, e2.message);
            free(slow);
            en_constraints_reset(&cons);
        }
        en_itype_catalogue_destroy(&cat);
    }
}

static void
catalogue_reports_a_buffer_too_small(void **state)
{
    (void)state;
    en_itype_catalogue_t *cat = en_itype_catalogue_new(s_itt, S_ITT_COUNT);
    en_constraints_t cons;
    en_constraints_init(&cons);
    s_parse(&cons, "cores=2");
    en_itype_match_t out[2];
    size_t n;
    en_err_t err = {0};
    assert_int_equal(en_itype_catalogue_match(cat, "test", &cons, out, 2, &n, &err), -1);
    assert_int_equal(err.kind, EN_INTERNAL);
    assert_int_equal(n, 0);
    en_constraints_reset(&cons);
    en_itype_catalogue_destroy(&cat);
}

//  --------------------------------------------------------------------------
//  FindInstanceSpec

static int
s_find(const en_image_t *images, size_t n_images, const en_instance_type_t *types, size_t n_types,
       const char *cons_text, en_instance_spec_t *spec, en_err_t *err)
{
    static const char *const arches[] = {"amd64", "armhf"};
    en_constraints_t cons;
    en_constraints_init(&cons);
    s_parse(&cons, cons_text);
    en_instance_constraint_t ic = {
        .region = "test", .series = "precise", .arches = arches, .arch_count = 2, .cons = &cons};
    int rc = en_find_instance_spec(images, n_images, &ic, types, n_types, spec, err);
    en_constraints_reset(&cons);
    return rc;
}

static void
find_spec_prefers_64_bit_then_arch_name(void **state)
{
    (void)state;
    static const char *const all[] = {"amd64", "arm64", "armhf", "i386", "ppc64el"};
    const en_instance_type_t types[] = {
        {.name = "it-1", .arches = all, .arch_count = 5, .mem = 2048}};
    static const struct {
        const char *about;
        en_image_t images[2];
        const char *want;
    } cases[] = {
        {"amd64 beats i386", {{"i", "i386", ""}, {"a", "amd64", ""}}, "a"},
        {"armhf beats i386", {{"i", "i386", ""}, {"h", "armhf", ""}}, "h"},
        {"ppc64el beats i386", {{"i", "i386", ""}, {"p", "ppc64el", ""}}, "p"},
        {"amd64 beats arm64", {{"r", "arm64", ""}, {"a", "amd64", ""}}, "a"},
        {"equal arches keep the first found", {{"1", "amd64", ""}, {"2", "amd64", ""}}, "1"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        en_instance_spec_t spec;
        en_err_t err = {0};
        if (s_find(cases[i].images, 2, types, 1, "", &spec, &err) != 0)
            fail_msg("%s: %s", cases[i].about, err.message);
        if (strcmp(spec.image->id, cases[i].want) != 0)
            fail_msg("%s: got image %s", cases[i].about, spec.image->id);
        assert_string_equal(spec.itype.type->name, "it-1");
    }
}

static void
find_spec_prefers_exact_virt_type_over_unspecified(void **state)
{
    (void)state;
    const en_instance_type_t hvm[] = {
        {.name = "it-1", .arches = s_amd64, .arch_count = 1, .mem = 2048, .virt_type = "hvm"}};
    const en_image_t exact_and_partial[] = {{"partial", "amd64", ""}, {"exact", "amd64", "hvm"}};
    const en_image_t partial_only[] = {{"pv", "amd64", "pv"}, {"partial", "amd64", NULL}};
    const en_image_t wrong_virt[] = {{"pv", "amd64", "pv"}};
    en_instance_spec_t spec;
    en_err_t err = {0};
    assert_int_equal(s_find(exact_and_partial, 2, hvm, 1, "", &spec, &err), 0);
    assert_string_equal(spec.image->id, "exact");
    assert_int_equal(s_find(partial_only, 2, hvm, 1, "", &spec, &err), 0);
    assert_string_equal(spec.image->id, "partial");
    assert_int_equal(s_find(wrong_virt, 1, hvm, 1, "", &spec, &err), -1);
    assert_string_equal(err.message,
                        "no \"precise\" images in test matching instance types [it-1]");
    //  a type with no virt-type takes any image exactly
    const en_instance_type_t any[] = {
        {.name = "it-1", .arches = s_amd64, .arch_count = 1, .mem = 2048}};
    assert_int_equal(s_find(wrong_virt, 1, any, 1, "", &spec, &err), 0);
    assert_string_equal(spec.image->id, "pv");
}

static void
find_spec_arch_preference_beats_cost_order(void **state)
{
    (void)state;
    static const char *const i386[] = {"i386"};
    const en_instance_type_t types[] = {
        {.name = "cheap32", .arches = i386, .arch_count = 1, .mem = 2048, .cost = 1},
        {.name = "dear64", .arches = s_amd64, .arch_count = 1, .mem = 2048, .cost = 2},
    };
    const en_image_t images[] = {{"i", "i386", ""}, {"a", "amd64", ""}};
    en_instance_spec_t spec;
    assert_int_equal(s_find(images, 2, types, 2, "", &spec, NULL), 0);
    assert_string_equal(spec.itype.type->name, "dear64");
    assert_int_equal(s_find(images, 2, types, 2, "instance-type=cheap32", &spec, NULL), 0);
    assert_string_equal(spec.itype.type->name, "cheap32");
    assert_string_equal(spec.image->id, "i");
}

static void
find_spec_errors_name_series_region_and_candidates(void **state)
{
    (void)state;
    const en_instance_type_t types[] = {
        {.name = "it-1", .arches = s_amd64, .arch_count = 1, .mem = 2048}};
    static const char *const arches[] = {"amd64", "armhf"};
    en_instance_constraint_t ic = {
        .region = "invalid-region", .series = "precise", .arches = arches, .arch_count = 2};
    en_instance_spec_t spec;
    en_err_t err = {0};
    assert_int_equal(en_find_instance_spec(NULL, 0, &ic, types, 1, &spec, &err), -1);
    assert_string_equal(err.message,
                        "no \"precise\" images in invalid-region with arches [amd64 armhf]");

    const en_image_t arm_only[] = {{"r", "arm64", "pv"}};
    ic.region = "arm-only";
    assert_int_equal(en_find_instance_spec(arm_only, 1, &ic, types, 1, &spec, &err), -1);
    assert_string_equal(err.message,
                        "no \"precise\" images in arm-only matching instance types [it-1]");

    //  MatchingInstanceTypes' error propagates
    const en_image_t amd[] = {{"a", "amd64", ""}};
    ic.region = "test";
    assert_int_equal(en_find_instance_spec(amd, 1, &ic, types, 0, &spec, &err), -1);
    assert_string_equal(err.message, "no instance types in test matching constraints \"\"");
}

//  The prepared catalogue gives FindInstanceSpec's answer (or its error)
//  for random catalogues, images and constraints.
static void
catalogue_find_spec_agrees_with_find_spec(void **state)
{
    (void)state;
    static const char *const arch_sets[][3] = {
        {"amd64"}, {"arm64"}, {"amd64", "i386"}, {"arm64", "armhf", "amd64"}};
    static const size_t arch_counts[] = {1, 1, 2, 3};
    static const char *const virts[] = {NULL, "hvm", "pv"};
    static const char *const image_arches[] = {"amd64", "arm64", "i386", "armhf", "s390x", NULL};
    static const char *const image_virts[] = {NULL, "", "hvm", "pv"};
    static const char *const queries[] = {
        "", "arch=arm64", "arch=i386", "virt-type=hvm", "mem=4G", "instance-type=t003", "cores=8"};
    static const char *const arches[] = {"amd64", "arm64"};
    static char names[40][24];
    static char ids[6][24];
    en_instance_type_t types[40];
    en_image_t images[6];
    for (int round = 0; round < 200; round++) {
        size_t n = 1 + s_rand(40), n_images = 1 + s_rand(6);
        for (size_t i = 0; i < n; i++) {
            snprintf(names[i], sizeof names[i], "t%03zu", i);
            size_t a = s_rand(4);
            types[i] = (en_instance_type_t){
                .name = names[i],
                .arches = arch_sets[a],
                .arch_count = arch_counts[a],
                .cpu_cores = 1 + s_rand(8),
                .mem = 512u << s_rand(5),
                .cost = 10 * s_rand(5),
                .has_cpu_power = true,
                .cpu_power = 100 * s_rand(3),
                .virt_type = virts[s_rand(3)],
            };
        }
        for (size_t i = 0; i < n_images; i++) {
            snprintf(ids[i], sizeof ids[i], "%zu", i);
            images[i] = (en_image_t){ids[i], image_arches[s_rand(6)], image_virts[s_rand(4)]};
        }
        en_itype_catalogue_t *cat = en_itype_catalogue_new(types, n);
        assert_non_null(cat);
        for (size_t q = 0; q < sizeof queries / sizeof *queries; q++) {
            en_constraints_t cons;
            en_constraints_init(&cons);
            s_parse(&cons, queries[q]);
            en_instance_constraint_t ic = {.region = "test",
                                           .series = "jammy",
                                           .arches = arches,
                                           .arch_count = 2,
                                           .cons = &cons};
            en_instance_spec_t one, prepared;
            en_err_t e1 = {0}, e2 = {0};
            int r1 = en_find_instance_spec(images, n_images, &ic, types, n, &one, &e1);
            int r2 = en_itype_catalogue_find_spec(cat, images, n_images, &ic, &prepared, &e2);
            assert_int_equal(r1, r2);
            if (r1 == 0) {
                assert_ptr_equal(one.itype.type, prepared.itype.type);
                assert_ptr_equal(one.image, prepared.image);
                assert_int_equal(one.itype.arch_first, prepared.itype.arch_first);
            } else
                assert_string_equal(e1.message, e2.message);
            en_constraints_reset(&cons);
        }
        en_itype_catalogue_destroy(&cat);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(matching_itt_table_filters_and_orders_by_cost),
        cmocka_unit_test(matching_errors_quote_the_original_constraints),
        cmocka_unit_test(match_itt_table_filters_arches_and_checks_each_constraint),
        cmocka_unit_test(sort_by_cost_itt_table),
        cmocka_unit_test(equal_types_keep_catalogue_order),
        cmocka_unit_test(largest_memory_fallback_prefers_cheapest_then_first),
        cmocka_unit_test(explicit_empty_or_zero_mem_disables_the_heuristic),
        cmocka_unit_test(controller_default_is_3584_unless_a_sizing_constraint_has_a_value),
        cmocka_unit_test(catalogue_agrees_with_one_shot_on_random_catalogues),
        cmocka_unit_test(catalogue_reports_a_buffer_too_small),
        cmocka_unit_test(find_spec_prefers_64_bit_then_arch_name),
        cmocka_unit_test(find_spec_prefers_exact_virt_type_over_unspecified),
        cmocka_unit_test(find_spec_arch_preference_beats_cost_order),
        cmocka_unit_test(find_spec_errors_name_series_region_and_candidates),
        cmocka_unit_test(catalogue_find_spec_agrees_with_find_spec),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
