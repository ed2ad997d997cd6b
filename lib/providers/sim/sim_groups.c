/*  sim_groups.c — the sim cloud's security groups, their ingress rules and
    which instances are in them (EC2's model, ingress only).

    A group is a row of `groups`, unique by (region, name), with its tags in
    `group_tags`. A rule is a row of `rules` keyed by the whole rule: group,
    protocol, ports and the CIDR set as one text, the canonical CIDRs sorted
    and joined by ',' ("0.0.0.0/0" when none were given). So authorize is
    INSERT OR IGNORE (a rule already there stays as it is, the rest are
    added: statements 68, 69), revoke is a DELETE that may match nothing
    (statement 70), and rules come back exactly as they went in (73) in
    en_ingress_rule_cmp order, which is SQLite's order on those columns.

    Memberships are written by create, in its transaction (sim_groups_join),
    and kept after the instance terminates, as EC2 keeps describing a
    terminated instance's groups; only a live member makes a group "in use"
    for delete. They go when the instance is forgotten (ON DELETE CASCADE).

    instance_rules is authorize, revoke and rules in one call, guarded by a
    member: only while the instance is in the group (live, and visible as
    describe would see it) and the group carries the tags asked for. An
    instance firewaller's group is named and tagged for its machine and
    the instance was created in it, so the guard proves the pairing that a
    describe would, inside the same transaction as the change.

    Every API function is one call through the gate (sim_call_begin) and one
    transaction, run by s_call; the console views at the end pass no gate. */
#include "providers/sim/sim_private.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_GROUP_NAME_MAX 255
#define S_ANYWHERE "0.0.0.0/0"

//  The arguments and results of one API call, for s_call's bodies.
typedef struct {
    const char *region;
    const char *group;
    const en_sim_tag_t *tags;
    size_t tag_count;
    const en_ingress_rule_t *rules;
    size_t rule_count;
    bool add;
    const char *instance_id;        //  instance_rules: the guarding member
    const en_ingress_rule_t *drops; //  instance_rules: revoked after rules
    size_t drop_count;
    bool read_back; //  instance_rules: fill rules_out
    bool member;    //  instance_rules: the guard held
    char **names;
    size_t name_count;
    en_ingress_rule_t *rules_out;
    size_t rules_out_count;
} s_args_t;

typedef int(s_body_fn)(en_sim_cloud_t *self, s_args_t *a, en_err_t *err);

//  One API call: through the gate, then body inside one transaction.
static int
s_call(en_sim_cloud_t *self, const char *method, bool write, s_body_fn *body, s_args_t *a,
       en_err_t *err)
{
    if (sim_call_begin(self, method, err))
        return -1;
    int rc = write ? sim_tx_write(self, err) : sim_tx_read(self, err);
    if (rc == 0) {
        rc = body(self, a, err);
        if (rc == 0 && write)
            rc = sim_tx_commit(self, err);
        else
            sim_tx_rollback(self);
    }
    sim_call_end(self);
    return rc;
}

static int
s_step_done(en_sim_cloud_t *self, sqlite3_stmt *stmt, const char *what, en_err_t *err)
{
    int rc = sqlite3_step(stmt);
    sqlite3_finalize(stmt);
    if (rc != SQLITE_DONE)
        return sim_db_fail(self, rc, what, err);
    return 0;
}

static int
s_check_name(const char *name, en_err_t *err)
{
    if (!name || !*name || strlen(name) > S_GROUP_NAME_MAX)
        return en_err_set(err, EN_NOT_VALID, "security group name \"%s\" not valid",
                          name ? name : "");
    return 0;
}

//  The group's row id in the region; 0 when there is none.
static int
s_group_id(en_sim_cloud_t *self, const char *region, const char *name, int64_t *id, en_err_t *err)
{
    sqlite3_stmt *stmt;
    if (sim_prepare(self, "SELECT id FROM groups WHERE region = ?1 AND name = ?2", &stmt, err))
        return -1;
    sqlite3_bind_text(stmt, 1, region, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 2, name, -1, SQLITE_STATIC);
    int rc = sqlite3_step(stmt);
    *id = rc == SQLITE_ROW ? sqlite3_column_int64(stmt, 0) : 0;
    sqlite3_finalize(stmt);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return sim_db_fail(self, rc, "reading groups", err);
    return 0;
}

