/*  bench_instances.c — AllInstances over 10,000 instances (issue 3): how
    long the listing takes, how big the reply is, and what it costs the
    processes in memory, against the same listing at 1,000.

    The real processes run on loopback TCP, as bench-bus starts them
    (fleet.h): the gateway, the registry, the broker and the firewaller
    (StartInstance makes its machine's groups first), each service with
    --threads 2, in a fresh home. Two models are opened on the embedded sim
    cloud through the public API (Open). The instances are put into the
    cloud straight from this process through the sim cloud's own API
    (en_sim_cloud_create on the same database file the broker opens), each
    with the ownership tags StartInstance writes in its create call
    (juju-model-uuid, juju-controller-uuid, juju-machine-id,
    juju-machine-nonce), the deterministic name juju-<uuid[0:6]>-<machine>
    and a zone chosen round-robin: ~2,000 creates/s, where 10,000
    StartInstance calls through the bus would take far longer and measure
    the start path instead. A handful of StartInstance calls are timed at
    each level anyway (not a target), to show whether a start grows with
    the model (its zone tally counts the model's instances).

    Phases: model A gets --base instances (1,000) and model B --other
    (1,000); AllInstances on A is called --calls times (p50, p99, mean of
    the time from sending the request to holding the reply's bytes), B is
    listed once; then A is filled up to --count (10,000) and the same is
    measured again. Every reply is decoded (timed apart) and checked: it
    must hold exactly the model's instances, each tagged with its uuid, so
    B's instances prove that listing filters by model. CPU time of each
    process is read from /proc while the calls run (in clock ticks of
    10 ms, so only the 10,000 figures are precise), and VmRSS and VmHWM
    (peak) of every process are taken when idle and after the listings of
    each phase.

    Targets (from the wording: 10,000 instances must list, and
    linearly): every listing answers and holds exactly its model's
    instances, and p50 at --count over p50 at --base is at most 1.5 times
    count/base (linear is 10×; quadratic would be 100×). --quick runs
    2,000 against 200 as a smoke test.

    Exit status: 0 when every target passes, 1 when one fails, 2 when the
    benchmark could not run. */
#include <czmq.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bus/client.h"
#include "bus/mdp.h"
#include "common/clock.h"
#include "environ.pb-c.h"
#include "fleet.h"
#include "providers/sim/sim_cloud.h"

#define BENCH_CALL_MS 120000 // deadline of one call
#define BENCH_MAX_CALLS 1000
#define BENCH_CONTROLLER "c0ffee00-0000-4000-8000-0000000be7c4"

//  p50 at --count over p50 at --base, at most (linear is count / base).
#define TARGET_SCALING_PER_10X 15.0

typedef struct {
    int count;   // model A's instances in the big phase
    int base;    // model A's instances in the small phase
    int other;   // model B's instances
    int calls;   // AllInstances calls per phase
    int starts;  // StartInstance calls per phase
    int threads; // service threads
    char build[PATH_MAX];
} bench_opts_t;

static double
s_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

//  --------------------------------------------------------------------------
//  The rig

enum { P_BENCH, P_GATEWAY, P_REGISTRY, P_BROKER, P_FIREWALLER, P_COUNT };
static const char *s_proc_names[P_COUNT] = {"bench (client)", "gateway", "registry", "broker",
                                            "firewaller"};

typedef struct {
    char name[32];
    char uuid[64];
    char controller[64];
    int instances; // in the cloud, live
    int next_machine;
} model_t;

typedef struct {
    const bench_opts_t *o;
    fleet_t *fleet;
    pid_t pids[P_COUNT];
    en_client_t *client;
    en_sim_cloud_t *sim;
    char region[EN_SIM_NAME_MAX];
    en_sim_zone_t *zones;
    size_t zone_count;
    model_t a, b;
} rig_t;

