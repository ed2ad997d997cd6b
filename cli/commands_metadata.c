/*  commands_metadata.c — `metadata generate-image`: custom image metadata
    written as Juju's command of the same name writes it (docs/
    simplestreams.md §8.10), with no gateway involved.

    The tree is DIR/images/streams/v1/index.json plus the products file
    EN_SS_CUSTOM_PRODUCTS_PATH. A run merges with what DIR already holds:
    the existing products are read back with ss.h (the newest version of
    each product), the image given replaces an existing one for the same
    stream, release, arch, region, endpoint, virt type and root storage,
    the others are kept, and the whole tree is regenerated (so every image
    carries today's version key, as with Juju). Each file is written to a
    temporary name and renamed, products first, so the index never names
    a products file that is not there.

    With --sign-key the same documents are also written clear-signed as
    index.sjson and the products .sjson, the signed index naming the signed
    products file (Juju's SignMetadata rewrites ".json" to ".sjson" in the
    index). Without a key, .sjson files left by an earlier signed run are
    removed, since they would no longer match the .json ones. */
#include "cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/paths.h"
#include "simplestreams/ss.h"
#include "simplestreams/ssverify.h"

//  --------------------------------------------------------------------------
//  Flags to an image record

static const struct {
    const char *series;
    const char *release;
} s_series[] = {
    {"trusty", "14.04"}, {"xenial", "16.04"},   {"bionic", "18.04"}, {"focal", "20.04"},
    {"jammy", "22.04"},  {"kinetic", "22.10"},  {"lunar", "23.04"},  {"mantic", "23.10"},
    {"noble", "24.04"},  {"oracular", "24.10"}, {"plucky", "25.04"},
};

static const char *const s_arches[] = {"amd64", "arm64", "ppc64el", "s390x", "riscv64", NULL};

//  The release from exactly one of --base, --series, --release.
static int
s_release_arg(const cli_args_t *args, const char **release, en_err_t *err)
{
    const char *base = cli_args_value(args, CLI_OPT_BASE);
    const char *series = cli_args_value(args, CLI_OPT_SERIES);
    const char *rel = cli_args_value(args, CLI_OPT_RELEASE);
    if ((base != NULL) + (series != NULL) + (rel != NULL) > 1)
        return en_err_set(err, EN_NOT_VALID, "--base, --series and --release are exclusive");
    if (base) {
        if (strncmp(base, "ubuntu@", 7) != 0)
            return en_err_set(err, EN_NOT_VALID,
                              "invalid value \"%s\" for option --base: expected ubuntu@<release>",
                              base);
        rel = base + 7;
    } else if (series) {
        for (size_t i = 0; i < sizeof s_series / sizeof s_series[0]; i++)
            if (strcmp(series, s_series[i].series) == 0)
                rel = s_series[i].release;
        if (!rel)
            return en_err_set(err, EN_NOT_VALID,
                              "invalid value \"%s\" for option --series: unknown series", series);
    }
    if (!rel)
        return en_err_set(err, EN_NOT_VALID, "missing option: --base, --series or --release");
    if (!cli_version_valid(rel))
        return en_err_set(err, EN_NOT_VALID, "invalid release \"%s\": expected e.g. 22.04", rel);
    *release = rel;
    return 0;
}

