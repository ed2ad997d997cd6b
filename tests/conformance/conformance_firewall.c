/*  conformance_firewall.c — statements of §1 G (the Firewaller, 64-78)
    against the firewaller behind the gateway, on the sim cloud at
    <home>/sim/sim.db. What the API reports is checked against the cloud
    itself, read through the sim's operator console: which groups exist,
    what they are tagged with and which rules they hold.

    Rules are written the way Juju prints them ("80-100/tcp", "icmp",
    "80/tcp from 10.0.0.0/8"), and read back as the same text joined by
    ", ", so a statement reads like Juju's own test.

    Statement 77 (LXD 2.0 implements no firewalling; its six methods are
    silent no-ops) is not registered: it describes Juju 2.0's LXD only (in
    2.3 LXD does not offer the interface at all), our LXD driver has no
    firewall yet, and these tests run on the sim. A cloud without a
    firewall driver answers NOT_SUPPORTED (the firewaller's
    fw_require_driver), which is 2.3's behaviour, not 2.0's. */
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "bus/envelope.h"
#include "common/paths.h"
#include "common/portrange.h"
#include "conformance.h"
#include "providers/sim/sim_cloud.h"

#define CTRL_UUID "c0ffee00-0000-4000-8000-000000000004"
#define REGION "sim-east"
#define TEXT_MAX 1024

//  --------------------------------------------------------------------------
//  Models, instances and the cloud

//  A model on the sim cloud with this firewall-mode (NULL: the default).
static char *
s_model(const char *name, const char *mode)
{
    char json[128];
    if (mode)
        snprintf(json, sizeof json, "{\"firewall-mode\":\"%s\"}", mode);
    en_err_t err;
    En__Model *m = conf_open(name, "sim", mode ? json : NULL, &err);
    CHECK(m != NULL, "Open %s: %s", name, err.message);
    char *uuid = m ? strdup(m->uuid) : NULL;
    FREE(m);
    return uuid;
}

//  Start machine_id's instance; its id (malloc'd) or NULL.
static char *
s_start(const char *model, const char *machine_id)
{
    En__StartInstanceRequest req = EN__START_INSTANCE_REQUEST__INIT;
    En__StartInstanceParams p = EN__START_INSTANCE_PARAMS__INIT;
    p.machine_id = (char *)machine_id;
    p.machine_nonce = "nonce";
    p.controller_uuid = CTRL_UUID;
    req.params = &p;
    en_err_t err;
    En__StartInstanceResult *r =
        conf_call("StartInstance", model, &req, &en__start_instance_result__descriptor, &err);
    CHECK(r && r->instance, "StartInstance %s: %s", machine_id, err.message);
    char *id = r && r->instance ? strdup(r->instance->id) : NULL;
    FREE(r);
    return id;
}

static en_sim_cloud_t *
s_sim(void)
{
    en_err_t err;
    en_sim_cloud_t *c = harness_sim(&H, &err);
    CHECK(c != NULL, "open the sim cloud: %s", err.message);
    return c;
}

static const char *
s_group_tag(const en_sim_group_t *g, const char *key)
{
    for (size_t i = 0; i < g->tag_count; i++)
        if (strcmp(g->tags[i].key, key) == 0)
            return g->tags[i].value;
    return NULL;
}

//  Rules as Juju prints them, joined by ", ".
static void
s_rules_text(const en_ingress_rule_t *rules, size_t n, char out[TEXT_MAX])
{
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < n && used < TEXT_MAX; i++) {
        char one[256];
        en_ingress_rule_format(&rules[i], one, sizeof one);
        used += (size_t)snprintf(out + used, TEXT_MAX - used, "%s%s", i ? ", " : "", one);
    }
}

//  The cloud's view of the group `name` (console, no API call): false when
//  it does not exist; else its rules as text (sorted) and tag values.
typedef struct {
    char rules[TEXT_MAX];
    char model[64];
    char controller[64];
    char machine[64];
    size_t members;
} cloud_group_t;

