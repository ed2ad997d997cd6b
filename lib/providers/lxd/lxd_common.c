/*  lxd_common.c — what the lxd driver's files share (lxd_private.h), so
    that each thing is done one way: reading LXD's JSON (strings, config,
    user.* tags, an instance state's addresses), writing user.* tags,
    request paths, comma lists and name lists, CIDRs, and the retries of
    LXD's transient failures.

    Retries: the client's classifier (en_lxd_classify) is the one place
    that knows which of LXD's failures are transient; it makes them
    UNAVAILABLE and retryable, and lxd_again retries exactly those, never
    by reading LXD's text. Two policies: a call's (a few tries, backoff up
    to 3 s, shortened by ENVIRONS_RETRY_SCALE in tests) and a race's
    (until a deadline, short waits: writers of one shared object take
    turns). Waits are jittered, the seed mixing the clock with a stack
    address so that threads that failed together wake apart. */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "providers/lxd/lxd_private.h"

//  --------------------------------------------------------------------------
//  JSON

const char *
lxd_str(const json_t *obj, const char *key)
{
    const char *value = json_string_value(json_object_get(obj, key));
    return value ? value : "";
}

const char *
lxd_config(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(json_object_get(obj, "config"), key));
}

const char *
lxd_user(const json_t *obj, const char *tag)
{
    char key[512];
    snprintf(key, sizeof key, "user.%s", tag ? tag : "");
    return lxd_config(obj, key);
}

int
lxd_environment(en_compute_t *self, const json_t **env, en_err_t *err)
{
    const json_t *server = NULL;
    if (en_lxd_server(self->lxd, &server, err))
        return -1;
    *env = json_object_get(server, "environment");
    return 0;
}

const char *
lxd_if_ipv4(const json_t *ifstate, size_t nth)
{
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(ifstate, "addresses"), i, a)
    {
        if (strcmp(lxd_str(a, "family"), "inet") == 0 &&
            strcmp(lxd_str(a, "scope"), "global") == 0 && nth-- == 0)
            return lxd_str(a, "address");
    }
    return NULL;
}

//  --------------------------------------------------------------------------
//  Tags

const char *
lxd_tag(const en_tag_t *tags, size_t count, const char *key)
{
    for (size_t i = 0; i < count; i++)
        if (tags[i].key && strcmp(tags[i].key, key) == 0)
            return tags[i].value;
    return NULL;
}

//  Whether jansson takes text as a string (valid UTF-8; out of memory
//  aside).
static bool
s_utf8(const char *text)
{
    json_t *j = json_string(text);
    json_decref(j);
    return j != NULL;
}

void
lxd_set_user(json_t *config, const en_tag_t *tags, size_t count)
{
    (void)lxd_put_user(config, tags, count, NULL);
}

//  jansson refuses text that is not UTF-8 (json_string answers NULL, and a
//  key is not set): that is the caller's input, so it is an error here,
//  never a tag silently left out.
int
lxd_put_user(json_t *config, const en_tag_t *tags, size_t count, en_err_t *err)
{
    if (!json_is_object(config))
        return en_err_set(err, EN_INTERNAL, "out of memory");
    for (size_t i = 0; i < count; i++) {
        char key[512];
        const char *name = tags[i].key ? tags[i].key : "";
        snprintf(key, sizeof key, "user.%s", name);
        //  json_object_set_new releases value when it fails (a bad key)
        const char *text = tags[i].value ? tags[i].value : "";
        if (json_object_set_new(config, key, json_string(text)) == 0)
            continue;
        bool name_ok = s_utf8(name);
        if (name_ok && s_utf8(text))
            return en_err_set(err, EN_INTERNAL, "out of memory");
        return en_err_set(err, EN_NOT_VALID, "tag \"%s\" is not valid UTF-8", name_ok ? name : "?");
    }
    return 0;
}

bool
lxd_has_tags(const json_t *obj, const en_tag_t *filters, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        const char *value = lxd_user(obj, filters[i].key);
        if (!value || (filters[i].value && strcmp(value, filters[i].value) != 0))
            return false;
    }
    return true;
}

