/* cmn_admin: the small HTTP listener (libmicrohttpd) every daemon exposes for
 * supervisors: GET /health (JSON, 200 or 503) and GET /metrics (Prometheus).
 * ciu-ingress serves the same two paths on its main port instead.
 */
#ifndef CMN_ADMIN_H
#define CMN_ADMIN_H

#include "common/cmn_metrics.h"
#include "common/cmn_str.h"

typedef struct cmn_admin cmn_admin_t;

/* Health callback, called on the listener's thread: append a JSON object to
 * out and return 200 (healthy) or 503. Must be thread-safe. */
typedef int (*cmn_health_fn)(void *arg, cmn_str_t *out);

/* Listen on addr:port (port 0: the kernel picks; read it with cmn_admin_port).
 * metrics and health are borrowed. NULL on failure (errno set). */
cmn_admin_t *cmn_admin_new(const char *addr, int port, cmn_metrics_t *metrics,
                           cmn_health_fn health, void *arg);
int cmn_admin_port(const cmn_admin_t *a);
void cmn_admin_destroy(cmn_admin_t **p);

/* Append "key=value\n" to a port file (created 0644), for tests and
 * supervisors that start daemons on port 0. 0 or -errno. */
int cmn_portfile_append(const char *path, const char *key, const char *value);

#endif
