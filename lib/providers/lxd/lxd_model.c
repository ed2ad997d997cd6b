/*  lxd_model.c — the model's resources in LXD (see lxd_private.h): its
    bridge and profile, made on a model's first create (lxd_model_ensure)
    and deleted by release_model (lxd_release_model) once nothing uses
    them. Both are named from the model uuid and tagged with it (and the
    controller's), so a destroy finds them by tags alone.

    Bridges: 5.0.2 accepts two bridges on the same /24, so the probe
    checks the subnet itself: it starts at a hash of the model uuid, skips
    every /24 an LXD network already uses, and after creating re-reads the
    networks; if another network overlaps (a racing model), the new bridge
    is deleted and the probe moves on from a random slot. A bridge that
    exists (a racer of the same model made it) is adopted once it is
    settled: re-read until it has its /24 and nothing overlaps it. Every
    path ends with a settled bridge or an error, never with two bridges
    on one /24. The profile (eth0 on the bridge, the root disk in the
    connection's pool) is made after the bridge is settled, so that its
    presence alone says both exist.

    Release deletes profiles before networks (a profile's eth0 uses its
    bridge), and the model's base ACL, the bridge's only ACL and holder of
    every group's rules (lxd_firewall_base_delete), once its bridge is
    gone. What LXD
    still counts as used (used_by, or a delete refused as in use while a
    racer finishes) is left, and the call answers UNAVAILABLE `... is in
    use` so that the caller comes back. */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "providers/lxd/lxd_private.h"

enum {
    S_BRIDGE_TRIES = 16, // creates of a model bridge before giving up
    S_SETTLE_MS = 10000, // how long another's new bridge may stay unsettled
};

//  --------------------------------------------------------------------------
//  Names

void
lxd_bridge_name(const char *model_uuid, char out[LXD_BRIDGE_MAX])
{
    size_t n = 0;
    out[n++] = 'e';
    out[n++] = 'n';
    for (const char *p = model_uuid ? model_uuid : ""; *p && n < 13; p++)
        if (*p != '-')
            out[n++] = (char)tolower((unsigned char)*p);
    out[n] = '\0';
}

void
lxd_profile_name(const char *model_uuid, char out[LXD_PROFILE_MAX])
{
    snprintf(out, LXD_PROFILE_MAX, "en-%s", model_uuid ? model_uuid : "");
}

//  A model uuid names LXD objects: hex and dashes, at least 11 digits.
static int
s_check_model(const char *uuid, en_err_t *err)
{
    size_t hex = 0, len = 0;
    for (const char *p = uuid ? uuid : ""; *p; p++, len++) {
        if (*p != '-' && !isxdigit((unsigned char)*p))
            return en_err_set(err, EN_NOT_VALID, "model uuid \"%s\" not valid", uuid);
        hex += *p != '-';
    }
    if (hex < 11 || len > 48)
        return en_err_set(err, EN_NOT_VALID, "model uuid \"%s\" not valid", uuid ? uuid : "");
    return 0;
}

//  --------------------------------------------------------------------------
//  The bridge and the profile

static json_t *
s_owner_config(const char *model_uuid, const char *controller_uuid)
{
    json_t *c = json_pack("{s:s}", "user." LXD_TAG_MODEL, model_uuid);
    if (controller_uuid && *controller_uuid)
        json_object_set_new(c, "user." LXD_TAG_CONTROLLER, json_string(controller_uuid));
    return c;
}

//  "a.b.c.d/n" as its network and mask (host order).
static bool
s_cidr(const char *text, uint32_t *net, uint32_t *mask)
{
    uint32_t addr;
    unsigned prefix;
    if (!lxd_ipv4_cidr(text, &addr, &prefix))
        return false;
    *mask = prefix ? 0xffffffffu << (32 - prefix) : 0;
    *net = addr & *mask;
    return true;
}

