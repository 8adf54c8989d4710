/* cmn_stats: the programme's figures, read from the store.
 *
 * One module behind the dashboard (ciu-ingress, GET /admin/api/stats) and
 * `ciu-admin stats`: registrations per day, per week, by city and by gender
 * (from the CIU itself: LLLFFFYCCG), conversations started / completed /
 * abandoned and the question people gave up at (the `events` table: type,
 * detail, duration_ms), the median time to complete, potential duplicates,
 * DHIS2 enrolment, delivery of replies, and each stage's queue (depth and
 * oldest item). Days and weeks are UTC; a week starts on Monday.
 *
 * No personal data: no phone number, no typed answer, no CIU in the
 * figures (CIUs only in cmn_stats_duplicates, which the operator asks for;
 * a CIU quoted in a DHIS2 error message is masked). Read-only queries, each
 * its own short statement; nothing is held open. The queries run unchanged
 * on SQLite and PostgreSQL and use the indexes of db/migrations/007_stats.sql.
 * docs/dashboard.md describes every figure and where it comes from.
 */
#ifndef CMN_STATS_H
#define CMN_STATS_H

#include <stdint.h>

struct json_t;
typedef struct cmn_store cmn_store_t;

#define CMN_STATS_DAYS 30        /* default length of the per-day chart */
#define CMN_STATS_WEEKS 12       /* default length of the per-week chart */
#define CMN_STATS_STALL_MS 60000 /* a stage whose oldest item waits longer is "late" */

/* The questions of a conversation in order, as `conversation.abandoned`
 * names them (detail). */
extern const char *const cmn_stats_questions[6];

typedef struct {
    int64_t now_ms;   /* epoch ms: "today", ages */
    int days;         /* per-day chart and conversation window (1..366) */
    int weeks;        /* per-week chart (1..104) */
    int64_t stall_ms; /* threshold of a late stage */
} cmn_stats_opts_t;

/* Defaults (CMN_STATS_*) with now_ms. */
void cmn_stats_opts_init(cmn_stats_opts_t *o, int64_t now_ms);

/* Every figure as one JSON object (docs/dashboard.md, "The JSON"); caller
 * owns *ret. 0, -EINVAL, -ENOMEM, or the store's error (-EIO, -EBUSY). */
int cmn_stats_collect(cmn_store_t *st, const cmn_stats_opts_t *o, struct json_t **ret);

/* Open potential duplicates, oldest first, at most limit: id, kind, ciu,
 * other_ciu, created_ms (no user key). Caller owns *ret (a JSON array). */
int cmn_stats_duplicates(cmn_store_t *st, int limit, struct json_t **ret);

/* Mark open duplicate id as reviewed (the operator's mark, as `ciu-admin
 * duplicates resolve`). 0, -ENOENT (no such open duplicate), or the
 * store's error. */
int cmn_stats_duplicate_reviewed(cmn_store_t *st, int64_t id);

#endif
