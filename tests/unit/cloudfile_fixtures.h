/*  cloudfile_fixtures.h — helpers shared by the cloud file tests.

    Real temp directories (mkdtemp) rather than mocks: the behaviours under
    test are file modes, atomic replacement and paths that must exist. Every
    helper asserts, so a test reads as its steps. */
#ifndef EN_CLOUDFILE_FIXTURES_H
#define EN_CLOUDFILE_FIXTURES_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

//  A fresh directory under $TMPDIR (or /tmp); caller frees and removes.
static inline char *
fx_tmpdir(void)
{
    const char *base = getenv("TMPDIR");
    char *tmpl = NULL;
    assert_true(asprintf(&tmpl, "%s/cloudfile-XXXXXX", base && *base ? base : "/tmp") > 0);
    assert_non_null(mkdtemp(tmpl));
    return tmpl;
}

//  dir + "/" + name; caller frees.
static inline char *
fx_path(const char *dir, const char *name)
{
    char *p = NULL;
    assert_true(asprintf(&p, "%s/%s", dir, name) > 0);
    return p;
}

static inline void
fx_write(const char *path, const char *data, mode_t mode)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, strlen(data), f), strlen(data));
    assert_int_equal(fclose(f), 0);
    assert_int_equal(chmod(path, mode), 0);
}

//  Whole file as a string; caller frees.
static inline char *
fx_read(const char *path)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char *buf = calloc(1, 1 << 16);
    assert_non_null(buf);
    size_t n = fread(buf, 1, (1 << 16) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

//  Number of entries in dir other than . and ..
static inline int
fx_entries(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            n++;
    closedir(d);
    return n;
}

//  Remove dir and the plain files and empty subdirectories in it.
static inline void
fx_rmtree(char *dir)
{
    DIR *d = opendir(dir);
    if (d) {
        for (struct dirent *e; (e = readdir(d));) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                continue;
            char *p = fx_path(dir, e->d_name);
            if (unlink(p) != 0)
                rmdir(p);
            free(p);
        }
        closedir(d);
    }
    rmdir(dir);
    free(dir);
}

#endif
