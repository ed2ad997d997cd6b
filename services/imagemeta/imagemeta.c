/*  imagemeta.c — the service object: options, the default sources' keys,
    the shared cache, per-thread state and the route table (handlers live
    in sources.c and lookup.c). */
#include "imagemeta.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"

#define IM_DEFAULT_CACHE_BYTES ((size_t)256 << 20)
#define IM_DEFAULT_CLOUDIMAGE_KEYRING "/usr/share/keyrings/ubuntu-cloudimage-keyring.gpg"

//  --------------------------------------------------------------------------
//  Keyrings: ssverify takes ASCII armor; Ubuntu ships its keyrings binary,
//  so a binary file is armored here (RFC 4880 §6: base64 and a CRC-24).

static uint32_t
s_crc24(const unsigned char *p, size_t n)
{
    uint32_t crc = 0xB704CEu;
    for (size_t i = 0; i < n; i++) {
        crc ^= (uint32_t)p[i] << 16;
        for (int b = 0; b < 8; b++) {
            crc <<= 1;
            if (crc & 0x1000000u)
                crc ^= 0x1864CFBu;
        }
    }
    return crc & 0xFFFFFFu;
}

static void
s_b64(const unsigned char *p, size_t n, char *out)
{
    static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)p[i + 1] << 8;
        if (i + 2 < n)
            v |= p[i + 2];
        out[o++] = t[(v >> 18) & 63];
        out[o++] = t[(v >> 12) & 63];
        out[o++] = i + 1 < n ? t[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < n ? t[v & 63] : '=';
    }
    out[o] = '\0';
}

static char *
s_armor(const unsigned char *p, size_t n)
{
    size_t b64n = (n + 2) / 3 * 4;
    char *b64 = malloc(b64n + 1);
    s_b64(p, n, b64);
    unsigned char crc[3];
    uint32_t c = s_crc24(p, n);
    crc[0] = (unsigned char)(c >> 16);
    crc[1] = (unsigned char)(c >> 8);
    crc[2] = (unsigned char)c;
    char crc64[5];
    s_b64(crc, 3, crc64);
    size_t cap = b64n + b64n / 64 + 128;
    char *out = malloc(cap);
    size_t o = (size_t)snprintf(out, cap, "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n");
    for (size_t i = 0; i < b64n; i += 64)
        o += (size_t)snprintf(out + o, cap - o, "%.64s\n", b64 + i);
    snprintf(out + o, cap - o, "=%s\n-----END PGP PUBLIC KEY BLOCK-----\n", crc64);
    free(b64);
    return out;
}

//  The keyring file at path as armored text; NULL when it cannot be read
//  (the default source then has no key, and lookups say so).
static char *
s_keyring_load(const char *path)
{
    if (!path || !*path)
        return NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0;
    unsigned char *buf = malloc(cap);
    size_t got;
    while ((got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap && cap < (1u << 24))
            buf = realloc(buf, cap *= 2);
        else if (n == cap)
            break;
    }
    fclose(f);
    char *out = NULL;
    if (n && memchr(buf, '\0', n) == NULL && memmem(buf, n, "-----BEGIN PGP", 14)) {
        out = malloc(n + 1);
        memcpy(out, buf, n);
        out[n] = '\0';
    } else if (n)
        out = s_armor(buf, n);
    free(buf);
    return out;
}

//  --------------------------------------------------------------------------
//  Threads

static void *
s_thread_init(void *service, en_err_t *err)
{
    imagemeta_t *self = service;
    im_thread_t *t = calloc(1, sizeof *t);
    t->self = self;
    t->seed = (unsigned)getpid() ^ (unsigned)(uintptr_t)t;
    if (*self->base.gateways) {
        t->client = en_client_new(self->base.gateways, err);
        if (t->client)
            t->models = en_modelcache_new(self->base.gateways, t->client, err);
        if (!t->models)
            goto fail;
    }
    if (im_store_open(self->base.home, &t->db, &t->seed, err))
        goto fail;
    t->fetch = en_ssfetch_new(&self->opts.fetch, err);
    if (!t->fetch)
        goto fail;
    return t;
fail:
    en_modelcache_destroy(&t->models);
    en_client_destroy(&t->client);
    sqlite3_close(t->db);
    free(t);
    return NULL;
}

