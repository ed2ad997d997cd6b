/*  bench_fanout.c — StartInstances of 1,000 machines fanned out by the
    gateway (issue 3), then OpenPortsMany on all of them (issue 4): how close the batch comes to the cloud's own limit,
    and what the service processes cost in memory meanwhile.

    The real processes run on loopback TCP, started from the build tree as
    bench-bus starts them (fleet.h): the gateway, the registry (--threads
    2) and --replicas broker replicas of --threads threads each, one lane
    each by default (one 7/MDP connection per thread: the gateway hands a
    request to the worker connection idle longest, and while a thread holds
    a 50 ms call its spare lanes are just those, so with several lanes
    requests queue behind busy threads; --lanes shows it). A model is opened on the embedded
    sim cloud through the public API; the bench then sets the cloud's knobs
    through the operator's console on the same database file the broker
    opens: latency_ms (every API call sleeps that long) and max_concurrent
    (more calls at once are refused "request limit exceeded").

    One StartInstances call carries --count items (machine ids 0..count-1,
    a nonce each). The gateway learns the limit from the broker and keeps
    that many StartInstance calls in flight; each costs one cloud call, the
    create, once a broker thread's caches are warm. The ideal wall time is
    therefore count / limit x latency; efficiency is ideal / measured. While
    the call runs, the VmRSS of every process is sampled every 20 ms, with
    each process's CPU time over the call (from /proc). Summing VmRSS counts
    the shared libraries every service maps (libc, libstdc++, libzmq: most
    of an idle service's VmRSS) once per process, so the memory target is
    on the unique resident memory of the service processes together, each
    physical page once (fleet_unique_kb, from their page tables in
    /proc/<pid>/pagemap), sampled every 10th tick because one probe of the
    five processes (three with 32 threads) takes ~5-7 ms, up to ~15 ms
    while the batch runs. Its peak is reported next to the peak VmRSS sum;
    without root the frames are hidden and the target falls back to the
    VmRSS sum, and the output says so. Afterwards the cloud's counters say
    how many create calls were made (count, unless an item was retried),
    the most calls ever in flight, and how the instances spread over the
    zones.

    The model is in firewall-mode instance (the default), so the batch also
    makes every machine's security group before its instance (the
    firewaller's EnsureGroups, fanned out in chunks in the same window):
    the job is then count creates plus count + 1 group creations, and the
    ideal counts both.

    Then, in the same run and on the same fleet (issue 4): one OpenPortsMany
    opening one rule (80/tcp) on every machine just started, fanned out by
    the gateway as one firewaller OpenInstancePorts per machine in the same
    window. Its ideal is count / limit x latency, one cloud call per
    machine (the firewaller's guarded instance_rules); the cloud's
    counters say how many calls each item really made, and the console
    checks that every machine's group holds the rule once.

    Then (issue 5): one AllocateContainerAddressesMany asking a static
    address for one container on every machine (machine-<i>-lxd-0, eth0),
    fanned out as one networking AllocateContainerAddresses per container
    in the same window, each one cloud call; the console then checks one
    container NIC per container and no address held twice. --no-alloc
    skips it.

    Targets: efficiency >= 80 % for each call, peak unique resident memory
    of the service processes <= 80 MB during StartInstances, every item
    done. Exit status: 0 when every target passes, 1 when one fails,
    2 when the benchmark could not run. */
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
#include "common/fwgroup.h"
#include "environ.pb-c.h"
#include "fleet.h"
#include "providers/sim/sim_cloud.h"

#define BENCH_CALL_MS 300000 // deadline of the batch call
#define BENCH_CONTROLLER "c0ffee00-0000-4000-8000-0000000fa40c"
#define BENCH_SAMPLE_MS 20
#define BENCH_UNIQUE_EVERY 10 // VmRSS samples per unique resident one (~5-15 ms each)
#define BENCH_CLOUD "fanout-shm"
#define BENCH_MAX_PROCS 16

//  Targets (issue 3).
#define TARGET_EFFICIENCY 0.80
#define TARGET_RSS_KB (80 * 1024)

typedef struct {
    int count;    // machines in the batch
    int latency;  // sim latency_ms
    int limit;    // sim max_concurrent
    int replicas; // broker replicas (and firewaller replicas)
    int threads;  // threads per broker (and firewaller) replica
    int lanes;    // 7/MDP connections per broker thread
    bool keep;    // keep the home (logs) even on success
    bool disk;    // the sim's database in the home, not on tmpfs
    bool no_alloc; // skip the container address phase
    char mode[16]; // the model's firewall-mode: instance (default), global, none
    char build[PATH_MAX];
} bench_opts_t;

static const char *
s_verdict(bool ok)
{
    return ok ? "PASS" : "FAIL";
}