//  As s_group_id, but a missing group is NOT_FOUND (so is a NULL name).
static int
s_group_existing(en_sim_cloud_t *self, const char *region, const char *name, int64_t *id,
                 en_err_t *err)
{
    if (s_check_name(name, err) || s_group_id(self, region, name, id, err))
        return -1;
    if (!*id)
        return en_err_set(err, EN_NOT_FOUND, "security group \"%s\" not found", name);
    return 0;
}

//  Step a prepared, bound statement and collect its first column.
static int
s_names(en_sim_cloud_t *self, sqlite3_stmt *stmt, char ***names, size_t *count, en_err_t *err)
{
    size_t capacity = 0;
    int rc;
    *names = NULL;
    *count = 0;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        const unsigned char *text = sqlite3_column_text(stmt, 0);
        char *copy = strdup(text ? (const char *)text : "");
        if (!copy || sim_grow((void **)names, &capacity, *count, sizeof **names)) {
            free(copy);
            rc = SQLITE_NOMEM;
            break;
        }
        (*names)[(*count)++] = copy;
    }
    sqlite3_finalize(stmt);
    if (rc != SQLITE_DONE) {
        en_sim_names_free(names, *count);
        *count = 0;
        return sim_db_fail(self, rc, "reading names", err);
    }
    return 0;
}

//  A query of groups g whose tags must match a->tags (list_groups' tag
//  filters): head, the filters as parameters from ?first on, bound, then
//  tail. The caller binds the parameters before ?first.
static int
s_prepare_filtered(en_sim_cloud_t *self, const char *head, int first, const s_args_t *a,
                   const char *tail, sqlite3_stmt **stmt, en_err_t *err)
{
    char *sql =
        sim_filter_sql(head, "group_tags t WHERE t.group_id = g.id", first, a->tag_count, tail);
    if (!sql)
        return en_err_set(err, EN_INTERNAL, "out of memory");
    int rc = sim_prepare(self, sql, stmt, err);
    free(sql);
    if (rc)
        return -1;
    sim_filters_bind(*stmt, first, a->tags, a->tag_count);
    return 0;
}

//  --- rules ---

//  A rule as its row: protocol, ports and the CIDR set's text.
typedef struct {
    char protocol[EN_PROTOCOL_MAX];
    int from, to;
    char *cidrs;
} s_key_t;