static int
s_wait_service(en_client_t *client, const char *service, int timeout_ms)
{
    int64_t until = en_mono_ms() + timeout_ms;
    while (en_mono_ms() < until)
        if (en_client_service_present(client, service, 250) == 0)
            return 0;
    return -1;
}

static pid_t
s_start_service(rig_t *rig, const char *name, const char *gw)
{
    char bin[PATH_MAX + 64], threads[16];
    snprintf(bin, sizeof bin, "%s/services/%s/environs-%s", rig->o->build, name, name);
    snprintf(threads, sizeof threads, "%d", rig->o->threads);
    char *argv[] = {bin,         "--gateway", (char *)gw, "--home", (char *)fleet_home(rig->fleet),
                    "--threads", threads,     NULL};
    return fleet_spawn(rig->fleet, name, argv);
}

//  Open a model on the sim cloud; its uuid, controller and the cloud's
//  database path (the spec's endpoint, else <home>/sim/<cloud>.db, as the
//  sim driver finds it).
static int
s_open_model(rig_t *rig, model_t *m, const char *name, char *db, size_t db_size)
{
    En__OpenRequest req = EN__OPEN_REQUEST__INIT;
    En__ConfigAttrs cfg = EN__CONFIG_ATTRS__INIT;
    cfg.json = "{}";
    req.name = (char *)name;
    req.cloud_name = "sim";
    req.controller_uuid = BENCH_CONTROLLER;
    req.config = &cfg;
    ProtobufCMessage *res = NULL;
    en_err_t err;
    if (en_client_call(rig->client, EN_PUBLIC_SERVICE, "Open", NULL, &req.base,
                       &en__open_result__descriptor, &res, 20000, &err) != 0) {
        fprintf(stderr, "bench: Open %s: %s\n", name, err.message);
        return -1;
    }
    const En__Model *model = ((En__OpenResult *)res)->model;
    int rc = -1;
    if (model && model->cloud) {
        snprintf(m->name, sizeof m->name, "%s", name);
        snprintf(m->uuid, sizeof m->uuid, "%s", model->uuid);
        snprintf(m->controller, sizeof m->controller, "%s",
                 model->controller_uuid && *model->controller_uuid ? model->controller_uuid
                                                                   : BENCH_CONTROLLER);
        snprintf(rig->region, sizeof rig->region, "%s", model->cloud->region);
        if (model->cloud->endpoint && *model->cloud->endpoint)
            snprintf(db, db_size, "%s", model->cloud->endpoint);
        else
            snprintf(db, db_size, "%s/sim/%s.db", fleet_home(rig->fleet), model->cloud->name);
        rc = 0;
    }
    protobuf_c_message_free_unpacked(res, NULL);
    return rc;
}

static int
s_rig_start(rig_t *rig)
{
    int port = fleet_free_ports(3);
    if (port < 0) {
        fprintf(stderr, "bench: no free loopback ports\n");
        return -1;
    }
    char gw[64], bin[PATH_MAX + 64];
    snprintf(gw, sizeof gw, "tcp://127.0.0.1:%d", port);
    snprintf(bin, sizeof bin, "%s/services/gateway/environs-gateway", rig->o->build);
    char *argv[] = {bin, "--bind", gw, "--home", (char *)fleet_home(rig->fleet), NULL};
    rig->pids[P_BENCH] = getpid();
    rig->pids[P_GATEWAY] = fleet_spawn(rig->fleet, "gateway", argv);
    rig->pids[P_REGISTRY] = s_start_service(rig, "registry", gw);
    rig->pids[P_BROKER] = s_start_service(rig, "broker", gw);
    // a StartInstance makes its machine's security groups first
    rig->pids[P_FIREWALLER] = s_start_service(rig, "firewaller", gw);
    for (int p = 0; p < P_COUNT; p++)
        if (rig->pids[p] < 0)
            return -1;
    en_err_t err;
    rig->client = en_client_new(gw, &err);
    if (!rig->client || s_wait_service(rig->client, "registry", 20000) ||
        s_wait_service(rig->client, "broker", 20000) ||
        s_wait_service(rig->client, "firewaller", 20000)) {
        fprintf(stderr, "bench: the gateway never saw the registry, the broker and the "
                        "firewaller\n");
        return -1;
    }
    char db[PATH_MAX], db_b[PATH_MAX], dir[PATH_MAX];
    if (s_open_model(rig, &rig->a, "bench-a", db, sizeof db) ||
        s_open_model(rig, &rig->b, "bench-b", db_b, sizeof db_b))
        return -1;
    if (strcmp(db, db_b) != 0) {
        fprintf(stderr, "bench: the two models are on different clouds\n");
        return -1;
    }
    snprintf(dir, sizeof dir, "%s", db);
    mkdir(dirname(dir), 0700);
    rig->sim = en_sim_cloud_open(db, &err);
    if (!rig->sim ||
        en_sim_cloud_zones(rig->sim, rig->region, &rig->zones, &rig->zone_count, &err)) {
        fprintf(stderr, "bench: sim cloud %s: %s\n", db, err.message);
        return -1;
    }
    return 0;
}

