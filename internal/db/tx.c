/*
 * db/tx: transactions, and statements without parameters for our own fixed SQL. A COMMIT
 * lost on the way says whether it may have committed (c->unsure).
 */
#include <mysqld_error.h>
#include <string.h>

#include "core/core.h"
#include "db/db.h"
#include "db/db_internal.h"

int db_exec_raw(struct db_conn *c, const char *sql, char *err, size_t errlen)
{
	if (!c->mysql)
		return db_closed(c, err, errlen);
	c->statements++;
	if (mysql_real_query(c->mysql, sql, strlen(sql)))
		return db_conn_error(c, err, errlen);
	/* Statements run here return no rows; drain anything the server sent. */
	do {
		MYSQL_RES *res = mysql_store_result(c->mysql);

		if (res)
			mysql_free_result(res);
	} while (mysql_next_result(c->mysql) == 0);
	return 0;
}

int db_begin(struct db_conn *c, char *err, size_t errlen)
{
	int rc = db_exec_raw(c, "START TRANSACTION", err, errlen);

	c->in_tx = rc == 0;
	c->unsure = 0;
	return rc;
}

int db_commit(struct db_conn *c, char *err, size_t errlen)
{
	int rc = 0;

	if (!c->mysql)
		return db_closed(c, err, errlen);
	c->statements++;
	if (mysql_commit(c->mysql)) {
		unsigned int code = mysql_errno(c->mysql);

		rc = db_settle(c, db_conn_error(c, err, errlen), err, errlen);
		/*
		 * Lost while committing (the connection, or on Galera the node's place in the
		 * cluster, so the write set may have reached the others): it may or may not have
		 * been committed. A commit the server refused (ER_ERROR_DURING_COMMIT: on Galera,
		 * the write set was never handed to the cluster) was not.
		 */
		c->unsure = rc == CMDB_EDBDOWN && code != ER_ERROR_DURING_COMMIT;
	}
	c->in_tx = 0;
	return rc;
}

void db_rollback(struct db_conn *c)
{
	if (c->mysql && !c->broken && mysql_rollback(c->mysql))
		c->broken = 1;
	c->in_tx = 0;
}
