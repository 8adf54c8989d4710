/* Unit tests for snd_provider: requests within the providers' limits, and
 * outcomes classified by the provider's code (not the HTTP status), plus the
 * token bucket (cmn_ratelimit) with a test-controlled clock. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "common/cmn_ratelimit.h"
#include "snd_provider.h"

static cmn_i18n_t *s_texts;

static int setup(void **state)
{
    char dir[4096];
    cmn_str_t err = CMN_STR_INIT(1024);
    (void)state;
    snprintf(dir, sizeof(dir), "%s/lang", getenv("CIU_SHARE_DIR") ? getenv("CIU_SHARE_DIR")
                                                                  : "share");
    s_texts = cmn_i18n_load(dir, &err);
    cmn_str_free(&err);
    return s_texts ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    cmn_i18n_destroy(&s_texts);
    return 0;
}

static json_t *meta(const snd_reply_t *r)
{
    cmn_str_t out = CMN_STR_INIT(1 << 16);
    assert_int_equal(snd_meta_json(r, s_texts, &out), 0);
    json_t *j = json_loads(cmn_str_cstr(&out), 0, NULL);
    cmn_str_free(&out);
    assert_non_null(j);
    return j;
}

static void test_meta_text_and_recipient(void **state)
{
    (void)state;
    snd_reply_t r = {"+243810000001", "Bonjour", NULL, NULL, NULL};
    json_t *j = meta(&r);
    assert_string_equal(json_string_value(json_object_get(j, "to")), "243810000001");
    assert_string_equal(json_string_value(json_object_get(j, "type")), "text");
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "text"), "body")),
                        "Bonjour");
    json_decref(j);
    /* a person known by username only: sent to the business-scoped user id */
    snd_reply_t u = {"US.13491208655302741918", "Bonjour", NULL, NULL, NULL};
    j = meta(&u);
    assert_null(json_object_get(j, "to"));
    assert_string_equal(json_string_value(json_object_get(j, "recipient")),
                        "US.13491208655302741918");
    json_decref(j);
}

static void test_meta_gender_list(void **state)
{
    (void)state;
    snd_reply_t r = {"+243810000001", "Question 5 sur 5 : genre ?", NULL, NULL, "gender:fr"};
    json_t *j = meta(&r);
    json_t *in = json_object_get(j, "interactive");
    assert_string_equal(json_string_value(json_object_get(in, "type")), "list");
    json_t *action = json_object_get(in, "action");
    assert_true(strlen(json_string_value(json_object_get(action, "button"))) <= 20);
    json_t *rows = json_object_get(json_array_get(json_object_get(action, "sections"), 0), "rows");
    assert_int_equal(json_array_size(rows), 4);
    assert_string_equal(json_string_value(json_object_get(json_array_get(rows, 1), "id")), "2");
    assert_string_equal(json_string_value(json_object_get(json_array_get(rows, 1), "title")),
                        "Femme");
    json_decref(j);
    /* English labels for an English speaker */
    snd_reply_t e = {"+243810000001", "Question 5 of 5", NULL, NULL, "gender:en"};
    j = meta(&e);
    rows = json_object_get(json_array_get(json_object_get(json_object_get(json_object_get(
                                                               j, "interactive"),
                                                           "action"),
                                           "sections"),
                           0),
                           "rows");
    assert_string_equal(json_string_value(json_object_get(json_array_get(rows, 1), "title")),
                        "Woman");
    json_decref(j);
}