static void
s_rig_stop(rig_t *rig)
{
    free(rig->zones);
    en_sim_cloud_close(&rig->sim);
    en_client_destroy(&rig->client);
}

//  --------------------------------------------------------------------------
//  Filling the cloud

//  Small shapes of the sim's catalogue, as a model's machines would be.
static const char *const s_types[] = {"s1.small",  "s1.medium", "a1.small",
                                      "a1.medium", "c1.large",  "m1.large"};

//  Machines next_machine .. up to `target` live instances, each created
//  as StartInstance creates one: name, zone, type and ownership tags in
//  the one create call. Returns creates per second, or -1.
static double
s_populate(rig_t *rig, model_t *m, int target)
{
    double t0 = s_now_ms();
    int made = 0;
    for (; m->instances < target; m->instances++, m->next_machine++, made++) {
        char name[96], machine[16], nonce[96];
        int id = m->next_machine;
        snprintf(machine, sizeof machine, "%d", id);
        snprintf(name, sizeof name, "juju-%.6s-%d", m->uuid, id);
        //  Juju's nonce: the provisioner's machine tag and a fresh uuid
        snprintf(nonce, sizeof nonce, "machine-%d:%08x-%04x-4%03x-8%03x-%012x", id,
                 (unsigned)id * 2654435761u, (unsigned)id & 0xffff, (unsigned)id % 4096,
                 (unsigned)(id * 7) % 4096, (unsigned)id * 40503u);
        en_sim_tag_t tags[] = {
            {"juju-model-uuid", m->uuid},
            {"juju-controller-uuid", m->controller},
            {"juju-machine-id", machine},
            {"juju-machine-nonce", nonce},
        };
        const char *zone = rig->zones[(size_t)id % rig->zone_count].name;
        const char *type = s_types[(size_t)id % (sizeof s_types / sizeof *s_types)];
        en_sim_instance_t out;
        en_err_t err;
        if (en_sim_cloud_create(rig->sim, rig->region, zone, type, name, tags, 4, &out, &err)) {
            fprintf(stderr, "bench: create %s: %s\n", name, err.message);
            return -1;
        }
        en_sim_instance_clear(&out);
    }
    double ms = s_now_ms() - t0;
    return made && ms > 0 ? made / (ms / 1000) : 0;
}

//  --------------------------------------------------------------------------
//  Measuring

static int
s_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

typedef struct {
    int instances; // in model A when measured
    double p50, p99, mean, max;
    double decode_ms;       // client-side unpack of one reply, median
    size_t reply_bytes;     // body of one reply
    double cpu_ms[P_COUNT]; // per call
    long rss[P_COUNT];      // kB, after the phase
    long hwm[P_COUNT];
    double start_p50; // StartInstance, ms; < 0 when not measured
    char start_error[EN_ERR_MSG_MAX + 32];
    bool ok; // every listing answered and held the right instances
} phase_t;

