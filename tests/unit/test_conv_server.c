/* test_conv_server: the conversation's server object, embedded (booted
 * in-process on the case's database, driven through conv_server_batch and
 * conv_server_rescan), on SQLite and PostgreSQL. Cases named after issue 6
 * failed before its fixes.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/cmn_stage.h"
#include "conv_flow.h"
#include "conv_server.h"
#include "test_server.h"

#define SEC 1000LL

typedef tsv_case_t fix_t;
#define SERVER(f) ((conv_server_t *)(f)->server)

static void s_destroy(void *server)
{
    conv_server_t *x = server;
    conv_server_destroy(&x);
}

/* Boot the conversation (o may be NULL) and create the server. */
static void s_start(fix_t *f, const tsv_opts_t *o)
{
    assert_int_equal(tsv_boot(&f->d, &f->dir, "ciu-conversation", f->g->url, o), CMN_EXIT_OK);
    f->destroy = s_destroy;
    f->server = conv_server_new(&f->d);
    assert_non_null(f->server);
}

/* A message received from `user` at `received_ms`, as ingress stores it. */
static void s_inbox(fix_t *f, const char *user, const char *text, int64_t received_ms)
{
    char id[32];

    snprintf(id, sizeof(id), "m%d", ++f->seq);
    cmn_param_t p[] = {P_TEXT(id), P_TEXT(user), P_TEXT(text), P_INT(received_ms),
                       P_INT(cmn_shard_bucket(user))};
    assert_int_equal(cmn_store_exec(f->d.store,
                                    "INSERT INTO inbox (msg_id, channel, user_key, from_addr, "
                                    "kind, body, received_ms, trace, shard) VALUES ($1, 'sim', "
                                    "$2, '+243810000001', 'text', $3, $4, $1, $5)",
                                    p, 5, NULL),
                     0);
}

/* The wake-up ingress sends. */
static void s_wake(fix_t *f, const char *user)
{
    cmn_msg_t m;

    cmn_msg_init(&m, CMN_MSG_INBOUND, NULL);
    cmn_strlcpy(m.user, user, sizeof(m.user));
    assert_int_equal(conv_server_batch(SERVER(f), &m, 1), 0);
}

static int64_t s_replies(fix_t *f, const char *user, const char *like)
{
    cmn_param_t p[] = {P_TEXT(user), P_TEXT(like)};
    return tsv_int(f->d.store, "SELECT count(*) FROM outbox WHERE user_key = $1 AND body LIKE $2",
                   p, 2);
}

static int64_t s_step(fix_t *f, const char *user)
{
    cmn_param_t p[] = {P_TEXT(user)};
    return tsv_int(f->d.store, "SELECT step FROM sessions WHERE user_key = $1", p, 1);
}

static void s_session(fix_t *f, const char *user, int step)
{
    cmn_param_t p[] = {P_TEXT(user), P_INT(step), P_INT(cmn_now_ms())};
    assert_int_equal(cmn_store_exec(f->d.store,
                                    "INSERT INTO sessions (user_key, lang, step, c_last, c_first, "
                                    "c_year, c_city, c_gender, updated_ms) VALUES ($1, 'fr', $2, "
                                    "'MBE', 'IBR', '7', 'DA', '1', $3)",
                                    p, 3, NULL),
                     0);
}

/* ------------------------------------------------------------------ cases */

static void test_first_message(void **state)
{
    fix_t *f = *state;

    s_start(f, NULL);
    s_inbox(f, "alice", "Bonjour", cmn_now_ms());
    s_wake(f, "alice");
    assert_int_equal(s_replies(f, "alice", "%bienvenue%"), 1);
    assert_int_equal(s_replies(f, "alice", "%Question 1 sur 5%"), 1);
    assert_int_equal(s_step(f, "alice"), CONV_STEP_LAST);
    /* processed: the text and the number are erased */
    assert_int_equal(tsv_int(f->d.store,
                             "SELECT count(*) FROM inbox WHERE status = 1 AND body IS NULL AND "
                             "from_addr IS NULL",
                             NULL, 0),
                     1);
    /* a repeated wake-up does nothing */
    s_wake(f, "alice");
    assert_int_equal(tsv_int(f->d.store, "SELECT count(*) FROM outbox", NULL, 0), 2);
}

/* Issue 6, item 1: the conversation ends the session itself when the
 * engine says the CIU was issued (the engine no longer writes sessions);
 * a message handled after that starts a new conversation. */