static int
s_strcmp_ptr(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

//  The CIDRs canonical (the library's parser), sorted and joined.
static int
s_cidr_text(const en_ingress_rule_t *rule, char **text, en_err_t *err)
{
    //  The ports were checked against EC2's bounds already, which are wider
    //  than Juju's; the parser is handed a range that always validates.
    en_port_range_t any = {.from = -1, .to = -1, .protocol = "icmp"};
    en_ingress_rule_t canon;
    if (en_ingress_rule_init(&canon, &any, (const char *const *)rule->cidrs, rule->cidr_count, err))
        return -1;
    if (canon.cidr_count > 1)
        qsort(canon.cidrs, canon.cidr_count, sizeof(char *), s_strcmp_ptr);
    size_t size = sizeof S_ANYWHERE;
    for (size_t i = 0; i < canon.cidr_count; i++)
        size += strlen(canon.cidrs[i]) + 1;
    *text = malloc(size);
    if (!*text) {
        en_ingress_rule_clear(&canon);
        return en_err_set(err, EN_INTERNAL, "out of memory");
    }
    size_t used = (size_t)snprintf(*text, size, "%s", canon.cidr_count ? "" : S_ANYWHERE);
    for (size_t i = 0; i < canon.cidr_count; i++)
        used += (size_t)snprintf(*text + used, size - used, "%s%s", i ? "," : "", canon.cidrs[i]);
    en_ingress_rule_clear(&canon);
    return 0;
}

static int
s_rule_key(const en_ingress_rule_t *rule, s_key_t *key, en_err_t *err)
{
    memset(key, 0, sizeof *key);
    const en_port_range_t *r = &rule->range;
    for (size_t i = 0; i + 1 < sizeof key->protocol && r->protocol[i]; i++)
        key->protocol[i] = (char)tolower((unsigned char)r->protocol[i]);
    bool icmp = strcmp(key->protocol, "icmp") == 0;
    bool ports = strcmp(key->protocol, "tcp") == 0 || strcmp(key->protocol, "udp") == 0;
    if (!icmp && !ports)
        return en_err_set(err, EN_NOT_VALID,
                          "invalid protocol \"%s\", expected \"tcp\", \"udp\", or \"icmp\"",
                          key->protocol);
    if (icmp && (r->from != -1 || r->to != -1))
        return en_err_set(err, EN_NOT_VALID,
                          "protocol \"icmp\" doesn't support any ports; got \"%d\"", r->from);
    if (ports && (r->from < 0 || r->from > r->to || r->to > 65535))
        return en_err_set(err, EN_NOT_VALID, "invalid port range %d-%d/%s", r->from, r->to,
                          key->protocol);
    if (rule->cidr_count && !rule->cidrs)
        return en_err_set(err, EN_NOT_VALID, "CIDRs not specified");
    key->from = r->from;
    key->to = r->to;
    return s_cidr_text(rule, &key->cidrs, err);
}

//  Split a stored CIDR set back into the rule.
static int
s_split_cidrs(const char *text, en_ingress_rule_t *rule)
{
    size_t n = 1;
    for (const char *c = text; *c; c++)
        n += *c == ',';
    rule->cidrs = calloc(n, sizeof(char *));
    if (!rule->cidrs)
        return -1;
    for (const char *start = text; rule->cidr_count < n;) {
        size_t len = strcspn(start, ",");
        if (!(rule->cidrs[rule->cidr_count] = strndup(start, len)))
            return -1;
        rule->cidr_count++;
        start += len + (start[len] == ',');
    }
    return 0;
}

static int
s_load_rules(en_sim_cloud_t *self, int64_t group_id, en_ingress_rule_t **rules, size_t *n,
             en_err_t *err)
{
    sqlite3_stmt *stmt;
    *rules = NULL;
    *n = 0;
    if (sim_prepare(self,
                    "SELECT protocol, from_port, to_port, cidrs FROM rules WHERE group_id = ?1"
                    " ORDER BY protocol, from_port, to_port, cidrs",
                    &stmt, err))
        return -1;
    sqlite3_bind_int64(stmt, 1, group_id);
    size_t capacity = 0;
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        if (sim_grow((void **)rules, &capacity, *n, sizeof **rules)) {
            rc = SQLITE_NOMEM;
            break;
        }
        en_ingress_rule_t *rule = &(*rules)[(*n)++];
        memset(rule, 0, sizeof *rule);
        sim_copy_text(rule->range.protocol, sizeof rule->range.protocol, stmt, 0);
        rule->range.from = sqlite3_column_int(stmt, 1);
        rule->range.to = sqlite3_column_int(stmt, 2);
        const unsigned char *cidrs = sqlite3_column_text(stmt, 3);
        if (s_split_cidrs(cidrs ? (const char *)cidrs : S_ANYWHERE, rule)) {
            rc = SQLITE_NOMEM;
            break;
        }
    }
    sqlite3_finalize(stmt);
    if (rc != SQLITE_DONE) {
        en_ingress_rules_free(rules, *n);
        *n = 0;
        return sim_db_fail(self, rc, "reading rules", err);
    }
    return 0;
}

//  --- API bodies ---

static int
s_ensure_body(en_sim_cloud_t *self, s_args_t *a, en_err_t *err)
{
    int64_t id;
    if (s_check_name(a->group, err) || sim_check_tags(a->tags, a->tag_count, err) ||
        sim_region_index(self, a->region, NULL, err) ||
        s_group_id(self, a->region, a->group, &id, err))
        return -1;
    if (id)
        return 0; //  there already; its tags are its creator's
    sqlite3_stmt *stmt;
    if (sim_prepare(self, "INSERT INTO groups (region, name, created_ms) VALUES (?1, ?2, ?3)",
                    &stmt, err))
        return -1;
    sqlite3_bind_text(stmt, 1, a->region, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 2, a->group, -1, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 3, sim_now_ms());
    if (s_step_done(self, stmt, "creating a group", err))
        return -1;
    id = sqlite3_last_insert_rowid(self->db);
    if (sim_prepare(self,
                    "INSERT INTO group_tags (group_id, seq, key, value) VALUES (?1, ?2, ?3, ?4)",
                    &stmt, err))
        return -1;
    int rc = SQLITE_DONE;
    sqlite3_bind_int64(stmt, 1, id);
    for (size_t i = 0; i < a->tag_count && rc == SQLITE_DONE; i++) {
        sqlite3_reset(stmt);
        sqlite3_bind_int64(stmt, 2, (int64_t)i + 1);
        sqlite3_bind_text(stmt, 3, a->tags[i].key, -1, SQLITE_STATIC);
        sqlite3_bind_text(stmt, 4, a->tags[i].value, -1, SQLITE_STATIC);
        rc = sqlite3_step(stmt);
    }
    sqlite3_finalize(stmt);
    if (rc != SQLITE_DONE)
        return sim_db_fail(self, rc, "tagging a group", err);
    return 0;
}