static void
s_thread_fini(void *service, void *state)
{
    (void)service;
    im_thread_t *t = state;
    if (!t)
        return;
    im_verifiers_free(t);
    im_provider_cache_clear(t);
    en_ssfetch_destroy(&t->fetch);
    sqlite3_close(t->db);
    en_modelcache_destroy(&t->models);
    en_client_destroy(&t->client);
    free(t);
}

//  --------------------------------------------------------------------------
//  Object

imagemeta_t *
imagemeta_new_opts(const char *home, const char *gateways, const imagemeta_opts_t *opts,
                   en_err_t *err)
{
    imagemeta_t *self = calloc(1, sizeof *self);
    if (opts)
        self->opts = *opts;
    if (!self->opts.cache_bytes)
        self->opts.cache_bytes = IM_DEFAULT_CACHE_BYTES;
    const char *ck = self->opts.cloudimage_keyring ? self->opts.cloudimage_keyring
                                                   : IM_DEFAULT_CLOUDIMAGE_KEYRING;
    self->cloudimage_keyring = s_keyring_load(ck);
    self->juju_keyring = s_keyring_load(self->opts.juju_keyring);
    // borrowed option strings are not kept past here
    self->opts.cloudimage_keyring = NULL;
    self->opts.juju_keyring = NULL;
    self->cache = im_cache_new(self->opts.cache_bytes, self->opts.ttl_ms);
    const en_route_group_t groups[] = {
        {im_source_routes, im_source_route_count},
        {im_lookup_routes, im_lookup_route_count},
    };
    if (en_service_base_init(&self->base, "imagemeta", home, gateways, groups,
                             sizeof groups / sizeof groups[0], self, s_thread_init, s_thread_fini,
                             err)) {
        im_cache_destroy(&self->cache);
        free(self->cloudimage_keyring);
        free(self->juju_keyring);
        free(self);
        return NULL;
    }
    return self;
}

imagemeta_t *
imagemeta_new(const char *home, const char *gateways, en_err_t *err)
{
    imagemeta_opts_t opts = {0};
    const char *v;
    if ((v = getenv("ENVIRONS_IMAGEMETA_TTL_MS")) && *v)
        opts.ttl_ms = strtoll(v, NULL, 10);
    if ((v = getenv("ENVIRONS_IMAGEMETA_CACHE_MB")) && *v)
        opts.cache_bytes = (size_t)strtoull(v, NULL, 10) << 20;
    opts.cloudimage_keyring = getenv("ENVIRONS_CLOUDIMAGE_KEYRING");
    opts.juju_keyring = getenv("ENVIRONS_JUJU_KEYRING");
    // https sources: the CA bundle to trust instead of the system's
    opts.fetch.ca_file = getenv("ENVIRONS_IMAGEMETA_CA_FILE");
    return imagemeta_new_opts(home, gateways, &opts, err);
}

void
imagemeta_destroy(imagemeta_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    imagemeta_t *self = *self_p;
    en_service_base_fini(&self->base);
    im_cache_destroy(&self->cache);
    free(self->cloudimage_keyring);
    free(self->juju_keyring);
    free(self);
    *self_p = NULL;
}

const en_service_def_t *
imagemeta_service(imagemeta_t *self)
{
    return &self->base.def;
}

void
imagemeta_stats(imagemeta_t *self, imagemeta_stats_t *out)
{
    im_cache_stats(self->cache, out);
}

void
imagemeta_expire(imagemeta_t *self)
{
    im_cache_expire(self->cache);
}