int
cli_generate_image_meta(const cli_args_t *args, en_ss_image_meta_t *im, en_err_t *err)
{
    memset(im, 0, sizeof *im);
    static const struct {
        cli_opt_t opt;
        const char *flag;
    } required[] = {{CLI_OPT_DIR, "-d"}, {CLI_OPT_IMAGE_ID, "-i"}, {CLI_OPT_REGION, "-r"}};
    for (size_t i = 0; i < sizeof required / sizeof required[0]; i++) {
        const char *v = cli_args_value(args, required[i].opt);
        if (!v || !*v)
            return en_err_set(err, EN_NOT_VALID, "missing option: %s", required[i].flag);
    }
    if (s_release_arg(args, &im->release, err))
        return -1;
    im->id = cli_args_value(args, CLI_OPT_IMAGE_ID);
    im->region = cli_args_value(args, CLI_OPT_REGION);
    im->endpoint = cli_args_value(args, CLI_OPT_ENDPOINT);
    im->arch = cli_args_value(args, CLI_OPT_ARCH);
    if (!im->arch)
        im->arch = "amd64"; // Juju's default
    bool known = false;
    for (size_t i = 0; s_arches[i]; i++)
        known |= strcmp(im->arch, s_arches[i]) == 0;
    if (!known)
        return en_err_set(err, EN_NOT_VALID,
                          "invalid value \"%s\" for option --arch: expected one of amd64, "
                          "arm64, ppc64el, s390x, riscv64",
                          im->arch);
    im->stream = cli_args_value(args, CLI_OPT_STREAM);
    if (im->stream && (!*im->stream || strpbrk(im->stream, ": /")))
        return en_err_set(err, EN_NOT_VALID, "invalid value \"%s\" for option --stream",
                          im->stream);
    im->virt = cli_args_value(args, CLI_OPT_VIRT_TYPE);
    im->root_store = cli_args_value(args, CLI_OPT_STORAGE);
    if (cli_args_has(args, CLI_OPT_PASSPHRASE) && !cli_args_has(args, CLI_OPT_SIGN_KEY))
        return en_err_set(err, EN_NOT_VALID, "--passphrase needs --sign-key");
    return 0;
}

//  --------------------------------------------------------------------------
//  Files

int
cli_read_file(const char *path, char **data, size_t *len, en_err_t *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return en_err_set(err, errno == ENOENT ? EN_NOT_FOUND : EN_INTERNAL, "cannot read %s: %s",
                          path, strerror(errno));
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        n += fread(buf + n, 1, cap - n - 1, f);
        if (n < cap - 1)
            break;
        char *bigger = realloc(buf, cap *= 2);
        if (!bigger)
            free(buf);
        buf = bigger;
    }
    bool bad = ferror(f);
    fclose(f);
    if (!buf || bad) {
        free(buf);
        return en_err_set(err, EN_INTERNAL, "cannot read %s", path);
    }
    buf[n] = 0;
    *data = buf;
    *len = n;
    return 0;
}

//  Write path through path.tmp.<pid> and a rename.
static int
s_write_file(const char *path, const char *data, size_t len, en_err_t *err)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%.4000s.tmp.%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "wb");
    if (!f)
        return en_err_set(err, EN_INTERNAL, "cannot write %s: %s", path, strerror(errno));
    bool ok = fwrite(data, 1, len, f) == len;
    ok = (fflush(f) == 0) && ok && fsync(fileno(f)) == 0;
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return en_err_set(err, EN_INTERNAL, "cannot write %s: %s", path, strerror(e));
    }
    return 0;
}

//  --------------------------------------------------------------------------
//  Merging

//  Images read back from an existing tree; strings borrowed from products.
typedef struct {
    en_ss_products_t **docs;
    size_t doc_count;
    en_ss_image_meta_t *v;
    size_t count;
} s_existing_t;

static void
s_existing_clear(s_existing_t *ex)
{
    for (size_t i = 0; i < ex->doc_count; i++)
        en_ss_products_destroy(&ex->docs[i]);
    free(ex->docs);
    free(ex->v);
    memset(ex, 0, sizeof *ex);
}

//  The stream of a product id: com.ubuntu.cloud:server:... is "released",
//  com.ubuntu.cloud.<stream>:server:... is <stream>. NULL when neither.
static const char *
s_stream_of(const char *pid, char *buf, size_t size)
{
    if (strncmp(pid, "com.ubuntu.cloud:", 17) == 0)
        return "released";
    if (strncmp(pid, "com.ubuntu.cloud.", 17) != 0)
        return NULL;
    const char *colon = strchr(pid + 17, ':');
    if (!colon || (size_t)(colon - pid - 17) >= size)
        return NULL;
    snprintf(buf, size, "%.*s", (int)(colon - pid - 17), pid + 17);
    return buf;
}