static int
s_delete_body(en_sim_cloud_t *self, s_args_t *a, en_err_t *err)
{
    int64_t id;
    if (s_check_name(a->group, err) || sim_region_index(self, a->region, NULL, err) ||
        s_group_id(self, a->region, a->group, &id, err))
        return -1;
    if (!id)
        return 0; //  already gone
    sqlite3_stmt *stmt;
    if (sim_prepare(self,
                    "SELECT 1 FROM memberships m JOIN instances i ON i.id = m.instance_id"
                    " WHERE m.group_id = ?1 AND i.terminated_ms IS NULL LIMIT 1",
                    &stmt, err))
        return -1;
    sqlite3_bind_int64(stmt, 1, id);
    int rc = sqlite3_step(stmt);
    sqlite3_finalize(stmt);
    if (rc == SQLITE_ROW)
        return en_err_set(err, EN_UNAVAILABLE, "security group \"%s\" is in use", a->group);
    if (rc != SQLITE_DONE)
        return sim_db_fail(self, rc, "reading memberships", err);
    //  Rules, tags and the memberships of terminated instances cascade.
    if (sim_prepare(self, "DELETE FROM groups WHERE id = ?1", &stmt, err))
        return -1;
    sqlite3_bind_int64(stmt, 1, id);
    return s_step_done(self, stmt, "deleting a group", err);
}

static int
s_list_body(en_sim_cloud_t *self, s_args_t *a, en_err_t *err)
{
    if (sim_filters_check(a->tags, a->tag_count, err) ||
        sim_region_index(self, a->region, NULL, err))
        return -1;
    sqlite3_stmt *stmt;
    if (s_prepare_filtered(self, "SELECT g.name FROM groups g WHERE g.region = ?1", 2, a,
                           " ORDER BY g.name", &stmt, err))
        return -1;
    sqlite3_bind_text(stmt, 1, a->region, -1, SQLITE_STATIC);
    return s_names(self, stmt, &a->names, &a->name_count, err);
}

//  Add (or remove) rules of the group, inside the caller's transaction. A
//  bad rule fails the call, and the caller's transaction rolls back, so it
//  changes nothing.
static int
s_change_rules(en_sim_cloud_t *self, int64_t id, const en_ingress_rule_t *rules, size_t n, bool add,
               en_err_t *err)
{
    if (n == 0)
        return 0;
    if (!rules)
        return en_err_set(err, EN_NOT_VALID, "rules not specified");
    sqlite3_stmt *stmt;
    if (sim_prepare(self,
                    add ? "INSERT OR IGNORE INTO rules (group_id, protocol, from_port, to_port,"
                          " cidrs) VALUES (?1, ?2, ?3, ?4, ?5)"
                        : "DELETE FROM rules WHERE group_id = ?1 AND protocol = ?2"
                          " AND from_port = ?3 AND to_port = ?4 AND cidrs = ?5",
                    &stmt, err))
        return -1;
    sqlite3_bind_int64(stmt, 1, id);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        s_key_t key;
        if (s_rule_key(&rules[i], &key, err)) {
            rc = -1;
            break;
        }
        sqlite3_reset(stmt);
        sqlite3_bind_text(stmt, 2, key.protocol, -1, SQLITE_STATIC);
        sqlite3_bind_int(stmt, 3, key.from);
        sqlite3_bind_int(stmt, 4, key.to);
        sqlite3_bind_text(stmt, 5, key.cidrs, -1, SQLITE_STATIC);
        int step = sqlite3_step(stmt);
        free(key.cidrs);
        if (step != SQLITE_DONE)
            rc = sim_db_fail(self, step, add ? "authorizing" : "revoking", err);
    }
    sqlite3_finalize(stmt);
    return rc;
}

