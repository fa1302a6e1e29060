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

int db_sqlite__apps_list(struct db *db, const char *name, struct db_app **out, size_t *n)
{
	sqlite3 *h = db_sqlite__reader_lock(db);
	struct db_app *items = NULL, *more;
	size_t cap = 0;
	sqlite3_stmt *st;
	int rc = MW_OK;

	*out = NULL;
	*n = 0;
	if (sqlite3_prepare_v2(h,
			       name ? "SELECT name,version,manifest,created FROM apps WHERE name=?"
				      " ORDER BY created"
				    : "SELECT name,version,manifest,created FROM apps"
				      " ORDER BY name, created",
			       -1, &st, NULL) != SQLITE_OK) {
		rc = db_sqlite__fail(h, "apps_list");
		goto out;
	}
	if (name)
		sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	while (rc == MW_OK && sqlite3_step(st) == SQLITE_ROW) {
		const unsigned char *nm = sqlite3_column_text(st, 0),
				    *v = sqlite3_column_text(st, 1);
		const unsigned char *m = sqlite3_column_text(st, 2);
		if (*n == cap) {
			more = realloc(items, (cap = cap ? cap * 2 : 16) * sizeof(*items));
			if (!more) {
				rc = MW_ERR_NOMEM;
				break;
			}
			items = more;
		}
		memset(&items[*n], 0, sizeof(items[*n]));
		mw_strlcpy(items[*n].name, nm ? (const char *)nm : "", sizeof(items[*n].name));
		mw_strlcpy(items[*n].version, v ? (const char *)v : "", sizeof(items[*n].version));
		items[*n].created = sqlite3_column_int64(st, 3);
		if (!(items[*n].manifest = strdup(m ? (const char *)m : "{}")))
			rc = MW_ERR_NOMEM;
		else
			(*n)++;
	}
	sqlite3_finalize(st);
out:
	db_sqlite__reader_unlock(db);
	if (rc) {
		db_apps_free(items, *n);
		items = NULL;
		*n = 0;
	}
	*out = items;
	return rc;
}
