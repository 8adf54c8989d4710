/* Unit tests for cmn_crypto: published HMAC vectors, SHA-256, base64,
 * random tokens, ids, user keys. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "common/cmn_crypto.h"

static void test_twilio_signature_vector(void **state)
{
    (void)state;
    /* Twilio's documented example (AuthToken 12345) */
    const char *token = "12345";
    const char *data = "https://mycompany.com/myapp.php?foo=1&bar=2"
                       "CallSidCA1234567890ABCDE"
                       "Caller+14158675309"
                       "Digits1234"
                       "From+14158675309"
                       "To+18005551212";
    char out[32];
    assert_int_equal(cmn_hmac_sha1_base64(token, strlen(token), data, strlen(data), out), 0);
    assert_string_equal(out, "RSOYDt4T1cUTdK1PDd93/VVr8B8=");
    assert_true(cmn_secure_equal(out, "RSOYDt4T1cUTdK1PDd93/VVr8B8="));
    assert_false(cmn_secure_equal(out, "RSOYDt4T1cUTdK1PDd93/VVr8B8x"));
}

static void test_hmac_sha256_rfc4231(void **state)
{
    (void)state;
    char out[CMN_HEX256_LEN];
    /* RFC 4231 test case 2 */
    const char *msg = "what do ya want for nothing?";
    assert_int_equal(cmn_hmac_sha256_hex("Jefe", 4, msg, strlen(msg), out), 0);
    assert_string_equal(out, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    /* RFC 4231 test case 1: key = 20 x 0x0b, "Hi There" */
    unsigned char key[20];
    memset(key, 0x0b, sizeof(key));
    assert_int_equal(cmn_hmac_sha256_hex(key, sizeof(key), "Hi There", 8, out), 0);
    assert_string_equal(out, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
    /* RFC 4231 test case 6: 131-byte key (longer than the block) */
    unsigned char big[131];
    memset(big, 0xaa, sizeof(big));
    const char *m6 = "Test Using Larger Than Block-Size Key - Hash Key First";
    assert_int_equal(cmn_hmac_sha256_hex(big, sizeof(big), m6, strlen(m6), out), 0);
    assert_string_equal(out, "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

static void test_sha256(void **state)
{
    (void)state;
    char out[CMN_HEX256_LEN];
    assert_int_equal(cmn_sha256_hex("abc", 3, out), 0);
    assert_string_equal(out, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    assert_int_equal(cmn_sha256_hex("", 0, out), 0);
    assert_string_equal(out, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

static void test_secure_equal(void **state)
{
    (void)state;
    assert_true(cmn_secure_equal("", ""));
    assert_true(cmn_secure_equal("abc", "abc"));
    assert_false(cmn_secure_equal("abc", "abd"));
    assert_false(cmn_secure_equal("abc", "abcd"));
    assert_false(cmn_secure_equal("abcd", "abc"));
    assert_false(cmn_secure_equal(NULL, "abc"));
    assert_false(cmn_secure_equal("abc", NULL));
}

static void test_base64(void **state)
{
    (void)state;
    /* RFC 4648 section 10 */
    static const char *const in[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *const want[] = {"",         "Zg==",     "Zm8=",    "Zm9v",
                                       "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    for (size_t i = 0; i < 7; i++) {
        char *b = cmn_base64_encode(in[i], strlen(in[i]));
        assert_non_null(b);
        assert_string_equal(b, want[i]);
        free(b);
    }
    unsigned char bin[3] = {0xfb, 0xff, 0xbf};
    char *b = cmn_base64_encode(bin, 3);
    assert_string_equal(b, "+/+/");
    free(b);
}

static void test_random(void **state)
{
    (void)state;
    char a[33], b[33];
    assert_int_equal(cmn_random_hex(a, sizeof(a), 16), 0);
    assert_int_equal(cmn_random_hex(b, sizeof(b), 16), 0);
    assert_int_equal(strlen(a), 32);
    assert_int_equal(strspn(a, "0123456789abcdef"), 32);
    assert_string_not_equal(a, b);
    assert_int_equal(cmn_random_hex(a, 32, 16), -EINVAL); /* no room for the NUL */

    unsigned char buf[64] = {0}, zero[64] = {0};
    assert_int_equal(cmn_random_bytes(buf, sizeof(buf)), 0);
    assert_memory_not_equal(buf, zero, sizeof(buf));
    assert_int_equal(cmn_random_bytes(buf, 0), 0);
}

static int s_crockford_value(char c)
{
    const char *alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    const char *p = strchr(alphabet, c);
    return p && c ? (int)(p - alphabet) : -1;
}

static void test_id_new(void **state)
{
    (void)state;
    char a[CMN_ID_LEN], b[CMN_ID_LEN];
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t before = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
    assert_int_equal(cmn_id_new(a), 0);
    assert_int_equal(strlen(a), 26);
    for (size_t i = 0; i < 26; i++)
        assert_true(s_crockford_value(a[i]) >= 0);
    /* the first 10 characters decode to the creation time in ms */
    uint64_t t = 0;
    for (size_t i = 0; i < 10; i++)
        t = t << 5 | (uint64_t)s_crockford_value(a[i]);
    assert_true(t >= before && t < before + 5000);

    /* ids sort by creation time */
    struct timespec pause = {0, 3 * 1000 * 1000};
    nanosleep(&pause, NULL);
    assert_int_equal(cmn_id_new(b), 0);
    assert_true(strcmp(a, b) < 0);
    assert_memory_not_equal(a + 10, b + 10, 16);

    /* many ids in the same ms are still unique */
    char ids[200][CMN_ID_LEN];
    for (size_t i = 0; i < 200; i++)
        assert_int_equal(cmn_id_new(ids[i]), 0);
    for (size_t i = 0; i < 200; i++)
        for (size_t j = i + 1; j < 200; j++)
            assert_string_not_equal(ids[i], ids[j]);
}

static void test_user_key(void **state)
{
    (void)state;
    const char *salt = "0123456789abcdef0123456789abcdef";
    char k1[CMN_HEX256_LEN], k2[CMN_HEX256_LEN], k3[CMN_HEX256_LEN], want[CMN_HEX256_LEN];
    assert_int_equal(cmn_user_key(salt, 32, "whatsapp:+243812345123", k1), 0);
    assert_int_equal(cmn_user_key(salt, 32, "+243812345123", k2), 0);
    assert_int_equal(cmn_user_key(salt, 32, "243812345123", k3), 0);
    assert_string_equal(k1, k2);
    assert_string_equal(k1, k3);
    assert_int_equal(cmn_hmac_sha256_hex(salt, 32, "243812345123", 12, want), 0);
    assert_string_equal(k1, want);
    /* another salt, another key */
    assert_int_equal(cmn_user_key("another-salt-another-salt-000000", 32, "+243812345123", k2), 0);
    assert_string_not_equal(k1, k2);
    assert_int_equal(cmn_user_key(salt, 32, NULL, k2), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_twilio_signature_vector),
        cmocka_unit_test(test_hmac_sha256_rfc4231),
        cmocka_unit_test(test_sha256),
        cmocka_unit_test(test_secure_equal),
        cmocka_unit_test(test_base64),
        cmocka_unit_test(test_random),
        cmocka_unit_test(test_id_new),
        cmocka_unit_test(test_user_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