//  --------------------------------------------------------------------------
//  Paths

void
lxd_path(char *path, size_t size, const char *prefix, const char *name, const char *suffix)
{
    char *escaped = en_lxd_escape(name ? name : "");
    snprintf(path, size, "%s%s%s", prefix, escaped ? escaped : "", suffix ? suffix : "");
    free(escaped);
}

char *
lxd_instances_path(int recursion, const char *filter)
{
    char *escaped = filter && *filter ? en_lxd_escape(filter) : NULL;
    char *path = NULL;
    if ((filter && *filter && !escaped) ||
        asprintf(&path, "/1.0/instances?recursion=%d%s%s", recursion, escaped ? "&filter=" : "",
                 escaped ? escaped : "") < 0)
        path = NULL;
    free(escaped);
    return path;
}

//  --------------------------------------------------------------------------
//  Lists

int
lxd_strcmp_p(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int
lxd_ifname_cmp(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b), da = la, db = lb;
    while (da > 0 && isdigit((unsigned char)a[da - 1]))
        da--;
    while (db > 0 && isdigit((unsigned char)b[db - 1]))
        db--;
    if (da == db && strncmp(a, b, da) == 0 && da < la && db < lb) {
        unsigned long na = strtoul(a + da, NULL, 10), nb = strtoul(b + db, NULL, 10);
        if (na != nb)
            return na < nb ? -1 : 1;
    }
    return strcmp(a, b);
}

void
lxd_names_free(char ***names_p, size_t count)
{
    if (!names_p || !*names_p)
        return;
    for (size_t i = 0; i < count; i++)
        free((*names_p)[i]);
    free(*names_p);
    *names_p = NULL;
}

int
lxd_names_push(char ***names, size_t *count, const char *text, size_t len, en_err_t *err)
{
    char **grown = realloc(*names, (*count + 1) * sizeof *grown);
    if (!grown)
        return en_err_set(err, EN_INTERNAL, "out of memory");
    *names = grown;
    if (!(grown[*count] = strndup(text, len)))
        return en_err_set(err, EN_INTERNAL, "out of memory");
    (*count)++;
    return 0;
}

//  The next item of a comma list at *p, spaces around it trimmed: its
//  start, its length in *len; NULL at the end.
static const char *
s_list_next(const char **p, size_t *len)
{
    while (**p == ' ' || **p == ',')
        (*p)++;
    if (!**p)
        return NULL;
    const char *item = *p;
    size_t n = strcspn(item, ",");
    *p = item + n;
    while (n > 0 && item[n - 1] == ' ')
        n--;
    *len = n;
    return item;
}

bool
lxd_list_has(const char *list, const char *item)
{
    size_t want = strlen(item), len;
    const char *p = list ? list : "", *at;
    while ((at = s_list_next(&p, &len)))
        if (len == want && strncmp(at, item, len) == 0)
            return true;
    return false;
}

char *
lxd_list_edit(const char *list, const char *item, bool add)
{
    size_t size = strlen(list ? list : "") + strlen(item) + 2;
    char *out = calloc(1, size);
    if (!out)
        return NULL;
    size_t used = 0, want = strlen(item), len;
    const char *p = list ? list : "", *at;
    while ((at = s_list_next(&p, &len)))
        if (len != want || strncmp(at, item, len) != 0)
            used +=
                (size_t)snprintf(out + used, size - used, "%s%.*s", used ? "," : "", (int)len, at);
    if (add)
        snprintf(out + used, size - used, "%s%s", used ? "," : "", item);
    return out;
}

//  --------------------------------------------------------------------------
//  Numbers

bool
lxd_ipv4_cidr(const char *text, uint32_t *addr, unsigned *prefix)
{
    const char *slash = text ? strchr(text, '/') : NULL;
    char host[INET_ADDRSTRLEN];
    if (!slash || (size_t)(slash - text) >= sizeof host || !isdigit((unsigned char)slash[1]))
        return false;
    memcpy(host, text, (size_t)(slash - text));
    host[slash - text] = '\0';
    char *end = NULL;
    unsigned long bits = strtoul(slash + 1, &end, 10);
    struct in_addr in;
    if (*end || bits > 32 || inet_pton(AF_INET, host, &in) != 1)
        return false;
    *addr = ntohl(in.s_addr);
    *prefix = (unsigned)bits;
    return true;
}