static bool
s_cloud_group(const char *name, cloud_group_t *out)
{
    memset(out, 0, sizeof *out);
    en_sim_cloud_t *c = s_sim();
    en_sim_group_t *groups = NULL;
    size_t n = 0;
    en_err_t err;
    bool found = false;
    if (c && en_sim_cloud_groups(c, REGION, &groups, &n, &err) == 0) {
        for (size_t i = 0; i < n && !found; i++) {
            if (strcmp(groups[i].name, name) != 0)
                continue;
            found = true;
            en_ingress_rules_sort(groups[i].rules, groups[i].rule_count);
            s_rules_text(groups[i].rules, groups[i].rule_count, out->rules);
            const char *v;
            if ((v = s_group_tag(&groups[i], "juju-model-uuid")))
                snprintf(out->model, sizeof out->model, "%s", v);
            if ((v = s_group_tag(&groups[i], "juju-controller-uuid")))
                snprintf(out->controller, sizeof out->controller, "%s", v);
            if ((v = s_group_tag(&groups[i], "juju-machine-id")))
                snprintf(out->machine, sizeof out->machine, "%s", v);
            out->members = groups[i].member_count;
        }
    }
    en_sim_groups_free(&groups, n);
    en_sim_cloud_close(&c);
    return found;
}

//  How many groups of the cloud carry juju-model-uuid=model.
static size_t
s_cloud_groups_of(const char *model)
{
    en_sim_cloud_t *c = s_sim();
    en_sim_group_t *groups = NULL;
    size_t n = 0, mine = 0;
    en_err_t err;
    if (c && en_sim_cloud_groups(c, REGION, &groups, &n, &err) == 0)
        for (size_t i = 0; i < n; i++) {
            const char *v = s_group_tag(&groups[i], "juju-model-uuid");
            mine += v && strcmp(v, model) == 0;
        }
    en_sim_groups_free(&groups, n);
    en_sim_cloud_close(&c);
    return mine;
}

//  The operator adds a rule to a group behind the API's back.
static void
s_cloud_authorize(const char *group, const char *spec)
{
    en_sim_cloud_t *c = s_sim();
    en_port_range_t range;
    en_ingress_rule_t rule;
    en_err_t err;
    CHECK(c && en_port_range_parse(spec, &range, &err) == 0 &&
              en_ingress_rule_init(&rule, &range, NULL, 0, &err) == 0 &&
              en_sim_cloud_authorize(c, REGION, group, &rule, 1, &err) == 0,
          "authorize %s in %s: %s", spec, group, c ? err.message : "");
    en_ingress_rule_clear(&rule);
    en_sim_cloud_close(&c);
}

static char *
s_group_name(const char *model, const char *suffix)
{
    char *name = NULL;
    if (asprintf(&name, suffix ? "juju-%s-%s" : "juju-%s", model, suffix) < 0)
        abort();
    return name;
}

//  --------------------------------------------------------------------------
//  The six port methods

//  A rule from Juju's text: "<range>[ from <cidr>,<cidr>...]".
static En__IngressRule *
s_rule(const char *spec)
{
    char range_text[64];
    const char *from = strstr(spec, " from ");
    size_t len = from ? (size_t)(from - spec) : strlen(spec);
    snprintf(range_text, sizeof range_text, "%.*s", (int)len, spec);
    en_port_range_t range;
    en_err_t err;
    en_port_range_parse(range_text, &range, &err); // invalid ranges are sent as parsed
    En__IngressRule *r = calloc(1, sizeof *r);
    en__ingress_rule__init(r);
    r->port_range = calloc(1, sizeof *r->port_range);
    en__port_range__init(r->port_range);
    r->port_range->from_port = range.from;
    r->port_range->to_port = range.to;
    r->port_range->protocol = strdup(range.protocol);
    if (from) {
        char *list = strdup(from + 6), *save = NULL;
        r->source_cidrs = calloc(8, sizeof(char *));
        for (char *c = strtok_r(list, ",", &save); c && r->n_source_cidrs < 8;
             c = strtok_r(NULL, ",", &save))
            r->source_cidrs[r->n_source_cidrs++] = strdup(c);
        free(list);
    }
    return r;
}

//  A call's rules from a ";"-separated list of specs ("" or NULL: none).
typedef struct {
    En__IngressRule **rules;
    size_t n;
} rules_t;

static rules_t
s_rules(const char *specs)
{
    rules_t r = {calloc(16, sizeof(En__IngressRule *)), 0};
    char *list = strdup(specs ? specs : ""), *save = NULL;
    for (char *s = strtok_r(list, ";", &save); s && r.n < 16; s = strtok_r(NULL, ";", &save))
        r.rules[r.n++] = s_rule(s);
    free(list);
    return r;
}