static pid_t
s_spawn_service(fleet_t *fleet, const bench_opts_t *o, const char *service, const char *gw,
                int replica, int threads, int lanes)
{
    char bin[PATH_MAX + 64], name[48], rep[16], thr[16], ln[16];
    snprintf(bin, sizeof bin, "%s/services/%s/environs-%s", o->build, service, service);
    snprintf(name, sizeof name, "%s-%d", service, replica);
    snprintf(rep, sizeof rep, "%d", replica);
    snprintf(thr, sizeof thr, "%d", threads);
    snprintf(ln, sizeof ln, "%d", lanes);
    char *argv[] = {bin,         "--gateway", (char *)gw, "--home", (char *)fleet_home(fleet),
                    "--threads", thr,         "--lanes",  ln,       "--replica",
                    rep,         NULL};
    return fleet_spawn(fleet, name, argv);
}

static int
s_wait_service(en_client_t *client, const char *service, int timeout_ms)
{
    int64_t until = en_mono_ms() + timeout_ms;
    while (en_mono_ms() < until)
        if (en_client_service_present(client, service, 250) == 0)
            return 0;
    return -1;
}

//  A sim cloud whose database is `db` (the endpoint of a sim cloud names
//  its database file), with the region the embedded cloud seeds.
static int
s_add_cloud(en_client_t *client, const char *db)
{
    En__AddCloudRequest req = EN__ADD_CLOUD_REQUEST__INIT;
    En__Cloud cloud = EN__CLOUD__INIT;
    En__Region region = EN__REGION__INIT;
    En__Region *regions[] = {&region};
    char *auth[] = {"empty"};
    cloud.name = BENCH_CLOUD;
    cloud.type = "sim";
    cloud.endpoint = (char *)db;
    cloud.auth_types = auth;
    cloud.n_auth_types = 1;
    region.name = "sim-east";
    cloud.regions = regions;
    cloud.n_regions = 1;
    req.cloud = &cloud;
    ProtobufCMessage *res = NULL;
    en_err_t err;
    if (en_client_call(client, EN_PUBLIC_SERVICE, "AddCloud", NULL, &req.base,
                       &en__add_cloud_result__descriptor, &res, 20000, &err)) {
        fprintf(stderr, "bench: AddCloud: %s\n", err.message);
        return -1;
    }
    protobuf_c_message_free_unpacked(res, NULL);
    return 0;
}

//  The cloud's database and its WAL files, and their directory.
static void
s_remove_shm(const char *dir)
{
    const char *files[] = {"sim.db", "sim.db-wal", "sim.db-shm"};
    char path[128];
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        unlink(path);
    }
    rmdir(dir);
}

//  Open a model on `cloud`; its uuid into uuid.
static int
s_open_model(en_client_t *client, const char *cloud_name, const char *mode, char *uuid,
             size_t size)
{
    En__OpenRequest req = EN__OPEN_REQUEST__INIT;
    En__ConfigAttrs cfg = EN__CONFIG_ATTRS__INIT;
    char json[64];
    snprintf(json, sizeof json, "{\"firewall-mode\": \"%s\"}", mode);
    cfg.json = json;
    req.name = "fanout";
    req.cloud_name = (char *)cloud_name;
    req.config = &cfg;
    ProtobufCMessage *res = NULL;
    en_err_t err;
    if (en_client_call(client, EN_PUBLIC_SERVICE, "Open", NULL, &req.base,
                       &en__open_result__descriptor, &res, 20000, &err)) {
        fprintf(stderr, "bench: Open: %s\n", err.message);
        return -1;
    }
    snprintf(uuid, size, "%s", ((En__OpenResult *)res)->model->uuid);
    protobuf_c_message_free_unpacked(res, NULL);
    return 0;
}

typedef struct {
    long peak_sum;              // kB, the largest summed sample
    long peak[BENCH_MAX_PROCS]; // kB, per process
    long peak_unique;           // kB, the largest unique resident sample; -1: not readable
    fleet_usage_t before[BENCH_MAX_PROCS], after[BENCH_MAX_PROCS];
    int samples;
    int unique_samples;
    double unique_ms, unique_max_ms; // the time the unique probes took, total and longest
} probe_t;

static double
s_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

//  The VmRSS of every process, and every BENCH_UNIQUE_EVERY samples the
//  unique resident memory of them all (fleet_unique_kb), which reads their
//  page tables and takes longer.
static int
s_sample(fleet_t *fleet, probe_t *p)
{
    long sum = 0;
    for (size_t i = 0; i < fleet_size(fleet) && i < BENCH_MAX_PROCS; i++) {
        long kb = fleet_rss_kb(fleet_pid(fleet, i));
        if (kb < 0) {
            fprintf(stderr, "bench: %s is gone\n", fleet_name(fleet, i));
            return -1;
        }
        sum += kb;
        p->peak[i] = kb > p->peak[i] ? kb : p->peak[i];
    }
    p->peak_sum = sum > p->peak_sum ? sum : p->peak_sum;
    if (p->samples++ % BENCH_UNIQUE_EVERY == 0 && p->peak_unique >= 0) {
        double t0 = s_now_ms();
        long kb = fleet_unique_kb_all(fleet, NULL);
        double ms = s_now_ms() - t0;
        p->peak_unique = kb < 0 ? -1 : kb > p->peak_unique ? kb : p->peak_unique;
        p->unique_samples++;
        p->unique_ms += ms;
        p->unique_max_ms = ms > p->unique_max_ms ? ms : p->unique_max_ms;
    }
    return 0;
}

