/* Unit tests for ing_webhook: the form decoder, Twilio's and Meta's
 * signatures against the official vectors (../shared/reference/channels.md),
 * and the two payload decoders. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ing_webhook.h"

/* The SDKs' example: AuthToken 12345, five call parameters. */
static const char s_tw_body[] = "CallSid=CA1234567890ABCDE&Caller=%2B14158675309&Digits=1234&"
                                "From=%2B14158675309&To=%2B18005551212";

static void parse(const char *body, ing_form_t *f)
{
    assert_int_equal(ing_form_parse(body, strlen(body), f), 0);
}

static void test_form_decoding(void **state)
{
    ing_form_t f;
    (void)state;
    parse("Body=Bonjour+%C3%A0+tous&Empty=&NoValue&&From=whatsapp%3A%2B243810000001", &f);
    assert_int_equal(f.n, 4);
    assert_string_equal(ing_form_get(&f, "Body"), "Bonjour à tous");
    assert_string_equal(ing_form_get(&f, "Empty"), "");
    assert_string_equal(ing_form_get(&f, "NoValue"), "");
    assert_string_equal(ing_form_get(&f, "From"), "whatsapp:+243810000001");
    assert_null(ing_form_get(&f, "Missing"));
    ing_form_free(&f);
    /* bad escapes and invalid UTF-8 are refused, not passed on */
    assert_int_equal(ing_form_parse("a=%4", 4, &f), -EINVAL);
    assert_int_equal(ing_form_parse("a=%zz", 5, &f), -EINVAL);
    assert_int_equal(ing_form_parse("a=%FF%FE", 8, &f), -EINVAL);
    assert_int_equal(ing_form_parse("a=%00", 5, &f), -EINVAL);
    assert_int_equal(f.n, 0);
}

static void test_twilio_vectors(void **state)
{
    ing_form_t f;
    (void)state;
    parse(s_tw_body, &f);
    const char *url = "https://mycompany.com/myapp.php?foo=1&bar=2";
    assert_true(ing_twilio_valid("12345", url, &f, "RSOYDt4T1cUTdK1PDd93/VVr8B8="));
    /* signed with :443 added: accepted through the add-port variant */
    assert_true(ing_twilio_valid("12345", url, &f, "kvajT1Ptam85bY51eRf/AJRuM3w="));
    /* request URL with a port, signed without it: the stripped-port variant */
    assert_true(ing_twilio_valid("12345", "https://mycompany.com:1234/myapp.php?foo=1&bar=2", &f,
                                 "RSOYDt4T1cUTdK1PDd93/VVr8B8="));
    assert_true(ing_twilio_valid("12345", "http://mycompany.com:1234/myapp.php?foo=1&bar=2", &f,
                                 "Zmvh+3yNM1Phv2jhDCwEM3q5ebU="));
    assert_true(ing_twilio_valid("12345", "http://mycompany.com/myapp.php?foo=1&bar=2", &f,
                                 "0ZXoZLH/DfblKGATFgpif+LLRf4="));
    /* wrong token, wrong URL, tampered parameter, empty or missing signature */
    assert_false(ing_twilio_valid("12346", url, &f, "RSOYDt4T1cUTdK1PDd93/VVr8B8="));
    assert_false(ing_twilio_valid("12345", "https://mycompany.com/myapp.php?foo=1&bar=3", &f,
                                  "RSOYDt4T1cUTdK1PDd93/VVr8B8="));
    assert_false(ing_twilio_valid("12345", url, &f, ""));
    assert_false(ing_twilio_valid("12345", url, &f, NULL));
    assert_false(ing_twilio_valid("", url, &f, "RSOYDt4T1cUTdK1PDd93/VVr8B8="));
    ing_form_free(&f);
    parse("CallSid=CA1234567890ABCDE&Caller=%2B14158675309&Digits=9999&From=%2B14158675309&"
          "To=%2B18005551212",
          &f);
    assert_false(ing_twilio_valid("12345", url, &f, "RSOYDt4T1cUTdK1PDd93/VVr8B8="));
    ing_form_free(&f);
    /* repeated keys: sorted by value, identical pairs once */
    parse("Sid=CA123&SidAccount=AC123&Digits=5678&Digits=1234&Digits=1234", &f);
    assert_true(ing_twilio_valid("12345", url, &f, "IK+Dwps556ElfBT0I3Rgjkr1wJU="));
    ing_form_free(&f);
}