//  The first network other than `except` whose ipv4.address overlaps
//  net/mask, or NULL.
static const char *
s_overlap(json_t *networks, uint32_t net, uint32_t mask, const char *except)
{
    size_t i;
    json_t *n;
    json_array_foreach(networks, i, n)
    {
        uint32_t onet, omask;
        const char *addr = lxd_str(json_object_get(n, "config"), "ipv4.address");
        if (strcmp(lxd_str(n, "name"), except) == 0 || !s_cidr(addr, &onet, &omask))
            continue;
        uint32_t m = mask & omask; // the shorter prefix decides
        if ((onet & m) == (net & m))
            return lxd_str(n, "name");
    }
    return NULL;
}

//  The network named name among networks, or NULL.
static json_t *
s_find(json_t *networks, const char *name)
{
    size_t i;
    json_t *n;
    json_array_foreach(networks, i, n)
    {
        if (strcmp(lxd_str(n, "name"), name) == 0)
            return n;
    }
    return NULL;
}

//  Whether a bridge is settled: it has an IPv4 network and no other
//  network overlaps it (*clash names one that does).
static bool
s_settled(json_t *networks, const json_t *bridge, const char **clash)
{
    uint32_t net, mask;
    *clash = NULL;
    if (!s_cidr(lxd_config(bridge, "ipv4.address"), &net, &mask))
        return false;
    *clash = s_overlap(networks, net, mask, lxd_str(bridge, "name"));
    return !*clash;
}

//  POST the bridge on the /24 at net.
static int
s_bridge_post(en_compute_t *self, const char *bridge, uint32_t net, const char *model_uuid,
              const char *controller_uuid, en_err_t *err)
{
    char addr[32];
    snprintf(addr, sizeof addr, "%u.%u.%u.1/24", net >> 24, (net >> 16) & 255, (net >> 8) & 255);
    //  fail closed from the start: the model's base ACL and default
    //  ingress reject are in the network's first config (lxd_firewall.c)
    char base[LXD_ACL_MAX];
    lxd_base_acl_name(model_uuid, base);
    if (lxd_firewall_base(self, model_uuid, controller_uuid, err))
        return -1;
    json_t *config = s_owner_config(model_uuid, controller_uuid);
    json_t *body = json_pack("{s:s, s:s, s:s, s:o}", "name", bridge, "type", "bridge",
                             "description", "environs model bridge", "config", config);
    if (!body || json_object_set_new(config, "ipv4.address", json_string(addr)) ||
        json_object_set_new(config, "ipv4.nat", json_string("false")) ||
        json_object_set_new(config, "ipv4.dhcp", json_string("true")) ||
        json_object_set_new(config, "ipv6.address", json_string("none")) ||
        json_object_set_new(config, "security.acls", json_string(base)) ||
        json_object_set_new(config, "security.acls.default.ingress.action",
                            json_string("reject")) ||
        json_object_set_new(config, "security.acls.default.egress.action",
                            json_string("allow"))) {
        json_decref(body);
        return en_err_set(err, EN_INTERNAL, "out of memory");
    }
    int rc = lxd_call(self, "POST", "/1.0/networks", body, NULL, 0, err);
    json_decref(body);
    return rc;
}

