/*  test_imagemeta.c — the imagemeta service in process, against a real
    gateway and registry (harness processes) for its models.

    Metadata trees are copies of ../shared/testdata/simplestreams served by
    the loopback test server (tests/ss_httpd.h), whose per-path hit
    counters say exactly which GETs a lookup made. Copies live under the
    harness home:

      srv/good/       fixtures/juju-sstesting/test-root, signed by the
                      Juju test key (.sjson and .json)
      srv/tampered/   the same with one byte of image_metadata.sjson's
                      signed text changed
      srv/unsigned/   the same without any .sjson
      srv/ubuntu/     real/cloud-images.ubuntu.com/releases-20161104
                      (signed by the Ubuntu cloud image key) */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bus/envelope.h"
#include "bus/mdp.h"
#include "common/paths.h"
#include "harness.h"
#include "imagemeta.h"
#include "ss_httpd.h"

typedef struct {
    harness_t h;
    imagemeta_t *im;
    en_dispatcher_t *d;
    ss_httpd_t *srv;
    char *juju_key;
    char *ubuntu_key;
    char srv_dir[512];
} fx_t;

#define FREE(m)                                                                                    \
    do {                                                                                           \
        if (m)                                                                                     \
            protobuf_c_message_free_unpacked((ProtobufCMessage *)(m), NULL);                       \
    } while (0)

