/* cmn_crypto: HMAC, SHA-256, random bytes, ids, base64 (OpenSSL). See cmn_crypto.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "common/cmn_crypto.h"

static const char s_hex[] = "0123456789abcdef";
static const char s_crockford[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

static void s_to_hex(const unsigned char *in, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = s_hex[in[i] >> 4];
        out[2 * i + 1] = s_hex[in[i] & 15];
    }
    out[2 * n] = '\0';
}

int cmn_hmac_sha256_hex(const void *key, size_t keylen, const void *msg, size_t msglen,
                        char out[CMN_HEX256_LEN])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (keylen > INT32_MAX)
        return -EINVAL;
    /* HMAC() rejects a NULL key even when keylen is 0 */
    static const unsigned char empty[1] = {0};
    if (!HMAC(EVP_sha256(), key ? key : empty, (int)keylen, msg ? msg : empty, msglen, md,
              &mdlen) ||
        mdlen != 32)
        return -EIO;
    s_to_hex(md, 32, out);
    OPENSSL_cleanse(md, sizeof(md));
    return 0;
}

int cmn_hmac_sha1_base64(const void *key, size_t keylen, const void *msg, size_t msglen,
                         char out[32])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    static const unsigned char empty[1] = {0};
    if (keylen > INT32_MAX)
        return -EINVAL;
    if (!HMAC(EVP_sha1(), key ? key : empty, (int)keylen, msg ? msg : empty, msglen, md,
              &mdlen) ||
        mdlen != 20)
        return -EIO;
    /* 20 bytes -> 28 characters + NUL */
    EVP_EncodeBlock((unsigned char *)out, md, 20);
    return 0;
}

int cmn_sha256_hex(const void *msg, size_t len, char out[CMN_HEX256_LEN])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    static const unsigned char empty[1] = {0};
    if (!EVP_Digest(msg ? msg : empty, len, md, &mdlen, EVP_sha256(), NULL) || mdlen != 32)
        return -EIO;
    s_to_hex(md, 32, out);
    return 0;
}

int cmn_secure_equal(const char *a, const char *b)
{
    if (!a || !b)
        return 0;
    size_t la = strlen(a), lb = strlen(b);
    /* the length is not secret (signatures have a fixed length) */
    if (la != lb)
        return 0;
    return CRYPTO_memcmp(a, b, la) == 0;
}

int cmn_random_bytes(void *buf, size_t n)
{
    unsigned char *p = buf;
    while (n > 0) {
        int chunk = n > 1 << 20 ? 1 << 20 : (int)n;
        if (RAND_bytes(p, chunk) != 1)
            return -EIO;
        p += chunk;
        n -= (size_t)chunk;
    }
    return 0;
}

int cmn_random_hex(char *out, size_t outlen, size_t nbytes)
{
    if (nbytes > (SIZE_MAX - 1) / 2 || outlen < 2 * nbytes + 1)
        return -EINVAL;
    unsigned char buf[256];
    size_t done = 0;
    while (done < nbytes) {
        size_t k = nbytes - done > sizeof(buf) ? sizeof(buf) : nbytes - done;
        if (cmn_random_bytes(buf, k) < 0)
            return -EIO;
        s_to_hex(buf, k, out + 2 * done);
        done += k;
    }
    out[2 * nbytes] = '\0';
    OPENSSL_cleanse(buf, sizeof(buf));
    return 0;
}

int cmn_id_new(char out[CMN_ID_LEN])
{
    struct timespec ts;
    unsigned char rnd[10]; /* 80 bits = 16 Crockford characters */
    if (cmn_random_bytes(rnd, sizeof(rnd)) < 0)
        return -EIO;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t ms = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
    for (int i = 9; i >= 0; i--) {
        out[i] = s_crockford[ms & 31];
        ms >>= 5;
    }
    /* 80 random bits, 5 at a time */
    for (int i = 0; i < 16; i++) {
        int bit = i * 5;
        unsigned v = ((unsigned)rnd[bit / 8] << 8 | (bit / 8 + 1 < 10 ? rnd[bit / 8 + 1] : 0));
        out[10 + i] = s_crockford[(v >> (11 - bit % 8)) & 31];
    }
    out[26] = '\0';
    return 0;
}

char *cmn_base64_encode(const void *data, size_t len)
{
    if (len > (size_t)INT32_MAX / 4 * 3 - 3)
        return NULL;
    size_t outlen = 4 * ((len + 2) / 3) + 1;
    char *out = malloc(outlen);
    if (!out)
        return NULL;
    if (len == 0) {
        out[0] = '\0';
        return out;
    }
    EVP_EncodeBlock((unsigned char *)out, data, (int)len);
    return out;
}

int cmn_user_key(const void *salt, size_t saltlen, const char *number, char out[CMN_HEX256_LEN])
{
    if (!number)
        return -EINVAL;
    /* one key per person whatever the channel's spelling:
     * "whatsapp:+243..." (Twilio), "243..." (Meta) and "+243..." agree */
    if (strncmp(number, "whatsapp:", 9) == 0)
        number += 9;
    if (*number == '+')
        number++;
    return cmn_hmac_sha256_hex(salt, saltlen, number, strlen(number), out);
}
