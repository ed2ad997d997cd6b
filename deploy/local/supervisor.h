/*  supervisor.h — environs-local, the one-machine supervisor.

    environs-local starts the gateway and every service replica as child
    processes, restarts any that exits, and stops them in order. It is plain
    POSIX (fork, execv, waitpid) plus three Linux calls (signalfd, prctl's
    parent-death signal, close_range) and links no ZeroMQ: it never
    talks to the processes it runs, it only starts, watches and signals them,
    which is all Kubernetes will do for them later.

    The program is split by topic, and this header is what the pieces (and
    the tests) share:

    - options.c   command line, defaults for home and bin, finding programs,
                  the restart backoff rule;
    - home.c      the state directory: lock, pid file, gateway.endpoint,
                  the event log, and --status;
    - supervisor.c  the sup_t class: the child table and the event loop;
    - main.c      parse, then --help, --status or sup_new/sup_run/destroy.

    Nothing here keeps static mutable state; the supervisor is one thread. */
#ifndef EN_SUPERVISOR_H
#define EN_SUPERVISOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

//  Services started when --services is not given, in start order. Any whose
//  executable is missing is skipped (they land one by one); the gateway is
//  always required and always started first.
#define SUP_DEFAULT_SERVICES "registry,broker,firewaller,networking,imagemeta"
#define SUP_DEFAULT_BIND "tcp://127.0.0.1:7450"
#define SUP_DEFAULT_THREADS 4
#define SUP_DEFAULT_GRACE_MS 10000
#define SUP_MAX_REPLICAS 64
#define SUP_MAX_SERVICES 32

//  Restart backoff: first delay, cap, and how long a child must have run
//  before its delay goes back to the first one.
#define SUP_BACKOFF_MIN_MS 100
#define SUP_BACKOFF_MAX_MS 5000
#define SUP_BACKOFF_RESET_MS 10000

//  Exit codes. --status follows LSB init-script codes so scripts can test it.
#define SUP_EXIT_OK 0
#define SUP_EXIT_FAIL 1
#define SUP_EXIT_USAGE 2
#define SUP_STATUS_RUNNING 0
#define SUP_STATUS_DEAD 1
#define SUP_STATUS_STOPPED 3

// ---------------------------------------------------------------- options.c

typedef struct {
    char *name;   //  "registry"
    int replicas; //  >= 1
} sup_service_t;

typedef struct {
    char *home;             //  state directory
    char *bind;             //  gateway endpoint
    char *bin;              //  where environs-<name> programs are looked for
    bool bin_explicit;      //  --bin given: look only there, no build-tree fallback
    int threads;            //  --threads passed to every service
    int grace_ms;           //  how long a stop waits before SIGKILL
    bool services_explicit; //  --services given: a missing program is an error
    bool status;            //  --status: report and exit
    bool help;              //  --help: print usage and exit 0
    sup_service_t services[SUP_MAX_SERVICES];
    size_t service_count;
} sup_options_t;

//  Parse the command line into opts (zeroed first) and apply the defaults.
//  Returns 0, or -1 with a one-line reason in errbuf. Call
//  sup_options_clear() in both cases.
int sup_options_parse(sup_options_t *opts, int argc, char *const *argv, char *errbuf,
                      size_t errlen);

//  Free what sup_options_parse allocated; safe to call twice.
void sup_options_clear(sup_options_t *opts);

//  The usage text, for --help and for usage errors.
const char *sup_usage(void);

//  Default state directory: $ENVIRONS_HOME, else $XDG_DATA_HOME/environs,
//  else ~/.local/share/environs. Caller frees; NULL if no home is known.
char *sup_default_home(void);

//  Directory holding the running executable (/proc/self/exe). Caller frees.
char *sup_exe_dir(void);

//  Where to run environs-<name> from: <bin>/environs-<name>, else (when
//  build_dir is not NULL) <build_dir>/../../services/<name>/environs-<name>,
//  the CMake build-tree layout. Caller frees; NULL if neither is an
//  executable regular file.
char *sup_program_path(const char *bin, const char *build_dir, const char *name);

//  The delay before restarting a child that exited after running ran_ms,
//  given the delay used last time (0 for none): 100 ms, doubling to a 5 s
//  cap, back to 100 ms once a child has run 10 s.
int sup_backoff_next(int prev_delay_ms, int64_t ran_ms);

// ------------------------------------------------------------------- home.c

//  Create dir and its parents with mode 0700 (existing ones are left as
//  they are). Returns 0 or -1 with errno set.
int sup_mkdirs(const char *dir);

//  Write text to path through a temporary file and rename, so a reader sees
//  the old content or the new, never a torn file. Returns 0 or -1 (errno).
int sup_write_atomic(const char *path, const char *text);

//  Take the exclusive lock <home>/environs-local.lock without waiting.
//  Returns the locked fd (close-on-exec, so children never hold it), or -1:
//  errno EWOULDBLOCK when another supervisor holds it.
int sup_lock_home(const char *home);

//  Read the pid in <home>/environs-local.pid; 0 if absent or unreadable.
pid_t sup_read_pid(const char *home);

//  --status: print whether a supervisor runs for home; returns an LSB code.
int sup_status(const char *home);

//  Append one event line to stderr and to log_fd (when >= 0):
//  "<UTC time> <event> <name> pid=<pid> <detail>". pid <= 0 is left out.
void sup_log(int log_fd, const char *event, const char *name, pid_t pid, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

//  "exit=N" or "signal=KILL" for a waitpid status, into buf.
const char *sup_describe_status(int status, char *buf, size_t len);

// ------------------------------------------------------------- supervisor.c

typedef struct _sup_t sup_t;

//  Prepare home (dirs, lock, log, pid file), find the programs and block the
//  signals the loop will read. Returns NULL after printing the reason; a
//  second supervisor for the same home fails here.
sup_t *sup_new(const sup_options_t *opts);

//  Start the set and supervise it until SIGINT or SIGTERM; then stop it in
//  order and remove gateway.endpoint and the pid file. Returns an exit code.
int sup_run(sup_t *self);

//  Close and free; safe with NULL and twice.
void sup_destroy(sup_t **self_p);

#endif