static char *
s_read(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot read %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static void
s_sh(const char *fmt, ...)
{
    char cmd[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    if (system(cmd) != 0)
        fail_msg("command failed: %s", cmd);
}

static const char *
s_shared(void)
{
    const char *s = getenv("EN_SHARED_DIR");
    return s ? s : "../shared";
}

static char *
s_open(fx_t *fx, const char *name, const char *json)
{
    En__OpenRequest req = EN__OPEN_REQUEST__INIT;
    En__ConfigAttrs cfg = EN__CONFIG_ATTRS__INIT;
    cfg.json = (char *)json;
    req.name = (char *)name;
    req.cloud_name = "sim";
    req.config = &cfg;
    ProtobufCMessage *res = NULL;
    en_err_t err;
    en_client_call(fx->h.client, EN_PUBLIC_SERVICE, "Open", NULL, &req.base,
                   &en__open_result__descriptor, &res, 15000, &err);
    if (!res)
        fail_msg("Open %s: %s", name, err.message);
    char *uuid = strdup(((En__OpenResult *)res)->model->uuid);
    FREE(res);
    return uuid;
}

static imagemeta_t *
s_new(fx_t *fx)
{
    imagemeta_opts_t opts = {
        .cloudimage_keyring = "/nonexistent", // no default key: never fetched here
        .fetch = {.connect_timeout_ms = 2000, .timeout_ms = 5000},
    };
    en_err_t err;
    imagemeta_t *im = imagemeta_new_opts(fx->h.home, fx->h.endpoint, &opts, &err);
    if (!im)
        fail_msg("imagemeta_new: %s", err.message);
    return im;
}

static int
s_setup(void **state)
{
    setenv("ENVIRONS_RETRY_SCALE", "0.05", 1);
    fx_t *fx = calloc(1, sizeof *fx);
    assert_int_equal(harness_init(&fx->h), 0);
    harness_start(&fx->h, "gateway", 0);
    harness_start(&fx->h, "registry", 0);
    assert_int_equal(harness_wait_service(&fx->h, "registry", 20000), 0);
    char path[600];
    snprintf(path, sizeof path, "%s/sim", fx->h.home);
    en_mkdirs(path, 0700);
    fx->im = s_new(fx);
    en_err_t err;
    fx->d = en_dispatcher_new(imagemeta_service(fx->im), &err);
    assert_non_null(fx->d);

    const char *ss = s_shared();
    snprintf(fx->srv_dir, sizeof fx->srv_dir, "%s/srv", fx->h.home);
    const char *d = fx->srv_dir;
    s_sh("mkdir -p %s && cp -r %s/testdata/simplestreams/fixtures/juju-sstesting/test-root %s/good",
         d, ss, d);
    s_sh("cp -r %s/good %s/tampered && cp -r %s/good %s/unsigned && rm "
         "%s/unsigned/streams/v1/*.sjson "
         "%s/unsigned/daily/streams/v1/*.sjson",
         d, d, d, d, d, d);
    // one byte of the signed text: ami-442ea674 becomes ami-442ea675
    s_sh("sed -i 's/ami-442ea674/ami-442ea675/' %s/tampered/streams/v1/image_metadata.sjson", d);
    s_sh("cp -r %s/testdata/simplestreams/real/cloud-images.ubuntu.com/releases-20161104 %s/ubuntu",
         ss, d);
    fx->srv = ss_httpd_new(d, 0);
    assert_non_null(fx->srv);
    snprintf(path, sizeof path, "%s/testdata/simplestreams/keys/juju-test-signing.pub.asc", ss);
    fx->juju_key = s_read(path);
    snprintf(path, sizeof path, "%s/testdata/simplestreams/keys/ubuntu-cloudimage-keyring.asc", ss);
    fx->ubuntu_key = s_read(path);
    *state = fx;
    return 0;
}

static int
s_teardown(void **state)
{
    fx_t *fx = *state;
    ss_httpd_destroy(&fx->srv);
    en_dispatcher_destroy(&fx->d);
    imagemeta_destroy(&fx->im);
    free(fx->juju_key);
    free(fx->ubuntu_key);
    int rc = harness_fini(&fx->h);
    free(fx);
    return rc;
}

static void *
s_call(en_dispatcher_t *d, const char *method, const char *model, const void *req, en_err_t *err)
{
    ProtobufCMessage *res = NULL;
    en_err_clear(err);
    en_dispatcher_call(d, method, model, req, &res, err);
    return res;
}

static void
s_register(fx_t *fx, bool user, const char *id, const char *url, bool require_signed,
           const char *keyring, const char *kind)
{
    En__ImageDataSource src = EN__IMAGE_DATA_SOURCE__INIT;
    src.id = (char *)id;
    src.description = (char *)id;
    src.url = (char *)url;
    src.priority = 50;
    src.require_signed = require_signed;
    src.keyring_armored = (char *)(keyring ? keyring : "");
    src.kind = (char *)(kind ? kind : "");
    en_err_t err;
    void *res;
    if (user) {
        En__RegisterUserImageDataSourceRequest req =
            EN__REGISTER_USER_IMAGE_DATA_SOURCE_REQUEST__INIT;
        req.source = &src;
        res = s_call(fx->d, "RegisterUserImageDataSource", NULL, &req, &err);
    } else {
        En__RegisterImageDataSourceRequest req = EN__REGISTER_IMAGE_DATA_SOURCE_REQUEST__INIT;
        req.source = &src;
        res = s_call(fx->d, "RegisterImageDataSource", NULL, &req, &err);
    }
    if (!res)
        fail_msg("register %s: %s", id, err.message);
    FREE(res);
}

static void
s_unregister(fx_t *fx, const char *id)
{
    En__UnregisterImageDataSourceRequest req = EN__UNREGISTER_IMAGE_DATA_SOURCE_REQUEST__INIT;
    req.id = (char *)id;
    en_err_t err;
    void *res = s_call(fx->d, "UnregisterImageDataSource", NULL, &req, &err);
    if (!res)
        fail_msg("unregister %s: %s", id, err.message);
    FREE(res);
}

static En__ImageMetadataSourcesResult *
s_sources(en_dispatcher_t *d, const char *model)
{
    En__ImageMetadataSourcesRequest req = EN__IMAGE_METADATA_SOURCES_REQUEST__INIT;
    en_err_t err;
    En__ImageMetadataSourcesResult *res = s_call(d, "ImageMetadataSources", model, &req, &err);
    if (!res)
        fail_msg("ImageMetadataSources: %s", err.message);
    return res;
}

//  The ids of sources, comma-separated, leaving out the provider's own
//  (another engineer's sim publishes one; its place is checked apart).
static void
s_ids(En__ImageDataSource **v, size_t n, char *buf, size_t size)
{
    buf[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        if (strcmp(v[i]->id, "sim") == 0)
            continue;
        size_t off = strlen(buf);
        snprintf(buf + off, size - off, "%s%s", off ? "," : "", v[i]->id);
    }
}

static const char *
s_url(fx_t *fx, const char *path)
{
    return ss_httpd_url(fx->srv, path);
}

static En__FindImageMetadataResult *
s_find_on(en_dispatcher_t *d, const char *model, const char *release, const char *region,
          const char *endpoint, en_err_t *err)
{
    En__FindImageMetadataRequest req = EN__FIND_IMAGE_METADATA_REQUEST__INIT;
    En__ImageConstraint c = EN__IMAGE_CONSTRAINT__INIT;
    char *releases[] = {(char *)release};
    char *arches[] = {"amd64"};
    c.releases = releases;
    c.n_releases = 1;
    c.arches = arches;
    c.n_arches = 1;
    c.region = (char *)region;
    c.endpoint = (char *)endpoint;
    req.constraint = &c;
    return s_call(d, "FindImageMetadata", model, &req, err);
}

static En__FindImageMetadataResult *
s_find(fx_t *fx, const char *model, const char *release, const char *region, const char *endpoint,
       en_err_t *err)
{
    return s_find_on(fx->d, model, release, region, endpoint, err);
}

#define DISABLED "{\"image-metadata-defaults-disabled\":true}"
#define EP "https://ec2.us-east-1.amazonaws.com"

//  --------------------------------------------------------------------------

//  Register appends, RegisterUser prepends, a known id keeps its place,
//  Unregister of an unknown id is quiet; the list outlives the object.
static void
sources_order_replace_unregister_and_restart(void **state)
{
    fx_t *fx = *state;
    char *model = s_open(fx, "order", "{}");
    s_register(fx, false, "a", "http://a.example/", false, NULL, NULL);
    s_register(fx, false, "b", "https://b.example/", false, NULL, "images");
    s_register(fx, true, "u", "file:///srv/u", false, NULL, NULL);
    s_register(fx, false, "t", "http://tools.example/", false, NULL, "agents");
    s_register(fx, false, "a", "http://a2.example/", true, fx->juju_key, NULL); // in place
    s_unregister(fx, "no-such-source");

    En__ImageMetadataSourcesResult *r = s_sources(fx->d, model);
    char ids[512];
    s_ids(r->sources, r->n_sources, ids, sizeof ids);
    assert_string_equal(ids, "u,a,b,default ubuntu cloud images");
    assert_string_equal(r->sources[1]->url, "http://a2.example/");
    assert_true(r->sources[1]->require_signed);
    assert_string_equal(r->sources[1]->keyring_armored, fx->juju_key);
    En__ImageDataSource *def = r->sources[r->n_sources - 1];
    assert_string_equal(def->url, "http://cloud-images.ubuntu.com/releases");
    assert_int_equal(def->priority, 10);
    assert_true(def->require_signed);
    // a provider source, when the cloud publishes one, sits before the default
    for (size_t i = 0; i < r->n_sources; i++)
        if (strcmp(r->sources[i]->id, "sim") == 0)
            assert_int_equal(i, r->n_sources - 2);
    FREE(r);

    En__AgentMetadataSourcesRequest areq = EN__AGENT_METADATA_SOURCES_REQUEST__INIT;
    en_err_t err;
    En__AgentMetadataSourcesResult *ar = s_call(fx->d, "AgentMetadataSources", model, &areq, &err);
    assert_non_null(ar);
    s_ids(ar->sources, ar->n_sources, ids, sizeof ids);
    assert_string_equal(ids, "t,default simplestreams");
    assert_string_equal(ar->sources[1]->url, "https://streams.canonical.com/juju/tools");
    FREE(ar);

    s_unregister(fx, "b");
    // a second service on the same home (a restart, or a replica)
    imagemeta_t *im2 = s_new(fx);
    en_dispatcher_t *d2 = en_dispatcher_new(imagemeta_service(im2), &err);
    assert_non_null(d2);
    r = s_sources(d2, model);
    s_ids(r->sources, r->n_sources, ids, sizeof ids);
    assert_string_equal(ids, "u,a,default ubuntu cloud images");
    FREE(r);
    en_dispatcher_destroy(&d2);
    imagemeta_destroy(&im2);
    free(model);
}

static void
register_rejects_bad_input(void **state)
{
    fx_t *fx = *state;
    En__ImageDataSource src = EN__IMAGE_DATA_SOURCE__INIT;
    En__RegisterImageDataSourceRequest req = EN__REGISTER_IMAGE_DATA_SOURCE_REQUEST__INIT;
    req.source = &src;
    en_err_t err;
    src.id = "x";
    src.url = "ftp://x.example/";
    assert_null(s_call(fx->d, "RegisterImageDataSource", NULL, &req, &err));
    assert_int_equal(err.kind, EN_NOT_VALID);
    assert_non_null(strstr(err.message, "is not file://, http:// or https://"));
    src.url = "http://x.example/";
    src.kind = "widgets";
    assert_null(s_call(fx->d, "RegisterImageDataSource", NULL, &req, &err));
    assert_int_equal(err.kind, EN_NOT_VALID);
    src.kind = "";
    src.id = "";
    assert_null(s_call(fx->d, "RegisterImageDataSource", NULL, &req, &err));
    assert_int_equal(err.kind, EN_NOT_VALID);
    req.source = NULL;
    assert_null(s_call(fx->d, "RegisterImageDataSource", NULL, &req, &err));
    assert_int_equal(err.kind, EN_NOT_VALID);
    // a lookup without a model, and one without releases
    assert_null(s_find(fx, NULL, "12.04", "", "", &err));
    assert_int_equal(err.kind, EN_NOT_VALID);
    En__FindImageMetadataRequest freq = EN__FIND_IMAGE_METADATA_REQUEST__INIT;
    char *model = s_open(fx, "bad", "{}");
    assert_null(s_call(fx->d, "FindImageMetadata", model, &freq, &err));
    assert_int_equal(err.kind, EN_NOT_VALID);
    free(model);
}

//  image-metadata-url first (a bare directory is file://<dir>/images);
//  image-stream picks the default's path; defaults can be turned off.
static void
sources_metadata_url_stream_and_defaults_disabled(void **state)
{
    fx_t *fx = *state;
    char *m1 =
        s_open(fx, "url", "{\"image-metadata-url\":\"/var/lib/meta\",\"image-stream\":\"daily\"}");
    En__ImageMetadataSourcesResult *r = s_sources(fx->d, m1);
    assert_true(r->n_sources >= 2);
    assert_string_equal(r->sources[0]->url, "file:///var/lib/meta/images");
    assert_int_equal(r->sources[0]->priority, 20);
    assert_false(r->sources[0]->require_signed);
    assert_string_equal(r->sources[r->n_sources - 1]->url, "http://cloud-images.ubuntu.com/daily");
    FREE(r);

    char *m2 = s_open(fx, "url2", "{\"image-metadata-url\":\"/var/lib/meta/images/\"}");
    r = s_sources(fx->d, m2);
    assert_string_equal(r->sources[0]->url, "file:///var/lib/meta/images");
    FREE(r);

    char *m3 = s_open(fx, "url3",
                      "{\"image-metadata-url\":\"http://m.example/x\","
                      "\"image-metadata-defaults-disabled\":true}");
    r = s_sources(fx->d, m3);
    char ids[512];
    s_ids(r->sources, r->n_sources, ids, sizeof ids);
    assert_string_equal(ids, "image-metadata-url");
    assert_string_equal(r->sources[0]->url, "http://m.example/x");
    FREE(r);
    free(m1);
    free(m2);
    free(m3);
}

//  A signed tree is found through index.sjson (after index2.sjson's 404),
//  with the expected images; unsigned files are never read.
static void
find_signed_then_warm_cache_then_revalidate(void **state)
{
    fx_t *fx = *state;
    char *model = s_open(fx, "find", DISABLED);
    s_register(fx, false, "good", s_url(fx, "/good/"), true, fx->juju_key, NULL);

    en_err_t err;
    En__FindImageMetadataResult *r = s_find(fx, model, "12.04", "us-east-1", EP, &err);
    if (!r)
        fail_msg("find: %s", err.message);
    assert_int_equal(r->n_images, 2);
    assert_string_equal(r->images[0]->id, "ami-442ea674");
    assert_string_equal(r->images[0]->virt_type, "hvm");
    assert_string_equal(r->images[0]->storage, "ebs");
    assert_string_equal(r->images[0]->region_name, "us-east-1");
    assert_string_equal(r->images[0]->endpoint, EP);
    assert_string_equal(r->images[0]->arch, "amd64");
    assert_string_equal(r->images[0]->version, "12.04");
    assert_string_equal(r->images[0]->source, "good");
    assert_int_equal(r->images[0]->priority, 50);
    assert_string_equal(r->images[1]->id, "ami-442ea684");
    assert_string_equal(r->images[1]->virt_type, "pv");
    assert_string_equal(r->images[1]->storage, "instance");
    assert_string_equal(r->resolve_info->source, "good");
    assert_true(r->resolve_info->signed_);
    assert_non_null(strstr(r->resolve_info->index_url, "/good/streams/v1/index.sjson"));
    assert_int_equal(r->n_skipped, 0);
    FREE(r);
    assert_int_equal(ss_httpd_hits(fx->srv, "/good/streams/v1/index2.sjson"), 1);
    assert_int_equal(ss_httpd_hits(fx->srv, "/good/streams/v1/index.sjson"), 1);
    assert_int_equal(ss_httpd_hits(fx->srv, "/good/streams/v1/image_metadata.sjson"), 1);
    assert_int_equal(ss_httpd_hits(fx->srv, "/good/streams/v1/index.json"), 0);
    assert_int_equal(ss_httpd_hits(fx->srv, "/good/streams/v1/image_metadata.json"), 0);

    // warm: the same lookup within the TTL makes no request at all
    imagemeta_stats_t s1, s2, s3;
    imagemeta_stats(fx->im, &s1);
    assert_int_equal(s1.parses, 2);
    ss_httpd_reset_counts(fx->srv);
    r = s_find(fx, model, "12.04", "us-east-1", EP, &err);
    assert_non_null(r);
    assert_int_equal(r->n_images, 2);
    FREE(r);
    assert_int_equal(ss_httpd_hits(fx->srv, "/good/streams/v1/index2.sjson"), 0);
    assert_int_equal(ss_httpd_hits(fx->srv, "/good/streams/v1/index.sjson"), 0);
    assert_int_equal(ss_httpd_hits(fx->srv, "/good/streams/v1/image_metadata.sjson"), 0);
    imagemeta_stats(fx->im, &s2);
    assert_int_equal(s2.parses, s1.parses);
    assert_int_equal(s2.fetches, s1.fetches);
    assert_int_equal(s2.hits, s1.hits + 3);

    // after the TTL: conditional GETs, 304, nothing parsed or verified again
    imagemeta_expire(fx->im);
    r = s_find(fx, model, "12.04", "us-east-1", EP, &err);
    assert_non_null(r);
    assert_int_equal(r->n_images, 2);
    FREE(r);
    assert_int_equal(ss_httpd_hits(fx->srv, "/good/streams/v1/index.sjson"), 1);
    assert_int_equal(ss_httpd_hits(fx->srv, "/good/streams/v1/image_metadata.sjson"), 1);
    imagemeta_stats(fx->im, &s3);
    assert_int_equal(s3.revalidated, s2.revalidated + 2);
    assert_int_equal(s3.parses, s2.parses);
    assert_int_equal(s3.fetches, s2.fetches);
    free(model);
}

//  Skipped sources, in order, with their reasons: a require_signed source
//  with only unsigned files, a tampered signed file (whose unsigned copy
//  is NOT read), an unreachable URL; then the good source answers.
static void
find_skips_unsigned_tampered_and_unreachable(void **state)
{
    fx_t *fx = *state;
    char *model = s_open(fx, "skips", DISABLED);
    char url[300];
    // a port nobody listens on
    ss_httpd_t *gone = ss_httpd_new(fx->srv_dir, 0);
    snprintf(url, sizeof url, "%s", ss_httpd_url(gone, "/good/"));
    ss_httpd_destroy(&gone);
    s_register(fx, false, "down", url, false, NULL, NULL);
    s_register(fx, false, "unsigned-only", s_url(fx, "/unsigned/"), true, fx->juju_key, NULL);
    s_register(fx, false, "tampered", s_url(fx, "/tampered/"), false, fx->juju_key, NULL);
    s_register(fx, false, "good", s_url(fx, "/good/"), true, fx->juju_key, NULL);

    en_err_t err;
    En__FindImageMetadataResult *r = s_find(fx, model, "12.04", "us-east-1", EP, &err);
    if (!r)
        fail_msg("find: %s", err.message);
    assert_string_equal(r->resolve_info->source, "good");
    assert_int_equal(r->n_images, 2);
    assert_string_equal(r->images[0]->id, "ami-442ea674");
    assert_int_equal(r->n_skipped, 3);
    assert_string_equal(r->skipped[0]->source, "down");
    assert_int_equal(r->skipped[0]->error->kind, EN__ERROR_KIND__UNAVAILABLE);
    assert_string_equal(r->skipped[1]->source, "unsigned-only");
    assert_int_equal(r->skipped[1]->error->kind, EN__ERROR_KIND__NOT_FOUND);
    assert_non_null(strstr(r->skipped[1]->error->message, "requires signed metadata"));
    assert_string_equal(r->skipped[2]->source, "tampered");
    assert_int_equal(r->skipped[2]->error->kind, EN__ERROR_KIND__NOT_VALID);
    assert_non_null(strstr(r->skipped[2]->error->message, "source \"tampered\""));
    assert_non_null(strstr(r->skipped[2]->error->message, "streams/v1/image_metadata.sjson"));
    FREE(r);
    // no unsigned fallback: neither the require_signed source's .json nor
    // the tampered source's
    assert_int_equal(ss_httpd_hits(fx->srv, "/unsigned/streams/v1/index.json"), 0);
    assert_int_equal(ss_httpd_hits(fx->srv, "/unsigned/streams/v1/index.sjson"), 1);
    assert_int_equal(ss_httpd_hits(fx->srv, "/tampered/streams/v1/image_metadata.sjson"), 1);
    assert_int_equal(ss_httpd_hits(fx->srv, "/tampered/streams/v1/index.json"), 0);
    assert_int_equal(ss_httpd_hits(fx->srv, "/tampered/streams/v1/image_metadata.json"), 0);
    free(model);
}

//  A source that allows unsigned data reads the .json files when no
//  signed index exists.
static void
find_unsigned_when_allowed(void **state)
{
    fx_t *fx = *state;
    char *model = s_open(fx, "unsigned", DISABLED);
    s_register(fx, false, "plain", s_url(fx, "/unsigned/"), false, NULL, NULL);
    en_err_t err;
    En__FindImageMetadataResult *r = s_find(fx, model, "12.04", "us-east-1", EP, &err);
    if (!r)
        fail_msg("find: %s", err.message);
    assert_false(r->resolve_info->signed_);
    assert_non_null(strstr(r->resolve_info->index_url, "/unsigned/streams/v1/index.json"));
    assert_int_equal(r->n_images, 2);
    FREE(r);
    free(model);
}

//  The constraint's virt type and root store keep the images that name
//  them (or name none); a source with none of them left is passed over
//  like one without the release.
static void
find_filters_by_virt_type_and_root_store(void **state)
{
    fx_t *fx = *state;
    char *model = s_open(fx, "virt", DISABLED);
    s_register(fx, false, "plain", s_url(fx, "/unsigned/"), false, NULL, NULL);
    En__FindImageMetadataRequest req = EN__FIND_IMAGE_METADATA_REQUEST__INIT;
    En__ImageConstraint c = EN__IMAGE_CONSTRAINT__INIT;
    char *releases[] = {"12.04"}, *arches[] = {"amd64"};
    c.releases = releases;
    c.n_releases = 1;
    c.arches = arches;
    c.n_arches = 1;
    c.region = "us-east-1";
    c.endpoint = EP;
    req.constraint = &c;
    en_err_t err;
    En__FindImageMetadataResult *all = s_call(fx->d, "FindImageMetadata", model, &req, &err);
    if (!all)
        fail_msg("find: %s", err.message);
    size_t hvm = 0;
    for (size_t i = 0; i < all->n_images; i++)
        hvm += !strcmp(all->images[i]->virt_type, "hvm") || !*all->images[i]->virt_type;
    assert_true(hvm > 0 && hvm <= all->n_images);
    c.virt_type = "hvm";
    En__FindImageMetadataResult *r = s_call(fx->d, "FindImageMetadata", model, &req, &err);
    if (!r)
        fail_msg("find hvm: %s", err.message);
    assert_int_equal(r->n_images, hvm);
    for (size_t i = 0; i < r->n_images; i++)
        assert_true(!strcmp(r->images[i]->virt_type, "hvm") || !*r->images[i]->virt_type);
    FREE(r);
    c.root_store = "no-such-store";
    assert_null(s_call(fx->d, "FindImageMetadata", model, &req, &err));
    assert_int_equal(err.kind, EN_NOT_FOUND);
    assert_non_null(strstr(err.message, "no image metadata found for release \"12.04\", arch "
                                        "\"amd64\", region \"us-east-1\", virt-type \"hvm\", "
                                        "root-store \"no-such-store\""));
    FREE(all);
    free(model);
}

//  The model's image-metadata-url is the first source (no key: its
//  unsigned files); a require_signed source without a key is skipped
//  before any request.
static void
find_through_image_metadata_url(void **state)
{
    fx_t *fx = *state;
    s_register(fx, true, "keyless", "http://127.0.0.1:1/never/", true, NULL, NULL);
    char cfg[512];
    snprintf(cfg, sizeof cfg,
             "{\"image-metadata-url\":\"%s\",\"image-metadata-defaults-disabled\":true}",
             s_url(fx, "/good/"));
    char *model = s_open(fx, "mdurl", cfg);
    en_err_t err;
    En__FindImageMetadataResult *r = s_find(fx, model, "12.04", "us-east-1", EP, &err);
    if (!r)
        fail_msg("find: %s", err.message);
    assert_string_equal(r->resolve_info->source, "image-metadata-url");
    assert_false(r->resolve_info->signed_);
    assert_int_equal(r->n_images, 2);
    assert_int_equal(r->images[0]->priority, 20);
    // the tree has .sjson files too, but nothing to check them with
    assert_int_equal(ss_httpd_hits(fx->srv, "/good/streams/v1/index2.sjson"), 0);
    assert_int_equal(ss_httpd_hits(fx->srv, "/good/streams/v1/index.sjson"), 0);
    assert_int_equal(ss_httpd_hits(fx->srv, "/good/streams/v1/index.json"), 1);
    FREE(r);
    // the keyless source comes after the model's URL: make the URL fail
    snprintf(cfg, sizeof cfg,
             "{\"image-metadata-url\":\"%s\","
             "\"image-metadata-defaults-disabled\":true}",
             s_url(fx, "/missing/"));
    char *m2 = s_open(fx, "mdurl2", cfg);
    assert_null(s_find(fx, m2, "12.04", "us-east-1", EP, &err));
    assert_int_equal(err.kind, EN_NOT_FOUND);
    assert_non_null(strstr(err.message, "keyless: source \"keyless\": no public key"));
    free(model);
    free(m2);
}

//  A byte budget smaller than the documents of one lookup: the older
//  entry is evicted (LRU) while the lookup still holds it, answers stay
//  right, and the cache never holds more than its budget.
static void
cache_budget_evicts_least_recently_used(void **state)
{
    fx_t *fx = *state;
    imagemeta_opts_t opts = {.cloudimage_keyring = "/nonexistent", .cache_bytes = 5000};
    en_err_t err;
    imagemeta_t *im = imagemeta_new_opts(fx->h.home, fx->h.endpoint, &opts, &err);
    assert_non_null(im);
    en_dispatcher_t *d = en_dispatcher_new(imagemeta_service(im), &err);
    assert_non_null(d);
    char *model = s_open(fx, "budget", DISABLED);
    s_register(fx, false, "good", s_url(fx, "/good/"), true, fx->juju_key, NULL);
    for (int i = 0; i < 2; i++) {
        En__FindImageMetadataResult *r = s_find_on(d, model, "12.04", "us-east-1", EP, &err);
        if (!r)
            fail_msg("find: %s", err.message);
        assert_int_equal(r->n_images, 2);
        assert_string_equal(r->images[0]->id, "ami-442ea674");
        FREE(r);
        imagemeta_stats_t st;
        imagemeta_stats(im, &st);
        assert_true(st.bytes <= 5000);
        assert_true(st.evictions >= (uint64_t)(i + 1));
    }
    // the index (2.5 kB) was evicted by the products (3.9 kB): fetched again
    assert_int_equal(ss_httpd_hits(fx->srv, "/good/streams/v1/index.sjson"), 2);
    en_dispatcher_destroy(&d);
    imagemeta_destroy(&im);
    free(model);
}

//  Threads share one cache: four workers (a dispatcher each, as the
//  service's handler threads) look up together under a budget that
//  evicts on every lookup; each answer must be whole (ASan builds check
//  that no evicted document is freed while a lookup reads it).
typedef struct {
    en_dispatcher_t *d;
    const char *model;
    int failures;
} s_worker_t;

static void *
s_worker(void *arg)
{
    s_worker_t *w = arg;
    for (int i = 0; i < 20; i++) {
        en_err_t err;
        En__FindImageMetadataResult *r = s_find_on(w->d, w->model, "12.04", "us-east-1", EP, &err);
        if (!r || r->n_images != 2 || strcmp(r->images[0]->id, "ami-442ea674") != 0)
            w->failures++;
        FREE(r);
    }
    return NULL;
}

static void
cache_is_shared_by_threads_under_eviction(void **state)
{
    fx_t *fx = *state;
    imagemeta_opts_t opts = {.cloudimage_keyring = "/nonexistent", .cache_bytes = 5000};
    en_err_t err;
    imagemeta_t *im = imagemeta_new_opts(fx->h.home, fx->h.endpoint, &opts, &err);
    assert_non_null(im);
    char *model = s_open(fx, "threads", DISABLED);
    s_register(fx, false, "good", s_url(fx, "/good/"), true, fx->juju_key, NULL);
    s_worker_t w[4] = {0};
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        w[i].d = en_dispatcher_new(imagemeta_service(im), &err);
        assert_non_null(w[i].d);
        w[i].model = model;
    }
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&th[i], NULL, s_worker, &w[i]), 0);
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(w[i].failures, 0);
        en_dispatcher_destroy(&w[i].d);
    }
    imagemeta_stats_t st;
    imagemeta_stats(im, &st);
    assert_true(st.evictions > 0);
    assert_true(st.bytes <= 5000);
    imagemeta_destroy(&im);
    free(model);
}