//  The batch request: machine i has id "i" and nonce "bench-i".
static En__StartInstancesRequest *
s_batch_new(int count)
{
    En__StartInstancesRequest *req = calloc(1, sizeof *req);
    en__start_instances_request__init(req);
    req->params = calloc((size_t)count, sizeof(En__StartInstanceParams *));
    req->n_params = (size_t)count;
    for (int i = 0; i < count; i++) {
        En__StartInstanceParams *p = calloc(1, sizeof *p);
        en__start_instance_params__init(p);
        if (asprintf(&p->machine_id, "%d", i) < 0 || asprintf(&p->machine_nonce, "bench-%d", i) < 0)
            abort();
        p->controller_uuid = BENCH_CONTROLLER;
        req->params[i] = p;
    }
    return req;
}

static void
s_batch_free(En__StartInstancesRequest *req)
{
    for (size_t i = 0; i < req->n_params; i++) {
        free(req->params[i]->machine_id);
        free(req->params[i]->machine_nonce);
        free(req->params[i]);
    }
    free(req->params);
    free(req);
}

//  Instances of the model per zone, as the cloud has them.
static void
s_print_spread(en_sim_cloud_t *sim, const char *model)
{
    en_sim_tag_t f = {"juju-model-uuid", model};
    en_sim_instance_t *insts = NULL;
    size_t n = 0;
    en_err_t err;
    if (en_sim_cloud_list(sim, "sim-east", &f, 1, false, &insts, &n, &err)) {
        fprintf(stderr, "bench: list: %s\n", err.message);
        return;
    }
    const char *zones[8];
    size_t counts[8] = {0}, nz = 0;
    for (size_t i = 0; i < n; i++) {
        size_t z = 0;
        while (z < nz && strcmp(zones[z], insts[i].zone) != 0)
            z++;
        if (z == nz && nz < 8)
            zones[nz++] = insts[i].zone;
        if (z < nz)
            counts[z]++;
    }
    printf("instances per zone: ");
    for (size_t z = 0; z < nz; z++)
        printf("%s%s %zu", z ? ", " : "", zones[z], counts[z]);
    printf("  (%zu live)\n", n);
    en_sim_instances_free(&insts, n);
}

//  One public call on `model`, sampling the fleet's memory while it runs;
//  its decoded result (free_unpacked) and wall time, or NULL.
static ProtobufCMessage *
s_timed_call(fleet_t *fleet, en_client_t *client, const char *model, const char *method,
             const ProtobufCMessage *req, const ProtobufCMessageDescriptor *rd, probe_t *probe,
             int64_t *wall)
{
    size_t nproc = fleet_size(fleet) < BENCH_MAX_PROCS ? fleet_size(fleet) : BENCH_MAX_PROCS;
    for (size_t i = 0; i < nproc; i++)
        probe->before[i] = fleet_usage(fleet_pid(fleet, i));
    int64_t t0 = en_mono_ms();
    char id[33];
    en_err_t err;
    if (en_client_start(client, EN_PUBLIC_SERVICE, method, model, req,
                        en_now_ms() + BENCH_CALL_MS, NULL, NULL, id, &err)) {
        fprintf(stderr, "bench: %s: %s\n", method, err.message);
        return NULL;
    }
    en_result_t r;
    bool answered = false;
    while (!answered) {
        if (en_client_wait(client, BENCH_SAMPLE_MS, &r) == 0) {
            answered = strcmp(r.request_id, id) == 0;
            if (!answered)
                en_result_clear(&r);
        } else if (en_mono_ms() - t0 > BENCH_CALL_MS + 5000)
            break;
        if (!answered && s_sample(fleet, probe))
            return NULL;
    }
    *wall = en_mono_ms() - t0;
    for (size_t i = 0; i < nproc; i++)
        probe->after[i] = fleet_usage(fleet_pid(fleet, i));
    if (!answered || r.err.kind != EN_OK) {
        fprintf(stderr, "bench: %s: %s\n", method,
                answered ? r.err.message : "no answer before the deadline");
        if (answered)
            en_result_clear(&r);
        return NULL;
    }
    ProtobufCMessage *res = protobuf_c_message_unpack(rd, NULL, r.size, r.body);
    en_result_clear(&r);
    if (!res)
        fprintf(stderr, "bench: %s: the result does not decode\n", method);
    return res;
}

