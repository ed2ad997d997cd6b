/*  home.c — the supervisor's files in the state directory.

    <home>/environs-local.lock  flock()ed for the supervisor's whole life; the
                                lock, not the pid file, decides whether a
                                supervisor runs (a pid can be reused, a lock
                                dies with its holder). Never removed: unlinking
                                a lock file lets two processes lock two files.
    <home>/environs-local.pid   the supervisor's pid, for people and scripts.
    <home>/gateway.endpoint     where the CLI finds the gateway.
    <home>/log/                 one log per child, and supervisor.log.

    Files others read are replaced through a temporary file and rename(), so
    a reader sees a whole old file or a whole new one. Event lines are
    formatted whole and written with one write() to O_APPEND descriptors, so
    lines never interleave even when several writers share a file. */
#include "supervisor.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

//  <home>/<name> into path (PATH_MAX bytes); -1 with ENAMETOOLONG if it
//  does not fit. name may be empty for home itself.
static int
s_home_path(char *path, const char *home, const char *name)
{
    if (snprintf(path, PATH_MAX, "%s%s%s", home, *name ? "/" : "", name) >= PATH_MAX) {
        errno = ENAMETOOLONG;
        return -1;
    }
    return 0;
}

int
sup_mkdirs(const char *dir)
{
    char path[PATH_MAX];
    if (s_home_path(path, dir, ""))
        return -1;
    //  Walk the path left to right so missing parents are made first.
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(path, 0700) && errno != EEXIST)
            return -1;
        *p = '/';
    }
    if (mkdir(path, 0700) && errno != EEXIST)
        return -1;
    struct stat st;
    if (stat(path, &st))
        return -1;
    if (!S_ISDIR(st.st_mode)) {
        errno = ENOTDIR;
        return -1;
    }
    return 0;
}

static int
s_write_all(int fd, const char *data, size_t len)
{
    while (len) {
        ssize_t n = write(fd, data, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

int
sup_write_atomic(const char *path, const char *text)
{
    char tmp[PATH_MAX];
    char suffix[32];
    int rc = -1;
    int fd = -1;
    snprintf(suffix, sizeof suffix, ".tmp.%d", (int)getpid());
    if (snprintf(tmp, sizeof tmp, "%s%s", path, suffix) >= (int)sizeof tmp) {
        errno = ENAMETOOLONG;
        return -1;
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        goto cleanup;
    //  No fsync: these files describe a running process and mean nothing
    //  after a power cut; only concurrent readers matter, and rename serves
    //  them.
    if (s_write_all(fd, text, strlen(text)))
        goto cleanup;
    if (close(fd)) {
        fd = -1;
        goto cleanup;
    }
    fd = -1;
    if (rename(tmp, path))
        goto cleanup;
    rc = 0;
cleanup:
    if (rc) {
        int saved = errno;
        if (fd >= 0)
            close(fd);
        unlink(tmp);
        errno = saved;
    }
    return rc;
}

int
sup_lock_home(const char *home)
{
    char path[PATH_MAX];
    if (s_home_path(path, home, "environs-local.lock"))
        return -1;
    //  Close-on-exec: a child holding the lock would keep a new supervisor
    //  out after this one died.
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    if (flock(fd, LOCK_EX | LOCK_NB)) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}

pid_t
sup_read_pid(const char *home)
{
    char path[PATH_MAX];
    char text[32] = "";
    if (s_home_path(path, home, "environs-local.pid"))
        return 0;
    FILE *file = fopen(path, "re");
    if (!file)
        return 0;
    if (!fgets(text, sizeof text, file))
        text[0] = '\0';
    fclose(file);
    long pid = strtol(text, NULL, 10);
    return pid > 0 && pid <= INT_MAX ? (pid_t)pid : 0;
}

//  Whether some process holds the home's lock. Taking a shared lock and
//  dropping it at once is the only way to ask about flock() locks; a
//  supervisor starting in that microsecond would be refused, which is the
//  safe side to err on.
static bool
s_home_locked(const char *home)
{
    char path[PATH_MAX];
    if (s_home_path(path, home, "environs-local.lock"))
        return false;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    bool locked = flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK;
    close(fd);
    return locked;
}

int
sup_status(const char *home)
{
    pid_t pid = sup_read_pid(home);
    if (s_home_locked(home)) {
        char path[PATH_MAX];
        char endpoint[256] = "";
        FILE *file = s_home_path(path, home, "gateway.endpoint") ? NULL : fopen(path, "re");
        if (file) {
            if (!fgets(endpoint, sizeof endpoint, file))
                endpoint[0] = '\0';
            fclose(file);
            endpoint[strcspn(endpoint, "\n")] = '\0';
        }
        printf("environs-local: running for %s (pid %d), gateway at %s\n", home, (int)pid,
               *endpoint ? endpoint : "(not yet written)");
        return SUP_STATUS_RUNNING;
    }
    if (pid > 0) {
        printf("environs-local: not running for %s (stale pid file names pid %d)\n", home,
               (int)pid);
        return SUP_STATUS_DEAD;
    }
    printf("environs-local: not running for %s\n", home);
    return SUP_STATUS_STOPPED;
}

void
sup_log(int log_fd, const char *event, const char *name, pid_t pid, const char *fmt, ...)
{
    char line[1024];
    struct timespec now;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    size_t len = strftime(line, sizeof line, "%Y-%m-%dT%H:%M:%S", &tm);
    int n = snprintf(line + len, sizeof line - len, ".%03ldZ %s %s", now.tv_nsec / 1000000L, event,
                     name);
    len += n > 0 ? (size_t)n : 0;
    if (pid > 0 && len < sizeof line) {
        n = snprintf(line + len, sizeof line - len, " pid=%d", (int)pid);
        len += n > 0 ? (size_t)n : 0;
    }
    if (fmt && *fmt && len + 1 < sizeof line) {
        line[len++] = ' ';
        va_list ap;
        va_start(ap, fmt);
        n = vsnprintf(line + len, sizeof line - len, fmt, ap);
        va_end(ap);
        len += n > 0 ? (size_t)n : 0;
    }
    if (len >= sizeof line - 1)
        len = sizeof line - 2;
    line[len++] = '\n';
    //  A failed log write has nowhere better to go; carry on supervising.
    (void)s_write_all(STDERR_FILENO, line, len);
    if (log_fd >= 0)
        (void)s_write_all(log_fd, line, len);
}

const char *
sup_describe_status(int status, char *buf, size_t len)
{
    if (WIFEXITED(status))
        snprintf(buf, len, "exit=%d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status)) {
        const char *abbrev = sigabbrev_np(WTERMSIG(status));
        if (abbrev)
            snprintf(buf, len, "signal=%s%s", abbrev, WCOREDUMP(status) ? " core=dumped" : "");
        else
            snprintf(buf, len, "signal=%d", WTERMSIG(status));
    } else
        snprintf(buf, len, "status=0x%x", (unsigned)status);
    return buf;
}