//  No match anywhere: NOT_FOUND naming release, arch and region.
static void
find_nothing_names_release_arch_region(void **state)
{
    fx_t *fx = *state;
    char *model = s_open(fx, "none", DISABLED);
    s_register(fx, false, "good", s_url(fx, "/good/"), true, fx->juju_key, NULL);
    en_err_t err;
    assert_null(s_find(fx, model, "22.04", "us-east-1", EP, &err));
    assert_int_equal(err.kind, EN_NOT_FOUND);
    assert_non_null(strstr(err.message, "no image metadata found for release \"22.04\", arch "
                                        "\"amd64\", region \"us-east-1\""));
    free(model);
}

//  Keys are per source: the real 2016 cloud-images index verifies with
//  the Ubuntu key, not with the Juju test key. With it, the Azure entry is
//  selected for "eastus2" (region names normalised, the endpoint's
//  trailing "/" ignored) and its products file — not in the copy — is
//  the reason the source is passed over.
static void
find_real_ubuntu_tree_checks_the_sources_key(void **state)
{
    fx_t *fx = *state;
    char *model = s_open(fx, "ubuntu", DISABLED);
    s_register(fx, false, "ubuntu-key", s_url(fx, "/ubuntu/"), true, fx->ubuntu_key, NULL);
    s_register(fx, false, "wrong-key", s_url(fx, "/ubuntu/"), true, fx->juju_key, NULL);
    en_err_t err;
    assert_null(s_find(fx, model, "16.04", "eastus2", "https://management.core.windows.net", &err));
    assert_int_equal(err.kind, EN_NOT_FOUND);
    assert_non_null(strstr(err.message, "no image metadata found for release \"16.04\", arch "
                                        "\"amd64\", region \"eastus2\""));
    assert_non_null(strstr(err.message, "ubuntu-key: cannot find URL"));
    assert_non_null(
        strstr(err.message, "/ubuntu/streams/v1/com.ubuntu.cloud:released:azure.sjson"));
    assert_non_null(strstr(err.message, "wrong-key: source \"wrong-key\": streams/v1/index.sjson: "
                                        "signed by unknown key"));
    assert_int_equal(ss_httpd_hits(fx->srv, "/ubuntu/streams/v1/index.json"), 0);
    free(model);
}

