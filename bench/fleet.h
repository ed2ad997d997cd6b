/*  fleet.h — the processes one benchmark phase starts, and what they cost.

    A fleet owns a fresh home directory (/tmp/environs-bench-XXXXXX) and
    the processes started into it, each writing its output to
    <home>/<name>.log and dying with us (PR_SET_PDEATHSIG). Destroying the
    fleet stops them (SIGTERM, then SIGKILL after 5 s), last started first,
    and removes the home unless fleet_keep_home was called, so that a
    failed phase leaves its logs behind.

    The probes read /proc and need no privilege: the CPU time and context
    switches of every thread of a process (our profile where hardware
    counters are not available) and its resident set. */
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

#endif