//  authorize (a->add) and revoke.
static int
s_change_body(en_sim_cloud_t *self, s_args_t *a, en_err_t *err)
{
    int64_t id;
    if (a->rule_count && !a->rules)
        return en_err_set(err, EN_NOT_VALID, "rules not specified");
    if (sim_region_index(self, a->region, NULL, err) ||
        s_group_existing(self, a->region, a->group, &id, err))
        return -1;
    return s_change_rules(self, id, a->rules, a->rule_count, a->add, err);
}

//  Whether the guard of instance_rules holds: the instance is a member of
//  the group, not terminated and past the consistency delay, and the
//  group carries every tag of a->tags.
static int
s_guard(en_sim_cloud_t *self, int64_t group_id, const s_args_t *a, bool *holds, en_err_t *err)
{
    int64_t delay;
    *holds = false;
    if (sim_filters_check(a->tags, a->tag_count, err) ||
        sim_knob_int(self, "consistency_delay_ms", &delay, err))
        return -1;
    sqlite3_stmt *stmt;
    if (s_prepare_filtered(self,
                           "SELECT 1 FROM groups g JOIN memberships m ON m.group_id = g.id"
                           " JOIN instances i ON i.id = m.instance_id"
                           " WHERE g.id = ?1 AND m.instance_id = ?2"
                           " AND i.terminated_ms IS NULL AND i.created_ms + ?3 <= ?4",
                           5, a, "", &stmt, err))
        return -1;
    sqlite3_bind_int64(stmt, 1, group_id);
    sqlite3_bind_text(stmt, 2, a->instance_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 3, delay);
    sqlite3_bind_int64(stmt, 4, sim_now_ms());
    int rc = sqlite3_step(stmt);
    sqlite3_finalize(stmt);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return sim_db_fail(self, rc, "reading memberships", err);
    *holds = rc == SQLITE_ROW;
    return 0;
}

static int
s_rules_body(en_sim_cloud_t *self, s_args_t *a, en_err_t *err)
{
    int64_t id;
    if (sim_region_index(self, a->region, NULL, err) ||
        s_group_existing(self, a->region, a->group, &id, err))
        return -1;
    return s_load_rules(self, id, &a->rules_out, &a->rules_out_count, err);
}

//  instance_rules: nothing happens unless the guard holds.
static int
s_instance_rules_body(en_sim_cloud_t *self, s_args_t *a, en_err_t *err)
{
    int64_t id;
    if (!a->instance_id)
        return en_err_set(err, EN_NOT_VALID, "instance id not specified");
    if (sim_region_index(self, a->region, NULL, err) || s_check_name(a->group, err) ||
        s_group_id(self, a->region, a->group, &id, err))
        return -1;
    if (!id)
        return 0; //  no group: no member
    if (s_guard(self, id, a, &a->member, err))
        return -1;
    if (!a->member)
        return 0;
    if (s_change_rules(self, id, a->rules, a->rule_count, true, err) ||
        s_change_rules(self, id, a->drops, a->drop_count, false, err))
        return -1;
    return a->read_back ? s_load_rules(self, id, &a->rules_out, &a->rules_out_count, err) : 0;
}

//  --- API ---

int
en_sim_cloud_ensure_group(en_sim_cloud_t *self, const char *region, const char *name,
                          const en_sim_tag_t *tags, size_t tag_count, en_err_t *err)
{
    s_args_t a = {.region = region, .group = name, .tags = tags, .tag_count = tag_count};
    return s_call(self, "ensure_group", true, s_ensure_body, &a, err);
}

int
en_sim_cloud_delete_group(en_sim_cloud_t *self, const char *region, const char *name, en_err_t *err)
{
    s_args_t a = {.region = region, .group = name};
    return s_call(self, "delete_group", true, s_delete_body, &a, err);
}

int
en_sim_cloud_list_groups(en_sim_cloud_t *self, const char *region, const en_sim_tag_t *filters,
                         size_t filter_count, char ***names, size_t *count, en_err_t *err)
{
    s_args_t a = {.region = region, .tags = filters, .tag_count = filter_count};
    int rc = s_call(self, "list_groups", false, s_list_body, &a, err);
    *names = a.names;
    *count = a.name_count;
    return rc;
}

int
en_sim_cloud_authorize(en_sim_cloud_t *self, const char *region, const char *group,
                       const en_ingress_rule_t *rules, size_t n, en_err_t *err)
{
    s_args_t a = {.region = region, .group = group, .rules = rules, .rule_count = n, .add = true};
    return s_call(self, "authorize", true, s_change_body, &a, err);
}

