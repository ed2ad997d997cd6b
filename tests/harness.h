/*  harness.h — start the real processes on loopback for e2e tests.

    A harness owns a temporary state directory, a gateway on a free
    loopback port, and any number of service processes started from the
    build tree. It waits for readiness by asking the gateway (8/MMI) until
    each service has a worker — never by sleeping. Teardown sends SIGTERM
    and reaps every child. */
#ifndef EN_TEST_HARNESS_H
#define EN_TEST_HARNESS_H

#include <stdbool.h>
#include <sys/types.h>

#include <jansson.h>

#include "bus/client.h"

#define HARNESS_MAX_PROCS 32

typedef struct {
    char home[256];
    char endpoint[64]; // tcp://127.0.0.1:PORT
    int port;
    pid_t pids[HARNESS_MAX_PROCS];
    char names[HARNESS_MAX_PROCS][32];
    int count;
    en_client_t *client;
} harness_t;

//  Make the home and pick a port; starts nothing.
int harness_init(harness_t *h);
//  Start build/services/<name>/environs-<name> with the standard options
//  (gateway: --bind; others: --gateway --home --threads 2 --replica i).
//  Returns the index of the process.
int harness_start(harness_t *h, const char *name, int replica);
//  Another free port triple (for a second gateway); 0 when none found.
int harness_free_port(harness_t *h);
//  Start any program with argv (argv[0] is the path), logging to
//  <home>/<name>-<replica>.log. Returns the index of the process.
int harness_spawn(harness_t *h, const char *name, int replica, char *const argv[]);
//  Wait until the gateway reports a worker for service (deadline ms).
int harness_wait_service(harness_t *h, const char *service, int timeout_ms);
//  Wait up to timeout_ms for process i to exit (a pidfd poll, not a sleep):
//  its wait status, or -1 when it is still running. A reaped process is
//  forgotten, as after harness_kill.
int harness_wait(harness_t *h, int i, int timeout_ms);
//  Kill process i with sig and reap it.
void harness_kill(harness_t *h, int i, int sig);
//  SIGTERM everything, reap, remove the home directory. Returns -1 when a
//  process's log holds a sanitizer report (ASan, LSan, UBSan) or a process
//  did not exit cleanly on SIGTERM, so the test fails with it.
int harness_fini(harness_t *h);
//  Run a command with ENVIRONS_GATEWAY/ENVIRONS_HOME set; capture stdout and
//  stderr (malloc'd, caller frees); returns the exit status.
int harness_run(harness_t *h, char **out, char **err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
//  Start the gateway and each named service (replica 0; names ends with
//  NULL), wait until every service answers at the gateway, and make
//  <home>/sim for the embedded sim cloud. 0, or -1 when one never came up.
int harness_up(harness_t *h, const char *const *services);
//  The index of the first process started as `name`, or -1.
int harness_find(harness_t *h, const char *name);
//  The same for the CLI of this build: `environs <args>`.
int harness_cli(harness_t *h, char **out, char **err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
//  stdout of `environs <args>` (malloc'd) when it exits 0 and, with quiet,
//  prints nothing on stderr; else NULL with why saying what it did.
char *harness_cli_ok(harness_t *h, bool quiet, char *why, size_t why_size, const char *args);
//  `environs <args> --format json` parsed as a JSON object (a new
//  reference), as harness_cli_ok; NULL with why when it is not one.
json_t *harness_cli_json(harness_t *h, bool quiet, char *why, size_t why_size, const char *args);
//  The embedded sim cloud the services of this harness use
//  (<home>/sim/sim.db), opened as its operator would, to see what the API
//  does not show; NULL with err. In harness_sim.c: only tests that link
//  the providers have it.
typedef struct _en_sim_cloud_t en_sim_cloud_t;
en_sim_cloud_t *harness_sim(harness_t *h, en_err_t *err);

//  Path of a built binary (build/<rel>).
const char *harness_bin(const char *rel);

#endif
