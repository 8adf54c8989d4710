/* ing_server: the HTTP front door of ciu (libmicrohttpd).
 *
 * Routes (a table: method, path, body limit, handler): the WhatsApp
 * webhooks (WEBHOOK_PATH for both providers, /webhooks/twilio[/status],
 * /webhooks/meta; signatures checked, then stored), the simulator channel
 * (POST/GET /sim/messages, the chat page at /sim/), generated media
 * (/media/qr/<token>.png), /health, and the programme dashboard under
 * /admin/ when CIU_ADMIN_PASSWORD is set (ing_admin.c); /metrics is on the
 * admin port only. MHD runs an epoll loop on two threads and no handler
 * waits for other work (short store reads aside, the simulator's and the
 * dashboard's, bounded by the store's deadline): a request that waits for
 * the inbox commit, or a long-poll that waits for a reply, suspends its
 * connection and is resumed by the inbox writer, the event thread, or the
 * watchdog at its deadline. A body over its route's limit gets 413 as soon
 * as it crosses it.
 */
#ifndef ING_SERVER_H
#define ING_SERVER_H

#include "common/cmn_channels.h"
#include "common/cmn_daemon.h"

typedef struct ing_server ing_server_t;

/* Start listening (d borrowed). NULL on failure (logged). */
ing_server_t *ing_server_new(cmn_daemon_t *d, const cmn_channels_t *ch);
int ing_server_port(const ing_server_t *s);
/* Block until SIGTERM/SIGINT, then stop taking requests. Returns an exit code. */
int ing_server_run(ing_server_t *s);
void ing_server_destroy(ing_server_t **p);

#endif
