/*  bench_imagemeta.c — an image lookup on the real 2.55 MB signed
    cloud-images downloads file (issue 6): cold against gpgv plus a bare
    jansson parse, and warm lookups per second, in the library; then warm
    lookups through the real services.

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
    lookup. Targets: >= 10,000/s, p99 <= 1 ms. This is the library's cost
    alone.

    SERVICE WARM: the same kind of lookup as a client makes it. Real
    processes started from the build tree as bench-fanout starts them
    (fleet.h): environs-gateway, environs-registry and environs-imagemeta
    (--threads 4) on loopback TCP in a fresh home. A model is opened on the
    embedded `sim` cloud (region sim-east), whose provider publishes its own
    unsigned image tree on first use (source "sim cloud images"). Each
    lookup is FindImageMetadata {releases ["22.04"], arches ["amd64"]},
    scoped to the model by the envelope, sent to the gateway with the bus
    client, and its answer decoded and checked: exactly one image,
    sim-img-sim-east-22.04-amd64. One call first, timed apart: the
    service resolves the model with the registry and reads and parses the
    sim's tree (cold). Then (a) 2,000 calls one after the other
    (en_client_call), each timed: p50 and p99; and (b) 20,000 calls with 64
    in flight (en_client_start / en_client_wait): calls per second over the
    whole run. Targets: >= 10,000 lookups/s pipelined, p99 <= 1 ms
    sequential, and every answer right. The figures are printed next to
    the library's: the difference is the bus, the gateway hop and the
    encoding of the reply (bench-bus measures the bus alone).

    Exit status: 0 when every target passes, 1 when one fails, 2 when the
    benchmark could not run (a failed service phase leaves its home, with
    the services' logs, in /tmp). */
#include <czmq.h>
#include <fcntl.h>
#include <jansson.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bus/client.h"
#include "bus/mdp.h"
#include "common/clock.h"
#include "common/err.h"
#include "environ.pb-c.h"
#include "fleet.h"
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

#define SERVICE_THREADS "4"     // imagemeta --threads
#define SERVICE_SEQUENTIAL 2000 // calls one after the other
#define SERVICE_PIPELINED 20000 // calls with SERVICE_IN_FLIGHT in flight
#define SERVICE_IN_FLIGHT 64
#define SERVICE_CALL_MS 30000  // deadline of one call
#define SERVICE_START_MS 20000 // for a service to show up at the gateway
#define SERVICE_IMAGE "sim-img-sim-east-22.04-amd64"

#define TARGET_SERVICE_PER_S 10000.0
#define TARGET_SERVICE_P99_US 1000.0

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

//  --------------------------------------------------------------------------
//  SERVICE WARM: FindImageMetadata through gateway, registry and imagemeta

typedef struct {
    double cold_us; // the first call
    double seq_p50_us, seq_p99_us, seq_per_s;
    double pipe_ms, pipe_per_s; // the pipelined run
    long wrong;                 // answers without exactly SERVICE_IMAGE
} service_figures_t;

//  build/services/<service>/environs-<service> with the common options.
static pid_t
s_spawn_service(fleet_t *fleet, const char *build, const char *service, const char *gw,
                const char *threads)
{
    char bin[PATH_MAX + 64];
    snprintf(bin, sizeof bin, "%s/services/%s/environs-%s", build, service, service);
    char *argv[] = {bin,         "--gateway",     (char *)gw, "--home", (char *)fleet_home(fleet),
                    "--threads", (char *)threads, NULL};
    return fleet_spawn(fleet, service, argv);
}

static int
s_wait_service(en_client_t *client, const char *service)
{
    int64_t until = en_mono_ms() + SERVICE_START_MS;
    while (en_mono_ms() < until)
        if (en_client_service_present(client, service, 250) == 0)
            return 0;
    fprintf(stderr, "bench: the gateway never saw the %s service\n", service);
    return -1;
}

//  A model on the embedded cloud "sim"; its uuid into uuid.
static int
s_open_model(en_client_t *client, char *uuid, size_t size)
{
    En__OpenRequest req = EN__OPEN_REQUEST__INIT;
    En__ConfigAttrs cfg = EN__CONFIG_ATTRS__INIT;
    cfg.json = "{}";
    req.name = "imagemeta";
    req.cloud_name = "sim";
    req.config = &cfg;
    ProtobufCMessage *res = NULL;
    en_err_t err;
    if (en_client_call(client, EN_PUBLIC_SERVICE, "Open", NULL, &req.base,
                       &en__open_result__descriptor, &res, SERVICE_CALL_MS, &err)) {
        fprintf(stderr, "bench: Open: %s\n", err.message);
        return -1;
    }
    snprintf(uuid, size, "%s", ((En__OpenResult *)res)->model->uuid);
    protobuf_c_message_free_unpacked(res, NULL);
    return 0;
}

