/*  firewaller.c — the firewaller's per-thread state, model resolution
    (the shared en_modelsvc, then config → firewall mode), backoff, conversions
    between protobuf and portrange.h's rules, and the route table (the
    handlers live in ports.c and groups.c). */
#include "firewaller.h"

#include <ctype.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"

//  --------------------------------------------------------------------------
//  Models

static void
s_model_conn(fw_model_t *m, const en_modelsvc_model_t *base)
{
    m->compute = base->provider->compute;
    m->ops = base->provider->firewall;
    m->conn = base->conn;
}

//  The model config's firewall-mode; absent is the default, instance.
static int
s_mode(const char *config_json, const char *uuid, en_fw_mode_t *mode, en_err_t *err)
{
    json_t *cfg = json_loads(config_json ? config_json : "{}", 0, NULL);
    const json_t *v = json_object_get(cfg, "firewall-mode");
    int parsed =
        v ? (json_is_string(v) ? en_fw_mode_parse(json_string_value(v)) : -1) : EN_FW_INSTANCE;
    json_decref(cfg);
    if (parsed < 0)
        return en_err_set(err, EN_INTERNAL, "model %s has an invalid firewall-mode", uuid);
    *mode = (en_fw_mode_t)parsed;
    return 0;
}

int
fw_fresh_refuse_dying(en_call_t *call, const fw_model_t *m, const char *doing, en_err_t *err)
{
    fw_thread_t *t = call->state;
    int64_t left = call->deadline_ms ? call->deadline_ms - en_now_ms() : 5000;
    return en_model_fresh_refuse_dying(en_modelsvc_client(t->svc), m->uuid,
                                       *m->name ? m->name : m->uuid, doing,
                                       (int)(left > 5000 ? 5000 : left > 0 ? left : 1), err);
}

int
fw_model(en_call_t *call, fw_model_t *model, en_err_t *err)
{
    fw_thread_t *t = call->state;
    en_modelsvc_model_t base;
    if (en_modelsvc_resolve(t->svc, call, &base, err))
        return -1;
    memset(model, 0, sizeof *model);
    model->uuid = base.uuid;
    model->name = base.name;
    model->controller_uuid = base.controller_uuid;
    model->dying = base.dying;
    if (s_mode(base.config_json, model->uuid, &model->mode, err))
        return -1;
    s_model_conn(model, &base);
    return 0;
}

int
fw_connect(en_call_t *call, const En__CloudSpec *spec, fw_model_t *model, en_err_t *err)
{
    fw_thread_t *t = call->state;
    en_modelsvc_model_t base;
    if (en_modelsvc_connect(t->svc, spec, &base, err))
        return -1;
    *model = (fw_model_t){.uuid = "", .name = "", .controller_uuid = "", .mode = EN_FW_INSTANCE};
    s_model_conn(model, &base);
    return 0;
}

int
fw_require_driver(const fw_model_t *m, en_err_t *err)
{
    if (!m->ops)
        return en_err_set(err, EN_NOT_SUPPORTED, "the cloud of model %s has no firewall",
                          *m->name ? m->name : m->uuid);
    return 0;
}

//  --------------------------------------------------------------------------
//  Groups

size_t
fw_group_tags(const fw_model_t *m, const char *controller_uuid, const char *machine_id,
              en_tag_t tags[3])
{
    size_t n = 0;
    tags[n++] = (en_tag_t){"juju-model-uuid", m->uuid};
    const char *ctl = controller_uuid && *controller_uuid ? controller_uuid : m->controller_uuid;
    if (ctl && *ctl)
        tags[n++] = (en_tag_t){"juju-controller-uuid", ctl};
    if (machine_id)
        tags[n++] = (en_tag_t){"juju-machine-id", machine_id};
    return n;
}

int
fw_authorize(en_call_t *call, const fw_model_t *m, const char *group, const en_tag_t *tags,
             size_t tag_count, const en_ingress_rule_t *rules, size_t n, en_err_t *err)
{
    if (n == 0 || m->ops->authorize(m->conn, group, rules, n, err) == 0)
        return 0;
    if (err->kind != EN_NOT_FOUND)
        return -1;
    en_log(EN_LOG_INFO, call->request_id, "security group %s did not exist: creating it", group);
    if (m->ops->ensure_group(m->conn, group, tags, tag_count, err))
        return -1;
    return m->ops->authorize(m->conn, group, rules, n, err);
}

//  --------------------------------------------------------------------------
//  Backoff