static void
s_rules_free(rules_t *r)
{
    for (size_t i = 0; i < r->n; i++)
        protobuf_c_message_free_unpacked(&r->rules[i]->base, NULL);
    free(r->rules);
}

//  Rules read back, as text; each rule's CIDRs are also checked to be
//  there (an unrestricted rule reads back with 0.0.0.0/0, statement 78).
static void
s_read_text(En__IngressRule **rules, size_t n, char out[TEXT_MAX])
{
    en_ingress_rule_t *got = calloc(n + 1, sizeof *got);
    for (size_t i = 0; i < n; i++) {
        const En__PortRange *p = rules[i]->port_range;
        en_port_range_t range = {.from = p ? p->from_port : 0, .to = p ? p->to_port : 0};
        snprintf(range.protocol, sizeof range.protocol, "%s", p ? p->protocol : "");
        en_err_t err;
        CHECK(rules[i]->n_source_cidrs > 0, "rule %zu read back with its CIDRs", i);
        CHECK(en_ingress_rule_init(&got[i], &range, (const char *const *)rules[i]->source_cidrs,
                                   rules[i]->n_source_cidrs, &err) == 0,
              "rule %zu reads back valid: %s", i, err.message);
    }
    // the order given, not sorted here: the answer must already be
    s_rules_text(got, n, out);
    en_ingress_rules_free(&got, n);
}

//  One port method. instance NULL: the global form (OpenPorts,
//  ClosePorts, Ports); else the instance form for machine. verb: "open",
//  "close" or "read"; a read fills text.
static en_err_t
s_ports(const char *verb, const char *model, const char *instance, const char *machine,
        const char *specs, char text[TEXT_MAX])
{
    rules_t r = s_rules(specs);
    en_err_t err;
    void *res = NULL;
    En__IngressRule **got = NULL;
    size_t ngot = 0;
    if (!instance && strcmp(verb, "read") == 0) {
        En__PortsRequest q = EN__PORTS_REQUEST__INIT;
        En__PortsResult *p = conf_call("Ports", model, &q, &en__ports_result__descriptor, &err);
        res = p;
        if (p)
            got = p->rules, ngot = p->n_rules;
    } else if (!instance) {
        bool open = strcmp(verb, "open") == 0;
        En__OpenPortsRequest q = EN__OPEN_PORTS_REQUEST__INIT; // same fields as ClosePorts
        q.rules = r.rules;
        q.n_rules = r.n;
        res = conf_call(
            open ? "OpenPorts" : "ClosePorts", model, &q,
            open ? &en__open_ports_result__descriptor : &en__close_ports_result__descriptor, &err);
    } else if (strcmp(verb, "read") == 0) {
        En__InstancePortsRequest q = EN__INSTANCE_PORTS_REQUEST__INIT;
        q.instance_id = (char *)instance;
        q.machine_id = (char *)machine;
        En__InstancePortsResult *p =
            conf_call("InstancePorts", model, &q, &en__instance_ports_result__descriptor, &err);
        res = p;
        if (p)
            got = p->rules, ngot = p->n_rules;
    } else {
        bool open = strcmp(verb, "open") == 0;
        En__OpenInstancePortsRequest q = EN__OPEN_INSTANCE_PORTS_REQUEST__INIT;
        q.instance_id = (char *)instance;
        q.machine_id = (char *)machine;
        q.rules = r.rules;
        q.n_rules = r.n;
        res = conf_call(open ? "OpenInstancePorts" : "CloseInstancePorts", model, &q,
                        open ? &en__open_instance_ports_result__descriptor
                             : &en__close_instance_ports_result__descriptor,
                        &err);
    }
    if (text) {
        text[0] = '\0';
        if (res)
            s_read_text(got, ngot, text);
    }
    FREE(res);
    s_rules_free(&r);
    return err;
}

#define CHECK_OK(err, what) CHECK((err).kind == EN_OK, "%s: %s", what, (err).message)
#define CHECK_TEXT(got, want) CHECK(strcmp(got, want) == 0, "want [%s], got [%s]", want, got)

//  --------------------------------------------------------------------------
//  Statements

