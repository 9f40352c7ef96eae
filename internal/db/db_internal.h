/*
 * db_internal: what the files of internal/db share; not for other modules. Errors are
 * classified in conn.c, where a connection error also counts against its node.
 */
#ifndef CMDB_DB_INTERNAL_H
#define CMDB_DB_INTERNAL_H

#include <stddef.h>

#include "db/db.h"

/*
 * Maps a connector error to enum cmdb_err, writes it to err and marks c broken (and its
 * node failed) when the connection is lost: db_conn_error for c->mysql's last error,
 * db_stmt_error for st's.
 */
int db_conn_error(struct db_conn *c, char *err, size_t errlen);
int db_stmt_error(struct db_conn *c, MYSQL_STMT *st, char *err, size_t errlen);

/* A statement on a connection that a failed reconnect left closed: CMDB_EDBDOWN. */
int db_closed(struct db_conn *c, char *err, size_t errlen);

/*
 * On Galera, a statement that seems to have lost a race may instead have lost its node:
 * rc (CMDB_ERETRY) becomes CMDB_EDBDOWN when the node says it is not usable. Any other
 * rc is returned as it is.
 */
int db_settle(struct db_conn *c, int rc, char *err, size_t errlen);

/* Closes every statement c keeps prepared (stmt.c); before its connection goes. */
void db_stmts_drop(struct db_conn *c);

#endif
