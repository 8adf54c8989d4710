/* dhis_store: the DHIS2 bridge's SQL. See dhis_store.h. */
#include <errno.h>
#include <string.h>

#include "dhis_store.h"

/* A write that ends a lease: *ret_recorded says it changed the row. */
static int s_exec_lease(cmn_store_t *st, const char *sql, const cmn_param_t *p, int n,
                        bool *ret_recorded)
{
    int64_t changes = 0;
    int r = cmn_store_exec(st, sql, p, n, &changes);

    if (r == 0)
        *ret_recorded = changes == 1;
    return r;
}

/* Is there a row for sql ($1 = now)? 1 yes, 0 no, or a store error. */
static int s_any(cmn_store_t *st, const char *sql, int64_t now)
{
    cmn_rows_t *rows = NULL;
    cmn_param_t p[] = {P_INT(now)};
    int r = cmn_store_query(st, sql, p, 1, &rows);

    if (r == 0)
        r = cmn_rows_count(rows) > 0;
    cmn_rows_destroy(&rows);
    return r;
}

/* ---- dhis2_sync ---- */

int dhis_store_accept(cmn_store_t *st, int64_t now, int limit, cmn_rows_t **ret_rows)
{
    cmn_param_t p[] = {P_INT(now), P_INT(limit)};
    return cmn_store_query(st,
                           "UPDATE dhis2_sync SET status = 'pending', updated_ms = $1, next_ms = "
                           "$1 WHERE id IN (SELECT id FROM dhis2_sync WHERE status = 'queued' "
                           "ORDER BY id LIMIT $2) AND status = 'queued' RETURNING id, ciu, trace",
                           p, 2, ret_rows);
}

void dhis_store_accepted_get(const cmn_rows_t *rows, int i, dhis_accepted_t *ret)
{
    ret->id = cmn_rows_int(rows, i, 0, 0);
    ret->ciu = cmn_rows_get(rows, i, 1);
    ret->trace = cmn_rows_get(rows, i, 2);
}

int dhis_store_sync_claim(cmn_store_t *st, const char *token, int64_t now, int64_t lease_until,
                          size_t want, cmn_rows_t **ret_rows)
{
    cmn_param_t p[] = {P_INT(lease_until), P_TEXT(token), P_INT(now), P_INT((int64_t)want)};
    return cmn_store_query(
        st,
        "UPDATE dhis2_sync SET lease_until = $1, lease_owner = $2 WHERE id IN (SELECT id FROM "
        "dhis2_sync WHERE status = 'pending' AND next_ms <= $3 AND lease_until <= $3 ORDER BY "
        "next_ms, id LIMIT $4) AND status = 'pending' AND lease_until <= $3 RETURNING id, ciu, "
        "trace, te_uid, enrollment_uid, attempts, conflicts, created_ms",
        p, 4, ret_rows);
}

void dhis_store_claimed_get(const cmn_rows_t *rows, int i, int64_t dflt_created,
                            dhis_claimed_t *ret)
{
    ret->id = cmn_rows_int(rows, i, 0, 0);
    ret->ciu = cmn_rows_get(rows, i, 1);
    ret->trace = cmn_rows_get(rows, i, 2);
    ret->te = cmn_rows_get(rows, i, 3);
    ret->enr = cmn_rows_get(rows, i, 4);
    ret->attempts = (int)cmn_rows_int(rows, i, 5, 0);
    ret->conflicts = (int)cmn_rows_int(rows, i, 6, 0);
    ret->created_ms = cmn_rows_int(rows, i, 7, dflt_created);
}

int dhis_store_sync_uids(cmn_store_t *st, int64_t id, const char *te, const char *enr)
{
    cmn_param_t p[] = {P_TEXT(te), P_TEXT(enr), P_INT(id)};
    return cmn_store_exec(st,
                          "UPDATE dhis2_sync SET te_uid = $1, enrollment_uid = $2 WHERE "
                          "id = $3",
                          p, 3, NULL);
}

