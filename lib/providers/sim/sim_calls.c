/*  sim_calls.c — the one gate every sim cloud API call passes.

    sim_call_begin runs before the work of every API method and gives each
    cloud behaviour exactly one home. In one write transaction it counts the
    call, reads the knobs, takes a concurrency slot when max_concurrent is
    set (or rejects the call: UNAVAILABLE "request limit exceeded", like a
    throttled cloud API) and consumes one injected failure when
    `fail.<method>` is set. Then, holding the slot, it sleeps latency_ms: the
    simulated API round trip. An injected failure is returned after that
    latency, as a real cloud's error would be. sim_call_end gives the slot
    back.

    The limit is cloud-wide, across processes, so slots are rows in the
    database (table leases), not a semaphore. A process can be SIGKILLed
    while it holds one, so a slot is a lease: it records the holder's pid,
    the pid's start time and pid namespace, and an expiry. Before counting,
    every call deletes leases whose holder is gone (same namespace, and the
    pid is dead, a zombie, or a newer process with a reused pid) or whose
    expiry passed (the only test possible for a holder in another pid
    namespace). The liveness test is an SQL function so the reclaim is one
    DELETE inside the transaction that counts. */
#include "providers/sim/sim_private.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

//  A slot outlives its call by this much before anyone may reclaim it on
//  expiry alone; calls are far shorter, so only a vanished holder trips it.
#define SIM_LEASE_TTL_MS 30000

static const char *s_methods[] = {
    "regions", "zones", "instance_types", "set_zone_available", "create", "describe", "list",
    "terminate", "set_tags",
    //  security groups (sim_groups.c)
    "ensure_group", "delete_group", "list_groups", "authorize", "revoke", "rules",
    "instance_rules",
    //  networks (sim_network.c)
    "spaces", "subnets", "interfaces", "allocate_container_addresses",
    "release_container_addresses",
};

bool
sim_method_known(const char *method)
{
    for (size_t i = 0; i < sizeof s_methods / sizeof s_methods[0]; i++)
        if (method && strcmp(method, s_methods[i]) == 0)
            return true;
    return false;
}

//  Start time (field 22 of /proc/<pid>/stat) of a live process; 0 when the
//  process is gone or a zombie, -1 when /proc cannot tell.
static int64_t
s_pid_start(int64_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%lld/stat", (long long)pid);
    FILE *file = fopen(path, "r");
    if (!file)
        return errno == ENOENT ? 0 : -1;
    size_t size = fread(buf, 1, sizeof buf - 1, file);
    fclose(file);
    buf[size] = '\0';
    //  The command name (field 2) may hold spaces and parentheses; the
    //  fields after its closing parenthesis do not.
    char *rest = strrchr(buf, ')');
    if (!rest)
        return -1;
    char state;
    unsigned long long start;
    if (sscanf(rest + 1,
               " %c %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %llu",
               &state, &start) != 2)
        return -1;
    if (state == 'Z' || state == 'X')
        return 0;
    return (int64_t)start;
}

//  SQL: sim_lease_stale(pid, pid_start, pid_ns) — 1 when the holder is
//  certainly gone. Only a holder in our own pid namespace can be judged.
static void
s_sql_lease_stale(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    en_sim_cloud_t *self = sqlite3_user_data(ctx);
    int64_t pid = sqlite3_value_int64(argv[0]);
    int64_t start = sqlite3_value_int64(argv[1]);
    const char *ns = (const char *)sqlite3_value_text(argv[2]);
    if (!*self->pid_ns || !ns || strcmp(ns, self->pid_ns) != 0 || pid <= 0) {
        sqlite3_result_int(ctx, 0);
        return;
    }
    //  Our own process is alive: no need to ask /proc, which every call
    //  would otherwise do for each slot held, inside the write lock.
    if (pid == self->pid && start == self->pid_start) {
        sqlite3_result_int(ctx, 0);
        return;
    }
    bool gone = kill((pid_t)pid, 0) == -1 && errno == ESRCH;
    if (!gone) {
        int64_t now_start = s_pid_start(pid);
        gone = now_start == 0 || (now_start > 0 && start > 0 && now_start != start);
    }
    sqlite3_result_int(ctx, gone);
}

int
sim_calls_init(en_sim_cloud_t *self, en_err_t *err)
{
    self->pid = getpid();
    int64_t start = s_pid_start(self->pid);
    self->pid_start = start > 0 ? start : 0;
    ssize_t size = readlink("/proc/self/ns/pid", self->pid_ns, sizeof self->pid_ns - 1);
    self->pid_ns[size > 0 ? size : 0] = '\0';
    int rc = sqlite3_create_function(self->db, "sim_lease_stale", 3, SQLITE_UTF8, self,
                                     s_sql_lease_stale, NULL, NULL);
    if (rc != SQLITE_OK)
        return sim_db_fail(self, rc, "registering sim_lease_stale", err);
    return 0;
}

