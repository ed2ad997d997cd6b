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

//  --------------------------------------------------------------------------
//  Unique resident memory: the page frames of a set of processes, each once

//  A /proc/<pid>/pagemap entry, one per virtual page (the kernel's
//  Documentation/admin-guide/mm/pagemap.rst).
#define PM_PRESENT (1ULL << 63)
#define PM_SWAPPED (1ULL << 62)
#define PM_FRAME ((1ULL << 55) - 1) // the PFN, or the swap type and offset
#define PM_CHUNK (64 * 1024 / 8)    // entries per read: 64 KiB

//  A set of uint64 by open addressing with linear probing, kept at most
//  half full. 0 marks an empty slot: no user page sits in frame 0, and a
//  swapped page's key carries PM_SWAPPED, so no key is 0.
typedef struct {
    uint64_t *slots;
    size_t cap; // a power of two
    size_t count;
} frameset_t;

static size_t
s_frame_hash(uint64_t key)
{
    // the finaliser of splitmix64: consecutive frames spread over the table
    key ^= key >> 30;
    key *= 0xbf58476d1ce4e5b9ULL;
    key ^= key >> 27;
    key *= 0x94d049bb133111ebULL;
    return (size_t) (key ^ (key >> 31));
}

//  The slot holding key, or the empty slot where it belongs.
static size_t
s_frameset_slot(const frameset_t *set, uint64_t key)
{
    size_t i = s_frame_hash(key) & (set->cap - 1);
    while (set->slots[i] && set->slots[i] != key)
        i = (i + 1) & (set->cap - 1);
    return i;
}

static int
s_frameset_grow(frameset_t *set)
{
    frameset_t bigger = {.cap = set->cap ? set->cap * 2 : 1 << 14, .count = set->count};
    bigger.slots = calloc(bigger.cap, sizeof *bigger.slots);
    if (!bigger.slots)
        return -1;
    for (size_t i = 0; i < set->cap; i++)
        if (set->slots[i])
            bigger.slots[s_frameset_slot(&bigger, set->slots[i])] = set->slots[i];
    free(set->slots);
    *set = bigger;
    return 0;
}

//  1 when key is new to the set, 0 when it was there, -1 out of memory.
static int
s_frameset_add(frameset_t *set, uint64_t key)
{
    if (2 * (set->count + 1) > set->cap && s_frameset_grow(set))
        return -1;
    size_t i = s_frameset_slot(set, key);
    if (set->slots[i])
        return 0;
    set->slots[i] = key;
    set->count++;
    return 1;
}

typedef struct {
    frameset_t set;
    uint64_t *buf;          // PM_CHUNK entries
    long page;              // bytes
    long resident, swapped; // pages new to the set
} frame_scan_t;

//  Add the entries of pages [first, last) of one mapping to the set. A
//  mapping whose pagemap cannot be read is skipped: a process that is gone
//  fails when its maps is opened, not here. -1 when frame numbers are
//  hidden or memory runs out.
static int
s_scan_range(frame_scan_t *scan, int fd, uint64_t first, uint64_t last)
{
    for (uint64_t page = first; page < last;) {
        size_t want = last - page < PM_CHUNK ? (size_t) (last - page) : PM_CHUNK;
        ssize_t got = pread(fd, scan->buf, want * sizeof *scan->buf,
                            (off_t) (page * sizeof *scan->buf));
        if (got < (ssize_t) sizeof *scan->buf)
            return 0;
        size_t entries = (size_t) got / sizeof *scan->buf;
        for (size_t i = 0; i < entries; i++) {
            uint64_t e = scan->buf[i];
            int added = 0;
            if (e & PM_PRESENT) {
                if ((e & PM_FRAME) == 0)
                    return -1; // present, but the PFN hidden from us
                scan->resident += added = s_frameset_add(&scan->set, e & PM_FRAME);
            } else if (e & PM_SWAPPED)
                scan->swapped += added = s_frameset_add(&scan->set, (e & PM_FRAME) | PM_SWAPPED);
            if (added < 0)
                return -1;
        }
        page += entries;
    }
    return 0;
}

//  Every mapping of one process, but [vvar] (the kernel's, not pages of
//  ours) and [vsyscall] (above the user address space).
static int
s_scan_process(frame_scan_t *scan, pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/maps", (int) pid);
    FILE *maps = fopen(path, "r");
    snprintf(path, sizeof path, "/proc/%d/pagemap", (int) pid);
    int fd = open(path, O_RDONLY);
    char *line = NULL;
    size_t size = 0;
    int rc = -1;
    if (!maps || fd < 0)
        goto cleanup;
    rc = 0;
    while (rc == 0 && getline(&line, &size, maps) > 0) {
        unsigned long long start, end;
        int name = 0;
        // start-end perms offset dev inode [name]
        if (sscanf(line, "%llx-%llx %*s %*s %*s %*s %n", &start, &end, &name) < 2 || !name)
            continue;
        if (strncmp(line + name, "[vvar", 5) == 0 || strncmp(line + name, "[vsyscall]", 10) == 0)
            continue;
        rc = s_scan_range(scan, fd, start / (uint64_t) scan->page, end / (uint64_t) scan->page);
    }
cleanup:
    free(line);
    if (maps)
        fclose(maps);
    if (fd >= 0)
        close(fd);
    return rc;
}

long
fleet_unique_kb(const pid_t *pids, size_t n, long *swapped_kb)
{
    frame_scan_t scan = {.page = sysconf(_SC_PAGESIZE)};
    scan.buf = malloc(PM_CHUNK * sizeof *scan.buf);
    long kb = -1;
    if (!scan.buf || s_frameset_grow(&scan.set))
        goto cleanup;
    for (size_t i = 0; i < n; i++)
        if (s_scan_process(&scan, pids[i]))
            goto cleanup;
    kb = scan.resident * (scan.page / 1024);
    if (swapped_kb)
        *swapped_kb = scan.swapped * (scan.page / 1024);
cleanup:
    free(scan.buf);
    free(scan.set.slots);
    return kb;
}

long
fleet_unique_kb_all(fleet_t *self, long *swapped_kb)
{
    pid_t pids[FLEET_MAX];
    for (size_t i = 0; i < self->count; i++)
        pids[i] = self->procs[i].pid;
    return fleet_unique_kb(pids, self->count, swapped_kb);
}