int dhis_store_sync_synced(cmn_store_t *st, int64_t id, const char *token, const char *te,
                           const char *ou, bool linked, long http_status, int64_t now,
                           bool *ret_recorded)
{
    cmn_param_t p[] = {P_TEXT(te),         P_TEXT(ou), P_INT(linked ? 1 : 0), P_INT(now),
                       P_INT(http_status), P_INT(id),  P_TEXT(token)};
    return s_exec_lease(st,
                        "UPDATE dhis2_sync SET status = 'synced', te_uid = $1, org_unit = $2, "
                        "linked = $3, synced_ms = $4, updated_ms = $4, http_status = $5, "
                        "last_error = NULL, error_codes = NULL, lease_until = 0, lease_owner "
                        "= NULL WHERE id = $6 AND lease_owner = $7 AND status = 'pending'",
                        p, 7, ret_recorded);
}

int dhis_store_sync_retry(cmn_store_t *st, int64_t id, const char *token, int64_t next_ms,
                          const char *err, long http_status, const char *codes, int64_t now,
                          bool *ret_recorded)
{
    cmn_param_t p[] = {P_INT(next_ms), P_TEXT(err), P_INT(http_status), P_TEXT(codes),
                       P_INT(now),     P_INT(id),   P_TEXT(token)};
    return s_exec_lease(st,
                        "UPDATE dhis2_sync SET attempts = attempts + 1, next_ms = $1, "
                        "last_error = $2, http_status = $3, error_codes = $4, updated_ms = "
                        "$5, lease_until = 0, lease_owner = NULL WHERE id = $6 AND "
                        "lease_owner = $7 AND status = 'pending'",
                        p, 7, ret_recorded);
}

int dhis_store_sync_research(cmn_store_t *st, int64_t id, const char *token, const char *err,
                             long http_status, const char *codes, int64_t now, bool *ret_recorded)
{
    cmn_param_t p[] = {P_INT(now),    P_TEXT(err), P_INT(http_status),
                       P_TEXT(codes), P_INT(id),   P_TEXT(token)};
    return s_exec_lease(st,
                        "UPDATE dhis2_sync SET conflicts = conflicts + 1, next_ms = $1, "
                        "last_error = $2, http_status = $3, error_codes = $4, updated_ms = "
                        "$1, lease_until = 0, lease_owner = NULL WHERE id = $5 AND "
                        "lease_owner = $6 AND status = 'pending'",
                        p, 6, ret_recorded);
}

int dhis_store_sync_failed(cmn_store_t *st, int64_t id, const char *token, const char *err,
                           long http_status, const char *codes, int64_t now, bool *ret_recorded)
{
    cmn_param_t p[] = {P_TEXT(err), P_INT(http_status), P_TEXT(codes),
                       P_INT(now),  P_INT(id),          P_TEXT(token)};
    return s_exec_lease(st,
                        "UPDATE dhis2_sync SET status = 'failed', last_error = $1, "
                        "http_status = $2, error_codes = $3, updated_ms = $4, lease_until = "
                        "0, lease_owner = NULL WHERE id = $5 AND lease_owner = $6 AND status "
                        "= 'pending'",
                        p, 6, ret_recorded);
}

int dhis_store_sync_release(cmn_store_t *st, int64_t id, const char *token, bool *ret_recorded)
{
    cmn_param_t p[] = {P_INT(id), P_TEXT(token)};
    return s_exec_lease(st,
                        "UPDATE dhis2_sync SET lease_until = 0, lease_owner = NULL WHERE id "
                        "= $1 AND lease_owner = $2",
                        p, 2, ret_recorded);
}

int dhis_store_synced_te(cmn_store_t *st, const char *ciu, char te[DHIS_UID_LEN])
{
    cmn_rows_t *rows = NULL;
    cmn_param_t p[] = {P_TEXT(ciu)};
    int r =
        cmn_store_query(st, "SELECT status, te_uid FROM dhis2_sync WHERE ciu = $1", p, 1, &rows);
    if (r < 0)
        return r;
    if (cmn_rows_count(rows) == 0) {
        r = -ENOENT;
    } else {
        const char *status = cmn_rows_get(rows, 0, 0), *uid = cmn_rows_get(rows, 0, 1);
        if (status && strcmp(status, "synced") == 0 && dhis_uid_valid(uid)) {
            cmn_strlcpy(te, uid, DHIS_UID_LEN);
            r = 1;
        } else {
            r = status && strcmp(status, "failed") == 0 ? -ENOENT : 0;
        }
    }
    cmn_rows_destroy(&rows);
    return r;
}