//  The model's bridge, made unless it exists, and in either case settled
//  (see the file's comment) before this answers 0: every path either
//  ends with a bridge whose /24 no other network shares, or fails.
//    - made here: re-read; a clash (a racing model took the same /24) is
//      deleted and the probe moves on from a random slot, so that the
//      racers part; a delete or a re-read that fails, fails.
//    - made by someone else (a racer of the same model: ALREADY_EXISTS,
//      or there already): re-read until it is settled; its maker moves or
//      deletes it meanwhile. One still unsettled after S_SETTLE_MS has no
//      maker left (it died between its POST and its check): it is
//      deleted and made again, unless something uses it already.
static int
s_bridge_ensure(en_compute_t *self, const char *bridge, const char *model_uuid,
                const char *controller_uuid, en_err_t *err)
{
    uint32_t base = 0, rmask = 0xffffff00u;
    if (!s_cidr(self->bridge_range, &base, &rmask)) // checked at open
        return en_err_set(err, EN_NOT_VALID, "bridge range \"%s\" is not an IPv4 range",
                          self->bridge_range);
    uint32_t slots = (~rmask >> 8) + 1, slot = (uint32_t)(lxd_fnv(model_uuid) % slots);
    char path[128];
    lxd_path(path, sizeof path, "/1.0/networks/", bridge, NULL);
    json_t *nets = NULL;
    bool made = false;    // the bridge there is this call's
    int64_t deadline = 0; // someone else's: until when it may settle
    int rc = -1, tries = 0, waits = 0;
    for (;;) {
        json_decref(nets);
        if (lxd_call(self, "GET", "/1.0/networks?recursion=1", NULL, &nets, 0, err))
            break;
        const json_t *mine = s_find(nets, bridge);
        const char *clash = NULL;
        if (mine && s_settled(nets, mine, &clash)) {
            rc = 0;
            break;
        }
        if (mine && !made) {
            if (!deadline)
                deadline = en_mono_ms() + S_SETTLE_MS;
            if (en_mono_ms() < deadline) {
                lxd_backoff_wait(&lxd_backoff_race, waits++);
                continue;
            }
            if (json_array_size(json_object_get(mine, "used_by")) > 0) {
                if (clash)
                    en_err_set(err, EN_UNAVAILABLE, "bridge \"%s\" overlaps network \"%s\"", bridge,
                               clash);
                else
                    en_err_set(err, EN_UNAVAILABLE, "bridge \"%s\" has no IPv4 network", bridge);
                err->retryable = false;
                break;
            }
        }
        if (mine) { // ours and clashing, or an abandoned one: deleted
            if (lxd_call(self, "DELETE", path, NULL, NULL, 0, err) && err->kind != EN_NOT_FOUND)
                break;
            en_err_clear(err);
            unsigned seed = (unsigned)en_mono_ms() ^ (unsigned)(uintptr_t)&seed;
            slot = (uint32_t)rand_r(&seed) % slots;
            made = false;
            deadline = 0;
            continue;
        }
        made = false;
        deadline = 0;
        if (tries++ >= S_BRIDGE_TRIES) {
            en_err_set(err, EN_UNAVAILABLE, "no free /24 for bridge \"%s\" in %s", bridge,
                       self->bridge_range);
            break;
        }
        uint32_t i = 0, net = 0;
        for (; i < slots; i++, slot = (slot + 1) % slots)
            if (!s_overlap(nets, net = base + (slot << 8), 0xffffff00u, bridge))
                break;
        if (i == slots) {
            en_err_set(err, EN_UNAVAILABLE, "no free /24 for bridge \"%s\" in %s", bridge,
                       self->bridge_range);
            err->retryable = false;
            break;
        }
        if (s_bridge_post(self, bridge, net, model_uuid, controller_uuid, err) == 0)
            made = true; // checked on the next read
        else if (err->kind == EN_ALREADY_EXISTS)
            en_err_clear(err); // a racer of the same model: its bridge settles
        else
            slot = (slot + 1) % slots; // taken in the meantime, or refused: probe on
    }
    json_decref(nets);
    return rc;
}

