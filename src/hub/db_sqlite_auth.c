/* db_sqlite_auth.c -- users, tokens and the audit log in the hub's SQLite
 * store (struct db_ops, db.h).
 *
 * These tables see a few writes a minute, not thousands a second, so the
 * statements are prepared per call rather than cached like the event
 * path's. token_find() runs on every authenticated request: it is a
 * lookup on the digest's unique index, on the reader connection. */
#include "hub/db_sqlite.h"

#include <stdlib.h>
#include <string.h>

const char db_sqlite__auth_schema[] =
	"CREATE TABLE IF NOT EXISTS users("
	" name TEXT PRIMARY KEY, role INTEGER NOT NULL, pass TEXT NOT NULL,"
	" created INTEGER NOT NULL, disabled INTEGER NOT NULL DEFAULT 0);"
	"CREATE TABLE IF NOT EXISTS tokens("
	" id INTEGER PRIMARY KEY, digest BLOB NOT NULL UNIQUE, kind INTEGER NOT NULL,"
	" owner TEXT NOT NULL, name TEXT NOT NULL, role INTEGER NOT NULL,"
	" created INTEGER NOT NULL, expires INTEGER NOT NULL, revoked INTEGER NOT NULL,"
	" labels TEXT NOT NULL DEFAULT '{}');"
	"CREATE INDEX IF NOT EXISTS tokens_owner ON tokens(owner);"
	"CREATE TABLE IF NOT EXISTS audit("
	" id INTEGER PRIMARY KEY, ts INTEGER NOT NULL, actor TEXT NOT NULL,"
	" action TEXT NOT NULL, target TEXT NOT NULL, remote TEXT NOT NULL,"
	" result TEXT NOT NULL, detail TEXT NOT NULL);";

/* Stores made before tokens had labels get the column (empty labels). */
int db_sqlite__auth_migrate(sqlite3 *w)
{
	sqlite3_stmt *st;
	bool has = false;

	if (sqlite3_prepare_v2(w, "SELECT 1 FROM pragma_table_info('tokens') WHERE name='labels'",
			       -1, &st, NULL) != SQLITE_OK)
		return db_sqlite__fail(w, "migrate");
	has = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_finalize(st);
	if (!has &&
	    sqlite3_exec(w, "ALTER TABLE tokens ADD COLUMN labels TEXT NOT NULL DEFAULT '{}'", NULL,
			 NULL, NULL) != SQLITE_OK)
		return db_sqlite__fail(w, "migrate tokens.labels");
	return MW_OK;
}

static int prepare(sqlite3 *h, const char *sql, sqlite3_stmt **st)
{
	if (sqlite3_prepare_v2(h, sql, -1, st, NULL) != SQLITE_OK)
		return db_sqlite__fail(h, sql);
	return MW_OK;
}

/* Runs a write statement to its end. */
static int finish(sqlite3 *h, sqlite3_stmt *st, const char *what)
{
	int rc = sqlite3_step(st);

	sqlite3_finalize(st);
	if (rc == SQLITE_CONSTRAINT)
		return MW_ERR_EXISTS;
	return rc == SQLITE_DONE ? MW_OK : db_sqlite__fail(h, what);
}

static void text_at(sqlite3_stmt *st, int col, char *dst, size_t cap)
{
	const unsigned char *t = sqlite3_column_text(st, col);

	mw_strlcpy(dst, t ? (const char *)t : "", cap);
}

/* ---- users -------------------------------------------------------------- */

#define USER_COLS "name,role,pass,created,disabled"

static void read_user(sqlite3_stmt *st, struct db_user *u)
{
	memset(u, 0, sizeof(*u));
	text_at(st, 0, u->name, sizeof(u->name));
	u->role = sqlite3_column_int(st, 1);
	text_at(st, 2, u->pass, sizeof(u->pass));
	u->created = sqlite3_column_int64(st, 3);
	u->disabled = sqlite3_column_int(st, 4) != 0;
}

int db_sqlite__user_put(struct db *db, const struct db_user *u, bool create)
{
	sqlite3 *h = db_sqlite__writer(db);
	sqlite3_stmt *st;
	int rc = prepare(h,
			 create ? "INSERT INTO users(" USER_COLS ") VALUES(?,?,?,?,?)"
				: "UPDATE users SET role=?2,pass=?3,disabled=?5 WHERE name=?1",
			 &st);

	if (rc)
		return rc;
	sqlite3_bind_text(st, 1, u->name, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, u->role);
	sqlite3_bind_text(st, 3, u->pass, -1, SQLITE_STATIC);
	if (create)
		sqlite3_bind_int64(st, 4, u->created);
	sqlite3_bind_int(st, 5, u->disabled);
	rc = finish(h, st, "user_put");
	if (rc == MW_OK && !create && sqlite3_changes(h) == 0)
		rc = MW_ERR_NOTFOUND;
	return rc;
}