int dhis_store_backlog(cmn_store_t *st, int64_t *ret_n)
{
    cmn_rows_t *rows = NULL;
    int r = cmn_store_query(st,
                            "SELECT COUNT(*) FROM dhis2_sync WHERE status IN "
                            "('queued', 'pending')",
                            NULL, 0, &rows);
    if (r == 0)
        *ret_n = cmn_rows_int(rows, 0, 0, 0);
    cmn_rows_destroy(&rows);
    return r;
}

int dhis_store_sync_due(cmn_store_t *st, int64_t now)
{
    return s_any(st,
                 "SELECT 1 FROM dhis2_sync WHERE status = 'pending' AND next_ms <= $1 AND "
                 "lease_until <= $1 LIMIT 1",
                 now);
}

/* ---- dhis2_duplicates ---- */

int dhis_store_dups_new(cmn_store_t *st, int64_t now)
{
    return s_any(st,
                 "SELECT 1 FROM duplicates d WHERE d.status = 'open' AND d.created_ms <= $1 "
                 "AND NOT EXISTS (SELECT 1 FROM dhis2_duplicates x WHERE x.duplicate_id = "
                 "d.id) LIMIT 1",
                 now);
}

int dhis_store_dup_import(cmn_store_t *st, int64_t now)
{
    cmn_param_t p[] = {P_INT(now)};
    return cmn_store_exec(st,
                          "INSERT INTO dhis2_duplicates (duplicate_id, kind, ciu, other_ciu, "
                          "status, attempts, next_ms, created_ms, updated_ms) SELECT d.id, "
                          "d.kind, d.ciu, d.other_ciu, 'pending', 0, $1, $1, $1 FROM duplicates d "
                          "WHERE d.status = 'open' AND NOT EXISTS (SELECT 1 FROM dhis2_duplicates "
                          "x WHERE x.duplicate_id = d.id) ON CONFLICT (duplicate_id) DO NOTHING",
                          p, 1, NULL);
}

int dhis_store_dups_due(cmn_store_t *st, int64_t now)
{
    return s_any(st,
                 "SELECT 1 FROM dhis2_duplicates WHERE status = 'pending' AND next_ms <= $1 "
                 "AND lease_until <= $1 LIMIT 1",
                 now);
}

int dhis_store_dup_claim(cmn_store_t *st, const char *token, int64_t now, int64_t lease_until,
                         size_t want, cmn_rows_t **ret_rows)
{
    cmn_param_t p[] = {P_INT(lease_until), P_TEXT(token), P_INT(now), P_INT((int64_t)want)};
    return cmn_store_query(
        st,
        "UPDATE dhis2_duplicates SET lease_until = $1, lease_owner = $2 WHERE id IN (SELECT id "
        "FROM dhis2_duplicates WHERE status = 'pending' AND next_ms <= $3 AND lease_until <= $3 "
        "ORDER BY next_ms, id LIMIT $4) AND status = 'pending' AND lease_until <= $3 RETURNING "
        "id, kind, ciu, other_ciu, attempts",
        p, 4, ret_rows);
}

void dhis_store_dup_claimed_get(const cmn_rows_t *rows, int i, dhis_dup_claimed_t *ret)
{
    ret->id = cmn_rows_int(rows, i, 0, 0);
    ret->kind = cmn_rows_get(rows, i, 1);
    ret->ciu = cmn_rows_get(rows, i, 2);
    ret->other_ciu = cmn_rows_get(rows, i, 3);
    ret->attempts = (int)cmn_rows_int(rows, i, 4, 0);
}

