/*  bus_fixture.c — see bus_fixture.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bus/envelope.h"
#include "bus/mdp.h"
#include "bus/worker.h"
#include "environ.pb-c.h"
#include "service/bus_fixture.h"

//  --------------------------------------------------------------------------
//  The test service

void
bx_harness_init(bx_harness_t *h, const char *tag)
{
    *h = (bx_harness_t){.tag = tag, .notify_fd = -1, .go_fd = -1};
    pthread_mutex_init(&h->lock, NULL);
    pthread_cond_init(&h->cond, NULL);
}

void
bx_harness_fini(bx_harness_t *h)
{
    pthread_mutex_destroy(&h->lock);
    pthread_cond_destroy(&h->cond);
}

int
bx_harness_calls(bx_harness_t *h)
{
    pthread_mutex_lock(&h->lock);
    int calls = h->calls;
    pthread_mutex_unlock(&h->lock);
    return calls;
}

//  Wait until `n` Provider calls are blocked in the handler.
bool
bx_harness_wait_blocked(bx_harness_t *h, int n, int timeout_ms)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += timeout_ms / 1000;
    until.tv_nsec += (long) (timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&h->lock);
    int rc = 0;
    while (h->blocked < n && rc == 0)
        rc = pthread_cond_timedwait(&h->cond, &h->lock, &until);
    bool ok = h->blocked >= n;
    pthread_mutex_unlock(&h->lock);
    return ok;
}

void
bx_harness_release(bx_harness_t *h)
{
    pthread_mutex_lock(&h->lock);
    h->release = true;
    pthread_cond_broadcast(&h->cond);
    pthread_mutex_unlock(&h->lock);
}

static int
s_registered_providers(en_call_t *call, const ProtobufCMessage *req, ProtobufCMessage *res_,
                       en_err_t *err)
{
    (void) req;
    (void) err;
    bx_harness_t *h = call->service;
    En__RegisteredProvidersResult *res = (En__RegisteredProvidersResult *) res_;
    res->n_names = 1;
    res->names = en_arena_array(call->arena, 1, sizeof(char *));
    res->names[0] = en_arena_strdup(call->arena, h->tag);
    return 0;
}

static int
s_provider(en_call_t *call, const ProtobufCMessage *req_, ProtobufCMessage *res_, en_err_t *err)
{
    bx_harness_t *h = call->service;
    const En__ProviderRequest *req = (const En__ProviderRequest *) req_;
    En__ProviderResult *res = (En__ProviderResult *) res_;
    pthread_mutex_lock(&h->lock);
    h->calls++;
    if (h->block_calls > 0) {
        h->block_calls--;
        h->blocked++;
        pthread_cond_broadcast(&h->cond);
        while (!h->release)
            pthread_cond_wait(&h->cond, &h->lock);
        h->blocked--;
    }
    pthread_mutex_unlock(&h->lock);
    if (h->notify_fd >= 0 && write(h->notify_fd, "s", 1) < 0)
        return en_err_set(err, EN_INTERNAL, "notify: %s", strerror(errno));
    while (h->stuck)
        pause(); // until SIGKILL
    char go;
    if (h->go_fd >= 0 && read(h->go_fd, &go, 1) != 1)
        return en_err_set(err, EN_INTERNAL, "go pipe closed");
    if (strcmp(req->type, "missing") == 0)
        return en_err_set(err, EN_NOT_FOUND, "no registered provider for \"%s\"", req->type);
    En__ProviderInfo *info = en_arena_alloc(call->arena, sizeof *info);
    en__provider_info__init(info);
    info->name = en_arena_printf(call->arena, "%s:%s", h->tag, req->type);
    res->provider = info;
    return 0;
}

static const en_route_t s_routes[] = {
    {&en__environ__descriptor, "RegisteredProviders", s_registered_providers, 0},
    {&en__environ__descriptor, "Provider", s_provider, 0},
};

en_service_def_t
bx_def(const char *name, bx_harness_t *h)
{
    return (en_service_def_t){.name = name, .routes = s_routes, .route_count = 2, .service = h};
}

//  --------------------------------------------------------------------------
//  A worker thread: a dispatcher behind an en_worker_t, as one thread of
//  en_service_run, but stopped by zactor_destroy.

void
bx_worker_actor(zsock_t *pipe, void *arg)
{
    bx_worker_spec_t *spec = arg;
    en_err_t err;
    en_dispatcher_t *d = en_dispatcher_new(&spec->def, &err);
    en_worker_config_t config = {spec->gateways, spec->def.name, spec->credit};
    en_worker_t *worker = en_worker_new(&config, &err);
    if (!d || !worker)
        abort(); // no cmocka asserts off the main thread
    zsock_t *jobs = en_worker_pipe(worker);
    zpoller_t *poller = zpoller_new(pipe, jobs, NULL);
    zsock_signal(pipe, 0);
    while (zpoller_wait(poller, -1) == jobs && en_dispatcher_serve(d, jobs) == 0)
        ;
    zpoller_destroy(&poller);
    en_worker_destroy(&worker); // says DISCONNECT: a polite goodbye
    en_dispatcher_destroy(&d);
}

//  --------------------------------------------------------------------------
//  Handler threads sharing one worker

struct bx_pool {
    en_worker_t *worker;
    int threads;
    en_dispatcher_t *dispatchers[16];
    pthread_t ids[16];
    struct bx_pool_thread {
        en_worker_t *worker;
        en_dispatcher_t *dispatcher;
    } args[16];
};

static void *
s_pool_thread(void *arg_)
{
    struct bx_pool_thread *arg = arg_;
    en_dispatcher_run(arg->dispatcher, arg->worker);
    return NULL;
}

bx_pool_t *
bx_pool_start(const char *gateways, const en_service_def_t *def, int threads, int credit)
{
    assert_in_range(threads, 1, 16);
    bx_pool_t *self = calloc(1, sizeof *self);
    en_err_t err;
    en_worker_config_t config = {gateways, def->name, credit};
    self->worker = en_worker_new(&config, &err);
    assert_non_null(self->worker);
    self->threads = threads;
    for (int i = 0; i < threads; i++) {
        self->dispatchers[i] = en_dispatcher_new(def, &err);
        assert_non_null(self->dispatchers[i]);
        self->args[i] = (struct bx_pool_thread){self->worker, self->dispatchers[i]};
        assert_int_equal(pthread_create(&self->ids[i], NULL, s_pool_thread, &self->args[i]), 0);
    }
    return self;
}

void
bx_pool_drain(bx_pool_t *self)
{
    en_worker_drain(self->worker);
}

void
bx_pool_stop(bx_pool_t **self_p)
{
    bx_pool_t *self = *self_p;
    en_worker_drain(self->worker); // the threads leave once nothing is in hand
    for (int i = 0; i < self->threads; i++) {
        pthread_join(self->ids[i], NULL);
        en_dispatcher_destroy(&self->dispatchers[i]);
    }
    en_worker_destroy(&self->worker);
    free(self);
    *self_p = NULL;
}

void
bx_pool_rig_up(bx_pool_rig_t *rig, const char *tag, int block_calls, int threads, int credit)
{
    rig->broker = bx_broker("tcp://127.0.0.1:*", NULL, 0);
    rig->ep = en_broker_endpoint(rig->broker);
    bx_harness_init(&rig->h, tag);
    rig->h.block_calls = block_calls;
    rig->def = bx_def("registry", &rig->h);
    rig->pool = bx_pool_start(rig->ep, &rig->def, threads, credit);
    bx_wait_workers(rig->broker, 1, 5000);
    en_err_t err;
    rig->client = en_client_new(rig->ep, &err);
    assert_non_null(rig->client);
    assert_int_equal(en_client_service_present(rig->client, "registry", 5000), 0);
}

void
bx_pool_rig_down(bx_pool_rig_t *rig)
{
    en_client_destroy(&rig->client);
    bx_pool_stop(&rig->pool);
    en_broker_destroy(&rig->broker);
    bx_harness_fini(&rig->h);
}

//  --------------------------------------------------------------------------
//  Helpers

en_broker_t *
bx_broker(const char *endpoints, const en_forward_t *forwards, size_t forward_count)
{
    en_broker_config_t config = {
        .endpoints = endpoints, .forwards = forwards, .forward_count = forward_count};
    en_err_t err;
    en_broker_t *broker = en_broker_new(&config, &err);
    if (!broker)
        fail_msg("broker on %s: %s", endpoints, err.message);
    assert_int_equal(strncmp(en_broker_endpoint(broker), "tcp://127.0.0.1:", 16), 0);
    return broker;
}

en_broker_stats_t
bx_stats(en_broker_t *broker)
{
    en_broker_stats_t stats;
    assert_int_equal(en_broker_stats(broker, &stats), 0);
    return stats;
}

//  Poll the broker until it has `n` workers.
void
bx_wait_workers(en_broker_t *broker, size_t n, int timeout_ms)
{
    int64_t until = en_mono_ms() + timeout_ms;
    while (bx_stats(broker).workers != n) {
        if (en_mono_ms() > until)
            fail_msg("broker has %zu workers, want %zu", bx_stats(broker).workers, n);
        zclock_sleep(10);
    }
}

void
bx_rig_up(bx_rig_t *rig, const char *tag, int block_calls, const en_forward_t *forwards,
          size_t forward_count)
{
    rig->broker = bx_broker("tcp://127.0.0.1:*", forwards, forward_count);
    rig->ep = en_broker_endpoint(rig->broker);
    bx_harness_init(&rig->h, tag);
    rig->h.block_calls = block_calls;
    rig->spec = (bx_worker_spec_t){rig->ep, bx_def("registry", &rig->h), 1};
    rig->worker = zactor_new(bx_worker_actor, &rig->spec);
    bx_wait_workers(rig->broker, 1, 5000);
}

void
bx_rig_down(bx_rig_t *rig)
{
    zactor_destroy(&rig->worker);
    en_broker_destroy(&rig->broker);
    bx_harness_fini(&rig->h);
}

//  An endpoint nothing listens on: a port bound but never listened on, so a
//  connect is refused and no other process (tests run in parallel) can take
//  the port while we hold it. Returns the fd to close afterwards.
int
bx_dead_endpoint(char *endpoint, size_t size)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fd, (struct sockaddr *) &addr, sizeof addr), 0);
    socklen_t len = sizeof addr;
    assert_int_equal(getsockname(fd, (struct sockaddr *) &addr, &len), 0);
    snprintf(endpoint, size, "tcp://127.0.0.1:%d", ntohs(addr.sin_port));
    return fd;
}

zsock_t *
bx_dealer(const char *endpoint)
{
    zsock_t *s = zsock_new(ZMQ_DEALER);
    zsock_set_rcvtimeo(s, 5000);
    assert_int_equal(zsock_connect(s, "%s", endpoint), 0);
    return s;
}

//  A packed en.Request whose body is raw bytes.
zframe_t *
bx_envelope_raw(const char *id, const char *method, int64_t deadline, const void *body, size_t size)
{
    En__Request env = EN__REQUEST__INIT;
    env.request_id = (char *) id;
    env.method = (char *) method;
    env.deadline_ms = deadline > 0 ? (uint64_t) deadline : 0;
    env.body.data = (uint8_t *) body;
    env.body.len = size;
    return en_frame_pack(&env.base);
}

zframe_t *
bx_provider_envelope(const char *id, const char *type, int64_t deadline)
{
    En__ProviderRequest req = EN__PROVIDER_REQUEST__INIT;
    req.type = (char *) type;
    uint8_t buf[256];
    size_t size = en__provider_request__pack(&req, buf);
    return bx_envelope_raw(id, "Provider", deadline, buf, size);
}

//  Send frames given as (data, size) pairs; size (size_t) -1 = strlen.
void
bx_send_frames(zsock_t *s, int count, ...)
{
    zmsg_t *msg = zmsg_new();
    va_list ap;
    va_start(ap, count);
    for (int i = 0; i < count; i++) {
        const char *data = va_arg(ap, const char *);
        size_t size = va_arg(ap, size_t);
        zmsg_addmem(msg, data, size == (size_t) -1 ? strlen(data) : size);
    }
    va_end(ap);
    assert_int_equal(zmsg_send(&msg, s), 0);
}

//  MDP/Client REQUEST from a raw DEALER; takes the body.
void
bx_client_send(zsock_t *s, const char *service, zframe_t **body_p)
{
    zmsg_t *msg = zmsg_new();
    zmsg_addmem(msg, "", 0);
    zmsg_addstr(msg, MDPC_CLIENT);
    zmsg_addstr(msg, service);
    zmsg_append(msg, body_p);
    assert_int_equal(zmsg_send(&msg, s), 0);
}

//  Receive an MDP/Client REPLY on a raw DEALER; checks its frames and
//  returns the body frame (NULL on timeout).
zframe_t *
bx_client_recv(zsock_t *s, const char *want_service, int timeout_ms)
{
    zsock_set_rcvtimeo(s, timeout_ms);
    zmsg_t *msg = zmsg_recv(s);
    if (!msg)
        return NULL;
    assert_int_equal(zmsg_size(msg), 4);
    zframe_t *empty = zmsg_pop(msg);
    assert_int_equal(zframe_size(empty), 0);
    char *header = zmsg_popstr(msg);
    char *service = zmsg_popstr(msg);
    assert_string_equal(header, MDPC_CLIENT);
    assert_string_equal(service, want_service);
    zframe_t *body = zmsg_pop(msg);
    free(header);
    free(service);
    zframe_destroy(&empty);
    zmsg_destroy(&msg);
    return body;
}

En__Reply *
bx_client_recv_reply(zsock_t *s, const char *want_service, int timeout_ms)
{
    zframe_t *body = bx_client_recv(s, want_service, timeout_ms);
    if (!body)
        fail_msg("no reply for %s within %d ms", want_service, timeout_ms);
    En__Reply *reply = en__reply__unpack(NULL, zframe_size(body), zframe_data(body));
    assert_non_null(reply);
    zframe_destroy(&body);
    return reply;
}

//  A reply that carries an error of `kind` and exactly `message`.
void
bx_assert_reply_error(En__Reply *reply, const char *id, en_kind_t kind, const char *message)
{
    assert_non_null(reply->error);
    assert_string_equal(reply->request_id, id);
    assert_int_equal(reply->error->kind, kind);
    assert_string_equal(reply->error->message, message);
}

zsock_t *
bx_raw_worker(const char *endpoint, const char *service, const char *credit)
{
    zsock_t *s = bx_dealer(endpoint);
    if (credit)
        bx_send_frames(s, 5, "", (size_t) 0, BX_S(MDPW_WORKER), "\x01", (size_t) 1, BX_S(service),
                       BX_S(credit));
    else
        bx_send_frames(s, 4, "", (size_t) 0, BX_S(MDPW_WORKER), "\x01", (size_t) 1, BX_S(service));
    return s;
}

bool
bx_raw_worker_recv(zsock_t *s, zframe_t **address, zframe_t **body, int timeout_ms)
{
    zsock_set_rcvtimeo(s, timeout_ms);
    while (true) {
        zmsg_t *msg = zmsg_recv(s);
        if (!msg)
            return false;
        // [""]["MDPW01"][command]...
        zframe_t *empty = zmsg_pop(msg);
        char *header = zmsg_popstr(msg);
        zframe_t *cmd = zmsg_pop(msg);
        assert_non_null(cmd);
        assert_int_equal(zframe_size(empty), 0);
        assert_string_equal(header, MDPW_WORKER);
        int command = zframe_data(cmd)[0];
        zframe_destroy(&empty);
        zframe_destroy(&cmd);
        free(header);
        if (command == MDPW_HEARTBEAT) {
            zmsg_destroy(&msg);
            continue;
        }
        assert_int_equal(command, MDPW_REQUEST);
        assert_int_equal(zmsg_size(msg), 3); // [address][""][body]
        *address = zmsg_pop(msg);
        zframe_t *delim = zmsg_pop(msg);
        assert_int_equal(zframe_size(delim), 0);
        zframe_destroy(&delim);
        *body = zmsg_pop(msg);
        zmsg_destroy(&msg);
        return true;
    }
}

void
bx_raw_worker_reply(zsock_t *s, zframe_t *address, zframe_t **body_p)
{
    zmsg_t *msg = zmsg_new();
    zmsg_addmem(msg, "", 0);
    zmsg_addstr(msg, MDPW_WORKER);
    zmsg_addmem(msg, "\x03", 1);
    zmsg_append(msg, &(zframe_t *){zframe_dup(address)});
    zmsg_addmem(msg, "", 0);
    zmsg_append(msg, body_p);
    assert_int_equal(zmsg_send(&msg, s), 0);
}

void
bx_wait_held(en_broker_t *broker, size_t held, size_t queued, int timeout_ms)
{
    int64_t until = en_mono_ms() + timeout_ms;
    while (true) {
        en_broker_stats_t stats = bx_stats(broker);
        if (stats.held == held && stats.queued == queued)
            return;
        if (en_mono_ms() > until)
            fail_msg("broker holds %zu and queues %zu requests, want %zu and %zu", stats.held,
                     stats.queued, held, queued);
        zclock_sleep(5);
    }
}

//  An 8/MMI call from a raw DEALER; returns the answer (caller frees).
char *
bx_mmi(zsock_t *s, const char *service, const char *arg)
{
    zframe_t *body = zframe_from(arg ? arg : "");
    bx_client_send(s, service, &body);
    body = bx_client_recv(s, service, 5000);
    assert_non_null(body);
    char *answer = zframe_strdup(body);
    zframe_destroy(&body);
    return answer;
}

//  Until a broker answers `code` to mmi.service for `name`.
void
bx_wait_mmi(zsock_t *s, const char *name, const char *code, int timeout_ms)
{
    int64_t until = en_mono_ms() + timeout_ms;
    while (true) {
        char *answer = bx_mmi(s, "mmi.service", name);
        bool ok = streq(answer, code);
        free(answer);
        if (ok)
            return;
        if (en_mono_ms() > until)
            fail_msg("mmi.service %s never answered %s", name, code);
        zclock_sleep(10);
    }
}

void
bx_start_provider(en_client_t *client, const char *type, int64_t deadline, void *user, char id[33])
{
    En__ProviderRequest req = EN__PROVIDER_REQUEST__INIT;
    req.type = (char *) type;
    en_err_t err;
    if (en_client_start(client, "registry", "Provider", NULL, &req.base, deadline, NULL, user, id,
                        &err))
        fail_msg("en_client_start: %s", err.message);
}

char *
bx_provider_name_of(const en_result_t *r)
{
    En__ProviderResult *res = en__provider_result__unpack(NULL, r->size, r->body);
    assert_non_null(res);
    assert_non_null(res->provider);
    char *name = strdup(res->provider->name);
    en__provider_result__free_unpacked(res, NULL);
    return name;
}

int
bx_next_provider_result(en_client_t *client, int timeout_ms, bool *seen, int count,
                        const char (*ids)[33], const char *tag, const char *prefix)
{
    en_result_t r;
    assert_int_equal(en_client_wait(client, timeout_ms, &r), 0);
    int i = (int) (intptr_t) r.user - 1;
    assert_in_range(i, 0, count - 1);
    assert_false(seen[i]);
    seen[i] = true;
    if (ids)
        assert_string_equal(r.request_id, ids[i]);
    assert_int_equal(r.err.kind, EN_OK);
    char want[64];
    snprintf(want, sizeof want, "%s:%s%d", tag, prefix, i);
    char *name = bx_provider_name_of(&r); // the reply is this call's, not another's
    assert_string_equal(name, want);
    free(name);
    en_result_clear(&r);
    return i;
}

int
bx_call_provider(en_client_t *client, const char *service, const char *type, int timeout_ms,
                 char **name, en_err_t *err)
{
    En__ProviderRequest req = EN__PROVIDER_REQUEST__INIT;
    req.type = (char *) type;
    ProtobufCMessage *res = NULL;
    *name = NULL;
    if (en_client_call(client, service, "Provider", NULL, &req.base,
                       &en__provider_result__descriptor, &res, timeout_ms, err))
        return -1;
    En__ProviderResult *result = (En__ProviderResult *) res;
    *name = strdup(result->provider ? result->provider->name : "");
    protobuf_c_message_free_unpacked(res, NULL);
    return 0;
}

void
bx_assert_provider_call(en_client_t *client, const char *service, const char *type,
                        const char *want)
{
    char *name;
    en_err_t err;
    if (bx_call_provider(client, service, type, 10000, &name, &err))
        fail_msg("Provider %s via %s: %s %s", type, service, en_kind_name(err.kind), err.message);
    assert_string_equal(name, want);
    free(name);
}

//  --------------------------------------------------------------------------
//  Child processes (this binary, re-executed)

bx_child_t
bx_child_start(const char *mode, const char *gateway, int credit)
{
    int notify[2], go[2];
    assert_int_equal(pipe2(notify, O_CLOEXEC), 0);
    assert_int_equal(pipe2(go, O_CLOEXEC), 0);
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    assert_true(n > 0);
    exe[n] = '\0';
    char notify_arg[16], go_arg[16], credit_arg[16];
    snprintf(notify_arg, sizeof notify_arg, "%d", notify[1]);
    snprintf(go_arg, sizeof go_arg, "%d", go[0]);
    snprintf(credit_arg, sizeof credit_arg, "%d", credit);
    char *args[] = {exe,           "--child", (char *) mode, (char *) gateway, notify_arg,
                    go_arg,        credit_arg, NULL};
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        // only async-signal-safe calls until exec; no ZeroMQ here. A test
        // that dies (a timeout, a crash) must not leave this child serving:
        // a stray worker would join the next test's broker.
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        fcntl(notify[1], F_SETFD, 0);
        fcntl(go[0], F_SETFD, 0);
        execv(exe, args);
        _exit(127);
    }
    close(notify[1]);
    close(go[0]);
    return (bx_child_t){.pid = pid, .notify = notify[0], .go = go[1]};
}

//  Run the client (its first send may wait for the connection) until the
//  child's handler says it holds a call.
void
bx_child_wait_notify(bx_child_t *child, en_client_t *client, int timeout_ms)
{
    struct pollfd p = {.fd = child->notify, .events = POLLIN};
    int64_t until = en_mono_ms() + timeout_ms;
    while (poll(&p, 1, 0) == 0) {
        if (en_mono_ms() > until)
            fail_msg("the child's handler never got the call");
        en_result_t early;
        assert_int_equal(en_client_wait(client, 20, &early), -1);
    }
    char c;
    assert_int_equal(read(child->notify, &c, 1), 1);
}

//  Reap the child within timeout_ms; returns its wait status.
int
bx_child_reap(bx_child_t *child, int timeout_ms)
{
    int64_t until = en_mono_ms() + timeout_ms;
    int status = 0;
    while (waitpid(child->pid, &status, WNOHANG) == 0) {
        if (en_mono_ms() > until) {
            kill(child->pid, SIGKILL);
            waitpid(child->pid, &status, 0);
            fail_msg("child %d did not exit in %d ms", (int) child->pid, timeout_ms);
        }
        zclock_sleep(10);
    }
    close(child->notify);
    close(child->go);
    return status;
}

int
bx_child_main(int argc, char **argv)
{
    if (argc != 7)
        return 2;
    en_signals_block(); // as every service main() does
    bx_harness_t h;
    bx_harness_init(&h, "child");
    h.notify_fd = atoi(argv[4]);
    h.go_fd = atoi(argv[5]);
    h.stuck = streq(argv[2], "stuck");
    en_service_def_t def = bx_def("registry", &h);
    // one thread, one connection: the tests count workers at the broker
    en_service_opts_t opts = {
        .gateways = argv[3], .threads = 1, .lanes = 1, .credit = atoi(argv[6])};
    int rc = en_service_run(&def, &opts);
    bx_harness_fini(&h);
    return rc == 0 ? 0 : 1;
}