static void test_meta_confirm_buttons_and_image(void **state)
{
    (void)state;
    snd_reply_t r = {"+243810000001", "MBE / IBR / 7 / KN / Homme", NULL, NULL, "confirm:fr"};
    json_t *j = meta(&r);
    json_t *b = json_object_get(json_object_get(json_object_get(j, "interactive"), "action"),
                                "buttons");
    assert_int_equal(json_array_size(b), 2);
    json_t *reply = json_object_get(json_array_get(b, 0), "reply");
    assert_string_equal(json_string_value(json_object_get(reply, "id")), "1");
    assert_string_equal(json_string_value(json_object_get(reply, "title")), "Oui");
    json_decref(j);
    snd_reply_t img = {"+243810000001", "Votre CIU : MBEIBR7KN1", NULL, "1234567890", NULL};
    j = meta(&img);
    assert_string_equal(json_string_value(json_object_get(j, "type")), "image");
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "image"), "id")),
                        "1234567890");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(j, "image"), "caption")),
        "Votre CIU : MBEIBR7KN1");
    json_decref(j);
    /* a body over Meta's interactive limit falls back to plain text */
    char *big = malloc(1100);
    memset(big, 'a', 1099);
    big[1099] = '\0';
    snd_reply_t l = {"+243810000001", big, NULL, NULL, "gender:fr"};
    j = meta(&l);
    assert_string_equal(json_string_value(json_object_get(j, "type")), "text");
    json_decref(j);
    free(big);
}

static void test_twilio_form(void **state)
{
    cmn_str_t out = CMN_STR_INIT(8192);
    (void)state;
    snd_reply_t r = {"+243810000001", "Votre CIU : MBE & co", "https://ciu.example.org/media/qr/"
                                                            "ab.png",
                     NULL, NULL};
    assert_int_equal(snd_twilio_form(&r, "+14155238886", "https://ciu.example.org/webhooks/"
                                                         "twilio/status",
                                     &out),
                     0);
    assert_non_null(strstr(cmn_str_cstr(&out), "To=whatsapp%3A%2B243810000001"));
    assert_non_null(strstr(cmn_str_cstr(&out), "From=whatsapp%3A%2B14155238886"));
    assert_non_null(strstr(cmn_str_cstr(&out), "Body=Votre%20CIU%20%3A%20MBE%20%26%20co"));
    assert_non_null(strstr(cmn_str_cstr(&out), "MediaUrl=https%3A%2F%2Fciu.example.org"));
    assert_non_null(strstr(cmn_str_cstr(&out), "StatusCallback="));
    cmn_str_free(&out);
}

static void test_meta_classify(void **state)
{
    snd_result_t r;
    (void)state;
    snd_meta_classify(200, "{\"messages\":[{\"id\":\"wamid.X\"}]}", -1, &r);
    assert_int_equal(r.outcome, SND_OK);
    assert_string_equal(r.provider_id, "wamid.X");
    /* throttling arrives as 400/403 bodies: classified by code */
    snd_meta_classify(400, "{\"error\":{\"code\":131056,\"message\":\"pair rate\"}}", -1, &r);
    assert_int_equal(r.outcome, SND_RETRY_PEER);
    snd_meta_classify(403, "{\"error\":{\"code\":130429}}", -1, &r);
    assert_int_equal(r.outcome, SND_THROTTLE);
    snd_meta_classify(400, "{\"error\":{\"code\":80007}}", -1, &r);
    assert_int_equal(r.outcome, SND_THROTTLE);
    snd_meta_classify(429, "{\"error\":{\"code\":4}}", 3, &r);
    assert_int_equal(r.outcome, SND_THROTTLE);
    assert_int_equal(r.retry_after_s, 3);
    snd_meta_classify(401, "{\"error\":{\"code\":190,\"error_subcode\":463}}", -1, &r);
    assert_int_equal(r.outcome, SND_PAUSE);
    assert_string_equal(r.code, "190");
    snd_meta_classify(400, "{\"error\":{\"code\":131026,\"error_data\":{\"details\":\"x\"}}}",
                      -1, &r);
    assert_int_equal(r.outcome, SND_FAIL);
    assert_string_equal(r.code, "131026");
    snd_meta_classify(400, "{\"error\":{\"code\":131047}}", -1, &r);
    assert_int_equal(r.outcome, SND_FAIL);
    snd_meta_classify(500, "{\"error\":{\"code\":131000}}", -1, &r);
    assert_int_equal(r.outcome, SND_RETRY);
    snd_meta_classify(502, "<html>bad gateway</html>", -1, &r);
    assert_int_equal(r.outcome, SND_RETRY);
    snd_meta_classify(0, "", -1, &r);
    assert_int_equal(r.outcome, SND_RETRY);
    snd_meta_media_classify(200, "{\"id\":\"123456789012345\"}", -1, &r);
    assert_int_equal(r.outcome, SND_OK);
    assert_string_equal(r.provider_id, "123456789012345");
}