static int
s_existing_add(s_existing_t *ex, const en_ss_products_t *doc, en_err_t *err)
{
    size_t items = en_ss_products_item_total(doc);
    en_ss_image_meta_t *v = realloc(ex->v, (ex->count + items + 1) * sizeof *v);
    if (!v)
        return en_err_set(err, EN_INTERNAL, "out of memory");
    ex->v = v;
    for (size_t p = 0; p < en_ss_products_count(doc); p++) {
        const en_ss_product_t *prod = en_ss_products_at(doc, p);
        char sbuf[128];
        const char *stream = s_stream_of(prod->id, sbuf, sizeof sbuf);
        if (!stream || !prod->version_count)
            continue;
        const en_ss_version_t *newest = &prod->versions[0];
        for (size_t i = 0; i < newest->item_count; i++) {
            const en_ss_item_t *it = &newest->items[i];
            en_ss_image_meta_t im = {
                .id = en_ss_item_get(it, "id"),
                .release = en_ss_item_get(it, "version"),
                .arch = en_ss_item_get(it, "arch"),
                .region = en_ss_item_get(it, "region"),
                .endpoint = en_ss_item_get(it, "endpoint"),
                .root_store = en_ss_item_get(it, "root_store"),
                .virt = en_ss_item_get(it, "virt"),
                //  stream points into sbuf: re-find it in the product id
                .stream = strcmp(stream, "released") == 0 ? NULL : prod->id + 17,
            };
            if (im.id && im.release && im.arch)
                ex->v[ex->count++] = im;
        }
    }
    return 0;
}

//  Every image of DIR/images' image-ids entries; nothing when there is no
//  index yet.
static int
s_existing_read(const char *root, s_existing_t *ex, en_err_t *err)
{
    memset(ex, 0, sizeof *ex);
    char path[4400];
    snprintf(path, sizeof path, "%s/streams/v1/index.json", root);
    char *buf = NULL;
    size_t len = 0;
    if (cli_read_file(path, &buf, &len, err))
        return err->kind == EN_NOT_FOUND ? 0 : -1;
    en_ss_index_t *index = en_ss_index_parse(buf, len, path, err);
    free(buf);
    if (!index)
        return -1;
    int rc = 0;
    for (size_t i = 0; i < en_ss_index_count(index) && rc == 0; i++) {
        const en_ss_index_entry_t *e = en_ss_index_entry(index, i);
        if (!e->datatype || strcmp(e->datatype, "image-ids") != 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", root, e->path);
        if ((rc = cli_read_file(path, &buf, &len, err)))
            break;
        en_ss_products_t *doc = en_ss_products_parse(buf, len, path, err);
        free(buf);
        en_ss_products_t **docs =
            doc ? realloc(ex->docs, (ex->doc_count + 1) * sizeof *docs) : NULL;
        if (!docs) {
            if (doc)
                en_err_set(err, EN_INTERNAL, "out of memory");
            en_ss_products_destroy(&doc);
            rc = -1;
            break;
        }
        ex->docs = docs;
        ex->docs[ex->doc_count++] = doc;
        rc = s_existing_add(ex, doc, err);
    }
    en_ss_index_destroy(&index);
    if (rc)
        s_existing_clear(ex);
    return rc;
}

static bool
s_same_text(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "") == 0;
}

//  The stream as a product id spells it: NULL/"released" → "".
static size_t
s_stream_key(const char *stream, const char **out)
{
    if (!stream || strcmp(stream, "released") == 0) {
        *out = "";
        return 0;
    }
    *out = stream;
    const char *colon = strchr(stream, ':');
    return colon ? (size_t)(colon - stream) : strlen(stream);
}

//  Same product id (stream, release, arch): items there are keyed by id.
static bool
s_same_product(const en_ss_image_meta_t *a, const en_ss_image_meta_t *b)
{
    const char *sa, *sb;
    size_t na = s_stream_key(a->stream, &sa), nb = s_stream_key(b->stream, &sb);
    return na == nb && strncmp(sa, sb, na) == 0 && s_same_text(a->release, b->release) &&
           s_same_text(a->arch, b->arch);
}

bool
cli_image_meta_same_slot(const en_ss_image_meta_t *a, const en_ss_image_meta_t *b)
{
    en_ss_cloud_t ca = {a->region, a->endpoint}, cb = {b->region, b->endpoint};
    return s_same_product(a, b) && en_ss_cloud_equal(&ca, &cb) && s_same_text(a->virt, b->virt) &&
           s_same_text(a->root_store, b->root_store);
}