uint64_t
lxd_fnv(const char *text)
{
    uint64_t hash = 0xcbf29ce484222325ULL;
    for (const unsigned char *c = (const unsigned char *)text; *c; c++)
        hash = (hash ^ *c) * 0x100000001b3ULL;
    return hash;
}

//  --------------------------------------------------------------------------
//  Retries

const lxd_backoff_t lxd_backoff_call = {
    .tries = 8, .first_ms = 100, .max_ms = 3000, .scaled = true};
const lxd_backoff_t lxd_backoff_race = {.tries = 0, .first_ms = 10, .max_ms = 320, .scaled = false};

void
lxd_backoff_wait(const lxd_backoff_t *policy, int attempt)
{
    int64_t ms = (int64_t)policy->first_ms << (attempt < 20 ? attempt : 20);
    if (ms > policy->max_ms)
        ms = policy->max_ms;
    unsigned seed = (unsigned)en_mono_ms() ^ (unsigned)(uintptr_t)&ms ^ (unsigned)attempt;
    ms = ms / 2 + rand_r(&seed) % (ms / 2 + 1);
    if (policy->scaled)
        ms = (int64_t)((double)ms * en_retry_scale());
    en_sleep_ms(ms);
}

bool
lxd_again(const lxd_backoff_t *policy, int attempt, int64_t deadline, const en_err_t *err)
{
    if (!err || err->kind != EN_UNAVAILABLE || !err->retryable)
        return false;
    if ((policy->tries && attempt + 1 >= policy->tries) || (deadline && en_mono_ms() >= deadline))
        return false;
    en_debug("lxd: try %d failed, retrying: %s", attempt + 1, err->message);
    lxd_backoff_wait(policy, attempt);
    return true;
}

int
lxd_call(en_compute_t *self, const char *method, const char *path, json_t *body, json_t **meta,
         long timeout_ms, en_err_t *err)
{
    en_err_t local;
    if (!err)
        err = &local; // lxd_again needs the kind
    for (int attempt = 0;; attempt++) {
        if (meta)
            *meta = NULL;
        if (en_lxd_call(self->lxd, method, path, body, meta, NULL, timeout_ms, err) == 0)
            return 0;
        if (!lxd_again(&lxd_backoff_call, attempt, 0, err))
            return -1;
    }
}

int
lxd_acl_names(en_compute_t *self, lxd_texts_t *names, en_err_t *err)
{
    memset(names, 0, sizeof *names);
    json_t *urls = NULL;
    if (lxd_call(self, "GET", "/1.0/network-acls", NULL, &urls, 0, err))
        return -1;
    size_t i;
    json_t *url;
    int rc = 0;
    json_array_foreach(urls, i, url)
    {
        //  "/1.0/network-acls/<name>[?project=<p>]"; ACL names are
        //  letters, digits, '-' and '_', never escaped
        const char *text = json_string_value(url);
        const char *slash = text ? strrchr(text, '/') : NULL;
        if (!slash || !slash[1])
            continue;
        if ((rc = lxd_names_push(&names->texts, &names->count, slash + 1,
                                 strcspn(slash + 1, "?"), err)))
            break;
    }
    json_decref(urls);
    if (rc) {
        lxd_texts_clear(names);
        return -1;
    }
    if (names->count > 1)
        qsort(names->texts, names->count, sizeof(char *), lxd_strcmp_p);
    return 0;
}

bool
lxd_names_sorted_has(const lxd_texts_t *names, const char *name)
{
    return name && names->count &&
           bsearch(&name, names->texts, names->count, sizeof(char *), lxd_strcmp_p) != NULL;
}

bool
lxd_plain(const char *s)
{
    if (!s || !*s)
        return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && !strchr("-_.:", *s))
            return false;
    return true;
}
