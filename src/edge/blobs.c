/* blobs.c -- the edge's blob store; see blobs.h.
 *
 * Why an SQLite index rather than the file system alone: the quota needs
 * blobs in age order and the uplink needs the ones not yet uploaded, in
 * order, after a restart too. Keeping that in file names or mtimes would
 * mean renaming files on upload and scanning directories on every put.
 * The index is its own small database (blobs.db), not a table of the event
 * store, so blob writes never wait on the event store's group commit and a
 * full blob quota never touches events. synchronous=FULL: a row is only
 * written after its file is durable, and a put is rare enough to afford it.
 *
 * The files are the truth for content, the index for metadata; open()
 * reconciles the two (see blobs.h). The `uploaded` column is 0 (pending),
 * 1 (the hub has it) or 2 (the hub refused it for good); `severity` is the
 * most severe referencing event, -1 while none is known. */
#include "edge/blobs.h"

#include "core/blobdir.h"
#include "core/hash.h"
#include "core/log.h"

#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DIR_CAP 1024
#define PATH_CAP (DIR_CAP + 400) /* dir, fan-out, a file name */
#define EVICT_BATCH 32

enum { UP_PENDING = 0, UP_DONE = 1, UP_REFUSED = 2 };

struct blobs {
	pthread_mutex_t lock;
	sqlite3 *db;
	char dir[DIR_CAP]; /* DATA_DIR/blobs */
	int64_t quota, max_size;
	uint64_t count, bytes, dropped, evicted; /* under lock */
};

static const char schema[] =
	"PRAGMA journal_mode=WAL;"
	"PRAGMA synchronous=FULL;"
	"CREATE TABLE IF NOT EXISTS blobs("
	" id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" hash TEXT NOT NULL UNIQUE,"
	" size INTEGER NOT NULL,"
	" uploaded INTEGER NOT NULL DEFAULT 0,"
	" severity INTEGER NOT NULL DEFAULT -1);"
	"CREATE INDEX IF NOT EXISTS blobs_pending ON blobs(uploaded, id);"
	"CREATE TABLE IF NOT EXISTS meta(name TEXT PRIMARY KEY, value INTEGER NOT NULL);";

static void final_path(const struct blobs *b, const char *hex, char *out, size_t cap)
{
	if (blobdir_path(b->dir, hex, out, cap))
		out[0] = '\0'; /* dir is capped at open: cannot happen */
}

/* ---- small SQL helpers ---- */

static int sql_exec(struct blobs *b, const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(b->db, sql, NULL, NULL, &msg) == SQLITE_OK)
		return MW_OK;
	log_error("blobs index error=\"%s\" sql=\"%.60s\"", msg ? msg : "?", sql);
	sqlite3_free(msg);
	return MW_ERR_IO;
}

/* Runs a statement whose one parameter ?1 is the text hex. With val, the
 * first column of the first row goes there, and no row is MW_ERR_NOTFOUND;
 * without, the statement is only run. */
static int sql_hex(struct blobs *b, const char *sql, const char *hex, int64_t *val)
{
	sqlite3_stmt *st = NULL;
	int rc = MW_ERR_IO, s;

	if (sqlite3_prepare_v2(b->db, sql, -1, &st, NULL) != SQLITE_OK)
		goto out;
	sqlite3_bind_text(st, 1, hex, -1, SQLITE_STATIC);
	s = sqlite3_step(st);
	if (s == SQLITE_ROW) {
		if (val)
			*val = sqlite3_column_int64(st, 0);
		rc = MW_OK;
	} else if (s == SQLITE_DONE) {
		rc = val ? MW_ERR_NOTFOUND : MW_OK;
	}
out:
	if (rc == MW_ERR_IO)
		log_error("blobs index error=\"%s\"", sqlite3_errmsg(b->db));
	sqlite3_finalize(st);
	return rc;
}