//  --------------------------------------------------------------------------
//  Writing

//  The .sjson file names and the signed index's paths, as Juju's
//  SignMetadata: ".json" becomes ".sjson".
static char *
s_signed_text(const char *text)
{
    size_t n = 0;
    for (const char *p = text; (p = strstr(p, ".json")); p += 5)
        n++;
    char *out = malloc(strlen(text) + n + 1), *o = out;
    if (!out)
        return NULL;
    for (const char *p = text;;) {
        const char *hit = strstr(p, ".json");
        size_t len = hit ? (size_t)(hit - p) : strlen(p);
        memcpy(o, p, len);
        o += len;
        if (!hit)
            break;
        memcpy(o, ".sjson", 6);
        o += 6;
        p = hit + 5;
    }
    *o = 0;
    return out;
}

//  The clear-signed copy of text and its file name.
static int
s_sign(en_sssigner_t *signer, const char *path, const char *text, char **spath, char **out,
       size_t *out_len, en_err_t *err)
{
    char *stext = s_signed_text(text);
    *spath = s_signed_text(path);
    int rc = -1;
    if (!*spath || !stext)
        en_err_set(err, EN_INTERNAL, "out of memory");
    else
        rc = en_sssigner_clearsign(signer, stext, strlen(stext), out, out_len, err);
    free(stext);
    return rc;
}

static en_sssigner_t *
s_signer(const cli_args_t *args, en_err_t *err)
{
    const char *file = cli_args_value(args, CLI_OPT_SIGN_KEY);
    const char *pass = cli_args_value(args, CLI_OPT_PASSPHRASE);
    char *key = NULL;
    size_t len = 0;
    if (cli_read_file(file, &key, &len, err))
        return NULL;
    en_sssigner_t *signer = en_sssigner_new(key, pass ? pass : "", err);
    free(key);
    if (!signer) {
        en_err_t why = *err;
        en_err_set(err, why.kind, "cannot sign with %s: %s", file, why.message);
    }
    return signer;
}

int
cli_generate_image_write(const char *dir, const en_ss_image_meta_t *image, en_sssigner_t *signer,
                         time_t now, en_err_t *err)
{
    char root[4200], v1[4300], index_path[4400], products_path[4400];
    snprintf(root, sizeof root, "%.4000s/images", dir);
    snprintf(v1, sizeof v1, "%s/streams/v1", root);
    snprintf(index_path, sizeof index_path, "%s/index.json", v1);
    snprintf(products_path, sizeof products_path, "%s/%s", root, EN_SS_CUSTOM_PRODUCTS_PATH);
    if (en_mkdirs(v1, 0755) != 0)
        return en_err_set(err, EN_INTERNAL, "cannot create %s: %s", v1, strerror(errno));
    s_existing_t ex;
    if (s_existing_read(root, &ex, err)) {
        en_err_t why = *err;
        return en_err_set(err, why.kind, "cannot merge with the metadata in %s: %s", root,
                          why.message);
    }
    //  Every existing image the new one does not replace, then the new one
    //  (so the index's clouds keep their order from run to run).
    en_ss_image_meta_t *all = calloc(ex.count + 1, sizeof *all);
    char(*streams)[128] = calloc(ex.count + 1, sizeof *streams);
    char *index = NULL, *products = NULL;
    char *sindex = NULL, *sproducts = NULL, *sindex_path = NULL, *sproducts_path = NULL;
    size_t sindex_len = 0, sproducts_len = 0;
    int rc = -1;
    if (!all || !streams) {
        en_err_set(err, EN_INTERNAL, "out of memory");
        goto cleanup;
    }
    size_t n = 0;
    for (size_t i = 0; i < ex.count; i++)
        if (!cli_image_meta_same_slot(&ex.v[i], image) &&
            !(s_same_product(&ex.v[i], image) && strcmp(ex.v[i].id, image->id) == 0))
            all[n++] = ex.v[i];
    //  An existing image's stream points into its product id: cut
    //  "<stream>:server:..." down to "<stream>".
    for (size_t i = 0; i < n; i++)
        if (all[i].stream) {
            const char *s;
            size_t len = s_stream_key(all[i].stream, &s);
            snprintf(streams[i], sizeof streams[i], "%.*s", (int)len, s);
            all[i].stream = streams[i];
        }
    all[n++] = *image;
    rc = en_ss_generate_images(all, n, now, &index, &products, err);
    if (rc)
        goto cleanup;
    //  Sign before writing anything, so a bad key leaves the tree as it was.
    rc = -1;
    if (signer && (s_sign(signer, products_path, products, &sproducts_path, &sproducts,
                          &sproducts_len, err) ||
                   s_sign(signer, index_path, index, &sindex_path, &sindex, &sindex_len, err)))
        goto cleanup;
    if (s_write_file(products_path, products, strlen(products), err) ||
        (signer && s_write_file(sproducts_path, sproducts, sproducts_len, err)) ||
        s_write_file(index_path, index, strlen(index), err) ||
        (signer && s_write_file(sindex_path, sindex, sindex_len, err)))
        goto cleanup;
    if (!signer) {
        //  Signed copies of an earlier run would not match these files.
        char *old = s_signed_text(index_path);
        if (old)
            unlink(old);
        free(old);
        old = s_signed_text(products_path);
        if (old)
            unlink(old);
        free(old);
    }
    rc = 0;
cleanup:
    free(sproducts_path);
    free(sproducts);
    free(sindex_path);
    free(sindex);
    free(index);
    free(products);
    free(all);
    free(streams);
    s_existing_clear(&ex);
    return rc;
}