static void test_ciu_done_ends_session(void **state)
{
    fix_t *f = *state;

    s_start(f, NULL);
    s_session(f, "bob", CONV_STEP_WAIT_CIU);
    assert_int_equal(cmn_store_exec(f->d.store,
                                    "INSERT INTO ciu_done (request_id, user_key, shard, "
                                    "created_ms, trace) VALUES (1, 'bob', 0, 1, 't')",
                                    NULL, 0, NULL),
                     0);
    s_wake(f, "bob");
    /* issue 11: the session stays, "after the code", language kept */
    assert_int_equal(s_step(f, "bob"), CONV_STEP_DONE);
    assert_int_equal(tsv_int(f->d.store, "SELECT count(*) FROM ciu_done", NULL, 0), 0);

    /* found by the scan too, before a message of the same person */
    assert_int_equal(cmn_store_exec(f->d.store, "DELETE FROM sessions", NULL, 0, NULL), 0);
    s_session(f, "bob", CONV_STEP_WAIT_CIU);
    assert_int_equal(cmn_store_exec(f->d.store,
                                    "INSERT INTO ciu_done (request_id, user_key, shard, "
                                    "created_ms, trace) VALUES (2, 'bob', 0, 1, 't')",
                                    NULL, 0, NULL),
                     0);
    s_inbox(f, "bob", "Bonjour", cmn_now_ms());
    assert_int_equal(conv_server_rescan(SERVER(f)), 0);
    assert_int_equal(s_replies(f, "bob", "%patienter%"), 0);
    assert_int_equal(s_replies(f, "bob", "%Question 1 sur 5%"), 1);
    assert_int_equal(s_step(f, "bob"), CONV_STEP_LAST);
}

/* issue 11: after the code, "merci" gets the closing and the next word is
 * not a surname; CODE answers in the person's language; the language is
 * kept in the (keyed-hash) session. */
static void test_issue11_after_the_code(void **state)
{
    fix_t *f = *state;

    s_start(f, NULL);
    s_session(f, "eve", CONV_STEP_WAIT_CIU);
    assert_int_equal(cmn_store_exec(f->d.store, "UPDATE sessions SET lang = 'en'", NULL, 0, NULL),
                     0);
    assert_int_equal(cmn_store_exec(f->d.store,
                                    "INSERT INTO ciu_done (request_id, user_key, shard, "
                                    "created_ms, trace) VALUES (3, 'eve', 0, 1, 't')",
                                    NULL, 0, NULL),
                     0);
    assert_int_equal(cmn_store_exec(f->d.store,
                                    "INSERT INTO user_cius (user_key, ciu, updated_ms) VALUES "
                                    "('eve', 'MBEIBR7DA1', 1)",
                                    NULL, 0, NULL),
                     0);
    s_wake(f, "eve");
    assert_int_equal(s_step(f, "eve"), CONV_STEP_DONE);
    s_inbox(f, "eve", "merci", cmn_now_ms());
    s_wake(f, "eve");
    assert_int_equal(s_replies(f, "eve", "You are welcome%"), 1);
    s_inbox(f, "eve", "thanks", cmn_now_ms());
    s_wake(f, "eve");
    assert_int_equal(s_replies(f, "eve", "You are welcome%"), 2);
    assert_int_equal(s_replies(f, "eve", "%Question 1%"), 0);
    s_inbox(f, "eve", "CODE", cmn_now_ms());
    s_wake(f, "eve");
    assert_int_equal(s_replies(f, "eve", "Your CIU is%MBEIBR7DA1%"), 1);
    assert_int_equal(s_step(f, "eve"), CONV_STEP_DONE);
    cmn_param_t p[] = {P_TEXT("eve")};
    assert_int_equal(tsv_int(f->d.store,
                             "SELECT count(*) FROM sessions WHERE user_key = $1 AND lang = 'en' "
                             "AND c_last IS NULL",
                             p, 1),
                     1);
    s_inbox(f, "eve", "NEW", cmn_now_ms());
    s_wake(f, "eve");
    assert_int_equal(s_replies(f, "eve", "%Question 1 of 5%"), 1);
    assert_int_equal(s_step(f, "eve"), CONV_STEP_LAST);
}

/* issue 11: a family on one phone. AUTRE marks the request (no suspected
 * duplicate); CODE lists every CIU the number obtained. */
