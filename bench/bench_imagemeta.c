/*  bench_imagemeta.c — an image lookup on the real 2.55 MB signed
    cloud-images downloads file (issue 6): cold against gpgv plus a bare
    jansson parse, and warm lookups per second.

    The file is testdata/simplestreams/real/cloud-images.ubuntu.com/
    releases-20161104/streams/v1/com.ubuntu.cloud:released:download.sjson
    (51 products, 1,319 versions, 7,008 items), signed with the Ubuntu
    cloud image key (keys/ubuntu-cloudimage-keyring.asc).

    COLD, as the imagemeta service does it for a document it has not seen:
    the signature checked with gpgme against the source's own keyring (a
    verifier made once, as a service keeps one per source) while the signed
    text is parsed into the indexed form (en_ssverify_verify_with), then one
    lookup: the newest 16.04 amd64 disk1.img.

    BASELINE, the least any verified lookup must do: `gpgv --keyring
    <the same key, dearmored> <file>` as a process, then json_loadb of the
    signed text (cut from the file beforehand, outside the clock) and
    nothing else. The two take turns, BASELINE first in odd rounds; the
    figure is the median over the rounds. Target: COLD / BASELINE <= 1.5.

    WARM: lookups on the parsed document, rotating over eight queries
    (releases 12.04 to 16.10, amd64/arm64/i386, three file types), each
    timed alone; lookups per second over the whole run and the p99 of one
    lookup. Targets: >= 10,000/s, p99 <= 1 ms. This is the library's cost;
    through the service every lookup also crosses the bus (bench-bus).

    Exit status: 0 when every target passes, 1 when one fails, 2 when the
    benchmark could not run. */
#include <jansson.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/err.h"
#include "simplestreams/ss.h"
#include "simplestreams/ssverify.h"

#define FILE_REL                                                                                   \
    "testdata/simplestreams/real/cloud-images.ubuntu.com/releases-20161104/streams/v1/"           \
    "com.ubuntu.cloud:released:download.sjson"
#define KEY_REL "testdata/simplestreams/keys/ubuntu-cloudimage-keyring.asc"
#define ROUNDS 9
#define WARM_LOOKUPS 200000

#define TARGET_COLD_RATIO 1.5
#define TARGET_WARM_PER_S 10000.0
#define TARGET_WARM_P99_US 1000.0

extern char **environ;

static double
s_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static char *
s_slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf) {
        buf[n] = '\0';
        *len = (size_t)n;
    }
    return buf;
}

//  Run argv, quietly; its exit status, or -1.
static int
s_run(char *const argv[])
{
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    pid_t pid;
    int rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0)
        return -1;
    int status = 0;
    if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status))
        return -1;
    return WEXITSTATUS(status);
}

static int
s_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

typedef struct {
    en_ss_products_t *products;
} parsed_t;

static int
s_parse(const char *text, size_t len, void *arg, en_err_t *err)
{
    parsed_t *p = arg;
    p->products = en_ss_products_parse(text, len, "download.sjson", err);
    return p->products ? 0 : -1;
}

//  One lookup; the number of matches, or -1.
static long
s_lookup(const en_ss_products_t *products, const char *release, const char *arch,
         const char *ftype)
{
    const char *releases[] = {release}, *arches[] = {arch};
    en_ss_image_query_t q = {.releases = releases,
                             .release_count = 1,
                             .arches = arches,
                             .arch_count = 1,
                             .datatype = "image-downloads",
                             .ftype = ftype};
    en_ss_matches_t m = {0};
    en_err_t err;
    en_ss_result_t r = en_ss_lookup_images(products, &q, &m, &err);
    long n = r == EN_SS_ERROR ? -1 : (long)m.count;
    en_ss_matches_free(&m);
    return n;
}