//  64. The global methods need firewall-mode=global: Juju's errors.
void
s064_global_methods_need_global_mode(void)
{
    char *m = s_model("s064", "instance");
    char text[TEXT_MAX];
    en_err_t err = s_ports("open", m, NULL, NULL, "80/tcp", NULL);
    CHECK_ERR(err, EN_NOT_VALID, "invalid firewall mode \"instance\" for opening ports on model");
    err = s_ports("close", m, NULL, NULL, "80/tcp", NULL);
    CHECK_ERR(err, EN_NOT_VALID, "invalid firewall mode \"instance\" for closing ports on model");
    err = s_ports("read", m, NULL, NULL, NULL, text);
    CHECK_ERR(err, EN_NOT_VALID,
              "invalid firewall mode \"instance\" for retrieving ingress rules from model");
    CHECK(s_cloud_groups_of(m) == 0, "a refused call makes no group");
    // the default mode is instance too
    char *d = s_model("s064-default", NULL);
    err = s_ports("open", d, NULL, NULL, "80/tcp", NULL);
    CHECK_ERR(err, EN_NOT_VALID, "invalid firewall mode \"instance\" for opening ports on model");
    free(d);
    free(m);
}

//  65. The instance methods need firewall-mode=instance: Juju's errors.
void
s065_instance_methods_need_instance_mode(void)
{
    char *m = s_model("s065", "global");
    char *id = s_start(m, "1");
    char text[TEXT_MAX];
    en_err_t err = s_ports("open", m, id, "1", "80/tcp", NULL);
    CHECK_ERR(err, EN_NOT_VALID, "invalid firewall mode \"global\" for opening ports on instance");
    err = s_ports("close", m, id, "1", "80/tcp", NULL);
    CHECK_ERR(err, EN_NOT_VALID, "invalid firewall mode \"global\" for closing ports on instance");
    err = s_ports("read", m, id, "1", NULL, text);
    CHECK_ERR(err, EN_NOT_VALID,
              "invalid firewall mode \"global\" for retrieving ingress rules from instance");
    char *own = s_group_name(m, "1");
    cloud_group_t g;
    CHECK(!s_cloud_group(own, &g), "no machine group in global mode");
    free(own);
    free(id);
    free(m);
}

//  66. Nothing is open at first, and the model group (which a provider
//  may fill itself, e.g. SSH) is never reported.
void
s066_nothing_open_initially(void)
{
    char text[TEXT_MAX];
    char *mi = s_model("s066-instance", "instance");
    char *id = s_start(mi, "0");
    en_err_t err = s_ports("read", mi, id, "0", NULL, text);
    CHECK_OK(err, "InstancePorts");
    CHECK_TEXT(text, "");

    char *mg = s_model("s066-global", "global");
    err = s_ports("read", mg, NULL, NULL, NULL, text);
    CHECK_OK(err, "Ports before any instance");
    CHECK_TEXT(text, "");
    char *a = s_start(mg, "0"), *b = s_start(mg, "1");
    // the instances are in the model group and the global group, tagged
    char *model_group = s_group_name(mg, NULL), *global = s_group_name(mg, "global");
    cloud_group_t g;
    CHECK(s_cloud_group(model_group, &g) && !strcmp(g.model, mg) &&
              !strcmp(g.controller, CTRL_UUID) && g.members == 2,
          "model group %s tagged, with both instances", model_group);
    CHECK(s_cloud_group(global, &g) && !strcmp(g.model, mg) && g.members == 2,
          "global group %s with both instances", global);
    s_cloud_authorize(model_group, "22/tcp");
    err = s_ports("read", mg, NULL, NULL, NULL, text);
    CHECK_OK(err, "Ports");
    CHECK_TEXT(text, "");
    free(model_group);
    free(global);
    free(a);
    free(b);
    free(mg);
    free(id);
    free(mi);
}

