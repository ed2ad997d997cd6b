/*  supervisor.c — the sup_t class: a table of children and one event loop.

    Each child is one process to keep running: the gateway (always row 0,
    started first) or one replica of a service. A row moves through four
    states:

        WAITING --(restart time)--> RUNNING --(SIGTERM sent)--> STOPPING
           ^                           |                           |
           +------(exited: backoff)----+---------------------------+
        STOPPED: the supervisor is shutting down; never started again.

    The loop is single-threaded and never blocks except in poll(). Signals
    are blocked and read from a signalfd, so a signal is just another event:
    there are no async handlers, no flags shared with them and no EINTR
    surprises in the middle of a fork. SIGCHLD is only a hint — the loop
    reaps with waitpid(WNOHANG) until nothing is left, because several exits
    can share one SIGCHLD. Timers (restart times, SIGKILL deadlines, the
    rolling restart's settle time) are absolute CLOCK_MONOTONIC times in the
    rows; poll() sleeps until the nearest one.

    Shutdown (SIGINT/SIGTERM) signals the services first and the gateway
    only when they are gone (or half the grace period has passed), so a
    service can still tell the gateway it is leaving. At the deadline any
    survivor gets SIGKILL. A second SIGINT/SIGTERM skips the wait.

    SIGHUP restarts the children one at a time, in start order: stop one,
    start it again at once (no backoff: we stopped it), let it settle, move
    on. There is no readiness signal without talking to the children, so the
    settle time stands in for one. */
#include "supervisor.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/close_range.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

//  How long a rolling restart lets a new process connect before it stops
//  the next one.
#define SUP_ROLL_SETTLE_MS 500

//  Room for the longest argv we build (a service's: 9 words) and its NULL.
#define S_ARGV_SLOTS 12

typedef enum { CHILD_WAITING, CHILD_RUNNING, CHILD_STOPPING, CHILD_STOPPED } s_state_t;

typedef struct {
    char label[48]; //  "gateway", "registry-0": log name and log file name
    bool is_gateway;
    char *path;     //  program
    char *log_path; //  <home>/log/<label>.log
    char **argv;    //  built once, NULL-terminated
    s_state_t state;
    pid_t pid;       //  0 when not running
    unsigned starts; //  how many times started
    int64_t started_ms;
    int delay_ms;       //  last restart delay, 0 for none
    int64_t restart_ms; //  WAITING: when to start
    int64_t kill_ms;    //  STOPPING: when to SIGKILL
    bool killed;        //  SIGKILL sent
    bool rolling;       //  stopped by SIGHUP: start again at once
} s_child_t;

struct _sup_t {
    char *home;
    char *bind;
    int grace_ms;
    char *pid_path;
    char *endpoint_path;
    int lock_fd;
    int log_fd;
    int sig_fd;
    int null_fd;
    pid_t self_pid;
    sigset_t old_mask;
    bool mask_changed;
    bool pid_written;
    bool endpoint_written;
    s_child_t *children;
    size_t child_count;
    //  Shutdown.
    bool stopping;
    int64_t stop_deadline_ms;
    int64_t gateway_term_ms;
    //  Rolling restart: roll_pos is the row being restarted, -1 when none.
    long roll_pos;
    bool roll_waiting;
    bool roll_settling;
    int64_t roll_settle_ms;
    bool roll_again;
};

static int64_t
s_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

//  asprintf that leaves NULL, not an undefined pointer, when it fails.
static char *s_strf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static char *
s_strf(const char *fmt, ...)
{
    char *text = NULL;
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&text, fmt, ap) < 0)
        text = NULL;
    va_end(ap);
    return text;
}

static void
s_child_free(s_child_t *child)
{
    free(child->path);
    free(child->log_path);
    //  Every slot, not up to the first NULL: a half-built argv has holes.
    if (child->argv)
        for (size_t i = 0; i < S_ARGV_SLOTS; i++)
            free(child->argv[i]);
    free(child->argv);
    memset(child, 0, sizeof *child);
}