int
main(int argc, char **argv)
{
    const char *shared = argc > 1 ? argv[1] : getenv("EN_SHARED_DIR");
    if (!shared)
        shared = "../shared";
    char path[4096], keypath[4096], keyring[] = "/tmp/bench-imagemeta-XXXXXX";
    snprintf(path, sizeof path, "%s/%s", shared, FILE_REL);
    snprintf(keypath, sizeof keypath, "%s/%s", shared, KEY_REL);
    size_t len = 0, klen = 0;
    char *buf = s_slurp(path, &len), *key = s_slurp(keypath, &klen);
    if (!buf || !key) {
        fprintf(stderr, "bench: cannot read %s or %s (give the shared directory as argument)\n",
                path, keypath);
        return 2;
    }
    // gpgv wants a binary keyring: the same key, dearmored, outside the clock
    int fd = mkstemp(keyring);
    if (fd < 0)
        return 2;
    close(fd);
    char *dearmor[] = {"gpg",   "--batch", "--yes", "--dearmor", "-o",
                       keyring, keypath,   NULL};
    char *gpgv[] = {"gpgv", "--keyring", keyring, path, NULL};
    if (s_run(dearmor) != 0 || s_run(gpgv) != 0) {
        fprintf(stderr, "bench: gpg --dearmor or gpgv failed (are gpg and gpgv installed?)\n");
        unlink(keyring);
        return 2;
    }
    char *text = NULL;
    size_t text_len = 0;
    en_err_t err;
    en_ssverify_t *v = en_ssverify_new("cloud images", key, NULL, 0, &err);
    if (!v || en_ss_clearsign_body(buf, len, &text, &text_len, &err)) {
        fprintf(stderr, "bench: %s\n", err.message);
        unlink(keyring);
        return 2;
    }
    printf("bench-imagemeta: %s (%zu bytes), %d rounds\n", path, len, ROUNDS);

    double base[ROUNDS], cold[ROUNDS], gpgv_us[ROUNDS], parse_us[ROUNDS], seq[ROUNDS];
    long found = -1;
    for (int r = 0; r < ROUNDS; r++) {
        for (int turn = 0; turn < 2; turn++) {
            bool baseline = (turn == 0) == (r % 2 == 0);
            if (baseline) {
                double t0 = s_now_us();
                int st = s_run(gpgv);
                double t1 = s_now_us();
                json_t *doc = json_loadb(text, text_len, 0, NULL);
                double t2 = s_now_us();
                if (st != 0 || !doc) {
                    fprintf(stderr, "bench: the baseline failed\n");
                    return 2;
                }
                json_decref(doc);
                gpgv_us[r] = t1 - t0;
                parse_us[r] = t2 - t1;
                base[r] = t2 - t0;
            } else {
                parsed_t p = {0};
                double t0 = s_now_us();
                int rc = en_ssverify_verify_with(v, "download.sjson", buf, len, s_parse, &p, NULL,
                                                 &err);
                found = rc == 0 ? s_lookup(p.products, "16.04", "amd64", "disk1.img") : -1;
                cold[r] = s_now_us() - t0;
                en_ss_products_destroy(&p.products);
                if (rc) {
                    fprintf(stderr, "bench: %s\n", err.message);
                    return 2;
                }
                // for comparison: the same, one step after the other
                char *plain = NULL;
                size_t plain_len = 0;
                t0 = s_now_us();
                rc = en_ssverify_verify(v, "download.sjson", buf, len, &plain, &plain_len, NULL,
                                        &err);
                if (rc == 0)
                    rc = s_parse(plain, plain_len, &p, &err);
                if (rc == 0)
                    s_lookup(p.products, "16.04", "amd64", "disk1.img");
                seq[r] = s_now_us() - t0;
                en_ss_products_destroy(&p.products);
                free(plain);
            }
        }
    }
    qsort(base, ROUNDS, sizeof(double), s_cmp_double);
    qsort(cold, ROUNDS, sizeof(double), s_cmp_double);
    qsort(gpgv_us, ROUNDS, sizeof(double), s_cmp_double);
    qsort(parse_us, ROUNDS, sizeof(double), s_cmp_double);
    qsort(seq, ROUNDS, sizeof(double), s_cmp_double);
    double ratio = cold[ROUNDS / 2] / base[ROUNDS / 2];
    printf("\n| measure                                  | median (ms) |\n");
    printf("|------------------------------------------|------------:|\n");
    printf("| BASELINE gpgv                            | %11.1f |\n", gpgv_us[ROUNDS / 2] / 1e3);
    printf("| BASELINE jansson parse                   | %11.1f |\n", parse_us[ROUNDS / 2] / 1e3);
    printf("| BASELINE total                           | %11.1f |\n", base[ROUNDS / 2] / 1e3);
    printf("| COLD verify with parse, then lookup      | %11.1f |\n", cold[ROUNDS / 2] / 1e3);
    printf("| (verify, then parse, then lookup)        | %11.1f |\n", seq[ROUNDS / 2] / 1e3);
    printf("\ncold ratio  COLD / BASELINE = %.2fx  (target <= %.1fx)  %s   (lookup found %ld)\n",
           ratio, TARGET_COLD_RATIO, ratio <= TARGET_COLD_RATIO ? "PASS" : "FAIL", found);

    // warm: one parse, then many lookups
    parsed_t p = {0};
    if (en_ssverify_verify_with(v, "download.sjson", buf, len, s_parse, &p, NULL, &err)) {
        fprintf(stderr, "bench: %s\n", err.message);
        return 2;
    }
    static const struct {
        const char *release, *arch, *ftype;
    } queries[] = {
        {"16.04", "amd64", "disk1.img"}, {"14.04", "arm64", "tar.gz"},
        {"12.04", "i386", "disk1.img"},  {"16.10", "amd64", "tar.gz"},
        {"14.04", "amd64", "root.tar.xz"}, {"16.04", "arm64", "disk1.img"},
        {"15.10", "amd64", "disk1.img"}, {"16.04", "i386", "root.tar.xz"},
    };
    const size_t nq = sizeof queries / sizeof queries[0];
    double *each = malloc(WARM_LOOKUPS * sizeof(double));
    long misses = 0;
    double w0 = s_now_us();
    for (int i = 0; i < WARM_LOOKUPS; i++) {
        double t0 = s_now_us();
        long n = s_lookup(p.products, queries[i % nq].release, queries[i % nq].arch,
                          queries[i % nq].ftype);
        each[i] = s_now_us() - t0;
        misses += n <= 0;
    }
    double wall = s_now_us() - w0;
    qsort(each, WARM_LOOKUPS, sizeof(double), s_cmp_double);
    double per_s = WARM_LOOKUPS / (wall / 1e6);
    double p50 = each[WARM_LOOKUPS / 2], p99 = each[(size_t)(WARM_LOOKUPS * 0.99)];
    printf("\nwarm        %d lookups in %.0f ms: %.0f/s (target >= %.0f/s)  %s\n", WARM_LOOKUPS,
           wall / 1e3, per_s, TARGET_WARM_PER_S, per_s >= TARGET_WARM_PER_S ? "PASS" : "FAIL");
    printf("            p50 %.1f us, p99 %.1f us (target <= %.0f us)  %s; %ld without a match\n",
           p50, p99, TARGET_WARM_P99_US, p99 <= TARGET_WARM_P99_US ? "PASS" : "FAIL", misses);
    int failures = (ratio > TARGET_COLD_RATIO) + (per_s < TARGET_WARM_PER_S) +
                   (p99 > TARGET_WARM_P99_US) + (found <= 0) + (misses > 0);
    printf("\n%s\n", failures ? "some targets FAIL" : "all targets PASS");
    free(each);
    en_ss_products_destroy(&p.products);
    en_ssverify_destroy(&v);
    free(text);
    free(buf);
    free(key);
    unlink(keyring);
    return failures ? 1 : 0;
}
