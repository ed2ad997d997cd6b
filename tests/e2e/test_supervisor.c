/*  environs-local end to end: the real supervisor binary runs fake services
    (tests/e2e/fake_service.c linked as environs-gateway and
    environs-registry in a temporary --bin), and the tests watch what the
    fakes record in <home>/fake/. Every wait polls a file or a process with a
    deadline; nothing sleeps in the hope that something has happened.

    The test process makes itself a child subreaper, so a child the
    supervisor failed to reap would come back to us and be seen alive, not
    vanish into init.

    The last few cases call the supervisor's pure pieces (backoff, options,
    program lookup) directly. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "deploy/local/supervisor.h"

#define WAIT_MS 10000
#define BIND "tcp://127.0.0.1:7461"

typedef struct {
    char root[64];
    char home[128];
    char bin[128];
    char out[128];
    pid_t sup;
} fixture_t;

typedef struct {
    pid_t pid;
    pid_t pgid;
    int mask_empty;
    int pipe_default;
    char args[1024];
} record_t;

static int64_t
s_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
s_pause(void)
{
    struct timespec ts = {0, 10 * 1000000L};
    nanosleep(&ts, NULL);
}

static char *
s_slurp(const char *path)
{
    FILE *file = fopen(path, "r");
    if (!file)
        return NULL;
    char *text = calloc(1, 1 << 16);
    size_t n = fread(text, 1, (1 << 16) - 1, file);
    text[n] = '\0';
    fclose(file);
    return text;
}

static bool
s_file_has(const char *path, const char *needle)
{
    char *text = s_slurp(path);
    bool found = text && strstr(text, needle);
    free(text);
    return found;
}

static bool
s_wait_file_has(const char *path, const char *needle)
{
    for (int64_t end = s_now_ms() + WAIT_MS; s_now_ms() < end; s_pause())
        if (s_file_has(path, needle))
            return true;
    return false;
}

static bool
s_read_record(const fixture_t *f, const char *label, record_t *rec)
{
    char path[256];
    snprintf(path, sizeof path, "%s/fake/%s", f->home, label);
    char *text = s_slurp(path);
    if (!text)
        return false;
    memset(rec, 0, sizeof *rec);
    int pid = 0, pgid = 0;
    char *args = strstr(text, "args=");
    bool ok = sscanf(text, "pid=%d\npgid=%d\nmask_empty=%d\npipe_default=%d", &pid, &pgid,
                     &rec->mask_empty, &rec->pipe_default) == 4 &&
              args;
    if (ok) {
        args += 5;
        args[strcspn(args, "\n")] = '\0';
        snprintf(rec->args, sizeof rec->args, "%s", args);
        rec->pid = pid;
        rec->pgid = pgid;
    }
    free(text);
    return ok;
}

//  Wait until <label> is running with a pid other than not_pid.
static bool
s_wait_record(const fixture_t *f, const char *label, pid_t not_pid, record_t *rec)
{
    for (int64_t end = s_now_ms() + WAIT_MS; s_now_ms() < end; s_pause())
        if (s_read_record(f, label, rec) && rec->pid != not_pid && kill(rec->pid, 0) == 0)
            return true;
    return false;
}

static bool
s_gone(pid_t pid)
{
    return kill(pid, 0) == -1 && errno == ESRCH;
}

static pid_t
s_spawn(const fixture_t *f, const char *out, const char *const *extra)
{
    const char *argv[32] = {EN_SUPERVISOR_BIN, "--home", f->home,      "--bin", f->bin,
                            "--bind",          BIND,     "--grace-ms", "5000"};
    size_t n = 9;
    for (; extra && *extra && n < 31; extra++)
        argv[n++] = *extra;
    argv[n] = NULL;
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(out, O_WRONLY | O_CREAT | O_APPEND, 0600);
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    return pid;
}

//  Wait for a process of ours to exit; its wait status, or -1 on timeout.
static int
s_wait_exit(pid_t pid)
{
    for (int64_t end = s_now_ms() + WAIT_MS; s_now_ms() < end; s_pause()) {
        int status = 0;
        if (waitpid(pid, &status, WNOHANG) == pid)
            return status;
    }
    return -1;
}

static void
s_start(fixture_t *f, const char *const *extra)
{
    f->sup = s_spawn(f, f->out, extra);
    assert_true(f->sup > 0);
}

//  Start and wait until the gateway and registry-0 run.
static void
s_start_set(fixture_t *f, const char *const *extra, record_t *gw, record_t *reg)
{
    s_start(f, extra);
    assert_true(s_wait_record(f, "gateway", 0, gw));
    assert_true(s_wait_record(f, "registry-0", 0, reg));
}

//  SIGTERM the supervisor and expect a clean exit 0.
static void
s_stop(fixture_t *f)
{
    assert_int_equal(kill(f->sup, SIGTERM), 0);
    int status = s_wait_exit(f->sup);
    f->sup = 0;
    assert_true(status != -1);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

static int
s_remove(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

static int
setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    snprintf(f->root, sizeof f->root, "/tmp/en-sup-XXXXXX");
    if (!mkdtemp(f->root))
        return -1;
    snprintf(f->home, sizeof f->home, "%s/home", f->root);
    snprintf(f->bin, sizeof f->bin, "%s/bin", f->root);
    snprintf(f->out, sizeof f->out, "%s/supervisor.out", f->root);
    mkdir(f->bin, 0700);
    char link[256];
    snprintf(link, sizeof link, "%s/environs-gateway", f->bin);
    if (symlink(EN_FAKE_SERVICE_BIN, link))
        return -1;
    snprintf(link, sizeof link, "%s/environs-registry", f->bin);
    if (symlink(EN_FAKE_SERVICE_BIN, link))
        return -1;
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    fixture_t *f = *state;
    //  A failed test may leave the supervisor up: stop it, then force it.
    if (f->sup > 0) {
        kill(f->sup, SIGTERM);
        if (s_wait_exit(f->sup) == -1) {
            kill(f->sup, SIGKILL);
            waitpid(f->sup, NULL, 0);
        }
    }
    //  Reap anything orphaned to us (we are a subreaper).
    while (waitpid(-1, NULL, WNOHANG) > 0)
        ;
    nftw(f->root, s_remove, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

static void
starts_gateway_then_registry_with_their_argv(void **state)
{
    fixture_t *f = *state;
    record_t gw, reg;
    s_start_set(f, NULL, &gw, &reg);

    char expect[1024];
    snprintf(expect, sizeof expect, "--bind " BIND " --home %s", f->home);
    assert_string_equal(gw.args, expect);
    snprintf(expect, sizeof expect, "--gateway " BIND " --home %s --threads 4 --replica 0",
             f->home);
    assert_string_equal(reg.args, expect);
    //  A clean process: own group, nothing blocked, SIGPIPE back to default.
    assert_int_equal(gw.pgid, gw.pid);
    assert_int_equal(reg.pgid, reg.pid);
    assert_int_equal(reg.mask_empty, 1);
    assert_int_equal(reg.pipe_default, 1);

    char path[256];
    snprintf(path, sizeof path, "%s/gateway.endpoint", f->home);
    char *endpoint = s_slurp(path);
    assert_non_null(endpoint);
    assert_string_equal(endpoint, BIND "\n");
    free(endpoint);
    assert_int_equal(sup_read_pid(f->home), f->sup);

    //  Services not built are skipped, the gateway starts first, and each
    //  child's output lands in its own log.
    snprintf(path, sizeof path, "%s/log/supervisor.log", f->home);
    char *log = s_slurp(path);
    assert_non_null(log);
    assert_non_null(strstr(log, " skip broker "));
    char *gw_start = strstr(log, " start gateway ");
    char *reg_start = strstr(log, " start registry-0 ");
    assert_non_null(gw_start);
    assert_non_null(reg_start);
    assert_true(gw_start < reg_start);
    free(log);
    snprintf(path, sizeof path, "%s/log/registry-0.log", f->home);
    assert_true(s_wait_file_has(path, "fake registry-0 pid"));
    s_stop(f);
}

static void
killed_child_gets_a_new_pid(void **state)
{
    fixture_t *f = *state;
    record_t before, after, gw_before, gw_after;
    s_start_set(f, NULL, &gw_before, &before);
    assert_int_equal(kill(before.pid, SIGKILL), 0);
    assert_true(s_wait_record(f, "registry-0", before.pid, &after));
    assert_true(s_gone(before.pid));

    assert_int_equal(kill(gw_before.pid, SIGKILL), 0);
    assert_true(s_wait_record(f, "gateway", gw_before.pid, &gw_after));

    char path[256], needle[128];
    snprintf(path, sizeof path, "%s/log/supervisor.log", f->home);
    snprintf(needle, sizeof needle, " exit registry-0 pid=%d signal=KILL", (int)before.pid);
    assert_true(s_wait_file_has(path, needle));
    snprintf(needle, sizeof needle, " restart registry-0 pid=%d", (int)after.pid);
    assert_true(s_wait_file_has(path, needle));
    s_stop(f);
}

static void
replicas_run_distinct_children(void **state)
{
    fixture_t *f = *state;
    const char *extra[] = {"--replicas", "registry=3", "--threads", "2", NULL};
    s_start(f, extra);
    record_t rec[3];
    for (int i = 0; i < 3; i++) {
        char label[32], expect[512], path[256];
        snprintf(label, sizeof label, "registry-%d", i);
        assert_true(s_wait_record(f, label, 0, &rec[i]));
        snprintf(expect, sizeof expect, "--gateway " BIND " --home %s --threads 2 --replica %d",
                 f->home, i);
        assert_string_equal(rec[i].args, expect);
        snprintf(path, sizeof path, "%s/log/%s.log", f->home, label);
        snprintf(expect, sizeof expect, "fake %s pid %d up", label, (int)rec[i].pid);
        assert_true(s_wait_file_has(path, expect));
    }
    assert_true(rec[0].pid != rec[1].pid && rec[1].pid != rec[2].pid && rec[0].pid != rec[2].pid);
    s_stop(f);
}

static void
sigterm_stops_services_then_gateway_and_cleans_up(void **state)
{
    fixture_t *f = *state;
    const char *extra[] = {"--replicas", "registry=2", NULL};
    record_t gw, r0, r1;
    s_start_set(f, extra, &gw, &r0);
    assert_true(s_wait_record(f, "registry-1", 0, &r1));
    s_stop(f);
    assert_true(s_gone(gw.pid));
    assert_true(s_gone(r0.pid));
    assert_true(s_gone(r1.pid));
    assert_int_equal(waitpid(-1, NULL, WNOHANG), -1); //  nothing orphaned to us

    char path[256];
    snprintf(path, sizeof path, "%s/gateway.endpoint", f->home);
    assert_int_equal(access(path, F_OK), -1);
    snprintf(path, sizeof path, "%s/environs-local.pid", f->home);
    assert_int_equal(access(path, F_OK), -1);
    //  Every child stopped cleanly, and the gateway last.
    snprintf(path, sizeof path, "%s/fake/stopped", f->home);
    char *stopped = s_slurp(path);
    assert_non_null(stopped);
    assert_non_null(strstr(stopped, "registry-0\n"));
    assert_non_null(strstr(stopped, "registry-1\n"));
    size_t len = strlen(stopped);
    assert_true(len > 8);
    assert_string_equal(stopped + len - 8, "gateway\n");
    free(stopped);
}

static void
second_supervisor_for_same_home_exits_1(void **state)
{
    fixture_t *f = *state;
    s_start(f, NULL);
    record_t gw;
    assert_true(s_wait_record(f, "gateway", 0, &gw));

    char out[256];
    snprintf(out, sizeof out, "%s/second.out", f->root);
    pid_t second = s_spawn(f, out, NULL);
    int status = s_wait_exit(second);
    assert_true(status != -1 && WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 1);
    assert_true(s_file_has(out, "another supervisor is already running"));
    //  The first one's files are untouched and --status sees it.
    assert_int_equal(sup_read_pid(f->home), f->sup);
    snprintf(out, sizeof out, "%s/status.out", f->root);
    const char *status_args[] = {"--status", NULL};
    status = s_wait_exit(s_spawn(f, out, status_args));
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), SUP_STATUS_RUNNING);
    assert_true(s_file_has(out, "running for"));

    s_stop(f);
    snprintf(out, sizeof out, "%s/status2.out", f->root);
    status = s_wait_exit(s_spawn(f, out, status_args));
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), SUP_STATUS_STOPPED);
}

static void
crashing_child_is_retried_with_growing_backoff(void **state)
{
    fixture_t *f = *state;
    s_start(f, NULL);
    record_t before, after;
    assert_true(s_wait_record(f, "registry-0", 0, &before));
    char marker[256], path[256];
    snprintf(marker, sizeof marker, "%s/fake/registry-0.crash", f->home);
    int fd = open(marker, O_WRONLY | O_CREAT, 0600);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(kill(before.pid, SIGKILL), 0);
    snprintf(path, sizeof path, "%s/log/supervisor.log", f->home);
    assert_true(s_wait_file_has(path, "exit=3 ran_ms="));
    assert_true(s_wait_file_has(path, "restart_in_ms=800"));
    assert_true(s_file_has(path, "restart_in_ms=200"));
    assert_true(s_file_has(path, "restart_in_ms=400"));
    unlink(marker);
    assert_true(s_wait_record(f, "registry-0", before.pid, &after));
    s_stop(f);
}

static void
sighup_restarts_every_child(void **state)
{
    fixture_t *f = *state;
    record_t gw, reg, gw2, reg2;
    s_start_set(f, NULL, &gw, &reg);
    assert_int_equal(kill(f->sup, SIGHUP), 0);
    assert_true(s_wait_record(f, "gateway", gw.pid, &gw2));
    assert_true(s_wait_record(f, "registry-0", reg.pid, &reg2));
    char path[256];
    snprintf(path, sizeof path, "%s/log/supervisor.log", f->home);
    assert_true(s_wait_file_has(path, " rolled environs-local"));
    s_stop(f);
}

static void
backoff_doubles_to_cap_and_resets_after_10s(void **state)
{
    (void)state;
    int expect[] = {100, 200, 400, 800, 1600, 3200, 5000, 5000};
    int delay = 0;
    for (size_t i = 0; i < sizeof expect / sizeof expect[0]; i++) {
        delay = sup_backoff_next(delay, 50);
        assert_int_equal(delay, expect[i]);
    }
    assert_int_equal(sup_backoff_next(delay, 9999), 5000);
    assert_int_equal(sup_backoff_next(delay, 10000), 100);
}

static void
options_apply_replicas_and_defaults(void **state)
{
    (void)state;
    sup_options_t opts;
    char err[256];
    char *ok_argv[] = {"environs-local",       "--home", "/h", "--bin=/b", "--replicas",
                       "broker=3,imagemeta=2", NULL};
    assert_int_equal(sup_options_parse(&opts, 6, ok_argv, err, sizeof err), 0);
    assert_string_equal(opts.home, "/h");
    assert_string_equal(opts.bin, "/b");
    assert_true(opts.bin_explicit);
    assert_string_equal(opts.bind, SUP_DEFAULT_BIND);
    assert_int_equal(opts.threads, SUP_DEFAULT_THREADS);
    assert_int_equal(opts.grace_ms, SUP_DEFAULT_GRACE_MS);
    assert_int_equal(opts.service_count, 5);
    assert_string_equal(opts.services[1].name, "broker");
    assert_int_equal(opts.services[1].replicas, 3);
    assert_int_equal(opts.services[4].replicas, 2);
    assert_int_equal(opts.services[0].replicas, 1);
    sup_options_clear(&opts);

    struct {
        const char *arg;
        const char *value;
        const char *says;
    } bad[] = {
        {"--replicas", "brokr=2", "brokr"},
        {"--replicas", "broker=0", "1 to 64"},
        {"--replicas", "broker", "svc=N"},
        {"--services", "gateway,registry", "always started"},
        {"--services", "registry,registry", "twice"},
        {"--threads", "x", "--threads"},
        {"--bind", "nowhere", "not an endpoint"},
        {"--frobnicate", "1", "unknown argument"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *argv[] = {"environs-local",     "--home", "/h", (char *)bad[i].arg,
                        (char *)bad[i].value, NULL};
        assert_int_equal(sup_options_parse(&opts, 5, argv, err, sizeof err), -1);
        assert_non_null(strstr(err, bad[i].says));
        sup_options_clear(&opts);
    }
}

static void
default_home_follows_the_environment(void **state)
{
    (void)state;
    char *saved[3];
    const char *names[3] = {"ENVIRONS_HOME", "XDG_DATA_HOME", "HOME"};
    for (int i = 0; i < 3; i++) {
        const char *v = getenv(names[i]);
        saved[i] = v ? strdup(v) : NULL;
    }
    setenv("ENVIRONS_HOME", "/e", 1);
    setenv("XDG_DATA_HOME", "/x", 1);
    setenv("HOME", "/u", 1);
    char *home = sup_default_home();
    assert_string_equal(home, "/e");
    free(home);
    unsetenv("ENVIRONS_HOME");
    home = sup_default_home();
    assert_string_equal(home, "/x/environs");
    free(home);
    unsetenv("XDG_DATA_HOME");
    home = sup_default_home();
    assert_string_equal(home, "/u/.local/share/environs");
    free(home);
    for (int i = 0; i < 3; i++) {
        if (saved[i])
            setenv(names[i], saved[i], 1);
        else
            unsetenv(names[i]);
        free(saved[i]);
    }
}

static void
program_lookup_prefers_bin_then_build_tree(void **state)
{
    fixture_t *f = *state;
    //  A build tree: <root>/deploy/local is the supervisor's directory and
    //  <root>/services/broker/environs-broker a service.
    char build_dir[200], svc[200], path[256];
    snprintf(build_dir, sizeof build_dir, "%s/deploy/local", f->root);
    snprintf(svc, sizeof svc, "%s/services/broker", f->root);
    assert_int_equal(sup_mkdirs(build_dir), 0);
    assert_int_equal(sup_mkdirs(svc), 0);
    snprintf(path, sizeof path, "%s/environs-broker", svc);
    assert_int_equal(symlink(EN_FAKE_SERVICE_BIN, path), 0);

    char *found = sup_program_path(build_dir, build_dir, "broker");
    assert_non_null(found);
    assert_non_null(strstr(found, "/deploy/local/../../services/broker/environs-broker"));
    free(found);
    //  With an explicit --bin there is no fallback.
    assert_null(sup_program_path(build_dir, NULL, "broker"));
    //  A program in bin wins over the build tree.
    found = sup_program_path(f->bin, build_dir, "registry");
    assert_non_null(found);
    snprintf(path, sizeof path, "%s/environs-registry", f->bin);
    assert_string_equal(found, path);
    free(found);
    assert_null(sup_program_path(f->bin, build_dir, "networking"));
}

int
main(void)
{
    //  Orphans of a misbehaving supervisor come to us, not to init.
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(starts_gateway_then_registry_with_their_argv, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(killed_child_gets_a_new_pid, setup, teardown),
        cmocka_unit_test_setup_teardown(replicas_run_distinct_children, setup, teardown),
        cmocka_unit_test_setup_teardown(sigterm_stops_services_then_gateway_and_cleans_up, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(second_supervisor_for_same_home_exits_1, setup, teardown),
        cmocka_unit_test_setup_teardown(crashing_child_is_retried_with_growing_backoff, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(sighup_restarts_every_child, setup, teardown),
        cmocka_unit_test(backoff_doubles_to_cap_and_resets_after_10s),
        cmocka_unit_test(options_apply_replicas_and_defaults),
        cmocka_unit_test(default_home_follows_the_environment),
        cmocka_unit_test_setup_teardown(program_lookup_prefers_bin_then_build_tree, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