//  Machines whose own group holds exactly one 80/tcp rule.
static size_t
s_groups_with_rule(en_sim_cloud_t *sim, const char *model, size_t *twice)
{
    en_sim_group_t *groups = NULL;
    size_t n = 0, once = 0;
    en_err_t err;
    *twice = 0;
    if (en_sim_cloud_groups(sim, "sim-east", &groups, &n, &err)) {
        fprintf(stderr, "bench: groups: %s\n", err.message);
        return 0;
    }
    char prefix[EN_FW_GROUP_MAX + 1];
    en_fw_group_model(model, prefix);
    strcat(prefix, "-");
    for (size_t i = 0; i < n; i++) {
        if (strncmp(groups[i].name, prefix, strlen(prefix)) != 0)
            continue;
        size_t hits = 0;
        for (size_t k = 0; k < groups[i].rule_count; k++) {
            char text[128];
            en_ingress_rule_format(&groups[i].rules[k], text, sizeof text);
            hits += strcmp(text, "80/tcp") == 0;
        }
        once += hits == 1;
        *twice += hits > 1;
    }
    en_sim_groups_free(&groups, n);
    return once;
}

//  The memory line of a later phase: its peak, checked against the same
//  target (the services keep what the earlier phases grew).
static bool
s_memory_line(const probe_t *probe, size_t nproc)
{
    if (probe->peak_unique < 0) {
        printf("memory      %.1f MB peak VmRSS summed over %zu processes (not root: no unique "
               "resident figure)\n",
               probe->peak_sum / 1024.0, nproc);
        return probe->peak_sum <= TARGET_RSS_KB;
    }
    bool ok = probe->peak_unique <= TARGET_RSS_KB;
    printf("memory      %.1f MB peak unique resident of the %zu service processes (peak VmRSS "
           "summed: %.1f MB)  (target <= %d MB)  %s\n",
           probe->peak_unique / 1024.0, nproc, probe->peak_sum / 1024.0, TARGET_RSS_KB / 1024,
           s_verdict(ok));
    return ok;
}

//  Issue 4: OpenPortsMany of one rule on every machine `started` gave.
static int
s_open_many(const bench_opts_t *o, fleet_t *fleet, en_client_t *client, en_sim_cloud_t *sim,
            const char *model, const En__StartInstancesResult *started, int *failures)
{
    En__PortRange range = EN__PORT_RANGE__INIT;
    range.from_port = 80;
    range.to_port = 80;
    range.protocol = "tcp";
    En__IngressRule rule = EN__INGRESS_RULE__INIT;
    rule.port_range = &range;
    En__IngressRule *rules[] = {&rule};
    size_t n = 0;
    En__InstancePortsItem *items = calloc(started->n_items + 1, sizeof *items);
    En__InstancePortsItem **ptrs = calloc(started->n_items + 1, sizeof *ptrs);
    for (size_t i = 0; i < started->n_items; i++) {
        const En__StartInstanceResult *one = started->items[i]->result;
        if (!one || !one->instance)
            continue;
        en__instance_ports_item__init(&items[n]);
        items[n].instance_id = one->instance->id;
        char *machine = NULL;
        for (size_t t = 0; t < one->instance->n_tags; t++)
            if (strcmp(one->instance->tags[t]->key, "juju-machine-id") == 0)
                machine = one->instance->tags[t]->value;
        items[n].machine_id = machine;
        items[n].rules = rules;
        items[n].n_rules = 1;
        ptrs[n] = &items[n];
        n++;
    }
    En__OpenPortsManyRequest req = EN__OPEN_PORTS_MANY_REQUEST__INIT;
    req.items = ptrs;
    req.n_items = n;
    en_err_t err;
    en_sim_cloud_reset_counters(sim, &err);
    probe_t probe = {0};
    size_t nproc = fleet_size(fleet) < BENCH_MAX_PROCS ? fleet_size(fleet) : BENCH_MAX_PROCS;
    int64_t wall = 0;
    printf("\n--- OpenPortsMany: 80/tcp on %zu machines in one call (issue 4) ---\n", n);
    En__OpenPortsManyResult *res = (En__OpenPortsManyResult *)s_timed_call(
        fleet, client, model, "OpenPortsMany", &req.base, &en__open_ports_many_result__descriptor,
        &probe, &wall);
    free(ptrs);
    free(items);
    if (!res)
        return -1;
    size_t ok = 0;
    const char *first_error = NULL;
    for (size_t i = 0; i < res->n_items; i++) {
        if (!res->items[i]->error || res->items[i]->error->kind == EN__ERROR_KIND__OK)
            ok++;
        else if (!first_error)
            first_error = res->items[i]->error->message;
    }
    printf("items opened: %zu of %zu%s%s\n", ok, n, first_error ? "; first error: " : "",
           first_error ? first_error : "");
    int in_flight = 0, peak = 0;
    en_sim_cloud_in_flight(sim, &in_flight, &peak, &err);
    // every method an OpenInstancePorts may call, its guarded call first
    const char *methods[] = {"instance_rules", "describe", "rules",
                             "authorize",      "revoke",   "ensure_group"};
    enum { NMETHODS = sizeof methods / sizeof methods[0] };
    long long calls[NMETHODS], all_calls = 0;
    printf("cloud calls:");
    for (size_t m = 0; m < NMETHODS; m++) {
        all_calls += calls[m] = (long long)en_sim_cloud_call_count(sim, methods[m], &err);
        printf("%s %s %lld", m ? "," : "", methods[m], calls[m]);
    }
    printf(" (%.2f per machine); most in flight %d (limit %d)\n",
           n ? (double)all_calls / (double)n : 0.0, peak, o->limit);
    size_t twice = 0, once = s_groups_with_rule(sim, model, &twice);
    printf("groups holding the rule exactly once: %zu of %zu (%zu more than once)\n", once, n,
           twice);
    printf("\n| process      | CPU during the call (ms) |\n");
    printf("|--------------|-------------------------:|\n");
    for (size_t i = 0; i < nproc; i++)
        printf("| %-12s | %24.0f |\n", fleet_name(fleet, i),
               (probe.after[i].cpu_us - probe.before[i].cpu_us) / 1000.0);
    double ideal = (double)n / o->limit * o->latency;
    double eff = ideal / (double)wall;
    double per_call = all_calls ? (double)all_calls / o->limit * o->latency / (double)wall : 0;
    printf("\nwall time   %lld ms\n", (long long)wall);
    printf("ideal       %.1f ms  (%zu / %d x %d ms: one cloud call per machine)\n", ideal, n,
           o->limit, o->latency);
    bool eff_ok = eff >= TARGET_EFFICIENCY;
    printf("efficiency  %.1f %%  (target >= %.0f %%)  %s\n", eff * 100, TARGET_EFFICIENCY * 100,
           s_verdict(eff_ok));
    printf("            %.1f %% of the ideal for the %lld cloud calls actually made\n",
           per_call * 100, all_calls);
    bool all_ok = ok == n && n == (size_t)o->count && once == n && twice == 0;
    printf("items       %s\n", s_verdict(all_ok));
    bool mem_ok = s_memory_line(&probe, nproc);
    *failures += !eff_ok + !all_ok + !mem_ok;
    en__open_ports_many_result__free_unpacked(res, NULL);
    return 0;
}

