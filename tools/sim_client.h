/* sim_client: small helpers shared by ciu-chat and ciu-loadgen for talking to
 * ciu-ingress's simulator API (docs/simulator.md).
 *
 * POST /sim/messages {"from", "text"} -> 202 {"id"}; GET /sim/messages?to=&after=&wait=
 * -> 200 {"messages": [{"id", "text", "media_url"}], "cursor"}. These helpers build
 * the request URLs and bodies, collect response bodies into bounded cmn_str_t buffers
 * and decode the poll answer; they never log and never touch the network themselves.
 */
#ifndef SIM_CLIENT_H
#define SIM_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

#include "common/cmn_str.h"

#define SIM_CURSOR_MAX 256         /* longest cursor we keep, bytes with the NUL */
#define SIM_URL_MAX 2048           /* longest request URL we build */
#define SIM_POLL_BODY_MAX (4 << 20) /* hard maximum of a GET /sim/messages body */
#define SIM_POST_BODY_MAX (64 << 10) /* the API's inbound limit (413 past it) */
#define SIM_WAIT_MAX 30            /* the API caps long-polls at 30 s */

/* "+" then 8 to 15 digits, nothing else. */
bool sim_number_valid(const char *number);

/* Default base URL: http://127.0.0.1:$CIU_HTTP_PORT, or port 8000 when unset or invalid.
 * Writes at most size bytes, always NUL-terminated. */
void sim_default_url(char *dst, size_t size);

/* Copy a base URL without trailing slashes. Accepts only http:// URLs.
 * Returns 0, -EINVAL (not http://, empty) or -E2BIG. */
int sim_base_url(char *dst, size_t size, const char *url);

/* True when the base URL's host is loopback (127.0.0.0/8, localhost, [::1]). */
bool sim_url_is_loopback(const char *base);

/* GET URL for the messages to `number` after `cursor` (NULL or "" = from the start),
 * long-polling `wait` seconds. Returns 0, -E2BIG, -ENOMEM. */
int sim_poll_url(char *dst, size_t size, const char *base, const char *number,
                 const char *cursor, int wait);

/* JSON body of an inbound message (caller owns, free()). NULL on -ENOMEM or bad UTF-8. */
char *sim_post_body(const char *number, const char *text);

/* A libcurl CURLOPT_WRITEFUNCTION appending to the cmn_str_t given as CURLOPT_WRITEDATA.
 * Returns 0 (curl then fails with CURLE_WRITE_ERROR) when the body passes its maximum. */
size_t sim_write_cb(char *data, size_t size, size_t nmemb, void *userdata);

/* One message from the bot, borrowed from the decoded JSON (valid during the callback). */
typedef struct {
    const char *id;
    const char *text;      /* "" when absent */
    const char *media_url; /* NULL when absent or null */
} sim_msg_t;

/* Called for each message in order; return non-zero to stop early. */
typedef int (*sim_msg_fn)(const sim_msg_t *msg, void *arg);

/* Decode a GET /sim/messages body: calls fn for each message, then copies the cursor
 * into cursor (size SIM_CURSOR_MAX) when one is present. Returns the number of
 * messages, -EBADMSG (not the expected shape), -E2BIG (cursor too long). */
int sim_poll_decode(const char *body, size_t len, sim_msg_fn fn, void *arg,
                    char cursor[SIM_CURSOR_MAX]);

/* The "error" string of an error body, copied into dst; "" when there is none. */
void sim_error_text(const char *body, size_t len, char *dst, size_t size);

/* Absolute URL for a media_url: relative paths are resolved against base.
 * Returns 0 or -E2BIG. */
int sim_media_url(char *dst, size_t size, const char *base, const char *media_url);

/* True when text contains a CIU: a whole word of 6 letters A-Z, a digit, 2 letters A-Z
 * and a digit 1-4 (e.g. MBEIBR7DA1). When found and ret_ciu is not NULL, copies it
 * (ret_ciu must hold 11 bytes). */
bool sim_find_ciu(const char *text, char *ret_ciu);

#endif