//  Released ubuntu/amd64 agents of any version.
static En__FindAgentMetadataResult *
s_find_agents(fx_t *fx, const char *model, en_err_t *err)
{
    En__FindAgentMetadataRequest req = EN__FIND_AGENT_METADATA_REQUEST__INIT;
    char *releases[] = {"ubuntu"};
    char *arches[] = {"amd64"};
    req.releases = releases;
    req.n_releases = 1;
    req.arches = arches;
    req.n_arches = 1;
    req.minor = -1;
    return s_call(fx->d, "FindAgentMetadata", model, &req, err);
}

//  Agents: the released stream's tools from the signed test tree.
static void
find_agents_released(void **state)
{
    fx_t *fx = *state;
    char *model = s_open(fx, "agents", DISABLED);
    char url[300];
    snprintf(url, sizeof url, "%s", s_url(fx, "/good/"));
    s_register(fx, false, "tools", url, true, fx->juju_key, "agents");
    en_err_t err;
    En__FindAgentMetadataResult *r = s_find_agents(fx, model, &err);
    if (!r)
        fail_msg("agents: %s", err.message);
    assert_int_equal(r->n_agents, 1);
    assert_string_equal(r->agents[0]->version, "1.13.0");
    assert_int_equal(r->agents[0]->size, 2973595);
    assert_string_equal(r->agents[0]->sha256, "447aeb6a934a5eaec4f703eda4ef2dde");
    char full[400];
    snprintf(full, sizeof full, "%stools/released/20130806/juju-1.13.0-ubuntu-amd64.tgz", url);
    assert_string_equal(r->agents[0]->full_path, full);
    assert_string_equal(r->agents[0]->stream, "released");
    assert_true(r->resolve_info->signed_);
    // the mirrors file was read; its mirror is for another cloud
    assert_string_equal(r->resolve_info->mirror_url, "");
    assert_int_equal(ss_httpd_hits(fx->srv, "/good/streams/v1/mirrors.sjson"), 1);
    assert_int_equal(ss_httpd_hits(fx->srv, "/good/streams/v1/tools_metadata:more-mirrors.sjson"),
                     1);
    FREE(r);
    free(model);
}