//  Fill a row: gateway when replica < 0, else one replica of service.
//  path is taken over.
static int
s_child_init(sup_t *self, s_child_t *child, const char *service, int replica, char *path,
             int threads)
{
    child->path = path;
    child->is_gateway = replica < 0;
    if (child->is_gateway)
        snprintf(child->label, sizeof child->label, "%s", service);
    else
        snprintf(child->label, sizeof child->label, "%s-%d", service, replica);
    child->log_path = s_strf("%s/log/%s.log", self->home, child->label);
    if (!child->log_path)
        return -1;
    child->argv = calloc(S_ARGV_SLOTS, sizeof(char *));
    if (!child->argv)
        return -1;
    size_t n = 0;
    child->argv[n++] = strdup(path);
    if (child->is_gateway) {
        child->argv[n++] = strdup("--bind");
        child->argv[n++] = strdup(self->bind);
        child->argv[n++] = strdup("--home");
        child->argv[n++] = strdup(self->home);
    } else {
        child->argv[n++] = strdup("--gateway");
        child->argv[n++] = strdup(self->bind);
        child->argv[n++] = strdup("--home");
        child->argv[n++] = strdup(self->home);
        child->argv[n++] = strdup("--threads");
        child->argv[n++] = s_strf("%d", threads);
        child->argv[n++] = strdup("--replica");
        child->argv[n++] = s_strf("%d", replica);
    }
    for (size_t i = 0; i < n; i++)
        if (!child->argv[i])
            return -1;
    child->state = CHILD_WAITING;
    return 0;
}

//  Find every program and build the table; row 0 is the gateway.
static int
s_build_children(sup_t *self, const sup_options_t *opts)
{
    const char *build_dir = opts->bin_explicit ? NULL : opts->bin;
    size_t total = 1;
    for (size_t i = 0; i < opts->service_count; i++)
        total += (size_t)opts->services[i].replicas;
    self->children = calloc(total, sizeof(s_child_t));
    if (!self->children)
        return -1;

    char *path = sup_program_path(opts->bin, build_dir, "gateway");
    if (!path) {
        sup_log(self->log_fd, "error", "gateway", 0, "environs-gateway not found in %s%s",
                opts->bin, build_dir ? " nor in the build tree" : "");
        return -1;
    }
    if (s_child_init(self, &self->children[self->child_count++], "gateway", -1, path, 0))
        return -1;

    for (size_t i = 0; i < opts->service_count; i++) {
        const sup_service_t *svc = &opts->services[i];
        char *found = sup_program_path(opts->bin, build_dir, svc->name);
        if (!found && opts->services_explicit) {
            sup_log(self->log_fd, "error", svc->name, 0, "environs-%s not found in %s%s", svc->name,
                    opts->bin, build_dir ? " nor in the build tree" : "");
            return -1;
        }
        if (!found) {
            sup_log(self->log_fd, "skip", svc->name, 0, "environs-%s is not built", svc->name);
            continue;
        }
        for (int r = 0; r < svc->replicas; r++) {
            char *copy = r == 0 ? found : strdup(found);
            if (!copy)
                return -1;
            if (s_child_init(self, &self->children[self->child_count++], svc->name, r, copy,
                             opts->threads))
                return -1;
        }
    }
    return 0;
}

//  Block the signals the loop reads and open the signalfd that delivers
//  them. SIGPIPE is ignored so a closed stderr cannot kill the supervisor;
//  children get it back (s_exec_child).
static int
s_catch_signals(sup_t *self)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    if (sigprocmask(SIG_BLOCK, &set, &self->old_mask))
        return -1;
    self->mask_changed = true;
    self->sig_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    if (self->sig_fd < 0)
        return -1;
    struct sigaction ignore = {.sa_handler = SIG_IGN};
    sigemptyset(&ignore.sa_mask);
    return sigaction(SIGPIPE, &ignore, NULL);
}

//  Started with 0, 1 or 2 closed (from cron, say), our next open() would
//  take that number and a child's dup2 onto it would clobber our file.
static void
s_fill_std_fds(void)
{
    for (int fd = 0; fd < 3; fd++)
        if (fcntl(fd, F_GETFD) < 0 && open("/dev/null", O_RDWR) < 0)
            return;
}

