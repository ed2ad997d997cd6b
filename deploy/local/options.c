/*  options.c — the command line of environs-local and the rules it implies.

    The parser is a table: each row names an option, says whether it takes a
    value, and points at the function that applies it (dispatch is data, as
    in nginx's command tables). Both "--opt value" and "--opt=value" work.
    It keeps no global state (unlike getopt), so tests can parse as often as
    they like.

    --replicas names services, so it is applied after the whole line is
    read and the service list is known: "--replicas broker=3 --services
    broker" and the other order mean the same.

    Finding programs: an installed set keeps every environs-* binary in one
    directory, so by default we look beside the supervisor itself. A CMake
    build tree instead puts the supervisor at build/deploy/local/ and each
    service at build/services/<name>/, so when --bin is not given we also
    look there. An explicit --bin is taken literally (no fallback), so a test
    or an operator who points at a directory gets exactly what is in it. */
#include "supervisor.h"

#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct {
    const char *name;
    int replicas;
} s_pending_t;

//  Parser state that only lives while one command line is read.
typedef struct {
    sup_options_t *opts;
    const char *services; //  borrowed from argv
    s_pending_t pending[SUP_MAX_SERVICES];
    size_t pending_count;
    char *errbuf;
    size_t errlen;
} s_parse_t;

typedef int (*s_apply_fn)(s_parse_t *p, const char *value);

typedef struct {
    const char *name;
    bool takes_value;
    s_apply_fn apply;
} s_option_t;

static int s_fail(s_parse_t *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int
s_fail(s_parse_t *p, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->errbuf, p->errlen, fmt, ap);
    va_end(ap);
    return -1;
}

static int
s_replace(char **slot, const char *value)
{
    char *copy = strdup(value);
    if (!copy)
        return -1;
    free(*slot);
    *slot = copy;
    return 0;
}

//  A whole-string integer within [lo, hi]; -1 when it is not one.
static int
s_parse_int(const char *text, int lo, int hi, int *out)
{
    char *end = NULL;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || end == text || *end != '\0' || v < lo || v > hi)
        return -1;
    *out = (int)v;
    return 0;
}

//  Service names become file names and program names, so keep them plain.
static bool
s_valid_service_name(const char *name, size_t len)
{
    if (len == 0 || len > 32 || name[0] == '-')
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
            return false;
    }
    return true;
}

static int
s_opt_home(s_parse_t *p, const char *value)
{
    if (!*value)
        return s_fail(p, "--home needs a directory");
    return s_replace(&p->opts->home, value);
}

static int
s_opt_bind(s_parse_t *p, const char *value)
{
    if (!strstr(value, "://"))
        return s_fail(p, "--bind: \"%s\" is not an endpoint like tcp://127.0.0.1:7450", value);
    return s_replace(&p->opts->bind, value);
}

static int
s_opt_bin(s_parse_t *p, const char *value)
{
    if (!*value)
        return s_fail(p, "--bin needs a directory");
    p->opts->bin_explicit = true;
    return s_replace(&p->opts->bin, value);
}

static int
s_opt_threads(s_parse_t *p, const char *value)
{
    if (s_parse_int(value, 1, 1024, &p->opts->threads))
        return s_fail(p, "--threads: \"%s\" is not a number from 1 to 1024", value);
    return 0;
}

static int
s_opt_grace(s_parse_t *p, const char *value)
{
    if (s_parse_int(value, 0, 3600 * 1000, &p->opts->grace_ms))
        return s_fail(p, "--grace-ms: \"%s\" is not a number of milliseconds", value);
    return 0;
}

static int
s_opt_services(s_parse_t *p, const char *value)
{
    p->services = value;
    p->opts->services_explicit = true;
    return 0;
}

//  "svc=N[,svc=N...]"; may be given more than once, the last count wins.
static int
s_opt_replicas(s_parse_t *p, const char *value)
{
    const char *item = value;
    while (*item) {
        size_t len = strcspn(item, ",");
        const char *eq = memchr(item, '=', len);
        char count[16];
        size_t count_len = eq ? len - (size_t)(eq - item) - 1 : 0;
        if (!eq || count_len == 0 || count_len >= sizeof count)
            return s_fail(p, "--replicas: \"%s\" is not svc=N[,svc=N...]", value);
        memcpy(count, eq + 1, count_len);
        count[count_len] = '\0';
        if (p->pending_count == SUP_MAX_SERVICES)
            return s_fail(p, "--replicas: too many entries in \"%s\"", value);
        s_pending_t *entry = &p->pending[p->pending_count];
        if (s_parse_int(count, 1, SUP_MAX_REPLICAS, &entry->replicas))
            return s_fail(p, "--replicas: count in \"%s\" must be 1 to %d", value,
                          SUP_MAX_REPLICAS);
        //  Keep the name as a pointer into argv; its end is the '='.
        entry->name = item;
        if (!s_valid_service_name(item, (size_t)(eq - item)))
            return s_fail(p, "--replicas: bad service name in \"%s\"", value);
        p->pending_count++;
        item += len;
        if (*item == ',')
            item++;
    }
    return 0;
}