//  metadata generate-image -d DIR -i ID (--base B | -s SERIES | --release R) -r REGION ...
static int
s_generate_image(cli_t *cli, const cli_args_t *args)
{
    (void)cli;
    en_err_t err;
    en_ss_image_meta_t im;
    if (cli_generate_image_meta(args, &im, &err))
        return cli_usage("%s", err.message);
    en_sssigner_t *signer = NULL;
    if (cli_args_has(args, CLI_OPT_SIGN_KEY) && !(signer = s_signer(args, &err)))
        return cli_fail(&err);
    const char *dir = cli_args_value(args, CLI_OPT_DIR);
    int rc = cli_generate_image_write(dir, &im, signer, time(NULL), &err);
    en_sssigner_destroy(&signer);
    if (rc)
        return cli_fail(&err);
    printf("Image metadata files have been written to:\n%s/images/streams/v1.\n"
           "For environs to use this metadata, add it as a source:\n"
           "  environs metadata add-source ID file://%s/images\n",
           dir, dir);
    return CLI_EXIT_OK;
}

const cli_command_t cli_metadata_commands[] = {
    {.name = "metadata generate-image",
     .handler = s_generate_image,
     .summary = "Generates simplestreams metadata for a custom image.",
     .details = "Writes DIR/images/streams/v1/index.json and\n"
                "DIR/images/" EN_SS_CUSTOM_PRODUCTS_PATH "\n"
                "listing the image -i for the release (--base ubuntu@22.04, -s jammy or\n"
                "--release 22.04), arch (-a, default amd64), region (-r) and endpoint (-u).\n"
                "Metadata already in DIR is kept: a run for another region, arch or release\n"
                "adds to it, a run for the same ones replaces that image. With --sign-key\n"
                "(an armored secret key; --passphrase its passphrase) index.sjson and the\n"
                "products .sjson are written too, clear-signed; without it, .sjson files of\n"
                "an earlier run are removed.",
     .options = CLI_OPT(CLI_OPT_DIR) | CLI_OPT(CLI_OPT_IMAGE_ID) | CLI_OPT(CLI_OPT_BASE) |
                CLI_OPT(CLI_OPT_SERIES) | CLI_OPT(CLI_OPT_RELEASE) | CLI_OPT(CLI_OPT_ARCH) |
                CLI_OPT(CLI_OPT_REGION) | CLI_OPT(CLI_OPT_ENDPOINT) | CLI_OPT(CLI_OPT_STREAM) |
                CLI_OPT(CLI_OPT_VIRT_TYPE) | CLI_OPT(CLI_OPT_STORAGE) | CLI_OPT(CLI_OPT_SIGN_KEY) |
                CLI_OPT(CLI_OPT_PASSPHRASE),
     .max_words = 0},
    {.name = NULL},
};