static int meta_get(struct blobs *b, const char *name, uint64_t *out)
{
	int64_t v = 0;
	int rc = sql_hex(b, "SELECT value FROM meta WHERE name = ?1", name, &v);

	*out = rc == MW_OK ? (uint64_t)v : 0;
	return rc == MW_ERR_NOTFOUND ? MW_OK : rc;
}

static int meta_save(struct blobs *b)
{
	char sql[200];

	snprintf(sql, sizeof(sql),
		 "INSERT OR REPLACE INTO meta VALUES('dropped', %llu), ('evicted', %llu);",
		 (unsigned long long)b->dropped, (unsigned long long)b->evicted);
	return sql_exec(b, sql);
}

/* ---- quota ---- */

/* Deletes one blob (row first, then file: a crash in between leaves an
 * orphan file, which the next open deletes). */
static int evict_one(struct blobs *b, int64_t id, const char *hex, int64_t size, int uploaded)
{
	char sql[96], path[PATH_CAP];
	int rc;

	snprintf(sql, sizeof(sql), "DELETE FROM blobs WHERE id = %lld;", (long long)id);
	if ((rc = sql_exec(b, sql)))
		return rc;
	final_path(b, hex, path, sizeof(path));
	unlink(path);
	b->count--;
	b->bytes -= (uint64_t)size;
	if (uploaded == UP_DONE)
		b->evicted++;
	else
		b->dropped++;
	log_info("blobs quota deleted blob=%s size=%lld uploaded=%s", hex, (long long)size,
		 uploaded == UP_DONE	  ? "yes"
		 : uploaded == UP_REFUSED ? "refused"
					  : "no");
	return MW_OK;
}

/* Deletes blobs by the policy of blobs.h until need more bytes fit. */
static int make_room(struct blobs *b, uint64_t need)
{
	static const char sql[] =
		"SELECT id, hash, size, uploaded FROM blobs "
		"ORDER BY uploaded = 0, uploaded = 0 AND severity >= 3, id LIMIT 32";
	sqlite3_stmt *st = NULL;
	int rc = MW_OK, s;

	while (rc == MW_OK && b->quota > 0 && b->bytes + need > (uint64_t)b->quota && b->count) {
		if (sqlite3_prepare_v2(b->db, sql, -1, &st, NULL) != SQLITE_OK)
			return MW_ERR_IO;
		while (rc == MW_OK && b->bytes + need > (uint64_t)b->quota &&
		       (s = sqlite3_step(st)) == SQLITE_ROW) {
			char hex[BLOBS_HEX_LEN + 1];
			mw_strlcpy(hex, (const char *)sqlite3_column_text(st, 1), sizeof(hex));
			rc = evict_one(b, sqlite3_column_int64(st, 0), hex,
				       sqlite3_column_int64(st, 2), sqlite3_column_int(st, 3));
		}
		sqlite3_finalize(st);
		st = NULL;
	}
	if (rc == MW_OK)
		rc = meta_save(b);
	return rc;
}

/* ---- open: reconcile files and index ---- */

/* Deletes a file of the blob directory that the index does not know. */
static void drop_unknown(void *arg, const char *name, const char *path, uint64_t size)
{
	struct blobs *b = arg;

	if (blobdir_hash_valid(name) &&
	    sql_hex(b, "SELECT id FROM blobs WHERE hash = ?1", name, &(int64_t){0}) != MW_ERR_NOTFOUND)
		return;
	if (unlink(path) == 0)
		log_info("blobs deleted a file the index does not know file=%s", path);
}