//  Decode an AllInstances body and check it is exactly model m's
//  instances: the right number, each tagged with m's uuid, no id twice.
static bool
s_verify(const uint8_t *body, size_t size, const model_t *m, double *decode_ms)
{
    double t0 = s_now_ms();
    En__AllInstancesResult *r = en__all_instances_result__unpack(NULL, size, body);
    *decode_ms = s_now_ms() - t0;
    if (!r) {
        fprintf(stderr, "bench: AllInstances reply does not decode\n");
        return false;
    }
    bool ok = (int)r->n_instances == m->instances;
    if (!ok)
        fprintf(stderr, "bench: AllInstances(%s) gave %zu instances, want %d\n", m->name,
                r->n_instances, m->instances);
    zhashx_t *seen = zhashx_new();
    for (size_t i = 0; ok && i < r->n_instances; i++) {
        const En__Instance *inst = r->instances[i];
        const char *owner = NULL;
        for (size_t t = 0; t < inst->n_tags; t++)
            if (strcmp(inst->tags[t]->key, "juju-model-uuid") == 0)
                owner = inst->tags[t]->value;
        if (!owner || strcmp(owner, m->uuid) != 0 || zhashx_insert(seen, inst->id, "") != 0) {
            fprintf(stderr, "bench: AllInstances(%s): instance %s is not the model's, or twice\n",
                    m->name, inst->id);
            ok = false;
        }
    }
    zhashx_destroy(&seen);
    en__all_instances_result__free_unpacked(r, NULL);
    return ok;
}

//  One AllInstances: ms from sending to holding the reply; -1 on error.
static double
s_all_instances(rig_t *rig, const model_t *m, size_t *bytes, double *decode_ms, bool *ok)
{
    En__AllInstancesRequest req = EN__ALL_INSTANCES_REQUEST__INIT;
    en_err_t err;
    double t0 = s_now_ms();
    if (en_client_start(rig->client, EN_PUBLIC_SERVICE, "AllInstances", m->uuid, &req.base,
                        en_now_ms() + BENCH_CALL_MS, NULL, NULL, NULL, &err) != 0) {
        fprintf(stderr, "bench: AllInstances(%s): %s\n", m->name, err.message);
        return -1;
    }
    en_result_t r;
    if (en_client_wait(rig->client, BENCH_CALL_MS + 5000, &r) != 0) {
        fprintf(stderr, "bench: AllInstances(%s): no reply\n", m->name);
        return -1;
    }
    double ms = s_now_ms() - t0;
    if (r.err.kind != EN_OK) {
        fprintf(stderr, "bench: AllInstances(%s) with %d instances: %s %s\n", m->name, m->instances,
                en_kind_name(r.err.kind), r.err.message);
        en_result_clear(&r);
        return -1;
    }
    *bytes = r.size;
    *ok = s_verify(r.body, r.size, m, decode_ms) && *ok;
    en_result_clear(&r);
    return ms;
}