static void test_issue11_household(void **state)
{
    fix_t *f = *state;

    s_start(f, NULL);
    s_session(f, "mum", CONV_STEP_WAIT_CIU);
    assert_int_equal(cmn_store_exec(f->d.store,
                                    "INSERT INTO ciu_done (request_id, user_key, shard, "
                                    "created_ms, trace) VALUES (4, 'mum', 0, 1, 't')",
                                    NULL, 0, NULL),
                     0);
    assert_int_equal(cmn_store_exec(f->d.store,
                                    "INSERT INTO number_cius (user_key, ciu, created_ms) VALUES "
                                    "('mum', 'MBEIBR7DA2', 1), ('mum', 'MBEKEN9KN1', 2)",
                                    NULL, 0, NULL),
                     0);
    s_wake(f, "mum");
    const char *words[] = {"AUTRE", "Mbengue", "Kenzo", "2019", "KN", "1", "1"};
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
        s_inbox(f, "mum", words[i], cmn_now_ms());
    s_wake(f, "mum");
    assert_int_equal(s_replies(f, "mum", "%autre personne%"), 1);
    assert_int_equal(tsv_int(f->d.store,
                             "SELECT count(*) FROM ciu_requests WHERE user_key = 'mum' AND "
                             "other_person = 1 AND c_first = 'KEN'",
                             NULL, 0),
                     1);
    s_inbox(f, "mum", "CODE", cmn_now_ms());
    s_wake(f, "mum");
    assert_int_equal(s_replies(f, "mum", "CIU délivrés%*MBEIBR7DA2*%*MBEKEN9KN1*"), 1);
}

/* issue 11: "did you mean <city>?" is a yes/no question: on channels with
 * buttons it carries them, like the confirmation; only the code is kept. */
static void test_issue11_city_suggestion_buttons(void **state)
{
    fix_t *f = *state;

    s_start(f, NULL);
    s_session(f, "ann", CONV_STEP_CITY);
    s_inbox(f, "ann", "Kinshassa", cmn_now_ms());
    s_wake(f, "ann");
    assert_int_equal(s_step(f, "ann"), CONV_STEP_CITY_SUGGEST);
    assert_int_equal(tsv_int(f->d.store,
                             "SELECT count(*) FROM outbox WHERE user_key = 'ann' AND ui = "
                             "'confirm:fr' AND body LIKE '%Kinshasa (KN)%'",
                             NULL, 0),
                     1);
    assert_int_equal(tsv_int(f->d.store,
                             "SELECT count(*) FROM sessions WHERE user_key = 'ann' AND c_city = "
                             "'KN'",
                             NULL, 0),
                     1);
}

/* Issue 6, item 5: replica 0 of 2 finds its person although the dead
 * replica 1 left an older backlog of more than the scan's limit. */
static void test_scan_not_starved(void **state)
{
    fix_t *f = *state;
    char eps[256], bind[128], user[32], live[32] = "";
    tsv_opts_t o = {"CIU_CONVERSATION_ENDPOINTS", eps, bind, NULL};

    snprintf(bind, sizeof(bind), "ipc://%s/c0", f->dir.dir);
    snprintf(eps, sizeof(eps), "%s,ipc://%s/c1", bind, f->dir.dir);
    s_start(f, &o);
    assert_int_equal(cmn_store_begin(f->d.store), 0);
    for (int i = 0, n = 0; n < CMN_STAGE_SCAN_LIMIT + 200; i++) {
        snprintf(user, sizeof(user), "dead-%d", i);
        if (cmn_shard_replica(user, 2) == 1) {
            s_inbox(f, user, "Bonjour", cmn_now_ms());
            n++;
        }
    }
    for (int i = 0; live[0] == '\0'; i++) {
        snprintf(user, sizeof(user), "live-%d", i);
        if (cmn_shard_replica(user, 2) == 0)
            cmn_strlcpy(live, user, sizeof(live));
    }
    s_inbox(f, live, "Bonjour", cmn_now_ms());
    assert_int_equal(cmn_store_commit(f->d.store), 0);
    assert_int_equal(conv_server_rescan(SERVER(f)), 0);
    assert_int_equal(s_replies(f, live, "%Question 1 sur 5%"), 1);
    assert_int_equal(tsv_int(f->d.store, "SELECT count(*) FROM inbox WHERE status = 1", NULL, 0),
                     1); /* the dead replica's people are left to it */
}

/* Issue 6, item 3: flood protection counts by arrival time: a backlog
 * sent slowly and handled at once (after an outage) is not a flood; a real
 * burst still is. */