static bool
s_right_answer(const En__FindImageMetadataResult *res)
{
    return res && res->n_images == 1 && res->images[0]->id &&
           strcmp(res->images[0]->id, SERVICE_IMAGE) == 0;
}

//  One call, waited for and decoded; 0 with *right set, -1 when it failed.
static int
s_find_call(en_client_t *client, const char *model, const ProtobufCMessage *req, bool *right)
{
    ProtobufCMessage *res = NULL;
    en_err_t err;
    if (en_client_call(client, EN_PUBLIC_SERVICE, "FindImageMetadata", model, req,
                       &en__find_image_metadata_result__descriptor, &res, SERVICE_CALL_MS, &err)) {
        fprintf(stderr, "bench: FindImageMetadata: %s\n", err.message);
        return -1;
    }
    *right = s_right_answer((En__FindImageMetadataResult *)res);
    protobuf_c_message_free_unpacked(res, NULL);
    return 0;
}

//  (b): SERVICE_PIPELINED calls, SERVICE_IN_FLIGHT of them in flight.
static int
s_pipelined(en_client_t *client, const char *model, const ProtobufCMessage *req,
            service_figures_t *f)
{
    en_err_t err;
    int started = 0, done = 0;
    double t0 = s_now_us();
    while (done < SERVICE_PIPELINED) {
        for (; started < SERVICE_PIPELINED && started - done < SERVICE_IN_FLIGHT; started++)
            if (en_client_start(client, EN_PUBLIC_SERVICE, "FindImageMetadata", model, req,
                                en_now_ms() + SERVICE_CALL_MS, NULL, NULL, NULL, &err)) {
                fprintf(stderr, "bench: FindImageMetadata start: %s\n", err.message);
                return -1;
            }
        en_result_t r;
        if (en_client_wait(client, SERVICE_CALL_MS, &r)) {
            fprintf(stderr, "bench: a FindImageMetadata call was lost\n");
            return -1;
        }
        if (r.err.kind != EN_OK) {
            fprintf(stderr, "bench: FindImageMetadata: %s\n", r.err.message);
            en_result_clear(&r);
            return -1;
        }
        En__FindImageMetadataResult *res =
            en__find_image_metadata_result__unpack(NULL, r.size, r.body);
        f->wrong += !s_right_answer(res);
        if (res)
            en__find_image_metadata_result__free_unpacked(res, NULL);
        en_result_clear(&r);
        done++;
    }
    f->pipe_ms = (s_now_us() - t0) / 1e3;
    f->pipe_per_s = SERVICE_PIPELINED / (f->pipe_ms / 1e3);
    return 0;
}

//  The cold call, then (a) sequential and (b) pipelined calls.
static int
s_service_calls(en_client_t *client, const char *model, service_figures_t *f)
{
    char *releases[] = {"22.04"}, *arches[] = {"amd64"};
    En__ImageConstraint cons = EN__IMAGE_CONSTRAINT__INIT;
    cons.releases = releases;
    cons.n_releases = 1;
    cons.arches = arches;
    cons.n_arches = 1;
    En__FindImageMetadataRequest req = EN__FIND_IMAGE_METADATA_REQUEST__INIT;
    req.constraint = &cons;
    bool right = false;
    double t0 = s_now_us();
    if (s_find_call(client, model, &req.base, &right))
        return -1;
    f->cold_us = s_now_us() - t0;
    f->wrong += !right;

    double *each = malloc(SERVICE_SEQUENTIAL * sizeof(double));
    if (!each)
        return -1;
    double w0 = s_now_us();
    for (int i = 0; i < SERVICE_SEQUENTIAL; i++) {
        t0 = s_now_us();
        if (s_find_call(client, model, &req.base, &right)) {
            free(each);
            return -1;
        }
        each[i] = s_now_us() - t0;
        f->wrong += !right;
    }
    f->seq_per_s = SERVICE_SEQUENTIAL / ((s_now_us() - w0) / 1e6);
    qsort(each, SERVICE_SEQUENTIAL, sizeof(double), s_cmp_double);
    f->seq_p50_us = each[SERVICE_SEQUENTIAL / 2];
    f->seq_p99_us = each[(size_t)(SERVICE_SEQUENTIAL * 0.99)];
    free(each);
    return s_pipelined(client, model, &req.base, f);
}

