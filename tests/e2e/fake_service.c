/*  fake_service.c — stands in for every environs-<name> program in the
    supervisor tests, so they do not wait for the real services.

    The test links this one binary under the names environs-gateway and
    environs-registry. It takes its name from argv[0] and its replica from
    --replica, and records what the supervisor gave it in
    <home>/fake/<label> (written whole through rename): its pid, its process
    group, whether it started with an empty signal mask and SIGPIPE at its
    default, and its arguments. Then it waits for SIGTERM or SIGINT, appends
    its label to <home>/fake/stopped (so a test can see the stop order) and
    exits 0.

    If <home>/fake/<label>.crash exists it exits 3 at once instead, which is
    how a test makes a child crash in a loop. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int
s_write_record(const char *path, const char *text)
{
    char tmp[PATH_MAX + 8];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *file = fopen(tmp, "w");
    if (!file)
        return -1;
    fputs(text, file);
    if (fclose(file))
        return -1;
    return rename(tmp, path);
}

int
main(int argc, char **argv)
{
    //  Look at what we inherited before changing anything.
    sigset_t initial;
    sigprocmask(SIG_BLOCK, NULL, &initial);
    bool mask_empty = sigisemptyset(&initial);
    struct sigaction pipe_action;
    sigaction(SIGPIPE, NULL, &pipe_action);
    bool pipe_default = pipe_action.sa_handler == SIG_DFL;

    //  Block the stop signals so one that arrives while we write is kept.
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    sigprocmask(SIG_BLOCK, &stop, NULL);

    const char *base = strrchr(argv[0], '/');
    base = base ? base + 1 : argv[0];
    const char *name = strncmp(base, "environs-", 9) == 0 ? base + 9 : base;
    const char *home = NULL;
    const char *replica = NULL;
    for (int i = 1; i + 1 < argc; i++) {
        if (strcmp(argv[i], "--home") == 0)
            home = argv[i + 1];
        if (strcmp(argv[i], "--replica") == 0)
            replica = argv[i + 1];
    }
    if (!home) {
        fprintf(stderr, "fake %s: no --home\n", name);
        return 2;
    }
    char label[64];
    if (replica)
        snprintf(label, sizeof label, "%s-%s", name, replica);
    else
        snprintf(label, sizeof label, "%s", name);

    char dir[PATH_MAX - 256]; //  leaves room for "/<label>.crash"
    char path[PATH_MAX];
    snprintf(dir, sizeof dir, "%s/fake", home);
    if (mkdir(dir, 0700) && errno != EEXIST)
        return 2;
    snprintf(path, sizeof path, "%s/%s.crash", dir, label);
    if (access(path, F_OK) == 0) {
        printf("fake %s pid %d crashing on purpose\n", label, (int)getpid());
        return 3;
    }

    char record[4096];
    int len = snprintf(record, sizeof record,
                       "pid=%d\npgid=%d\nmask_empty=%d\npipe_default=%d\nargs=", (int)getpid(),
                       (int)getpgrp(), mask_empty, pipe_default);
    for (int i = 1; i < argc && len < (int)sizeof record; i++)
        len +=
            snprintf(record + len, sizeof record - (size_t)len, "%s%s", i > 1 ? " " : "", argv[i]);
    if (len < (int)sizeof record - 1)
        strcat(record, "\n");
    snprintf(path, sizeof path, "%s/%s", dir, label);
    if (s_write_record(path, record))
        return 2;
    printf("fake %s pid %d up\n", label, (int)getpid());
    fflush(stdout);

    int sig = 0;
    sigwait(&stop, &sig);
    snprintf(path, sizeof path, "%s/stopped", dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0600);
    if (fd >= 0) {
        char line[80];
        int n = snprintf(line, sizeof line, "%s\n", label);
        if (write(fd, line, (size_t)n) != n)
            perror("fake: stopped");
        close(fd);
    }
    printf("fake %s pid %d stopping on signal %d\n", label, (int)getpid(), sig);
    return 0;
}
