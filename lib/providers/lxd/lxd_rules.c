/*  lxd_rules.c — a security group's rules as LXD network ACL rules: the
    text of a rule, the description of its ACL rule, and the LXD rule JSON
    rendered from that text (lxd_private.h). No calls to LXD here;
    lxd_firewall.c reads and writes the ACLs.

    Every group's rules live in its model's base ACL (lxd_firewall.c), so
    a rule's description names its group: "<group>: <text>", the text the
    rule itself as Juju prints it, always with its canonical, sorted CIDRs:
    "juju-<uuid>-1: 80-100/tcp from 0.0.0.0/0", "juju-<uuid>: icmp from
    10.0.0.0/8,192.168.0.0/16". A group's rules are the ACL's rules with
    its prefix whose rest parses as a rule. rules() reads the texts back,
    so a rule comes back exactly as stored; the LXD fields (protocol
    tcp|udp|icmp4, destination_port, source, "" for anywhere) are
    rendered from it, for a destination (the whole bridge "", or a machine
    group's member /32s) and enabled or disabled (a machine group with no
    running member). A machine group's rule is live only while it is
    enabled for exactly its members' addresses of today (lxd_texts_live),
    which the firewall reads back.

    A write edits one group's rules only: every other rule of the ACL
    (other groups', and any not ours) is kept as it is, where it is, and
    the group's rules are rendered again, in rule order, where its first
    rule stood (at the end when it had none). So a write that changes
    nothing renders the list it read, and two writers of one group render
    the same list. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "providers/lxd/lxd_private.h"

#define S_ANYWHERE "0.0.0.0/0"

//  --------------------------------------------------------------------------
//  A rule: its text (the description) and its LXD form

//  A rule checked and in its text form "<range> from <cidrs>", the CIDRs
//  canonical, sorted and joined (0.0.0.0/0 when none); malloc'd.
static int
s_rule_text(const en_ingress_rule_t *rule, char **text, en_err_t *err)
{
    en_port_range_t r = rule->range;
    for (size_t i = 0; i < sizeof r.protocol && r.protocol[i]; i++)
        r.protocol[i] = (char)tolower((unsigned char)r.protocol[i]);
    bool icmp = strcmp(r.protocol, "icmp") == 0;
    bool ports = strcmp(r.protocol, "tcp") == 0 || strcmp(r.protocol, "udp") == 0;
    if (!icmp && !ports)
        return en_err_set(err, EN_NOT_VALID,
                          "invalid protocol \"%s\", expected \"tcp\", \"udp\", or \"icmp\"",
                          r.protocol);
    if (icmp && (r.from != -1 || r.to != -1))
        return en_err_set(err, EN_NOT_VALID,
                          "protocol \"icmp\" doesn't support any ports; got \"%d\"", r.from);
    if (ports && (r.from < 0 || r.from > r.to || r.to > 65535))
        return en_err_set(err, EN_NOT_VALID, "invalid port range %d-%d/%s", r.from, r.to,
                          r.protocol);
    if (rule->cidr_count && !rule->cidrs)
        return en_err_set(err, EN_NOT_VALID, "CIDRs not specified");
    //  The library's parser canonicalises; it is handed a range that
    //  always validates (the ports were checked above).
    en_port_range_t any = {.from = -1, .to = -1, .protocol = "icmp"};
    en_ingress_rule_t canon;
    if (en_ingress_rule_init(&canon, &any, (const char *const *)rule->cidrs, rule->cidr_count, err))
        return -1;
    if (canon.cidr_count > 1)
        qsort(canon.cidrs, canon.cidr_count, sizeof(char *), lxd_strcmp_p);
    char range[32];
    en_port_range_format(&r, range, sizeof range);
    size_t size = strlen(range) + sizeof " from " + sizeof S_ANYWHERE;
    for (size_t i = 0; i < canon.cidr_count; i++)
        size += strlen(canon.cidrs[i]) + 1;
    *text = malloc(size);
    if (!*text) {
        en_ingress_rule_clear(&canon);
        return en_err_set(err, EN_INTERNAL, "out of memory");
    }
    size_t used =
        (size_t)snprintf(*text, size, "%s from %s", range, canon.cidr_count ? "" : S_ANYWHERE);
    for (size_t i = 0; i < canon.cidr_count; i++)
        used += (size_t)snprintf(*text + used, size - used, "%s%s", i ? "," : "", canon.cidrs[i]);
    en_ingress_rule_clear(&canon);
    return 0;
}

int
lxd_rule_parse(const char *text, en_ingress_rule_t *rule)
{
    memset(rule, 0, sizeof *rule);
    const char *from = strstr(text, " from ");
    if (!from || from == text || !from[6])
        return -1;
    char range[32];
    if ((size_t)(from - text) >= sizeof range)
        return -1;
    memcpy(range, text, (size_t)(from - text));
    range[from - text] = '\0';
    en_port_range_t *r = &rule->range;
    int a, b, used = 0;
    char proto[EN_PROTOCOL_MAX];
    if (strcmp(range, "icmp") == 0)
        *r = (en_port_range_t){.from = -1, .to = -1, .protocol = "icmp"};
    else if (sscanf(range, "%d-%d/%7[a-z]%n", &a, &b, proto, &used) == 3 && !range[used])
        *r = (en_port_range_t){.from = a, .to = b};
    else if (sscanf(range, "%d/%7[a-z]%n", &a, proto, &used) == 2 && !range[used])
        *r = (en_port_range_t){.from = a, .to = a};
    else
        return -1;
    if (strcmp(range, "icmp") != 0) {
        if (strcmp(proto, "tcp") != 0 && strcmp(proto, "udp") != 0)
            return -1;
        snprintf(r->protocol, sizeof r->protocol, "%s", proto);
    }
    const char *cidrs = from + 6;
    size_t n = 1;
    for (const char *c = cidrs; *c; c++)
        n += *c == ',';
    if (!(rule->cidrs = calloc(n, sizeof(char *))))
        return -1;
    for (const char *p = cidrs; rule->cidr_count < n;) {
        size_t len = strcspn(p, ",");
        if (len == 0 || !(rule->cidrs[rule->cidr_count] = strndup(p, len))) {
            en_ingress_rule_clear(rule);
            return -1;
        }
        rule->cidr_count++;
        p += len + (p[len] == ',');
    }
    return 0;
}

//  The rule text of an ACL rule's description when the rule is group's
//  ("<group>: <text>", the text one of ours); NULL when it is not.
static const char *
s_text_of(const char *description, const char *group)
{
    size_t len = strlen(group);
    if (strncmp(description, group, len) != 0 || strncmp(description + len, ": ", 2) != 0)
        return NULL;
    const char *text = description + len + 2;
    en_ingress_rule_t parsed;
    if (lxd_rule_parse(text, &parsed))
        return NULL;
    en_ingress_rule_clear(&parsed);
    return text;
}

//  The LXD ingress rule of group's rule text. destination "" is the whole
//  bridge; disabled keeps the rule without applying it.
static json_t *
s_rule_render(const char *group, const char *text, const char *destination, bool disabled)
{
    en_ingress_rule_t rule;
    if (lxd_rule_parse(text, &rule))
        return NULL;
    bool icmp = strcmp(rule.range.protocol, "icmp") == 0;
    bool anywhere = rule.cidr_count == 1 && strcmp(rule.cidrs[0], S_ANYWHERE) == 0;
    const char *sources = strstr(text, " from ") + 6;
    char ports[16];
    if (rule.range.from == rule.range.to)
        snprintf(ports, sizeof ports, "%d", rule.range.from);
    else
        snprintf(ports, sizeof ports, "%d-%d", rule.range.from, rule.range.to);
    json_t *out =
        json_pack("{s:s, s:s, s:s, s:s, s:s, s:o}", "action", "allow", "state",
                  disabled ? "disabled" : "enabled", "protocol",
                  icmp ? "icmp4" : rule.range.protocol, "source", anywhere ? "" : sources,
                  "destination", destination, "description", json_sprintf("%s: %s", group, text));
    if (out && !icmp)
        json_object_set_new(out, "destination_port", json_string(ports));
    en_ingress_rule_clear(&rule);
    return out;
}

//  Whether two LXD rules are the same (LXD leaves out empty fields).
static bool
s_rule_same(json_t *a, json_t *b)
{
    static const char *const fields[] = {
        "action",           "state",       "protocol",  "source",    "destination",
        "destination_port", "source_port", "icmp_type", "icmp_code", "description"};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        if (strcmp(lxd_str(a, fields[i]), lxd_str(b, fields[i])) != 0)
            return false;
    return true;
}

//  --------------------------------------------------------------------------
//  Sets of rule texts

void
lxd_texts_clear(lxd_texts_t *t)
{
    lxd_names_free(&t->texts, t->count);
    t->count = 0;
}

bool
lxd_texts_has(const lxd_texts_t *t, const char *text)
{
    for (size_t i = 0; i < t->count; i++)
        if (strcmp(t->texts[i], text) == 0)
            return true;
    return false;
}

int
lxd_texts_add(lxd_texts_t *t, const char *text, en_err_t *err)
{
    if (lxd_texts_has(t, text))
        return 0;
    return lxd_names_push(&t->texts, &t->count, text, strlen(text), err);
}

void
lxd_texts_remove(lxd_texts_t *t, const char *text)
{
    for (size_t i = 0; i < t->count; i++)
        if (strcmp(t->texts[i], text) == 0) {
            free(t->texts[i]);
            t->texts[i] = t->texts[--t->count];
            return;
        }
}

int
lxd_texts_of(const en_ingress_rule_t *rules, size_t n, lxd_texts_t *t, en_err_t *err)
{
    memset(t, 0, sizeof *t);
    if (n && !rules)
        return en_err_set(err, EN_NOT_VALID, "rules not specified");
    for (size_t i = 0; i < n; i++) {
        char *text;
        if (s_rule_text(&rules[i], &text, err)) {
            lxd_texts_clear(t);
            return -1;
        }
        int rc = lxd_texts_add(t, text, err);
        free(text);
        if (rc) {
            lxd_texts_clear(t);
            return -1;
        }
    }
    return 0;
}

//  --------------------------------------------------------------------------
//  An ACL's ingress list

//  Texts in rule order (en_ingress_rule_cmp), then by text.
static int
s_rule_cmp_text(const void *a, const void *b)
{
    en_ingress_rule_t ra, rb;
    const char *ta = *(char *const *)a, *tb = *(char *const *)b;
    if (lxd_rule_parse(ta, &ra) || lxd_rule_parse(tb, &rb)) {
        en_ingress_rule_clear(&ra);
        return strcmp(ta, tb);
    }
    int c = en_ingress_rule_cmp(&ra, &rb);
    en_ingress_rule_clear(&ra);
    en_ingress_rule_clear(&rb);
    return c ? c : strcmp(ta, tb);
}

//  Append each of want (sorted) rendered as group's to out.
static int
s_ingress_ours(json_t *out, const char *group, lxd_texts_t *want, const char *dest, bool disabled)
{
    if (want->count > 1)
        qsort(want->texts, want->count, sizeof(char *), s_rule_cmp_text);
    for (size_t i = 0; i < want->count; i++) {
        json_t *r = s_rule_render(group, want->texts[i], dest, disabled);
        if (!r || json_array_append_new(out, r))
            return -1;
    }
    return 0;
}

json_t *
lxd_ingress_build(json_t *old, const char *group, lxd_texts_t *want, const char *dest,
                  bool disabled)
{
    json_t *out = json_array();
    bool placed = false;
    size_t i;
    json_t *rule;
    int rc = out ? 0 : -1;
    json_array_foreach(old, i, rule)
    {
        if (rc)
            break;
        if (!s_text_of(lxd_str(rule, "description"), group))
            rc = json_array_append(out, rule);
        else if (!placed) {
            placed = true;
            rc = s_ingress_ours(out, group, want, dest, disabled);
        }
    }
    if (rc == 0 && !placed)
        rc = s_ingress_ours(out, group, want, dest, disabled);
    if (rc) {
        json_decref(out);
        return NULL;
    }
    return out;
}

bool
lxd_ingress_same(json_t *a, json_t *b)
{
    if (json_array_size(a) != json_array_size(b))
        return false;
    for (size_t i = 0; i < json_array_size(a); i++)
        if (!s_rule_same(json_array_get(a, i), json_array_get(b, i)))
            return false;
    return true;
}

//  Whether every item of the comma list a is in b.
static bool
s_list_within(const char *a, const char *b)
{
    for (const char *p = a; *p;) {
        size_t len = strcspn(p, ",");
        char item[64];
        if (len >= sizeof item)
            return false;
        memcpy(item, p, len);
        item[len] = '\0';
        if (!lxd_list_has(b, item))
            return false;
        p += len + (p[len] == ',');
    }
    return true;
}

//  Whether an LXD rule applies, for exactly the destination dest (a comma
//  list, compared as a set).
static bool
s_rule_live(json_t *rule, const char *dest)
{
    const char *at = lxd_str(rule, "destination");
    return strcmp(lxd_str(rule, "state"), "enabled") == 0 && s_list_within(at, dest) &&
           s_list_within(dest, at);
}

//  The texts of group's rules, or of those live for dest (NULL: all).
static int
s_texts(json_t *acl, const char *group, const char *dest, lxd_texts_t *t, en_err_t *err)
{
    memset(t, 0, sizeof *t);
    size_t i;
    json_t *rule;
    json_array_foreach(json_object_get(acl, "ingress"), i, rule)
    {
        const char *text = s_text_of(lxd_str(rule, "description"), group);
        if (!text || (dest && !s_rule_live(rule, dest)))
            continue;
        if (lxd_texts_add(t, text, err)) {
            lxd_texts_clear(t);
            return -1;
        }
    }
    return 0;
}

int
lxd_texts_in(json_t *acl, const char *group, lxd_texts_t *t, en_err_t *err)
{
    return s_texts(acl, group, NULL, t, err);
}

int
lxd_texts_live(json_t *acl, const char *group, const char *dest, lxd_texts_t *t, en_err_t *err)
{
    return s_texts(acl, group, dest ? dest : "", t, err);
}
