/* admin_purge: `ciu-admin purge [--days N] [--dry-run] [--json]`.
 *
 * Deletes the finished work older than N days (default CIU_RETENTION_DAYS,
 * 0 = keep forever) through cmn_retention_purge, in short batches, and
 * prints how many rows went per table. Never the registry, pending work,
 * the DHIS2 queue or duplicates (cmn_retention.h).
 */
#ifndef ADMIN_PURGE_H
#define ADMIN_PURGE_H

/* argv[0] is "purge". Returns the exit status. */
int admin_purge_main(int argc, char **argv);

#endif