/* Runs a reader query for one row: the text (or, with len, blob) key as
 * parameter 1, read_row() on the row; MW_ERR_NOTFOUND without one. */
static int get_one(struct db *db, const char *sql, const void *key, int len,
		   int (*read_row)(sqlite3_stmt *, void *), void *out)
{
	sqlite3 *h = db_sqlite__reader_lock(db);
	sqlite3_stmt *st;
	int rc = prepare(h, sql, &st);

	if (rc == MW_OK) {
		if (len)
			sqlite3_bind_blob(st, 1, key, len, SQLITE_STATIC);
		else
			sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
		rc = sqlite3_step(st);
		rc = rc == SQLITE_ROW	 ? read_row(st, out)
		     : rc == SQLITE_DONE ? MW_ERR_NOTFOUND
					 : db_sqlite__fail(h, sql);
		sqlite3_finalize(st);
	}
	db_sqlite__reader_unlock(db);
	return rc;
}

static int user_row(sqlite3_stmt *st, void *item)
{
	read_user(st, item);
	return MW_OK;
}

int db_sqlite__user_get(struct db *db, const char *name, struct db_user *out)
{
	return get_one(db, "SELECT " USER_COLS " FROM users WHERE name=?", name, 0, user_row, out);
}

int db_sqlite__user_delete(struct db *db, const char *name)
{
	sqlite3 *h = db_sqlite__writer(db);
	sqlite3_stmt *st;
	int rc = prepare(h, "DELETE FROM users WHERE name=?", &st);

	if (rc)
		return rc;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	rc = finish(h, st, "user_delete");
	return rc == MW_OK && sqlite3_changes(h) == 0 ? MW_ERR_NOTFOUND : rc;
}

int db_sqlite__list(struct db *db, const char *sql, const char *text1, int64_t int2, int64_t int3,
		    size_t sz, int (*read_row)(sqlite3_stmt *, void *),
		    void (*drop)(void *, size_t), void **out, size_t *n)
{
	sqlite3 *h = db_sqlite__reader_lock(db);
	sqlite3_stmt *st;
	size_t cap = 0;
	char *items = NULL;
	int rc = prepare(h, sql, &st), params;

	*out = NULL;
	*n = 0;
	if (rc)
		goto out;
	params = sqlite3_bind_parameter_count(st);
	if (text1 && params >= 1)
		sqlite3_bind_text(st, 1, text1, -1, SQLITE_STATIC);
	if (params >= 2)
		sqlite3_bind_int64(st, 2, int2);
	if (params >= 3)
		sqlite3_bind_int64(st, 3, int3);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (*n == cap) {
			char *more = realloc(items, (cap = cap ? cap * 2 : 16) * sz);
			if (!more) {
				rc = SQLITE_NOMEM;
				break;
			}
			items = more;
		}
		if (read_row(st, items + *n * sz)) {
			rc = SQLITE_NOMEM;
			break;
		}
		(*n)++;
	}
	rc = rc == SQLITE_DONE	  ? MW_OK
	     : rc == SQLITE_NOMEM ? MW_ERR_NOMEM
				  : db_sqlite__fail(h, "list");
	sqlite3_finalize(st);
out:
	db_sqlite__reader_unlock(db);
	if (rc) {
		if (drop)
			drop(items, *n);
		else
			free(items);
		*n = 0;
		items = NULL;
	}
	*out = items;
	return rc;
}

int db_sqlite__users_list(struct db *db, struct db_user **out, size_t *n)
{
	return db_sqlite__list(db, "SELECT " USER_COLS " FROM users ORDER BY name", NULL, 0, 0,
			       sizeof(**out), user_row, NULL, (void **)out, n);
}

/* ---- tokens ------------------------------------------------------------- */

#define TOKEN_COLS "id,digest,kind,owner,name,role,created,expires,revoked,labels"

static void read_token(sqlite3_stmt *st, struct db_token *t)
{
	const void *d = sqlite3_column_blob(st, 1);

	memset(t, 0, sizeof(*t));
	t->id = sqlite3_column_int64(st, 0);
	if (d && sqlite3_column_bytes(st, 1) == (int)sizeof(t->digest))
		memcpy(t->digest, d, sizeof(t->digest));
	t->kind = (char)sqlite3_column_int(st, 2);
	text_at(st, 3, t->owner, sizeof(t->owner));
	text_at(st, 4, t->name, sizeof(t->name));
	t->role = sqlite3_column_int(st, 5);
	t->created = sqlite3_column_int64(st, 6);
	t->expires = sqlite3_column_int64(st, 7);
	t->revoked = sqlite3_column_int64(st, 8);
	text_at(st, 9, t->labels, sizeof(t->labels));
}