static int
s_step_done(en_sim_cloud_t *self, sqlite3_stmt *stmt, const char *what, en_err_t *err)
{
    int rc = sqlite3_step(stmt);
    sqlite3_finalize(stmt);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW)
        return sim_db_fail(self, rc, what, err);
    return 0;
}

static int
s_release(en_sim_cloud_t *self, int64_t lease_id, en_err_t *err)
{
    sqlite3_stmt *stmt;
    if (sim_prepare(self, "DELETE FROM leases WHERE id = ?1", &stmt, err))
        return -1;
    sqlite3_bind_int64(stmt, 1, lease_id);
    return s_step_done(self, stmt, "releasing a slot", err);
}

//  Take a slot unless max_concurrent are held; *admitted tells which.
static int
s_lease(en_sim_cloud_t *self, const char *method, int64_t limit, int64_t latency, bool *admitted,
        en_err_t *err)
{
    int64_t now = sim_now_ms();
    sqlite3_stmt *stmt;
    if (sim_prepare(self,
                    "DELETE FROM leases WHERE expires_ms <= ?1"
                    " OR sim_lease_stale(pid, pid_start, pid_ns)",
                    &stmt, err))
        return -1;
    sqlite3_bind_int64(stmt, 1, now);
    if (s_step_done(self, stmt, "reclaiming slots", err))
        return -1;

    if (sim_prepare(self, "SELECT count(*) FROM leases", &stmt, err))
        return -1;
    int rc = sqlite3_step(stmt);
    int64_t held = rc == SQLITE_ROW ? sqlite3_column_int64(stmt, 0) : 0;
    sqlite3_finalize(stmt);
    if (rc != SQLITE_ROW)
        return sim_db_fail(self, rc, "counting slots", err);
    *admitted = held < limit;
    if (!*admitted)
        return 0;

    if (sim_prepare(self,
                    "INSERT INTO leases (method, pid, pid_start, pid_ns, acquired_ms, expires_ms)"
                    " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    &stmt, err))
        return -1;
    sqlite3_bind_text(stmt, 1, method, -1, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 2, self->pid);
    sqlite3_bind_int64(stmt, 3, self->pid_start);
    sqlite3_bind_text(stmt, 4, self->pid_ns, -1, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 5, now);
    sqlite3_bind_int64(stmt, 6, now + latency + SIM_LEASE_TTL_MS);
    if (s_step_done(self, stmt, "taking a slot", err))
        return -1;
    self->lease_id = sqlite3_last_insert_rowid(self->db);

    if (sim_prepare(self,
                    "INSERT INTO stats (key, value) VALUES ('in_flight_peak', ?1)"
                    " ON CONFLICT (key) DO UPDATE SET value = max(value, excluded.value)",
                    &stmt, err))
        return -1;
    sqlite3_bind_int64(stmt, 1, held + 1);
    return s_step_done(self, stmt, "recording the peak", err);
}

//  Read fail.<method>; when set, take one failure from its count.
static int
s_take_failure(en_sim_cloud_t *self, const char *method, sim_fail_t *fail, bool *failing,
               en_err_t *err)
{
    char key[64];
    snprintf(key, sizeof key, "fail.%s", method);
    sqlite3_stmt *stmt;
    if (sim_prepare(self, "SELECT value FROM knobs WHERE key = ?1", &stmt, err))
        return -1;
    sqlite3_bind_text(stmt, 1, key, -1, SQLITE_STATIC);
    int rc = sqlite3_step(stmt);
    char value[EN_ERR_MSG_MAX + 64] = "";
    if (rc == SQLITE_ROW)
        sim_copy_text(value, sizeof value, stmt, 0);
    sqlite3_finalize(stmt);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return sim_db_fail(self, rc, "reading a fail knob", err);
    *failing = rc == SQLITE_ROW;
    if (!*failing)
        return 0;
    if (sim_fail_parse(value, fail, err))
        return -1; //  only a hand-edited database gets here: knob_set validates

    if (fail->count == 1) {
        if (sim_prepare(self, "DELETE FROM knobs WHERE key = ?1", &stmt, err))
            return -1;
    } else if (fail->count > 1) {
        sim_fail_t rest = *fail;
        rest.count--;
        sim_fail_format(&rest, value, sizeof value);
        if (sim_prepare(self, "UPDATE knobs SET value = ?2 WHERE key = ?1", &stmt, err))
            return -1;
        sqlite3_bind_text(stmt, 2, value, -1, SQLITE_TRANSIENT);
    } else
        return 0;
    sqlite3_bind_text(stmt, 1, key, -1, SQLITE_STATIC);
    return s_step_done(self, stmt, "consuming a failure", err);
}

//  The transactional part of sim_call_begin.
static int
s_admit(en_sim_cloud_t *self, const char *method, int64_t *latency, bool *admitted,
        sim_fail_t *fail, bool *failing, en_err_t *err)
{
    sqlite3_stmt *stmt;
    if (self->orphan_id) {
        if (s_release(self, self->orphan_id, err))
            return -1;
    }
    if (sim_prepare(self,
                    "INSERT INTO calls (method, count) VALUES (?1, 1)"
                    " ON CONFLICT (method) DO UPDATE SET count = count + 1",
                    &stmt, err))
        return -1;
    sqlite3_bind_text(stmt, 1, method, -1, SQLITE_STATIC);
    if (s_step_done(self, stmt, "counting a call", err))
        return -1;

    int64_t limit;
    if (sim_knob_int(self, "latency_ms", latency, err) ||
        sim_knob_int(self, "max_concurrent", &limit, err))
        return -1;
    *admitted = true;
    if (limit > 0 && s_lease(self, method, limit, *latency, admitted, err))
        return -1;
    *failing = false;
    if (*admitted && s_take_failure(self, method, fail, failing, err))
        return -1;
    return 0;
}

int
sim_call_begin(en_sim_cloud_t *self, const char *method, en_err_t *err)
{
    int64_t latency = 0;
    bool admitted = false, failing = false;
    sim_fail_t fail;
    self->lease_id = 0;
    if (sim_tx_write(self, err))
        return -1;
    if (s_admit(self, method, &latency, &admitted, &fail, &failing, err)) {
        sim_tx_rollback(self);
        self->lease_id = 0;
        return -1;
    }
    if (sim_tx_commit(self, err)) {
        self->lease_id = 0;
        return -1;
    }
    self->orphan_id = 0;
    if (!admitted)
        return en_err_set(err, EN_UNAVAILABLE, "request limit exceeded");
    sim_sleep_ms(latency);
    if (failing) {
        sim_call_end(self);
        //  Juju's dummy provider says "dummy.<Method> is broken".
        if (!*fail.message)
            return en_err_set(err, fail.kind, "sim.%s is broken", method);
        return en_err_set(err, fail.kind, "%s", fail.message);
    }
    return 0;
}

void
sim_call_end(en_sim_cloud_t *self)
{
    if (!self->lease_id)
        return;
    //  The caller already has its answer; a slot we fail to free now is
    //  freed by this handle's next call (or its close), not lost.
    en_err_t ignored;
    if (sim_tx_write(self, &ignored) == 0) {
        if (s_release(self, self->lease_id, &ignored) == 0 && sim_tx_commit(self, &ignored) == 0) {
            self->lease_id = 0;
            return;
        }
        sim_tx_rollback(self);
    }
    self->orphan_id = self->lease_id;
    self->lease_id = 0;
}

void
sim_calls_close(en_sim_cloud_t *self)
{
    if (!self->orphan_id)
        return;
    self->lease_id = self->orphan_id;
    self->orphan_id = 0;
    sim_call_end(self);
}

//  --- operator console: counters ---

int64_t
en_sim_cloud_call_count(en_sim_cloud_t *self, const char *method, en_err_t *err)
{
    if (!sim_method_known(method))
        return en_err_set(err, EN_NOT_VALID, "unknown sim cloud method \"%s\"",
                          method ? method : "");
    sqlite3_stmt *stmt;
    if (sim_prepare(self, "SELECT count FROM calls WHERE method = ?1", &stmt, err))
        return -1;
    sqlite3_bind_text(stmt, 1, method, -1, SQLITE_STATIC);
    int rc = sqlite3_step(stmt);
    int64_t count = rc == SQLITE_ROW ? sqlite3_column_int64(stmt, 0) : 0;
    sqlite3_finalize(stmt);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return sim_db_fail(self, rc, "reading call counts", err);
    return count;
}

int
en_sim_cloud_in_flight(en_sim_cloud_t *self, int *now, int *peak, en_err_t *err)
{
    //  Count only live holders, without reclaiming: reading must not write.
    sqlite3_stmt *stmt;
    if (sim_prepare(self,
                    "SELECT (SELECT count(*) FROM leases WHERE expires_ms > ?1"
                    "          AND NOT sim_lease_stale(pid, pid_start, pid_ns)),"
                    "       (SELECT coalesce(max(value), 0) FROM stats"
                    "          WHERE key = 'in_flight_peak')",
                    &stmt, err))
        return -1;
    sqlite3_bind_int64(stmt, 1, sim_now_ms());
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW) {
        if (now)
            *now = sqlite3_column_int(stmt, 0);
        if (peak)
            *peak = sqlite3_column_int(stmt, 1);
    }
    sqlite3_finalize(stmt);
    if (rc != SQLITE_ROW)
        return sim_db_fail(self, rc, "reading slots", err);
    return 0;
}

int
en_sim_cloud_reset_counters(en_sim_cloud_t *self, en_err_t *err)
{
    if (sim_tx_write(self, err))
        return -1;
    if (sim_exec(self, "DELETE FROM calls; DELETE FROM stats", err)) {
        sim_tx_rollback(self);
        return -1;
    }
    return sim_tx_commit(self, err);
}
