/*  harness.c — see harness.h. */
#include "harness.h"

#include <errno.h>
#include <sys/stat.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/prctl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bus/envelope.h"

static bool
s_port_free(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t) port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool ok = bind(fd, (struct sockaddr *) &a, sizeof a) == 0;
    close(fd);
    return ok;
}

int
harness_free_port(harness_t *h)
{
    (void) h;
    // three consecutive ports: the gateway and its two event endpoints
    static __thread unsigned seed;
    if (!seed)
        seed = (unsigned) getpid() ^ (unsigned) en_mono_ms();
    for (int tries = 0; tries < 200; tries++) {
        // below the kernel's ephemeral range (32768+), so no outgoing
        // connection can take the port between the probe and the bind
        int port = 10000 + (int) (rand_r(&seed) % 20000);
        if (port == h->port || !s_port_free(port) || !s_port_free(port + 1) ||
            !s_port_free(port + 2))
            continue;
        // a free port can still be taken by a test that probed it at the
        // same moment: a lock per port, held until this process exits,
        // settles which test has it (the lock files are never removed)
        char lock[64];
        snprintf(lock, sizeof lock, "/tmp/environs-test-port-%d.lock", port);
        int fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (fd < 0)
            return port; // no lock to take: the probe is all there is
        if (flock(fd, LOCK_EX | LOCK_NB) == 0)
            return port; // fd stays open: the lock lives as long as we do
        close(fd);
    }
    return 0;
}

int
harness_init(harness_t *h)
{
    memset(h, 0, sizeof *h);
    snprintf(h->home, sizeof h->home, "/tmp/environs-test-XXXXXX");
    if (!mkdtemp(h->home))
        return -1;
    h->port = harness_free_port(h);
    snprintf(h->endpoint, sizeof h->endpoint, "tcp://127.0.0.1:%d", h->port);
    return h->port ? 0 : -1;
}

const char *
harness_bin(const char *rel)
{
    static __thread char path[1536];
    const char *build = getenv("EN_BUILD_DIR");
    snprintf(path, sizeof path, "%s/%s", build ? build : ".", rel);
    return path;
}

int
harness_spawn(harness_t *h, const char *name, int replica, char *const argv[])
{
    char log[512];
    snprintf(log, sizeof log, "%s/%s-%d.log", h->home, name, replica);
    pid_t pid = fork();
    if (pid == 0) {
        // a test that dies (a timeout, a crash) must not leave its children
        // serving: a stray worker would join the next test's broker
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        execv(argv[0], argv);
        _exit(127);
    }
    int i = h->count++;
    h->pids[i] = pid;
    snprintf(h->names[i], sizeof h->names[i], "%s", name);
    return i;
}

int
harness_start(harness_t *h, const char *name, int replica)
{
    char rel[256], bin[1536], rep[8];
    snprintf(rel, sizeof rel, "services/%s/environs-%s", name, name);
    snprintf(bin, sizeof bin, "%s", harness_bin(rel));
    snprintf(rep, sizeof rep, "%d", replica);
    if (strcmp(name, "gateway") == 0) {
        char *argv[] = {bin, "--bind", h->endpoint, "--home", h->home, NULL};
        return harness_spawn(h, name, replica, argv);
    }
    char *argv[] = {bin,     "--gateway", h->endpoint, "--home", h->home, "--threads", "2",
                    "--replica", rep, NULL};
    return harness_spawn(h, name, replica, argv);
}

//  Print every process's log, so a failed start explains itself.
static void
s_dump_logs(harness_t *h)
{
    for (int i = 0; i < h->count; i++) {
        char cmd[600];
        fprintf(stderr, "---- %s (pid %d) log:\n", h->names[i], (int) h->pids[i]);
        snprintf(cmd, sizeof cmd, "tail -n 30 %s/%s-*.log 1>&2", h->home, h->names[i]);
        if (system(cmd) != 0)
            fprintf(stderr, "(no log)\n");
    }
}

int
harness_wait_service(harness_t *h, const char *service, int timeout_ms)
{
    if (!h->client) {
        en_err_t err;
        h->client = en_client_new(h->endpoint, &err);
        if (!h->client)
            return -1;
    }
    int64_t until = en_mono_ms() + timeout_ms;
    while (en_mono_ms() < until) {
        if (en_client_service_present(h->client, service, 500) == 0)
            return 0;
        // a process that died will not come up: say so at once
        for (int i = 0; i < h->count; i++) {
            int status;
            if (h->pids[i] > 0 && waitpid(h->pids[i], &status, WNOHANG) == h->pids[i]) {
                fprintf(stderr, "harness: %s exited with status %d while waiting for %s\n",
                        h->names[i], status, service);
                h->pids[i] = 0;
                s_dump_logs(h);
                return -1;
            }
        }
    }
    fprintf(stderr, "harness: no worker for %s after %d ms on %s\n", service, timeout_ms,
            h->endpoint);
    s_dump_logs(h);
    return -1;
}