//  67. Ports are sorted: protocol (icmp < tcp < udp), from, to.
void
s067_sort_order(void)
{
    char text[TEXT_MAX];
    char *m = s_model("s067", "global");
    en_err_t err = s_ports("open", m, NULL, NULL, "67/udp;45/tcp;80-100/tcp", NULL);
    CHECK_OK(err, "OpenPorts");
    err = s_ports("read", m, NULL, NULL, NULL, text);
    CHECK_TEXT(text, "45/tcp, 80-100/tcp, 67/udp");
    s_ports("open", m, NULL, NULL, "80-90/tcp;icmp;1-65535/udp", NULL);
    s_ports("read", m, NULL, NULL, NULL, text);
    CHECK_TEXT(text, "icmp, 45/tcp, 80-90/tcp, 80-100/tcp, 1-65535/udp, 67/udp");

    char *mi = s_model("s067-instance", "instance");
    char *id = s_start(mi, "3");
    err = s_ports("open", mi, id, "3", "67/udp;45/tcp;80-100/tcp", NULL);
    CHECK_OK(err, "OpenInstancePorts");
    s_ports("read", mi, id, "3", NULL, text);
    CHECK_TEXT(text, "45/tcp, 80-100/tcp, 67/udp");
    free(id);
    free(mi);
    free(m);
}

//  68. Opening what is open already is no error and changes nothing.
void
s068_open_is_idempotent(void)
{
    char text[TEXT_MAX];
    char *m = s_model("s068", "global");
    CHECK_OK(s_ports("open", m, NULL, NULL, "45/tcp;80-100/tcp", NULL), "open");
    CHECK_OK(s_ports("open", m, NULL, NULL, "45/tcp;80-100/tcp", NULL), "open again");
    s_ports("read", m, NULL, NULL, NULL, text);
    CHECK_TEXT(text, "45/tcp, 80-100/tcp");
    char *global = s_group_name(m, "global");
    cloud_group_t g;
    CHECK(s_cloud_group(global, &g), "global group exists");
    CHECK_TEXT(g.rules, "45/tcp, 80-100/tcp");

    char *mi = s_model("s068-instance", "instance");
    char *id = s_start(mi, "1");
    CHECK_OK(s_ports("open", mi, id, "1", "22/tcp", NULL), "open on instance");
    CHECK_OK(s_ports("open", mi, id, "1", "22/tcp", NULL), "open on instance again");
    s_ports("read", mi, id, "1", NULL, text);
    CHECK_TEXT(text, "22/tcp");
    free(id);
    free(mi);
    free(global);
    free(m);
}

//  69. A mix of open and new ranges adds only the new ones.
void
s069_mixed_open_adds_only_new(void)
{
    char text[TEXT_MAX];
    char *m = s_model("s069", "global");
    CHECK_OK(s_ports("open", m, NULL, NULL, "45/tcp;67/udp", NULL), "open");
    CHECK_OK(s_ports("open", m, NULL, NULL, "67/udp;80-100/tcp;45/tcp", NULL), "mixed open");
    s_ports("read", m, NULL, NULL, NULL, text);
    CHECK_TEXT(text, "45/tcp, 80-100/tcp, 67/udp");

    char *mi = s_model("s069-instance", "instance");
    char *id = s_start(mi, "1");
    s_ports("open", mi, id, "1", "45/tcp", NULL);
    CHECK_OK(s_ports("open", mi, id, "1", "45/tcp;8080/tcp", NULL), "mixed open on instance");
    s_ports("read", mi, id, "1", NULL, text);
    CHECK_TEXT(text, "45/tcp, 8080/tcp");
    free(id);
    free(mi);
    free(m);
}

//  70. Closing what is not open is no error and changes nothing.
void
s070_close_absent_is_fine(void)
{
    char text[TEXT_MAX];
    char *m = s_model("s070", "global");
    CHECK_OK(s_ports("close", m, NULL, NULL, "45/tcp", NULL), "close before anything is open");
    s_ports("open", m, NULL, NULL, "45/tcp;80-100/tcp", NULL);
    CHECK_OK(s_ports("close", m, NULL, NULL, "99/udp;46/tcp", NULL), "close absent");
    s_ports("read", m, NULL, NULL, NULL, text);
    CHECK_TEXT(text, "45/tcp, 80-100/tcp");

    char *mi = s_model("s070-instance", "instance");
    char *id = s_start(mi, "2");
    CHECK_OK(s_ports("close", mi, id, "2", "45/tcp", NULL), "close on a fresh instance");
    s_ports("read", mi, id, "2", NULL, text);
    CHECK_TEXT(text, "");
    free(id);
    free(mi);
    free(m);
}

