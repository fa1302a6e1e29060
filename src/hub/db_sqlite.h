/* db_sqlite.h -- what the SQLite backend's files share (db_sqlite.c: events
 * and nodes; db_sqlite_auth.c: users, tokens, audit). Not for other
 * modules: they go through struct db_ops. */
#ifndef MW_HUB_DB_SQLITE_H
#define MW_HUB_DB_SQLITE_H

#include "hub/db.h"

#include <sqlite3.h>

extern const char db_sqlite__auth_schema[];
extern const char db_sqlite__fleet_schema[];
extern const char db_sqlite__catalog_schema[];
extern const char db_sqlite__deploy_schema[];
/* Brings an older store's auth tables up to the current schema. */
int db_sqlite__auth_migrate(sqlite3 *w);

/* The writer connection: only between begin() and commit(). */
sqlite3 *db_sqlite__writer(struct db *db);
/* The reader connection, held until db_sqlite__reader_unlock(). */
sqlite3 *db_sqlite__reader_lock(struct db *db);
void db_sqlite__reader_unlock(struct db *db);
/* Runs a reader query (parameter 1 bound to text1 when given, 2 and 3 to
 * int2 and int3 when the SQL has them) and turns each row into an item of
 * size sz with read_row() (MW_OK, or MW_ERR_NOMEM). On failure the items
 * read so far go to drop(items, n), or free() when drop is NULL. */
int db_sqlite__list(struct db *db, const char *sql, const char *text1, int64_t int2, int64_t int3,
		    size_t sz, int (*read_row)(sqlite3_stmt *, void *),
		    void (*drop)(void *, size_t), void **out, size_t *n);
/* Logs the connection's last error for what; MW_ERR_BUSY or MW_ERR_IO. */
int db_sqlite__fail(sqlite3 *h, const char *what);

int db_sqlite__user_put(struct db *db, const struct db_user *u, bool create);
int db_sqlite__user_get(struct db *db, const char *name, struct db_user *out);
int db_sqlite__user_delete(struct db *db, const char *name);
int db_sqlite__users_list(struct db *db, struct db_user **out, size_t *n);
int db_sqlite__token_put(struct db *db, struct db_token *t);
int db_sqlite__token_find(struct db *db, const uint8_t digest[32], struct db_token *out);
int db_sqlite__tokens_list(struct db *db, const char *owner, struct db_token **out, size_t *n);
int db_sqlite__token_revoke(struct db *db, int64_t id, const char *owner, const char *kinds,
			    int64_t ts);
int db_sqlite__audit_put(struct db *db, const struct db_audit *a);
int db_sqlite__fleet_put(struct db *db, const struct db_fleet *f);
int db_sqlite__fleet_list(struct db *db, struct db_fleet **out, size_t *n);
int db_sqlite__telemetry_put(struct db *db, const char *node, int64_t minute, double cpu,
			     double mem, double disk_free);
int db_sqlite__app_put(struct db *db, const struct db_app *a);
int db_sqlite__apps_list(struct db *db, const char *name, struct db_app **out, size_t *n);
int db_sqlite__deployment_put(struct db *db, struct db_doc *d);
int db_sqlite__deployments_list(struct db *db, const char *status, int64_t id, unsigned limit,
				struct db_doc **out, size_t *n);
int db_sqlite__node_config_put(struct db *db, const char *node, const char *doc);
int db_sqlite__node_configs_list(struct db *db, struct db_doc **out, size_t *n);
int db_sqlite__audit_list(struct db *db, int64_t after, unsigned limit, struct db_audit **out,
			  size_t *n);

#endif
