/* admin_collisions: `ciu-admin collisions [--json]`.
 *
 * Estimates, from the registry's own distribution of the CIU's parts (the
 * three letters of each name, the year digit, the city, the gender), the
 * probability that two different people share a CIU, overall and per city,
 * so a programme knows what the code can and cannot distinguish. Parts are
 * taken as independent: P = sum(p_last^2) * sum(p_first^2) * sum(p_year^2)
 * * sum(p_city^2) * sum(p_gender^2), and per city the same product without
 * the city, over that city's registrations. docs/ciu-rules.md explains the
 * figures.
 */
#ifndef ADMIN_COLLISIONS_H
#define ADMIN_COLLISIONS_H

#include <stdbool.h>

typedef struct cmn_store cmn_store_t;

/* Print the report (text, or JSON when json) for the store, which must be
 * migrated. Returns an exit status (sysexits, as ciu-admin). */
int admin_collisions(cmn_store_t *store, bool json);

#endif
