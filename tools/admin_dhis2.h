/* admin_dhis2: the `ciu-admin dhis2` commands.
 *
 *   ciu-admin dhis2 check [--json]      the DHIS2 configuration against the server,
 *                                       one line per check; exit 0 only when all pass
 *   ciu-admin dhis2 status [--json]     pending / synced / failed, oldest pending, last
 *                                       error, potential duplicates, each bridge's state
 *   ciu-admin dhis2 retry [--failed]    retry the pending enrolments now; --failed:
 *                                       re-queue the failed ones (after a fix)
 *
 * Reads the daemons' settings (environment + ./.env) and, for status and
 * retry, opens their store. `check` makes blocking libcurl calls.
 */
#ifndef ADMIN_DHIS2_H
#define ADMIN_DHIS2_H

#include "admin_util.h"
#include "common/cmn_settings.h"

/* Run the DHIS2 checks of `dhis2 check` against st's DHIS2, one report line
 * each (`ciu-admin check` calls it too). A wrong setting is ADMIN_FAIL,
 * DHIS2 not answering ADMIN_DOWN. CMN_EXIT_CONFIG when DHIS2 is not
 * configured or its settings do not parse, else CMN_EXIT_OK (see rep). */
int admin_dhis2_checks(const cmn_settings_t *st, admin_report_t *rep);

/* argv[0] is "dhis2". Returns the exit status (sysexits, as ciu-admin). */
int admin_dhis2_main(int argc, char **argv);

#endif
