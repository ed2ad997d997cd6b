/*  sqlbusy.h — run an SQL statement that SQLite may refuse as busy without
    waiting.

    A connection's busy timeout makes SQLite wait for most locks, but not
    for all: the first `PRAGMA journal_mode=WAL` on a fresh database file
    needs an exclusive lock, and when several processes open the file at
    once (registry replicas, sim clouds shared by services) the losers get
    SQLITE_BUSY at once, busy timeout or not; so can WAL recovery. Checked
    here on SQLite 3.40.1: of 4 to 8 processes creating one database
    together, 0.7-5 % got "database is locked" from the pragma with a 10 s
    busy timeout; none with the retry below (tests/unit/test_sqlbusy.c). */
#ifndef EN_SQLBUSY_H
#define EN_SQLBUSY_H

#include <sqlite3.h>
#include <stdint.h>

//  sqlite3_exec(sql) again, after a short jittered sleep (1 ms doubling to
//  32 ms; jitter from *seed), while it reports BUSY or LOCKED and
//  timeout_ms has not passed. Returns the last SQLite result code.
int en_sqlite_exec_busy(sqlite3 *db, const char *sql, int64_t timeout_ms, unsigned *seed);

#endif