sup_t *
sup_new(const sup_options_t *opts)
{
    s_fill_std_fds();
    sup_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    bool ok = false;
    self->lock_fd = self->log_fd = self->sig_fd = self->null_fd = -1;
    self->roll_pos = -1;
    self->self_pid = getpid();
    self->grace_ms = opts->grace_ms;
    self->home = strdup(opts->home);
    self->bind = strdup(opts->bind);
    char *log_dir = s_strf("%s/log", opts->home);
    char *log_path = s_strf("%s/log/supervisor.log", opts->home);
    self->pid_path = s_strf("%s/environs-local.pid", opts->home);
    self->endpoint_path = s_strf("%s/gateway.endpoint", opts->home);
    if (!self->home || !self->bind || !log_dir || !log_path || !self->pid_path ||
        !self->endpoint_path) {
        fprintf(stderr, "environs-local: out of memory\n");
        goto cleanup;
    }
    if (sup_mkdirs(self->home) || sup_mkdirs(log_dir)) {
        fprintf(stderr, "environs-local: cannot create %s: %s\n", log_dir, strerror(errno));
        goto cleanup;
    }
    //  The lock comes before anything is written, so a refused second
    //  supervisor leaves the first one's files alone.
    self->lock_fd = sup_lock_home(self->home);
    if (self->lock_fd < 0 && errno == EWOULDBLOCK) {
        fprintf(stderr, "environs-local: another supervisor is already running for %s (pid %d)\n",
                self->home, (int)sup_read_pid(self->home));
        goto cleanup;
    }
    if (self->lock_fd < 0) {
        fprintf(stderr, "environs-local: cannot lock %s: %s\n", self->home, strerror(errno));
        goto cleanup;
    }
    self->log_fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    self->null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (self->log_fd < 0 || self->null_fd < 0) {
        fprintf(stderr, "environs-local: cannot open %s: %s\n", log_path, strerror(errno));
        goto cleanup;
    }
    if (s_build_children(self, opts))
        goto cleanup;
    if (s_catch_signals(self)) {
        sup_log(self->log_fd, "error", "environs-local", 0, "signals: %s", strerror(errno));
        goto cleanup;
    }
    char text[32];
    snprintf(text, sizeof text, "%d\n", (int)self->self_pid);
    if (sup_write_atomic(self->pid_path, text)) {
        sup_log(self->log_fd, "error", "environs-local", 0, "cannot write %s: %s", self->pid_path,
                strerror(errno));
        goto cleanup;
    }
    self->pid_written = true;
    ok = true;
cleanup:
    free(log_dir);
    free(log_path);
    if (!ok)
        sup_destroy(&self);
    return self;
}

//  Runs in the forked child: give the program a clean process, then exec.
static void s_exec_child(sup_t *self, s_child_t *child, int log_fd) __attribute__((noreturn));

static void
s_exec_child(sup_t *self, s_child_t *child, int log_fd)
{
    //  Own process group: a terminal's Ctrl-C goes to the foreground group,
    //  and without this every child would get SIGINT at the same moment as
    //  the supervisor and die in no order, racing its restarts. Alone in the
    //  group, the supervisor gets the Ctrl-C and stops them in order.
    setpgid(0, 0);
    //  Leaving its own group means a killed supervisor's children no longer
    //  hear the terminal; ask the kernel to SIGTERM this child when the
    //  supervisor dies, and check it did not die before we asked.
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != self->self_pid)
        _exit(127);
    //  Handlers are reset by exec, but ignored signals (SIGPIPE here) and
    //  the blocked mask (all our loop's signals) would be inherited: a
    //  service with SIGTERM blocked could never be stopped.
    struct sigaction dfl = {.sa_handler = SIG_DFL};
    sigemptyset(&dfl.sa_mask);
    for (int sig = 1; sig < NSIG; sig++)
        sigaction(sig, &dfl, NULL); //  EINVAL for KILL, STOP and libc's own: fine
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);

    if (dup2(self->null_fd, STDIN_FILENO) < 0 || dup2(log_fd, STDOUT_FILENO) < 0 ||
        dup2(log_fd, STDERR_FILENO) < 0)
        _exit(127);
    //  Whatever the supervisor itself inherited (a terminal, a CI runner's
    //  pipes) is none of the service's business; ours are close-on-exec
    //  already. Best effort: an old kernel just keeps them.
    close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
    //  stderr is now the child's log: mark where this run begins.
    sup_log(-1, "exec", child->label, getpid(), "%s", child->path);
    execv(child->path, child->argv);
    sup_log(-1, "error", child->label, getpid(), "execv: %s", strerror(errno));
    _exit(127);
}

