/* admin_backup: `ciu-admin backup FILE` and `ciu-admin restore FILE`.
 *
 * SQLite: backup copies the store with SQLite's online backup API (the
 * daemons may keep running: the copy is one consistent snapshot), checks
 * the copy (PRAGMA integrity_check, the schema table) and moves it to FILE
 * only then. restore checks FILE the same way and copies it into the store
 * (CIU_DATA_DIR / DATABASE_URL) with the same API, only while no daemon has
 * the store open (it looks for their locks on the -shm file).
 *
 * PostgreSQL: pg_dump --format=custom and pg_restore --clean --if-exists
 * --single-transaction, with the connection taken from DATABASE_URL and
 * given to them as PG* environment variables (the password as PGPASSWORD:
 * never on a command line, never printed). restore refuses while other
 * sessions use the database.
 *
 * UIC_SALT is not in the store: keep it with the backups (a store restored
 * with another salt no longer recognises anyone's number).
 */
#ifndef ADMIN_BACKUP_H
#define ADMIN_BACKUP_H

/* argv[0] is "backup" or "restore". Returns the exit status. */
int admin_backup_main(int argc, char **argv);

#endif
