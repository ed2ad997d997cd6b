/*  ss_write.c — custom image metadata as `juju metadata generate-image`
    writes it (docs/simplestreams.md §8.10): one index entry
    "com.ubuntu.cloud:custom" and one products file. The trees are built
    with jansson and dumped with sorted keys, so equal input gives equal
    bytes. Merging with metadata already on disk is the caller's job. */
#include "simplestreams/ss_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool
s_set(json_t *obj, const char *key, const char *value)
{
    if (!value || !*value)
        return true;
    return json_object_set_new(obj, key, json_string(value)) == 0;
}

static int
s_cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int
en_ss_generate_images(const en_ss_image_meta_t *images, size_t count, time_t now, char **index_json,
                      char **products_json, en_err_t *err)
{
    *index_json = *products_json = NULL;
    char updated[64], vkey[16];
    struct tm tm;
    if (!gmtime_r(&now, &tm))
        return en_err_set(err, EN_NOT_VALID, "time out of range");
    strftime(updated, sizeof updated, "%a, %d %b %Y %H:%M:%S +0000", &tm);
    strftime(vkey, sizeof vkey, "%Y%m%d", &tm);

    int rc = -1;
    json_t *prods = json_object(), *clouds = json_array(), *pids = json_array();
    json_t *doc = NULL, *index = NULL;
    if (!prods || !clouds || !pids) {
        en_err_set(err, EN_INTERNAL, "out of memory");
        goto cleanup;
    }
    for (size_t i = 0; i < count; i++) {
        const en_ss_image_meta_t *im = &images[i];
        if (!im->id || !*im->id || !im->release || !*im->release || !im->arch || !*im->arch) {
            en_err_set(err, EN_NOT_VALID, "image %zu: id, release and arch are required", i);
            goto cleanup;
        }
        const char *stream = im->stream ? im->stream : "";
        bool plain = !*stream || strcmp(stream, "released") == 0;
        char pid[256];
        if ((size_t)snprintf(pid, sizeof pid, "com.ubuntu.cloud%s%s:server:%s:%s", plain ? "" : ".",
                             plain ? "" : stream, im->release, im->arch) >= sizeof pid) {
            en_err_set(err, EN_NOT_VALID, "image %zu: product id too long", i);
            goto cleanup;
        }
        json_t *p = json_object_get(prods, pid);
        if (!p) {
            p = json_pack("{s:s, s:s, s:{}}", "version", im->release, "arch", im->arch, "versions");
            if (!p || json_object_set_new(prods, pid, p) < 0) {
                en_err_set(err, EN_INTERNAL, "out of memory");
                goto cleanup;
            }
        }
        json_t *versions = json_object_get(p, "versions");
        json_t *ver = json_object_get(versions, vkey);
        if (!ver && (!(ver = json_pack("{s:{}}", "items")) ||
                     json_object_set_new(versions, vkey, ver) < 0)) {
            en_err_set(err, EN_INTERNAL, "out of memory");
            goto cleanup;
        }
        json_t *item = json_object();
        if (!item || !s_set(item, "id", im->id) || !s_set(item, "region", im->region) ||
            !s_set(item, "endpoint", im->endpoint) || !s_set(item, "root_store", im->root_store) ||
            !s_set(item, "virt", im->virt) ||
            json_object_set_new(json_object_get(ver, "items"), im->id, item) < 0) {
            en_err_set(err, EN_INTERNAL, "out of memory");
            goto cleanup;
        }
        en_ss_cloud_t c = {im->region, im->endpoint};
        bool seen = ss_cloud_empty(&c);
        for (size_t j = 0; j < i && !seen; j++) {
            en_ss_cloud_t d = {images[j].region, images[j].endpoint};
            seen = en_ss_cloud_equal(&c, &d);
        }
        if (!seen && json_array_append_new(
                         clouds, json_pack("{s:s, s:s}", "region", im->region ? im->region : "",
                                           "endpoint", im->endpoint ? im->endpoint : "")) < 0) {
            en_err_set(err, EN_INTERNAL, "out of memory");
            goto cleanup;
        }
    }
    // index "products": sorted ids
    size_t n = json_object_size(prods), k = 0;
    const char **ids = calloc(n ? n : 1, sizeof *ids);
    if (!ids) {
        en_err_set(err, EN_INTERNAL, "out of memory");
        goto cleanup;
    }
    const char *key;
    json_t *val;
    json_object_foreach(prods, key, val) ids[k++] = key;
    qsort(ids, n, sizeof *ids, s_cmp_str);
    for (k = 0; k < n; k++)
        json_array_append_new(pids, json_string(ids[k]));
    free(ids);

    doc = json_pack("{s:s, s:s, s:s, s:s, s:O}", "content_id", EN_SS_CUSTOM_CONTENT_ID, "format",
                    "products:1.0", "datatype", "image-ids", "updated", updated, "products", prods);
    index = json_pack("{s:{s:{s:s, s:s, s:s, s:s, s:O, s:s, s:O}}, s:s, s:s}", "index",
                      EN_SS_CUSTOM_CONTENT_ID, "updated", updated, "format", "products:1.0",
                      "datatype", "image-ids", "cloudname", "custom", "clouds", clouds, "path",
                      EN_SS_CUSTOM_PRODUCTS_PATH, "products", pids, "updated", updated, "format",
                      "index:1.0");
    if (!doc || !index) {
        en_err_set(err, EN_INTERNAL, "out of memory");
        goto cleanup;
    }
    *index_json = json_dumps(index, JSON_INDENT(1) | JSON_SORT_KEYS);
    *products_json = json_dumps(doc, JSON_INDENT(1) | JSON_SORT_KEYS);
    if (!*index_json || !*products_json) {
        free(*index_json);
        free(*products_json);
        *index_json = *products_json = NULL;
        en_err_set(err, EN_INTERNAL, "out of memory");
        goto cleanup;
    }
    rc = 0;
cleanup:
    json_decref(prods);
    json_decref(clouds);
    json_decref(pids);
    json_decref(doc);
    json_decref(index);
    return rc;
}
