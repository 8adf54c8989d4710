/* cmn_crypto: keyed hashes, random tokens, ids and base64 (OpenSSL).
 *
 * Phone numbers and registrations are stored as HMAC-SHA256 under the secret
 * salt (UIC_SALT), never as plain hashes. Ids and tokens come from the
 * kernel's CSPRNG through OpenSSL RAND_bytes.
 */
#ifndef CMN_CRYPTO_H
#define CMN_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#define CMN_HEX256_LEN 65 /* 64 hex digits + NUL */
#define CMN_ID_LEN 27     /* 26 chars + NUL */

/* HMAC-SHA256(key, msg) as 64 lowercase hex digits. 0 or -EIO. */
int cmn_hmac_sha256_hex(const void *key, size_t keylen, const void *msg, size_t msglen,
                        char out[CMN_HEX256_LEN]);
/* HMAC-SHA1(key, msg) in standard base64 with padding (Twilio signatures). */
int cmn_hmac_sha1_base64(const void *key, size_t keylen, const void *msg, size_t msglen,
                         char out[32]);
/* SHA-256(msg) as lowercase hex. */
int cmn_sha256_hex(const void *msg, size_t len, char out[CMN_HEX256_LEN]);
/* Constant-time comparison of two NUL-terminated strings; 1 when equal. */
int cmn_secure_equal(const char *a, const char *b);
/* n random bytes. 0 or -EIO. */
int cmn_random_bytes(void *buf, size_t n);
/* Unguessable URL-safe token: `nbytes` random bytes as lowercase hex (2n chars). */
int cmn_random_hex(char *out, size_t outlen, size_t nbytes);
/* New unique id: 10 chars of time (ms, base32 Crockford) + 16 random chars,
 * sortable by creation time. */
int cmn_id_new(char out[CMN_ID_LEN]);
/* Standard base64 of data into a malloc'd string (caller frees), NULL on error. */
char *cmn_base64_encode(const void *data, size_t len);

/* Keyed hash of a phone number: the stored "user key", HMAC-SHA256(salt,
 * number) in hex, after dropping a "whatsapp:" prefix and a leading '+', so
 * "whatsapp:+243...", "+243..." (Twilio) and "243..." (Meta) give one key.
 * 0, -EINVAL (NULL number) or -EIO. */
int cmn_user_key(const void *salt, size_t saltlen, const char *number, char out[CMN_HEX256_LEN]);

#endif
