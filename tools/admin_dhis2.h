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

/* argv[0] is "dhis2". Returns the exit status (sysexits, as ciu-admin). */
int admin_dhis2_main(int argc, char **argv);

#endif