int
harness_wait(harness_t *h, int i, int timeout_ms)
{
    if (h->pids[i] <= 0)
        return -1;
    int fd = (int) syscall(SYS_pidfd_open, h->pids[i], 0);
    if (fd >= 0) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        poll(&p, 1, timeout_ms);
        close(fd);
    }
    int status = 0;
    pid_t r = waitpid(h->pids[i], &status, WNOHANG);
    if (r != h->pids[i])
        return -1;
    h->pids[i] = 0;
    return status;
}

void
harness_kill(harness_t *h, int i, int sig)
{
    if (h->pids[i] <= 0)
        return;
    kill(h->pids[i], sig);
    waitpid(h->pids[i], NULL, 0);
    h->pids[i] = 0;
}

int
harness_fini(harness_t *h)
{
    int rc = 0;
    en_client_destroy(&h->client);
    // services first, the gateway last, like the supervisor
    for (int i = h->count - 1; i >= 0; i--)
        if (h->pids[i] > 0)
            kill(h->pids[i], SIGTERM);
    for (int i = 0; i < h->count; i++) {
        int status = 0;
        if (h->pids[i] > 0 && waitpid(h->pids[i], &status, 0) == h->pids[i] &&
            !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
            fprintf(stderr, "harness: %s did not drain cleanly on SIGTERM (status %d)\n",
                    h->names[i], status);
            rc = -1;
        }
    }
    // a sanitizer report in any process's log fails the test
    char cmd[1200];
    snprintf(cmd, sizeof cmd,
             "grep -l -E 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' %s/*.log "
             "%s/log/*.log >/dev/null 2>&1",
             h->home, h->home);
    if (system(cmd) == 0) {
        fprintf(stderr, "harness: sanitizer report in a process log:\n");
        s_dump_logs(h);
        rc = -1;
    }
    if (!getenv("EN_KEEP_HOME")) {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", h->home);
        if (system(cmd) != 0)
            fprintf(stderr, "cannot remove %s\n", h->home);
    }
    return rc;
}

static char *
s_slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return strdup("");
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = calloc(1, (size_t) n + 1);
    if (fread(buf, 1, (size_t) n, f) != (size_t) n)
        buf[0] = '\0';
    fclose(f);
    return buf;
}

int
harness_run(harness_t *h, char **out, char **err, const char *fmt, ...)
{
    char cmd[4096], full[8192], o[400], e[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    snprintf(o, sizeof o, "%s/.out", h->home);
    snprintf(e, sizeof e, "%s/.err", h->home);
    snprintf(full, sizeof full, "ENVIRONS_GATEWAY=%s ENVIRONS_HOME=%s %s >%s 2>%s", h->endpoint,
             h->home, cmd, o, e);
    int status = system(full);
    if (out)
        *out = s_slurp(o);
    if (err)
        *err = s_slurp(e);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

int
harness_cli(harness_t *h, char **out, char **err, const char *fmt, ...)
{
    char args[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    return harness_run(h, out, err, "%s %s", harness_bin("cli/environs"), args);
}

char *
harness_cli_ok(harness_t *h, bool quiet, char *why, size_t why_size, const char *args)
{
    char *out = NULL, *err = NULL;
    int rc = harness_cli(h, &out, &err, "%s", args);
    if (rc != 0 || (quiet && *err)) {
        snprintf(why, why_size, "environs %s: exit %d, stdout \"%s\", stderr \"%s\"", args, rc,
                 out, err);
        free(out);
        free(err);
        return NULL;
    }
    free(err);
    return out;
}

json_t *
harness_cli_json(harness_t *h, bool quiet, char *why, size_t why_size, const char *args)
{
    char command[4096];
    snprintf(command, sizeof command, "%s --format json", args);
    char *out = harness_cli_ok(h, quiet, why, why_size, command);
    if (!out)
        return NULL;
    json_error_t error;
    json_t *doc = json_loads(out, 0, &error);
    if (!json_is_object(doc)) {
        snprintf(why, why_size, "environs %s: not a JSON object (%s): %s", command, error.text,
                 out);
        json_decref(doc);
        doc = NULL;
    }
    free(out);
    return doc;
}

int
harness_up(harness_t *h, const char *const *services)
{
    harness_start(h, "gateway", 0);
    for (const char *const *n = services; *n; n++)
        harness_start(h, *n, 0);
    for (const char *const *n = services; *n; n++)
        if (harness_wait_service(h, *n, 20000) != 0) {
            fprintf(stderr, "harness: %s never came up\n", *n);
            return -1;
        }
    char sim[600];
    snprintf(sim, sizeof sim, "%s/sim", h->home);
    if (mkdir(sim, 0700) != 0 && errno != EEXIST)
        return -1;
    return 0;
}

int
harness_find(harness_t *h, const char *name)
{
    for (int i = 0; i < h->count; i++)
        if (strcmp(h->names[i], name) == 0)
            return i;
    return -1;
}
