/* db_sqlite_deploy.c -- deployments and each node's desired state in the
 * hub's SQLite store (struct db_ops, db.h). Both are JSON documents: the
 * rollout engine (hub/deploy.c) owns their shape, the store only keeps
 * them, so a new field never needs a migration. */
#include "hub/db_sqlite.h"

#include <stdlib.h>
#include <string.h>

const char db_sqlite__deploy_schema[] =
	"CREATE TABLE IF NOT EXISTS deployments("
	" id INTEGER PRIMARY KEY, app TEXT NOT NULL, status TEXT NOT NULL,"
	" doc TEXT NOT NULL);"
	"CREATE TABLE IF NOT EXISTS node_config("
	" node TEXT PRIMARY KEY, doc TEXT NOT NULL);";

void db_docs_free(struct db_doc *d, size_t n)
{
	for (size_t i = 0; d && i < n; i++)
		free(d[i].doc);
	free(d);
}

int db_sqlite__deployment_put(struct db *db, struct db_doc *d)
{
	sqlite3 *h = db_sqlite__writer(db);
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(
		    h,
		    d->id ? "UPDATE deployments SET app=?1, status=?2, doc=?3 WHERE id=?4"
			  : "INSERT INTO deployments(app,status,doc) VALUES(?1,?2,?3)",
		    -1, &st, NULL) != SQLITE_OK)
		return db_sqlite__fail(h, "deployment_put");
	sqlite3_bind_text(st, 1, d->key, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, d->status, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, d->doc, -1, SQLITE_STATIC);
	if (d->id)
		sqlite3_bind_int64(st, 4, d->id);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return db_sqlite__fail(h, "deployment_put");
	if (!d->id)
		d->id = sqlite3_last_insert_rowid(h);
	return MW_OK;
}

static int doc_row(sqlite3_stmt *st, void *item)
{
	struct db_doc *d = item;
	const unsigned char *key = sqlite3_column_text(st, 1), *status = sqlite3_column_text(st, 2);
	const unsigned char *doc = sqlite3_column_text(st, 3);

	memset(d, 0, sizeof(*d));
	d->id = sqlite3_column_int64(st, 0);
	mw_strlcpy(d->key, key ? (const char *)key : "", sizeof(d->key));
	mw_strlcpy(d->status, status ? (const char *)status : "", sizeof(d->status));
	d->doc = strdup(doc ? (const char *)doc : "{}");
	return d->doc ? MW_OK : MW_ERR_NOMEM;
}

static void drop_docs(void *items, size_t n) { db_docs_free(items, n); }

int db_sqlite__deployments_list(struct db *db, const char *status, int64_t id, unsigned limit,
				struct db_doc **out, size_t *n)
{
	/* ?1 status ("" = any), ?2 id (0 = any), ?3 limit */
	return db_sqlite__list(db,
			       "SELECT id,app,status,doc FROM deployments"
			       " WHERE (?1 = '' OR status = ?1) AND (?2 = 0 OR id = ?2)"
			       " ORDER BY id DESC LIMIT ?3",
			       status ? status : "", id, limit ? (int64_t)limit : -1, sizeof(**out),
			       doc_row, drop_docs, (void **)out, n);
}

int db_sqlite__node_config_put(struct db *db, const char *node, const char *doc)
{
	sqlite3 *h = db_sqlite__writer(db);
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(h, "INSERT OR REPLACE INTO node_config(node,doc) VALUES(?,?)", -1,
			       &st, NULL) != SQLITE_OK)
		return db_sqlite__fail(h, "node_config_put");
	sqlite3_bind_text(st, 1, node, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, doc, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? MW_OK : db_sqlite__fail(h, "node_config_put");
}

int db_sqlite__node_configs_list(struct db *db, struct db_doc **out, size_t *n)
{
	return db_sqlite__list(db, "SELECT 0,node,'',doc FROM node_config ORDER BY node", NULL, 0,
			       0, sizeof(**out), doc_row, drop_docs, (void **)out, n);
}