bool
fw_backoff(en_call_t *call, size_t attempt, int64_t until_ms)
{
    fw_thread_t *t = call->state;
    // EC2 refuses to delete a group for a while after its last instance
    // went: 100 ms doubling up to 5 s (Juju retries every 5 s), jittered
    // so replicas that retry together do not hit the cloud together
    int64_t ms = 100;
    for (size_t i = 0; i < attempt && ms < 5000; i++)
        ms *= 2;
    ms = (int64_t)((double)(ms < 5000 ? ms : 5000) * en_retry_scale());
    ms = ms / 2 + (ms > 1 ? rand_r(&t->seed) % (ms / 2 + 1) : 0);
    if (en_now_ms() + ms >= until_ms)
        return false;
    en_sleep_ms(ms);
    return true;
}

//  --------------------------------------------------------------------------
//  Conversions

static int
s_rule_from(const En__IngressRule *in, en_ingress_rule_t *out, en_err_t *err)
{
    if (!in || !in->port_range)
        return en_err_set(err, EN_NOT_VALID, "ingress rule without a port range");
    const En__PortRange *pr = in->port_range;
    const char *proto = pr->protocol ? pr->protocol : "";
    en_port_range_t range = {.from = pr->from_port, .to = pr->to_port};
    size_t len = strlen(proto);
    if (len >= sizeof range.protocol)
        // too long to be any protocol: the message Validate() would give
        return en_err_set(err, EN_NOT_VALID,
                          "invalid protocol \"%s\", expected \"tcp\", "
                          "\"udp\", or \"icmp\"",
                          proto);
    for (size_t i = 0; i <= len; i++)
        range.protocol[i] = (char)tolower((unsigned char)proto[i]);
    static const char *const unrestricted[] = {"0.0.0.0/0"};
    const char *const *cidrs = (const char *const *)in->source_cidrs;
    size_t n = in->n_source_cidrs;
    if (n == 0) {
        // stored and compared the way the cloud reads it back (statement 78)
        cidrs = unrestricted;
        n = 1;
    }
    return en_ingress_rule_init(out, &range, cidrs, n, err);
}

int
fw_rules_from(En__IngressRule *const *in, size_t n, en_ingress_rule_t **out, en_err_t *err)
{
    *out = calloc(n ? n : 1, sizeof(en_ingress_rule_t));
    for (size_t i = 0; i < n; i++)
        if (s_rule_from(in[i], &(*out)[i], err)) {
            en_ingress_rules_free(out, n);
            return -1;
        }
    return 0;
}

En__IngressRule **
fw_rules_to(en_arena_t *a, const en_ingress_rule_t *rules, size_t n)
{
    En__IngressRule **out = en_arena_array(a, n ? n : 1, sizeof(En__IngressRule *));
    for (size_t i = 0; i < n; i++) {
        En__IngressRule *r = en_arena_alloc(a, sizeof *r);
        en__ingress_rule__init(r);
        r->port_range = en_arena_alloc(a, sizeof *r->port_range);
        en__port_range__init(r->port_range);
        r->port_range->from_port = rules[i].range.from;
        r->port_range->to_port = rules[i].range.to;
        r->port_range->protocol = en_arena_strdup(a, rules[i].range.protocol);
        r->source_cidrs = en_arena_array(a, rules[i].cidr_count + 1, sizeof(char *));
        for (size_t c = 0; c < rules[i].cidr_count; c++)
            r->source_cidrs[r->n_source_cidrs++] = en_arena_strdup(a, rules[i].cidrs[c]);
        out[i] = r;
    }
    return out;
}

//  --------------------------------------------------------------------------
//  Service

static void *
s_thread_init(void *service, en_err_t *err)
{
    firewaller_t *self = service;
    fw_thread_t *t = calloc(1, sizeof *t);
    t->fw = self;
    t->seed = (unsigned)en_mono_ms() ^ (unsigned)(uintptr_t)t;
    t->svc = en_modelsvc_new(self->base.home, self->base.gateways, "firewalling", err);
    if (!t->svc) {
        free(t);
        return NULL;
    }
    return t;
}

static void
s_thread_fini(void *service, void *state)
{
    (void)service;
    fw_thread_t *t = state;
    en_modelsvc_destroy(&t->svc);
    free(t);
}

firewaller_t *
firewaller_new(const char *home, const char *gateways, en_err_t *err)
{
    firewaller_t *self = calloc(1, sizeof *self);
    const en_route_group_t groups[] = {
        {fw_port_routes, fw_port_route_count},
        {fw_group_routes, fw_group_route_count},
    };
    if (en_service_base_init(&self->base, "firewaller", home, gateways, groups,
                             sizeof groups / sizeof groups[0], self, s_thread_init, s_thread_fini,
                             err)) {
        free(self);
        return NULL;
    }
    return self;
}

void
firewaller_destroy(firewaller_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    firewaller_t *self = *self_p;
    en_service_base_fini(&self->base);
    free(self);
    *self_p = NULL;
}

const en_service_def_t *
firewaller_service(firewaller_t *self)
{
    return &self->base.def;
}
