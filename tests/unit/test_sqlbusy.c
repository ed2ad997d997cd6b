/*  Busy results SQLite gives without waiting: processes that create one
    database file together (registry replicas starting at once) all get a
    WAL database, where a busy timeout alone let some fail with "database
    is locked" (the e2e.cluster flake). Real processes, real files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/sqlbusy.h"

enum { PROCS = 8, ROUNDS = 100 };

//  A child: open, switch to WAL and create the schema as a replica does.
static int
s_open_like_a_replica(const char *path)
{
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK)
        return 1;
    sqlite3_busy_timeout(db, 10000);
    unsigned seed = (unsigned) getpid();
    int rc = en_sqlite_exec_busy(db, "PRAGMA journal_mode=WAL", 10000, &seed);
    if (rc == SQLITE_OK)
        rc = en_sqlite_exec_busy(db, "BEGIN IMMEDIATE", 10000, &seed);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(db, "CREATE TABLE IF NOT EXISTS t (a); COMMIT", NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        fprintf(stderr, "child %d: %s\n", (int) getpid(), sqlite3_errmsg(db));
    sqlite3_close(db);
    return rc == SQLITE_OK ? 0 : 1;
}

static void
processes_creating_one_database_together_all_get_wal(void **state)
{
    (void) state;
    char dir[] = "/tmp/environs-sqlbusy-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[64];
    snprintf(path, sizeof path, "%s/db", dir);
    int failed = 0;
    for (int round = 0; round < ROUNDS; round++) {
        // the children start together: each waits for the pipe to close
        int go[2];
        assert_int_equal(pipe(go), 0);
        pid_t pids[PROCS];
        for (int i = 0; i < PROCS; i++) {
            pids[i] = fork();
            assert_true(pids[i] >= 0);
            if (pids[i] == 0) {
                close(go[1]);
                char c;
                if (read(go[0], &c, 1) != 0)
                    _exit(2);
                _exit(s_open_like_a_replica(path));
            }
        }
        close(go[0]);
        close(go[1]);
        for (int i = 0; i < PROCS; i++) {
            int status;
            assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
            failed += !(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        }
        // the file is a WAL database now
        sqlite3 *db;
        assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
        sqlite3_stmt *st;
        assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_step(st), SQLITE_ROW);
        assert_string_equal((const char *) sqlite3_column_text(st, 0), "wal");
        sqlite3_finalize(st);
        sqlite3_close(db);
        // a fresh file for the next round
        const char *suffixes[] = {"", "-wal", "-shm"};
        for (size_t i = 0; i < 3; i++) {
            char f[80];
            snprintf(f, sizeof f, "%s%s", path, suffixes[i]);
            unlink(f);
        }
    }
    rmdir(dir);
    assert_int_equal(failed, 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(processes_creating_one_database_together_all_get_wal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