static void test_flood_by_arrival(void **state)
{
    static const char *const env[] = {"CIU_FLOOD_MAX_MESSAGES", "3", "CIU_FLOOD_WINDOW_SECONDS",
                                      "10", NULL};
    tsv_opts_t o = {.env = env};
    fix_t *f = *state;
    int64_t t0 = cmn_now_ms() - 600 * SEC;

    s_start(f, &o);
    static const char *const texts[] = {"Bonjour", "Mbengue", "Ibrahima", "1997", "DA", "1"};
    for (int i = 0; i < 6; i++)
        s_inbox(f, "carol", texts[i], t0 + i * 20 * SEC);
    s_wake(f, "carol");
    assert_int_equal(s_replies(f, "carol", "%trop de messages%"), 0);
    assert_int_equal(s_step(f, "carol"), CONV_STEP_CONFIRM);

    for (int i = 0; i < 5; i++)
        s_inbox(f, "dave", "Bonjour", cmn_now_ms());
    s_wake(f, "dave");
    assert_int_equal(s_replies(f, "dave", "%trop de messages%"), 1);
}

/* Issue 6, item 3: a transaction retried after a failure counts the flood
 * once per message (PostgreSQL: the first outbox insert fails once). */
static void test_flood_counted_once(void **state)
{
    static const char *const env[] = {"CIU_FLOOD_MAX_MESSAGES", "3", NULL};
    tsv_opts_t o = {.env = env};
    fix_t *f = *state;

    if (f->g->kind != CMN_STORE_POSTGRES)
        skip();
    s_start(f, &o);
    tsv_pg_once(f->d.store, "INSERT ON outbox", "RAISE EXCEPTION 'injected failure'");
    for (int i = 0; i < 3; i++)
        s_inbox(f, "erin", i == 0 ? "Bonjour" : "aide", cmn_now_ms());
    s_wake(f, "erin");
    assert_int_equal(s_replies(f, "erin", "%trop de messages%"), 0);
    assert_int_equal(tsv_int(f->d.store, "SELECT msg_count FROM flood", NULL, 0), 3);
    assert_int_equal(tsv_int(f->d.store, "SELECT count(*) FROM inbox WHERE status = 1", NULL, 0),
                     3);
}

/* Issue 6, item 1: the session is written only if nobody changed it since
 * it was read: here another writer deletes it and commits during the
 * transaction (as the engine used to); the transaction runs again and
 * starts afresh instead of writing the stale session back. */
static void test_session_write_conditional(void **state)
{
    fix_t *f = *state;
    tsv_racer_t x;

    if (f->g->kind != CMN_STORE_POSTGRES)
        skip();
    s_start(f, NULL);
    s_session(f, "frank", CONV_STEP_WAIT_CIU);
    tsv_pg_once(f->d.store, "INSERT ON outbox", TSV_PG_HOLD);
    s_inbox(f, "frank", "Bonjour", cmn_now_ms());
    tsv_racer_start(&x, f->g, "DELETE FROM sessions WHERE user_key = 'frank'");
    s_wake(f, "frank");
    tsv_racer_join(&x);
    assert_int_equal(s_step(f, "frank"), CONV_STEP_LAST);
    assert_int_equal(s_replies(f, "frank", "%Question 1 sur 5%"), 1);
    assert_int_equal(s_replies(f, "frank", "%patienter%"), 0);
}

/* Issue 6, item 4: a stored session with an impossible time is handled as
 * expired (no overflow). */
static void test_session_odd_time(void **state)
{
    fix_t *f = *state;

    s_start(f, NULL);
    s_session(f, "gina", CONV_STEP_YEAR);
    assert_int_equal(cmn_store_exec(f->d.store,
                                    "UPDATE sessions SET updated_ms = -9223372036854775807", NULL,
                                    0, NULL),
                     0);
    s_inbox(f, "gina", "1997", cmn_now_ms());
    s_wake(f, "gina");
    assert_int_equal(s_replies(f, "gina", "%expir%"), 1);
    assert_int_equal(s_step(f, "gina"), CONV_STEP_LAST);
}

#define CASE(fn) cmocka_unit_test_setup_teardown(fn, tsv_case_setup, tsv_case_teardown)

int main(void)
{
    const struct CMUnitTest cases[] = {
        CASE(test_first_message),
        CASE(test_ciu_done_ends_session),
        CASE(test_issue11_after_the_code),
        CASE(test_issue11_household),
        CASE(test_issue11_city_suggestion_buttons),
        CASE(test_scan_not_starved),
        CASE(test_flood_by_arrival),
        CASE(test_flood_counted_once),
        CASE(test_session_write_conditional),
        CASE(test_session_odd_time),
    };
    int failed = 0;

    failed += cmocka_run_group_tests_name("conv_server_sqlite", cases, tdb_group_sqlite,
                                          tdb_group_teardown);
    failed += cmocka_run_group_tests_name("conv_server_postgres", cases, tdb_group_pg,
                                          tdb_group_teardown);
    return failed ? 1 : 0;
}
