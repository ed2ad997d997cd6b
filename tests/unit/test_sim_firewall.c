/*  test_sim_firewall.c — the sim cloud's security groups: groups tagged
    and unique per region, ingress rules kept exactly as given (statements
    68–73, 78 of docs/juju-environs.md §1 G), memberships written by create,
    every call counted and subject to the knobs; then the same through the
    sim provider's en_firewall_ops_t.

    Each test gets its own database in a fresh mkdtemp directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
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
    snprintf(fx->dir, sizeof fx->dir, "/tmp/en-simfw-XXXXXX");
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
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", fx->dir);
    int rc = system(cmd);
    free(fx);
    return rc == 0 ? 0 : -1;
}

static int64_t
s_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

//  A rule from "80-100/tcp" and up to four CIDRs, checked by the library.
static en_ingress_rule_t
s_rule(const char *range, const char *c1, const char *c2)
{
    en_port_range_t r;
    en_err_t err;
    if (en_port_range_parse(range, &r, &err))
        fail_msg("%s: %s", range, err.message);
    const char *cidrs[] = {c1, c2};
    size_t n = c2 ? 2 : c1 ? 1 : 0;
    en_ingress_rule_t rule;
    if (en_ingress_rule_init(&rule, &r, cidrs, n, &err))
        fail_msg("%s: %s", range, err.message);
    return rule;
}

static void
s_rules_clear(en_ingress_rule_t *rules, size_t n)
{
    for (size_t i = 0; i < n; i++)
        en_ingress_rule_clear(&rules[i]);
}

//  The group's rules as their String() forms joined by "; ", with the
//  CIDRs always shown, so 0.0.0.0/0 can be asserted too.
static void
s_rules_text(en_sim_cloud_t *cloud, const char *group, char *buf, size_t size)
{
    en_ingress_rule_t *rules = NULL;
    size_t n = 0;
    en_err_t err;
    if (en_sim_cloud_rules(cloud, "sim-east", group, &rules, &n, &err))
        fail_msg("rules %s: %s", group, err.message);
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        char range[64];
        en_port_range_format(&rules[i].range, range, sizeof range);
        used += (size_t)snprintf(buf + used, size - used, "%s%s from ", i ? "; " : "", range);
        for (size_t c = 0; c < rules[i].cidr_count; c++)
            used +=
                (size_t)snprintf(buf + used, size - used, "%s%s", c ? "," : "", rules[i].cidrs[c]);
    }
    en_ingress_rules_free(&rules, n);
}

static void
s_ensure(en_sim_cloud_t *cloud, const char *region, const char *name, const char *model)
{
    en_sim_tag_t tags[] = {{"juju-model-uuid", model}, {"juju-controller-uuid", "ctl"}};
    en_err_t err;
    if (en_sim_cloud_ensure_group(cloud, region, name, tags, 2, &err))
        fail_msg("ensure %s: %s", name, err.message);
}

//  Create in sim-east in the given groups; the id (caller frees) or NULL
//  with *err set.
static char *
s_create(en_sim_cloud_t *cloud, const char *name, const char *const *groups, size_t n,
         en_err_t *err)
{
    en_sim_instance_t inst;
    if (en_sim_cloud_create_in_groups(cloud, "sim-east", NULL, "s1.small", name, NULL, 0, groups, n,
                                      &inst, err))
        return NULL;
    char *id = strdup(inst.id);
    en_sim_instance_clear(&inst);
    return id;
}

//  --- groups ---

static void
ensure_is_idempotent_and_keeps_the_first_tags(void **state)
{
    fixture_t *fx = *state;
    en_err_t err;
    s_ensure(fx->cloud, "sim-east", "juju-m1", "m1");
    en_sim_tag_t other[] = {{"juju-model-uuid", "m2"}};
    assert_int_equal(en_sim_cloud_ensure_group(fx->cloud, "sim-east", "juju-m1", other, 1, &err),
                     0);
    en_sim_group_t *groups = NULL;
    size_t n = 0;
    assert_int_equal(en_sim_cloud_groups(fx->cloud, "sim-east", &groups, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_string_equal(groups[0].name, "juju-m1");
    assert_string_equal(groups[0].region, "sim-east");
    assert_int_equal(groups[0].tag_count, 2);
    assert_string_equal(groups[0].tags[0].key, "juju-model-uuid");
    assert_string_equal(groups[0].tags[0].value, "m1");
    assert_string_equal(groups[0].tags[1].key, "juju-controller-uuid");
    assert_int_equal(groups[0].rule_count, 0);
    assert_int_equal(groups[0].member_count, 0);
    en_sim_groups_free(&groups, n);
    assert_null(groups);

    //  Bad names and tags are refused before anything is written.
    assert_int_equal(en_sim_cloud_ensure_group(fx->cloud, "sim-east", "", NULL, 0, &err), -1);
    assert_int_equal(err.kind, EN_NOT_VALID);
    assert_string_equal(err.message, "security group name \"\" not valid");
    en_sim_tag_t dup[] = {{"k", "1"}, {"k", "2"}};
    assert_int_equal(en_sim_cloud_ensure_group(fx->cloud, "sim-east", "g", dup, 2, &err), -1);
    assert_int_equal(err.kind, EN_NOT_VALID);
    assert_int_equal(en_sim_cloud_ensure_group(fx->cloud, "nowhere", "g", NULL, 0, &err), -1);
    assert_int_equal(err.kind, EN_NOT_VALID);
    assert_string_equal(err.message, "region \"nowhere\" not valid");
    assert_int_equal(en_sim_cloud_groups(fx->cloud, "sim-east", &groups, &n, &err), 0);
    assert_int_equal(n, 1);
    en_sim_groups_free(&groups, n);
}

static void
list_groups_filters_by_tags_within_the_region(void **state)
{
    fixture_t *fx = *state;
    en_err_t err;
    s_ensure(fx->cloud, "sim-east", "juju-m1-1", "m1");
    s_ensure(fx->cloud, "sim-east", "juju-m1", "m1");
    s_ensure(fx->cloud, "sim-east", "juju-m2", "m2");
    s_ensure(fx->cloud, "sim-west", "juju-m1", "m1"); //  the same name in another region
    assert_int_equal(en_sim_cloud_ensure_group(fx->cloud, "sim-east", "untagged", NULL, 0, &err),
                     0);

    char **names = NULL;
    size_t n = 0;
    en_sim_tag_t m1 = {"juju-model-uuid", "m1"};
    assert_int_equal(en_sim_cloud_list_groups(fx->cloud, "sim-east", &m1, 1, &names, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_string_equal(names[0], "juju-m1"); //  name order
    assert_string_equal(names[1], "juju-m1-1");
    en_sim_names_free(&names, n);

    en_sim_tag_t any_model = {"juju-model-uuid", NULL};
    assert_int_equal(
        en_sim_cloud_list_groups(fx->cloud, "sim-east", &any_model, 1, &names, &n, &err), 0);
    assert_int_equal(n, 3);
    en_sim_names_free(&names, n);

    en_sim_tag_t both[] = {{"juju-model-uuid", "m2"}, {"juju-controller-uuid", "ctl"}};
    assert_int_equal(en_sim_cloud_list_groups(fx->cloud, "sim-east", both, 2, &names, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_string_equal(names[0], "juju-m2");
    en_sim_names_free(&names, n);

    assert_int_equal(en_sim_cloud_list_groups(fx->cloud, "sim-east", NULL, 0, &names, &n, &err), 0);
    assert_int_equal(n, 4);
    en_sim_names_free(&names, n);
    assert_int_equal(en_sim_cloud_list_groups(fx->cloud, "sim-west", NULL, 0, &names, &n, &err), 0);
    assert_int_equal(n, 1);
    en_sim_names_free(&names, n);
}

static void
delete_removes_the_group_and_unknown_is_not_an_error(void **state)
{
    fixture_t *fx = *state;
    en_err_t err;
    s_ensure(fx->cloud, "sim-east", "g", "m1");
    en_ingress_rule_t rule = s_rule("80/tcp", NULL, NULL);
    assert_int_equal(en_sim_cloud_authorize(fx->cloud, "sim-east", "g", &rule, 1, &err), 0);
    assert_int_equal(en_sim_cloud_delete_group(fx->cloud, "sim-east", "g", &err), 0);
    assert_int_equal(en_sim_cloud_delete_group(fx->cloud, "sim-east", "g", &err), 0);
    assert_int_equal(en_sim_cloud_delete_group(fx->cloud, "sim-east", "never", &err), 0);
    char **names = NULL;
    size_t n = 0;
    assert_int_equal(en_sim_cloud_list_groups(fx->cloud, "sim-east", NULL, 0, &names, &n, &err), 0);
    assert_int_equal(n, 0);
    en_sim_names_free(&names, n);
    //  A new group of that name starts with no rules of the old one.
    s_ensure(fx->cloud, "sim-east", "g", "m1");
    char text[256];
    s_rules_text(fx->cloud, "g", text, sizeof text);
    assert_string_equal(text, "");
    en_ingress_rule_clear(&rule);
}

static void
group_in_use_until_its_member_terminates(void **state)
{
    fixture_t *fx = *state;
    en_err_t err;
    s_ensure(fx->cloud, "sim-east", "juju-m1", "m1");
    s_ensure(fx->cloud, "sim-east", "juju-m1-0", "m1");
    const char *groups[] = {"juju-m1", "juju-m1-0"};
    char *id = s_create(fx->cloud, "m1-0", groups, 2, &err);
    assert_non_null(id);

    err = (en_err_t){0};
    assert_int_equal(en_sim_cloud_delete_group(fx->cloud, "sim-east", "juju-m1-0", &err), -1);
    assert_int_equal(err.kind, EN_UNAVAILABLE);
    assert_true(err.retryable);
    assert_string_equal(err.message, "security group \"juju-m1-0\" is in use");

    const char *ids[] = {id};
    assert_int_equal(en_sim_cloud_terminate(fx->cloud, "sim-east", ids, 1, &err), 0);
    assert_int_equal(en_sim_cloud_delete_group(fx->cloud, "sim-east", "juju-m1-0", &err), 0);
    //  The terminated instance is still described in its remaining group.
    char **names = NULL;
    size_t n = 0;
    assert_int_equal(en_sim_cloud_instance_groups(fx->cloud, id, &names, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_string_equal(names[0], "juju-m1");
    en_sim_names_free(&names, n);
    assert_int_equal(en_sim_cloud_delete_group(fx->cloud, "sim-east", "juju-m1", &err), 0);
    free(id);
}

//  --- rules ---

static void
authorize_is_idempotent_and_adds_only_new_rules(void **state)
{
    fixture_t *fx = *state;
    en_err_t err;
    char text[512];
    s_ensure(fx->cloud, "sim-east", "g", "m1");
    en_ingress_rule_t first = s_rule("80/tcp", NULL, NULL);
    assert_int_equal(en_sim_cloud_authorize(fx->cloud, "sim-east", "g", &first, 1, &err), 0);
    //  Statement 68: again is no error and changes nothing.
    assert_int_equal(en_sim_cloud_authorize(fx->cloud, "sim-east", "g", &first, 1, &err), 0);
    s_rules_text(fx->cloud, "g", text, sizeof text);
    assert_string_equal(text, "80/tcp from 0.0.0.0/0");

    //  Statements 69 and 67: a mix adds only the new; read back sorted.
    en_ingress_rule_t mixed[] = {s_rule("67/udp", NULL, NULL), s_rule("80/tcp", "0.0.0.0/0", NULL),
                                 s_rule("45/tcp", NULL, NULL), s_rule("80-100/tcp", NULL, NULL),
                                 s_rule("icmp", NULL, NULL)};
    assert_int_equal(en_sim_cloud_authorize(fx->cloud, "sim-east", "g", mixed, 5, &err), 0);
    s_rules_text(fx->cloud, "g", text, sizeof text);
    assert_string_equal(text, "icmp from 0.0.0.0/0; 45/tcp from 0.0.0.0/0; 80/tcp from 0.0.0.0/0;"
                              " 80-100/tcp from 0.0.0.0/0; 67/udp from 0.0.0.0/0");

    //  Statement 78: read back exactly, unrestricted as ["0.0.0.0/0"].
    en_ingress_rule_t *rules = NULL;
    size_t n = 0;
    assert_int_equal(en_sim_cloud_rules(fx->cloud, "sim-east", "g", &rules, &n, &err), 0);
    assert_int_equal(n, 5);
    assert_string_equal(rules[2].range.protocol, "tcp");
    assert_int_equal(rules[2].range.from, 80);
    assert_int_equal(rules[2].range.to, 80);
    assert_int_equal(rules[2].cidr_count, 1);
    assert_string_equal(rules[2].cidrs[0], "0.0.0.0/0");
    assert_int_equal(rules[0].range.from, -1);
    assert_string_equal(rules[0].range.protocol, "icmp");
    en_ingress_rules_free(&rules, n);
    en_ingress_rule_clear(&first);
    s_rules_clear(mixed, 5);
}

static void
a_cidr_set_is_part_of_the_rule(void **state)
{
    fixture_t *fx = *state;
    en_err_t err;
    char text[512];
    s_ensure(fx->cloud, "sim-east", "g", "m1");
    en_ingress_rule_t rules[] = {s_rule("80/tcp", "192.168.0.0/16", "10.0.0.0/8"),
                                 s_rule("80/tcp", NULL, NULL),
                                 s_rule("80/tcp", "10.0.0.0/8", NULL)};
    assert_int_equal(en_sim_cloud_authorize(fx->cloud, "sim-east", "g", rules, 3, &err), 0);
    //  The same set in another order, and a non-canonical spelling made
    //  without the library, are the rules already there.
    char *raw[] = {"10.1.2.3/8", "192.168.7.7/16"};
    en_ingress_rule_t same = {.range = {80, 80, "TCP"}, .cidrs = raw, .cidr_count = 2};
    assert_int_equal(en_sim_cloud_authorize(fx->cloud, "sim-east", "g", &same, 1, &err), 0);
    s_rules_text(fx->cloud, "g", text, sizeof text);
    assert_string_equal(text, "80/tcp from 0.0.0.0/0; 80/tcp from 10.0.0.0/8;"
                              " 80/tcp from 10.0.0.0/8,192.168.0.0/16");

    //  Revoking one CIDR set leaves the others of that range.
    assert_int_equal(en_sim_cloud_revoke(fx->cloud, "sim-east", "g", &same, 1, &err), 0);
    s_rules_text(fx->cloud, "g", text, sizeof text);
    assert_string_equal(text, "80/tcp from 0.0.0.0/0; 80/tcp from 10.0.0.0/8");
    s_rules_clear(rules, 3);
}

static void
revoke_ignores_absent_rules_and_never_splits(void **state)
{
    fixture_t *fx = *state;
    en_err_t err;
    char text[512];
    s_ensure(fx->cloud, "sim-east", "g", "m1");
    en_ingress_rule_t open[] = {s_rule("80-100/tcp", NULL, NULL), s_rule("53/udp", NULL, NULL),
                                s_rule("22/tcp", NULL, NULL)};
    assert_int_equal(en_sim_cloud_authorize(fx->cloud, "sim-east", "g", open, 3, &err), 0);
    //  Statement 73: closing 80/tcp leaves 80-100/tcp open.
    en_ingress_rule_t part = s_rule("80/tcp", NULL, NULL);
    assert_int_equal(en_sim_cloud_revoke(fx->cloud, "sim-east", "g", &part, 1, &err), 0);
    s_rules_text(fx->cloud, "g", text, sizeof text);
    assert_string_equal(text, "22/tcp from 0.0.0.0/0; 80-100/tcp from 0.0.0.0/0;"
                              " 53/udp from 0.0.0.0/0");
    //  Statements 70, 71: several, of two protocols, one absent, in a call.
    en_ingress_rule_t close[] = {s_rule("80-100/tcp", NULL, NULL), s_rule("53/udp", NULL, NULL),
                                 s_rule("443/tcp", NULL, NULL)};
    assert_int_equal(en_sim_cloud_revoke(fx->cloud, "sim-east", "g", close, 3, &err), 0);
    s_rules_text(fx->cloud, "g", text, sizeof text);
    assert_string_equal(text, "22/tcp from 0.0.0.0/0");
    assert_int_equal(en_sim_cloud_revoke(fx->cloud, "sim-east", "g", close, 3, &err), 0);
    s_rules_text(fx->cloud, "g", text, sizeof text);
    assert_string_equal(text, "22/tcp from 0.0.0.0/0");
    s_rules_clear(open, 3);
    s_rules_clear(close, 3);
    en_ingress_rule_clear(&part);
}

static void
no_crosstalk_between_groups(void **state)
{
    fixture_t *fx = *state;
    en_err_t err;
    char text[512];
    s_ensure(fx->cloud, "sim-east", "juju-m1-1", "m1");
    s_ensure(fx->cloud, "sim-east", "juju-m1-2", "m1");
    s_ensure(fx->cloud, "sim-west", "juju-m1-1", "m1");
    en_ingress_rule_t rule = s_rule("8080/tcp", NULL, NULL);
    assert_int_equal(en_sim_cloud_authorize(fx->cloud, "sim-east", "juju-m1-1", &rule, 1, &err), 0);
    s_rules_text(fx->cloud, "juju-m1-1", text, sizeof text);
    assert_string_equal(text, "8080/tcp from 0.0.0.0/0");
    s_rules_text(fx->cloud, "juju-m1-2", text, sizeof text);
    assert_string_equal(text, "");
    en_ingress_rule_t *rules = NULL;
    size_t n = 0;
    assert_int_equal(en_sim_cloud_rules(fx->cloud, "sim-west", "juju-m1-1", &rules, &n, &err), 0);
    assert_int_equal(n, 0);
    //  Revoking in one group leaves the other's alone.
    assert_int_equal(en_sim_cloud_authorize(fx->cloud, "sim-east", "juju-m1-2", &rule, 1, &err), 0);
    assert_int_equal(en_sim_cloud_revoke(fx->cloud, "sim-east", "juju-m1-1", &rule, 1, &err), 0);
    s_rules_text(fx->cloud, "juju-m1-2", text, sizeof text);
    assert_string_equal(text, "8080/tcp from 0.0.0.0/0");
    en_ingress_rule_clear(&rule);
}

static void
unknown_group_is_not_found_and_bad_rules_change_nothing(void **state)
{
    fixture_t *fx = *state;
    en_err_t err;
    char text[512];
    en_ingress_rule_t rule = s_rule("80/tcp", NULL, NULL);
    assert_int_equal(en_sim_cloud_authorize(fx->cloud, "sim-east", "gone", &rule, 1, &err), -1);
    assert_int_equal(err.kind, EN_NOT_FOUND);
    assert_string_equal(err.message, "security group \"gone\" not found");
    assert_int_equal(en_sim_cloud_revoke(fx->cloud, "sim-east", "gone", &rule, 1, &err), -1);
    assert_int_equal(err.kind, EN_NOT_FOUND);
    en_ingress_rule_t *rules = NULL;
    size_t n = 0;
    assert_int_equal(en_sim_cloud_rules(fx->cloud, "sim-east", "gone", &rules, &n, &err), -1);
    assert_int_equal(err.kind, EN_NOT_FOUND);
    assert_null(rules);

    s_ensure(fx->cloud, "sim-east", "g", "m1");
    const struct {
        en_ingress_rule_t bad;
        const char *message;
    } cases[] = {
        {{.range = {1, 1, "sctp"}},
         "invalid protocol \"sctp\", expected \"tcp\", \"udp\", or \"icmp\""},
        {{.range = {90, 80, "tcp"}}, "invalid port range 90-80/tcp"},
        {{.range = {1, 65536, "udp"}}, "invalid port range 1-65536/udp"},
        {{.range = {8, 8, "icmp"}}, "protocol \"icmp\" doesn't support any ports; got \"8\""},
        {{.range = {80, 80, "tcp"}, .cidrs = (char *[]){"10.0.0.0/40"}, .cidr_count = 1},
         "invalid CIDR address: 10.0.0.0/40"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        en_ingress_rule_t both[] = {rule, cases[i].bad};
        assert_int_equal(en_sim_cloud_authorize(fx->cloud, "sim-east", "g", both, 2, &err), -1);
        assert_int_equal(err.kind, EN_NOT_VALID);
        assert_string_equal(err.message, cases[i].message);
    }
    s_rules_text(fx->cloud, "g", text, sizeof text);
    assert_string_equal(text, ""); //  all or none
    //  EC2's bounds, wider than Juju's, are the cloud's.
    en_ingress_rule_t all = {.range = {0, 65535, "tcp"}};
    assert_int_equal(en_sim_cloud_authorize(fx->cloud, "sim-east", "g", &all, 1, &err), 0);
    s_rules_text(fx->cloud, "g", text, sizeof text);
    assert_string_equal(text, "0-65535/tcp from 0.0.0.0/0");
    en_ingress_rule_clear(&rule);
}

//  --- memberships ---

static void
create_in_a_missing_group_creates_nothing(void **state)
{
    fixture_t *fx = *state;
    en_err_t err = {0};
    s_ensure(fx->cloud, "sim-east", "juju-m1", "m1");
    s_ensure(fx->cloud, "sim-west", "juju-m1-0", "m1"); //  not in the instance's region
    const char *groups[] = {"juju-m1", "juju-m1-0"};
    assert_null(s_create(fx->cloud, "m1-0", groups, 2, &err));
    assert_int_equal(err.kind, EN_NOT_FOUND);
    assert_string_equal(err.message, "security group \"juju-m1-0\" not found");
    en_sim_instance_t *list = NULL;
    size_t n = 0;
    assert_int_equal(en_sim_cloud_list(fx->cloud, "sim-east", NULL, 0, true, &list, &n, &err), 0);
    assert_int_equal(n, 0);
    en_sim_group_t *all = NULL;
    assert_int_equal(en_sim_cloud_groups(fx->cloud, "sim-east", &all, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_int_equal(all[0].member_count, 0);
    en_sim_groups_free(&all, n);

    //  With the group made, the same name starts.
    s_ensure(fx->cloud, "sim-east", "juju-m1-0", "m1");
    char *id = s_create(fx->cloud, "m1-0", groups, 2, &err);
    assert_non_null(id);
    free(id);
}

static void
create_writes_memberships_in_order_once(void **state)
{
    fixture_t *fx = *state;
    en_err_t err;
    s_ensure(fx->cloud, "sim-east", "juju-m1", "m1");
    s_ensure(fx->cloud, "sim-east", "juju-m1-0", "m1");
    s_ensure(fx->cloud, "sim-east", "juju-m1-1", "m1");
    const char *g0[] = {"juju-m1-0", "juju-m1", "juju-m1-0"};
    const char *g1[] = {"juju-m1", "juju-m1-1"};
    char *id0 = s_create(fx->cloud, "m1-0", g0, 3, &err);
    char *id1 = s_create(fx->cloud, "m1-1", g1, 2, &err);
    char *id2 = s_create(fx->cloud, "m1-2", NULL, 0, &err);
    assert_non_null(id0);
    assert_non_null(id1);
    assert_non_null(id2);

    char **names = NULL;
    size_t n = 0;
    assert_int_equal(en_sim_cloud_instance_groups(fx->cloud, id0, &names, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_string_equal(names[0], "juju-m1-0");
    assert_string_equal(names[1], "juju-m1");
    en_sim_names_free(&names, n);
    assert_int_equal(en_sim_cloud_instance_groups(fx->cloud, id2, &names, &n, &err), 0);
    assert_int_equal(n, 0);
    en_sim_names_free(&names, n);

    en_sim_group_t *groups = NULL;
    assert_int_equal(en_sim_cloud_groups(fx->cloud, "sim-east", &groups, &n, &err), 0);
    assert_int_equal(n, 3);
    assert_string_equal(groups[0].name, "juju-m1");
    assert_int_equal(groups[0].member_count, 2);
    assert_string_equal(groups[0].members[0], id0);
    assert_string_equal(groups[0].members[1], id1);
    assert_int_equal(groups[1].member_count, 1);
    assert_string_equal(groups[1].members[0], id0);
    en_sim_groups_free(&groups, n);

    //  A terminated instance is no member any more.
    const char *ids[] = {id0};
    assert_int_equal(en_sim_cloud_terminate(fx->cloud, "sim-east", ids, 1, &err), 0);
    assert_int_equal(en_sim_cloud_groups(fx->cloud, "sim-east", &groups, &n, &err), 0);
    assert_int_equal(groups[0].member_count, 1);
    assert_string_equal(groups[0].members[0], id1);
    assert_int_equal(groups[1].member_count, 0);
    en_sim_groups_free(&groups, n);
    free(id0);
    free(id1);
    free(id2);
}

//  --- many handles ---

typedef struct {
    const char *path;
    pthread_barrier_t *barrier;
    int rc;
} racer_t;

static void *
s_race(void *arg)
{
    racer_t *r = arg;
    en_err_t err;
    en_sim_cloud_t *cloud = en_sim_cloud_open(r->path, &err);
    en_ingress_rule_t rule = s_rule("443/tcp", "10.0.0.0/8", NULL);
    en_sim_tag_t tag = {"juju-model-uuid", "m1"};
    pthread_barrier_wait(r->barrier);
    r->rc = !cloud || en_sim_cloud_ensure_group(cloud, "sim-east", "g", &tag, 1, &err) ||
            en_sim_cloud_authorize(cloud, "sim-east", "g", &rule, 1, &err);
    en_ingress_rule_clear(&rule);
    en_sim_cloud_close(&cloud);
    return NULL;
}

//  Handles racing to make one group with one rule make exactly that.
static void
racing_handles_make_one_group_with_one_rule(void **state)
{
    fixture_t *fx = *state;
    enum { N = 8 };
    pthread_t threads[N];
    racer_t racers[N];
    pthread_barrier_t barrier;
    pthread_barrier_init(&barrier, NULL, N);
    for (int i = 0; i < N; i++) {
        racers[i] = (racer_t){.path = fx->path, .barrier = &barrier};
        assert_int_equal(pthread_create(&threads[i], NULL, s_race, &racers[i]), 0);
    }
    for (int i = 0; i < N; i++) {
        pthread_join(threads[i], NULL);
        assert_int_equal(racers[i].rc, 0);
    }
    pthread_barrier_destroy(&barrier);
    en_sim_group_t *groups = NULL;
    size_t n = 0;
    en_err_t err;
    assert_int_equal(en_sim_cloud_groups(fx->cloud, "sim-east", &groups, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_int_equal(groups[0].tag_count, 1);
    assert_int_equal(groups[0].rule_count, 1);
    en_sim_groups_free(&groups, n);
    assert_int_equal(en_sim_cloud_call_count(fx->cloud, "ensure_group", &err), N);
}

//  --- instance_rules: a change guarded by a member ---

//  A group tagged for machine `machine` of model m1, and an instance of it
//  created in the group; the instance's id (caller frees).
static char *
s_machine(en_sim_cloud_t *cloud, const char *group, const char *machine)
{
    en_sim_tag_t tags[] = {{"juju-model-uuid", "m1"}, {"juju-machine-id", machine}};
    en_err_t err;
    if (en_sim_cloud_ensure_group(cloud, "sim-east", group, tags, 2, &err))
        fail_msg("ensure %s: %s", group, err.message);
    const char *groups[] = {group};
    char *id = s_create(cloud, group, groups, 1, &err);
    if (!id)
        fail_msg("create in %s: %s", group, err.message);
    return id;
}

//  en_sim_cloud_instance_rules with the tags of machine (NULL: none), its
//  rules read back as text unless text is NULL; returns *member, and
//  fails the test on an error.
static bool
s_guarded(en_sim_cloud_t *cloud, const char *group, const char *id, const char *machine,
          const en_ingress_rule_t *add, size_t nadd, const en_ingress_rule_t *drop, size_t ndrop,
          char *text, size_t size)
{
    en_sim_tag_t tags[] = {{"juju-model-uuid", "m1"}, {"juju-machine-id", machine}};
    en_sim_instance_rules_t op = {.group = group,
                                  .instance_id = id,
                                  .tags = tags,
                                  .tag_count = machine ? 2 : 0,
                                  .authorize = add,
                                  .authorize_count = nadd,
                                  .revoke = drop,
                                  .revoke_count = ndrop};
    bool member = true;
    en_ingress_rule_t *rules = NULL;
    size_t n = 99;
    en_err_t err;
    if (en_sim_cloud_instance_rules(cloud, "sim-east", &op, &member, text ? &rules : NULL, &n,
                                    &err))
        fail_msg("instance_rules %s: %s", group, err.message);
    if (text) {
        size_t used = 0;
        text[0] = '\0';
        for (size_t i = 0; i < n; i++) {
            char one[128];
            en_ingress_rule_format(&rules[i], one, sizeof one);
            used += (size_t)snprintf(text + used, size - used, "%s%s", i ? "; " : "", one);
        }
        if (!member)
            assert_null(rules);
        en_ingress_rules_free(&rules, n);
    }
    return member;
}

static void
instance_rules_change_only_while_the_instance_is_a_member(void **state)
{
    fixture_t *fx = *state;
    en_err_t err;
    char text[512];
    char *a = s_machine(fx->cloud, "g1", "1"), *b = s_machine(fx->cloud, "g2", "2");
    en_ingress_rule_t http = s_rule("80/tcp", NULL, NULL), tls = s_rule("443/tcp", NULL, NULL);
    assert_int_equal(en_sim_cloud_reset_counters(fx->cloud, &err), 0);

    //  The member, in its group tagged for it: added, and read back.
    assert_true(s_guarded(fx->cloud, "g1", a, "1", &http, 1, NULL, 0, text, sizeof text));
    assert_string_equal(text, "80/tcp");
    //  Again: nothing new (68); then one in, one out, in one call.
    assert_true(s_guarded(fx->cloud, "g1", a, "1", &http, 1, NULL, 0, text, sizeof text));
    assert_string_equal(text, "80/tcp");
    assert_true(s_guarded(fx->cloud, "g1", a, "1", &tls, 1, &http, 1, text, sizeof text));
    assert_string_equal(text, "443/tcp");
    //  A read alone; and a change without its read.
    assert_true(s_guarded(fx->cloud, "g1", a, NULL, NULL, 0, NULL, 0, text, sizeof text));
    assert_string_equal(text, "443/tcp");
    assert_true(s_guarded(fx->cloud, "g1", a, "1", &http, 1, NULL, 0, NULL, 0));
    assert_int_equal(en_sim_cloud_call_count(fx->cloud, "instance_rules", &err), 5);
    assert_int_equal(en_sim_cloud_call_count(fx->cloud, "authorize", &err), 0);
    assert_int_equal(en_sim_cloud_call_count(fx->cloud, "rules", &err), 0);

    //  Not the member, not the tags, no such group: nothing changes.
    assert_false(s_guarded(fx->cloud, "g2", a, "2", &http, 1, NULL, 0, text, sizeof text));
    assert_string_equal(text, "");
    assert_false(s_guarded(fx->cloud, "g1", a, "2", NULL, 0, &tls, 1, text, sizeof text));
    assert_false(s_guarded(fx->cloud, "g1", b, "1", NULL, 0, &tls, 1, text, sizeof text));
    assert_false(s_guarded(fx->cloud, "g9", a, "1", &http, 1, NULL, 0, text, sizeof text));
    s_rules_text(fx->cloud, "g1", text, sizeof text);
    assert_string_equal(text, "80/tcp from 0.0.0.0/0; 443/tcp from 0.0.0.0/0");
    s_rules_text(fx->cloud, "g2", text, sizeof text);
    assert_string_equal(text, "");

    //  A bad rule: NOT_VALID, and the good one with it is not added.
    en_ingress_rule_t bad[] = {s_rule("22/tcp", NULL, NULL), s_rule("22/tcp", NULL, NULL)};
    bad[1].range.from = 70000;
    bad[1].range.to = 70000;
    en_sim_tag_t tags[] = {{"juju-machine-id", "1"}};
    en_sim_instance_rules_t op = {.group = "g1",
                                  .instance_id = a,
                                  .tags = tags,
                                  .tag_count = 1,
                                  .authorize = bad,
                                  .authorize_count = 2};
    bool member = true;
    assert_int_equal(
        en_sim_cloud_instance_rules(fx->cloud, "sim-east", &op, &member, NULL, NULL, &err), -1);
    assert_int_equal(err.kind, EN_NOT_VALID);
    assert_false(member);
    s_rules_text(fx->cloud, "g1", text, sizeof text);
    assert_string_equal(text, "80/tcp from 0.0.0.0/0; 443/tcp from 0.0.0.0/0");

    //  A member describe would not show yet, or any more, is none.
    assert_int_equal(en_sim_cloud_knob_set(fx->cloud, "consistency_delay_ms", "60000", &err), 0);
    const char *groups[] = {"g1"};
    char *late = s_create(fx->cloud, "late", groups, 1, &err);
    assert_non_null(late);
    assert_false(s_guarded(fx->cloud, "g1", late, "1", NULL, 0, NULL, 0, text, sizeof text));
    assert_int_equal(en_sim_cloud_knob_set(fx->cloud, "consistency_delay_ms", NULL, &err), 0);
    assert_true(s_guarded(fx->cloud, "g1", late, "1", NULL, 0, NULL, 0, text, sizeof text));
    const char *ids[] = {a};
    assert_int_equal(en_sim_cloud_terminate(fx->cloud, "sim-east", ids, 1, &err), 0);
    assert_false(s_guarded(fx->cloud, "g1", a, "1", NULL, 0, &http, 1, text, sizeof text));

    //  An API call like the others: counted, and subject to fail knobs.
    assert_int_equal(
        en_sim_cloud_knob_set(fx->cloud, "fail.instance_rules", "UNAVAILABLE count 1", &err), 0);
    op = (en_sim_instance_rules_t){.group = "g1", .instance_id = late};
    assert_int_equal(
        en_sim_cloud_instance_rules(fx->cloud, "sim-east", &op, &member, NULL, NULL, &err), -1);
    assert_string_equal(err.message, "sim.instance_rules is broken");
    assert_int_equal(en_sim_cloud_call_count(fx->cloud, "instance_rules", &err), 14);
    free(late);
    free(a);
    free(b);
    en_ingress_rule_clear(&http);
    en_ingress_rule_clear(&tls);
    s_rules_clear(bad, 2);
}

//  --- knobs and counters ---

static void
group_calls_are_counted_and_obey_fail_knobs(void **state)
{
    fixture_t *fx = *state;
    en_err_t err;
    const char *methods[] = {"ensure_group", "delete_group", "list_groups",
                             "authorize",    "revoke",       "rules"};
    for (size_t i = 0; i < 6; i++) {
        char key[64];
        snprintf(key, sizeof key, "fail.%s", methods[i]);
        assert_int_equal(en_sim_cloud_knob_set(fx->cloud, key, "UNAVAILABLE count 1", &err), 0);
    }
    en_ingress_rule_t rule = s_rule("80/tcp", NULL, NULL);
    char **names = NULL;
    en_ingress_rule_t *rules = NULL;
    size_t n = 0;
    //  Each method fails once with the dummy's wording, then works.
    for (int round = 0; round < 2; round++) {
        int want = round ? 0 : -1;
        assert_int_equal(en_sim_cloud_ensure_group(fx->cloud, "sim-east", "g", NULL, 0, &err),
                         want);
        if (!round) {
            assert_int_equal(err.kind, EN_UNAVAILABLE);
            assert_string_equal(err.message, "sim.ensure_group is broken");
        }
        assert_int_equal(en_sim_cloud_authorize(fx->cloud, "sim-east", "g", &rule, 1, &err), want);
        if (!round)
            assert_string_equal(err.message, "sim.authorize is broken");
        assert_int_equal(en_sim_cloud_rules(fx->cloud, "sim-east", "g", &rules, &n, &err), want);
        en_ingress_rules_free(&rules, n);
        assert_int_equal(en_sim_cloud_revoke(fx->cloud, "sim-east", "g", &rule, 1, &err), want);
        assert_int_equal(en_sim_cloud_list_groups(fx->cloud, "sim-east", NULL, 0, &names, &n, &err),
                         want);
        en_sim_names_free(&names, n);
        assert_int_equal(en_sim_cloud_delete_group(fx->cloud, "sim-east", "g", &err), want);
    }
    for (size_t i = 0; i < 6; i++)
        assert_int_equal(en_sim_cloud_call_count(fx->cloud, methods[i], &err), 2);
    //  The console is not an API call.
    en_sim_group_t *groups = NULL;
    assert_int_equal(en_sim_cloud_groups(fx->cloud, "sim-east", &groups, &n, &err), 0);
    en_sim_groups_free(&groups, n);
    assert_int_equal(en_sim_cloud_call_count(fx->cloud, "list_groups", &err), 2);

    //  A failure injected into create leaves no membership behind.
    s_ensure(fx->cloud, "sim-east", "g", "m1");
    assert_int_equal(en_sim_cloud_knob_set(fx->cloud, "fail.create", "INTERNAL count 1", &err), 0);
    const char *g[] = {"g"};
    assert_null(s_create(fx->cloud, "x", g, 1, &err));
    assert_int_equal(en_sim_cloud_delete_group(fx->cloud, "sim-east", "g", &err), 0);
    en_ingress_rule_clear(&rule);
}

static void
group_calls_spend_the_latency(void **state)
{
    fixture_t *fx = *state;
    en_err_t err;
    s_ensure(fx->cloud, "sim-east", "g", "m1");
    assert_int_equal(en_sim_cloud_knob_set(fx->cloud, "latency_ms", "100", &err), 0);
    en_ingress_rule_t rule = s_rule("80/tcp", NULL, NULL);
    int64_t start = s_now_ms();
    assert_int_equal(en_sim_cloud_authorize(fx->cloud, "sim-east", "g", &rule, 1, &err), 0);
    assert_true(s_now_ms() - start >= 100);
    start = s_now_ms();
    assert_int_equal(en_sim_cloud_delete_group(fx->cloud, "sim-east", "none", &err), 0);
    assert_true(s_now_ms() - start >= 100);
    en_ingress_rule_clear(&rule);
}

//  A database made before security groups (schema version 1) gains them
//  when opened, instances kept.
static void
a_version_1_database_is_migrated(void **state)
{
    fixture_t *fx = *state;
    en_err_t err;
    char *id = s_create(fx->cloud, "old", NULL, 0, &err);
    assert_non_null(id);
    en_sim_cloud_close(&fx->cloud);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(fx->path, &db), SQLITE_OK);
    assert_int_equal(
        sqlite3_exec(db,
                     "DROP TABLE nics; DROP TABLE subnets; DROP TABLE spaces;"
                     " CREATE UNIQUE INDEX instances_live_addr"
                     "   ON instances(region, addr_host) WHERE addr_host IS NOT NULL;"
                     " DROP TABLE memberships; DROP TABLE rules; DROP TABLE group_tags;"
                     " DROP TABLE groups; PRAGMA user_version = 1",
                     NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(db);
    fx->cloud = en_sim_cloud_open(fx->path, &err);
    assert_non_null(fx->cloud);
    s_ensure(fx->cloud, "sim-east", "g", "m1");
    const char *ids[] = {id};
    en_sim_instance_t *found = NULL;
    size_t n = 0;
    assert_int_equal(en_sim_cloud_describe(fx->cloud, "sim-east", ids, 1, &found, &n, &err), 0);
    assert_int_equal(n, 1);
    en_sim_instances_free(&found, n);
    free(id);
}

//  --- the provider's driver ---

static void
driver_firewall_is_the_sim_groups(void **state)
{
    fixture_t *fx = *state;
    const en_provider_t *sim = en_provider_builtin("sim");
    assert_non_null(sim);
    assert_non_null(sim->firewall);
    const en_firewall_ops_t *fw = sim->firewall;
    const en_compute_ops_t *ops = sim->compute;
    const en_provider_t *lxd = en_provider_builtin("lxd");
    assert_non_null(lxd->firewall); // network ACLs (tests/lxd)

    en_err_t err;
    en_cloud_spec_t spec = {
        .type = "sim", .name = "sim", .region = "sim-east", .endpoint = fx->path};
    en_compute_t *c = ops->open(&spec, fx->dir, &err);
    assert_non_null(c);
    en_tag_t tags[] = {{"juju-model-uuid", "m1"}, {"juju-controller-uuid", "ctl"}};
    assert_int_equal(fw->ensure_group(c, "juju-m1", tags, 2, &err), 0);
    assert_int_equal(fw->ensure_group(c, "juju-m1-0", tags, 2, &err), 0);
    char **names = NULL;
    size_t n = 0;
    en_tag_t filter = {"juju-model-uuid", "m1"};
    assert_int_equal(fw->list_groups(c, &filter, 1, &names, &n, &err), 0);
    assert_int_equal(n, 2);
    en_sim_names_free(&names, n);

    const char *groups[] = {"juju-m1", "juju-m1-0"};
    en_instance_t inst = {0};
    assert_int_equal(ops->create(c,
                                 &(en_create_args_t){.name = "juju-m1-0",
                                                     .type = "s1.small",
                                                     .tags = tags,
                                                     .tag_count = 2,
                                                     .groups = groups,
                                                     .group_count = 2},
                                 &inst, &err),
                     0);
    const char *missing[] = {"juju-m1-9"};
    en_instance_t none = {0};
    assert_int_equal(
        ops->create(c,
                    &(en_create_args_t){.name = "juju-m1-9",
                                        .type = "s1.small",
                                        .tags = tags,
                                        .tag_count = 2,
                                        .groups = missing,
                                        .group_count = 1},
                    &none, &err), -1);
    assert_int_equal(err.kind, EN_NOT_FOUND);
    assert_string_equal(err.message, "security group \"juju-m1-9\" not found");

    en_ingress_rule_t open[] = {s_rule("443/tcp", "10.0.0.0/8", NULL),
                                s_rule("80/tcp", NULL, NULL)};
    assert_int_equal(fw->authorize(c, "juju-m1-0", open, 2, &err), 0);
    en_ingress_rule_t *rules = NULL;
    assert_int_equal(fw->rules(c, "juju-m1-0", &rules, &n, &err), 0);
    assert_int_equal(n, 2);
    char text[128];
    en_ingress_rule_format(&rules[0], text, sizeof text);
    assert_string_equal(text, "80/tcp");
    en_ingress_rule_format(&rules[1], text, sizeof text);
    assert_string_equal(text, "443/tcp from 10.0.0.0/8");
    en_ingress_rules_free(&rules, n);
    assert_int_equal(fw->revoke(c, "juju-m1-0", &open[1], 1, &err), 0);
    assert_int_equal(fw->rules(c, "juju-m1-0", &rules, &n, &err), 0);
    assert_int_equal(n, 1);
    en_ingress_rules_free(&rules, n);
    //  The guarded call: the instance's group, tagged for its model.
    en_fw_instance_op_t op = {.group = "juju-m1-0",
                              .instance_id = inst.id,
                              .tags = tags,
                              .tag_count = 1,
                              .authorize = &open[1],
                              .authorize_count = 1};
    bool member = false;
    assert_int_equal(fw->instance_rules(c, &op, &member, &rules, &n, &err), 0);
    assert_true(member);
    assert_int_equal(n, 2);
    en_ingress_rules_free(&rules, n);
    op.group = "juju-m1";
    op.tags = (en_tag_t[]){{"juju-model-uuid", "m2"}};
    assert_int_equal(fw->instance_rules(c, &op, &member, &rules, &n, &err), 0);
    assert_false(member);
    assert_null(rules);

    assert_int_equal(fw->delete_group(c, "juju-m1-0", &err), -1);
    assert_int_equal(err.kind, EN_UNAVAILABLE);
    const char *ids[] = {inst.id};
    assert_int_equal(ops->terminate(c, ids, 1, &err), 0);
    assert_int_equal(fw->delete_group(c, "juju-m1-0", &err), 0);
    assert_int_equal(fw->delete_group(c, "juju-m1-0", &err), 0);
    en_instance_clear(&inst);
    s_rules_clear(open, 2);
    ops->close(&c);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(ensure_is_idempotent_and_keeps_the_first_tags, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(list_groups_filters_by_tags_within_the_region, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(delete_removes_the_group_and_unknown_is_not_an_error,
                                        s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(group_in_use_until_its_member_terminates, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(authorize_is_idempotent_and_adds_only_new_rules, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(a_cidr_set_is_part_of_the_rule, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(revoke_ignores_absent_rules_and_never_splits, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(no_crosstalk_between_groups, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(unknown_group_is_not_found_and_bad_rules_change_nothing,
                                        s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(create_in_a_missing_group_creates_nothing, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(create_writes_memberships_in_order_once, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(racing_handles_make_one_group_with_one_rule, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(instance_rules_change_only_while_the_instance_is_a_member,
                                        s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(group_calls_are_counted_and_obey_fail_knobs, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(group_calls_spend_the_latency, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(a_version_1_database_is_migrated, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(driver_firewall_is_the_sim_groups, s_setup, s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