static int
s_opt_status(s_parse_t *p, const char *value)
{
    (void)value;
    p->opts->status = true;
    return 0;
}

static int
s_opt_help(s_parse_t *p, const char *value)
{
    (void)value;
    p->opts->help = true;
    return 0;
}

//  Running in the foreground is the only mode for now; the flag is accepted
//  so scripts written today keep working when a daemon mode arrives.
static int
s_opt_foreground(s_parse_t *p, const char *value)
{
    (void)p;
    (void)value;
    return 0;
}

static const s_option_t s_options[] = {
    {"--home", true, s_opt_home},
    {"--bind", true, s_opt_bind},
    {"--replicas", true, s_opt_replicas},
    {"--threads", true, s_opt_threads},
    {"--bin", true, s_opt_bin},
    {"--services", true, s_opt_services},
    {"--grace-ms", true, s_opt_grace},
    {"--foreground", false, s_opt_foreground},
    {"--status", false, s_opt_status},
    {"--help", false, s_opt_help},
    {"-h", false, s_opt_help},
};

static int
s_add_service(s_parse_t *p, const char *name, size_t len)
{
    sup_options_t *opts = p->opts;
    int shown = (int)(len < 40 ? len : 40);
    if (len == 7 && strncmp(name, "gateway", 7) == 0)
        return s_fail(p, "--services: the gateway is always started; do not list it");
    if (!s_valid_service_name(name, len))
        return s_fail(p, "--services: bad service name \"%.*s\"", shown, name);
    for (size_t i = 0; i < opts->service_count; i++)
        if (strlen(opts->services[i].name) == len &&
            strncmp(opts->services[i].name, name, len) == 0)
            return s_fail(p, "--services: \"%.*s\" is listed twice", shown, name);
    if (opts->service_count == SUP_MAX_SERVICES)
        return s_fail(p, "--services: more than %d services", SUP_MAX_SERVICES);
    sup_service_t *svc = &opts->services[opts->service_count];
    svc->name = strndup(name, len);
    if (!svc->name)
        return s_fail(p, "out of memory");
    svc->replicas = 1;
    opts->service_count++;
    return 0;
}

static int
s_apply_services(s_parse_t *p)
{
    const char *item = p->services ? p->services : SUP_DEFAULT_SERVICES;
    while (*item) {
        size_t len = strcspn(item, ",");
        if (len && s_add_service(p, item, len))
            return -1;
        item += len;
        if (*item == ',')
            item++;
    }
    for (size_t i = 0; i < p->pending_count; i++) {
        const s_pending_t *entry = &p->pending[i];
        size_t len = strcspn(entry->name, "=");
        sup_service_t *svc = NULL;
        for (size_t s = 0; s < p->opts->service_count; s++)
            if (strlen(p->opts->services[s].name) == len &&
                strncmp(p->opts->services[s].name, entry->name, len) == 0)
                svc = &p->opts->services[s];
        if (!svc)
            return s_fail(p, "--replicas: \"%.*s\" is not one of the services started", (int)len,
                          entry->name);
        svc->replicas = entry->replicas;
    }
    return 0;
}

static const s_option_t *
s_find_option(const char *arg, const char **value)
{
    for (size_t i = 0; i < sizeof s_options / sizeof s_options[0]; i++) {
        const s_option_t *opt = &s_options[i];
        size_t len = strlen(opt->name);
        if (strncmp(arg, opt->name, len) != 0)
            continue;
        if (arg[len] == '\0') {
            *value = NULL;
            return opt;
        }
        if (arg[len] == '=' && opt->takes_value) {
            *value = arg + len + 1;
            return opt;
        }
    }
    return NULL;
}

static int
s_apply_defaults(s_parse_t *p)
{
    sup_options_t *opts = p->opts;
    if (!opts->home && !(opts->home = sup_default_home()))
        return s_fail(p, "no home directory: set ENVIRONS_HOME or pass --home");
    if (!opts->bind && !(opts->bind = strdup(SUP_DEFAULT_BIND)))
        return s_fail(p, "out of memory");
    if (!opts->bin && !(opts->bin = sup_exe_dir()))
        return s_fail(p, "cannot find my own directory; pass --bin");
    return 0;
}