//  A few StartInstance calls through the public API; p50 in ms, or -1
//  (with the error kept in the phase: this figure is not a target).
static double
s_starts(rig_t *rig, model_t *m, int n, char *error, size_t error_size)
{
    double ms[BENCH_MAX_CALLS];
    for (int i = 0; i < n; i++) {
        char machine[16], nonce[64];
        int id = m->next_machine++;
        snprintf(machine, sizeof machine, "%d", id);
        snprintf(nonce, sizeof nonce, "machine-%d:bench", id);
        En__StartInstanceRequest req = EN__START_INSTANCE_REQUEST__INIT;
        En__StartInstanceParams p = EN__START_INSTANCE_PARAMS__INIT;
        p.machine_id = machine;
        p.machine_nonce = nonce;
        p.controller_uuid = m->controller;
        req.params = &p;
        ProtobufCMessage *res = NULL;
        en_err_t err;
        double t0 = s_now_ms();
        int rc = en_client_call(rig->client, EN_PUBLIC_SERVICE, "StartInstance", m->uuid, &req.base,
                                &en__start_instance_result__descriptor, &res, BENCH_CALL_MS, &err);
        ms[i] = s_now_ms() - t0;
        if (res)
            protobuf_c_message_free_unpacked(res, NULL);
        if (rc != 0) {
            snprintf(error, error_size, "%s %s", en_kind_name(err.kind), err.message);
            return -1;
        }
        m->instances++;
    }
    qsort(ms, (size_t)n, sizeof *ms, s_cmp_double);
    return n ? ms[n / 2] : -1;
}

static void
s_memory(rig_t *rig, long rss[P_COUNT], long hwm[P_COUNT])
{
    for (int p = 0; p < P_COUNT; p++) {
        rss[p] = fleet_status_kb(rig->pids[p], "VmRSS");
        hwm[p] = fleet_status_kb(rig->pids[p], "VmHWM");
    }
}

//  --calls listings of model A (after two unmeasured ones that open the
//  broker's connections and caches), one of B, memory, then the
//  StartInstance sample. -1 when a listing failed to answer.
static int
s_phase(rig_t *rig, phase_t *ph)
{
    const bench_opts_t *o = rig->o;
    memset(ph, 0, sizeof *ph);
    ph->instances = rig->a.instances;
    ph->ok = true;
    size_t bytes;
    double decode, lat[BENCH_MAX_CALLS], dec[BENCH_MAX_CALLS], sum = 0;
    for (int w = 0; w < 2; w++)
        if (s_all_instances(rig, &rig->a, &bytes, &decode, &ph->ok) < 0)
            return -1;
    fleet_usage_t before[P_COUNT];
    for (int p = 0; p < P_COUNT; p++)
        before[p] = fleet_usage(rig->pids[p]);
    for (int i = 0; i < o->calls; i++) {
        lat[i] = s_all_instances(rig, &rig->a, &ph->reply_bytes, &dec[i], &ph->ok);
        if (lat[i] < 0)
            return -1;
        sum += lat[i];
    }
    for (int p = 0; p < P_COUNT; p++) {
        fleet_usage_t after = fleet_usage(rig->pids[p]);
        ph->cpu_ms[p] = (after.cpu_us - before[p].cpu_us) / 1000 / o->calls;
    }
    qsort(lat, (size_t)o->calls, sizeof *lat, s_cmp_double);
    qsort(dec, (size_t)o->calls, sizeof *dec, s_cmp_double);
    ph->p50 = lat[o->calls / 2];
    ph->p99 = lat[(int)((o->calls - 1) * 0.99)];
    ph->max = lat[o->calls - 1];
    ph->mean = sum / o->calls;
    ph->decode_ms = dec[o->calls / 2];
    // the other model: its own instances only
    if (s_all_instances(rig, &rig->b, &bytes, &decode, &ph->ok) < 0)
        return -1;
    s_memory(rig, ph->rss, ph->hwm);
    ph->start_p50 = o->starts > 0
                        ? s_starts(rig, &rig->a, o->starts, ph->start_error, sizeof ph->start_error)
                        : -1;
    return 0;
}

//  --------------------------------------------------------------------------
//  Report

//  A row of the listing table; the ratio only where both figures are
//  measurable (CPU time comes in clock ticks of 10 ms).
static void
s_row(const char *label, int decimals, double a, double b)
{
    printf("| %-32s | %14.*f | %14.*f |", label, decimals, a, decimals, b);
    if (a > 0 && b > 0)
        printf(" %6.2f× |\n", b / a);
    else
        printf("       — |\n");
}

