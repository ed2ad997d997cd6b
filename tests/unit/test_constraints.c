/*  Constraints: Juju's string syntax (CONT), canonical String(), presence
    versus zero, the package Merge, and the Validator (VALT and the provider
    validators of §1 I). Cases and messages are the Go tests', verbatim. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/constraints.h"

//  --------------------------------------------------------------------------
//  Helpers

static void
s_parse_ok(en_constraints_t *c, const char *text)
{
    en_err_t err = {0};
    int rc = en_constraints_parse(c, text, &err);
    if (rc != 0)
        fail_msg("parse \"%s\": %s", text, err.message);
}

//  Parse(String()) gives back an equal value.
static void
s_assert_round_trips(const en_constraints_t *c)
{
    char *text = en_constraints_string(c);
    assert_non_null(text);
    en_constraints_t back;
    en_constraints_init(&back);
    s_parse_ok(&back, text);
    if (!en_constraints_equal(&back, c))
        fail_msg("\"%s\" did not round-trip", text);
    en_constraints_reset(&back);
    free(text);
}

static void
s_assert_string(const en_constraints_t *c, const char *want)
{
    char *text = en_constraints_string(c);
    assert_string_equal(text, want);
    free(text);
}

//  --------------------------------------------------------------------------
//  CONT parseConstraintsTests, every case

typedef struct {
    const char *summary;
    const char *args[14];
    const char *err; //  NULL: parses, and round-trips through String()
} parse_case_t;

static const parse_case_t s_parse_cases[] = {
    {"nothing at all", {NULL}, NULL},
    {"empty", {"     "}, NULL},
    {"complete nonsense", {"cheese"}, "malformed constraint \"cheese\""},
    {"missing name", {"=cheese"}, "malformed constraint \"=cheese\""},
    {"unknown constraint", {"cheese=edam"}, "unknown constraint \"cheese\""},
    {"set container empty", {"container="}, NULL},
    {"set container to none", {"container=none"}, NULL},
    {"set container lxd", {"container=lxd"}, NULL},
    {"set nonsense container",
     {"container=foo"},
     "bad \"container\" constraint: invalid container type \"foo\""},
    {"double set container together",
     {"container=lxd container=lxd"},
     "bad \"container\" constraint: already set"},
    {"double set container separately",
     {"container=lxd", "container="},
     "bad \"container\" constraint: already set"},
    {"set arch empty", {"arch="}, NULL},
    {"set arch amd64", {"arch=amd64"}, NULL},
    {"set arch arm64", {"arch=arm64"}, NULL},
    {"set nonsense arch 1", {"arch=cheese"}, "bad \"arch\" constraint: \"cheese\" not recognized"},
    {"set nonsense arch 2", {"arch=123.45"}, "bad \"arch\" constraint: \"123.45\" not recognized"},
    {"double set arch together", {"arch=amd64 arch=amd64"}, "bad \"arch\" constraint: already set"},
    {"double set arch separately", {"arch=arm64", "arch="}, "bad \"arch\" constraint: already set"},
    {"set cores empty", {"cores="}, NULL},
    {"set cores zero", {"cores=0"}, NULL},
    {"set cores", {"cores=4"}, NULL},
    {"set nonsense cores 1",
     {"cores=cheese"},
     "bad \"cores\" constraint: must be a non-negative integer"},
    {"set nonsense cores 2",
     {"cores=-1"},
     "bad \"cores\" constraint: must be a non-negative integer"},
    {"set nonsense cores 3",
     {"cores=123.45"},
     "bad \"cores\" constraint: must be a non-negative integer"},
    {"double set cores together", {"cores=128 cores=1"}, "bad \"cores\" constraint: already set"},
    {"double set cores separately",
     {"cores=128", "cores=1"},
     "bad \"cores\" constraint: already set"},
    {"set cpu-cores", {"cpu-cores=4"}, NULL},
    {"set cpu-power empty", {"cpu-power="}, NULL},
    {"set cpu-power zero", {"cpu-power=0"}, NULL},
    {"set cpu-power", {"cpu-power=44"}, NULL},
    {"set nonsense cpu-power 1",
     {"cpu-power=cheese"},
     "bad \"cpu-power\" constraint: must be a non-negative integer"},
    {"set nonsense cpu-power 2",
     {"cpu-power=-1"},
     "bad \"cpu-power\" constraint: must be a non-negative integer"},
    {"double set cpu-power together",
     {"  cpu-power=300 cpu-power=1700 "},
     "bad \"cpu-power\" constraint: already set"},
    {"double set cpu-power separately",
     {"cpu-power=300  ", "  cpu-power=1700"},
     "bad \"cpu-power\" constraint: already set"},
    {"set mem empty", {"mem="}, NULL},
    {"set mem zero", {"mem=0"}, NULL},
    {"set mem without suffix", {"mem=512"}, NULL},
    {"set mem with M suffix", {"mem=512M"}, NULL},
    {"set mem with G suffix", {"mem=1.5G"}, NULL},
    {"set mem with T suffix", {"mem=36.2T"}, NULL},
    {"set mem with P suffix", {"mem=18.9P"}, NULL},
    {"set nonsense mem 1",
     {"mem=cheese"},
     "bad \"mem\" constraint: must be a non-negative float with optional M/G/T/P suffix"},
    {"set nonsense mem 2",
     {"mem=-1"},
     "bad \"mem\" constraint: must be a non-negative float with optional M/G/T/P suffix"},
    {"set nonsense mem 3",
     {"mem=32Y"},
     "bad \"mem\" constraint: must be a non-negative float with optional M/G/T/P suffix"},
    {"double set mem together", {"mem=1G  mem=2G"}, "bad \"mem\" constraint: already set"},
    {"double set mem separately", {"mem=1G", "mem=2G"}, "bad \"mem\" constraint: already set"},
    {"set root-disk empty", {"root-disk="}, NULL},
    {"set root-disk zero", {"root-disk=0"}, NULL},
    {"set root-disk without suffix", {"root-disk=512"}, NULL},
    {"set root-disk with M suffix", {"root-disk=512M"}, NULL},
    {"set root-disk with G suffix", {"root-disk=1.5G"}, NULL},
    {"set root-disk with T suffix", {"root-disk=36.2T"}, NULL},
    {"set root-disk with P suffix", {"root-disk=18.9P"}, NULL},
    {"set nonsense root-disk 1",
     {"root-disk=cheese"},
     "bad \"root-disk\" constraint: must be a non-negative float with optional M/G/T/P suffix"},
    {"set nonsense root-disk 2",
     {"root-disk=-1"},
     "bad \"root-disk\" constraint: must be a non-negative float with optional M/G/T/P suffix"},
    {"set nonsense root-disk 3",
     {"root-disk=32Y"},
     "bad \"root-disk\" constraint: must be a non-negative float with optional M/G/T/P suffix"},
    {"double set root-disk together",
     {"root-disk=1G  root-disk=2G"},
     "bad \"root-disk\" constraint: already set"},
    {"double set root-disk separately",
     {"root-disk=1G", "root-disk=2G"},
     "bad \"root-disk\" constraint: already set"},
    {"set root-disk-source empty", {"root-disk-source="}, NULL},
    {"set root-disk-source to a value", {"root-disk-source=sourcename"}, NULL},
    {"double set root-disk-source together",
     {"root-disk-source=sourcename root-disk-source=somethingelse"},
     "bad \"root-disk-source\" constraint: already set"},
    {"double set root-disk-source separately",
     {"root-disk-source=sourcename", "root-disk-source=somethingelse"},
     "bad \"root-disk-source\" constraint: already set"},
    {"single tag", {"tags=foo"}, NULL},
    {"multiple tags", {"tags=foo,bar"}, NULL},
    {"no tags", {"tags="}, NULL},
    {"single space", {"spaces=space1"}, NULL},
    {"multiple spaces - positive", {"spaces=space1,space2"}, NULL},
    {"multiple spaces - negative", {"spaces=^dmz,^public"}, NULL},
    {"multiple spaces - positive and negative", {"spaces=admin,^area52,dmz,^public"}, NULL},
    {"no spaces", {"spaces="}, NULL},
    {"set instance role", {"instance-role=foobarir"}, NULL},
    {"instance role empty", {"instance-role="}, NULL},
    {"instance role auto", {"instance-role=auto"}, NULL},
    {"set instance type", {"instance-type=foo"}, NULL},
    {"instance type empty", {"instance-type="}, NULL},
    {"instance type with slash-escaped spaces", {"instance-type=something\\ with\\ spaces"}, NULL},
    {"set virt-type empty", {"virt-type="}, NULL},
    {"set virt-type kvm", {"virt-type=kvm"}, NULL},
    {"set virt-type lxd", {"virt-type=lxd"}, NULL},
    {"double set virt-type together",
     {"virt-type=kvm virt-type=kvm"},
     "bad \"virt-type\" constraint: already set"},
    {"double set virt-type separately",
     {"virt-type=kvm", "virt-type="},
     "bad \"virt-type\" constraint: already set"},
    {"single zone", {"zones=az1"}, NULL},
    {"multiple zones", {"zones=az1,az2"}, NULL},
    {"zones with slash-escaped spaces", {"zones=Availability\\ zone\\ 1"}, NULL},
    {"Multiple zones with slash-escaped spaces",
     {"zones=Availability\\ zone\\ 1,Availability\\ zone\\ 2,az2"},
     NULL},
    {"no zones", {"zones="}, NULL},
    {"set allocate-public-ip", {"allocate-public-ip=true"}, NULL},
    {"set nonsense allocate-public-ip",
     {"allocate-public-ip=fred"},
     "bad \"allocate-public-ip\" constraint: must be 'true' or 'false'"},
    {"try to set allocate-public-ip twice",
     {"allocate-public-ip=true allocate-public-ip=false"},
     "bad \"allocate-public-ip\" constraint: already set"},
    {"set image-id", {"image-id=ubuntu-bf2"}, NULL},
    {"set image-id empty", {"image-id="}, NULL},
    {"double set image-id",
     {"image-id=ubuntu-bf2 image-id=ubuntu-bf1"},
     "bad \"image-id\" constraint: already set"},
    {"kitchen sink together",
     {"root-disk=8G mem=2T  arch=arm64  cores=4096 cpu-power=9001 container=lxd "
      "tags=foo,bar spaces=space1,^space2 instance-type=foo instance-role=foo1",
      "virt-type=kvm zones=az1,az2 allocate-public-ip=true root-disk-source=sourcename "
      "image-id=ubuntu-bf2"},
     NULL},
    {"kitchen sink separately",
     {"root-disk=8G", "mem=2T", "cores=4096", "cpu-power=9001", "arch=arm64", "container=lxd",
      "tags=foo,bar", "spaces=space1,^space2", "instance-type=foo", "virt-type=kvm",
      "zones=az1,az2", "allocate-public-ip=false", "instance-role=foo2"},
     NULL},
    {"kitchen sink together with spaced zones",
     {"root-disk=8G mem=2T  arch=arm64  cores=4096 zones=Availability\\ zone\\ 1 cpu-power=9001 "
      "container=lxd tags=foo,bar spaces=space1,^space2 instance-type=foo instance-role=foo3",
      "virt-type=kvm"},
     NULL},
    //  §2.1: nested-virtualization (main); "" is false, not unset.
    {"set nested-virtualization", {"nested-virtualization=true"}, NULL},
    {"set nested-virtualization empty", {"nested-virtualization="}, NULL},
    {"set nonsense nested-virtualization",
     {"nested-virtualization=yes"},
     "bad \"nested-virtualization\" constraint: must be 'true' or 'false'"},
};

static size_t
s_arg_count(const parse_case_t *t)
{
    size_t n = 0;
    while (n < 14 && t->args[n])
        n++;
    return n;
}

static void
parse_cont_table_gives_juju_errors_and_round_trips(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof s_parse_cases / sizeof *s_parse_cases; i++) {
        const parse_case_t *t = &s_parse_cases[i];
        en_constraints_t c;
        en_constraints_init(&c);
        en_err_t err = {0};
        int rc = en_constraints_parse_args(&c, t->args, s_arg_count(t), NULL, &err);
        if (t->err) {
            if (rc != -1 || strcmp(err.message, t->err) != 0)
                fail_msg("%s: got rc %d \"%s\", want \"%s\"", t->summary, rc, err.message, t->err);
            assert_int_equal(err.kind, EN_NOT_VALID);
            assert_true(en_constraints_is_empty(&c)); //  Go returns Value{} on error
        } else {
            if (rc != 0)
                fail_msg("%s: %s", t->summary, err.message);
            s_assert_round_trips(&c);
        }
        en_constraints_reset(&c);
    }
}

static void
parse_kitchen_sink_sets_every_field(void **state)
{
    (void)state;
    const char *args[] = {
        "root-disk=8G mem=2T  arch=arm64  cores=4096 cpu-power=9001 container=lxd "
        "tags=foo,bar spaces=space1,^space2 instance-type=foo instance-role=foo1",
        "virt-type=kvm zones=az1,az2 allocate-public-ip=true root-disk-source=sourcename "
        "image-id=ubuntu-bf2"};
    en_constraints_t c;
    en_constraints_init(&c);
    assert_int_equal(en_constraints_parse_args(&c, args, 2, NULL, NULL), 0);
    assert_string_equal(c.arch, "arm64");
    assert_string_equal(c.container, "lxd");
    assert_int_equal(c.cores, 4096);
    assert_int_equal(c.cpu_power, 9001);
    assert_int_equal(c.mem, 2 * 1024 * 1024);
    assert_int_equal(c.root_disk, 8192);
    assert_string_equal(c.root_disk_source, "sourcename");
    assert_int_equal(c.tags.count, 2);
    assert_string_equal(c.tags.items[1], "bar");
    assert_int_equal(c.spaces.count, 2);
    assert_string_equal(c.spaces.items[1], "^space2");
    assert_string_equal(c.instance_role, "foo1");
    assert_string_equal(c.instance_type, "foo");
    assert_string_equal(c.virt_type, "kvm");
    assert_int_equal(c.zones.count, 2);
    assert_true(c.allocate_public_ip);
    assert_string_equal(c.image_id, "ubuntu-bf2");
    assert_false(en_constraints_is_set(&c, EN_CONS_NESTED_VIRTUALIZATION));
    s_assert_string(&c, "arch=arm64 container=lxd cores=4096 cpu-power=9001 instance-role=foo1 "
                        "instance-type=foo mem=2097152M root-disk=8192M "
                        "root-disk-source=sourcename tags=foo,bar spaces=space1,^space2 "
                        "virt-type=kvm zones=az1,az2 allocate-public-ip=true image-id=ubuntu-bf2");
    en_constraints_reset(&c);

    //  "kitchen sink together with spaced zones"
    s_parse_ok(&c, "zones=Availability\\ zone\\ 1 virt-type=kvm");
    assert_int_equal(c.zones.count, 1);
    assert_string_equal(c.zones.items[0], "Availability zone 1");
    s_assert_string(&c, "virt-type=kvm zones=Availability\\ zone\\ 1");
    en_constraints_reset(&c);
}

static void
parse_sizes_are_mib_with_binary_suffixes_rounded_up(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        uint64_t mib;
    } cases[] = {
        {"mem=2G", 2048},       {"mem=1.5G", 1536},      {"mem=512", 512},
        {"mem=512M", 512},      {"mem=36.2T", 37958452}, {"mem=18.9P", 20293720474ULL},
        {"mem=0.1M", 1},        {"mem=4G", 4096},        {"mem=1e3", 1000},
        {"mem=.5G", 512},       {"mem=-0", 0},           {"mem=18000000000M", 18000000000ULL},
        {"root-disk=8G", 8192}, {"root-disk=0.5", 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        en_constraints_t c;
        en_constraints_init(&c);
        s_parse_ok(&c, cases[i].text);
        uint64_t got = strncmp(cases[i].text, "mem", 3) == 0 ? c.mem : c.root_disk;
        if (got != cases[i].mib)
            fail_msg("%s: got %llu, want %llu", cases[i].text, (unsigned long long)got,
                     (unsigned long long)cases[i].mib);
        en_constraints_reset(&c);
    }
    //  The suffix is case-sensitive; Go's ParseFloat syntax only.
    static const char *const bad[] = {
        "mem=1g",  "mem=M",  "mem=1.5.G", "mem=inf",
        "mem=NaN", "mem= 1", "mem=0x10",  "mem=99999999999999999999P"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        en_constraints_t c;
        en_constraints_init(&c);
        en_err_t err = {0};
        assert_int_equal(en_constraints_parse(&c, bad[i], &err), -1);
    }
}

static void
string_is_canonical_mib_form(void **state)
{
    (void)state;
    en_constraints_t c;
    en_constraints_init(&c);
    s_parse_ok(&c, "mem=2G");
    s_assert_string(&c, "mem=2048M"); //  §11 item 11
    s_parse_ok(&c, "tags=a,b cores=2 arch=amd64 mem=4G root-disk=1T");
    s_assert_string(&c, "arch=amd64 cores=2 mem=4096M root-disk=1048576M tags=a,b");
    s_parse_ok(&c, "mem=0 cores=0 cpu-power= root-disk=0");
    s_assert_string(&c, "cores= cpu-power= mem= root-disk=");
    s_parse_ok(&c, "   ");
    s_assert_string(&c, "");
    en_constraints_reset(&c);
}

static void
set_to_zero_differs_from_unset(void **state)
{
    (void)state;
    en_constraints_t unset, empty, zero;
    en_constraints_init(&unset);
    en_constraints_init(&empty);
    en_constraints_init(&zero);
    s_parse_ok(&empty, "mem=");
    s_parse_ok(&zero, "mem=0");
    assert_false(en_constraints_is_set(&unset, EN_CONS_MEM));
    assert_true(en_constraints_is_set(&empty, EN_CONS_MEM));
    assert_false(en_constraints_has(&empty, EN_CONS_MEM)); //  HasMem is > 0
    assert_true(en_constraints_equal(&empty, &zero));      //  both print "mem="
    assert_false(en_constraints_equal(&empty, &unset));
    en_constraints_reset(&empty);
    en_constraints_reset(&zero);
}

static void
is_empty_means_string_is_empty(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        bool empty;
    } cases[] = {
        {"", true},
        {"arch=amd64", false},
        {"tags=", false},
        {"spaces=", false},
        {"mem=", false},
        {"arch=", false},
        {"root-disk=", false},
        {"cpu-power=", false},
        {"cores=", false},
        {"container=", false},
        {"instance-role=", false},
        {"instance-type=", false},
        {"zones=", false},
        {"allocate-public-ip=", true},
        {"image-id=", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        en_constraints_t c;
        en_constraints_init(&c);
        s_parse_ok(&c, cases[i].text);
        if (en_constraints_is_empty(&c) != cases[i].empty)
            fail_msg("IsEmpty(%s) != %d", cases[i].text, cases[i].empty);
        en_constraints_reset(&c);
    }
}

static void
cpu_cores_alias_resolves_before_parsing(void **state)
{
    (void)state;
    en_constraints_t c;
    en_constraints_init(&c);
    const char *args[] = {"cpu-cores=5 arch=amd64"};
    en_cons_attrs_t aliased;
    assert_int_equal(en_constraints_parse_args(&c, args, 1, &aliased, NULL), 0);
    assert_int_equal(c.cores, 5);
    assert_string_equal(c.arch, "amd64");
    assert_int_equal(aliased, en_cons_bit(EN_CONS_CORES)); //  {"cpu-cores": "cores"}
    s_assert_string(&c, "arch=amd64 cores=5");

    en_err_t err = {0};
    assert_int_equal(en_constraints_parse(&c, "cores=1 cpu-cores=2", &err), -1);
    assert_string_equal(err.message, "bad \"cores\" constraint: already set");
    assert_int_equal(en_constraints_parse(&c, "cpu-cores=x", &err), -1);
    assert_string_equal(err.message, "bad \"cores\" constraint: must be a non-negative integer");
    assert_int_equal(en_cons_attr_from_name("cpu-cores"), EN_CONS_CORES);
    assert_int_equal(en_cons_attr_from_name("cheese"), EN_CONS_ATTR_COUNT);
}

static void
spaces_split_into_included_and_excluded(void **state)
{
    (void)state;
    en_constraints_t c;
    en_constraints_init(&c);
    s_parse_ok(&c, "spaces=space1,^space2,space3,^space4");
    const char *names[4];
    assert_int_equal(en_constraints_spaces(&c, false, names, 4), 2);
    assert_string_equal(names[0], "space1");
    assert_string_equal(names[1], "space3");
    assert_int_equal(en_constraints_spaces(&c, true, names, 4), 2);
    assert_string_equal(names[0], "space2");
    assert_string_equal(names[1], "space4");
    assert_true(en_constraints_has(&c, EN_CONS_SPACES));
    s_parse_ok(&c, "mem=4G");
    assert_false(en_constraints_has(&c, EN_CONS_SPACES));
    s_parse_ok(&c, "mem=4G spaces=space-foo,^space-bar");
    assert_int_equal(en_constraints_spaces(&c, false, names, 4), 1);
    assert_string_equal(names[0], "space-foo");
    assert_int_equal(en_constraints_spaces(&c, true, names, 4), 1);
    assert_string_equal(names[0], "space-bar");
    en_constraints_reset(&c);
}

static void
invalid_space_names_are_rejected_naming_the_space(void **state)
{
    (void)state;
    static const char *const names[] = {"%$pace",   "^foo#2",  "+",     "tcp:ip",  "^^myspace",
                                        "^^^^^^^^", "space^x", "&-foo", "space/3", "^bar=4",
                                        "&#!",      "-a",      "a--b",  "A"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        char text[64], want[128];
        snprintf(text, sizeof text, "spaces=%s", names[i]);
        const char *expect = names[i][0] == '^' ? names[i] + 1 : names[i]; //  one ^ only
        snprintf(want, sizeof want, "bad \"spaces\" constraint: \"%s\" is not a valid space name",
                 expect);
        en_constraints_t c;
        en_constraints_init(&c);
        en_err_t err = {0};
        assert_int_equal(en_constraints_parse(&c, text, &err), -1);
        assert_string_equal(err.message, want);
        assert_true(en_constraints_is_empty(&c));
    }
}

static void
missing_lists_are_unset_and_empty_lists_are_set(void **state)
{
    (void)state;
    en_constraints_t c;
    en_constraints_init(&c);
    s_parse_ok(&c, "arch=amd64 mem=4G cores=1 root-disk=8G");
    assert_false(en_constraints_is_set(&c, EN_CONS_TAGS));
    assert_false(en_constraints_is_set(&c, EN_CONS_SPACES));
    s_parse_ok(&c, "arch=amd64 mem=4G cores=1 root-disk=8G tags= spaces=");
    assert_true(en_constraints_is_set(&c, EN_CONS_TAGS));
    assert_true(en_constraints_is_set(&c, EN_CONS_SPACES));
    assert_int_equal(c.tags.count, 0);
    assert_int_equal(c.spaces.count, 0);
    en_constraints_reset(&c);
}

static void
has_checks_follow_juju(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        en_cons_attr_t attr;
        bool has;
    } cases[] = {
        {"zones=az1,az2,az3", EN_CONS_ZONES, true},
        {"zones=", EN_CONS_ZONES, false},
        {"spaces=space1,^space2", EN_CONS_ZONES, false},
        {"allocate-public-ip=true", EN_CONS_ALLOCATE_PUBLIC_IP, true},
        {"allocate-public-ip=false", EN_CONS_ALLOCATE_PUBLIC_IP, true},
        {"allocate-public-ip=", EN_CONS_ALLOCATE_PUBLIC_IP, false},
        {"root-disk-source=pilgrim", EN_CONS_ROOT_DISK_SOURCE, true},
        {"root-disk-source=", EN_CONS_ROOT_DISK_SOURCE, false},
        {"root-disk=32G", EN_CONS_ROOT_DISK, true},
        {"root-disk=", EN_CONS_ROOT_DISK, false},
        {"root-disk-source=pilgrim", EN_CONS_ROOT_DISK, false},
        {"image-id=ubuntu-bf2", EN_CONS_IMAGE_ID, true},
        {"image-id=", EN_CONS_IMAGE_ID, false},
        {"", EN_CONS_CONTAINER, false},
        {"container=lxd", EN_CONS_CONTAINER, true},
        {"container=none", EN_CONS_CONTAINER, false},
        {"arch=amd64", EN_CONS_INSTANCE_TYPE, false},
        {"arch=amd64 instance-type=foo", EN_CONS_INSTANCE_TYPE, true},
        {"nested-virtualization=false", EN_CONS_NESTED_VIRTUALIZATION, true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        en_constraints_t c;
        en_constraints_init(&c);
        s_parse_ok(&c, cases[i].text);
        if (en_constraints_has(&c, cases[i].attr) != cases[i].has)
            fail_msg("Has %s in \"%s\" != %d", en_cons_attr_name(cases[i].attr), cases[i].text,
                     cases[i].has);
        en_constraints_reset(&c);
    }
}

static void
instance_type_keeps_escaped_spaces(void **state)
{
    (void)state;
    en_constraints_t c;
    en_constraints_init(&c);
    s_parse_ok(&c, "arch=amd64 instance-type=with\\ spaces cores=1");
    assert_string_equal(c.arch, "amd64");
    assert_string_equal(c.instance_type, "with spaces");
    assert_int_equal(c.cores, 1);
    s_assert_string(&c, "arch=amd64 cores=1 instance-type=with\\ spaces");
    en_constraints_reset(&c);
}

//  CONT constraintsRoundtripTests: values built field by field, not parsed.
typedef struct {
    const char *name;
    en_cons_attr_t attr;
    char kind; //  's'tring, 'u'int, 'b'ool, 'l'ist
    const char *str;
    uint64_t num;
    const char *list[2];
    size_t list_count;
} roundtrip_case_t;

static const roundtrip_case_t s_roundtrip_cases[] = {
    {.name = "Arch1", .attr = EN_CONS_ARCH, .kind = 's', .str = ""},
    {.name = "Arch2", .attr = EN_CONS_ARCH, .kind = 's', .str = "amd64"},
    {.name = "Container1", .attr = EN_CONS_CONTAINER, .kind = 's', .str = ""},
    {.name = "Container2", .attr = EN_CONS_CONTAINER, .kind = 's', .str = "lxd"},
    {.name = "CpuCores2", .attr = EN_CONS_CORES, .kind = 'u'},
    {.name = "CpuCores3", .attr = EN_CONS_CORES, .kind = 'u', .num = 128},
    {.name = "CpuPower2", .attr = EN_CONS_CPU_POWER, .kind = 'u'},
    {.name = "CpuPower3", .attr = EN_CONS_CPU_POWER, .kind = 'u', .num = 250},
    {.name = "Mem2", .attr = EN_CONS_MEM, .kind = 'u'},
    {.name = "Mem3", .attr = EN_CONS_MEM, .kind = 'u', .num = 98765},
    {.name = "RootDisk2", .attr = EN_CONS_ROOT_DISK, .kind = 'u'},
    {.name = "RootDisk3", .attr = EN_CONS_ROOT_DISK, .kind = 'u', .num = 109876},
    {.name = "RootDiskSource2", .attr = EN_CONS_ROOT_DISK_SOURCE, .kind = 's', .str = "identikit"},
    {.name = "Tags2", .attr = EN_CONS_TAGS, .kind = 'l', .list = {NULL}, 0},
    {.name = "Tags3", .attr = EN_CONS_TAGS, .kind = 'l', .list = {"foo", "bar"}, .list_count = 2},
    {.name = "Spaces2", .attr = EN_CONS_SPACES, .kind = 'l', .list = {NULL}, 0},
    {.name = "Spaces3",
     .attr = EN_CONS_SPACES,
     .kind = 'l',
     .list = {"space1", "^space2"},
     .list_count = 2},
    {.name = "InstanceRole1", .attr = EN_CONS_INSTANCE_ROLE, .kind = 's', .str = ""},
    {.name = "InstanceRole2", .attr = EN_CONS_INSTANCE_ROLE, .kind = 's', .str = "foo"},
    {.name = "InstanceType1", .attr = EN_CONS_INSTANCE_TYPE, .kind = 's', .str = ""},
    {.name = "InstanceType2", .attr = EN_CONS_INSTANCE_TYPE, .kind = 's', .str = "foo"},
    {.name = "Zones2", .attr = EN_CONS_ZONES, .kind = 'l', .list = {NULL}, 0},
    {.name = "Zones3", .attr = EN_CONS_ZONES, .kind = 'l', .list = {"az1", "az2"}, .list_count = 2},
    {.name = "AllocatePublicIP2", .attr = EN_CONS_ALLOCATE_PUBLIC_IP, .kind = 'b', .num = 1},
    {.name = "ImageID1", .attr = EN_CONS_IMAGE_ID, .kind = 's', .str = ""},
    {.name = "ImageID2", .attr = EN_CONS_IMAGE_ID, .kind = 's', .str = "ubuntu-bf2"},
    {.name = "NestedVirtualization", .attr = EN_CONS_NESTED_VIRTUALIZATION, .kind = 'b'},
    {.name = "VirtType", .attr = EN_CONS_VIRT_TYPE, .kind = 's', .str = "kvm"},
};

static void
s_set_case(en_constraints_t *c, const roundtrip_case_t *t)
{
    int rc = -1;
    switch (t->kind) {
    case 's':
        rc = en_constraints_set_string(c, t->attr, t->str);
        break;
    case 'u':
        rc = en_constraints_set_uint(c, t->attr, t->num);
        break;
    case 'b':
        rc = en_constraints_set_bool(c, t->attr, t->num != 0);
        break;
    case 'l':
        rc = en_constraints_set_list(c, t->attr, t->list, t->list_count);
        break;
    }
    assert_int_equal(rc, 0);
}

static void
string_round_trips_every_field_value(void **state)
{
    (void)state;
    en_constraints_t c;
    en_constraints_init(&c);
    s_assert_round_trips(&c); //  "empty", and every nil field
    for (size_t i = 0; i < sizeof s_roundtrip_cases / sizeof *s_roundtrip_cases; i++) {
        s_set_case(&c, &s_roundtrip_cases[i]);
        s_assert_round_trips(&c);
        en_constraints_reset(&c);
    }
    //  "All": one value with every field of the Go table at once (Arch2,
    //  Container2, CpuCores3, CpuPower3, Tags3, Spaces3, InstanceType2, Zones3,
    //  AllocatePublicIP2, ImageID2, then the big sizes)
    static const size_t all[] = {1, 3, 5, 7, 14, 16, 20, 22, 23, 25};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        s_set_case(&c, &s_roundtrip_cases[all[i]]);
    en_constraints_set_uint(&c, EN_CONS_MEM, 18000000000ULL);
    en_constraints_set_uint(&c, EN_CONS_ROOT_DISK, 24000000000ULL);
    en_constraints_set_string(&c, EN_CONS_ROOT_DISK_SOURCE, "cave");
    en_constraints_set_string(&c, EN_CONS_ARCH, "arm64");
    s_assert_round_trips(&c);
    s_assert_string(&c, "arch=arm64 container=lxd cores=128 cpu-power=250 instance-type=foo "
                        "mem=18000000000M root-disk=24000000000M root-disk-source=cave "
                        "tags=foo,bar spaces=space1,^space2 zones=az1,az2 "
                        "allocate-public-ip=true image-id=ubuntu-bf2");
    en_constraints_reset(&c);
}

//  CONT TestMerge: the package Merge is Parse of every String(), so any
//  overlap is an error, and an error leaves an empty value.
static void
package_merge_rejects_any_overlap(void **state)
{
    (void)state;
    en_constraints_t con1, con2, con3, merged, want;
    en_constraints_init(&con1);
    en_constraints_init(&con2);
    en_constraints_init(&con3);
    en_constraints_init(&merged);
    en_constraints_init(&want);
    s_parse_ok(&con1, "arch=amd64 mem=4G");
    s_parse_ok(&con2, "cores=42");
    s_parse_ok(&con3, "root-disk=8G container=lxd spaces=space1,^space2 image-id=ubuntu-bf2");

    const en_constraints_t *ab[] = {&con1, &con2};
    assert_int_equal(en_constraints_merge(ab, 2, &merged, NULL), 0);
    s_parse_ok(&want, "arch=amd64 mem=4G cores=42");
    assert_true(en_constraints_equal(&merged, &want));

    assert_int_equal(en_constraints_merge(ab, 1, &merged, NULL), 0);
    assert_true(en_constraints_equal(&merged, &con1));

    const en_constraints_t *abc[] = {&con1, &con2, &con3};
    assert_int_equal(en_constraints_merge(abc, 3, &merged, NULL), 0);
    s_parse_ok(&want, "arch=amd64 mem=4G cores=42 root-disk=8G container=lxd "
                      "spaces=space1,^space2 image-id=ubuntu-bf2");
    assert_true(en_constraints_equal(&merged, &want));

    assert_int_equal(en_constraints_merge(NULL, 0, &merged, NULL), 0);
    assert_true(en_constraints_is_empty(&merged));

    en_constraints_t foo;
    en_constraints_init(&foo);
    en_constraints_set_string(&foo, EN_CONS_ARCH, "foo"); //  Value{Arch: &"foo"}
    const en_constraints_t *bad[] = {&foo, &con2};
    en_err_t err = {0};
    assert_int_equal(en_constraints_merge(bad, 2, &merged, &err), -1);
    assert_string_equal(err.message, "bad \"arch\" constraint: \"foo\" not recognized");
    assert_true(en_constraints_is_empty(&merged));

    const en_constraints_t *twice[] = {&con1, &con1};
    assert_int_equal(en_constraints_merge(twice, 2, &merged, &err), -1);
    assert_string_equal(err.message, "bad \"arch\" constraint: already set");
    assert_true(en_constraints_is_empty(&merged));

    en_constraints_reset(&foo);
    en_constraints_reset(&con1);
    en_constraints_reset(&con2);
    en_constraints_reset(&con3);
    en_constraints_reset(&want);
}

static void
copy_equal_and_destroy_are_deep_and_idempotent(void **state)
{
    (void)state;
    en_constraints_t *c = en_constraints_new();
    assert_non_null(c);
    s_parse_ok(c, "arch=amd64 tags=a,b zones= mem=3G nested-virtualization=true");
    en_constraints_t copy;
    en_constraints_init(&copy);
    assert_int_equal(en_constraints_copy(&copy, c, NULL), 0);
    assert_true(en_constraints_equal(&copy, c));
    assert_ptr_not_equal(copy.tags.items[0], c->tags.items[0]);
    en_constraints_unset(&copy, EN_CONS_ZONES);
    assert_false(en_constraints_equal(&copy, c));
    assert_int_equal(en_constraints_set_uint(&copy, EN_CONS_ARCH, 1), -1); //  wrong kind
    en_constraints_reset(&copy);
    en_constraints_reset(&copy);
    en_constraints_destroy(&c);
    assert_null(c);
    en_constraints_destroy(&c);
}

static void
format_truncates_like_snprintf(void **state)
{
    (void)state;
    en_constraints_t c;
    en_constraints_init(&c);
    s_parse_ok(&c, "arch=amd64 mem=2G");
    char small[8];
    size_t need = en_constraints_format(&c, small, sizeof small);
    assert_int_equal(need, strlen("arch=amd64 mem=2048M"));
    assert_string_equal(small, "arch=am");
    en_constraints_reset(&c);
    char quoted[32];
    en_go_quote(quoted, sizeof quoted, "a\"b\\c\nd\x01");
    assert_string_equal(quoted, "\"a\\\"b\\\\c\\nd\\x01\"");
}

static void
attrs_join_sorts_by_name(void **state)
{
    (void)state;
    char all[512];
    en_cons_attrs_join((en_cons_attrs_t)((1u << EN_CONS_ATTR_COUNT) - 1), all, sizeof all);
    assert_string_equal(all, "allocate-public-ip,arch,container,cores,cpu-power,image-id,"
                             "instance-role,instance-type,mem,nested-virtualization,root-disk,"
                             "root-disk-source,spaces,tags,virt-type,zones");
    char two[64];
    en_cons_attrs_join(en_cons_bit(EN_CONS_VIRT_TYPE) | en_cons_bit(EN_CONS_CPU_POWER), two,
                       sizeof two);
    assert_string_equal(two, "cpu-power,virt-type");
}

//  --------------------------------------------------------------------------
//  Validator: VALT TestValidation

typedef struct {
    const char *desc;
    const char *cons;
    const char *unsupported[3];
    const char *reds[3];
    const char *blues[3];
    const char *vocab_attr[2];
    const char *vocab[2][8];
    const char *err;              //  NULL: no error
    const char *want_unsupported; //  en_cons_attrs_join of the answer
} valt_case_t;

static size_t
s_len(const char *const *list, size_t cap)
{
    size_t n = 0;
    while (n < cap && list[n])
        n++;
    return n;
}

static const valt_case_t s_valt_cases[] = {
    {"base good",
     "root-disk=8G mem=4G arch=amd64 cpu-power=1000 cores=4",
     {NULL},
     {NULL},
     {NULL},
     {NULL},
     {{NULL}},
     NULL,
     ""},
    {"unsupported",
     "root-disk=8G mem=4G arch=amd64 cpu-power=1000 cores=4 tags=foo",
     {"tags"},
     {NULL},
     {NULL},
     {NULL},
     {{NULL}},
     NULL,
     "tags"},
    {"multiple unsupported",
     "root-disk=8G mem=4G arch=amd64 cpu-power=1000 cores=4 instance-type=foo",
     {"cpu-power", "instance-type"},
     {NULL},
     {NULL},
     {NULL},
     {{NULL}},
     NULL,
     "cpu-power,instance-type"},
    {"Ambiguous constraint errors take precedence over unsupported errors.",
     "root-disk=8G mem=4G cores=4 instance-type=foo",
     {"cores"},
     {"mem", "arch"},
     {"instance-type"},
     {NULL},
     {{NULL}},
     "ambiguous constraints: \"instance-type\" overlaps with \"mem\"",
     "cores"},
    {"red conflicts",
     "root-disk=8G mem=4G arch=amd64 cores=4 instance-type=foo",
     {NULL},
     {"mem", "arch"},
     {NULL},
     {NULL},
     {{NULL}},
     NULL,
     ""},
    {"blue conflicts",
     "root-disk=8G mem=4G arch=amd64 cores=4 instance-type=foo",
     {NULL},
     {NULL},
     {"mem", "arch"},
     {NULL},
     {{NULL}},
     NULL,
     ""},
    {"red and blue conflicts",
     "root-disk=8G mem=4G arch=amd64 cores=4 instance-type=foo",
     {NULL},
     {"mem", "arch"},
     {"instance-type"},
     {NULL},
     {{NULL}},
     "ambiguous constraints: \"arch\" overlaps with \"instance-type\"",
     ""},
    {"ambiguous constraints red to blue",
     "root-disk=8G mem=4G arch=amd64 cores=4 instance-type=foo",
     {NULL},
     {"instance-type"},
     {"mem", "arch"},
     {NULL},
     {{NULL}},
     "ambiguous constraints: \"arch\" overlaps with \"instance-type\"",
     ""},
    {"ambiguous constraints blue to red",
     "root-disk=8G mem=4G cores=4 instance-type=foo",
     {NULL},
     {"mem", "arch"},
     {"instance-type"},
     {NULL},
     {{NULL}},
     "ambiguous constraints: \"instance-type\" overlaps with \"mem\"",
     ""},
    {"arch vocab",
     "arch=amd64 mem=4G cores=4",
     {NULL},
     {NULL},
     {NULL},
     {"arch"},
     {{"amd64", "arm64"}},
     NULL,
     ""},
    {"cores vocab",
     "mem=4G cores=4",
     {NULL},
     {NULL},
     {NULL},
     {"cores"},
     {{"2", "4", "8"}},
     NULL,
     ""},
    {"instance-type vocab",
     "mem=4G instance-type=foo",
     {NULL},
     {NULL},
     {NULL},
     {"instance-type"},
     {{"foo", "bar"}},
     NULL,
     ""},
    {"tags vocab",
     "mem=4G tags=foo,bar",
     {NULL},
     {NULL},
     {NULL},
     {"tags"},
     {{"foo", "bar", "another"}},
     NULL,
     ""},
    {"invalid arch vocab",
     "arch=arm64 mem=4G cores=4",
     {NULL},
     {NULL},
     {NULL},
     {"arch"},
     {{"amd64"}},
     "invalid constraint value: arch=arm64\nvalid values are: [amd64]",
     ""},
    {"invalid cores vocab",
     "mem=4G cores=5",
     {NULL},
     {NULL},
     {NULL},
     {"cores"},
     {{"2", "4", "8"}},
     "invalid constraint value: cores=5\nvalid values are: [2 4 8]",
     ""},
    {"invalid instance-type vocab",
     "mem=4G instance-type=foo",
     {NULL},
     {NULL},
     {NULL},
     {"instance-type"},
     {{"bar"}},
     "invalid constraint value: instance-type=foo\nvalid values are: [bar]",
     ""},
    {"invalid tags vocab",
     "mem=4G tags=foo,other",
     {NULL},
     {NULL},
     {NULL},
     {"tags"},
     {{"foo", "bar", "another"}},
     "invalid constraint value: tags=other\nvalid values are: [foo bar another]",
     ""},
    {"instance-type and arch",
     "arch=arm64 mem=4G instance-type=foo",
     {NULL},
     {NULL},
     {NULL},
     {"instance-type", "arch"},
     {{"foo", "bar"}, {"amd64", "arm64"}},
     NULL,
     ""},
    {"virt-type", "virt-type=bar", {NULL}, {NULL}, {NULL}, {"virt-type"}, {{"bar"}}, NULL, ""},
    //  2.x order: a conflict is reported before a bad value (§2.3, §10 item 11).
    {"conflicts before vocabulary",
     "arch=i386 instance-type=foo",
     {NULL},
     {"arch"},
     {"instance-type"},
     {"arch"},
     {{"amd64"}},
     "ambiguous constraints: \"arch\" overlaps with \"instance-type\"",
     ""},
    //  A set-but-empty scalar is checked too: "" is not in [amd64].
    {"empty arch against vocabulary",
     "arch=",
     {NULL},
     {NULL},
     {NULL},
     {"arch"},
     {{"amd64"}},
     "invalid constraint value: arch=\nvalid values are: [amd64]",
     ""},
    {"mem vocabulary compares numbers",
     "mem=4G",
     {NULL},
     {NULL},
     {NULL},
     {"mem"},
     {{"2048", "4096.0"}},
     NULL,
     ""},
};

static en_cons_validator_t *
s_validator(const valt_case_t *t)
{
    en_cons_validator_t *v = en_cons_validator_new();
    assert_non_null(v);
    assert_int_equal(
        en_cons_validator_register_unsupported(v, t->unsupported, s_len(t->unsupported, 3), NULL),
        0);
    assert_int_equal(en_cons_validator_register_conflicts(v, t->reds, s_len(t->reds, 3), t->blues,
                                                          s_len(t->blues, 3), NULL),
                     0);
    for (int k = 0; k < 2 && t->vocab_attr[k]; k++)
        assert_int_equal(en_cons_validator_register_vocabulary(v, t->vocab_attr[k], t->vocab[k],
                                                               s_len(t->vocab[k], 8), NULL),
                         0);
    return v;
}

static void
validator_valt_table_warns_on_unsupported_and_fails_on_conflicts_and_values(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof s_valt_cases / sizeof *s_valt_cases; i++) {
        const valt_case_t *t = &s_valt_cases[i];
        en_cons_validator_t *v = s_validator(t);
        en_constraints_t c;
        en_constraints_init(&c);
        s_parse_ok(&c, t->cons);
        en_cons_attrs_t unsupported = 0;
        en_err_t err = {0};
        int rc = en_cons_validator_validate(v, &c, &unsupported, &err);
        char names[256];
        en_cons_attrs_join(unsupported, names, sizeof names);
        if (t->err) {
            if (rc != -1 || strcmp(err.message, t->err) != 0)
                fail_msg("%s: got \"%s\", want \"%s\"", t->desc, err.message, t->err);
            assert_int_equal(err.kind, EN_NOT_VALID);
        } else if (rc != 0)
            fail_msg("%s: %s", t->desc, err.message);
        //  unsupported attributes are reported even alongside an error
        if (strcmp(names, t->want_unsupported) != 0)
            fail_msg("%s: unsupported \"%s\", want \"%s\"", t->desc, names, t->want_unsupported);
        en_constraints_reset(&c);
        en_cons_validator_destroy(&v);
        en_cons_validator_destroy(&v);
    }
}

static void
validator_rejects_unknown_attribute_names(void **state)
{
    (void)state;
    en_cons_validator_t *v = en_cons_validator_new();
    const char *reds[] = {"mem"}, *blues[] = {"cheese"};
    en_err_t err = {0};
    assert_int_equal(en_cons_validator_register_conflicts(v, reds, 1, blues, 1, &err), -1);
    assert_string_equal(err.message, "unknown constraint \"cheese\"");
    assert_int_equal(en_cons_validator_conflicts(v, EN_CONS_MEM), 0); //  nothing registered
    assert_int_equal(en_cons_validator_register_vocabulary(v, "cheese", reds, 1, &err), -1);
    //  aliases resolve in registrations too
    const char *alias[] = {"cpu-cores"};
    assert_int_equal(en_cons_validator_register_unsupported(v, alias, 1, NULL), 0);
    assert_int_equal(en_cons_validator_unsupported(v), en_cons_bit(EN_CONS_CORES));
    en_cons_validator_destroy(&v);
}

//  --------------------------------------------------------------------------
//  Validator: VALT mergeTests, TestMergeError, TestUpdateVocabulary

typedef struct {
    const char *desc, *fallback, *cons, *expected;
    bool mem_arch_vs_instance_type; //  reds [mem arch], blues [instance-type]
    bool instance_type_unsupported;
} merge_case_t;

static const merge_case_t s_merge_cases[] = {
    {"empty all round", "", "", "", false, false},
    {"container with empty fallback", "", "container=lxd", "container=lxd", false, false},
    {"container from fallback", "container=lxd", "", "container=lxd", false, false},
    {"arch with empty fallback", "", "arch=amd64", "arch=amd64", false, false},
    {"arch with ignored fallback", "arch=arm64", "arch=amd64", "arch=amd64", false, false},
    {"arch from fallback", "arch=arm64", "", "arch=arm64", false, false},
    {"instance type with empty fallback", "", "instance-type=foo", "instance-type=foo", false,
     false},
    {"instance type with ignored fallback", "instance-type=bar", "instance-type=foo",
     "instance-type=foo", false, false},
    {"instance type from fallback", "instance-type=foo", "", "instance-type=foo", false, false},
    {"cores with empty fallback", "", "cores=2", "cores=2", false, false},
    {"cores with ignored fallback", "cores=8", "cores=4", "cores=4", false, false},
    {"cores from fallback", "cores=8", "", "cores=8", false, false},
    {"cpu-power with empty fallback", "", "cpu-power=100", "cpu-power=100", false, false},
    {"cpu-power with ignored fallback", "cpu-power=200", "cpu-power=100", "cpu-power=100", false,
     false},
    {"cpu-power from fallback", "cpu-power=200", "", "cpu-power=200", false, false},
    {"tags with empty fallback", "", "tags=foo,bar", "tags=foo,bar", false, false},
    {"tags with ignored fallback", "tags=baz", "tags=foo,bar", "tags=foo,bar", false, false},
    {"tags from fallback", "tags=foo,bar", "", "tags=foo,bar", false, false},
    {"tags initial empty", "tags=foo,bar", "tags=", "tags=", false, false},
    {"mem with empty fallback", "", "mem=4G", "mem=4G", false, false},
    {"mem with ignored fallback", "mem=8G", "mem=4G", "mem=4G", false, false},
    {"mem from fallback", "mem=8G", "", "mem=8G", false, false},
    {"root-disk with empty fallback", "", "root-disk=4G", "root-disk=4G", false, false},
    {"root-disk with ignored fallback", "root-disk=8G", "root-disk=4G", "root-disk=4G", false,
     false},
    {"root-disk from fallback", "root-disk=8G", "", "root-disk=8G", false, false},
    {"non-overlapping mix", "cpu-power=1000 cores=4", "root-disk=8G mem=4G arch=amd64",
     "root-disk=8G mem=4G arch=amd64 cpu-power=1000 cores=4", false, false},
    {"overlapping mix", "cpu-power=1000 cores=4 mem=8G", "root-disk=8G mem=4G arch=amd64",
     "root-disk=8G mem=4G arch=amd64 cpu-power=1000 cores=4", false, false},
    {"fallback only, no conflicts", "root-disk=8G cores=4 instance-type=foo", "",
     "root-disk=8G cores=4 instance-type=foo", true, false},
    {"no fallback, no conflicts", "", "root-disk=8G cores=4 instance-type=foo",
     "root-disk=8G cores=4 instance-type=foo", true, false},
    {"conflict value from override", "root-disk=8G instance-type=foo",
     "root-disk=8G cores=4 instance-type=bar", "root-disk=8G cores=4 instance-type=bar", true,
     false},
    {"unsupported attributes ignored", "root-disk=8G instance-type=foo",
     "root-disk=8G cores=4 instance-type=bar", "root-disk=8G cores=4 instance-type=bar", true,
     true},
    {"red conflict masked from fallback", "root-disk=8G mem=4G",
     "root-disk=8G cores=4 instance-type=bar", "root-disk=8G cores=4 instance-type=bar", true,
     false},
    {"second red conflict masked from fallback", "root-disk=8G arch=amd64",
     "root-disk=8G cores=4 instance-type=bar", "root-disk=8G cores=4 instance-type=bar", true,
     false},
    {"blue conflict masked from fallback", "root-disk=8G cores=4 instance-type=bar",
     "root-disk=8G mem=4G", "root-disk=8G cores=4 mem=4G", true, false},
    {"both red conflicts used, blue mased from fallback", "root-disk=8G cores=4 instance-type=bar",
     "root-disk=8G arch=amd64 mem=4G", "root-disk=8G cores=4 arch=amd64 mem=4G", true, false},
};

static void
validator_merge_valt_table_cons_wins_and_masks_conflicts(void **state)
{
    (void)state;
    const char *reds[] = {"mem", "arch"}, *blues[] = {"instance-type"};
    for (size_t i = 0; i < sizeof s_merge_cases / sizeof *s_merge_cases; i++) {
        const merge_case_t *t = &s_merge_cases[i];
        en_cons_validator_t *v = en_cons_validator_new();
        if (t->mem_arch_vs_instance_type)
            en_cons_validator_register_conflicts(v, reds, 2, blues, 1, NULL);
        if (t->instance_type_unsupported)
            en_cons_validator_register_unsupported(v, blues, 1, NULL);
        en_constraints_t fallback, cons, merged, expected;
        en_constraints_init(&fallback);
        en_constraints_init(&cons);
        en_constraints_init(&merged);
        en_constraints_init(&expected);
        s_parse_ok(&fallback, t->fallback);
        s_parse_ok(&cons, t->cons);
        s_parse_ok(&expected, t->expected);
        en_err_t err = {0};
        if (en_cons_validator_merge(v, &fallback, &cons, &merged, &err) != 0)
            fail_msg("%s: %s", t->desc, err.message);
        if (!en_constraints_equal(&merged, &expected)) {
            char *got = en_constraints_string(&merged);
            fail_msg("%s: got \"%s\", want \"%s\"", t->desc, got, t->expected);
        }
        en_constraints_reset(&fallback);
        en_constraints_reset(&cons);
        en_constraints_reset(&merged);
        en_constraints_reset(&expected);
        en_cons_validator_destroy(&v);
    }
}

static void
validator_merge_fails_on_a_self_conflicting_value_in_either_position(void **state)
{
    (void)state;
    en_cons_validator_t *v = en_cons_validator_new();
    const char *reds[] = {"instance-type"}, *blues[] = {"mem"};
    en_cons_validator_register_conflicts(v, reds, 1, blues, 1, NULL);
    en_constraints_t bad, good, merged;
    en_constraints_init(&bad);
    en_constraints_init(&good);
    en_constraints_init(&merged);
    s_parse_ok(&bad, "instance-type=foo mem=4G");
    s_parse_ok(&good, "cores=2");
    s_parse_ok(&merged, "arch=amd64"); //  left empty on error
    en_err_t err = {0};
    assert_int_equal(en_cons_validator_merge(v, &bad, &good, &merged, &err), -1);
    assert_string_equal(err.message,
                        "ambiguous constraints: \"instance-type\" overlaps with \"mem\"");
    assert_true(en_constraints_is_empty(&merged));
    assert_int_equal(en_cons_validator_merge(v, &good, &bad, &merged, &err), -1);
    assert_string_equal(err.message,
                        "ambiguous constraints: \"instance-type\" overlaps with \"mem\"");
    en_constraints_reset(&bad);
    en_constraints_reset(&good);
    en_cons_validator_destroy(&v);
}

static void
validator_merge_output_may_alias_an_input(void **state)
{
    (void)state;
    en_cons_validator_t *v = en_cons_validator_new();
    en_constraints_t fallback, cons, want;
    en_constraints_init(&fallback);
    en_constraints_init(&cons);
    en_constraints_init(&want);
    s_parse_ok(&fallback, "mem=8G tags=a");
    s_parse_ok(&cons, "mem=4G");
    s_parse_ok(&want, "mem=4G tags=a");
    assert_int_equal(en_cons_validator_merge(v, &fallback, &cons, &cons, NULL), 0);
    assert_true(en_constraints_equal(&cons, &want));
    en_constraints_reset(&fallback);
    en_constraints_reset(&cons);
    en_constraints_reset(&want);
    en_cons_validator_destroy(&v);
}

static void
validator_update_vocabulary_adds_values(void **state)
{
    (void)state;
    en_cons_validator_t *v = en_cons_validator_new();
    const char *original[] = {"amd64"}, *more[] = {"ppc64el", "amd64"};
    assert_int_equal(en_cons_validator_register_vocabulary(v, "arch", original, 1, NULL), 0);
    en_constraints_t amd, ppc;
    en_constraints_init(&amd);
    en_constraints_init(&ppc);
    s_parse_ok(&amd, "arch=amd64");
    s_parse_ok(&ppc, "arch=ppc64el");
    en_err_t err = {0};
    assert_int_equal(en_cons_validator_validate(v, &amd, NULL, &err), 0);
    assert_int_equal(en_cons_validator_validate(v, &ppc, NULL, &err), -1);
    assert_string_equal(err.message,
                        "invalid constraint value: arch=ppc64el\nvalid values are: [amd64]");
    assert_int_equal(en_cons_validator_update_vocabulary(v, "arch", more, 2, NULL), 0);
    assert_int_equal(en_cons_validator_validate(v, &amd, NULL, NULL), 0);
    assert_int_equal(en_cons_validator_validate(v, &ppc, NULL, NULL), 0);
    size_t n;
    const char *const *values = en_cons_validator_vocabulary(v, EN_CONS_ARCH, &n);
    assert_int_equal(n, 2); //  a union: amd64 is not repeated
    assert_string_equal(values[0], "amd64");
    assert_string_equal(values[1], "ppc64el");
    //  an attribute not yet registered is registered
    assert_null(en_cons_validator_vocabulary(v, EN_CONS_INSTANCE_TYPE, &n));
    assert_int_equal(en_cons_validator_update_vocabulary(v, "instance-type", more, 1, NULL), 0);
    assert_non_null(en_cons_validator_vocabulary(v, EN_CONS_INSTANCE_TYPE, &n));
    assert_int_equal(n, 1);
    //  register replaces
    assert_int_equal(en_cons_validator_register_vocabulary(v, "arch", more, 1, NULL), 0);
    assert_int_equal(en_cons_validator_validate(v, &amd, NULL, NULL), -1);
    en_constraints_reset(&amd);
    en_constraints_reset(&ppc);
    en_cons_validator_destroy(&v);
}

//  --------------------------------------------------------------------------
//  Provider validators (§1 I, statements 91–94)

static en_cons_validator_t *
s_ec2_validator(void)
{
    en_cons_validator_t *v = en_cons_validator_new();
    const char *reds[] = {"instance-type"}, *blues[] = {"mem", "cores", "cpu-power"};
    const char *unsupported[] = {"tags", "virt-type"};
    const char *arches[] = {"amd64", "i386"}, *types[] = {"m1.small", "m3.medium", "t2.medium"};
    en_cons_validator_register_conflicts(v, reds, 1, blues, 3, NULL);
    en_cons_validator_register_unsupported(v, unsupported, 2, NULL);
    en_cons_validator_register_vocabulary(v, "arch", arches, 2, NULL);
    en_cons_validator_register_vocabulary(v, "instance-type", types, 3, NULL);
    return v;
}

static void
ec2_merge_drops_conflicting_fallback_and_keeps_unsupported(void **state)
{
    (void)state;
    en_cons_validator_t *v = s_ec2_validator();
    en_constraints_t fallback, cons, merged;
    en_constraints_init(&fallback);
    en_constraints_init(&cons);
    en_constraints_init(&merged);
    s_parse_ok(&fallback, "arch=amd64 mem=1G cpu-power=10 cores=2 tags=bar");
    s_parse_ok(&cons, "arch=i386 instance-type=m1.small");
    assert_int_equal(en_cons_validator_merge(v, &fallback, &cons, &merged, NULL), 0);
    s_assert_string(&merged, "arch=i386 instance-type=m1.small tags=bar");

    en_err_t err = {0};
    s_parse_ok(&cons, "instance-type=m1.small mem=1G");
    assert_int_equal(en_cons_validator_validate(v, &cons, NULL, &err), -1);
    assert_string_equal(err.message,
                        "ambiguous constraints: \"instance-type\" overlaps with \"mem\"");
    s_parse_ok(&cons, "instance-type=t2.micro");
    assert_int_equal(en_cons_validator_validate(v, &cons, NULL, &err), -1);
    assert_string_equal(err.message, "invalid constraint value: instance-type=t2.micro\n"
                                     "valid values are: [m1.small m3.medium t2.medium]");
    en_constraints_reset(&fallback);
    en_constraints_reset(&cons);
    en_constraints_reset(&merged);
    en_cons_validator_destroy(&v);
}

static void
lxd_validator_reports_host_arch_vocabulary(void **state)
{
    (void)state;
    en_cons_validator_t *v = en_cons_validator_new();
    const char *unsupported[] = {"cores", "cpu-power", "instance-type", "tags", "virt-type"};
    const char *arches[] = {"amd64"};
    en_cons_validator_register_unsupported(v, unsupported, 5, NULL);
    en_cons_validator_register_vocabulary(v, "arch", arches, 1, NULL);
    en_constraints_t c;
    en_constraints_init(&c);
    s_parse_ok(&c, "arch=ppc64el");
    en_err_t err = {0};
    assert_int_equal(en_cons_validator_validate(v, &c, NULL, &err), -1);
    assert_string_equal(err.message,
                        "invalid constraint value: arch=ppc64el\nvalid values are: [amd64]");
    s_parse_ok(&c, "cores=2 tags=x mem=1G");
    en_cons_attrs_t unsupported_set;
    assert_int_equal(en_cons_validator_validate(v, &c, &unsupported_set, &err), 0);
    char names[128];
    en_cons_attrs_join(unsupported_set, names, sizeof names);
    assert_string_equal(names, "cores,tags");
    en_constraints_reset(&c);
    en_cons_validator_destroy(&v);
}

static void
dummy_validator_warns_on_cpu_power_and_virt_type(void **state)
{
    (void)state;
    en_cons_validator_t *v = en_cons_validator_new();
    const char *unsupported[] = {"cpu-power", "virt-type"};
    const char *reds[] = {"instance-type"}, *blues[] = {"mem"};
    const char *arches[] = {"amd64", "arm64", "i386", "ppc64el"};
    en_cons_validator_register_unsupported(v, unsupported, 2, NULL);
    en_cons_validator_register_conflicts(v, reds, 1, blues, 1, NULL);
    en_cons_validator_register_vocabulary(v, "arch", arches, 4, NULL);
    en_constraints_t c;
    en_constraints_init(&c);
    s_parse_ok(&c, "virt-type=kvm cpu-power=10 arch=i386 mem=1G");
    en_cons_attrs_t unsupported_set;
    assert_int_equal(en_cons_validator_validate(v, &c, &unsupported_set, NULL), 0);
    char names[128];
    en_cons_attrs_join(unsupported_set, names, sizeof names);
    //  what state logs: "unsupported constraints: cpu-power,virt-type"
    assert_string_equal(names, "cpu-power,virt-type");
    en_constraints_reset(&c);
    en_cons_validator_destroy(&v);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parse_cont_table_gives_juju_errors_and_round_trips),
        cmocka_unit_test(parse_kitchen_sink_sets_every_field),
        cmocka_unit_test(parse_sizes_are_mib_with_binary_suffixes_rounded_up),
        cmocka_unit_test(string_is_canonical_mib_form),
        cmocka_unit_test(set_to_zero_differs_from_unset),
        cmocka_unit_test(is_empty_means_string_is_empty),
        cmocka_unit_test(cpu_cores_alias_resolves_before_parsing),
        cmocka_unit_test(spaces_split_into_included_and_excluded),
        cmocka_unit_test(invalid_space_names_are_rejected_naming_the_space),
        cmocka_unit_test(missing_lists_are_unset_and_empty_lists_are_set),
        cmocka_unit_test(has_checks_follow_juju),
        cmocka_unit_test(instance_type_keeps_escaped_spaces),
        cmocka_unit_test(string_round_trips_every_field_value),
        cmocka_unit_test(package_merge_rejects_any_overlap),
        cmocka_unit_test(copy_equal_and_destroy_are_deep_and_idempotent),
        cmocka_unit_test(format_truncates_like_snprintf),
        cmocka_unit_test(attrs_join_sorts_by_name),
        cmocka_unit_test(
            validator_valt_table_warns_on_unsupported_and_fails_on_conflicts_and_values),
        cmocka_unit_test(validator_rejects_unknown_attribute_names),
        cmocka_unit_test(validator_merge_valt_table_cons_wins_and_masks_conflicts),
        cmocka_unit_test(validator_merge_fails_on_a_self_conflicting_value_in_either_position),
        cmocka_unit_test(validator_merge_output_may_alias_an_input),
        cmocka_unit_test(validator_update_vocabulary_adds_values),
        cmocka_unit_test(ec2_merge_drops_conflicting_fallback_and_keeps_unsupported),
        cmocka_unit_test(lxd_validator_reports_host_arch_vocabulary),
        cmocka_unit_test(dummy_validator_warns_on_cpu_power_and_virt_type),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