//  Issue 5: one AllocateContainerAddressesMany for a container on each
//  machine `started` gave (machine-<id>-lxd-0, one eth0), fanned out by the
//  gateway as one networking AllocateContainerAddresses per container,
//  each one cloud call (allocate_container_addresses). Ideal: count /
//  limit x latency. Afterwards the cloud's console must show exactly one
//  container NIC per container and no address twice.
static int
s_alloc_many(const bench_opts_t *o, fleet_t *fleet, en_client_t *client, en_sim_cloud_t *sim,
             const char *model, const En__StartInstancesResult *started, int *failures)
{
    size_t n = 0;
    En__AllocateContainerAddressesItem *items = calloc(started->n_items + 1, sizeof *items);
    En__AllocateContainerAddressesItem **ptrs = calloc(started->n_items + 1, sizeof *ptrs);
    char (*tags)[48] = calloc(started->n_items + 1, sizeof *tags);
    En__InterfaceInfo eth0 = EN__INTERFACE_INFO__INIT;
    eth0.interface_name = "eth0";
    eth0.config_type = "static";
    En__InterfaceInfo *prepared[] = {&eth0};
    for (size_t i = 0; i < started->n_items; i++) {
        const En__StartInstanceResult *one = started->items[i]->result;
        if (!one || !one->instance)
            continue;
        en__allocate_container_addresses_item__init(&items[n]);
        items[n].host_instance_id = one->instance->id;
        snprintf(tags[n], sizeof tags[n], "machine-%zu-lxd-0", i);
        items[n].container_tag = tags[n];
        items[n].prepared = prepared;
        items[n].n_prepared = 1;
        ptrs[n] = &items[n];
        n++;
    }
    En__AllocateContainerAddressesManyRequest req =
        EN__ALLOCATE_CONTAINER_ADDRESSES_MANY_REQUEST__INIT;
    req.items = ptrs;
    req.n_items = n;
    en_err_t err;
    en_sim_cloud_reset_counters(sim, &err);
    probe_t probe = {0};
    size_t nproc = fleet_size(fleet) < BENCH_MAX_PROCS ? fleet_size(fleet) : BENCH_MAX_PROCS;
    int64_t wall = 0;
    printf("\n--- AllocateContainerAddressesMany: a container address on each of %zu machines in "
           "one call (issue 5) ---\n",
           n);
    En__AllocateContainerAddressesManyResult *res =
        (En__AllocateContainerAddressesManyResult *)s_timed_call(
            fleet, client, model, "AllocateContainerAddressesMany", &req.base,
            &en__allocate_container_addresses_many_result__descriptor, &probe, &wall);
    free(ptrs);
    free(items);
    free(tags);
    if (!res)
        return -1;
    size_t ok = 0;
    const char *first_error = NULL;
    for (size_t i = 0; i < res->n_items; i++) {
        if (!res->items[i]->error || res->items[i]->error->kind == EN__ERROR_KIND__OK)
            ok += res->items[i]->n_interfaces == 1;
        else if (!first_error)
            first_error = res->items[i]->error->message;
    }
    printf("items allocated: %zu of %zu%s%s\n", ok, n, first_error ? "; first error: " : "",
           first_error ? first_error : "");
    int in_flight = 0, peak = 0;
    en_sim_cloud_in_flight(sim, &in_flight, &peak, &err);
    long long calls = (long long)en_sim_cloud_call_count(sim, "allocate_container_addresses", &err);
    printf("cloud calls: allocate_container_addresses %lld (%.2f per container); most in flight "
           "%d (limit %d)\n",
           calls, n ? (double)calls / (double)n : 0.0, peak, o->limit);
    en_sim_nic_t *nics = NULL;
    size_t nn = 0, dup = 0;
    if (en_sim_cloud_container_nics(sim, "sim-east", &nics, &nn, &err) == 0) {
        for (size_t i = 0; i < nn; i++)
            for (size_t k = i + 1; k < nn; k++)
                dup += strcmp(nics[i].address, nics[k].address) == 0;
        free(nics);
    }
    printf("container NICs in the cloud: %zu, addresses held twice: %zu\n", nn, dup);
    printf("\n| process      | CPU during the call (ms) |\n");
    printf("|--------------|-------------------------:|\n");
    for (size_t i = 0; i < nproc; i++)
        printf("| %-12s | %24.0f |\n", fleet_name(fleet, i),
               (probe.after[i].cpu_us - probe.before[i].cpu_us) / 1000.0);
    double ideal = (double)n / o->limit * o->latency;
    double eff = ideal / (double)wall;
    printf("\nwall time   %lld ms  (%.0f allocations/s)\n", (long long)wall,
           wall ? (double)n * 1000.0 / (double)wall : 0.0);
    printf("ideal       %.1f ms  (%zu / %d x %d ms: one cloud call per container)\n", ideal, n,
           o->limit, o->latency);
    bool eff_ok = eff >= TARGET_EFFICIENCY;
    printf("efficiency  %.1f %%  (target >= %.0f %%)  %s\n", eff * 100, TARGET_EFFICIENCY * 100,
           s_verdict(eff_ok));
    bool all_ok = ok == n && n == (size_t)o->count && nn == n && dup == 0;
    printf("items       %s\n", s_verdict(all_ok));
    bool mem_ok = s_memory_line(&probe, nproc);
    *failures += !eff_ok + !all_ok + !mem_ok;
    en__allocate_container_addresses_many_result__free_unpacked(res, NULL);
    return 0;
}

