/*  clouds.yaml and controllers.yaml: Juju's shapes, region order and
    inheritance, lookups, CloudSpec, built-ins, files and bad input.
    Fixtures are the examples of docs/juju-environs.md §8.2 verbatim. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/cloudfile.h"
#include "unit/cloudfile_fixtures.h"

//  §8.2 clouds.yaml example.
static const char *MYSTACK = "clouds:\n"
                             "  mystack:\n"
                             "    type: openstack\n"
                             "    auth-types: [userpass, access-key]\n"
                             "    endpoint: https://keystone.example.com:5000/v2.0\n"
                             "    regions:\n"
                             "      RegionOne: {}\n"
                             "      RegionTwo:\n"
                             "        endpoint: https://keystone2.example.com:5000/v2.0\n"
                             "    config:\n"
                             "      use-floating-ip: true\n"
                             "    region-config:\n"
                             "      RegionOne:\n"
                             "        network: private-net\n";

//  What Juju writes back for it: regions denormalised, description default
//  (Openstack Cloud) left out.
static const char *MYSTACK_OUT = "clouds:\n"
                                 "  mystack:\n"
                                 "    type: openstack\n"
                                 "    auth-types: [userpass, access-key]\n"
                                 "    endpoint: https://keystone.example.com:5000/v2.0\n"
                                 "    regions:\n"
                                 "      RegionOne:\n"
                                 "        endpoint: https://keystone.example.com:5000/v2.0\n"
                                 "      RegionTwo:\n"
                                 "        endpoint: https://keystone2.example.com:5000/v2.0\n"
                                 "    config:\n"
                                 "      use-floating-ip: true\n"
                                 "    region-config:\n"
                                 "      RegionOne:\n"
                                 "        network: private-net\n";

static en_clouds_t *
s_parse(const char *yaml)
{
    en_err_t err = {0};
    en_clouds_t *clouds = en_clouds_parse(yaml, strlen(yaml), &err);
    if (!clouds)
        fail_msg("parse failed: %s", err.message);
    return clouds;
}

//  Parse must fail NOT_VALID with exactly this message.
static void
s_parse_fails(const char *yaml, size_t len, const char *message)
{
    en_err_t err = {0};
    en_clouds_t *clouds = en_clouds_parse(yaml, len, &err);
    assert_null(clouds);
    assert_int_equal(err.kind, EN_NOT_VALID);
    assert_string_equal(err.message, message);
}

//  --------------------------------------------------------------------------
//  Parsing

static void
clouds_example_parses_like_juju(void **state)
{
    (void)state;
    en_clouds_t *clouds = s_parse(MYSTACK);
    assert_int_equal(clouds->count, 1);
    en_cloud_t *c = en_clouds_find(clouds, "mystack");
    assert_non_null(c);
    assert_string_equal(c->type, "openstack");
    assert_string_equal(c->description, "Openstack Cloud");
    assert_int_equal(c->auth_type_count, 2);
    assert_string_equal(c->auth_types[0], "userpass");
    assert_string_equal(c->auth_types[1], "access-key");
    assert_string_equal(c->endpoint, "https://keystone.example.com:5000/v2.0");
    assert_string_equal(c->identity_endpoint, "");
    assert_int_equal(c->config.count, 1);
    assert_string_equal(c->config.items[0].key, "use-floating-ip");
    assert_string_equal(c->config.items[0].value, "true");
    assert_int_equal(c->config.items[0].type, EN_YAML_BOOL);
    const en_kvlist_t *rc = en_cloud_region_config(c, "RegionOne");
    assert_non_null(rc);
    assert_string_equal(en_kvlist_get(rc, "network"), "private-net");
    assert_null(en_cloud_region_config(c, "RegionTwo"));
    en_clouds_destroy(&clouds);
    en_clouds_destroy(&clouds);
    assert_null(clouds);
}

static void
regions_keep_yaml_order_first_is_default(void **state)
{
    (void)state;
    en_clouds_t *clouds = s_parse("clouds:\n  c:\n    type: ec2\n    regions:\n"
                                  "      zz-last-alphabetically: {}\n      aa: {}\n      mm: {}\n");
    en_cloud_t *c = clouds->items[0];
    assert_int_equal(c->region_count, 3);
    assert_string_equal(c->regions[0].name, "zz-last-alphabetically");
    assert_string_equal(c->regions[1].name, "aa");
    assert_string_equal(c->regions[2].name, "mm");
    en_clouds_destroy(&clouds);
}

static void
region_with_null_value_is_a_bare_region(void **state)
{
    (void)state;
    en_clouds_t *clouds = s_parse("clouds:\n  c:\n    type: maas\n    regions:\n"
                                  "      one:\n      two: ~\n      three: {}\n");
    en_cloud_t *c = clouds->items[0];
    assert_int_equal(c->region_count, 3);
    assert_string_equal(c->regions[0].name, "one");
    assert_string_equal(c->regions[0].endpoint, "");
    assert_string_equal(c->regions[1].name, "two");
    en_clouds_destroy(&clouds);
}

static void
blank_region_endpoints_inherit_from_cloud(void **state)
{
    (void)state;
    en_clouds_t *clouds = s_parse(MYSTACK);
    en_cloud_t *c = clouds->items[0];
    assert_int_equal(c->region_count, 2);
    assert_string_equal(c->regions[0].name, "RegionOne");
    assert_string_equal(c->regions[0].endpoint, "https://keystone.example.com:5000/v2.0");
    assert_string_equal(c->regions[1].endpoint, "https://keystone2.example.com:5000/v2.0");
    en_clouds_destroy(&clouds);

    clouds = s_parse("clouds:\n  az:\n    type: azure\n    identity-endpoint: https://id\n"
                     "    storage-endpoint: https://st\n    regions:\n"
                     "      west:\n        storage-endpoint: https://own\n");
    const en_region_t *r = &clouds->items[0]->regions[0];
    assert_string_equal(r->identity_endpoint, "https://id");
    assert_string_equal(r->storage_endpoint, "https://own");
    assert_string_equal(r->endpoint, "");
    en_clouds_destroy(&clouds);
}

static void
config_scalars_keep_their_yaml_types(void **state)
{
    (void)state;
    en_clouds_t *clouds =
        s_parse("clouds:\n  c:\n    type: lxd\n    config:\n"
                "      k1: 1\n      k2: 2.0\n      k3: yes\n      k4: \"123\"\n"
                "      k5: ~\n      k6: 0x1F\n      k7: !!str 12\n      k8: text\n");
    const en_kvlist_t *cfg = &clouds->items[0]->config;
    struct {
        const char *key, *value;
        en_yaml_type_t type;
    } want[] = {
        {"k1", "1", EN_YAML_INT},   {"k2", "2.0", EN_YAML_FLOAT}, {"k3", "yes", EN_YAML_BOOL},
        {"k4", "123", EN_YAML_STR}, {"k5", "null", EN_YAML_NULL}, {"k6", "0x1F", EN_YAML_INT},
        {"k7", "12", EN_YAML_STR},  {"k8", "text", EN_YAML_STR},
    };
    assert_int_equal(cfg->count, 8);
    for (size_t i = 0; i < 8; i++) {
        assert_string_equal(cfg->items[i].key, want[i].key);
        assert_string_equal(cfg->items[i].value, want[i].value);
        assert_int_equal(cfg->items[i].type, want[i].type);
    }
    en_clouds_destroy(&clouds);
}

static void
description_defaults_by_name_then_type(void **state)
{
    (void)state;
    en_clouds_t *clouds = s_parse("clouds:\n  aws:\n    type: ec2\n  home:\n    type: maas\n"
                                  "  mine:\n    type: ec2\n    description: My own\n"
                                  "  odd:\n    type: unheard-of\n");
    assert_string_equal(en_clouds_find(clouds, "aws")->description, "Amazon Web Services");
    assert_string_equal(en_clouds_find(clouds, "home")->description, "Metal As A Service");
    assert_string_equal(en_clouds_find(clouds, "mine")->description, "My own");
    assert_string_equal(en_clouds_find(clouds, "odd")->description, "");
    en_clouds_destroy(&clouds);
}

static void
empty_documents_are_empty_cloud_lists(void **state)
{
    (void)state;
    const char *docs[] = {"", "---\n", "clouds:\n", "clouds: {}\n", "# nothing\n", "other: 1\n"};
    for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++) {
        en_clouds_t *clouds = s_parse(docs[i]);
        assert_int_equal(clouds->count, 0);
        en_clouds_destroy(&clouds);
    }
}

static void
anchors_and_aliases_resolve(void **state)
{
    (void)state;
    en_clouds_t *clouds = s_parse("clouds:\n  a:\n    type: ec2\n    config: &cfg {x: 1}\n"
                                  "    region-config:\n      r: *cfg\n");
    const en_kvlist_t *rc = en_cloud_region_config(clouds->items[0], "r");
    assert_non_null(rc);
    assert_string_equal(en_kvlist_get(rc, "x"), "1");
    en_clouds_destroy(&clouds);
}

//  --------------------------------------------------------------------------
//  Bad input: a clear NOT_VALID naming the path, never a crash

static void
yaml_syntax_error_is_prefixed_like_juju(void **state)
{
    (void)state;
    const char *truncated = "clouds:\n  mystack:\n    type: [openstack\n";
    s_parse_fails(truncated, strlen(truncated),
                  "cannot unmarshal yaml cloud metadata: yaml: line 4: "
                  "did not find expected ',' or ']'");
    const char *tabs = "clouds:\n\tmystack:\n\t\ttype: x\n";
    s_parse_fails(tabs, strlen(tabs),
                  "cannot unmarshal yaml cloud metadata: yaml: line 2: "
                  "found character that cannot start any token");
    const char *colon = "a: b: c\n";
    s_parse_fails(colon, strlen(colon),
                  "cannot unmarshal yaml cloud metadata: yaml: line 1: "
                  "mapping values are not allowed in this context");
    const char *alias = "clouds: *nope\n";
    s_parse_fails(alias, strlen(alias),
                  "cannot unmarshal yaml cloud metadata: yaml: line 1: "
                  "unknown anchor 'nope' referenced");
}

static void
truncated_input_at_every_length_never_crashes(void **state)
{
    (void)state;
    size_t n = strlen(MYSTACK);
    for (size_t len = 0; len <= n; len++) {
        en_err_t err = {0};
        en_clouds_t *clouds = en_clouds_parse(MYSTACK, len, &err);
        if (!clouds) {
            assert_int_equal(err.kind, EN_NOT_VALID);
            assert_non_null(strstr(err.message, "cannot unmarshal yaml cloud metadata: "));
        }
        en_clouds_destroy(&clouds);
    }
}

static void
binary_junk_is_not_valid(void **state)
{
    (void)state;
    const char junk[] = "\x80\x81garbage";
    s_parse_fails(junk, sizeof junk - 1,
                  "cannot unmarshal yaml cloud metadata: yaml: invalid leading UTF-8 octet");
    const char nul[] = "clouds:\n  a\0b: {}\n";
    s_parse_fails(nul, sizeof nul - 1,
                  "cannot unmarshal yaml cloud metadata: yaml: control characters are not allowed");
    //  Pseudo-random bytes: whatever libyaml makes of them, we answer.
    unsigned seed = 12345;
    char buf[512];
    for (int round = 0; round < 200; round++) {
        for (size_t i = 0; i < sizeof buf; i++) {
            seed = seed * 1103515245u + 12345u;
            buf[i] = (char)(seed >> 16);
        }
        en_err_t err = {0};
        en_clouds_t *clouds = en_clouds_parse(buf, sizeof buf, &err);
        if (!clouds)
            assert_int_equal(err.kind, EN_NOT_VALID);
        en_clouds_destroy(&clouds);
        en_credentials_t *creds = en_credentials_parse(buf, sizeof buf, &err);
        en_credentials_destroy(&creds);
        en_controllers_t *ctrls = en_controllers_parse(buf, sizeof buf, &err);
        en_controllers_destroy(&ctrls);
    }
}

static void
wrong_node_types_name_the_path(void **state)
{
    (void)state;
    struct {
        const char *yaml, *message;
    } cases[] = {
        {"fail me now",
         "cannot unmarshal yaml cloud metadata: line 1: expected a mapping, got a string "
         "\"fail me now\""},
        {"- a\n- b\n", "cannot unmarshal yaml cloud metadata: line 1: expected a mapping, got a "
                       "sequence"},
        {"clouds: [a, b]\n", "cannot unmarshal yaml cloud metadata: line 1: clouds: expected a "
                             "mapping, got a sequence"},
        {"clouds:\n  a:\n", "cannot unmarshal yaml cloud metadata: line 2: clouds.a: expected a "
                            "mapping, got null"},
        {"clouds:\n  a:\n    type: {x: 1}\n",
         "cannot unmarshal yaml cloud metadata: line 3: clouds.a.type: expected a string, got a "
         "mapping"},
        {"clouds:\n  a:\n    auth-types: userpass\n",
         "cannot unmarshal yaml cloud metadata: line 3: clouds.a.auth-types: expected a sequence, "
         "got a string \"userpass\""},
        {"clouds:\n  a:\n    auth-types: [x, [y]]\n",
         "cannot unmarshal yaml cloud metadata: line 3: clouds.a.auth-types[1]: expected a "
         "string, got a sequence"},
        {"clouds:\n  a:\n    regions: [r1, r2]\n",
         "cannot unmarshal yaml cloud metadata: line 3: clouds.a.regions: expected a mapping, got "
         "a sequence"},
        {"clouds:\n  a:\n    regions:\n      r1: [x]\n",
         "cannot unmarshal yaml cloud metadata: line 4: clouds.a.regions.r1: expected a mapping, "
         "got a sequence"},
        {"clouds:\n  a:\n    regions:\n      r1:\n        endpoint: [x]\n",
         "cannot unmarshal yaml cloud metadata: line 5: clouds.a.regions.r1.endpoint: expected a "
         "string, got a sequence"},
        {"clouds:\n  a:\n    config:\n      k: {x: 1}\n",
         "cannot unmarshal yaml cloud metadata: line 4: clouds.a.config.k: expected a scalar, got "
         "a mapping"},
        {"clouds:\n  a:\n    region-config:\n      r: 5\n",
         "cannot unmarshal yaml cloud metadata: line 4: clouds.a.region-config.r: expected a "
         "mapping, got an int \"5\""},
        {"clouds:\n  a: {type: x}\n  a: {type: y}\n",
         "cannot unmarshal yaml cloud metadata: line 3: clouds: mapping key \"a\" already defined "
         "at line 2"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        s_parse_fails(cases[i].yaml, strlen(cases[i].yaml), cases[i].message);
}

static void
deep_nesting_is_refused_early(void **state)
{
    (void)state;
    //  libyaml alone would take minutes over 400,000 levels (its scanner is
    //  quadratic in depth); we stop at level 100.
    size_t depth = 400000, len = 0;
    char *yaml = malloc(2 * depth + 16);
    assert_non_null(yaml);
    len += (size_t)sprintf(yaml, "clouds: ");
    memset(yaml + len, '[', depth);
    memset(yaml + len + depth, ']', depth);
    len += 2 * depth;
    s_parse_fails(yaml, len,
                  "cannot unmarshal yaml cloud metadata: yaml: line 1: exceeded max "
                  "depth of 100");
    free(yaml);
}

static void
alias_fan_out_is_bounded(void **state)
{
    (void)state;
    //  1,000 clouds sharing one 1,000-region map: a small file asking for a
    //  million region visits. Refused, quickly, instead of expanded.
    size_t cap = 64 * 1024;
    char *yaml = malloc(cap);
    assert_non_null(yaml);
    size_t len = (size_t)snprintf(yaml, cap, "r: &r\n");
    for (int i = 0; i < 1000; i++)
        len += (size_t)snprintf(yaml + len, cap - len, "  r%d: {}\n", i);
    len += (size_t)snprintf(yaml + len, cap - len, "clouds:\n");
    for (int i = 0; i < 1000; i++)
        len += (size_t)snprintf(yaml + len, cap - len, "  c%d: {regions: *r}\n", i);
    assert_true(len < cap);
    s_parse_fails(yaml, len,
                  "cannot unmarshal yaml cloud metadata: yaml: document contains excessive "
                  "aliasing");
    free(yaml);
}

//  --------------------------------------------------------------------------
//  Writing

static void
clouds_write_matches_juju_layout(void **state)
{
    (void)state;
    en_clouds_t *clouds = s_parse(MYSTACK);
    en_err_t err = {0};
    char *text = en_clouds_format(clouds, &err);
    assert_non_null(text);
    assert_string_equal(text, MYSTACK_OUT);
    free(text);
    en_clouds_destroy(&clouds);
}

static void
region_without_endpoints_is_written_as_empty_map(void **state)
{
    (void)state;
    en_clouds_t *clouds = en_clouds_new();
    en_cloud_t *c = en_cloud_new("home", "maas");
    assert_int_equal(en_cloud_add_auth_type(c, "oauth1"), 0);
    assert_int_equal(en_cloud_add_region(c, "default", NULL, NULL, NULL), 0);
    assert_int_equal(en_clouds_add(clouds, &c, NULL), 0);
    assert_null(c);
    char *text = en_clouds_format(clouds, NULL);
    assert_string_equal(text, "clouds:\n"
                              "  home:\n"
                              "    type: maas\n"
                              "    auth-types: [oauth1]\n"
                              "    regions:\n"
                              "      default: {}\n");
    free(text);
    en_clouds_destroy(&clouds);
}

static void
strings_that_look_like_other_types_are_quoted(void **state)
{
    (void)state;
    en_clouds_t *clouds = en_clouds_new();
    en_cloud_t *c = en_cloud_new("123", "true");
    assert_int_equal(en_cloudfile_set_string(&c->description, "two\nlines\n"), 0);
    assert_int_equal(en_cloud_set_config(c, "s", "yes", EN_YAML_STR), 0);
    assert_int_equal(en_cloud_set_config(c, "b", "yes", EN_YAML_BOOL), 0);
    assert_int_equal(en_cloud_set_config(c, "f", "1", EN_YAML_FLOAT), 0);
    assert_int_equal(en_cloud_set_config(c, "e", "", EN_YAML_STR), 0);
    assert_int_equal(en_cloud_set_config(c, "t", "1:20", EN_YAML_STR), 0);
    assert_int_equal(en_clouds_add(clouds, &c, NULL), 0);
    char *text = en_clouds_format(clouds, NULL);
    assert_string_equal(text, "clouds:\n"
                              "  \"123\":\n"
                              "    type: \"true\"\n"
                              "    description: |\n"
                              "      two\n"
                              "      lines\n"
                              "    config:\n"
                              "      s: \"yes\"\n"
                              "      b: yes\n"
                              "      f: !!float 1\n"
                              "      e: \"\"\n"
                              "      t: \"1:20\"\n");
    en_clouds_t *again = s_parse(text);
    assert_true(en_clouds_equal(clouds, again));
    free(text);
    en_clouds_destroy(&again);
    en_clouds_destroy(&clouds);
}

static void
clouds_round_trip_parse_write_parse_is_equal(void **state)
{
    (void)state;
    const char *fixtures[] = {
        MYSTACK,
        "clouds:\n"
        "  aws:\n    type: ec2\n    auth-types: [access-key]\n    regions:\n"
        "      us-east-1:\n        endpoint: https://ec2.us-east-1.amazonaws.com\n"
        "      eu-west-1:\n        endpoint: https://ec2.eu-west-1.amazonaws.com\n"
        "  weird:\n    type: 'a: b'\n    description: \"tab\\there\"\n"
        "    endpoint: \"#not-a-comment\"\n    config: {n: ~, i: -7, f: .5, x: 1e3, s: 'on'}\n"
        "    region-config: {r: {}, q: {k: v}}\n",
    };
    for (size_t i = 0; i < sizeof fixtures / sizeof fixtures[0]; i++) {
        en_clouds_t *first = s_parse(fixtures[i]);
        char *text = en_clouds_format(first, NULL);
        assert_non_null(text);
        en_clouds_t *second = s_parse(text);
        assert_true(en_clouds_equal(first, second));
        char *again = en_clouds_format(second, NULL);
        assert_string_equal(text, again);
        free(text);
        free(again);
        en_clouds_destroy(&first);
        en_clouds_destroy(&second);
    }
}

static void
clouds_save_writes_0600_atomically(void **state)
{
    (void)state;
    char *dir = fx_tmpdir();
    char *path = fx_path(dir, "clouds.yaml");
    fx_write(path, "old contents\n", 0644);
    en_clouds_t *clouds = s_parse(MYSTACK);
    en_err_t err = {0};
    assert_int_equal(en_clouds_save(clouds, path, &err), 0);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(fx_entries(dir), 1); //  no temp file left behind
    char *text = fx_read(path);
    assert_string_equal(text, MYSTACK_OUT);
    en_clouds_t *loaded = en_clouds_load(path, &err);
    assert_non_null(loaded);
    assert_true(en_clouds_equal(clouds, loaded));
    free(text);
    en_clouds_destroy(&loaded);
    en_clouds_destroy(&clouds);
    free(path);
    fx_rmtree(dir);
}

static void
load_missing_file_is_empty_and_bad_dir_fails(void **state)
{
    (void)state;
    char *dir = fx_tmpdir();
    char *path = fx_path(dir, "absent.yaml");
    en_err_t err = {0};
    en_clouds_t *clouds = en_clouds_load(path, &err);
    assert_non_null(clouds);
    assert_int_equal(clouds->count, 0);
    char *bad = fx_path(dir, "no-such-dir/clouds.yaml");
    assert_int_equal(en_clouds_save(clouds, bad, &err), -1);
    assert_non_null(strstr(err.message, "no such file or directory"));
    //  A directory is not a clouds file.
    en_clouds_t *none = en_clouds_load(dir, &err);
    assert_null(none);
    assert_int_equal(err.kind, EN_NOT_VALID);
    en_clouds_destroy(&clouds);
    free(bad);
    free(path);
    fx_rmtree(dir);
}

//  --------------------------------------------------------------------------
//  Containers

static void
clouds_add_replaces_same_name_in_place_and_remove(void **state)
{
    (void)state;
    en_clouds_t *clouds = en_clouds_new();
    const char *names[] = {"a", "b", "c"};
    for (size_t i = 0; i < 3; i++) {
        en_cloud_t *c = en_cloud_new(names[i], "ec2");
        assert_int_equal(en_clouds_add(clouds, &c, NULL), 0);
    }
    en_cloud_t *b2 = en_cloud_new("b", "maas");
    assert_int_equal(en_clouds_add(clouds, &b2, NULL), 0);
    assert_int_equal(clouds->count, 3);
    assert_string_equal(clouds->items[1]->type, "maas");
    en_clouds_t *copy = en_clouds_dup(clouds);
    assert_true(en_clouds_equal(clouds, copy));
    assert_true(en_clouds_remove(clouds, "a"));
    assert_false(en_clouds_remove(clouds, "a"));
    assert_false(en_clouds_equal(clouds, copy));
    assert_string_equal(clouds->items[0]->name, "b");
    en_clouds_destroy(&clouds);
    en_clouds_destroy(&copy);
}

//  --------------------------------------------------------------------------
//  Region lookup and CloudSpec (§1 statements 6–7)

static void
region_by_name_is_case_insensitive(void **state)
{
    (void)state;
    en_clouds_t *clouds = s_parse(MYSTACK);
    const en_region_t *r = en_cloud_region_by_name(clouds->items[0], "regiontwo", NULL);
    assert_non_null(r);
    assert_string_equal(r->name, "RegionTwo");
    en_clouds_destroy(&clouds);
}

static void
region_by_name_unknown_lists_sorted_names(void **state)
{
    (void)state;
    en_clouds_t *clouds = s_parse("clouds:\n  c:\n    type: x\n    regions: {b: {}, a: {}}\n");
    en_err_t err = {0};
    assert_null(en_cloud_region_by_name(clouds->items[0], "r", &err));
    assert_int_equal(err.kind, EN_NOT_FOUND);
    assert_string_equal(err.message, "region \"r\" not found (expected one of [\"a\" \"b\"])");
    en_cloud_t *bare = en_cloud_new("bare", "manual");
    assert_null(en_cloud_region_by_name(bare, "r", &err));
    assert_string_equal(err.message, "region \"r\" not found (cloud has no regions)");
    en_cloud_destroy(&bare);
    en_clouds_destroy(&clouds);
}

static void
make_cloud_spec_region_endpoints_replace_cloud_ones(void **state)
{
    (void)state;
    en_clouds_t *clouds = s_parse("clouds:\n  az:\n    type: azure\n    endpoint: https://cloud\n"
                                  "    identity-endpoint: https://cloud-id\n    regions:\n"
                                  "      West:\n        endpoint: https://west\n"
                                  "        storage-endpoint: https://west-st\n");
    en_credential_t *cred = en_credential_new("me", "userpass");
    en_credential_set_attr(cred, "username", "u");
    en_cloud_spec_t spec;
    en_err_t err = {0};
    assert_int_equal(en_make_cloud_spec(clouds->items[0], NULL, "west", cred, &spec, &err), 0);
    assert_string_equal(spec.type, "azure");
    assert_string_equal(spec.name, "az");
    assert_string_equal(spec.region, "west");
    assert_string_equal(spec.endpoint, "https://west");
    assert_string_equal(spec.identity_endpoint, "https://cloud-id"); //  inherited at parse
    assert_string_equal(spec.storage_endpoint, "https://west-st");
    assert_non_null(spec.credential);
    assert_ptr_not_equal(spec.credential, cred);
    assert_true(en_credential_equal(spec.credential, cred));
    assert_int_equal(en_cloud_spec_validate(&spec, &err), 0);
    en_cloud_spec_clear(&spec);
    en_cloud_spec_clear(&spec);

    assert_int_equal(en_make_cloud_spec(clouds->items[0], "other", NULL, NULL, &spec, &err), 0);
    assert_string_equal(spec.name, "other");
    assert_string_equal(spec.region, "");
    assert_string_equal(spec.endpoint, "https://cloud");
    assert_null(spec.credential);
    en_cloud_spec_clear(&spec);
    en_credential_destroy(&cred);
    en_clouds_destroy(&clouds);
}

static void
make_cloud_spec_unknown_region_is_annotated(void **state)
{
    (void)state;
    en_clouds_t *clouds = s_parse(MYSTACK);
    en_cloud_spec_t spec;
    en_err_t err = {0};
    assert_int_equal(en_make_cloud_spec(clouds->items[0], NULL, "nowhere", NULL, &spec, &err), -1);
    assert_int_equal(err.kind, EN_NOT_FOUND);
    assert_string_equal(err.message, "getting cloud region definition: region \"nowhere\" not "
                                     "found (expected one of [\"RegionOne\" \"RegionTwo\"])");
    assert_null(spec.type);
    en_cloud_spec_clear(&spec);
    en_clouds_destroy(&clouds);
}

static void
cloud_spec_validate_type_then_name(void **state)
{
    (void)state;
    en_cloud_spec_t spec = {0};
    en_err_t err = {0};
    spec.type = "";
    spec.name = "aws";
    assert_int_equal(en_cloud_spec_validate(&spec, &err), -1);
    assert_int_equal(err.kind, EN_NOT_VALID);
    assert_string_equal(err.message, "empty Type not valid");
    spec.type = "ec2";
    const char *bad[] = {"", "-aws", "a b", "a/b", ".x", "caf\xc3\xa9"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        spec.name = (char *)bad[i];
        assert_int_equal(en_cloud_spec_validate(&spec, &err), -1);
        char want[128];
        snprintf(want, sizeof want, "cloud name \"%s\" not valid", bad[i]);
        assert_string_equal(err.message, want);
    }
    const char *good[] = {"aws", "a.b_c-d", "9lives", "X"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        spec.name = (char *)good[i];
        assert_int_equal(en_cloud_spec_validate(&spec, &err), 0);
    }
    char longname[203];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    assert_false(en_cloud_name_is_valid(longname));
    longname[201] = '\0';
    assert_true(en_cloud_name_is_valid(longname));
}

//  --------------------------------------------------------------------------
//  Built-in clouds and CloudByName

static void
builtin_clouds_are_sim_and_localhost(void **state)
{
    (void)state;
    en_clouds_t *b = en_builtin_clouds();
    assert_non_null(b);
    en_cloud_t *sim = en_clouds_find(b, "sim");
    assert_non_null(sim);
    assert_string_equal(sim->type, "sim");
    assert_string_equal(sim->description, "Simulated cloud (embedded)");
    assert_string_equal(sim->endpoint, "");
    assert_int_equal(sim->auth_type_count, 2);
    assert_string_equal(sim->auth_types[0], "empty");
    assert_string_equal(sim->auth_types[1], "userpass");
    assert_int_equal(sim->region_count, 2);
    assert_string_equal(sim->regions[0].name, "sim-east");
    assert_string_equal(sim->regions[1].name, "sim-west");
    en_cloud_t *lxd = en_clouds_find(b, "localhost");
    assert_non_null(lxd);
    assert_string_equal(lxd->type, "lxd");
    assert_int_equal(lxd->auth_type_count, 3);
    assert_string_equal(lxd->auth_types[0], "empty");
    assert_string_equal(lxd->auth_types[1], "certificate");
    assert_string_equal(lxd->auth_types[2], "interactive");
    assert_int_equal(lxd->region_count, 1);
    assert_string_equal(lxd->regions[0].name, "localhost");
    en_clouds_destroy(&b);
}

static void
cloud_by_name_personal_beats_builtin(void **state)
{
    (void)state;
    en_clouds_t *personal = s_parse("clouds:\n  localhost:\n    type: lxd\n"
                                    "    endpoint: https://10.0.0.1:8443\n");
    en_err_t err = {0};
    en_cloud_t *c = en_cloud_by_name(personal, "localhost", &err);
    assert_non_null(c);
    assert_string_equal(c->endpoint, "https://10.0.0.1:8443");
    en_cloud_destroy(&c);
    c = en_cloud_by_name(personal, "sim", &err);
    assert_non_null(c);
    assert_string_equal(c->type, "sim");
    en_cloud_destroy(&c);
    c = en_cloud_by_name(NULL, "localhost", &err);
    assert_non_null(c);
    assert_string_equal(c->endpoint, "");
    en_cloud_destroy(&c);
    assert_null(en_cloud_by_name(personal, "nope", &err));
    assert_int_equal(err.kind, EN_NOT_FOUND);
    assert_string_equal(err.message, "cloud nope not found");
    en_clouds_destroy(&personal);
}

//  --------------------------------------------------------------------------
//  controllers.yaml

static const char *CONTROLLERS = "controllers:\n"
                                 "  local.aws-test:\n"
                                 "    uuid: this-is-the-aws-test-uuid\n"
                                 "    api-endpoints: [this-is-aws-test-of-many-api-endpoints]\n"
                                 "    ca-cert: |\n"
                                 "      -----BEGIN CERTIFICATE-----\n"
                                 "      MIIBkTCB+wIJAK\n"
                                 "      -----END CERTIFICATE-----\n"
                                 "    cloud: aws\n"
                                 "    region: us-east-1\n"
                                 "    type: ec2\n"
                                 "    agent-version: 2.0.0\n"
                                 "    controller-machine-count: 3\n"
                                 "    machine-count: 5\n"
                                 "  local.mallards:\n"
                                 "    uuid: this-is-another-uuid\n"
                                 "    api-endpoints: [this-is-another-of-many-api-endpoints, "
                                 "this-is-one-more-of-many-api-endpoints]\n"
                                 "    ca-cert: this-is-another-ca-cert\n"
                                 "    cloud: maas\n"
                                 "    controller-machine-count: 1\n"
                                 "current-controller: local.mallards\n";

static void
controllers_parse_and_write_juju_layout(void **state)
{
    (void)state;
    en_err_t err = {0};
    en_controllers_t *ctrls = en_controllers_parse(CONTROLLERS, strlen(CONTROLLERS), &err);
    assert_non_null(ctrls);
    assert_int_equal(ctrls->count, 2);
    assert_string_equal(ctrls->current_controller, "local.mallards");
    en_controller_t *aws = en_controllers_find(ctrls, "local.aws-test");
    assert_non_null(aws);
    assert_string_equal(aws->uuid, "this-is-the-aws-test-uuid");
    assert_string_equal(aws->ca_cert, "-----BEGIN CERTIFICATE-----\nMIIBkTCB+wIJAK\n"
                                      "-----END CERTIFICATE-----\n");
    assert_int_equal(aws->controller_machine_count, 3);
    assert_int_equal(aws->machine_count, 5);
    en_controller_t *m = en_controllers_find(ctrls, "local.mallards");
    assert_int_equal(m->api_endpoint_count, 2);
    assert_string_equal(m->api_endpoints[1], "this-is-one-more-of-many-api-endpoints");
    assert_int_equal(m->machine_count, -1);
    char *text = en_controllers_format(ctrls, &err);
    assert_string_equal(text, CONTROLLERS);
    free(text);
    en_controllers_destroy(&ctrls);
}

static void
controllers_round_trip_through_a_0600_file(void **state)
{
    (void)state;
    char *dir = fx_tmpdir();
    char *path = fx_path(dir, "controllers.yaml");
    en_err_t err = {0};
    en_controllers_t *ctrls = en_controllers_parse(CONTROLLERS, strlen(CONTROLLERS), &err);
    assert_int_equal(en_controllers_save(ctrls, path, &err), 0);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    en_controllers_t *loaded = en_controllers_load(path, &err);
    assert_true(en_controllers_equal(ctrls, loaded));
    en_controllers_t *copy = en_controllers_dup(loaded);
    assert_true(en_controllers_equal(copy, loaded));
    en_controllers_destroy(&copy);
    en_controllers_destroy(&loaded);
    en_controllers_destroy(&ctrls);
    free(path);
    fx_rmtree(dir);
}

static void
controllers_current_follows_set_and_remove(void **state)
{
    (void)state;
    en_err_t err = {0};
    en_controllers_t *ctrls = en_controllers_parse(CONTROLLERS, strlen(CONTROLLERS), &err);
    assert_int_equal(en_controllers_set_current(ctrls, "nope", &err), -1);
    assert_int_equal(err.kind, EN_NOT_FOUND);
    assert_string_equal(err.message, "controller nope not found");
    assert_int_equal(en_controllers_set_current(ctrls, "local.aws-test", &err), 0);
    assert_true(en_controllers_remove(ctrls, "local.aws-test"));
    assert_string_equal(ctrls->current_controller, "");
    char *text = en_controllers_format(ctrls, &err);
    assert_null(strstr(text, "current-controller"));
    free(text);
    en_controllers_destroy(&ctrls);
}

static void
controllers_bad_input_names_the_path(void **state)
{
    (void)state;
    struct {
        const char *yaml, *message;
    } cases[] = {
        {"fail me now", "cannot unmarshal yaml controllers metadata: line 1: expected a mapping, "
                        "got a string \"fail me now\""},
        {"controllers:\n  a:\n    controller-machine-count: lots\n",
         "cannot unmarshal yaml controllers metadata: line 3: "
         "controllers.a.controller-machine-count: expected an int, got a string \"lots\""},
        {"controllers:\n  a:\n    api-endpoints: host:17070\n",
         "cannot unmarshal yaml controllers metadata: line 3: controllers.a.api-endpoints: "
         "expected a sequence, got a string \"host:17070\""},
        {"controllers:\n  a:\n    machine-count: 99999999999\n",
         "cannot unmarshal yaml controllers metadata: line 3: controllers.a.machine-count: "
         "expected an int, got an int \"99999999999\""},
        {"controllers: [\n", "cannot unmarshal yaml controllers metadata: yaml: line 2: did not "
                             "find expected node content"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        en_err_t err = {0};
        assert_null(en_controllers_parse(cases[i].yaml, strlen(cases[i].yaml), &err));
        assert_int_equal(err.kind, EN_NOT_VALID);
        assert_string_equal(err.message, cases[i].message);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(clouds_example_parses_like_juju),
        cmocka_unit_test(regions_keep_yaml_order_first_is_default),
        cmocka_unit_test(region_with_null_value_is_a_bare_region),
        cmocka_unit_test(blank_region_endpoints_inherit_from_cloud),
        cmocka_unit_test(config_scalars_keep_their_yaml_types),
        cmocka_unit_test(description_defaults_by_name_then_type),
        cmocka_unit_test(empty_documents_are_empty_cloud_lists),
        cmocka_unit_test(anchors_and_aliases_resolve),
        cmocka_unit_test(yaml_syntax_error_is_prefixed_like_juju),
        cmocka_unit_test(truncated_input_at_every_length_never_crashes),
        cmocka_unit_test(binary_junk_is_not_valid),
        cmocka_unit_test(wrong_node_types_name_the_path),
        cmocka_unit_test(deep_nesting_is_refused_early),
        cmocka_unit_test(alias_fan_out_is_bounded),
        cmocka_unit_test(clouds_write_matches_juju_layout),
        cmocka_unit_test(region_without_endpoints_is_written_as_empty_map),
        cmocka_unit_test(strings_that_look_like_other_types_are_quoted),
        cmocka_unit_test(clouds_round_trip_parse_write_parse_is_equal),
        cmocka_unit_test(clouds_save_writes_0600_atomically),
        cmocka_unit_test(load_missing_file_is_empty_and_bad_dir_fails),
        cmocka_unit_test(clouds_add_replaces_same_name_in_place_and_remove),
        cmocka_unit_test(region_by_name_is_case_insensitive),
        cmocka_unit_test(region_by_name_unknown_lists_sorted_names),
        cmocka_unit_test(make_cloud_spec_region_endpoints_replace_cloud_ones),
        cmocka_unit_test(make_cloud_spec_unknown_region_is_annotated),
        cmocka_unit_test(cloud_spec_validate_type_then_name),
        cmocka_unit_test(builtin_clouds_are_sim_and_localhost),
        cmocka_unit_test(cloud_by_name_personal_beats_builtin),
        cmocka_unit_test(controllers_parse_and_write_juju_layout),
        cmocka_unit_test(controllers_round_trip_through_a_0600_file),
        cmocka_unit_test(controllers_current_follows_set_and_remove),
        cmocka_unit_test(controllers_bad_input_names_the_path),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
