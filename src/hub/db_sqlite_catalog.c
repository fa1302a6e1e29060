/* db_sqlite_catalog.c -- the app catalog in the hub's SQLite store. */
#include "hub/db_sqlite.h"

#include <stdlib.h>
#include <string.h>

const char db_sqlite__catalog_schema[] =
	"CREATE TABLE IF NOT EXISTS apps("
	" name TEXT NOT NULL, version TEXT NOT NULL, manifest TEXT NOT NULL,"
	" created INTEGER NOT NULL, PRIMARY KEY(name, version));";

void db_apps_free(struct db_app *a, size_t n)
{
	for (size_t i = 0; a && i < n; i++)
		free(a[i].manifest);
	free(a);
}

int db_sqlite__app_put(struct db *db, const struct db_app *a)
{
	sqlite3 *h = db_sqlite__writer(db);
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(h, "INSERT INTO apps(name,version,manifest,created) VALUES(?,?,?,?)",
			       -1, &st, NULL) != SQLITE_OK)
		return db_sqlite__fail(h, "app_put");
	sqlite3_bind_text(st, 1, a->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, a->version, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, a->manifest, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, a->created);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc == SQLITE_CONSTRAINT)
		return MW_ERR_EXISTS;
	return rc == SQLITE_DONE ? MW_OK : db_sqlite__fail(h, "app_put");
}

static int app_row(sqlite3_stmt *st, void *item)
{
	struct db_app *a = item;
	const unsigned char *nm = sqlite3_column_text(st, 0), *v = sqlite3_column_text(st, 1);
	const unsigned char *m = sqlite3_column_text(st, 2);

	memset(a, 0, sizeof(*a));
	mw_strlcpy(a->name, nm ? (const char *)nm : "", sizeof(a->name));
	mw_strlcpy(a->version, v ? (const char *)v : "", sizeof(a->version));
	a->created = sqlite3_column_int64(st, 3);
	a->manifest = strdup(m ? (const char *)m : "{}");
	return a->manifest ? MW_OK : MW_ERR_NOMEM;
}

static void drop_apps(void *items, size_t n) { db_apps_free(items, n); }

int db_sqlite__apps_list(struct db *db, const char *name, struct db_app **out, size_t *n)
{
	return db_sqlite__list(db,
			       name ? "SELECT name,version,manifest,created FROM apps WHERE name=?1"
				      " ORDER BY created"
				    : "SELECT name,version,manifest,created FROM apps"
				      " ORDER BY name, created",
			       name, 0, 0, sizeof(**out), app_row, drop_apps, (void **)out, n);
}