//  71. One call closes several ranges, of several protocols.
void
s071_several_ranges_in_one_call(void)
{
    char text[TEXT_MAX];
    char *m = s_model("s071", "global");
    s_ports("open", m, NULL, NULL, "45/tcp;67/udp;80-100/tcp;icmp;443/tcp", NULL);
    CHECK_OK(s_ports("close", m, NULL, NULL, "67/udp;45/tcp;icmp", NULL), "close three");
    s_ports("read", m, NULL, NULL, NULL, text);
    CHECK_TEXT(text, "80-100/tcp, 443/tcp");

    char *mi = s_model("s071-instance", "instance");
    char *id = s_start(mi, "1");
    s_ports("open", mi, id, "1", "45/tcp;67/udp;80/tcp", NULL);
    CHECK_OK(s_ports("close", mi, id, "1", "45/tcp;67/udp", NULL), "close two on instance");
    s_ports("read", mi, id, "1", NULL, text);
    CHECK_TEXT(text, "80/tcp");
    free(id);
    free(mi);
    free(m);
}

//  72. Ports opened on one instance never show on another.
void
s072_no_crosstalk(void)
{
    char text[TEXT_MAX];
    char *m = s_model("s072", "instance");
    char *a = s_start(m, "1"), *b = s_start(m, "2");
    CHECK_OK(s_ports("open", m, a, "1", "80/tcp;53/udp", NULL), "open on 1");
    s_ports("read", m, b, "2", NULL, text);
    CHECK_TEXT(text, "");
    s_ports("open", m, b, "2", "443/tcp", NULL);
    s_ports("read", m, a, "1", NULL, text);
    CHECK_TEXT(text, "80/tcp, 53/udp");
    s_ports("read", m, b, "2", NULL, text);
    CHECK_TEXT(text, "443/tcp");
    // in the cloud: one group per machine, tagged with its machine
    char *g1 = s_group_name(m, "1"), *g2 = s_group_name(m, "2");
    cloud_group_t g;
    CHECK(s_cloud_group(g1, &g) && !strcmp(g.machine, "1") && !strcmp(g.model, m) && g.members == 1,
          "%s holds machine 1", g1);
    CHECK_TEXT(g.rules, "80/tcp, 53/udp");
    CHECK(s_cloud_group(g2, &g) && !strcmp(g.machine, "2"), "%s holds machine 2", g2);
    CHECK_TEXT(g.rules, "443/tcp");
    // and another model's machine 1 is another group
    char *other = s_model("s072-other", "instance");
    char *c = s_start(other, "1");
    s_ports("read", other, c, "1", NULL, text);
    CHECK_TEXT(text, "");
    free(c);
    free(other);
    free(g1);
    free(g2);
    free(a);
    free(b);
    free(m);
}

//  73. Ranges are kept exactly as given: never merged or split. The
//  cloud is the only place they live: a new firewaller reads the same.
void
s073_ranges_stored_exactly(void)
{
    char text[TEXT_MAX];
    char *m = s_model("s073", "global");
    s_ports("open", m, NULL, NULL, "80-100/tcp", NULL);
    CHECK_OK(s_ports("close", m, NULL, NULL, "80/tcp", NULL), "close inside a range");
    s_ports("read", m, NULL, NULL, NULL, text);
    CHECK_TEXT(text, "80-100/tcp");
    s_ports("open", m, NULL, NULL, "80/tcp;101-110/tcp;90-120/tcp", NULL);
    s_ports("read", m, NULL, NULL, NULL, text);
    CHECK_TEXT(text, "80/tcp, 80-100/tcp, 90-120/tcp, 101-110/tcp");
    char *mi = s_model("s073-instance", "instance");
    char *id = s_start(mi, "4");
    s_ports("open", mi, id, "4", "8000-8010/tcp;8011/tcp", NULL);

    for (int i = 0; i < H.count; i++)
        if (!strcmp(H.names[i], "firewaller"))
            harness_kill(&H, i, SIGTERM);
    harness_start(&H, "firewaller", 1);
    CHECK(harness_wait_service(&H, "firewaller", 20000) == 0, "a new firewaller is up");
    s_ports("read", m, NULL, NULL, NULL, text);
    CHECK_TEXT(text, "80/tcp, 80-100/tcp, 90-120/tcp, 101-110/tcp");
    s_ports("read", mi, id, "4", NULL, text);
    CHECK_TEXT(text, "8000-8010/tcp, 8011/tcp");
    free(id);
    free(mi);
    free(m);
}

