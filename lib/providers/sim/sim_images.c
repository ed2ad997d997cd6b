/*  sim_images.c — the sim cloud publishes its own image metadata
    (en_provider_t.image_sources), as a real cloud's keystone catalogue or
    product-streams endpoint does for Juju.

    The metadata is a simplestreams tree next to the cloud's database:
    <dir of the db>/<cloud>-images/streams/v1/index.json and the products
    file en_ss_generate_images names, listing one image per region of the
    catalogue × release (20.04, 22.04, 24.04) × arch the region's instance
    types have, with id sim-img-<region>-<release>-<arch>, virt hvm,
    root_store ssd and the spec's endpoint (the items' endpoint is "" when
    the spec has none). The tree is unsigned, so the source does not
    require signatures.

    Written once: the files are built in a temporary directory beside the
    target and renamed onto it, so a reader sees either no tree or a whole
    one, and when several processes race the first rename wins and the
    others throw their copy away. The content is a function of the
    catalogue only (the generation time is fixed), so every writer would
    have written the same bytes. Reading the catalogue is the operator's
    console, not an API call: no latency, no injected failures, no count. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "providers/provider.h"
#include "providers/sim/sim_private.h"
#include "simplestreams/ss.h"

//  The generation time of every sim tree (2024-04-25, noble's release):
//  fixed, so racing writers produce the same bytes.
#define S_GENERATED 1714003200

static const char *const s_releases[] = {"20.04", "22.04", "24.04"};
#define S_RELEASES (sizeof s_releases / sizeof s_releases[0])

typedef struct {
    char region[EN_SIM_NAME_MAX];
    char arch[EN_SIM_NAME_MAX];
} s_pair_t;

//  The distinct (region, arch) pairs of the catalogue, sorted.
static int
s_catalog_arches(const char *db_path, s_pair_t **pairs, size_t *count, en_err_t *err)
{
    *pairs = NULL;
    *count = 0;
    en_sim_cloud_t *cloud = en_sim_cloud_open(db_path, err);
    if (!cloud)
        return -1;
    sqlite3_stmt *stmt = NULL;
    size_t cap = 0;
    int rc = sim_prepare(cloud,
                         "SELECT DISTINCT region, arch FROM instance_types"
                         " ORDER BY region, arch",
                         &stmt, err);
    while (rc == 0) {
        int step = sqlite3_step(stmt);
        if (step == SQLITE_DONE)
            break;
        if (step != SQLITE_ROW) {
            rc = sim_db_fail(cloud, step, "reading the catalogue's arches", err);
            break;
        }
        if (sim_grow((void **)pairs, &cap, *count, sizeof **pairs)) {
            rc = en_err_set(err, EN_INTERNAL, "out of memory");
            break;
        }
        s_pair_t *p = &(*pairs)[(*count)++];
        sim_copy_text(p->region, sizeof p->region, stmt, 0);
        sim_copy_text(p->arch, sizeof p->arch, stmt, 1);
    }
    sqlite3_finalize(stmt);
    en_sim_cloud_close(&cloud);
    if (rc) {
        free(*pairs);
        *pairs = NULL;
        *count = 0;
    }
    return rc;
}

static int
s_write_file(const char *path, const char *data, en_err_t *err)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
    if (fd < 0)
        return en_err_set(err, EN_INTERNAL, "cannot create %s: %s", path, strerror(errno));
    size_t len = strlen(data), off = 0;
    while (off < len) {
        ssize_t n = write(fd, data + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            int e = errno;
            close(fd);
            return en_err_set(err, EN_INTERNAL, "cannot write %s: %s", path, strerror(e));
        }
        off += (size_t)n;
    }
    if (fsync(fd) != 0 || close(fd) != 0)
        return en_err_set(err, EN_INTERNAL, "cannot write %s: %s", path, strerror(errno));
    return 0;
}

static int
s_unlink_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

//  rm -rf of a temporary tree we made; errors are ignored (litter only).
static void
s_remove_tree(const char *dir)
{
    nftw(dir, s_unlink_one, 16, FTW_DEPTH | FTW_PHYS);
}

//  The index and products documents for the catalogue.
static int
s_generate(const s_pair_t *pairs, size_t n, const char *endpoint, char **index, char **products,
           en_err_t *err)
{
    size_t count = n * S_RELEASES;
    en_ss_image_meta_t *images = calloc(count ? count : 1, sizeof *images);
    char(*ids)[3 * EN_SIM_NAME_MAX] = calloc(count ? count : 1, sizeof *ids);
    int rc = -1;
    if (!images || !ids) {
        en_err_set(err, EN_INTERNAL, "out of memory");
        goto cleanup;
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t r = 0; r < S_RELEASES; r++, k++) {
            snprintf(ids[k], sizeof ids[k], "sim-img-%s-%s-%s", pairs[i].region, s_releases[r],
                     pairs[i].arch);
            images[k] = (en_ss_image_meta_t){
                .id = ids[k],
                .release = s_releases[r],
                .arch = pairs[i].arch,
                .region = pairs[i].region,
                .endpoint = endpoint,
                .root_store = "ssd",
                .virt = "hvm",
            };
        }
    rc = en_ss_generate_images(images, count, (time_t)S_GENERATED, index, products, err);
cleanup:
    free(images);
    free(ids);
    return rc;
}

//  Write <target> unless it is there: build in a sibling temporary
//  directory, then rename it onto target (losing a race is success).
static int
s_publish(const char *target, const char *db_path, const char *endpoint, en_err_t *err)
{
    char probe[PATH_MAX + 64], tmp[PATH_MAX], path[PATH_MAX + 128];
    snprintf(probe, sizeof probe, "%s/streams/v1/index.json", target);
    if (access(probe, F_OK) == 0)
        return 0;
    s_pair_t *pairs = NULL;
    size_t n = 0;
    char *index = NULL, *products = NULL;
    bool made = false;
    int rc = -1;
    if (s_catalog_arches(db_path, &pairs, &n, err) ||
        s_generate(pairs, n, endpoint, &index, &products, err))
        goto cleanup;
    const char *slash = strrchr(target, '/');
    snprintf(tmp, sizeof tmp, "%.*s/.%s.XXXXXX", (int)(slash - target), target, slash + 1);
    if (!mkdtemp(tmp)) {
        en_err_set(err, EN_INTERNAL, "cannot create a directory beside %s: %s", target,
                   strerror(errno));
        goto cleanup;
    }
    made = true;
    for (int depth = 0; depth < 2; depth++) {
        snprintf(path, sizeof path, "%s/streams%s", tmp, depth ? "/v1" : "");
        if (mkdir(path, 0755) != 0) {
            en_err_set(err, EN_INTERNAL, "cannot create %s: %s", path, strerror(errno));
            goto cleanup;
        }
    }
    snprintf(path, sizeof path, "%s/streams/v1/index.json", tmp);
    if (s_write_file(path, index, err))
        goto cleanup;
    snprintf(path, sizeof path, "%s/%s", tmp, EN_SS_CUSTOM_PRODUCTS_PATH);
    if (s_write_file(path, products, err))
        goto cleanup;
    if (chmod(tmp, 0755) != 0) { // mkdtemp makes it 0700; the tree is public
        en_err_set(err, EN_INTERNAL, "cannot chmod %s: %s", tmp, strerror(errno));
        goto cleanup;
    }
    if (rename(tmp, target) == 0)
        made = false;
    else if ((errno == ENOTEMPTY || errno == EEXIST) && access(probe, F_OK) == 0)
        ; // another writer won; its tree is the same
    else {
        en_err_set(err, EN_INTERNAL, "cannot rename %s to %s: %s", tmp, target, strerror(errno));
        goto cleanup;
    }
    rc = 0;
cleanup:
    if (made)
        s_remove_tree(tmp);
    free(index);
    free(products);
    free(pairs);
    return rc;
}

//  en_provider_t.image_sources of the sim provider (sim_provider.c).
int
en_sim_image_sources(const en_cloud_spec_t *spec, const char *home, en_image_source_t **out,
                     size_t *count, en_err_t *err)
{
    *out = NULL;
    *count = 0;
    const char *name = spec->name && *spec->name ? spec->name : "sim";
    if (strchr(name, '/') || name[0] == '.')
        return en_err_set(err, EN_NOT_VALID, "cloud name \"%s\" not valid for image metadata",
                          name);
    char db[8192], dir[PATH_MAX], target[PATH_MAX];
    if (sim_spec_db_path(spec, home, db, sizeof db, err))
        return -1;
    //  Opening makes the database (and its directory is there already
    //  unless the endpoint names a missing one, which open reports).
    en_sim_cloud_t *cloud = en_sim_cloud_open(db, err);
    if (!cloud)
        return -1;
    en_sim_cloud_close(&cloud);
    char *slash = strrchr(db, '/');
    if (slash == db)
        snprintf(dir, sizeof dir, "/");
    else if (!slash)
        snprintf(dir, sizeof dir, ".");
    else
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - db), db);
    char *abs = realpath(dir, NULL);
    if (!abs)
        return en_err_set(err, EN_INTERNAL, "cannot resolve %s: %s", dir, strerror(errno));
    int n = snprintf(target, sizeof target, "%s/%s-images", strcmp(abs, "/") ? abs : "", name);
    free(abs);
    if (n < 0 || (size_t)n >= sizeof target - 64)
        return en_err_set(err, EN_NOT_VALID, "image metadata path too long");
    if (s_publish(target, db, spec->endpoint ? spec->endpoint : "", err))
        return -1;

    en_image_source_t *src = calloc(1, sizeof *src);
    char url[PATH_MAX + 16];
    snprintf(url, sizeof url, "file://%s", target);
    if (!src || !(src->id = strdup("sim")) || !(src->description = strdup("sim cloud images")) ||
        !(src->url = strdup(url))) {
        en_image_sources_free(&src, 1);
        return en_err_set(err, EN_INTERNAL, "out of memory");
    }
    src->priority = EN_IMAGE_PRIORITY_SPECIFIC;
    src->require_signed = false;
    *out = src;
    *count = 1;
    return 0;
}
