/* ing_server: the HTTP front door of ciu (libmicrohttpd).
 *
 * Routes: the simulator channel (POST/GET /sim/messages, the chat page at
 * /sim/), generated media (/media/qr/<token>.png), /health and /metrics.
 * Each connection has its own thread (MHD thread-per-connection): a POST
 * blocks in ing_inbox_submit() until its message is committed, and a
 * long-poll GET sleeps on a condition variable that the sender's
 * message.sent events signal. Bodies are capped at 64 KiB (413).
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
