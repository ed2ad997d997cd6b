/*  bench_bus.c — the foundation benchmark: what the bus costs over bare
    ZeroMQ, and what the idle service set costs in memory.

    One executable plays every role. Run without --role it is the driver;
    it re-executes itself (/proc/self/exe) as the other processes:

      --role raw-echo --bind EP     a ROUTER that sends every message back
      --role echo-worker --gateway EP --threads N [--credit K]
                                    service "bench-echo" on the real service
                                    runtime: one route, Provider, whose
                                    handler fills a fixed ProviderInfo

    RAW is a DEALER talking to raw-echo: per call it packs the envelope our
    client packs (en.Request{Provider, ProviderRequest{type:"sim"}}) and
    sends the same four frames [""][MDPC01][service][body]; the echo returns
    them. BUS is en_client → the real gateway process → echo-worker → back.
    Both run on loopback TCP. Each round measures, for RAW and for BUS,
    sequential latency (one call at a time) and pipelined throughput (W
    calls kept in flight); within a round the sides take turns in blocks of
    calls, rounds alternate which side goes first, and the reported figure
    is the median over rounds, so noise on the shared machine falls on both
    sides alike. While each measurement runs, the CPU
    time and context switches of every process are read from /proc (see
    fleet.h), which says where the time goes without hardware counters.

    Idle memory: a fresh gateway, registry (--threads 4) and any other
    service executable in the build tree, idle ~2 s once the gateway sees a
    registry worker. Each process's VmRSS and RssAnon come from
    /proc/<pid>/status, but the target is on the unique resident memory of
    the set (fleet_unique_kb): most of a service's VmRSS is shared library
    pages (libc, libstdc++, libzmq: RssFile) that every service maps, so
    summing VmRSS counts them once per process and overstates what the
    services take from the machine. The bench's own process is not in the
    set. Without root the page frames are hidden and the target falls back
    to the VmRSS sum, and the output says so.

    Exit status: 0 when every target passes, 1 when one fails, 2 when the
    benchmark could not run. */
#include <czmq.h>
#include <dirent.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bus.pb-c.h"
#include "bus/client.h"
#include "bus/envelope.h"
#include "bus/mdp.h"
#include "bus/service.h"
#include "environ.pb-c.h"
#include "fleet.h"

#define BENCH_SERVICE "bench-echo"
#define BENCH_MAX_ROUNDS 15
#define BENCH_CALL_MS 10000 // deadline of one call; a miss aborts the run
#define BENCH_SEQ_BLOCK 250   // calls a side makes before the other's turn
#define BENCH_PIPE_BLOCK 5000

//  Targets (issue 2).
#define TARGET_LATENCY_RATIO 2.5
#define TARGET_THROUGHPUT_RATIO 0.3
#define TARGET_IDLE_RSS_KB (40 * 1024)

typedef struct {
    int rounds;
    int seq;     // sequential calls per round and side
    int pipe;    // pipelined calls per round and side
    int window;  // calls in flight when pipelined
    int threads; // echo-worker handler threads
    int credit;  // echo-worker credit per connection (0: the runtime's default)
    char build[PATH_MAX];
    char self[PATH_MAX];
} bench_opts_t;

typedef struct {
    double p50, p99, mean; // µs
    double rate;           // calls/s
} figures_t;

static double
s_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec * 1e6 + (double) ts.tv_nsec / 1e3;
}

//  --------------------------------------------------------------------------
//  Processes

static pid_t
s_start_gateway(fleet_t *fleet, const bench_opts_t *opts, const char *endpoint)
{
    char bin[PATH_MAX + 64];
    snprintf(bin, sizeof bin, "%s/services/gateway/environs-gateway", opts->build);
    char *argv[] = {bin,      "--bind", (char *) endpoint,
                    "--home", (char *) fleet_home(fleet), NULL};
    return fleet_spawn(fleet, "gateway", argv);
}

//  Wait until the gateway has a worker for service.
static int
s_wait_service(en_client_t *client, const char *service, int timeout_ms)
{
    int64_t until = en_mono_ms() + timeout_ms;
    while (en_mono_ms() < until)
        if (en_client_service_present(client, service, 250) == 0)
            return 0;
    return -1;
}

//  --------------------------------------------------------------------------
//  Role: raw echo (a ROUTER that returns every message as it came)