//  Start the fleet in a fresh home, open the model, make the calls, stop
//  the fleet. The home stays behind when the phase failed.
static int
s_service_phase(service_figures_t *f)
{
    // the services sit in the build tree two levels up from
    // build/bench/bench-imagemeta
    char self[PATH_MAX], build[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0)
        return -1;
    self[n] = '\0';
    snprintf(build, sizeof build, "%s", dirname(dirname(self)));
    fleet_t *fleet = fleet_new();
    if (!fleet)
        return -1;
    int rc = -1;
    en_client_t *client = NULL;
    char gw[64], model[64], sim[PATH_MAX];
    int port = fleet_free_ports(1);
    snprintf(gw, sizeof gw, "tcp://127.0.0.1:%d", port);
    char gw_bin[PATH_MAX + 64];
    snprintf(gw_bin, sizeof gw_bin, "%s/services/gateway/environs-gateway", build);
    char *gw_argv[] = {gw_bin, "--bind", gw, "--home", (char *)fleet_home(fleet), NULL};
    // the embedded cloud "sim" keeps its database, and the sim its image
    // tree, in <home>/sim
    snprintf(sim, sizeof sim, "%s/sim", fleet_home(fleet));
    fflush(stdout); // before any fork
    if (port < 0 || mkdir(sim, 0700) || fleet_spawn(fleet, "gateway", gw_argv) < 0 ||
        s_spawn_service(fleet, build, "registry", gw, "2") < 0 ||
        s_spawn_service(fleet, build, "imagemeta", gw, SERVICE_THREADS) < 0)
        goto cleanup;
    en_err_t err;
    client = en_client_new(gw, &err);
    if (!client) {
        fprintf(stderr, "bench: client: %s\n", err.message);
        goto cleanup;
    }
    if (s_wait_service(client, "registry") || s_wait_service(client, "imagemeta") ||
        s_open_model(client, model, sizeof model) || s_service_calls(client, model, f))
        goto cleanup;
    rc = 0;
cleanup:
    en_client_destroy(&client);
    if (rc)
        fleet_keep_home(fleet);
    fleet_destroy(&fleet);
    return rc;
}

int
main(int argc, char **argv)
{
    zsys_handler_set(NULL); // ^C stops the bench, not just its sockets
    signal(SIGPIPE, SIG_IGN);
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

    printf("\nservice     gateway, registry, imagemeta (--threads %s) on loopback TCP; "
           "FindImageMetadata 22.04 amd64 on a sim model\n",
           SERVICE_THREADS);
    service_figures_t f = {0};
    int status = s_service_phase(&f);
    if (status == 0) {
        bool seq_ok = f.seq_p99_us <= TARGET_SERVICE_P99_US;
        bool pipe_ok = f.pipe_per_s >= TARGET_SERVICE_PER_S;
        printf("            cold: the first call %.1f ms (the model resolved, the sim's tree "
               "read and parsed)\n",
               f.cold_us / 1e3);
        printf("            sequential %d calls: %.0f/s, p50 %.1f us, p99 %.1f us (target <= "
               "%.0f us)  %s\n",
               SERVICE_SEQUENTIAL, f.seq_per_s, f.seq_p50_us, f.seq_p99_us, TARGET_SERVICE_P99_US,
               seq_ok ? "PASS" : "FAIL");
        printf("            pipelined %d calls, %d in flight, in %.0f ms: %.0f/s (target >= "
               "%.0f/s)  %s\n",
               SERVICE_PIPELINED, SERVICE_IN_FLIGHT, f.pipe_ms, f.pipe_per_s, TARGET_SERVICE_PER_S,
               pipe_ok ? "PASS" : "FAIL");
        printf("            answers without exactly %s: %ld of %d  %s\n", SERVICE_IMAGE, f.wrong,
               1 + SERVICE_SEQUENTIAL + SERVICE_PIPELINED, f.wrong ? "FAIL" : "PASS");
        printf("\n| warm lookups                  | per second | p50 (us) | p99 (us) |\n");
        printf("|-------------------------------|-----------:|---------:|---------:|\n");
        printf("| library, one at a time        | %10.0f | %8.1f | %8.1f |\n", per_s, p50, p99);
        printf("| service, one at a time        | %10.0f | %8.1f | %8.1f |\n", f.seq_per_s,
               f.seq_p50_us, f.seq_p99_us);
        printf("| service, %2d in flight         | %10.0f |        - |        - |\n",
               SERVICE_IN_FLIGHT, f.pipe_per_s);
        failures += !seq_ok + !pipe_ok + (f.wrong > 0);
        printf("\n%s\n", failures ? "some targets FAIL" : "all targets PASS");
    } else
        fprintf(stderr, "bench: the service phase could not run\n");
    free(each);
    en_ss_products_destroy(&p.products);
    en_ssverify_destroy(&v);
    free(text);
    free(buf);
    free(key);
    unlink(keyring);
    return status ? 2 : failures ? 1 : 0;
}
