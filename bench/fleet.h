/*  fleet.h — the processes one benchmark phase starts, and what they cost.

    A fleet owns a fresh home directory (/tmp/environs-bench-XXXXXX) and
    the processes started into it, each writing its output to
    <home>/<name>.log and dying with us (PR_SET_PDEATHSIG). Destroying the
    fleet stops them (SIGTERM, then SIGKILL after 5 s), last started first,
    and removes the home unless fleet_keep_home was called, so that a
    failed phase leaves its logs behind.

    The probes read /proc: the CPU time and context switches of every
    thread of a process (our profile where hardware counters are not
    available) and its resident set need no privilege. Summing resident
    sets over processes counts a shared library once per process that maps
    it (most of a service's VmRSS is libc, libstdc++ and libzmq: RssFile),
    so the memory a set of processes takes together has its own probe: it
    reads the page frame numbers of their resident pages from
    /proc/<pid>/pagemap and counts each frame once. The kernel shows frame
    numbers only to CAP_SYS_ADMIN (root); to others they read as 0, and the
    probe says so by returning -1. */
#ifndef BENCH_FLEET_H
#define BENCH_FLEET_H

#include <stdbool.h>
#include <sys/types.h>

typedef struct fleet fleet_t;

fleet_t *fleet_new(void);
void fleet_destroy(fleet_t **self_p);

//  Start argv[0] (argv NULL-terminated) as `name`; its pid, or -1.
pid_t fleet_spawn(fleet_t *self, const char *name, char *const argv[]);
const char *fleet_home(fleet_t *self);
//  Keep the home, and say where it is, when the fleet is destroyed.
void fleet_keep_home(fleet_t *self);

size_t fleet_size(fleet_t *self);
pid_t fleet_pid(fleet_t *self, size_t index);
const char *fleet_name(fleet_t *self, size_t index);

//  `span` consecutive free loopback ports, the first returned; -1 if none.
int fleet_free_ports(int span);

typedef struct {
    double cpu_us;   // user + system time of all threads
    double switches; // voluntary + involuntary context switches
} fleet_usage_t;

fleet_usage_t fleet_usage(pid_t pid);
//  VmRSS in kB; -1 when the process is gone.
long fleet_rss_kb(pid_t pid);
//  Any kB field of /proc/<pid>/status ("VmRSS", "VmHWM", ...); -1 when
//  the process is gone or has no such field.
long fleet_status_kb(pid_t pid, const char *field);

//  The physical memory the n processes take together, in kB: every
//  resident page mapped by any of them (file or anonymous, private or
//  shared) counted once. A page also mapped by a process outside the set
//  (libc's text, say) counts too, so this is what the set keeps resident,
//  not what stopping it would free. Pages in swap are counted apart, each
//  swap slot once, into *swapped_kb unless it is NULL. -1 when frame
//  numbers are hidden (not CAP_SYS_ADMIN), a process is gone, or memory
//  runs out: the caller falls back to summed VmRSS and says so. Reading
//  the page tables takes a few milliseconds per process (see the benches).
long fleet_unique_kb(const pid_t *pids, size_t n, long *swapped_kb);
//  fleet_unique_kb over every process the fleet started.
long fleet_unique_kb_all(fleet_t *self, long *swapped_kb);

#endif