static void test_meta_vectors(void **state)
{
    (void)state;
    assert_true(ing_meta_valid(
        "sesame", "hello world", 11,
        "sha256=f39034b29165ec6a5104d9aef27266484ab26c8caa7bca8bcb2dd02e8be61b17"));
    assert_true(ing_meta_valid(
        "sesame", "hello world2", 12,
        "sha256=60905fdf409d0b4f721e99f6f25b31567a68a6b45e933d814e17a246be4c5a53"));
    assert_false(ing_meta_valid(
        "sesame", "hello world!", 12,
        "sha256=f39034b29165ec6a5104d9aef27266484ab26c8caa7bca8bcb2dd02e8be61b17"));
    assert_false(ing_meta_valid(
        "other", "hello world", 11,
        "sha256=f39034b29165ec6a5104d9aef27266484ab26c8caa7bca8bcb2dd02e8be61b17"));
    assert_false(ing_meta_valid(
        "sesame", "hello world", 11,
        "sha1=f39034b29165ec6a5104d9aef27266484ab26c8caa7bca8bcb2dd02e8be61b17"));
    assert_false(ing_meta_valid("sesame", "hello world", 11, "sha256=f390"));
    assert_false(ing_meta_valid("sesame", "hello world", 11, NULL));
}

static void test_meta_payload(void **state)
{
    static const char body[] =
        "{\"object\":\"whatsapp_business_account\",\"entry\":[{\"id\":\"1\",\"changes\":[{"
        "\"field\":\"messages\",\"value\":{\"messaging_product\":\"whatsapp\","
        "\"metadata\":{\"phone_number_id\":\"106540352242922\"},"
        "\"contacts\":[{\"profile\":{\"name\":\"A\"},\"wa_id\":\"243810000001\"}],"
        "\"messages\":["
        "{\"from\":\"243810000001\",\"id\":\"wamid.1\",\"type\":\"text\",\"text\":{\"body\":"
        "\"Mbengu\\u00e9\"}},"
        "{\"from\":\"243810000002\",\"id\":\"wamid.2\",\"type\":\"interactive\","
        "\"interactive\":{\"type\":\"list_reply\",\"list_reply\":{\"id\":\"2\",\"title\":"
        "\"Femme\"}}},"
        "{\"from\":\"243810000003\",\"id\":\"wamid.3\",\"type\":\"interactive\","
        "\"interactive\":{\"type\":\"button_reply\",\"button_reply\":{\"id\":\"1\",\"title\":"
        "\"Oui\"}}},"
        "{\"from\":\"243810000004\",\"id\":\"wamid.4\",\"type\":\"button\",\"button\":{"
        "\"text\":\"Oui\",\"payload\":\"1\"}},"
        "{\"from\":\"243810000005\",\"id\":\"wamid.5\",\"type\":\"image\",\"image\":{\"id\":"
        "\"9\",\"mime_type\":\"image/jpeg\"}},"
        "{\"from\":\"243810000006\",\"id\":\"wamid.6\",\"type\":\"reaction\",\"reaction\":{"
        "\"message_id\":\"wamid.x\",\"emoji\":\"x\"}},"
        "{\"id\":\"wamid.7\",\"type\":\"system\",\"system\":{\"body\":\"changed\"}},"
        "{\"from_user_id\":\"US.13491208655302741918\",\"id\":\"wamid.8\",\"type\":\"text\","
        "\"text\":{\"body\":\"Bonjour\"}},"
        "{\"id\":\"wamid.9\",\"type\":\"text\",\"text\":{\"body\":\"nobody\"}}"
        "],\"statuses\":["
        "{\"id\":\"wamid.out1\",\"status\":\"delivered\",\"timestamp\":\"1\",\"recipient_id\":"
        "\"243810000001\"},"
        "{\"id\":\"wamid.out2\",\"status\":\"failed\",\"errors\":[{\"code\":131026}]},"
        "{\"id\":\"wamid.out3\",\"status\":\"deleted\"}"
        "]}}]}]}";
    ing_batch_t b;
    char err[128];
    (void)state;
    assert_int_equal(ing_meta_parse(body, strlen(body), &b, err, sizeof(err)), 0);
    assert_int_equal(b.nmsgs, 6);
    assert_string_equal(b.msgs[0].from, "+243810000001");
    assert_string_equal(b.msgs[0].kind, "text");
    assert_string_equal(b.msgs[0].text, "Mbengué");
    assert_string_equal(b.msgs[0].account, "106540352242922"); /* the number written to */
    assert_string_equal(b.msgs[1].text, "2"); /* list answer: the row id */
    assert_string_equal(b.msgs[2].text, "1"); /* button answer: the button id */
    assert_string_equal(b.msgs[3].text, "1"); /* template quick reply: the payload */
    assert_string_equal(b.msgs[4].kind, "image");
    assert_null(b.msgs[4].text);
    assert_string_equal(b.msgs[5].from, "US.13491208655302741918"); /* username only */
    assert_string_equal(b.msgs[5].id, "wamid.8");
    assert_int_equal(b.ignored, 4); /* reaction, system, no sender, deleted status */
    assert_int_equal(b.nstatuses, 2);
    assert_string_equal(b.statuses[0].status, "delivered");
    assert_string_equal(b.statuses[1].error_code, "131026");
    ing_batch_free(&b);
}