static int
s_raw_echo(const char *endpoint)
{
    void *ctx = zmq_ctx_new();
    void *router = zmq_socket(ctx, ZMQ_ROUTER);
    int hwm = 100000;
    zmq_setsockopt(router, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(router, ZMQ_RCVHWM, &hwm, sizeof hwm);
    if (zmq_bind(router, endpoint) != 0) {
        fprintf(stderr, "raw-echo: cannot bind %s: %s\n", endpoint, zmq_strerror(zmq_errno()));
        return 1;
    }
    zmq_msg_t part;
    zmq_msg_init(&part);
    while (zmq_msg_recv(&part, router, 0) >= 0) {
        int more = zmq_msg_more(&part);
        if (zmq_msg_send(&part, router, more ? ZMQ_SNDMORE : 0) < 0)
            break;
    }
    zmq_msg_close(&part);
    zmq_close(router);
    zmq_ctx_term(ctx);
    return 0;
}

//  --------------------------------------------------------------------------
//  Role: echo worker (the real service runtime with one fixed route)

static int
s_provider(en_call_t *call, const ProtobufCMessage *req_, ProtobufCMessage *res_, en_err_t *err)
{
    const En__ProviderRequest *req = (const En__ProviderRequest *) req_;
    if (strcmp(req->type, "sim") != 0)
        return en_err_set(err, EN_NOT_FOUND, "no registered provider for \"%s\"", req->type);
    En__ProviderInfo *info = en_arena_alloc(call->arena, sizeof *info);
    en__provider_info__init(info);
    info->name = "sim";
    info->n_auth_types = 1;
    info->auth_types = en_arena_array(call->arena, 1, sizeof(char *));
    info->auth_types[0] = "userpass";
    ((En__ProviderResult *) res_)->provider = info;
    return 0;
}

static const en_route_t s_echo_routes[] = {
    {&en__environ__descriptor, "Provider", s_provider, 0},
};

static int
s_echo_worker(const char *gateway, const char *home, int threads, int credit)
{
    en_signals_block();
    en_service_def_t def = {
        .name = BENCH_SERVICE,
        .routes = s_echo_routes,
        .route_count = sizeof s_echo_routes / sizeof s_echo_routes[0],
    };
    en_service_opts_t opts = {
        .gateways = gateway, .home = home, .threads = threads, .credit = credit};
    return en_service_run(&def, &opts) == 0 ? 0 : 1;
}

//  --------------------------------------------------------------------------
//  The request both sides send

static En__ProviderRequest s_request = {PROTOBUF_C_MESSAGE_INIT(&en__provider_request__descriptor),
                                        "sim"};

//  What en_client_start packs: a fresh id, a deadline, the method's body.
static zframe_t *
s_envelope(void)
{
    uint8_t body[64]; // ProviderRequest{type:"sim"} packs to 5 bytes
    char id[33];
    en_request_id_new(id);
    En__Request env = EN__REQUEST__INIT;
    env.request_id = id;
    env.deadline_ms = (uint64_t) (en_now_ms() + BENCH_CALL_MS);
    env.model_uuid = "";
    env.method = "Provider";
    env.body.data = body;
    env.body.len = protobuf_c_message_pack(&s_request.base, body);
    return en_frame_pack(&env.base);
}

//  --------------------------------------------------------------------------
//  The two sides, as a driver table: one call start to end, starting a
//  call, finishing any one call. The measurements are written once.

typedef struct {
    void *dealer;        // RAW
    en_client_t *client; // BUS
} conn_t;

typedef struct {
    int (*call)(conn_t *conn);
    int (*start)(conn_t *conn);
    int (*finish)(conn_t *conn);
} side_t;

static int
s_raw_start(conn_t *conn)
{
    zframe_t *env = s_envelope();
    void *dealer = conn->dealer;
    int rc = zmq_send(dealer, "", 0, ZMQ_SNDMORE) < 0 ||
             zmq_send(dealer, MDPC_CLIENT, strlen(MDPC_CLIENT), ZMQ_SNDMORE) < 0 ||
             zmq_send(dealer, BENCH_SERVICE, strlen(BENCH_SERVICE), ZMQ_SNDMORE) < 0 ||
             zmq_send(dealer, zframe_data(env), zframe_size(env), 0) < 0;
    zframe_destroy(&env);
    return rc ? -1 : 0;
}

//  One whole echoed message; -1 on timeout or a short message.
static int
s_raw_finish(conn_t *conn)
{
    zmq_msg_t part;
    zmq_msg_init(&part);
    int frames = 0, more = 1;
    while (more) {
        if (zmq_msg_recv(&part, conn->dealer, 0) < 0) {
            zmq_msg_close(&part);
            return -1;
        }
        frames++;
        more = zmq_msg_more(&part);
    }
    zmq_msg_close(&part);
    return frames == 4 ? 0 : -1;
}

static int
s_raw_call(conn_t *conn)
{
    return s_raw_start(conn) || s_raw_finish(conn) ? -1 : 0;
}

//  en_client_call, and the result is the fixed ProviderInfo.
static int
s_bus_call(conn_t *conn)
{
    en_err_t err;
    ProtobufCMessage *res = NULL;
    int rc = en_client_call(conn->client, BENCH_SERVICE, "Provider", NULL, &s_request.base,
                            &en__provider_result__descriptor, &res, BENCH_CALL_MS, &err);
    En__ProviderResult *r = (En__ProviderResult *) res;
    if (rc == 0 && (!r->provider || strcmp(r->provider->name, "sim") != 0))
        rc = en_err_set(&err, EN_INTERNAL, "not the fixed ProviderInfo");
    if (rc)
        fprintf(stderr, "bench: BUS call failed: %s\n", err.message);
    if (res)
        protobuf_c_message_free_unpacked(res, NULL);
    return rc;
}

static int
s_bus_start(conn_t *conn)
{
    en_err_t err;
    if (en_client_start(conn->client, BENCH_SERVICE, "Provider", NULL, &s_request.base,
                        en_now_ms() + BENCH_CALL_MS, NULL, NULL, NULL, &err) == 0)
        return 0;
    fprintf(stderr, "bench: BUS start failed: %s\n", err.message);
    return -1;
}

static int
s_bus_finish(conn_t *conn)
{
    en_result_t r;
    if (en_client_wait(conn->client, BENCH_CALL_MS, &r) != 0) {
        fprintf(stderr, "bench: BUS call lost\n");
        return -1;
    }
    int rc = r.err.kind != EN_OK || r.size == 0 ? -1 : 0;
    if (rc)
        fprintf(stderr, "bench: BUS call failed: %s\n", r.err.message);
    en_result_clear(&r);
    return rc;
}

enum { RAW, BUS };
static const side_t s_sides[] = {
    [RAW] = {s_raw_call, s_raw_start, s_raw_finish},
    [BUS] = {s_bus_call, s_bus_start, s_bus_finish},
};

static int
s_cmp_double(const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return x < y ? -1 : x > y;
}

//  The calls of one side in one round, gathered block by block.
typedef struct {
    double *us;  // sequential: the latency of each call
    int calls;
    double secs; // pipelined: the time the blocks took
} tally_t;

//  n calls one at a time; each latency goes into the tally.
static int
s_sequential(const side_t *side, conn_t *conn, int n, tally_t *t)
{
    for (int i = 0; i < n; i++) {
        double t0 = s_now_us();
        if (side->call(conn))
            return -1;
        t->us[t->calls++] = s_now_us() - t0;
    }
    return 0;
}

//  n calls with `window` of them in flight; their time goes into the tally.
static int
s_pipelined(const side_t *side, conn_t *conn, int n, int window, tally_t *t)
{
    double t0 = s_now_us();
    int sent = 0;
    for (; sent < window && sent < n; sent++)
        if (side->start(conn))
            return -1;
    for (int done = 0; done < n; done++) {
        if (side->finish(conn))
            return -1;
        if (sent < n) {
            if (side->start(conn))
                return -1;
            sent++;
        }
    }
    t->secs += (s_now_us() - t0) / 1e6;
    t->calls += n;
    return 0;
}

//  A side's figures for a round: p50, p99 and mean latency of its
//  sequential calls, or the rate of its pipelined ones.
static void
s_figures(tally_t *t, bool pipelined, figures_t *f)
{
    if (pipelined) {
        f->rate = t->calls / t->secs;
        return;
    }
    double sum = 0;
    for (int i = 0; i < t->calls; i++)
        sum += t->us[i];
    qsort(t->us, (size_t) t->calls, sizeof *t->us, s_cmp_double);
    f->mean = sum / t->calls;
    f->p50 = t->us[t->calls / 2];
    f->p99 = t->us[(int) ((t->calls - 1) * 0.99)];
}

//  --------------------------------------------------------------------------
//  Phase: RAW against BUS

static double
s_median(double *v, int n)
{
    double *c = malloc((size_t) n * sizeof *c);
    memcpy(c, v, (size_t) n * sizeof *c);
    qsort(c, (size_t) n, sizeof *c, s_cmp_double);
    double m = n % 2 ? c[n / 2] : (c[n / 2 - 1] + c[n / 2]) / 2;
    free(c);
    return m;
}

//  Median of each figure over the rounds.
static figures_t
s_median_figures(const figures_t *rounds, int n)
{
    double v[BENCH_MAX_ROUNDS][4];
    double col[BENCH_MAX_ROUNDS];
    figures_t out;
    for (int i = 0; i < n; i++) {
        v[i][0] = rounds[i].p50;
        v[i][1] = rounds[i].p99;
        v[i][2] = rounds[i].mean;
        v[i][3] = rounds[i].rate;
    }
    double *fields[] = {&out.p50, &out.p99, &out.mean, &out.rate};
    for (int k = 0; k < 4; k++) {
        for (int i = 0; i < n; i++)
            col[i] = v[i][k];
        *fields[k] = s_median(col, n);
    }
    return out;
}

//  The echo worker's credit as run: --credit, or the runtime's default.
static const char *
s_credit_text(const bench_opts_t *o)
{
    static char text[48];
    int credit = o->credit ? o->credit : EN_DEFAULT_CREDIT_PER_THREAD * o->threads;
    if (credit > EN_MDP_CREDIT_MAX)
        credit = EN_MDP_CREDIT_MAX;
    snprintf(text, sizeof text, "%d%s", credit, o->credit ? "" : " (default)");
    return text;
}

static const char *
s_verdict(bool pass)
{
    return pass ? "PASS" : "FAIL";
}

//  The processes whose cost we account.
enum { P_CLIENT, P_GATEWAY, P_ECHO, P_WORKER, P_COUNT };
static const char *s_proc_names[P_COUNT] = {"client (bench)", "gateway", "raw-echo",
                                            "echo-worker"};

typedef struct {
    const bench_opts_t *o;
    conn_t conn;
    pid_t pids[P_COUNT];
    // [side][pipelined][process]: CPU µs and context switches, summed
    fleet_usage_t cost[2][2][P_COUNT];
    double calls[2][2];
} rig_t;

//  Run a block of n sequential or pipelined calls of one side, accounting
//  the CPU time and context switches of every process while it runs.
static int
s_measure(rig_t *rig, int bus, int pipelined, int n, tally_t *t)
{
    const bench_opts_t *o = rig->o;
    fleet_usage_t before[P_COUNT];
    for (int p = 0; p < P_COUNT; p++)
        before[p] = fleet_usage(rig->pids[p]);
    int rc = pipelined ? s_pipelined(&s_sides[bus], &rig->conn, n, o->window, t)
                       : s_sequential(&s_sides[bus], &rig->conn, n, t);
    for (int p = 0; p < P_COUNT; p++) {
        fleet_usage_t after = fleet_usage(rig->pids[p]);
        rig->cost[bus][pipelined][p].cpu_us += after.cpu_us - before[p].cpu_us;
        rig->cost[bus][pipelined][p].switches += after.switches - before[p].switches;
    }
    rig->calls[bus][pipelined] += n;
    return rc;
}

static void
s_print_costs(const rig_t *rig)
{
    printf("\nWhere the time goes: CPU µs and context switches per call, all threads of each "
           "process, summed over the rounds\n\n");
    printf("| process          | RAW seq cpu | BUS seq cpu | RAW pipe cpu | BUS pipe cpu "
           "| RAW seq cs | BUS seq cs | RAW pipe cs | BUS pipe cs |\n");
    printf("|------------------|------------:|------------:|-------------:|-------------:"
           "|-----------:|-----------:|------------:|------------:|\n");
    fleet_usage_t total[2][2] = {{{0, 0}}};
    for (int p = 0; p <= P_COUNT; p++) {
        const char *name = p < P_COUNT ? s_proc_names[p] : "**total**";
        printf("| %-16s ", name);
        for (int what = 0; what < 2; what++)
            for (int pipelined = 0; pipelined < 2; pipelined++)
                for (int bus = 0; bus < 2; bus++) {
                    fleet_usage_t u =
                        p < P_COUNT ? rig->cost[bus][pipelined][p] : total[bus][pipelined];
                    if (p < P_COUNT && what == 0) {
                        total[bus][pipelined].cpu_us += u.cpu_us;
                        total[bus][pipelined].switches += u.switches;
                    }
                    double v = (what ? u.switches : u.cpu_us) / rig->calls[bus][pipelined];
                    printf(what ? "| %*.1f " : "| %*.1f ", what ? (pipelined ? 11 : 10)
                                                               : (pipelined ? 12 : 11), v);
                }
        printf("|\n");
    }
}

static void
s_print_figures(const bench_opts_t *o, figures_t figs[2][2][BENCH_MAX_ROUNDS], int *failures)
{
    figures_t s_raw = s_median_figures(figs[0][0], o->rounds);
    figures_t s_bus = s_median_figures(figs[1][0], o->rounds);
    figures_t p_raw = s_median_figures(figs[0][1], o->rounds);
    figures_t p_bus = s_median_figures(figs[1][1], o->rounds);
    printf("\nBus overhead: medians of %d rounds; sequential %d calls, pipelined %d calls "
           "(window %d), echo worker %d threads, credit %s\n\n",
           o->rounds, o->seq, o->pipe, o->window, o->threads, s_credit_text(o));
    printf("| measure                    |        RAW |        BUS |  BUS/RAW |\n");
    printf("|----------------------------|-----------:|-----------:|---------:|\n");
    printf("| sequential p50 (µs)        | %10.1f | %10.1f | %7.2f× |\n", s_raw.p50, s_bus.p50,
           s_bus.p50 / s_raw.p50);
    printf("| sequential p99 (µs)        | %10.1f | %10.1f | %7.2f× |\n", s_raw.p99, s_bus.p99,
           s_bus.p99 / s_raw.p99);
    printf("| sequential mean (µs)       | %10.1f | %10.1f | %7.2f× |\n", s_raw.mean,
           s_bus.mean, s_bus.mean / s_raw.mean);
    printf("| pipelined W=%-3d (calls/s)  | %10.0f | %10.0f | %7.2f× |\n", o->window, p_raw.rate,
           p_bus.rate, p_bus.rate / p_raw.rate);
    double lat = s_bus.p50 / s_raw.p50, thr = p_bus.rate / p_raw.rate;
    bool lat_ok = lat <= TARGET_LATENCY_RATIO, thr_ok = thr >= TARGET_THROUGHPUT_RATIO;
    printf("\nlatency ratio    BUS p50 / RAW p50 = %.2f×  (target ≤ %.1f×)  %s\n", lat,
           TARGET_LATENCY_RATIO, s_verdict(lat_ok));
    printf("throughput ratio BUS / RAW         = %.2f×  (target ≥ %.1f×)  %s\n", thr,
           TARGET_THROUGHPUT_RATIO, s_verdict(thr_ok));
    *failures += !lat_ok + !thr_ok;
}

//  Start the gateway, raw-echo and echo-worker; connect the DEALER and the
//  client once the gateway sees a worker.
static int
s_rig_start(rig_t *rig, fleet_t *fleet, void *ctx)
{
    const bench_opts_t *o = rig->o;
    int gw_port = fleet_free_ports(3), raw_port = fleet_free_ports(1);
    while (raw_port >= gw_port && raw_port <= gw_port + 2) // the gateway's three
        raw_port = fleet_free_ports(1);
    if (gw_port < 0 || raw_port < 0) {
        fprintf(stderr, "bench: no free loopback ports\n");
        return -1;
    }
    char gw[64], raw[64], threads[16], credit[16];
    snprintf(gw, sizeof gw, "tcp://127.0.0.1:%d", gw_port);
    snprintf(raw, sizeof raw, "tcp://127.0.0.1:%d", raw_port);
    snprintf(threads, sizeof threads, "%d", o->threads);
    snprintf(credit, sizeof credit, "%d", o->credit);
    char *echo_argv[] = {(char *) o->self, "--role", "raw-echo", "--bind", raw, NULL};
    char *worker_argv[] = {(char *) o->self, "--role",    "echo-worker",
                           "--gateway",      gw,          "--home",
                           (char *) fleet_home(fleet), "--threads", threads,
                           "--credit",       credit,      NULL};
    rig->pids[P_CLIENT] = getpid();
    rig->pids[P_GATEWAY] = s_start_gateway(fleet, o, gw);
    rig->pids[P_ECHO] = fleet_spawn(fleet, "raw-echo", echo_argv);
    rig->pids[P_WORKER] = fleet_spawn(fleet, "echo-worker", worker_argv);
    if (rig->pids[P_GATEWAY] < 0 || rig->pids[P_ECHO] < 0 || rig->pids[P_WORKER] < 0)
        return -1;
    en_err_t err;
    rig->conn.client = en_client_new(gw, &err);
    if (!rig->conn.client || s_wait_service(rig->conn.client, BENCH_SERVICE, 20000)) {
        fprintf(stderr, "bench: the gateway never saw a %s worker\n", BENCH_SERVICE);
        return -1;
    }
    // the DEALER is set up as en_client sets up its own
    rig->conn.dealer = zmq_socket(ctx, ZMQ_DEALER);
    int hwm = 100000, timeout = BENCH_CALL_MS, linger = 0;
    zmq_setsockopt(rig->conn.dealer, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(rig->conn.dealer, ZMQ_RCVHWM, &hwm, sizeof hwm);
    zmq_setsockopt(rig->conn.dealer, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
    zmq_setsockopt(rig->conn.dealer, ZMQ_LINGER, &linger, sizeof linger);
    return zmq_connect(rig->conn.dealer, raw);
}

static int
s_overhead(const bench_opts_t *o, int *failures)
{
    fleet_t *fleet = fleet_new();
    if (!fleet)
        return -1;
    int rc = -1, rc_warm = 0, rc_round = 0;
    void *ctx = zmq_ctx_new();
    rig_t *rig = calloc(1, sizeof *rig);
    rig->o = o;
    if (s_rig_start(rig, fleet, ctx))
        goto cleanup;

    // warm both paths (connections, allocators, caches), unaccounted
    int warm_n = o->seq < 200 ? o->seq : 200;
    double *warm_us = calloc((size_t) warm_n, sizeof *warm_us);
    for (int side = 0; side < 2 && rc_warm == 0; side++) {
        tally_t t = {warm_us, 0, 0};
        rc_warm = s_measure(rig, side, 0, warm_n, &t) || s_measure(rig, side, 1, warm_n, &t);
    }
    free(warm_us);
    if (rc_warm)
        goto cleanup;
    memset(rig->cost, 0, sizeof rig->cost);
    memset(rig->calls, 0, sizeof rig->calls);

    // Each round measures both sides; within it they take turns in blocks
    // (BENCH_SEQ_BLOCK sequential, BENCH_PIPE_BLOCK pipelined calls), the
    // first side alternating by round. This VM flips between fast and slow
    // thread wake-ups on a scale of a second (RAW's p50 moves between ~40
    // and ~80 µs), so sides measured one after the other meet different
    // machines; taking turns, both meet the same flips.
    static figures_t figs[2][2][BENCH_MAX_ROUNDS]; // [side][pipelined][round]
    double *us[2] = {calloc((size_t) o->seq, sizeof(double)),
                     calloc((size_t) o->seq, sizeof(double))};
    for (int r = 0; r < o->rounds && rc_round == 0; r++) {
        for (int pipelined = 0; pipelined < 2 && rc_round == 0; pipelined++) {
            int total = pipelined ? o->pipe : o->seq;
            int block = pipelined ? BENCH_PIPE_BLOCK : BENCH_SEQ_BLOCK;
            tally_t t[2] = {{us[0], 0, 0}, {us[1], 0, 0}};
            for (int done = 0; done < total && rc_round == 0; done += block) {
                int n = total - done < block ? total - done : block;
                for (int k = 0; k < 2 && rc_round == 0; k++) {
                    int side = (r + k) % 2;
                    rc_round = s_measure(rig, side, pipelined, n, &t[side]);
                }
            }
            for (int side = 0; side < 2 && rc_round == 0; side++)
                s_figures(&t[side], pipelined, &figs[side][pipelined][r]);
        }
        if (rc_round == 0)
            printf("round %d: p50 RAW %.0f BUS %.0f µs; calls/s RAW %.0f BUS %.0f\n", r + 1,
                   figs[0][0][r].p50, figs[1][0][r].p50, figs[0][1][r].rate,
                   figs[1][1][r].rate);
        fflush(stdout);
    }
    free(us[0]);
    free(us[1]);
    if (rc_round)
        goto cleanup;
    s_print_figures(o, figs, failures);
    s_print_costs(rig);
    rc = 0;
cleanup:
    en_client_destroy(&rig->conn.client);
    if (rig->conn.dealer)
        zmq_close(rig->conn.dealer);
    zmq_ctx_term(ctx);
    free(rig);
    if (rc)
        fleet_keep_home(fleet);
    fleet_destroy(&fleet);
    return rc;
}

//  --------------------------------------------------------------------------
//  Phase: idle memory

//  Every build/services/<n>/environs-<n> but the gateway.
static void
s_start_services(fleet_t *fleet, const bench_opts_t *o, const char *gw)
{
    char dir[PATH_MAX + 16];
    snprintf(dir, sizeof dir, "%s/services", o->build);
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.' || strcmp(e->d_name, "gateway") == 0)
            continue;
        char bin[PATH_MAX * 2];
        snprintf(bin, sizeof bin, "%s/%s/environs-%s", dir, e->d_name, e->d_name);
        if (access(bin, X_OK) != 0)
            continue;
        char *argv[] = {bin,   "--gateway", (char *) gw, "--home", (char *) fleet_home(fleet),
                        "--threads", "4",      NULL};
        fleet_spawn(fleet, e->d_name, argv);
    }
    if (d)
        closedir(d);
}

static int
s_idle_memory(const bench_opts_t *o, int *failures)
{
    fleet_t *fleet = fleet_new();
    if (!fleet)
        return -1;
    int rc = -1;
    en_client_t *client = NULL;
    int port = fleet_free_ports(3);
    char gw[64];
    snprintf(gw, sizeof gw, "tcp://127.0.0.1:%d", port);
    if (port < 0 || s_start_gateway(fleet, o, gw) < 0)
        goto cleanup;
    s_start_services(fleet, o, gw);
    en_err_t err;
    client = en_client_new(gw, &err);
    if (!client || s_wait_service(client, "registry", 20000)) {
        fprintf(stderr, "bench: the gateway never saw a registry worker\n");
        goto cleanup;
    }
    en_client_destroy(&client);
    usleep(2000 * 1000);
    long total = 0;
    printf("\nIdle memory (~2 s idle after the registry is ready): VmRSS and RssAnon of each "
           "process\n\n");
    printf("| process              | VmRSS (kB) | RssAnon (kB) |\n");
    printf("|----------------------|-----------:|-------------:|\n");
    for (size_t i = 0; i < fleet_size(fleet); i++) {
        long kb = fleet_rss_kb(fleet_pid(fleet, i));
        if (kb < 0) {
            fprintf(stderr, "bench: %s is gone\n", fleet_name(fleet, i));
            goto cleanup;
        }
        printf("| %-20s | %10ld | %12ld |\n", fleet_name(fleet, i), kb,
               fleet_status_kb(fleet_pid(fleet, i), "RssAnon"));
        total += kb;
    }
    printf("| **VmRSS summed**     | %10ld |              |\n", total);
    // the target is on what the set takes together, each page once
    double t0 = s_now_us();
    long unique = fleet_unique_kb_all(fleet, NULL);
    double probe_us = s_now_us() - t0;
    bool ok;
    if (unique >= 0) {
        ok = unique <= TARGET_IDLE_RSS_KB;
        printf("\nidle memory of the %zu service processes = %.1f MB unique resident (VmRSS "
               "summed: %.1f MB, shared libraries counted once per process)  (target ≤ %d MB)  "
               "%s\n",
               fleet_size(fleet), unique / 1024.0, total / 1024.0, TARGET_IDLE_RSS_KB / 1024,
               s_verdict(ok));
        printf("(unique resident: the page frames of /proc/<pid>/pagemap, each once; read in "
               "%.1f ms)\n",
               probe_us / 1000.0);
    } else {
        ok = total <= TARGET_IDLE_RSS_KB;
        printf("\nidle memory of the %zu service processes = %.1f MB VmRSS summed, not root "
               "(each shared library counted once per process; unique resident needs "
               "CAP_SYS_ADMIN)  (target ≤ %d MB)  %s\n",
               fleet_size(fleet), total / 1024.0, TARGET_IDLE_RSS_KB / 1024, s_verdict(ok));
    }
    *failures += !ok;
    rc = 0;
cleanup:
    en_client_destroy(&client);
    if (rc)
        fleet_keep_home(fleet);
    fleet_destroy(&fleet);
    return rc;
}

//  --------------------------------------------------------------------------

static int
s_print_usage(const char *argv0)
{
    fprintf(stderr,
            "usage: %s [--quick] [--rounds R] [--seq N] [--pipe M] [--window W]\n"
            "          [--threads T] [--credit K] [--build DIR] [--skip-rss]\n",
            argv0);
    return 2;
}

int
main(int argc, char **argv)
{
    zsys_handler_set(NULL);
    bench_opts_t o = {.rounds = 7, .seq = 4000, .pipe = 40000, .window = 64, .threads = 4};
    const char *role = NULL, *bind = NULL, *gateway = NULL, *home = NULL;
    bool skip_rss = false;
    static const struct option longopts[] = {
        {"role", required_argument, NULL, 'r'},    {"bind", required_argument, NULL, 'b'},
        {"gateway", required_argument, NULL, 'g'}, {"home", required_argument, NULL, 'h'},
        {"threads", required_argument, NULL, 't'}, {"quick", no_argument, NULL, 'q'},
        {"rounds", required_argument, NULL, 'R'},  {"seq", required_argument, NULL, 'n'},
        {"pipe", required_argument, NULL, 'm'},    {"window", required_argument, NULL, 'w'},
        {"build", required_argument, NULL, 'B'},   {"skip-rss", no_argument, NULL, 's'},
        {"credit", required_argument, NULL, 'k'},  {NULL, 0, NULL, 0}};
    for (int c; (c = getopt_long(argc, argv, "", longopts, NULL)) != -1;) {
        switch (c) {
        case 'r': role = optarg; break;
        case 'b': bind = optarg; break;
        case 'g': gateway = optarg; break;
        case 'h': home = optarg; break;
        case 't': o.threads = atoi(optarg); break;
        case 'k': o.credit = atoi(optarg); break;
        case 'q': o.rounds = 3, o.seq = 200, o.pipe = 2000; break;
        case 'R': o.rounds = atoi(optarg); break;
        case 'n': o.seq = atoi(optarg); break;
        case 'm': o.pipe = atoi(optarg); break;
        case 'w': o.window = atoi(optarg); break;
        case 'B': snprintf(o.build, sizeof o.build, "%s", optarg); break;
        case 's': skip_rss = true; break;
        default: return s_print_usage(argv[0]);
        }
    }
    if (role && strcmp(role, "raw-echo") == 0 && bind)
        return s_raw_echo(bind);
    if (role && strcmp(role, "echo-worker") == 0 && gateway)
        return s_echo_worker(gateway, home, o.threads, o.credit);
    if (role || o.rounds < 1 || o.rounds > BENCH_MAX_ROUNDS || o.seq < 1 || o.pipe < 1 ||
        o.window < 1 || o.threads < 1 || o.credit < 0 || o.credit > EN_MDP_CREDIT_MAX)
        return s_print_usage(argv[0]);

    // roles are this same executable; the services sit in the build tree
    // two levels up from build/bench/bench-bus
    ssize_t n = readlink("/proc/self/exe", o.self, sizeof o.self - 1);
    if (n <= 0)
        return 2;
    o.self[n] = '\0';
    if (!o.build[0]) {
        char tmp[PATH_MAX];
        snprintf(tmp, sizeof tmp, "%s", o.self);
        snprintf(o.build, sizeof o.build, "%s", dirname(dirname(tmp)));
    }
    signal(SIGPIPE, SIG_IGN);
    int failures = 0;
    printf("bench-bus: build %s\n", o.build);
    fflush(stdout); // before any fork
    if (!skip_rss && s_idle_memory(&o, &failures))
        return 2;
    if (s_overhead(&o, &failures))
        return 2;
    printf("\n%s\n", failures ? "some targets FAIL" : "all targets PASS");
    return failures ? 1 : 0;
}
