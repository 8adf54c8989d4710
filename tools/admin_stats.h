/* admin_stats: `ciu-admin stats [--json]`.
 *
 * The dashboard's figures (common/cmn_stats: registrations, conversations
 * and where people give up, duplicates, DHIS2, delivery, queues) as a
 * readable table, in French when the locale (LC_ALL, LC_MESSAGES, LANG)
 * starts with "fr", else in English; --json prints cmn_stats' object as
 * is. docs/dashboard.md describes every figure.
 */
#ifndef ADMIN_STATS_H
#define ADMIN_STATS_H

#include <stdbool.h>

typedef struct cmn_store cmn_store_t;

/* Print the figures of the (migrated) store. Returns an exit status. */
int admin_stats(cmn_store_t *store, bool json);

#endif