static void
s_write(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

//  A mirror for the stream and cloud replaces the index's products path:
//  the products (and the agents' full paths) come from the mirror.
static void
find_agents_through_a_mirror(void **state)
{
    fx_t *fx = *state;
    char *model = s_open(fx, "mirror", DISABLED);
    char path[700], mirror[300], text[1024];
    snprintf(path, sizeof path, "%s/mirrored/streams/v1", fx->srv_dir);
    s_sh("mkdir -p %s && cp %s/good/streams/v1/index.json %s/", path, fx->srv_dir, path);
    snprintf(mirror, sizeof mirror, "%s", s_url(fx, "/good/"));
    snprintf(path, sizeof path, "%s/mirrored/streams/v1/mirrors.json", fx->srv_dir);
    s_write(path, "{\"mirrors\": {\"com.ubuntu.juju:released:agents\": [{\"datatype\": "
                  "\"content-download\", \"path\": \"streams/v1/m.json\", \"format\": "
                  "\"mirrors:1.0\"}]}}");
    // the sim's cloud spec has no endpoint, so agents look up with no
    // cloud: the mirror lists the empty one
    snprintf(text, sizeof text,
             "{\"format\": \"mirrors:1.0\", \"mirrors\": {\"com.ubuntu.juju:released:agents\": "
             "[{\"mirror\": \"%s\", \"path\": \"streams/v1/tools_metadata.json\", "
             "\"clouds\": [{\"region\": \"\", \"endpoint\": \"\"}]}]}}",
             mirror);
    snprintf(path, sizeof path, "%s/mirrored/streams/v1/m.json", fx->srv_dir);
    s_write(path, text);
    s_register(fx, false, "mirrored", s_url(fx, "/mirrored/"), false, NULL, "agents");
    en_err_t err;
    En__FindAgentMetadataResult *r = s_find_agents(fx, model, &err);
    if (!r)
        fail_msg("agents: %s", err.message);
    assert_int_equal(r->n_agents, 1);
    assert_string_equal(r->agents[0]->version, "1.13.0");
    char full[400];
    snprintf(full, sizeof full, "%stools/released/20130806/juju-1.13.0-ubuntu-amd64.tgz", mirror);
    assert_string_equal(r->agents[0]->full_path, full);
    assert_string_equal(r->resolve_info->mirror_url, mirror);
    assert_false(r->resolve_info->signed_);
    assert_int_equal(ss_httpd_hits(fx->srv, "/good/streams/v1/tools_metadata.json"), 1);
    FREE(r);
    free(model);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(sources_order_replace_unregister_and_restart, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(register_rejects_bad_input, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(sources_metadata_url_stream_and_defaults_disabled, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(find_signed_then_warm_cache_then_revalidate, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(find_skips_unsigned_tampered_and_unreachable, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(find_unsigned_when_allowed, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(find_filters_by_virt_type_and_root_store, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(find_through_image_metadata_url, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(cache_budget_evicts_least_recently_used, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(cache_is_shared_by_threads_under_eviction, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(find_nothing_names_release_arch_region, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(find_real_ubuntu_tree_checks_the_sources_key, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(find_agents_released, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(find_agents_through_a_mirror, s_setup, s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
