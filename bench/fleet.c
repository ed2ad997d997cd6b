/*  fleet.c — see fleet.h. */
#include "fleet.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/clock.h"

#define FLEET_MAX 16

typedef struct {
    pid_t pid;
    char name[48];
} proc_t;

struct fleet {
    char home[64];
    bool keep_home;
    proc_t procs[FLEET_MAX];
    size_t count;
};

fleet_t *
fleet_new(void)
{
    fleet_t *self = calloc(1, sizeof *self);
    snprintf(self->home, sizeof self->home, "/tmp/environs-bench-XXXXXX");
    if (!mkdtemp(self->home)) {
        free(self);
        return NULL;
    }
    return self;
}

static int
s_rm(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void) sb;
    (void) flag;
    (void) ftw;
    return remove(path);
}

void
fleet_destroy(fleet_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    fleet_t *self = *self_p;
    for (size_t i = self->count; i-- > 0;) {
        pid_t pid = self->procs[i].pid;
        kill(pid, SIGTERM);
        int64_t until = en_mono_ms() + 5000;
        while (waitpid(pid, NULL, WNOHANG) == 0) {
            if (en_mono_ms() > until) {
                kill(pid, SIGKILL);
                waitpid(pid, NULL, 0);
                break;
            }
            usleep(10000);
        }
    }
    if (self->keep_home)
        fprintf(stderr, "bench: logs kept in %s\n", self->home);
    else
        nftw(self->home, s_rm, 16, FTW_DEPTH | FTW_PHYS);
    free(self);
    *self_p = NULL;
}

pid_t
fleet_spawn(fleet_t *self, const char *name, char *const argv[])
{
    if (self->count == FLEET_MAX)
        return -1;
    char log[128];
    snprintf(log, sizeof log, "%s/%s.log", self->home, name);
    pid_t pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGTERM);
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
    if (pid > 0) {
        proc_t *p = &self->procs[self->count++];
        p->pid = pid;
        snprintf(p->name, sizeof p->name, "%s", name);
    }
    return pid;
}

const char *
fleet_home(fleet_t *self)
{
    return self->home;
}

void
fleet_keep_home(fleet_t *self)
{
    self->keep_home = true;
}

size_t
fleet_size(fleet_t *self)
{
    return self->count;
}

pid_t
fleet_pid(fleet_t *self, size_t index)
{
    return index < self->count ? self->procs[index].pid : -1;
}

const char *
fleet_name(fleet_t *self, size_t index)
{
    return index < self->count ? self->procs[index].name : NULL;
}

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
fleet_free_ports(int span)
{
    unsigned seed = (unsigned) getpid() ^ (unsigned) en_mono_ms();
    for (int tries = 0; tries < 200; tries++) {
        // below the ephemeral range, where connecting sockets take theirs
        int port = 20000 + (int) (rand_r(&seed) % 12000), ok = 1;
        for (int i = 0; i < span && ok; i++)
            ok = s_port_free(port + i);
        if (ok)
            return port;
    }
    return -1;
}

fleet_usage_t
fleet_usage(pid_t pid)
{
    fleet_usage_t u = {0, 0};
    char dir[64], path[384], line[512];
    snprintf(dir, sizeof dir, "/proc/%d/task", (int) pid);
    DIR *d = opendir(dir);
    struct dirent *e;
    double tick_us = 1e6 / (double) sysconf(_SC_CLK_TCK);
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "%s/%s/stat", dir, e->d_name);
        FILE *f = fopen(path, "r");
        if (f && fgets(line, sizeof line, f)) {
            // the fields after the ")" closing the command name; utime and
            // stime are the 12th and 13th of those
            char *p = strrchr(line, ')');
            unsigned long ut = 0, st = 0;
            if (p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut,
                            &st) == 2)
                u.cpu_us += (double) (ut + st) * tick_us;
        }
        if (f)
            fclose(f);
        snprintf(path, sizeof path, "%s/%s/status", dir, e->d_name);
        f = fopen(path, "r");
        long v;
        while (f && fgets(line, sizeof line, f))
            if (sscanf(line, "voluntary_ctxt_switches: %ld", &v) == 1 ||
                sscanf(line, "nonvoluntary_ctxt_switches: %ld", &v) == 1)
                u.switches += (double) v;
        if (f)
            fclose(f);
    }
    if (d)
        closedir(d);
    return u;
}

long
fleet_status_kb(pid_t pid, const char *field)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int) pid);
    FILE *f = fopen(path, "r");
    long kb = -1;
    if (!f)
        return -1;
    size_t n = strlen(field);
    while (fgets(line, sizeof line, f))
        if (strncmp(line, field, n) == 0 && line[n] == ':' && sscanf(line + n + 1, "%ld", &kb) == 1)
            break;
    fclose(f);
    return kb;
}

long
fleet_rss_kb(pid_t pid)
{
    return fleet_status_kb(pid, "VmRSS");
}