static void
s_print(const bench_opts_t *o, const phase_t *small, const phase_t *big, long idle_rss[P_COUNT],
        int *failures)
{
    double k = (double)big->instances / small->instances;
    printf("\nAllInstances: %d calls per phase (p50/p99/mean/max: from sending the request to "
           "holding the reply's bytes)\n\n",
           o->calls);
    printf("| measure                          | %9d inst. | %9d inst. |   ratio |\n",
           small->instances, big->instances);
    printf("|----------------------------------|---------------:|---------------:|--------:|\n");
    s_row("AllInstances p50 (ms)", 1, small->p50, big->p50);
    s_row("AllInstances p99 (ms)", 1, small->p99, big->p99);
    s_row("AllInstances mean (ms)", 1, small->mean, big->mean);
    s_row("AllInstances max (ms)", 1, small->max, big->max);
    s_row("reply body (bytes)", 0, (double)small->reply_bytes, (double)big->reply_bytes);
    s_row("reply bytes per instance", 0, (double)small->reply_bytes / small->instances,
          (double)big->reply_bytes / big->instances);
    s_row("client decode p50 (ms)", 1, small->decode_ms, big->decode_ms);
    for (int p = P_GATEWAY; p < P_COUNT; p++) {
        char label[64];
        snprintf(label, sizeof label, "CPU per call, %s (ms)", s_proc_names[p]);
        s_row(label, 1, small->cpu_ms[p], big->cpu_ms[p]);
    }
    if (small->start_p50 >= 0 && big->start_p50 >= 0)
        s_row("StartInstance p50 (ms)", 1, small->start_p50, big->start_p50);
    if (small->start_p50 < 0 && o->starts > 0)
        printf("StartInstance at %d: %s\n", small->instances, small->start_error);
    if (big->start_p50 < 0 && o->starts > 0)
        printf("StartInstance at %d: %s\n", big->instances, big->start_error);
    printf("(bus limits: requests %d bytes, replies %d bytes; model B's %d instances listed "
           "apart each phase)\n",
           EN_MAX_BODY, EN_MAX_REPLY_BODY, o->other);

    printf("\nMemory (kB): VmRSS now / VmHWM (peak since start)\n\n");
    printf("| process          |   idle RSS |  after %-5d RSS / HWM |  after %-5d RSS / HWM |\n",
           small->instances, big->instances);
    printf("|------------------|-----------:|----------------------:|----------------------:|\n");
    for (int p = 0; p < P_COUNT; p++)
        printf("| %-16s | %10ld | %10ld / %8ld | %10ld / %8ld |\n", s_proc_names[p], idle_rss[p],
               small->rss[p], small->hwm[p], big->rss[p], big->hwm[p]);

    double ratio = big->p50 / small->p50;
    double limit = TARGET_SCALING_PER_10X * k / 10;
    bool lists = small->ok && big->ok, linear = ratio <= limit;
    printf("\nlistings hold exactly their model's instances (%d and %d of A, %d of B): %s\n",
           small->instances, big->instances, o->other, lists ? "PASS" : "FAIL");
    printf("scaling p50(%d) / p50(%d) = %.2f×  (linear %.0f×, target ≤ %.1f×)  %s\n",
           big->instances, small->instances, ratio, k, limit, linear ? "PASS" : "FAIL");
    *failures += !lists + !linear;
}

//  --------------------------------------------------------------------------

static int
s_print_usage(const char *argv0)
{
    fprintf(stderr,
            "usage: %s [--quick] [--count N] [--base M] [--other K] [--calls C]\n"
            "          [--starts S] [--threads T] [--build DIR]\n",
            argv0);
    return 2;
}