int
lxd_model_ensure(en_compute_t *self, const char *model_uuid, const char *controller_uuid,
                 en_err_t *err)
{
    if (s_check_model(model_uuid, err))
        return -1;
    char bridge[LXD_BRIDGE_MAX], profile[LXD_PROFILE_MAX], path[128];
    lxd_bridge_name(model_uuid, bridge);
    lxd_profile_name(model_uuid, profile);
    //  The profile is made after the bridge is settled: one GET answers
    //  for both on every create but the model's first.
    lxd_path(path, sizeof path, "/1.0/profiles/", profile, NULL);
    if (lxd_call(self, "GET", path, NULL, NULL, 0, err) == 0)
        return 0;
    if (err->kind != EN_NOT_FOUND ||
        s_bridge_ensure(self, bridge, model_uuid, controller_uuid, err))
        return -1;
    json_t *body = json_pack("{s:s, s:s, s:o, s:{s:{s:s, s:s, s:s}, s:{s:s, s:s, s:s}}}", "name",
                             profile, "description", "environs model profile", "config",
                             s_owner_config(model_uuid, controller_uuid), "devices", "eth0", "type",
                             "nic", "network", bridge, "name", "eth0", "root", "type", "disk",
                             "path", "/", "pool", self->pool);
    if (!body)
        return en_err_set(err, EN_INTERNAL, "out of memory");
    int rc = lxd_call(self, "POST", "/1.0/profiles", body, NULL, 0, err);
    json_decref(body);
    if (rc && err->kind == EN_ALREADY_EXISTS) {
        en_err_clear(err);
        rc = 0;
    }
    return rc;
}

//  --------------------------------------------------------------------------
//  Releasing a model's bridge and profile

//  Delete every object of `kind` ("profiles", "networks"; one is a
//  `noun`) that environs made, carrying every filter tag and used by
//  nothing; in_use names one still used.
static int
s_release(en_compute_t *self, const char *kind, const char *noun, const en_tag_t *filters,
          size_t filter_count, char *in_use, size_t in_use_size, en_err_t *err)
{
    char path[512];
    json_t *all = NULL;
    snprintf(path, sizeof path, "/1.0/%s?recursion=1", kind);
    if (lxd_call(self, "GET", path, NULL, &all, 0, err))
        return -1;
    size_t i;
    json_t *obj;
    int rc = 0;
    json_array_foreach(all, i, obj)
    {
        const char *name = lxd_str(obj, "name");
        if (!lxd_user(obj, LXD_TAG_MODEL) || !lxd_has_tags(obj, filters, filter_count))
            continue;
        if (json_array_size(json_object_get(obj, "used_by")) > 0) {
            snprintf(in_use, in_use_size, "%s \"%s\"", noun, name);
            continue;
        }
        char prefix[32], p[512];
        snprintf(prefix, sizeof prefix, "/1.0/%s/", kind);
        lxd_path(p, sizeof p, prefix, name, NULL);
        //  LXD deletes a network with ACLs attached; they are never
        //  detached first, so a bridge whose delete fails stays closed
        //  Still transient after lxd_call's retries ("Profile is currently
        //  in use", "The network is currently in use": a racer still uses
        //  it) is in use, as used_by says above; the caller retries.
        bool gone = rc == 0;
        if (rc == 0 && lxd_call(self, "DELETE", p, NULL, NULL, 0, err)) {
            gone = err->kind == EN_NOT_FOUND;
            if (gone) // a racer released it
                en_err_clear(err);
            else if (err->kind == EN_UNAVAILABLE && err->retryable)
                snprintf(in_use, in_use_size, "%s \"%s\"", noun, name);
            else
                rc = -1;
        }
        //  a bridge gone, its model's base ACL (lxd_firewall.c) goes too
        if (gone && strcmp(kind, "networks") == 0)
            rc = lxd_firewall_base_delete(self, lxd_user(obj, LXD_TAG_MODEL), err);
        if (rc)
            break;
    }
    json_decref(all);
    return rc;
}

int
lxd_release_model(en_compute_t *self, const en_tag_t *filters, size_t filter_count, en_err_t *err)
{
    if (filter_count == 0)
        return en_err_set(err, EN_NOT_VALID, "release_model needs a tag filter");
    char in_use[256] = "";
    if (s_release(self, "profiles", "profile", filters, filter_count, in_use, sizeof in_use, err) ||
        s_release(self, "networks", "network", filters, filter_count, in_use, sizeof in_use, err))
        return -1;
    if (*in_use)
        return en_err_set(err, EN_UNAVAILABLE, "%s is in use", in_use);
    return 0;
}