static int
s_run(const bench_opts_t *o, int *failures)
{
    fleet_t *fleet = fleet_new();
    if (!fleet)
        return -1;
    int rc = -1;
    en_client_t *client = NULL;
    en_sim_cloud_t *sim = NULL;
    En__StartInstancesRequest *req = NULL;
    char gw[64], model[64], path[PATH_MAX], shm[64] = "";
    int port = fleet_free_ports(3);
    snprintf(gw, sizeof gw, "tcp://127.0.0.1:%d", port);
    char gw_bin[PATH_MAX + 64];
    snprintf(gw_bin, sizeof gw_bin, "%s/services/gateway/environs-gateway", o->build);
    char *gw_argv[] = {gw_bin, "--bind", gw, "--home", (char *)fleet_home(fleet), NULL};
    if (port < 0 || fleet_spawn(fleet, "gateway", gw_argv) < 0 ||
        s_spawn_service(fleet, o, "registry", gw, 0, 2, 1) < 0)
        goto cleanup;
    for (int r = 0; r < o->replicas; r++)
        if (s_spawn_service(fleet, o, "broker", gw, r, o->threads, o->lanes) < 0 ||
            s_spawn_service(fleet, o, "firewaller", gw, r, o->threads, o->lanes) < 0 ||
            s_spawn_service(fleet, o, "networking", gw, r, o->threads, o->lanes) < 0)
            goto cleanup;
    en_err_t err;
    client = en_client_new(gw, &err);
    if (!client || s_wait_service(client, "registry", 20000) ||
        s_wait_service(client, "broker", 20000) || s_wait_service(client, "firewaller", 20000) ||
        s_wait_service(client, "networking", 20000)) {
        fprintf(stderr, "bench: the gateway never saw a registry, a broker, a firewaller and a "
                        "networking service\n");
        goto cleanup;
    }
    if (o->disk) {
        // the embedded cloud "sim": its database in the home (sim_compute.c)
        snprintf(path, sizeof path, "%s/sim", fleet_home(fleet));
        mkdir(path, 0700);
        snprintf(path, sizeof path, "%s/sim/sim.db", fleet_home(fleet));
    } else {
        snprintf(shm, sizeof shm, "/dev/shm/environs-fanout-%d", (int)getpid());
        snprintf(path, sizeof path, "%s/sim.db", shm);
        if (mkdir(shm, 0700) != 0 || s_add_cloud(client, path))
            goto cleanup;
    }
    if (s_open_model(client, o->disk ? "sim" : BENCH_CLOUD, o->mode, model, sizeof model))
        goto cleanup;
    sim = en_sim_cloud_open(path, &err);
    char knobs[128];
    snprintf(knobs, sizeof knobs, "{\"latency_ms\": %d, \"max_concurrent\": %d}", o->latency,
             o->limit);
    if (!sim || en_sim_cloud_configure_json(sim, knobs, &err) ||
        en_sim_cloud_reset_counters(sim, &err)) {
        fprintf(stderr, "bench: sim cloud: %s\n", err.message);
        goto cleanup;
    }
    req = s_batch_new(o->count);
    probe_t probe = {0};
    size_t nproc = fleet_size(fleet) < BENCH_MAX_PROCS ? fleet_size(fleet) : BENCH_MAX_PROCS;
    if (s_sample(fleet, &probe))
        goto cleanup;
    long idle_sum = probe.peak_sum, idle_unique = probe.peak_unique;

    int64_t wall = 0;
    En__StartInstancesResult *res = (En__StartInstancesResult *)s_timed_call(
        fleet, client, model, "StartInstances", &req->base,
        &en__start_instances_result__descriptor, &probe, &wall);
    if (!res)
        goto cleanup;
    size_t ok = 0;
    const char *first_error = NULL;
    for (size_t i = 0; res && i < res->n_items; i++) {
        if (res->items[i]->result)
            ok++;
        else if (!first_error && res->items[i]->error)
            first_error = res->items[i]->error->message;
    }
    printf("items started: %zu of %d%s%s\n", ok, o->count, first_error ? "; first error: " : "",
           first_error ? first_error : "");
    int in_flight = 0, peak = 0;
    en_sim_cloud_in_flight(sim, &in_flight, &peak, &err);
    printf("cloud calls: create %lld, ensure_group %lld, zones %lld, list %lld, describe %lld; "
           "most in flight %d (limit %d)\n",
           (long long)en_sim_cloud_call_count(sim, "create", &err),
           (long long)en_sim_cloud_call_count(sim, "ensure_group", &err),
           (long long)en_sim_cloud_call_count(sim, "zones", &err),
           (long long)en_sim_cloud_call_count(sim, "list", &err),
           (long long)en_sim_cloud_call_count(sim, "describe", &err), peak, o->limit);
    s_print_spread(sim, model);

    // the job: a create per machine, plus the groups its firewall-mode
    // needs: each machine's and the model's (instance), the model's and the
    // global one (global), none (none)
    int needed = strcmp(o->mode, "instance") == 0 ? 2 * o->count + 1
                 : strcmp(o->mode, "global") == 0 ? o->count + 2
                                                  : o->count;
    double ideal = (double)needed / o->limit * o->latency;
    double eff = ideal / (double)wall;
    printf("\n| process      | peak RSS (kB) | CPU during the call (ms) |\n");
    printf("|--------------|--------------:|-------------------------:|\n");
    for (size_t i = 0; i < nproc; i++)
        printf("| %-12s | %13ld | %24.0f |\n", fleet_name(fleet, i), probe.peak[i],
               (probe.after[i].cpu_us - probe.before[i].cpu_us) / 1000.0);
    printf("\nwall time   %lld ms\n", (long long)wall);
    printf("ideal       %.1f ms  (%d cloud calls / %d x %d ms; the creates alone: %.1f ms)\n",
           ideal, needed, o->limit, o->latency, (double)o->count / o->limit * o->latency);
    bool eff_ok = eff >= TARGET_EFFICIENCY;
    printf("efficiency  %.1f %%  (target >= %.0f %%)  %s\n", eff * 100, TARGET_EFFICIENCY * 100,
           s_verdict(eff_ok));
    // the target is on what the processes take together, each page once
    bool rss_ok;
    if (probe.peak_unique >= 0) {
        rss_ok = probe.peak_unique <= TARGET_RSS_KB;
        printf("memory      %.1f MB peak unique resident of the %zu service processes (peak VmRSS "
               "summed: %.1f MB, shared libraries counted once per process; idle %.1f MB "
               "unique, %.1f MB summed)  (target <= %d MB)  %s\n",
               probe.peak_unique / 1024.0, nproc, probe.peak_sum / 1024.0, idle_unique / 1024.0,
               idle_sum / 1024.0, TARGET_RSS_KB / 1024, s_verdict(rss_ok));
        printf("            %d VmRSS samples every %d ms, %d unique resident ones (every %d): "
               "%.1f ms each, at most %.1f ms\n",
               probe.samples, BENCH_SAMPLE_MS, probe.unique_samples, BENCH_UNIQUE_EVERY,
               probe.unique_ms / probe.unique_samples, probe.unique_max_ms);
    } else {
        rss_ok = probe.peak_sum <= TARGET_RSS_KB;
        printf("memory      %.1f MB peak VmRSS summed over the %zu service processes, not root "
               "(each shared library counted once per process; unique resident needs "
               "CAP_SYS_ADMIN; %.1f MB idle, %d samples)  (target <= %d MB)  %s\n",
               probe.peak_sum / 1024.0, nproc, idle_sum / 1024.0, probe.samples,
               TARGET_RSS_KB / 1024, s_verdict(rss_ok));
    }
    bool all_ok = res && ok == (size_t)o->count;
    printf("items       %s\n", s_verdict(all_ok));
    *failures += !eff_ok + !rss_ok + !all_ok;
    // OpenPortsMany opens ports per instance: instance mode only
    rc = strcmp(o->mode, "instance") != 0 ? 0
                                          : s_open_many(o, fleet, client, sim, model, res, failures);
    if (rc == 0 && !o->no_alloc)
        rc = s_alloc_many(o, fleet, client, sim, model, res, failures);
    en__start_instances_result__free_unpacked(res, NULL);
cleanup:
    if (req)
        s_batch_free(req);
    en_sim_cloud_close(&sim);
    en_client_destroy(&client);
    if (*shm)
        s_remove_shm(shm);
    if (rc || o->keep)
        fleet_keep_home(fleet);
    fleet_destroy(&fleet);
    return rc;
}

