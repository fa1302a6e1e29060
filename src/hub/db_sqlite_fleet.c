/* db_sqlite_fleet.c -- the fleet's last reported states and the downsampled
 * telemetry series in the hub's SQLite store (struct db_ops, db.h). */
#include "hub/db_sqlite.h"

#include <stdlib.h>
#include <string.h>

const char db_sqlite__fleet_schema[] =
	"CREATE TABLE IF NOT EXISTS fleet("
	" node TEXT PRIMARY KEY, state TEXT NOT NULL, last_heartbeat INTEGER NOT NULL,"
	" interval_ms INTEGER NOT NULL, status INTEGER NOT NULL);"
	"CREATE TABLE IF NOT EXISTS telemetry("
	" node TEXT NOT NULL, minute INTEGER NOT NULL, cpu REAL, mem REAL, disk_free REAL,"
	" PRIMARY KEY(node, minute));";

void db_fleet_free_list(struct db_fleet *f, size_t n)
{
	for (size_t i = 0; f && i < n; i++)
		free(f[i].state);
	free(f);
}

int db_sqlite__fleet_put(struct db *db, const struct db_fleet *f)
{
	sqlite3 *h = db_sqlite__writer(db);
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(h,
			       "INSERT OR REPLACE INTO fleet(node,state,last_heartbeat,interval_ms,"
			       "status) VALUES(?,?,?,?,?)",
			       -1, &st, NULL) != SQLITE_OK)
		return db_sqlite__fail(h, "fleet_put");
	sqlite3_bind_text(st, 1, f->node, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, f->state ? f->state : "{}", -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, f->last_heartbeat);
	sqlite3_bind_int64(st, 4, f->interval_ms);
	sqlite3_bind_int(st, 5, f->status);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? MW_OK : db_sqlite__fail(h, "fleet_put");
}

static int read_fleet(sqlite3_stmt *st, struct db_fleet *f)
{
	const unsigned char *node = sqlite3_column_text(st, 0);
	const unsigned char *state = sqlite3_column_text(st, 1);

	memset(f, 0, sizeof(*f));
	mw_strlcpy(f->node, node ? (const char *)node : "", sizeof(f->node));
	f->state = strdup(state ? (const char *)state : "{}");
	f->last_heartbeat = sqlite3_column_int64(st, 2);
	f->interval_ms = sqlite3_column_int64(st, 3);
	f->status = sqlite3_column_int(st, 4);
	return f->state ? MW_OK : MW_ERR_NOMEM;
}

static int fleet_row(sqlite3_stmt *st, void *item) { return read_fleet(st, item); }

static void drop_fleet(void *items, size_t n) { db_fleet_free_list(items, n); }

int db_sqlite__fleet_list(struct db *db, struct db_fleet **out, size_t *n)
{
	return db_sqlite__list(db,
			       "SELECT node,state,last_heartbeat,interval_ms,status FROM fleet"
			       " ORDER BY node",
			       NULL, 0, 0, sizeof(**out), fleet_row, drop_fleet, (void **)out, n);
}

int db_sqlite__telemetry_put(struct db *db, const char *node, int64_t minute, double cpu,
			     double mem, double disk_free)
{
	sqlite3 *h = db_sqlite__writer(db);
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(h,
			       "INSERT OR REPLACE INTO telemetry(node,minute,cpu,mem,disk_free)"
			       " VALUES(?,?,?,?,?)",
			       -1, &st, NULL) != SQLITE_OK)
		return db_sqlite__fail(h, "telemetry_put");
	sqlite3_bind_text(st, 1, node, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, minute);
	sqlite3_bind_double(st, 3, cpu);
	sqlite3_bind_double(st, 4, mem);
	sqlite3_bind_double(st, 5, disk_free);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? MW_OK : db_sqlite__fail(h, "telemetry_put");
}