//  74. firewall-mode cannot change on a live model (the registry refuses
//  it with Juju's words), so the firewaller keeps the mode the model was
//  opened with: Juju's test flips it, which the dummy survives only by
//  keeping each instance's old mode.
void
s074_mode_is_fixed_for_the_model(void)
{
    char text[TEXT_MAX];
    char *m = s_model("s074", "instance");
    char *id = s_start(m, "1");
    En__SetConfigRequest req = EN__SET_CONFIG_REQUEST__INIT;
    En__ConfigAttrs cfg = EN__CONFIG_ATTRS__INIT;
    cfg.json = "{\"firewall-mode\":\"global\"}";
    req.config = &cfg;
    en_err_t err;
    void *res = conf_call("SetConfig", m, &req, &en__set_config_result__descriptor, &err);
    CHECK(!res, "SetConfig refused");
    CHECK_ERR(err, EN_NOT_VALID, "cannot change firewall-mode from \"instance\" to \"global\"");
    FREE(res);
    CHECK_OK(s_ports("open", m, id, "1", "80/tcp", NULL), "instance mode still");
    s_ports("read", m, id, "1", NULL, text);
    CHECK_TEXT(text, "80/tcp");
    err = s_ports("read", m, NULL, NULL, NULL, text);
    CHECK_ERR(err, EN_NOT_VALID,
              "invalid firewall mode \"instance\" for retrieving ingress rules from model");
    free(id);
    free(m);
}

//  75. firewall-mode=none: no port is managed (Juju's worker stops), so
//  every port call says so, and no group is ever made for the model.
void
s075_mode_none(void)
{
    char text[TEXT_MAX];
    char *m = s_model("s075", "none");
    char *id = s_start(m, "1");
    CHECK(id != NULL, "instances start without groups");
    const char *want = "firewall-mode is \"none\": ports are not managed for model s075";
    CHECK_ERR(s_ports("open", m, NULL, NULL, "80/tcp", NULL), EN_NOT_SUPPORTED, want);
    CHECK_ERR(s_ports("close", m, NULL, NULL, "80/tcp", NULL), EN_NOT_SUPPORTED, want);
    CHECK_ERR(s_ports("read", m, NULL, NULL, NULL, text), EN_NOT_SUPPORTED, want);
    CHECK_ERR(s_ports("open", m, id, "1", "80/tcp", NULL), EN_NOT_SUPPORTED, want);
    CHECK_ERR(s_ports("close", m, id, "1", "80/tcp", NULL), EN_NOT_SUPPORTED, want);
    CHECK_ERR(s_ports("read", m, id, "1", NULL, text), EN_NOT_SUPPORTED, want);
    CHECK(s_cloud_groups_of(m) == 0, "no group for a model in mode none");
    free(id);
    free(m);
}

//  76. Instance calls name the machine the instance was started for; the
//  instance must be the model's. Its rules live in juju-<model>-<machine>.
void
s076_instance_calls_carry_the_machine_id(void)
{
    char text[TEXT_MAX];
    char *m = s_model("s076", "instance");
    char *id = s_start(m, "1");
    en_err_t err = s_ports("open", m, id, "2", "80/tcp", NULL);
    CHECK_ERR(err, EN_NOT_VALID, "OpenPorts with mismatched machine id, expected \"1\" got \"2\"");
    err = s_ports("close", m, id, "2", "80/tcp", NULL);
    CHECK_ERR(err, EN_NOT_VALID, "ClosePorts with mismatched machine id, expected \"1\" got \"2\"");
    err = s_ports("read", m, id, "2", NULL, text);
    CHECK_ERR(err, EN_NOT_VALID,
              "IngressRules with mismatched machine id, expected \"1\" got \"2\"");
    char *wrong = s_group_name(m, "2");
    cloud_group_t g;
    CHECK(!s_cloud_group(wrong, &g), "a refused call makes no group");
    CHECK_OK(s_ports("open", m, id, "1", "80/tcp", NULL), "the right machine");
    char *own = s_group_name(m, "1");
    CHECK(s_cloud_group(own, &g), "%s exists", own);
    CHECK_TEXT(g.rules, "80/tcp");
    // another model's instance is not found from this model
    char *other = s_model("s076-other", "instance");
    err = s_ports("read", other, id, "1", NULL, text);
    char want[256];
    snprintf(want, sizeof want, "instance \"%s\" not found", id);
    CHECK_ERR(err, EN_NOT_FOUND, want);
    // invalid rules are refused before the cloud is touched
    err = s_ports("open", m, id, "1", "90-80/tcp", NULL);
    CHECK_ERR(err, EN_NOT_VALID, "invalid port range 90-80/tcp");
    s_ports("read", m, id, "1", NULL, text);
    CHECK_TEXT(text, "80/tcp");
    free(other);
    free(own);
    free(wrong);
    free(id);
    free(m);
}