int dhis_store_dup_defer(cmn_store_t *st, int64_t id, const char *status, const char *err,
                         int64_t next_ms, int64_t now)
{
    cmn_param_t p[] = {P_TEXT(status), P_TEXT(err), P_INT(next_ms), P_INT(now), P_INT(id)};
    return cmn_store_exec(st,
                          "UPDATE dhis2_duplicates SET status = $1, last_error = $2, next_ms "
                          "= $3, updated_ms = $4, lease_until = 0, lease_owner = NULL WHERE "
                          "id = $5",
                          p, 5, NULL);
}

int dhis_store_dup_retry(cmn_store_t *st, int64_t id, const char *token, int64_t next_ms,
                         const char *err, long http_status, int64_t now, bool *ret_recorded)
{
    cmn_param_t p[] = {P_INT(next_ms), P_TEXT(err), P_INT(http_status),
                       P_INT(now),     P_INT(id),   P_TEXT(token)};
    return s_exec_lease(st,
                        "UPDATE dhis2_duplicates SET attempts = attempts + 1, next_ms = $1, "
                        "last_error = $2, http_status = $3, updated_ms = $4, lease_until = 0, "
                        "lease_owner = NULL WHERE id = $5 AND lease_owner = $6",
                        p, 6, ret_recorded);
}

int dhis_store_dup_release(cmn_store_t *st, int64_t id, const char *token, bool *ret_recorded)
{
    cmn_param_t p[] = {P_INT(id), P_TEXT(token)};
    return s_exec_lease(st,
                        "UPDATE dhis2_duplicates SET lease_until = 0, lease_owner = NULL "
                        "WHERE id = $1 AND lease_owner = $2",
                        p, 2, ret_recorded);
}

int dhis_store_dup_done(cmn_store_t *st, int64_t id, const char *token, const char *status,
                        const char *original_te, const char *duplicate_te, const char *dhis2_id,
                        const char *err, long http_status, int64_t now, bool *ret_recorded)
{
    cmn_param_t p[] = {P_TEXT(status),   P_TEXT(original_te), P_TEXT(duplicate_te),
                       P_TEXT(dhis2_id), P_TEXT(err),         P_INT(http_status),
                       P_INT(now),       P_INT(id),           P_TEXT(token)};
    return s_exec_lease(st,
                        "UPDATE dhis2_duplicates SET status = $1, original_te = $2, "
                        "duplicate_te = $3, dhis2_id = $4, last_error = $5, http_status = $6, "
                        "updated_ms = $7, lease_until = 0, lease_owner = NULL WHERE id = $8 "
                        "AND lease_owner = $9",
                        p, 9, ret_recorded);
}

/* ---- dhis2_bridges ---- */

int dhis_store_state_save(cmn_store_t *st, const char *replica, const char *state,
                          const char *version, const char *detail, int64_t now)
{
    cmn_param_t p[] = {P_TEXT(replica), P_TEXT(state), P_TEXT(version), P_TEXT(detail), P_INT(now)};
    return cmn_store_exec(st,
                          "INSERT INTO dhis2_bridges (replica, state, version, detail, since_ms, "
                          "updated_ms) VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT (replica) DO "
                          "UPDATE SET state = excluded.state, version = excluded.version, detail "
                          "= excluded.detail, updated_ms = excluded.updated_ms, since_ms = CASE "
                          "WHEN dhis2_bridges.state = excluded.state THEN dhis2_bridges.since_ms "
                          "ELSE excluded.since_ms END",
                          p, 5, NULL);
}

int dhis_store_reopen(cmn_store_t *st, int64_t now)
{
    cmn_param_t q[] = {P_INT(now)};
    int r = cmn_store_exec(st,
                           "UPDATE dhis2_sync SET next_ms = $1 WHERE status = 'pending' AND "
                           "next_ms > $1",
                           q, 1, NULL);
    if (r == 0)
        r = cmn_store_exec(st,
                           "UPDATE dhis2_duplicates SET next_ms = $1 WHERE status = "
                           "'pending' AND next_ms > $1",
                           q, 1, NULL);
    return r;
}

const char dhis_store_queue_sql[] =
    "SELECT COUNT(*), MIN(created_ms) FROM dhis2_sync WHERE status IN ('queued', 'pending')";