/* Drops rows whose file is gone and sums the rest. */
static int load_index(struct blobs *b)
{
	sqlite3_stmt *st = NULL;
	char path[PATH_CAP], sql[96];
	struct stat sb;
	int rc = MW_OK, s;

	b->count = b->bytes = 0;
	if (sqlite3_prepare_v2(b->db, "SELECT id, hash, size FROM blobs", -1, &st, NULL))
		return MW_ERR_IO;
	while ((s = sqlite3_step(st)) == SQLITE_ROW) {
		const char *hex = (const char *)sqlite3_column_text(st, 1);
		final_path(b, hex, path, sizeof(path));
		if (stat(path, &sb) == 0 && sb.st_size == sqlite3_column_int64(st, 2)) {
			b->count++;
			b->bytes += (uint64_t)sb.st_size;
			continue;
		}
		log_warn("blobs index row without its file blob=%s; forgetting it", hex);
		snprintf(sql, sizeof(sql), "DELETE FROM blobs WHERE id = %lld;",
			 (long long)sqlite3_column_int64(st, 0));
		unlink(path);
		if ((rc = sql_exec(b, sql)))
			break;
	}
	if (s != SQLITE_DONE && rc == MW_OK)
		rc = MW_ERR_IO;
	sqlite3_finalize(st);
	return rc;
}

static int open_db(struct blobs *b, const char *data_dir)
{
	char path[PATH_CAP];

	snprintf(path, sizeof(path), "%s/blobs.db", data_dir);
	if (sqlite3_open_v2(path, &b->db,
			    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
			    NULL) != SQLITE_OK) {
		log_error("blobs cannot open index file=%s err=\"%s\"", path,
			  b->db ? sqlite3_errmsg(b->db) : "out of memory");
		return MW_ERR_IO;
	}
	sqlite3_busy_timeout(b->db, 5000);
	if (sql_exec(b, schema) || meta_get(b, "dropped", &b->dropped) ||
	    meta_get(b, "evicted", &b->evicted))
		return MW_ERR_IO;
	return MW_OK;
}

int blobs_open(const struct blobs_options *opt, struct blobs **out)
{
	struct blobs *b = calloc(1, sizeof(*b));
	int rc;

	if (!b)
		return MW_ERR_NOMEM;
	pthread_mutex_init(&b->lock, NULL);
	b->quota = opt->quota;
	b->max_size = opt->max_size;
	if ((size_t)snprintf(b->dir, sizeof(b->dir), "%s/blobs", opt->data_dir) >= sizeof(b->dir)) {
		log_error("blobs data_dir too long dir=%s", opt->data_dir);
		rc = MW_ERR_INVALID;
		goto fail;
	}
	if ((rc = blobdir_open(b->dir)) || (rc = open_db(b, opt->data_dir)) ||
	    (rc = load_index(b)))
		goto fail;
	blobdir_each(b->dir, drop_unknown, b);
	log_info("blobs opened dir=%s blobs=%llu bytes=%llu quota=%lld", b->dir,
		 (unsigned long long)b->count, (unsigned long long)b->bytes, (long long)b->quota);
	*out = b;
	return MW_OK;
fail:
	blobs_close(b);
	return rc;
}

void blobs_close(struct blobs *b)
{
	if (!b)
		return;
	sqlite3_close(b->db);
	pthread_mutex_destroy(&b->lock);
	free(b);
}

/* ---- operations ---- */

static int put_locked(struct blobs *b, const char *hex, const void *data, size_t len)
{
	char sql[200];
	int rc;

	if (sql_hex(b, "SELECT id FROM blobs WHERE hash = ?1", hex, &(int64_t){0}) == MW_OK)
		return MW_OK; /* stored once */
	if ((rc = make_room(b, len)) || (rc = blobdir_write(b->dir, hex, data, len)))
		return rc;
	snprintf(sql, sizeof(sql), "INSERT INTO blobs(hash, size) VALUES('%s', %zu);", hex, len);
	if ((rc = sql_exec(b, sql)))
		return rc;
	b->count++;
	b->bytes += len;
	return MW_OK;
}

int blobs_put(struct blobs *b, const void *data, size_t len, struct blob_hash *hash_out)
{
	uint8_t h[HASH_LEN];
	int rc;

	if ((int64_t)len > b->max_size || (b->quota > 0 && (int64_t)len > b->quota))
		return MW_ERR_TOOBIG;
	hash_sha256(data, len, h);
	mw_hex(h, HASH_LEN, hash_out->hex);
	pthread_mutex_lock(&b->lock);
	rc = put_locked(b, hash_out->hex, data, len);
	pthread_mutex_unlock(&b->lock);
	return rc;
}