int
sup_options_parse(sup_options_t *opts, int argc, char *const *argv, char *errbuf, size_t errlen)
{
    memset(opts, 0, sizeof *opts);
    opts->threads = SUP_DEFAULT_THREADS;
    opts->grace_ms = SUP_DEFAULT_GRACE_MS;
    s_parse_t p = {.opts = opts, .errbuf = errbuf, .errlen = errlen};
    snprintf(errbuf, errlen, "out of memory");

    for (int i = 1; i < argc; i++) {
        const char *value = NULL;
        const s_option_t *opt = s_find_option(argv[i], &value);
        if (!opt)
            return s_fail(&p, "unknown argument \"%s\"", argv[i]);
        if (opt->takes_value && !value) {
            if (i + 1 == argc)
                return s_fail(&p, "%s needs a value", opt->name);
            value = argv[++i];
        }
        if (opt->apply(&p, value))
            return -1;
    }
    if (opts->help || opts->status) {
        //  --status needs only the home; --help nothing at all.
        if (!opts->help && !opts->home && !(opts->home = sup_default_home()))
            return s_fail(&p, "no home directory: set ENVIRONS_HOME or pass --home");
        return 0;
    }
    if (s_apply_services(&p))
        return -1;
    return s_apply_defaults(&p);
}

void
sup_options_clear(sup_options_t *opts)
{
    free(opts->home);
    free(opts->bind);
    free(opts->bin);
    opts->home = opts->bind = opts->bin = NULL;
    for (size_t i = 0; i < opts->service_count; i++) {
        free(opts->services[i].name);
        opts->services[i].name = NULL;
    }
    opts->service_count = 0;
}

const char *
sup_usage(void)
{
    return "usage: environs-local [--home DIR] [--bind ENDPOINT] [--replicas svc=N[,svc=N...]]\n"
           "                      [--threads N] [--bin DIR] [--services LIST] [--grace-ms MS]\n"
           "                      [--foreground]\n"
           "       environs-local --status [--home DIR]\n"
           "\n"
           "Runs the environs gateway and services on this machine, restarting any that\n"
           "exits. SIGINT/SIGTERM stop the set (services first, gateway last); SIGHUP\n"
           "restarts every process, one at a time.\n"
           "\n"
           "  --home DIR        state directory (default $ENVIRONS_HOME, else\n"
           "                    $XDG_DATA_HOME/environs, else ~/.local/share/environs)\n"
           "  --bind ENDPOINT   gateway endpoint (default " SUP_DEFAULT_BIND ")\n"
           "  --replicas LIST   copies of a service, e.g. broker=3 (default 1 each)\n"
           "  --threads N       worker threads per service process (default 4)\n"
           "  --bin DIR         where environs-<name> programs are (default: beside this\n"
           "                    program, then the CMake build-tree layout)\n"
           "  --services LIST   services to run (default " SUP_DEFAULT_SERVICES ";\n"
           "                    of the default list, those not built are skipped)\n"
           "  --grace-ms MS     how long a stop waits before SIGKILL (default 10000)\n"
           "  --foreground      run until signalled (the default, and only, mode)\n"
           "  --status          print whether a supervisor runs for this home; exit 0 if\n"
           "                    running, 1 if it died leaving its pid file, 3 if stopped\n";
}

char *
sup_default_home(void)
{
    const char *env = getenv("ENVIRONS_HOME");
    if (env && *env)
        return strdup(env);
    char *home = NULL;
    env = getenv("XDG_DATA_HOME");
    if (env && *env) {
        if (asprintf(&home, "%s/environs", env) < 0)
            return NULL;
        return home;
    }
    const char *user_home = getenv("HOME");
    if (!user_home || !*user_home) {
        struct passwd *pw = getpwuid(getuid());
        user_home = pw ? pw->pw_dir : NULL;
    }
    if (!user_home || !*user_home)
        return NULL;
    if (asprintf(&home, "%s/.local/share/environs", user_home) < 0)
        return NULL;
    return home;
}

char *
sup_exe_dir(void)
{
    char path[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", path, sizeof path - 1);
    if (len <= 0)
        return NULL;
    path[len] = '\0';
    char *slash = strrchr(path, '/');
    if (!slash)
        return NULL;
    if (slash == path)
        slash[1] = '\0';
    else
        *slash = '\0';
    return strdup(path);
}

static bool
s_is_executable(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

char *
sup_program_path(const char *bin, const char *build_dir, const char *name)
{
    char *path = NULL;
    if (asprintf(&path, "%s/environs-%s", bin, name) < 0)
        return NULL;
    if (s_is_executable(path))
        return path;
    free(path);
    path = NULL;
    if (!build_dir)
        return NULL;
    if (asprintf(&path, "%s/../../services/%s/environs-%s", build_dir, name, name) < 0)
        return NULL;
    if (s_is_executable(path))
        return path;
    free(path);
    return NULL;
}

int
sup_backoff_next(int prev_delay_ms, int64_t ran_ms)
{
    if (prev_delay_ms <= 0 || ran_ms >= SUP_BACKOFF_RESET_MS)
        return SUP_BACKOFF_MIN_MS;
    if (prev_delay_ms >= SUP_BACKOFF_MAX_MS / 2)
        return SUP_BACKOFF_MAX_MS;
    return prev_delay_ms * 2;
}