//  A start that failed, or an exit we did not ask for: try again later.
static void
s_schedule_restart(sup_t *self, s_child_t *child, int64_t now, int64_t ran_ms)
{
    child->delay_ms = sup_backoff_next(child->delay_ms, ran_ms);
    child->restart_ms = now + child->delay_ms;
    child->state = self->stopping ? CHILD_STOPPED : CHILD_WAITING;
}

static int
s_spawn(sup_t *self, s_child_t *child, int64_t now)
{
    int log_fd = open(child->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (log_fd < 0) {
        sup_log(self->log_fd, "error", child->label, 0, "cannot open %s: %s", child->log_path,
                strerror(errno));
        s_schedule_restart(self, child, now, 0);
        return -1;
    }
    pid_t pid = fork();
    if (pid == 0)
        s_exec_child(self, child, log_fd);
    int fork_errno = errno;
    close(log_fd);
    if (pid < 0) {
        sup_log(self->log_fd, "error", child->label, 0, "fork: %s", strerror(fork_errno));
        s_schedule_restart(self, child, now, 0);
        return -1;
    }
    //  Also set the group from this side so there is no moment in which a
    //  terminal signal reaches the child; errors mean the child did it.
    setpgid(pid, pid);
    child->pid = pid;
    child->state = CHILD_RUNNING;
    child->started_ms = now;
    child->killed = false;
    child->starts++;
    if (child->starts == 1)
        sup_log(self->log_fd, "start", child->label, pid, "program=%s", child->path);
    else
        sup_log(self->log_fd, "restart", child->label, pid, "starts=%u delay_ms=%d", child->starts,
                child->delay_ms);
    return 0;
}

//  Ask a running child to stop; SIGKILL follows at kill_ms.
static void
s_term(sup_t *self, s_child_t *child, int64_t kill_ms, const char *why)
{
    if (child->pid <= 0)
        return;
    kill(child->pid, SIGTERM);
    child->state = CHILD_STOPPING;
    child->kill_ms = kill_ms;
    sup_log(self->log_fd, "term", child->label, child->pid, "reason=%s", why);
}

static void
s_on_exit(sup_t *self, s_child_t *child, int status, int64_t now)
{
    char desc[64];
    sup_describe_status(status, desc, sizeof desc);
    int64_t ran_ms = now - child->started_ms;
    pid_t pid = child->pid;
    child->pid = 0;
    if (self->stopping) {
        child->state = CHILD_STOPPED;
        sup_log(self->log_fd, "exit", child->label, pid, "%s ran_ms=%lld", desc, (long long)ran_ms);
        return;
    }
    if (child->rolling) {
        //  We stopped it on purpose: start it again now, and forget past
        //  crashes so the new process starts with a clean backoff.
        child->rolling = false;
        child->delay_ms = 0;
        sup_log(self->log_fd, "exit", child->label, pid, "%s ran_ms=%lld reason=sighup", desc,
                (long long)ran_ms);
        s_spawn(self, child, now);
        self->roll_waiting = false;
        self->roll_settling = true;
        self->roll_settle_ms = now + SUP_ROLL_SETTLE_MS;
        return;
    }
    s_schedule_restart(self, child, now, ran_ms);
    sup_log(self->log_fd, "exit", child->label, pid, "%s ran_ms=%lld restart_in_ms=%d", desc,
            (long long)ran_ms, child->delay_ms);
}

//  Collect every exited child; one SIGCHLD may stand for several.
static void
s_reap(sup_t *self, int64_t now)
{
    for (;;) {
        int status = 0;
        pid_t pid = waitpid(-1, &status, WNOHANG);
        if (pid < 0 && errno == EINTR)
            continue;
        if (pid <= 0)
            return;
        for (size_t i = 0; i < self->child_count; i++)
            if (self->children[i].pid == pid) {
                s_on_exit(self, &self->children[i], status, now);
                break;
            }
    }
}

static void
s_stop_begin(sup_t *self, int signo, int64_t now)
{
    if (self->stopping) {
        //  Asked twice: the operator does not want to wait.
        sup_log(self->log_fd, "force", "environs-local", self->self_pid, "signal=%s",
                sigabbrev_np(signo));
        self->stop_deadline_ms = now;
        for (size_t i = 0; i < self->child_count; i++)
            if (self->children[i].pid > 0)
                s_term(self, &self->children[i], now, "forced");
        return;
    }
    self->stopping = true;
    self->stop_deadline_ms = now + self->grace_ms;
    self->gateway_term_ms = now + self->grace_ms / 2;
    self->roll_pos = -1;
    sup_log(self->log_fd, "stop", "environs-local", self->self_pid, "signal=%s grace_ms=%d",
            sigabbrev_np(signo), self->grace_ms);
    for (size_t i = 0; i < self->child_count; i++) {
        s_child_t *child = &self->children[i];
        child->rolling = false;
        if (child->pid <= 0)
            child->state = CHILD_STOPPED;
        else if (!child->is_gateway)
            s_term(self, child, self->stop_deadline_ms, "stop");
    }
}

//  The gateway goes last: once every service is gone, or when half the
//  grace period is spent so that it too gets a chance to exit cleanly.
static void
s_stop_tick(sup_t *self, int64_t now)
{
    s_child_t *gateway = &self->children[0];
    if (gateway->state != CHILD_RUNNING)
        return;
    bool services_gone = true;
    for (size_t i = 1; i < self->child_count; i++)
        if (self->children[i].pid > 0)
            services_gone = false;
    if (services_gone || now >= self->gateway_term_ms)
        s_term(self, gateway, self->stop_deadline_ms, "stop");
}

static void
s_roll_begin(sup_t *self)
{
    if (self->stopping)
        return;
    if (self->roll_pos >= 0) {
        //  Restarting the whole set again after this pass makes sure every
        //  process started after the latest SIGHUP (new binaries, new keys).
        self->roll_again = true;
        sup_log(self->log_fd, "hup", "environs-local", self->self_pid, "queued after this roll");
        return;
    }
    self->roll_pos = 0;
    self->roll_waiting = self->roll_settling = false;
    sup_log(self->log_fd, "hup", "environs-local", self->self_pid, "rolling restart of %zu",
            self->child_count);
}

static void
s_roll_tick(sup_t *self, int64_t now)
{
    while (self->roll_pos >= 0 && !self->roll_waiting) {
        if (self->roll_settling) {
            if (now < self->roll_settle_ms)
                return;
            self->roll_settling = false;
            self->roll_pos++;
        }
        if ((size_t)self->roll_pos >= self->child_count) {
            sup_log(self->log_fd, "rolled", "environs-local", self->self_pid, "%s",
                    self->roll_again ? "again" : "done");
            self->roll_pos = self->roll_again ? 0 : -1;
            self->roll_again = false;
            continue;
        }
        s_child_t *child = &self->children[self->roll_pos];
        if (child->state == CHILD_RUNNING) {
            child->rolling = true;
            self->roll_waiting = true;
            s_term(self, child, now + self->grace_ms, "sighup");
        } else
            self->roll_pos++; //  a waiting child starts fresh by itself
    }
}

//  Act on every timer that is due.
static void
s_tick(sup_t *self, int64_t now)
{
    for (size_t i = 0; i < self->child_count; i++) {
        s_child_t *child = &self->children[i];
        if (child->state == CHILD_WAITING && now >= child->restart_ms)
            s_spawn(self, child, now);
        else if (child->state == CHILD_STOPPING && child->pid > 0 && !child->killed &&
                 now >= child->kill_ms) {
            kill(child->pid, SIGKILL);
            child->killed = true;
            sup_log(self->log_fd, "kill", child->label, child->pid, "reason=grace period over");
        }
    }
    if (self->stopping)
        s_stop_tick(self, now);
    else
        s_roll_tick(self, now);
}

//  Milliseconds until the nearest timer, or -1 for none.
static int
s_next_wake(const sup_t *self, int64_t now)
{
    int64_t next = INT64_MAX;
    for (size_t i = 0; i < self->child_count; i++) {
        const s_child_t *child = &self->children[i];
        if (child->state == CHILD_WAITING && child->restart_ms < next)
            next = child->restart_ms;
        if (child->state == CHILD_STOPPING && !child->killed && child->kill_ms < next)
            next = child->kill_ms;
    }
    if (self->stopping && self->children[0].state == CHILD_RUNNING && self->gateway_term_ms < next)
        next = self->gateway_term_ms;
    if (!self->stopping && self->roll_settling && self->roll_settle_ms < next)
        next = self->roll_settle_ms;
    if (next == INT64_MAX)
        return -1;
    return next <= now ? 0 : (int)(next - now > 60000 ? 60000 : next - now);
}

static bool
s_all_down(const sup_t *self)
{
    for (size_t i = 0; i < self->child_count; i++)
        if (self->children[i].pid > 0)
            return false;
    return true;
}

static void
s_read_signals(sup_t *self)
{
    struct signalfd_siginfo info;
    while (read(self->sig_fd, &info, sizeof info) == (ssize_t)sizeof info) {
        int64_t now = s_now_ms();
        if (info.ssi_signo == SIGINT || info.ssi_signo == SIGTERM)
            s_stop_begin(self, (int)info.ssi_signo, now);
        else if (info.ssi_signo == SIGHUP)
            s_roll_begin(self);
        //  SIGCHLD needs nothing here: the loop reaps on every turn.
    }
}

int
sup_run(sup_t *self)
{
    int rc = SUP_EXIT_OK;
    char text[512];
    snprintf(text, sizeof text, "%s\n", self->bind);
    if (sup_write_atomic(self->endpoint_path, text)) {
        sup_log(self->log_fd, "error", "environs-local", self->self_pid, "cannot write %s: %s",
                self->endpoint_path, strerror(errno));
        return SUP_EXIT_FAIL;
    }
    self->endpoint_written = true;
    sup_log(self->log_fd, "run", "environs-local", self->self_pid, "home=%s bind=%s children=%zu",
            self->home, self->bind, self->child_count);
    //  Row order is start order: the gateway first, so services find it.
    int64_t now = s_now_ms();
    for (size_t i = 0; i < self->child_count; i++)
        s_spawn(self, &self->children[i], now);

    for (;;) {
        now = s_now_ms();
        s_reap(self, now);
        s_tick(self, now);
        if (self->stopping && s_all_down(self))
            break;
        struct pollfd pfd = {.fd = self->sig_fd, .events = POLLIN};
        int ready = poll(&pfd, 1, s_next_wake(self, s_now_ms()));
        if (ready < 0 && errno != EINTR) {
            sup_log(self->log_fd, "error", "environs-local", self->self_pid, "poll: %s",
                    strerror(errno));
            rc = SUP_EXIT_FAIL;
            s_stop_begin(self, SIGTERM, s_now_ms());
            continue;
        }
        if (ready > 0)
            s_read_signals(self);
    }
    sup_log(self->log_fd, "stopped", "environs-local", self->self_pid, "children=%zu",
            self->child_count);
    return rc;
}

void
sup_destroy(sup_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    sup_t *self = *self_p;
    //  Normally sup_run has stopped everything; if not, no child may outlive
    //  us unreaped.
    for (size_t i = 0; i < self->child_count; i++) {
        s_child_t *child = &self->children[i];
        if (child->pid > 0) {
            kill(child->pid, SIGKILL);
            while (waitpid(child->pid, NULL, 0) < 0 && errno == EINTR)
                ;
        }
        s_child_free(child);
    }
    free(self->children);
    //  Remove our files while still holding the lock, so a supervisor that
    //  starts next cannot have its fresh files deleted by us.
    if (self->endpoint_written)
        unlink(self->endpoint_path);
    if (self->pid_written)
        unlink(self->pid_path);
    if (self->sig_fd >= 0)
        close(self->sig_fd);
    if (self->mask_changed)
        sigprocmask(SIG_SETMASK, &self->old_mask, NULL);
    if (self->null_fd >= 0)
        close(self->null_fd);
    if (self->log_fd >= 0)
        close(self->log_fd);
    if (self->lock_fd >= 0)
        close(self->lock_fd);
    free(self->home);
    free(self->bind);
    free(self->pid_path);
    free(self->endpoint_path);
    free(self);
    *self_p = NULL;
}