int blobs_get_path(struct blobs *b, const char *hex, char *path, size_t cap)
{
	if (!blobs_has(b, hex))
		return MW_ERR_NOTFOUND;
	final_path(b, hex, path, cap);
	return MW_OK;
}

int blobs_read(struct blobs *b, const char *hex, struct buf *out)
{
	if (!blobs_has(b, hex))
		return MW_ERR_NOTFOUND;
	buf_reset(out);
	return blobdir_read(b->dir, hex, out);
}

bool blobs_has(struct blobs *b, const char *hex)
{
	int rc;

	if (!blobdir_hash_valid(hex))
		return false;
	pthread_mutex_lock(&b->lock);
	rc = sql_hex(b, "SELECT id FROM blobs WHERE hash = ?1", hex, &(int64_t){0});
	pthread_mutex_unlock(&b->lock);
	return rc == MW_OK;
}

static int update(struct blobs *b, const char *sql, const char *hex)
{
	int rc;

	if (!blobdir_hash_valid(hex))
		return MW_ERR_INVALID;
	pthread_mutex_lock(&b->lock);
	rc = sql_hex(b, sql, hex, NULL);
	pthread_mutex_unlock(&b->lock);
	return rc;
}

int blobs_ref(struct blobs *b, const char *hex, enum severity sev)
{
	char sql[120];

	snprintf(sql, sizeof(sql), "UPDATE blobs SET severity = max(severity, %d) WHERE hash = ?1",
		 (int)sev);
	return update(b, sql, hex);
}

int blobs_mark_uploaded(struct blobs *b, const char *hex)
{
	return update(b, "UPDATE blobs SET uploaded = 1 WHERE hash = ?1", hex);
}

int blobs_mark_refused(struct blobs *b, const char *hex)
{
	return update(b, "UPDATE blobs SET uploaded = 2 WHERE hash = ?1", hex);
}

int blobs_pending(struct blobs *b, size_t max, struct blob_hash **out, size_t *n)
{
	sqlite3_stmt *st = NULL;
	struct blob_hash *h = calloc(max ? max : 1, sizeof(*h));
	size_t k = 0;
	int rc = MW_ERR_IO, s = SQLITE_DONE;

	*out = NULL;
	*n = 0;
	if (!h)
		return MW_ERR_NOMEM;
	pthread_mutex_lock(&b->lock);
	if (sqlite3_prepare_v2(b->db,
			       "SELECT hash FROM blobs WHERE uploaded = 0 ORDER BY id "
			       "LIMIT ?1",
			       -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, (sqlite3_int64)max);
		while (k < max && (s = sqlite3_step(st)) == SQLITE_ROW)
			mw_strlcpy(h[k++].hex, (const char *)sqlite3_column_text(st, 0),
				   sizeof(h->hex));
		rc = s == SQLITE_DONE || s == SQLITE_ROW ? MW_OK : MW_ERR_IO;
	}
	sqlite3_finalize(st);
	pthread_mutex_unlock(&b->lock);
	if (rc) {
		free(h);
		return rc;
	}
	*out = h;
	*n = k;
	return MW_OK;
}

int blobs_stats(struct blobs *b, struct blobs_stats *out)
{
	int64_t pending = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&b->lock);
	rc = sql_hex(b, "SELECT count(*) FROM blobs WHERE uploaded = 0 AND ?1 IS NOT NULL", "",
		     &pending);
	out->count = b->count;
	out->bytes = b->bytes;
	out->dropped = b->dropped;
	out->evicted = b->evicted;
	pthread_mutex_unlock(&b->lock);
	out->pending = (uint64_t)pending;
	out->quota = b->quota;
	out->max_size = b->max_size;
	return rc;
}