static int
s_print_usage(const char *argv0)
{
    fprintf(stderr,
            "usage: %s [--count N] [--latency MS] [--limit L] [--replicas R] [--threads T]\n"
            "          [--lanes L] [--build DIR] [--keep] [--disk]\n"
            "          [--firewall-mode instance|global|none] [--no-alloc]\n",
            argv0);
    return 2;
}

int
main(int argc, char **argv)
{
    zsys_handler_set(NULL);
    bench_opts_t o = {
        .count = 1000, .latency = 50, .limit = 32, .replicas = 1, .threads = 32, .lanes = 1,
        .mode = "instance"};
    static const struct option longopts[] = {
        {"count", required_argument, NULL, 'n'},   {"latency", required_argument, NULL, 'l'},
        {"limit", required_argument, NULL, 'L'},   {"replicas", required_argument, NULL, 'r'},
        {"threads", required_argument, NULL, 't'}, {"build", required_argument, NULL, 'B'},
        {"keep", no_argument, NULL, 'k'},          {"disk", no_argument, NULL, 'd'},
        {"lanes", required_argument, NULL, 'a'},   {"firewall-mode", required_argument, NULL, 'm'},
        {"no-alloc", no_argument, NULL, 'A'},      {NULL, 0, NULL, 0}};
    for (int c; (c = getopt_long(argc, argv, "", longopts, NULL)) != -1;) {
        switch (c) {
        case 'n':
            o.count = atoi(optarg);
            break;
        case 'l':
            o.latency = atoi(optarg);
            break;
        case 'L':
            o.limit = atoi(optarg);
            break;
        case 'r':
            o.replicas = atoi(optarg);
            break;
        case 't':
            o.threads = atoi(optarg);
            break;
        case 'B':
            snprintf(o.build, sizeof o.build, "%s", optarg);
            break;
        case 'k':
            o.keep = true;
            break;
        case 'd':
            o.disk = true;
            break;
        case 'a':
            o.lanes = atoi(optarg);
            break;
        case 'A':
            o.no_alloc = true;
            break;
        case 'm':
            if (strcmp(optarg, "instance") && strcmp(optarg, "global") && strcmp(optarg, "none"))
                return s_print_usage(argv[0]);
            snprintf(o.mode, sizeof o.mode, "%s", optarg);
            break;
        default:
            return s_print_usage(argv[0]);
        }
    }
    if (o.count < 1 || o.latency < 1 || o.limit < 1 || o.replicas < 1 || o.replicas > 8 ||
        o.threads < 1 || o.lanes < 1 || o.lanes > 16)
        return s_print_usage(argv[0]);
    if (!o.build[0]) {
        // the services sit in the build tree two levels up from
        // build/bench/bench-fanout
        char self[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
        if (n <= 0)
            return 2;
        self[n] = '\0';
        snprintf(o.build, sizeof o.build, "%s", dirname(dirname(self)));
    }
    signal(SIGPIPE, SIG_IGN);
    printf("bench-fanout: build %s; StartInstances, OpenPortsMany and "
           "AllocateContainerAddressesMany of %d, sim latency %d ms, limit %d; %d broker, "
           "firewaller and networking replica(s) x %d thread(s) x %d lane(s); the "
           "cloud's database on %s\n",
           o.build, o.count, o.latency, o.limit, o.replicas, o.threads, o.lanes,
           o.disk ? "disk (the home)" : "tmpfs (/dev/shm)");
    fflush(stdout); // before any fork
    int failures = 0;
    if (s_run(&o, &failures))
        return 2;
    printf("\n%s\n", failures ? "some targets FAIL" : "all targets PASS");
    return failures ? 1 : 0;
}