static void test_twilio_classify(void **state)
{
    snd_result_t r;
    (void)state;
    snd_twilio_classify(201, "{\"sid\":\"SMabc\",\"status\":\"queued\"}", -1, &r);
    assert_int_equal(r.outcome, SND_OK);
    assert_string_equal(r.provider_id, "SMabc");
    snd_twilio_classify(429, "{\"code\":20429,\"message\":\"Too Many Requests\"}", 2, &r);
    assert_int_equal(r.outcome, SND_THROTTLE);
    assert_int_equal(r.retry_after_s, 2);
    snd_twilio_classify(401, "{\"code\":20003,\"message\":\"Authenticate\"}", -1, &r);
    assert_int_equal(r.outcome, SND_PAUSE);
    snd_twilio_classify(400, "{\"code\":21211,\"message\":\"Invalid 'To' Phone Number\"}", -1,
                        &r);
    assert_int_equal(r.outcome, SND_FAIL);
    assert_string_equal(r.code, "21211");
    snd_twilio_classify(400, "{\"code\":21610}", -1, &r);
    assert_int_equal(r.outcome, SND_FAIL);
    snd_twilio_classify(503, "", -1, &r);
    assert_int_equal(r.outcome, SND_RETRY);
}

static void test_backoff(void **state)
{
    (void)state;
    assert_true(snd_backoff_ms(1, -1, 0.0) >= 500 && snd_backoff_ms(1, -1, 1.0) <= 1000);
    assert_true(snd_backoff_ms(3, -1, 1.0) == 4000);
    assert_int_equal(snd_backoff_ms(50, -1, 1.0), 300000); /* capped */
    assert_int_equal(snd_backoff_ms(1, 7, 0.0), 7000);     /* Retry-After wins */
}

static void test_ratelimit(void **state)
{
    cmn_ratelimit_t rl;
    int64_t wait = 0;
    (void)state;
    cmn_ratelimit_init(&rl, 10, 10, 1000);
    for (int i = 0; i < 10; i++)
        assert_true(cmn_ratelimit_take(&rl, 1000, &wait));
    assert_false(cmn_ratelimit_take(&rl, 1000, &wait));
    assert_true(wait > 0 && wait <= 101);
    assert_true(cmn_ratelimit_take(&rl, 1100, &wait)); /* 100 ms later: one more token */
    assert_false(cmn_ratelimit_take(&rl, 1100, &wait));
    cmn_ratelimit_hold(&rl, 5000); /* the provider said "slow down" */
    assert_false(cmn_ratelimit_take(&rl, 4000, &wait));
    assert_int_equal(wait, 1000);
    assert_true(cmn_ratelimit_take(&rl, 5200, &wait));
}

/* Fuzz finding (fuzz_provider): a 200/201 whose id is "" was SND_OK with an
 * empty provider id (a reply marked sent that no status callback can match,
 * an image sent with media id ""). It is an answer without an id: retried. */
static void test_fuzz_empty_provider_id(void **state)
{
    snd_result_t r;
    (void)state;
    snd_twilio_classify(201, "{\"sid\":\"\",\"status\":\"queued\"}", -1, &r);
    assert_int_equal(r.outcome, SND_RETRY);
    assert_string_equal(r.provider_id, "");
    snd_meta_classify(200, "{\"messages\":[{\"id\":\"\"}]}", -1, &r);
    assert_int_equal(r.outcome, SND_RETRY);
    snd_meta_media_classify(200, "{\"id\":\"\"}", -1, &r);
    assert_int_equal(r.outcome, SND_RETRY);
    assert_string_equal(r.provider_id, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_meta_text_and_recipient),
        cmocka_unit_test(test_meta_gender_list),
        cmocka_unit_test(test_meta_confirm_buttons_and_image),
        cmocka_unit_test(test_twilio_form),
        cmocka_unit_test(test_meta_classify),
        cmocka_unit_test(test_twilio_classify),
        cmocka_unit_test(test_backoff),
        cmocka_unit_test(test_ratelimit),
        cmocka_unit_test(test_fuzz_empty_provider_id),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
