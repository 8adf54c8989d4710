/* admin_check: `ciu-admin check [--json]`: everything an operator must get
 * right before going live, one line each ("ok", "warn" or "FAIL", what,
 * and the fix):
 *   configuration   every variable parses; the channels' settings hold
 *   store           reachable, schema up to date (else: ciu-admin migrate)
 *   UIC_SALT        set, long enough, not a placeholder
 *   twilio / meta   each enabled channel's credentials, by a harmless
 *                   authenticated GET (Twilio's account, Meta's phone number)
 *   webhook         PUBLIC_BASE_URL + WEBHOOK_PATH answers from outside:
 *                   Meta's verification handshake, else GET /health
 *   QR codes        ENABLE_QR_CODE has a public URL to serve the images
 *   DHIS2           when configured: the checks of `dhis2 check`
 *   CIU_ADMIN_PASSWORD  when set: long enough
 * Exit 0 when nothing failed (warnings allowed), 78 when a setting is wrong,
 * else 69 when something does not answer. Each call times out after 5 s.
 */
#ifndef ADMIN_CHECK_H
#define ADMIN_CHECK_H

#include <stdbool.h>

/* true when salt looks like a placeholder, not a secret: a known example
 * text, or fewer than 8 different characters. */
bool admin_salt_is_placeholder(const char *salt);

/* argv[0] is "check". Returns the exit status. */
int admin_check_main(int argc, char **argv);

#endif