int
main(int argc, char **argv)
{
    zsys_handler_set(NULL);
    bench_opts_t o = {
        .count = 10000, .base = 1000, .other = 1000, .calls = 40, .starts = 5, .threads = 2};
    static const struct option longopts[] = {{"quick", no_argument, NULL, 'q'},
                                             {"count", required_argument, NULL, 'n'},
                                             {"base", required_argument, NULL, 'b'},
                                             {"other", required_argument, NULL, 'o'},
                                             {"calls", required_argument, NULL, 'c'},
                                             {"starts", required_argument, NULL, 's'},
                                             {"threads", required_argument, NULL, 't'},
                                             {"build", required_argument, NULL, 'B'},
                                             {NULL, 0, NULL, 0}};
    for (int c; (c = getopt_long(argc, argv, "", longopts, NULL)) != -1;) {
        switch (c) {
        case 'q':
            o.count = 2000, o.base = 200, o.other = 200, o.calls = 5, o.starts = 2;
            break;
        case 'n':
            o.count = atoi(optarg);
            break;
        case 'b':
            o.base = atoi(optarg);
            break;
        case 'o':
            o.other = atoi(optarg);
            break;
        case 'c':
            o.calls = atoi(optarg);
            break;
        case 's':
            o.starts = atoi(optarg);
            break;
        case 't':
            o.threads = atoi(optarg);
            break;
        case 'B':
            snprintf(o.build, sizeof o.build, "%s", optarg);
            break;
        default:
            return s_print_usage(argv[0]);
        }
    }
    if (o.base < 1 || o.count <= o.base || o.other < 0 || o.calls < 1 ||
        o.calls > BENCH_MAX_CALLS || o.starts < 0 || o.starts > BENCH_MAX_CALLS || o.threads < 1)
        return s_print_usage(argv[0]);
    if (!o.build[0]) {
        // the services sit in the build tree, two levels up from
        // build/bench/bench-instances
        char self[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
        if (n <= 0)
            return 2;
        self[n] = '\0';
        snprintf(o.build, sizeof o.build, "%s", dirname(dirname(self)));
    }
    signal(SIGPIPE, SIG_IGN);
    printf("bench-instances: build %s\n", o.build);
    fflush(stdout); // before any fork

    rig_t rig = {.o = &o};
    int rc = 2, failures = 0;
    rig.fleet = fleet_new();
    if (!rig.fleet || s_rig_start(&rig))
        goto cleanup;
    long idle_rss[P_COUNT], idle_hwm[P_COUNT]; // the peak so far is start-up's: not shown
    s_memory(&rig, idle_rss, idle_hwm);

    phase_t small, big;
    double rate_b = s_populate(&rig, &rig.b, o.other);
    double rate_a = s_populate(&rig, &rig.a, o.base);
    if (rate_a < 0 || rate_b < 0)
        goto cleanup;
    printf("cloud: %d instances of model A, %d of model B (%.0f creates/s)\n", rig.a.instances,
           rig.b.instances, rate_a);
    fflush(stdout);
    int small_rc = s_phase(&rig, &small);
    if (small_rc == 0) {
        rate_a = s_populate(&rig, &rig.a, o.count);
        if (rate_a < 0)
            goto cleanup;
        printf("cloud: %d instances of model A, %d of model B (%.0f creates/s)\n", rig.a.instances,
               rig.b.instances, rate_a);
        fflush(stdout);
    }
    if (small_rc != 0 || s_phase(&rig, &big) != 0) {
        // the listing itself broke: that is the finding, not a broken bench
        printf("\nAllInstances failed with %d instances in the model: FAIL\n", rig.a.instances);
        fleet_keep_home(rig.fleet);
        rc = 1;
        goto cleanup;
    }
    s_print(&o, &small, &big, idle_rss, &failures);
    printf("\n%s\n", failures ? "some targets FAIL" : "all targets PASS");
    rc = failures ? 1 : 0;
cleanup:
    if (rc == 2 && rig.fleet)
        fleet_keep_home(rig.fleet);
    s_rig_stop(&rig);
    fleet_destroy(&rig.fleet);
    return rc;
}