//  78. IngressRule semantics (2.3): no CIDRs reads back as 0.0.0.0/0;
//  re-opening the same rule is a no-op; at instance level a rule whose
//  range is open already replaces that rule's CIDRs; closing matches the
//  whole rule (its String()).
void
s078_ingress_rules(void)
{
    char text[TEXT_MAX];
    char *m = s_model("s078", "global");
    s_ports("open", m, NULL, NULL, "80/tcp", NULL);
    En__PortsRequest q = EN__PORTS_REQUEST__INIT;
    en_err_t err;
    En__PortsResult *r = conf_call("Ports", m, &q, &en__ports_result__descriptor, &err);
    CHECK(r && r->n_rules == 1 && r->rules[0]->n_source_cidrs == 1 &&
              !strcmp(r->rules[0]->source_cidrs[0], "0.0.0.0/0"),
          "unrestricted reads back with 0.0.0.0/0");
    FREE(r);
    CHECK_OK(s_ports("open", m, NULL, NULL, "80/tcp from 0.0.0.0/0", NULL), "the same rule");
    // globally, other CIDRs for the same range are another rule
    s_ports("open", m, NULL, NULL, "80/tcp from 10.0.0.0/8", NULL);
    s_ports("read", m, NULL, NULL, NULL, text);
    CHECK_TEXT(text, "80/tcp, 80/tcp from 10.0.0.0/8");
    s_ports("close", m, NULL, NULL, "80/tcp", NULL);
    s_ports("read", m, NULL, NULL, NULL, text);
    CHECK_TEXT(text, "80/tcp from 10.0.0.0/8");

    char *mi = s_model("s078-instance", "instance");
    char *id = s_start(mi, "1");
    s_ports("open", mi, id, "1", "80/tcp from 10.0.0.0/8;443/tcp", NULL);
    CHECK_OK(s_ports("open", mi, id, "1", "80/tcp from 192.168.0.0/16,172.16.0.0/12", NULL),
             "reopen 80/tcp with other CIDRs");
    s_ports("read", mi, id, "1", NULL, text);
    CHECK(strcmp(text, "80/tcp from 172.16.0.0/12,192.168.0.0/16, 443/tcp") == 0 ||
              strcmp(text, "80/tcp from 192.168.0.0/16,172.16.0.0/12, 443/tcp") == 0,
          "the CIDRs replaced: [%s]", text);
    // the same set in another order changes nothing
    CHECK_OK(s_ports("open", mi, id, "1", "80/tcp from 172.16.0.0/12,192.168.0.0/16", NULL),
             "same set reordered");
    char *own = s_group_name(mi, "1");
    cloud_group_t g;
    CHECK(s_cloud_group(own, &g), "%s exists", own);
    CHECK(strstr(g.rules, "10.0.0.0/8") == NULL && strstr(g.rules, "192.168.0.0/16") != NULL,
          "the cloud holds the new CIDRs only: [%s]", g.rules);
    // closing 80/tcp unrestricted leaves the restricted rule
    s_ports("close", mi, id, "1", "80/tcp", NULL);
    s_ports("read", mi, id, "1", NULL, text);
    CHECK(strncmp(text, "80/tcp from ", 12) == 0, "restricted 80/tcp stays: [%s]", text);
    // an invalid CIDR is refused
    err = s_ports("open", mi, id, "1", "81/tcp from 300.0.0.0/8", NULL);
    CHECK(err.kind == EN_NOT_VALID, "bad CIDR refused: %s", err.message);
    free(own);
    free(id);
    free(mi);
    free(m);
}