int
en_sim_cloud_revoke(en_sim_cloud_t *self, const char *region, const char *group,
                    const en_ingress_rule_t *rules, size_t n, en_err_t *err)
{
    s_args_t a = {.region = region, .group = group, .rules = rules, .rule_count = n};
    return s_call(self, "revoke", true, s_change_body, &a, err);
}

int
en_sim_cloud_rules(en_sim_cloud_t *self, const char *region, const char *group,
                   en_ingress_rule_t **rules, size_t *n, en_err_t *err)
{
    s_args_t a = {.region = region, .group = group};
    int rc = s_call(self, "rules", false, s_rules_body, &a, err);
    *rules = a.rules_out;
    *n = a.rules_out_count;
    return rc;
}

int
en_sim_cloud_instance_rules(en_sim_cloud_t *self, const char *region,
                            const en_sim_instance_rules_t *op, bool *member,
                            en_ingress_rule_t **rules, size_t *n, en_err_t *err)
{
    s_args_t a = {.region = region,
                  .group = op->group,
                  .instance_id = op->instance_id,
                  .tags = op->tags,
                  .tag_count = op->tag_count,
                  .rules = op->authorize,
                  .rule_count = op->authorize_count,
                  .drops = op->revoke,
                  .drop_count = op->revoke_count,
                  .read_back = rules != NULL};
    bool write = op->authorize_count || op->revoke_count;
    int rc = s_call(self, "instance_rules", write, s_instance_rules_body, &a, err);
    *member = rc == 0 && a.member;
    if (rules) {
        if (rc) //  a failure after the read: nothing was changed, or read
            en_ingress_rules_free(&a.rules_out, a.rules_out_count);
        *rules = a.rules_out;
        *n = rc ? 0 : a.rules_out_count;
    }
    return rc;
}

//  --- create's memberships ---

int
sim_groups_join(en_sim_cloud_t *self, const char *region, const char *instance_id,
                const char *const *groups, size_t group_count, en_err_t *err)
{
    if (group_count == 0)
        return 0;
    if (!groups)
        return en_err_set(err, EN_NOT_VALID, "security groups not specified");
    sqlite3_stmt *stmt;
    if (sim_prepare(self,
                    "INSERT OR IGNORE INTO memberships (instance_id, group_id, seq)"
                    " VALUES (?1, ?2, ?3)",
                    &stmt, err))
        return -1;
    sqlite3_bind_text(stmt, 1, instance_id, -1, SQLITE_STATIC);
    int rc = 0;
    for (size_t i = 0; i < group_count && rc == 0; i++) {
        int64_t id;
        if (s_group_existing(self, region, groups[i], &id, err)) {
            rc = -1;
            break;
        }
        sqlite3_reset(stmt);
        sqlite3_bind_int64(stmt, 2, id);
        sqlite3_bind_int64(stmt, 3, (int64_t)i + 1);
        int step = sqlite3_step(stmt);
        if (step != SQLITE_DONE)
            rc = sim_db_fail(self, step, "joining a group", err);
    }
    sqlite3_finalize(stmt);
    return rc;
}

//  --- operator console ---

static int
s_load_tags(en_sim_cloud_t *self, int64_t group_id, en_sim_group_t *group, en_err_t *err)
{
    sqlite3_stmt *stmt;
    if (sim_prepare(self, "SELECT key, value FROM group_tags WHERE group_id = ?1 ORDER BY seq",
                    &stmt, err))
        return -1;
    sqlite3_bind_int64(stmt, 1, group_id);
    size_t capacity = 0;
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        if (sim_grow((void **)&group->tags, &capacity, group->tag_count, sizeof *group->tags)) {
            rc = SQLITE_NOMEM;
            break;
        }
        en_sim_tag_t *tag = &group->tags[group->tag_count];
        tag->key = strdup((const char *)sqlite3_column_text(stmt, 0));
        tag->value = strdup((const char *)sqlite3_column_text(stmt, 1));
        group->tag_count++;
        if (!tag->key || !tag->value) {
            rc = SQLITE_NOMEM;
            break;
        }
    }
    sqlite3_finalize(stmt);
    if (rc != SQLITE_DONE)
        return sim_db_fail(self, rc, "reading group tags", err);
    return 0;
}