static void test_meta_refusals(void **state)
{
    ing_batch_t b;
    char err[128];
    (void)state;
    /* the reason never quotes the body (it may hold a name) */
    const char *bad = "{\"entry\": [\"Kabila Joseph";
    assert_int_equal(ing_meta_parse(bad, strlen(bad), &b, err, sizeof(err)), -EINVAL);
    assert_null(strstr(err, "Kabila"));
    assert_int_equal(ing_meta_parse("{}", 2, &b, err, sizeof(err)), -EINVAL);
    assert_int_equal(ing_meta_parse("\xff\xfe", 2, &b, err, sizeof(err)), -EINVAL);
}

static void test_twilio_payloads(void **state)
{
    ing_form_t f;
    ing_batch_t b;
    char err[128];
    (void)state;
    parse("MessageSid=SM1&From=whatsapp%3A%2B243810000001&To=whatsapp%3A%2B14155238886&"
          "Body=Ibrahima&NumMedia=0&SmsStatus=received&WaId=243810000001",
          &f);
    assert_int_equal(ing_twilio_parse(&f, &b, err, sizeof(err)), 0);
    assert_int_equal(b.nmsgs, 1);
    assert_string_equal(b.msgs[0].from, "+243810000001");
    assert_string_equal(b.msgs[0].text, "Ibrahima");
    assert_string_equal(b.msgs[0].account, "+14155238886");
    ing_batch_free(&b);
    ing_form_free(&f);
    parse("MessageSid=SM2&From=whatsapp%3A%2B243810000001&ButtonText=Oui&ButtonPayload=1&"
          "Body=Oui",
          &f);
    assert_int_equal(ing_twilio_parse(&f, &b, err, sizeof(err)), 0);
    assert_string_equal(b.msgs[0].text, "1");
    ing_batch_free(&b);
    ing_form_free(&f);
    parse("MessageSid=MM3&From=whatsapp%3A%2B243810000001&NumMedia=1&"
          "MediaContentType0=audio%2Fogg&Body=",
          &f);
    assert_int_equal(ing_twilio_parse(&f, &b, err, sizeof(err)), 0);
    assert_string_equal(b.msgs[0].kind, "audio");
    ing_batch_free(&b);
    ing_form_free(&f);
    parse("MessageSid=SM4&MessageStatus=undelivered&SmsStatus=undelivered&ErrorCode=63016", &f);
    assert_int_equal(ing_twilio_parse(&f, &b, err, sizeof(err)), 0);
    assert_int_equal(b.nmsgs, 0);
    assert_int_equal(b.nstatuses, 1);
    assert_string_equal(b.statuses[0].status, "undelivered");
    assert_string_equal(b.statuses[0].error_code, "63016");
    ing_batch_free(&b);
    ing_form_free(&f);
    parse("Body=no+sid&From=whatsapp%3A%2B243810000001", &f);
    assert_int_equal(ing_twilio_parse(&f, &b, err, sizeof(err)), -EINVAL);
    ing_form_free(&f);
}

static void test_status_rank(void **state)
{
    (void)state;
    assert_true(ing_status_rank("sent") < ing_status_rank("delivered"));
    assert_true(ing_status_rank("delivered") < ing_status_rank("read"));
    assert_true(ing_status_rank("read") < ing_status_rank("failed"));
    assert_int_equal(ing_status_rank("deleted"), -1);
    assert_int_equal(ing_status_rank(NULL), -1);
}

/* Fuzz finding (fuzz_meta_webhook): a message with "type":"" was kept with
 * kind "" (no kind at all, in the inbox and the message.received event). It
 * is a message without a type: ignored. */
static void test_fuzz_meta_empty_type(void **state)
{
    static const char body[] =
        "{\"entry\":[{\"changes\":[{\"value\":{\"messages\":[{\"from\":\"243810000001\","
        "\"id\":\"wamid.1\",\"type\":\"\",\"text\":{\"body\":\"Ibrahima\"}}]}}]}]}";
    ing_batch_t b;
    char err[128];
    (void)state;
    assert_int_equal(ing_meta_parse(body, strlen(body), &b, err, sizeof(err)), 0);
    assert_int_equal(b.nmsgs, 0);
    assert_int_equal(b.ignored, 1);
    ing_batch_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_form_decoding), cmocka_unit_test(test_twilio_vectors),
        cmocka_unit_test(test_meta_vectors),  cmocka_unit_test(test_meta_payload),
        cmocka_unit_test(test_meta_refusals), cmocka_unit_test(test_twilio_payloads),
        cmocka_unit_test(test_status_rank),   cmocka_unit_test(test_fuzz_meta_empty_type),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