static int token_row(sqlite3_stmt *st, void *item)
{
	read_token(st, item);
	return MW_OK;
}

int db_sqlite__token_put(struct db *db, struct db_token *t)
{
	sqlite3 *h = db_sqlite__writer(db);
	sqlite3_stmt *st;
	int rc = prepare(h,
			 "INSERT INTO tokens(digest,kind,owner,name,role,created,expires,revoked,"
			 "labels) VALUES(?,?,?,?,?,?,?,0,?)",
			 &st);

	if (rc)
		return rc;
	sqlite3_bind_blob(st, 1, t->digest, sizeof(t->digest), SQLITE_STATIC);
	sqlite3_bind_int(st, 2, t->kind);
	sqlite3_bind_text(st, 3, t->owner, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, t->name, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 5, t->role);
	sqlite3_bind_int64(st, 6, t->created);
	sqlite3_bind_int64(st, 7, t->expires);
	sqlite3_bind_text(st, 8, t->labels[0] ? t->labels : "{}", -1, SQLITE_STATIC);
	rc = finish(h, st, "token_put");
	if (rc == MW_OK)
		t->id = sqlite3_last_insert_rowid(h);
	return rc;
}

int db_sqlite__token_find(struct db *db, const uint8_t digest[32], struct db_token *out)
{
	return get_one(db, "SELECT " TOKEN_COLS " FROM tokens WHERE digest=?", digest, 32,
		       token_row, out);
}

int db_sqlite__tokens_list(struct db *db, const char *owner, struct db_token **out, size_t *n)
{
	return db_sqlite__list(db,
			       owner ? "SELECT " TOKEN_COLS " FROM tokens WHERE owner=?1"
				       " ORDER BY id DESC"
				     : "SELECT " TOKEN_COLS " FROM tokens ORDER BY id DESC",
			       owner, 0, 0, sizeof(**out), token_row, NULL, (void **)out, n);
}

int db_sqlite__token_revoke(struct db *db, int64_t id, const char *owner, const char *kinds,
			    int64_t ts)
{
	sqlite3 *h = db_sqlite__writer(db);
	sqlite3_stmt *st;
	int rc = prepare(h,
			 id ? "UPDATE tokens SET revoked=?2 WHERE id=?3 AND revoked=0"
			    : "UPDATE tokens SET revoked=?2 WHERE owner=?1 AND revoked=0"
			      " AND instr(?4, char(kind)) > 0",
			 &st);

	if (rc)
		return rc;
	if (!id) {
		sqlite3_bind_text(st, 1, owner, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 4, kinds, -1, SQLITE_STATIC);
	}
	sqlite3_bind_int64(st, 2, ts);
	if (id)
		sqlite3_bind_int64(st, 3, id);
	return finish(h, st, "token_revoke");
}

/* ---- audit -------------------------------------------------------------- */

int db_sqlite__audit_put(struct db *db, const struct db_audit *a)
{
	sqlite3 *h = db_sqlite__writer(db);
	sqlite3_stmt *st;
	int rc = prepare(h,
			 "INSERT INTO audit(ts,actor,action,target,remote,result,detail)"
			 " VALUES(?,?,?,?,?,?,?)",
			 &st);

	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, a->ts);
	sqlite3_bind_text(st, 2, a->actor, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, a->action, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, a->target, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, a->remote, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, a->result, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 7, a->detail, -1, SQLITE_STATIC);
	return finish(h, st, "audit_put");
}

static int audit_row(sqlite3_stmt *st, void *item)
{
	struct db_audit *a = item;

	memset(a, 0, sizeof(*a));
	a->id = sqlite3_column_int64(st, 0);
	a->ts = sqlite3_column_int64(st, 1);
	text_at(st, 2, a->actor, sizeof(a->actor));
	text_at(st, 3, a->action, sizeof(a->action));
	text_at(st, 4, a->target, sizeof(a->target));
	text_at(st, 5, a->remote, sizeof(a->remote));
	text_at(st, 6, a->result, sizeof(a->result));
	text_at(st, 7, a->detail, sizeof(a->detail));
	return MW_OK;
}

int db_sqlite__audit_list(struct db *db, int64_t after, unsigned limit, struct db_audit **out,
			  size_t *n)
{
	return db_sqlite__list(db,
			       "SELECT id,ts,actor,action,target,remote,result,detail FROM audit"
			       " WHERE id>?2 ORDER BY id LIMIT ?3",
			       NULL, after, limit, sizeof(**out), audit_row, NULL, (void **)out, n);
}