static int
s_load_group(en_sim_cloud_t *self, sqlite3_stmt *row, en_sim_group_t *group, en_err_t *err)
{
    int64_t id = sqlite3_column_int64(row, 0);
    group->name = strdup((const char *)sqlite3_column_text(row, 1));
    group->region = strdup((const char *)sqlite3_column_text(row, 2));
    if (!group->name || !group->region)
        return en_err_set(err, EN_INTERNAL, "out of memory");
    sqlite3_stmt *members;
    if (s_load_tags(self, id, group, err) ||
        s_load_rules(self, id, &group->rules, &group->rule_count, err) ||
        sim_prepare(self,
                    "SELECT m.instance_id FROM memberships m JOIN instances i"
                    " ON i.id = m.instance_id WHERE m.group_id = ?1 AND i.terminated_ms IS NULL"
                    " ORDER BY i.rowid",
                    &members, err))
        return -1;
    sqlite3_bind_int64(members, 1, id);
    return s_names(self, members, &group->members, &group->member_count, err);
}

static int
s_groups_locked(en_sim_cloud_t *self, const char *region, en_sim_group_t **groups, size_t *count,
                en_err_t *err)
{
    sqlite3_stmt *stmt;
    if (sim_region_index(self, region, NULL, err) ||
        sim_prepare(self, "SELECT id, name, region FROM groups WHERE region = ?1 ORDER BY name",
                    &stmt, err))
        return -1;
    sqlite3_bind_text(stmt, 1, region, -1, SQLITE_STATIC);
    size_t capacity = 0;
    int rc = SQLITE_DONE, failed = 0;
    while (!failed && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        if (sim_grow((void **)groups, &capacity, *count, sizeof **groups)) {
            failed = en_err_set(err, EN_INTERNAL, "out of memory");
            break;
        }
        en_sim_group_t *group = &(*groups)[(*count)++];
        memset(group, 0, sizeof *group);
        failed = s_load_group(self, stmt, group, err);
    }
    sqlite3_finalize(stmt);
    if (failed)
        return -1;
    if (rc != SQLITE_DONE)
        return sim_db_fail(self, rc, "reading groups", err);
    return 0;
}

int
en_sim_cloud_groups(en_sim_cloud_t *self, const char *region, en_sim_group_t **groups,
                    size_t *count, en_err_t *err)
{
    *groups = NULL;
    *count = 0;
    if (sim_tx_read(self, err))
        return -1;
    int rc = s_groups_locked(self, region, groups, count, err);
    sim_tx_rollback(self);
    if (rc) {
        en_sim_groups_free(groups, *count);
        *count = 0;
    }
    return rc;
}

int
en_sim_cloud_instance_groups(en_sim_cloud_t *self, const char *instance_id, char ***names,
                             size_t *count, en_err_t *err)
{
    *names = NULL;
    *count = 0;
    if (!instance_id)
        return en_err_set(err, EN_NOT_VALID, "instance id not specified");
    sqlite3_stmt *stmt;
    if (sim_prepare(self,
                    "SELECT g.name FROM memberships m JOIN groups g ON g.id = m.group_id"
                    " WHERE m.instance_id = ?1 ORDER BY m.seq",
                    &stmt, err))
        return -1;
    sqlite3_bind_text(stmt, 1, instance_id, -1, SQLITE_STATIC);
    return s_names(self, stmt, names, count, err);
}

void
en_sim_group_clear(en_sim_group_t *group)
{
    if (!group)
        return;
    free(group->name);
    free(group->region);
    for (size_t i = 0; i < group->tag_count; i++) {
        free((char *)group->tags[i].key);
        free((char *)group->tags[i].value);
    }
    free(group->tags);
    en_ingress_rules_free(&group->rules, group->rule_count);
    en_sim_names_free(&group->members, group->member_count);
    memset(group, 0, sizeof *group);
}

void
en_sim_groups_free(en_sim_group_t **groups_p, size_t count)
{
    if (!groups_p || !*groups_p)
        return;
    for (size_t i = 0; i < count; i++)
        en_sim_group_clear(&(*groups_p)[i]);
    free(*groups_p);
    *groups_p = NULL;
}

void
en_sim_names_free(char ***names_p, size_t count)
{
    if (!names_p || !*names_p)
        return;
    for (size_t i = 0; i < count; i++)
        free((*names_p)[i]);
    free(*names_p);
    *names_p = NULL;
}
