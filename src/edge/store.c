/* store.c -- the edge's durable event store: SQLite in WAL mode, group commit,
 * hash chain, quota policy. See store.h for the contract.
 *
 * Appending. store_append() validates the caller's events, then, under the
 * store mutex, stamps node, seq and ts, seals each one onto the chain
 * (event_seal() with the previous hash) and copies the structs into the
 * queue. Sealing under the mutex makes chain order == seq order == commit
 * order. The copies are shallow: attrs and blobs text stay the caller's,
 * which is safe because the caller is blocked until its events are
 * committed and the on_append callback has run. The first thread that finds
 * no commit in progress becomes the leader: it swaps the queue out, writes
 * it in ONE transaction (BEGIN IMMEDIATE, the rows, meta last_seq/last_hash,
 * COMMIT), calls the on_append callback, wakes the waiters of that commit,
 * and goes on while its own events are not done (or a store.dropped event
 * it queued itself is pending); then it hands over to a waiter. If a commit
 * fails, its waiters and every event queued after it (they are sealed on
 * top of it) get the error, and the chain head is reloaded from the
 * database, so no seq is burned inconsistently.
 *
 * Connections. One writer connection, used only under wmu (the leader, the
 * quota policy and acks); one reader connection under rmu, which WAL lets
 * read while the writer writes; one checkpointer connection owned by the
 * "store-ckpt" thread. Lock order: wmu before mu; rmu and ckmu alone.
 *
 * Checkpoints. SQLite's auto-checkpoint copies the WAL into the database
 * inside the COMMIT that crosses 1000 WAL pages, fsync included: on a
 * 2-core edge that halves the append rate. Here a WAL hook on the writer
 * only signals the checkpointer thread, which runs PASSIVE checkpoints on
 * its own connection while appends go on and copy the bulk of the WAL.
 * Under a steady stream the WAL then never becomes fully checkpointed
 * between two commits, so it could not restart; past CKPT_INLINE_PAGES
 * the writer runs a PASSIVE checkpoint itself, which only has the frames
 * since the thread's last pass left to copy, and the next transaction
 * restarts the WAL from its beginning. The WAL stays near 2000 pages.
 *
 * Quota. After each commit (not for a commit holding only our own
 * store.dropped events, which bounds the recursion to one level) the leader
 * measures (page_count - freelist_count) * page_size, two cheap pragmas.
 * Over the quota it deletes down to 90% of it, in chunks, re-measuring after
 * each chunk: first sent events (seq <= acked) oldest first, counted as
 * pruned; then unsent events by class, oldest first within a class:
 * debug, info, warning, then our own store.dropped events (warnings too,
 * but small and worth keeping), alarms last. The newest event is never
 * deleted, so the chain head survives. Each run of consecutive deleted
 * unsent seqs becomes a drop row (merged with contiguous existing ones),
 * then one store.dropped event (split only if more than 1000 ranges) goes
 * through the normal queue. No VACUUM: SQLite reuses freed pages.
 *
 * Carry-forward. A store.dropped event may itself be deleted while unsent.
 * The ranges it listed would then be lost to anyone reading events at the
 * hub, so the pass reads its attrs before deleting it and adds its ranges
 * to the runs of the pass: the store.dropped event the pass appends lists
 * them again, merged with the new runs (overlapping and adjacent ranges
 * joined, `count` = seqs in its ranges, each once). Invariant: the ranges
 * of the store.dropped events stored here or at the hub partition the
 * dropped seqs. Two holes remain: a crash between a pass and the append of
 * its store.dropped event loses that event's ranges (the drop rows, which
 * the uplink declares, are durable with the deletion), and a store.dropped
 * event deleted while the uplink's POST carrying it is in flight reaches
 * the hub twice over (itself and the ranges carried forward).
 *
 * Quota slack: the size is measured after each commit, so between a commit
 * and its quota pass the database can exceed the quota by that commit's
 * rows; the pass runs before the appender is released and deletes down to
 * 90%, so the store.dropped event that follows (exempt from the policy)
 * lands under the quota too. When only the newest event is left, nothing
 * more can go and the store says so once in the log. The WAL file lives
 * outside the quota: about 2000 pages (8 MiB) at most under a steady stream,
 * trimmed back to 4 MiB (journal_size_limit) when it restarts. Because
 * SQLite only merges b-tree pages under a third full, deleting scattered
 * low-severity rows may free fewer pages than rows suggest; the pass then
 * keeps deleting by policy until the size is really under the target.
 *
 * Crash safety. Rows and the chain head move in the same transaction. On
 * open the head is derived from the newest row or drop range (meta only
 * counts when it is ahead of both), so a kill -9 at any point reopens
 * consistent. */
#include "edge/store.h"

#include "core/log.h"

#include <assert.h>
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#define QUOTA_TARGET_PCT 90	/* delete down to this share of the quota */
#define QUOTA_MAX_ROUNDS 100000 /* a hard stop for the deletion loop */
#define CHUNK_MIN 64
#define CHUNK_MAX 8192
#define DROP_RANGES_PER_EVENT 1000 /* keeps a store.dropped event's attrs well under 64 KiB */
#define WIRE_OVERHEAD 150	   /* prev, hash and separators on the wire */
#define SCRATCH_CAP (2 * EVENT_ATTRS_MAX + 8192)
#define CKPT_PAGES 1000	       /* WAL pages that wake the checkpointer */
#define CKPT_INLINE_PAGES 2000 /* the writer checkpoints itself past this */

static const char schema_sql[] =
	"CREATE TABLE IF NOT EXISTS events(seq INTEGER PRIMARY KEY, ts INTEGER NOT NULL,"
	" source TEXT NOT NULL, kind TEXT NOT NULL, severity INTEGER NOT NULL, attrs TEXT,"
	" blobs TEXT, prev BLOB NOT NULL, hash BLOB NOT NULL);"
	"CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value);"
	"CREATE TABLE IF NOT EXISTS drops(from_seq INTEGER PRIMARY KEY, to_seq INTEGER NOT NULL,"
	" prev BLOB NOT NULL, last BLOB NOT NULL, reason TEXT NOT NULL);";

enum wstmt {
	W_BEGIN,
	W_COMMIT,
	W_ROLLBACK,
	W_INSERT,
	W_META_SET,
	W_META_GET,
	W_PAGES,
	W_FREE,
	W_HEAD,
	W_DROP_HEAD,
	W_COUNT,
	W_PRUNE,
	W_VICTIMS,
	W_DELETE,
	W_DROP_LEFT,
	W_DROP_RIGHT,
	W_DROP_DEL,
	W_DROP_INS,
	W_N
};

static const char *const wsql[W_N] = {
	[W_BEGIN] = "BEGIN IMMEDIATE",
	[W_COMMIT] = "COMMIT",
	[W_ROLLBACK] = "ROLLBACK",
	[W_INSERT] = "INSERT INTO events(seq, ts, source, kind, severity, attrs, blobs, prev, hash)"
		     " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
	[W_META_SET] = "UPDATE meta SET value = ?2 WHERE key = ?1",
	[W_META_GET] = "SELECT value FROM meta WHERE key = ?1",
	[W_PAGES] = "PRAGMA page_count",
	[W_FREE] = "PRAGMA freelist_count",
	[W_HEAD] = "SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1",
	[W_DROP_HEAD] = "SELECT to_seq, last FROM drops ORDER BY from_seq DESC LIMIT 1",
	[W_COUNT] = "SELECT COUNT(*) FROM events WHERE seq > ?1 AND seq <= ?2",
	[W_PRUNE] = "DELETE FROM events WHERE seq IN (SELECT seq FROM events"
		    " WHERE seq <= ?1 AND seq < ?2 ORDER BY seq LIMIT ?3)",
	[W_VICTIMS] = "SELECT seq, prev, hash, CASE WHEN ?5 = 1 THEN attrs END FROM events"
		      " WHERE seq > ?1 AND seq < ?2 AND severity = ?3"
		      " AND (?5 < 0 OR (kind = 'store.dropped' AND source = 'store') = ?5)"
		      " ORDER BY seq LIMIT ?4",
	[W_DELETE] = "DELETE FROM events WHERE seq = ?1",
	[W_DROP_LEFT] = "SELECT from_seq, to_seq, prev FROM drops WHERE from_seq < ?1"
			" ORDER BY from_seq DESC LIMIT 1",
	[W_DROP_RIGHT] = "SELECT to_seq, last FROM drops WHERE from_seq = ?1",
	[W_DROP_DEL] = "DELETE FROM drops WHERE from_seq = ?1",
	[W_DROP_INS] = "INSERT INTO drops(from_seq, to_seq, prev, last, reason)"
		       " VALUES (?1, ?2, ?3, ?4, ?5)",
};

enum rstmt { R_UNSENT, R_DROPS, R_PAGES, R_FREE, R_N };

static const char *const rsql[R_N] = {
	[R_UNSENT] = "SELECT seq, ts, source, kind, severity, attrs, blobs, prev, hash"
		     " FROM events WHERE seq > ?1 ORDER BY seq LIMIT ?2",
	[R_DROPS] = "SELECT from_seq, to_seq, prev, last, reason FROM drops WHERE to_seq > ?1"
		    " ORDER BY from_seq",
	[R_PAGES] = "PRAGMA page_count",
	[R_FREE] = "PRAGMA freelist_count",
};

/* One store_append() call (or one internal store.dropped batch) waiting. */
struct req {
	int rc;
	bool done;
	bool internal;	     /* no thread waits: the leader frees it */
	struct event *owned; /* internal: the events, owned */
	size_t n;
	struct req *next;
};

struct queue {
	struct event *ev; /* shallow copies, in seq order */
	size_t n, cap;
	struct req *head, *tail;
	size_t nreq, ninternal;
};

struct drop_run {
	uint64_t from, to;
};

/* What one quota pass deleted. */
struct dropset {
	struct drop_run *runs; /* new runs and ranges carried forward */
	size_t nruns, cap;
	size_t carried; /* ranges carried from deleted store.dropped events */
	uint64_t dropped, pruned;
};

/* Deletion classes, in the order the policy deletes unsent events: the
 * severities, with the store's own store.dropped events after the other
 * warnings (they are small and each is carried forward when deleted). */
enum drop_class { CL_DEBUG, CL_INFO, CL_WARNING, CL_OWN_DROPS, CL_ALARM, CL_N };

static const struct {
	enum severity sev;
	int own; /* 1: only store.dropped events of ours; 0: none of them; -1: any */
} drop_classes[CL_N] = {
	[CL_DEBUG] = {SEV_DEBUG, -1},
	[CL_INFO] = {SEV_INFO, -1},
	[CL_WARNING] = {SEV_WARNING, 0},
	[CL_OWN_DROPS] = {SEV_WARNING, 1},
	[CL_ALARM] = {SEV_ALARM, -1},
};

/* Where the deletion of unsent events stands: the class being deleted in
 * this pass and, per class, the last seq deleted. Unsent events of a class
 * below its position are all gone and new ones only come above, so the
 * scan resumes there from pass to pass instead of rescanning the whole
 * table. */
struct drop_cursor {
	int cls;
	uint64_t pos[CL_N];
};

struct victim {
	uint64_t seq;
	uint8_t prev[EVENT_HASH_LEN], hash[EVENT_HASH_LEN];
};

struct store {
	char *path;
	char node[EVENT_ID_MAX + 1];
	enum store_sync sync;
	int64_t quota;
	int64_t page_size;
	bool quota_stuck;	   /* logged once until the policy can delete again */
	struct drop_cursor cursor; /* under wmu */

	pthread_mutex_t wmu; /* the writer connection */
	sqlite3 *db;
	sqlite3_stmt *w[W_N];

	pthread_mutex_t rmu; /* the reader connection */
	sqlite3 *rdb;
	sqlite3_stmt *r[R_N];
	struct buf rscratch;

	pthread_mutex_t ckmu; /* the checkpointer's wake-up */
	pthread_cond_t ckcv;
	pthread_t ckthread;
	bool ck_running, ck_pending, ck_stop;
	sqlite3 *cdb;

	pthread_mutex_t mu; /* everything below */
	pthread_cond_t cv;
	bool locks_ready;
	bool committing;
	struct queue q, inflight; /* inflight: the leader's only */
	uint64_t last_seq;	  /* head of the chain, queued events included */
	uint8_t last_hash[EVENT_HASH_LEN];
	uint64_t committed_seq; /* head of the chain in the database */
	uint8_t committed_hash[EVENT_HASH_LEN];
	uint64_t acked, stored, unsent, dropped, pruned;
	struct buf scratch;
	store_append_fn on_append;
	void *on_append_arg;
};

/* ---- small SQLite helpers ---------------------------------------------- */

static int db_fail(struct store *s, sqlite3 *db, const char *what)
{
	log_error("store: %s failed path=%s err=\"%s\"", what, s->path, sqlite3_errmsg(db));
	return MW_ERR_IO;
}

/* Steps a statement that returns no row we need, then resets it. */
static int run(struct store *s, sqlite3_stmt *st, const char *what)
{
	int rc = sqlite3_step(st);
	int err = (rc == SQLITE_DONE || rc == SQLITE_ROW) ? MW_OK
							  : db_fail(s, sqlite3_db_handle(st), what);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return err;
}

/* Steps a statement expected to give one row; MW_ERR_NOTFOUND when none.
 * The caller reads the columns, then resets. */
static int row(struct store *s, sqlite3_stmt *st, const char *what)
{
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		return MW_OK;
	if (rc == SQLITE_DONE)
		return MW_ERR_NOTFOUND;
	return db_fail(s, sqlite3_db_handle(st), what);
}

static void done(sqlite3_stmt *st)
{
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
}

static int exec(struct store *s, sqlite3 *db, const char *sql)
{
	char *msg = NULL;
	if (sqlite3_exec(db, sql, NULL, NULL, &msg) == SQLITE_OK)
		return MW_OK;
	log_error("store: \"%s\" failed path=%s err=\"%s\"", sql, s->path, msg ? msg : "?");
	sqlite3_free(msg);
	return MW_ERR_IO;
}

static bool hash_col(sqlite3_stmt *st, int col, uint8_t out[EVENT_HASH_LEN])
{
	if (sqlite3_column_bytes(st, col) != EVENT_HASH_LEN)
		return false;
	memcpy(out, sqlite3_column_blob(st, col), EVENT_HASH_LEN);
	return true;
}

static void rollback(struct store *s)
{
	if (!sqlite3_get_autocommit(s->db))
		(void)run(s, s->w[W_ROLLBACK], "rollback");
}

static int meta_set_int(struct store *s, const char *key, uint64_t v)
{
	sqlite3_bind_text(s->w[W_META_SET], 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s->w[W_META_SET], 2, (sqlite3_int64)v);
	return run(s, s->w[W_META_SET], "meta update");
}

static int meta_get_int(struct store *s, const char *key, uint64_t *out)
{
	sqlite3_stmt *st = s->w[W_META_GET];
	int rc;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	rc = row(s, st, "meta read");
	if (rc == MW_OK)
		*out = (uint64_t)sqlite3_column_int64(st, 0);
	done(st);
	return rc;
}

static int64_t used_bytes(struct store *s, sqlite3_stmt *pages, sqlite3_stmt *freel)
{
	int64_t np = -1, nf = -1;
	if (row(s, pages, "page_count") == MW_OK)
		np = sqlite3_column_int64(pages, 0);
	done(pages);
	if (row(s, freel, "freelist_count") == MW_OK)
		nf = sqlite3_column_int64(freel, 0);
	done(freel);
	if (np < 0 || nf < 0)
		return -1;
	return (np - nf) * s->page_size;
}

/* ---- open and close ---------------------------------------------------- */

static int pragma_str(struct store *s, sqlite3 *db, const char *sql, char *out, size_t cap)
{
	sqlite3_stmt *st = NULL;
	int rc = MW_ERR_IO;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		rc = db_fail(s, db, sql);
		goto out;
	}
	if ((rc = row(s, st, sql)) == MW_ERR_NOTFOUND)
		rc = MW_OK;
	else if (rc == MW_OK)
		mw_strlcpy(out, (const char *)sqlite3_column_text(st, 0), cap);
out:
	sqlite3_finalize(st);
	return rc;
}

static int prepare_all(struct store *s, sqlite3 *db, const char *const *sql, sqlite3_stmt **st,
		       size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (sqlite3_prepare_v3(db, sql[i], -1, SQLITE_PREPARE_PERSISTENT, &st[i], NULL) !=
		    SQLITE_OK)
			return db_fail(s, db, sql[i]);
	}
	return MW_OK;
}

static int open_db(struct store *s, sqlite3 **db, int flags)
{
	if (sqlite3_open_v2(s->path, db, flags | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		log_error("store: cannot open path=%s err=\"%s\"", s->path,
			  *db ? sqlite3_errmsg(*db) : "out of memory");
		return MW_ERR_IO;
	}
	sqlite3_busy_timeout(*db, 5000);
	return MW_OK;
}

static int open_writer(struct store *s)
{
	char mode[16] = "";
	const char *sync = s->sync == STORE_SYNC_FULL ? "PRAGMA synchronous=FULL"
						      : "PRAGMA synchronous=NORMAL";
	char pgsz[32] = "";
	int rc;

	if ((rc = open_db(s, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE)) ||
	    (rc = pragma_str(s, s->db, "PRAGMA journal_mode=WAL", mode, sizeof(mode))))
		return rc;
	if (strcmp(mode, "wal") != 0) {
		log_error("store: cannot use WAL mode path=%s mode=%s", s->path, mode);
		return MW_ERR_IO;
	}
	if ((rc = exec(s, s->db, sync)) ||
	    (rc = exec(s, s->db, "PRAGMA journal_size_limit=4194304")) ||
	    (rc = exec(s, s->db, schema_sql)) ||
	    (rc = pragma_str(s, s->db, "PRAGMA page_size", pgsz, sizeof(pgsz))))
		return rc;
	if (mw_parse_i64(pgsz, 512, 65536, &s->page_size)) {
		log_error("store: odd page size path=%s page_size=%s", s->path, pgsz);
		return MW_ERR_IO;
	}
	return prepare_all(s, s->db, wsql, s->w, W_N);
}

/* Creates the meta rows on first use and refuses a store of another node. */
static int check_node(struct store *s)
{
	static const char sql[] =
		"INSERT OR IGNORE INTO meta(key, value) VALUES ('node', ?1), ('last_seq', 0),"
		" ('last_hash', zeroblob(32)), ('acked_seq', 0), ('dropped', 0), ('pruned', 0)";
	sqlite3_stmt *st = NULL;
	char owner[EVENT_ID_MAX + 1] = "";
	int rc;

	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
		rc = db_fail(s, s->db, "meta init");
		goto out;
	}
	sqlite3_bind_text(st, 1, s->node, -1, SQLITE_STATIC);
	if ((rc = run(s, st, "meta init")))
		goto out;
	sqlite3_bind_text(s->w[W_META_GET], 1, "node", -1, SQLITE_STATIC);
	if ((rc = row(s, s->w[W_META_GET], "meta read")) == MW_OK)
		mw_strlcpy(owner, (const char *)sqlite3_column_text(s->w[W_META_GET], 0),
			   sizeof(owner));
	done(s->w[W_META_GET]);
	if (rc == MW_OK && strcmp(owner, s->node) != 0) {
		log_error("store: %s belongs to node %s, not to this node %s; refusing to mix"
			  " chains (use another store path)",
			  s->path, owner, s->node);
		rc = MW_ERR_INVALID;
	}
out:
	sqlite3_finalize(st);
	return rc;
}

/* The chain head as the database has it: the newest row, or the newest drop
 * range, or meta (when every row was pruned), whichever seq is highest. */
static int load_head(struct store *s, uint64_t *seq, uint8_t hash[EVENT_HASH_LEN])
{
	uint64_t mseq = 0;
	int rc;

	*seq = 0;
	memset(hash, 0, EVENT_HASH_LEN);
	if ((rc = row(s, s->w[W_HEAD], "head")) == MW_OK) {
		*seq = (uint64_t)sqlite3_column_int64(s->w[W_HEAD], 0);
		if (!hash_col(s->w[W_HEAD], 1, hash))
			rc = MW_ERR_IO;
	}
	done(s->w[W_HEAD]);
	if (rc != MW_OK && rc != MW_ERR_NOTFOUND)
		goto corrupt;
	if ((rc = row(s, s->w[W_DROP_HEAD], "drop head")) == MW_OK &&
	    (uint64_t)sqlite3_column_int64(s->w[W_DROP_HEAD], 0) > *seq) {
		*seq = (uint64_t)sqlite3_column_int64(s->w[W_DROP_HEAD], 0);
		if (!hash_col(s->w[W_DROP_HEAD], 1, hash))
			rc = MW_ERR_IO;
	}
	done(s->w[W_DROP_HEAD]);
	if (rc != MW_OK && rc != MW_ERR_NOTFOUND)
		goto corrupt;
	if ((rc = meta_get_int(s, "last_seq", &mseq)))
		return rc;
	if (mseq > *seq) {
		log_warn("store: head taken from meta path=%s rows_seq=%" PRIu64
			 " meta_seq=%" PRIu64,
			 s->path, *seq, mseq);
		*seq = mseq;
		sqlite3_bind_text(s->w[W_META_GET], 1, "last_hash", -1, SQLITE_STATIC);
		if (row(s, s->w[W_META_GET], "meta read") != MW_OK ||
		    !hash_col(s->w[W_META_GET], 0, hash))
			rc = MW_ERR_IO;
		done(s->w[W_META_GET]);
		if (rc)
			goto corrupt;
	}
	return MW_OK;
corrupt:
	if (rc == MW_ERR_IO)
		log_error("store: chain head unreadable path=%s", s->path);
	return MW_ERR_IO;
}

static int count_rows(struct store *s, uint64_t above, uint64_t upto, uint64_t *out)
{
	sqlite3_stmt *st = s->w[W_COUNT];
	int rc;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)above);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)(upto > INT64_MAX ? INT64_MAX : upto));
	if ((rc = row(s, st, "count")) == MW_OK)
		*out = (uint64_t)sqlite3_column_int64(st, 0);
	done(st);
	return rc;
}

static int load_state(struct store *s)
{
	int rc;
	if ((rc = load_head(s, &s->last_seq, s->last_hash)) ||
	    (rc = meta_get_int(s, "acked_seq", &s->acked)) ||
	    (rc = meta_get_int(s, "dropped", &s->dropped)) ||
	    (rc = meta_get_int(s, "pruned", &s->pruned)) ||
	    (rc = count_rows(s, 0, UINT64_MAX, &s->stored)) ||
	    (rc = count_rows(s, s->acked, UINT64_MAX, &s->unsent)))
		return rc;
	s->committed_seq = s->last_seq;
	memcpy(s->committed_hash, s->last_hash, EVENT_HASH_LEN);
	if (s->acked > s->last_seq) {
		log_warn("store: acked beyond head, clamped path=%s acked=%" PRIu64
			 " last_seq=%" PRIu64,
			 s->path, s->acked, s->last_seq);
		s->acked = s->last_seq;
	}
	return MW_OK;
}

static int open_reader(struct store *s)
{
	int rc;
	if ((rc = open_db(s, &s->rdb, SQLITE_OPEN_READWRITE)) ||
	    (rc = exec(s, s->rdb, "PRAGMA query_only=1")))
		return rc;
	return prepare_all(s, s->rdb, rsql, s->r, R_N);
}

static int init_locks(struct store *s)
{
	if (pthread_mutex_init(&s->mu, NULL))
		return MW_ERR_NOMEM;
	if (pthread_mutex_init(&s->wmu, NULL))
		goto fail_mu;
	if (pthread_mutex_init(&s->rmu, NULL))
		goto fail_wmu;
	if (pthread_cond_init(&s->cv, NULL))
		goto fail_rmu;
	if (pthread_mutex_init(&s->ckmu, NULL))
		goto fail_cv;
	if (pthread_cond_init(&s->ckcv, NULL))
		goto fail_ckmu;
	s->locks_ready = true;
	return MW_OK;
fail_ckmu:
	pthread_mutex_destroy(&s->ckmu);
fail_cv:
	pthread_cond_destroy(&s->cv);
fail_rmu:
	pthread_mutex_destroy(&s->rmu);
fail_wmu:
	pthread_mutex_destroy(&s->wmu);
fail_mu:
	pthread_mutex_destroy(&s->mu);
	return MW_ERR_NOMEM;
}

/* ---- the checkpointer ------------------------------------------------- */

static void *checkpointer(void *arg)
{
	struct store *s = arg;
	int nlog, nckpt;

	pthread_mutex_lock(&s->ckmu);
	for (;;) {
		while (!s->ck_pending && !s->ck_stop)
			pthread_cond_wait(&s->ckcv, &s->ckmu);
		if (s->ck_stop)
			break;
		s->ck_pending = false;
		pthread_mutex_unlock(&s->ckmu);
		if (sqlite3_wal_checkpoint_v2(s->cdb, NULL, SQLITE_CHECKPOINT_PASSIVE, &nlog,
					      &nckpt) != SQLITE_OK)
			log_warn("store: checkpoint failed path=%s err=\"%s\"", s->path,
				 sqlite3_errmsg(s->cdb));
		pthread_mutex_lock(&s->ckmu);
	}
	pthread_mutex_unlock(&s->ckmu);
	return NULL;
}

/* The writer's WAL hook, after each commit: nudge the checkpointer, or
 * checkpoint here when it falls far behind. */
static int wal_hook(void *arg, sqlite3 *db, const char *name, int pages)
{
	struct store *s = arg;
	int nlog, nckpt;

	if (pages >= CKPT_INLINE_PAGES) {
		(void)sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, &nlog, &nckpt);
		return SQLITE_OK;
	}
	if (pages >= CKPT_PAGES) {
		pthread_mutex_lock(&s->ckmu);
		s->ck_pending = true;
		pthread_cond_signal(&s->ckcv);
		pthread_mutex_unlock(&s->ckmu);
	}
	return SQLITE_OK;
}

static int start_checkpointer(struct store *s)
{
	int rc;
	if ((rc = open_db(s, &s->cdb, SQLITE_OPEN_READWRITE)))
		return rc;
	if (pthread_create(&s->ckthread, NULL, checkpointer, s)) {
		log_error("store: cannot start the checkpointer path=%s", s->path);
		return MW_ERR_NOMEM;
	}
	pthread_setname_np(s->ckthread, "store-ckpt");
	s->ck_running = true;
	sqlite3_wal_hook(s->db, wal_hook, s);
	return MW_OK;
}

static void stop_checkpointer(struct store *s)
{
	if (s->ck_running) {
		pthread_mutex_lock(&s->ckmu);
		s->ck_stop = true;
		pthread_cond_signal(&s->ckcv);
		pthread_mutex_unlock(&s->ckmu);
		pthread_join(s->ckthread, NULL);
		s->ck_running = false;
	}
	if (s->db)
		sqlite3_wal_hook(s->db, NULL, NULL);
	sqlite3_close(s->cdb);
	s->cdb = NULL;
}

int store_open(const struct store_options *opt, struct store **out)
{
	struct store *s;
	int rc;

	*out = NULL;
	if (!opt->path || !*opt->path || !opt->node || !event_id_valid(opt->node)) {
		log_error("store: open needs a path and a valid node id path=%s node=%s",
			  opt->path ? opt->path : "(none)", opt->node ? opt->node : "(none)");
		return MW_ERR_INVALID;
	}
	if (!(s = calloc(1, sizeof(*s))) || !(s->path = strdup(opt->path))) {
		free(s);
		return MW_ERR_NOMEM;
	}
	mw_strlcpy(s->node, opt->node, sizeof(s->node));
	s->sync = opt->sync;
	s->quota = opt->quota_bytes > 0 ? opt->quota_bytes : 0;
	buf_init(&s->scratch, SCRATCH_CAP);
	buf_init(&s->rscratch, SCRATCH_CAP);
	if ((rc = init_locks(s)) || (rc = open_writer(s)) || (rc = check_node(s)) ||
	    (rc = load_state(s)) || (rc = open_reader(s)) || (rc = start_checkpointer(s)))
		goto fail;
	log_info("store: opened path=%s node=%s last_seq=%" PRIu64 " acked=%" PRIu64
		 " stored=%" PRIu64 " sync=%s quota=%" PRId64,
		 s->path, s->node, s->last_seq, s->acked, s->stored,
		 s->sync == STORE_SYNC_FULL ? "full" : "normal", s->quota);
	*out = s;
	return MW_OK;
fail:
	store_close(s);
	return rc;
}

void store_close(struct store *s)
{
	if (!s)
		return;
	stop_checkpointer(s);
	for (size_t i = 0; i < R_N; i++)
		sqlite3_finalize(s->r[i]);
	sqlite3_close(s->rdb);
	for (size_t i = 0; i < W_N; i++)
		sqlite3_finalize(s->w[i]);
	sqlite3_close(s->db); /* last connection: checkpoints and removes the WAL */
	if (s->locks_ready) {
		pthread_cond_destroy(&s->ckcv);
		pthread_mutex_destroy(&s->ckmu);
		pthread_cond_destroy(&s->cv);
		pthread_mutex_destroy(&s->rmu);
		pthread_mutex_destroy(&s->wmu);
		pthread_mutex_destroy(&s->mu);
	}
	free(s->q.ev);
	free(s->inflight.ev);
	buf_free(&s->scratch);
	buf_free(&s->rscratch);
	free(s->path);
	free(s);
}

void store_on_append(struct store *s, store_append_fn fn, void *arg)
{
	pthread_mutex_lock(&s->mu);
	s->on_append = fn;
	s->on_append_arg = arg;
	pthread_mutex_unlock(&s->mu);
}

/* ---- the queue --------------------------------------------------------- */

static int queue_reserve(struct queue *q, size_t n)
{
	size_t cap = q->cap ? q->cap : 256;
	struct event *p;

	if (q->n + n <= q->cap)
		return MW_OK;
	while (cap < q->n + n)
		cap *= 2;
	if (!(p = realloc(q->ev, cap * sizeof(*p))))
		return MW_ERR_NOMEM;
	q->ev = p;
	q->cap = cap;
	return MW_OK;
}

/* Under mu: stamps and seals events onto the chain and queues copies. On
 * failure the chain head and the queue are as before. */
static int enqueue_locked(struct store *s, struct event *events, size_t n, struct req *r)
{
	uint64_t seq0 = s->last_seq;
	uint8_t hash0[EVENT_HASH_LEN];
	size_t q0 = s->q.n;
	int rc;

	if ((rc = queue_reserve(&s->q, n)))
		return rc;
	memcpy(hash0, s->last_hash, EVENT_HASH_LEN);
	for (size_t i = 0; i < n; i++) {
		struct event *e = &events[i];
		memcpy(e->node, s->node, sizeof(s->node));
		e->seq = s->last_seq + 1;
		if ((rc = event_seal(e, s->last_hash, &s->scratch)))
			goto fail;
		s->last_seq = e->seq;
		memcpy(s->last_hash, e->hash, EVENT_HASH_LEN);
		s->q.ev[s->q.n++] = *e;
	}
	r->next = NULL;
	if (s->q.tail)
		s->q.tail->next = r;
	else
		s->q.head = r;
	s->q.tail = r;
	s->q.nreq++;
	s->q.ninternal += r->internal;
	return MW_OK;
fail:
	log_error("store: cannot seal event err=%s", mw_strerror(rc));
	s->last_seq = seq0;
	memcpy(s->last_hash, hash0, EVENT_HASH_LEN);
	s->q.n = q0;
	return rc;
}

static void free_req(struct req *r)
{
	for (size_t i = 0; r->owned && i < r->n; i++)
		event_clear(&r->owned[i]);
	free(r->owned);
	free(r);
}

/* Under mu: reports rc to every request of a queue and empties it. */
static void settle(struct queue *q, int rc)
{
	struct req *r = q->head, *next;
	for (; r; r = next) {
		next = r->next;
		if (r->internal) {
			free_req(r);
			continue;
		}
		r->rc = rc;
		r->done = true;
	}
	q->head = q->tail = NULL;
	q->n = q->nreq = q->ninternal = 0;
}

/* ---- writing ----------------------------------------------------------- */

static int insert_event(struct store *s, const struct event *e)
{
	sqlite3_stmt *st = s->w[W_INSERT];
	int rc;

	sqlite3_bind_int64(st, 1, (sqlite3_int64)e->seq);
	sqlite3_bind_int64(st, 2, e->ts);
	sqlite3_bind_text(st, 3, e->source, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, e->kind, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 5, (int)e->severity);
	if (e->attrs)
		sqlite3_bind_text(st, 6, e->attrs, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 6);
	if (e->blobs)
		sqlite3_bind_text(st, 7, e->blobs, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 7);
	sqlite3_bind_blob(st, 8, e->prev, EVENT_HASH_LEN, SQLITE_STATIC);
	sqlite3_bind_blob(st, 9, e->hash, EVENT_HASH_LEN, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return db_fail(s, s->db, "insert");
	return MW_OK;
}

/* Under wmu: one transaction for the rows and the chain head. */
static int write_batch(struct store *s, const struct event *ev, size_t n)
{
	const struct event *last = &ev[n - 1];
	int rc;

	if ((rc = run(s, s->w[W_BEGIN], "begin")))
		return rc;
	for (size_t i = 0; i < n; i++)
		if ((rc = insert_event(s, &ev[i])))
			goto fail;
	sqlite3_bind_text(s->w[W_META_SET], 1, "last_hash", -1, SQLITE_STATIC);
	sqlite3_bind_blob(s->w[W_META_SET], 2, last->hash, EVENT_HASH_LEN, SQLITE_STATIC);
	if ((rc = run(s, s->w[W_META_SET], "meta update")) ||
	    (rc = meta_set_int(s, "last_seq", last->seq)) ||
	    (rc = run(s, s->w[W_COMMIT], "commit")))
		goto fail;
	return MW_OK;
fail:
	rollback(s);
	return rc;
}

/* ---- the quota policy -------------------------------------------------- */

static int note_run(struct dropset *ds, uint64_t from, uint64_t to)
{
	if (ds->nruns == ds->cap) {
		size_t cap = ds->cap ? 2 * ds->cap : 16;
		void *p = realloc(ds->runs, cap * sizeof(*ds->runs));
		if (!p)
			return MW_ERR_NOMEM;
		ds->runs = p;
		ds->cap = cap;
	}
	ds->runs[ds->nruns].from = from;
	ds->runs[ds->nruns].to = to;
	ds->nruns++;
	return MW_OK;
}

/* Records a run of deleted unsent seqs, merged with contiguous ranges. */
static int add_range(struct store *s, uint64_t from, uint64_t to, const uint8_t *prev,
		     const uint8_t *last)
{
	uint8_t p[EVENT_HASH_LEN], l[EVENT_HASH_LEN];
	uint64_t left = 0, right = 0; /* from_seq of merged neighbours; 0 = none */
	sqlite3_stmt *st = s->w[W_DROP_LEFT];
	int rc;

	memcpy(p, prev, EVENT_HASH_LEN);
	memcpy(l, last, EVENT_HASH_LEN);
	sqlite3_bind_int64(st, 1, (sqlite3_int64)from);
	if ((rc = row(s, st, "drop merge")) == MW_OK &&
	    (uint64_t)sqlite3_column_int64(st, 1) + 1 == from && hash_col(st, 2, p))
		left = (uint64_t)sqlite3_column_int64(st, 0);
	done(st);
	if (rc != MW_OK && rc != MW_ERR_NOTFOUND)
		return rc;
	st = s->w[W_DROP_RIGHT];
	sqlite3_bind_int64(st, 1, (sqlite3_int64)(to + 1));
	if ((rc = row(s, st, "drop merge")) == MW_OK && hash_col(st, 1, l)) {
		right = to + 1;
		to = (uint64_t)sqlite3_column_int64(st, 0);
	}
	done(st);
	if (rc != MW_OK && rc != MW_ERR_NOTFOUND)
		return rc;
	for (int i = 0; i < 2; i++) {
		uint64_t key = i ? right : left;
		if (!key)
			continue;
		sqlite3_bind_int64(s->w[W_DROP_DEL], 1, (sqlite3_int64)key);
		if ((rc = run(s, s->w[W_DROP_DEL], "drop merge")))
			return rc;
	}
	if (left)
		from = left;
	st = s->w[W_DROP_INS];
	sqlite3_bind_int64(st, 1, (sqlite3_int64)from);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)to);
	sqlite3_bind_blob(st, 3, p, EVENT_HASH_LEN, SQLITE_TRANSIENT);
	sqlite3_bind_blob(st, 4, l, EVENT_HASH_LEN, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 5, "quota", -1, SQLITE_STATIC);
	return run(s, st, "drop insert");
}

/* Adds the ranges listed by a store.dropped event about to be deleted
 * (attrs: {"count", "reason", "ranges": [[from, to], ...]}) to the runs of
 * the pass, so the store.dropped event the pass appends lists them again.
 * A range that cannot be one of ours (malformed, not below the event's own
 * seq) is skipped and logged: there is nothing better to do with it. */
static int carry_ranges(struct store *s, uint64_t seq, const char *attrs, struct dropset *ds)
{
	json_t *a = attrs ? json_loads(attrs, 0, NULL) : NULL;
	json_t *ranges = json_object_get(a, "ranges"), *r;
	size_t i, bad = json_is_array(ranges) ? 0 : 1;
	int rc = MW_OK;

	json_array_foreach(ranges, i, r)
	{
		json_t *jf = json_array_get(r, 0), *jt = json_array_get(r, 1);
		json_int_t from = json_integer_value(jf), to = json_integer_value(jt);
		if (json_array_size(r) != 2 || !json_is_integer(jf) || !json_is_integer(jt) ||
		    from < 1 || to < from || (uint64_t)to >= seq) {
			bad++;
			continue;
		}
		if ((rc = note_run(ds, (uint64_t)from, (uint64_t)to)))
			break;
		ds->carried++;
	}
	if (bad)
		log_warn("store: store.dropped event with unreadable ranges, not carried forward"
			 " path=%s seq=%" PRIu64 " bad=%zu",
			 s->path, seq, bad);
	json_decref(a);
	return rc;
}

/* Steps the victim query of class cls into v; carries the ranges of the
 * store.dropped events among them forward. */
static int scan_class(struct store *s, sqlite3_stmt *st, int cls, size_t max, struct victim *v,
		      size_t *nv, struct dropset *ds)
{
	int step = SQLITE_DONE, rc;

	while (*nv < max && (step = sqlite3_step(st)) == SQLITE_ROW) {
		struct victim *x = &v[*nv];
		x->seq = (uint64_t)sqlite3_column_int64(st, 0);
		if (!hash_col(st, 1, x->prev) || !hash_col(st, 2, x->hash)) {
			log_error("store: corrupt row path=%s seq=%" PRIu64, s->path, x->seq);
			return MW_ERR_IO;
		}
		if (drop_classes[cls].own == 1 &&
		    (rc = carry_ranges(s, x->seq, (const char *)sqlite3_column_text(st, 3), ds)))
			return rc;
		(*nv)++;
	}
	if (*nv < max && step != SQLITE_DONE)
		return db_fail(s, s->db, "victim scan");
	return MW_OK;
}

/* Finds up to max unsent events to delete: the oldest of the lowest class
 * left, never the newest event (head). */
static int pick_victims(struct store *s, uint64_t head, size_t max, struct drop_cursor *c,
			struct victim *v, size_t *nv, struct dropset *ds)
{
	sqlite3_stmt *st = s->w[W_VICTIMS];
	int rc;

	*nv = 0;
	while (c->cls < CL_N) {
		uint64_t lo = c->pos[c->cls] > s->acked ? c->pos[c->cls] : s->acked;
		sqlite3_bind_int64(st, 1, (sqlite3_int64)lo);
		sqlite3_bind_int64(st, 2, (sqlite3_int64)head);
		sqlite3_bind_int(st, 3, (int)drop_classes[c->cls].sev);
		sqlite3_bind_int64(st, 4, (sqlite3_int64)max);
		sqlite3_bind_int(st, 5, drop_classes[c->cls].own);
		rc = scan_class(s, st, c->cls, max, v, nv, ds);
		done(st);
		if (rc)
			return rc;
		if (*nv) {
			c->pos[c->cls] = v[*nv - 1].seq;
			return MW_OK;
		}
		c->cls++; /* this class is used up: the next one */
	}
	return MW_OK;
}

/* Deletes the victims (in seq order) and records their runs. */
static int drop_victims(struct store *s, const struct victim *v, size_t nv, struct dropset *ds)
{
	int rc;

	for (size_t i = 0; i < nv; i++) {
		sqlite3_bind_int64(s->w[W_DELETE], 1, (sqlite3_int64)v[i].seq);
		if ((rc = run(s, s->w[W_DELETE], "delete")))
			return rc;
	}
	for (size_t i = 0, j; i < nv; i = j + 1) {
		for (j = i; j + 1 < nv && v[j + 1].seq == v[j].seq + 1; j++)
			;
		if ((rc = add_range(s, v[i].seq, v[j].seq, v[i].prev, v[j].hash)) ||
		    (rc = note_run(ds, v[i].seq, v[j].seq)))
			return rc;
	}
	return MW_OK;
}

/* Under wmu: one transaction deleting up to chunk events by policy; sent
 * events first. *deleted is 0 when nothing is left to delete. */
static int delete_chunk(struct store *s, uint64_t head, size_t chunk, struct drop_cursor *c,
			struct victim *v, struct dropset *ds, size_t *deleted)
{
	struct drop_cursor c0 = *c;
	size_t runs0 = ds->nruns, carried0 = ds->carried, nv = 0;
	uint64_t pruned;
	int rc;

	*deleted = 0;
	if ((rc = run(s, s->w[W_BEGIN], "begin")))
		return rc;
	sqlite3_bind_int64(s->w[W_PRUNE], 1, (sqlite3_int64)s->acked);
	sqlite3_bind_int64(s->w[W_PRUNE], 2, (sqlite3_int64)head);
	sqlite3_bind_int64(s->w[W_PRUNE], 3, (sqlite3_int64)chunk);
	if ((rc = run(s, s->w[W_PRUNE], "prune")))
		goto fail;
	pruned = (uint64_t)sqlite3_changes(s->db);
	if (pruned == 0 && ((rc = pick_victims(s, head, chunk, c, v, &nv, ds)) ||
			    (rc = drop_victims(s, v, nv, ds))))
		goto fail;
	if (pruned + nv == 0) {
		rollback(s);
		return MW_OK;
	}
	if ((rc = meta_set_int(s, "pruned", s->pruned + pruned)) ||
	    (rc = meta_set_int(s, "dropped", s->dropped + nv)) ||
	    (rc = run(s, s->w[W_COMMIT], "commit")))
		goto fail;
	pthread_mutex_lock(&s->mu);
	s->stored -= pruned + nv;
	s->unsent -= nv;
	s->pruned += pruned;
	s->dropped += nv;
	pthread_mutex_unlock(&s->mu);
	ds->pruned += pruned;
	ds->dropped += nv;
	*deleted = pruned + nv;
	return MW_OK;
fail:
	rollback(s);
	*c = c0; /* nothing was deleted: scan those seqs again next time */
	ds->nruns = runs0;
	ds->carried = carried0;
	return rc;
}

/* Rows to delete in one chunk: the overshoot over the average row size. */
static size_t chunk_size(const struct store *s, int64_t used, int64_t over)
{
	int64_t avg = s->stored ? used / (int64_t)s->stored : 256;
	int64_t n = avg > 0 ? over / avg + 1 : CHUNK_MIN;

	if (n < CHUNK_MIN)
		n = CHUNK_MIN;
	return n > CHUNK_MAX ? CHUNK_MAX : (size_t)n;
}

/* Under wmu, after a commit whose newest seq is head: brings the database
 * back under the quota (down to QUOTA_TARGET_PCT of it) by policy. */
static void quota_enforce(struct store *s, uint64_t head, struct dropset *ds)
{
	int64_t used = used_bytes(s, s->w[W_PAGES], s->w[W_FREE]);
	int64_t target = s->quota / 100 * QUOTA_TARGET_PCT;
	struct drop_cursor *c = &s->cursor;
	struct victim *v = NULL;
	size_t deleted = 1;

	if (used <= s->quota) {
		s->quota_stuck = false;
		return;
	}
	c->cls = CL_DEBUG;
	if (!(v = malloc(CHUNK_MAX * sizeof(*v)))) {
		log_error("store: quota pass: out of memory path=%s", s->path);
		return;
	}
	for (int round = 0; used > target && deleted && round < QUOTA_MAX_ROUNDS; round++) {
		if (delete_chunk(s, head, chunk_size(s, used, used - target), c, v, ds, &deleted))
			break;
		used = used_bytes(s, s->w[W_PAGES], s->w[W_FREE]);
	}
	free(v);
	if (used > s->quota && !s->quota_stuck)
		log_warn("store: over quota and nothing left to delete by policy path=%s"
			 " used=%" PRId64 " quota=%" PRId64,
			 s->path, used, s->quota);
	s->quota_stuck = used > s->quota;
}

static int cmp_run(const void *a, const void *b)
{
	const uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Sorts the runs of one quota pass (new and carried forward) and joins
 * the adjacent and overlapping ones, so each seq is listed once. */
static void merge_runs(struct dropset *ds)
{
	size_t k = 0;

	qsort(ds->runs, ds->nruns, sizeof(*ds->runs), cmp_run);
	for (size_t i = 0; i < ds->nruns; i++) {
		struct drop_run *top = k ? &ds->runs[k - 1] : NULL;
		if (top && ds->runs[i].from <= top->to + 1) {
			if (ds->runs[i].to > top->to)
				top->to = ds->runs[i].to;
		} else {
			ds->runs[k++] = ds->runs[i];
		}
	}
	ds->nruns = k;
}

/* Fills one store.dropped event with runs [i0, i1) of ds. */
static int drop_event(struct event *e, const struct dropset *ds, size_t i0, size_t i1)
{
	json_t *ranges = json_array(), *attrs = NULL;
	uint64_t count = 0;
	char err[128];
	int rc = MW_ERR_NOMEM;

	event_init(e);
	if (!ranges)
		goto out;
	for (size_t i = i0; i < i1; i++) {
		count += ds->runs[i].to - ds->runs[i].from + 1;
		if (json_array_append_new(ranges, json_pack("[I,I]", (json_int_t)ds->runs[i].from,
							    (json_int_t)ds->runs[i].to)))
			goto out;
	}
	attrs = json_pack("{s:I,s:s,s:O}", "count", (json_int_t)count, "reason", "quota", "ranges",
			  ranges);
	if (!attrs || (rc = event_set_attrs(e, attrs, err, sizeof(err))))
		goto out;
	mw_strlcpy(e->source, "store", sizeof(e->source));
	mw_strlcpy(e->kind, "store.dropped", sizeof(e->kind));
	e->severity = SEV_WARNING;
	e->ts = mw_now_ns();
out:
	json_decref(ranges);
	json_decref(attrs);
	return rc;
}

/* An internal request carrying the store.dropped event(s) of a quota pass. */
static struct req *drop_req(struct store *s, struct dropset *ds)
{
	size_t nev = (ds->nruns + DROP_RANGES_PER_EVENT - 1) / DROP_RANGES_PER_EVENT;
	struct req *r = calloc(1, sizeof(*r));

	if (!r || !(r->owned = calloc(nev, sizeof(*r->owned))))
		goto fail;
	r->internal = true;
	for (; r->n < nev; r->n++) {
		size_t i0 = r->n * DROP_RANGES_PER_EVENT, i1 = i0 + DROP_RANGES_PER_EVENT;
		if (drop_event(&r->owned[r->n], ds, i0, i1 < ds->nruns ? i1 : ds->nruns))
			goto fail;
	}
	return r;
fail:
	log_error("store: cannot build the store.dropped event path=%s", s->path);
	if (r)
		free_req(r);
	return NULL;
}

/* Under wmu, after a failed commit: the chain head as the database has it. */
static void reload_head(struct store *s, uint64_t *seq, uint8_t hash[EVENT_HASH_LEN])
{
	if (load_head(s, seq, hash) == MW_OK)
		return;
	pthread_mutex_lock(&s->mu);
	*seq = s->committed_seq;
	memcpy(hash, s->committed_hash, EVENT_HASH_LEN);
	pthread_mutex_unlock(&s->mu);
	log_error("store: chain head reload failed, keeping seq=%" PRIu64 " path=%s", *seq,
		  s->path);
}

/* Under wmu: writes the batch, accounts for it, applies the quota. */
static int commit_batch(struct store *s, struct queue *b, struct dropset *ds)
{
	const struct event *last = &b->ev[b->n - 1];
	int rc = write_batch(s, b->ev, b->n);

	if (rc)
		return rc;
	pthread_mutex_lock(&s->mu);
	s->committed_seq = last->seq;
	memcpy(s->committed_hash, last->hash, EVENT_HASH_LEN);
	s->stored += b->n;
	s->unsent += b->n;
	pthread_mutex_unlock(&s->mu);
	/* A batch of only our own store.dropped events skips the policy: that
	 * bounds the recursion to one level. */
	if (s->quota > 0 && b->nreq > b->ninternal)
		quota_enforce(s, last->seq, ds);
	return MW_OK;
}

/* Under mu, as the leader: commits what is queued; returns with mu held. */
static void commit_queued(struct store *s)
{
	struct queue *b = &s->inflight, spare = s->inflight;
	store_append_fn fn = s->on_append;
	void *arg = s->on_append_arg;
	uint8_t head_hash[EVENT_HASH_LEN];
	struct dropset ds = {0};
	struct req *dr = NULL;
	uint64_t head = 0;
	int rc;

	s->inflight = s->q;
	s->q = (struct queue){.ev = spare.ev, .cap = spare.cap};
	pthread_mutex_unlock(&s->mu);

	pthread_mutex_lock(&s->wmu);
	rc = commit_batch(s, b, &ds);
	if (rc)
		reload_head(s, &head, head_hash);
	pthread_mutex_unlock(&s->wmu);
	if (rc == MW_OK && fn)
		fn(b->ev, b->n, arg);
	if (ds.dropped) {
		merge_runs(&ds);
		log_warn("store: quota dropped unsent events path=%s count=%" PRIu64
			 " ranges=%zu carried=%zu pruned=%" PRIu64,
			 s->path, ds.dropped, ds.nruns, ds.carried, ds.pruned);
		dr = drop_req(s, &ds);
	}
	free(ds.runs);

	pthread_mutex_lock(&s->mu);
	settle(b, rc);
	if (rc) {
		/* Everything queued since was sealed on top of the failed commit. */
		settle(&s->q, rc);
		s->last_seq = s->committed_seq = head;
		memcpy(s->last_hash, head_hash, EVENT_HASH_LEN);
		memcpy(s->committed_hash, head_hash, EVENT_HASH_LEN);
	}
	if (dr && enqueue_locked(s, dr->owned, dr->n, dr))
		free_req(dr);
	pthread_cond_broadcast(&s->cv);
}

/* Under mu: commits until own's events are done and no store.dropped
 * event of ours waits, then hands over to a waiting thread. */
static void lead(struct store *s, struct req *own)
{
	s->committing = true;
	while (s->q.n > 0 && (!own->done || s->q.ninternal > 0))
		commit_queued(s);
	assert(own->done);
	s->committing = false;
	pthread_cond_broadcast(&s->cv);
}

static int check_events(const struct event *ev, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct event *e = &ev[i];
		const char *why = NULL;
		if (!event_id_valid(e->source))
			why = "source: not an id";
		else if (!event_id_valid(e->kind))
			why = "kind: not an id";
		else if ((unsigned)e->severity > SEV_ALARM)
			why = "severity: out of range";
		else if (e->ts < 0)
			why = "ts: negative";
		if (why) {
			log_warn("store: event rejected index=%zu reason=\"%s\"", i, why);
			return MW_ERR_INVALID;
		}
	}
	return MW_OK;
}

int store_append(struct store *s, struct event *events, size_t n)
{
	struct req r = {0};
	int64_t now;
	int rc;

	if (n == 0)
		return MW_OK;
	if ((rc = check_events(events, n)))
		return rc;
	now = mw_now_ns();
	for (size_t i = 0; i < n; i++)
		if (events[i].ts == 0)
			events[i].ts = now;
	pthread_mutex_lock(&s->mu);
	if ((rc = enqueue_locked(s, events, n, &r)))
		goto out;
	while (!r.done) {
		if (!s->committing)
			lead(s, &r);
		else
			pthread_cond_wait(&s->cv, &s->mu);
	}
	rc = r.rc;
out:
	pthread_mutex_unlock(&s->mu);
	return rc;
}

/* ---- reading ----------------------------------------------------------- */

static int row_event(struct store *s, sqlite3_stmt *st, struct event *e)
{
	const char *src = (const char *)sqlite3_column_text(st, 2);
	const char *kind = (const char *)sqlite3_column_text(st, 3);
	const char *attrs = (const char *)sqlite3_column_text(st, 5);
	const char *blobs = (const char *)sqlite3_column_text(st, 6);
	int sev = sqlite3_column_int(st, 4);
	int rc = MW_ERR_IO;

	event_init(e);
	memcpy(e->node, s->node, sizeof(s->node));
	e->seq = (uint64_t)sqlite3_column_int64(st, 0);
	e->ts = sqlite3_column_int64(st, 1);
	e->severity = (enum severity)sev;
	if (!src || !kind || mw_strlcpy(e->source, src, sizeof(e->source)) ||
	    mw_strlcpy(e->kind, kind, sizeof(e->kind)) || sev < SEV_DEBUG || sev > SEV_ALARM ||
	    !hash_col(st, 7, e->prev) || !hash_col(st, 8, e->hash) ||
	    (attrs && (rc = event_set_attrs_text(e, attrs))) ||
	    (blobs && (rc = event_set_blobs_text(e, blobs))))
		goto fail;
	return MW_OK;
fail:
	log_error("store: unreadable row path=%s seq=%" PRIu64 " err=%s", s->path, e->seq,
		  mw_strerror(rc));
	event_clear(e);
	return rc;
}

static int push_event(struct event **ev, size_t *n, size_t *cap, struct event *e)
{
	if (*n == *cap) {
		size_t ncap = *cap ? 2 * *cap : 64;
		struct event *p = realloc(*ev, ncap * sizeof(*p));
		if (!p)
			return MW_ERR_NOMEM;
		*ev = p;
		*cap = ncap;
	}
	(*ev)[(*n)++] = *e;
	return MW_OK;
}

/* Under rmu: steps the unsent query into an array within max_bytes. */
static int collect_unsent(struct store *s, size_t max_bytes, struct event **out, size_t *n)
{
	sqlite3_stmt *st = s->r[R_UNSENT];
	size_t cap = 0, bytes = 0;
	int rc = MW_OK, step;

	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		struct event e;
		size_t size;
		if ((rc = row_event(s, st, &e)))
			return rc;
		buf_reset(&s->rscratch);
		if ((rc = event_canon(&e, &s->rscratch)))
			goto fail;
		size = s->rscratch.len + WIRE_OVERHEAD;
		if (*n > 0 && bytes + size > max_bytes) {
			event_clear(&e);
			return MW_OK;
		}
		if ((rc = push_event(out, n, &cap, &e)))
			goto fail;
		bytes += size;
		continue;
fail:
		event_clear(&e);
		return rc;
	}
	if (step != SQLITE_DONE)
		return db_fail(s, s->rdb, "read unsent");
	return MW_OK;
}

/* Under rmu: the unsent events after `after` (raised to the acked seq). */
static int unsent_locked(struct store *s, uint64_t after, size_t max_events, size_t max_bytes,
			 struct event **out, size_t *n)
{
	struct event *ev = NULL;
	size_t cnt = 0;
	int rc;

	pthread_mutex_lock(&s->mu);
	if (after < s->acked)
		after = s->acked;
	pthread_mutex_unlock(&s->mu);
	sqlite3_bind_int64(s->r[R_UNSENT], 1,
			   (sqlite3_int64)(after > INT64_MAX ? INT64_MAX : after));
	sqlite3_bind_int64(s->r[R_UNSENT], 2,
			   (sqlite3_int64)(max_events > INT64_MAX ? INT64_MAX : max_events));
	rc = collect_unsent(s, max_bytes, &ev, &cnt);
	done(s->r[R_UNSENT]);
	if (rc) {
		store_events_free(ev, cnt);
		return rc;
	}
	*out = ev;
	*n = cnt;
	return MW_OK;
}

int store_read_unsent(struct store *s, uint64_t after, size_t max_events, size_t max_bytes,
		      struct event **out, size_t *n)
{
	int rc;

	*out = NULL;
	*n = 0;
	if (max_events == 0)
		return MW_OK;
	pthread_mutex_lock(&s->rmu);
	rc = unsent_locked(s, after, max_events, max_bytes, out, n);
	pthread_mutex_unlock(&s->rmu);
	return rc;
}

void store_events_free(struct event *events, size_t n)
{
	for (size_t i = 0; events && i < n; i++)
		event_clear(&events[i]);
	free(events);
}

static int row_drop(struct store *s, sqlite3_stmt *st, struct store_drop *d)
{
	const char *reason = (const char *)sqlite3_column_text(st, 4);

	d->from = (uint64_t)sqlite3_column_int64(st, 0);
	d->to = (uint64_t)sqlite3_column_int64(st, 1);
	mw_strlcpy(d->reason, reason ? reason : "quota", sizeof(d->reason));
	if (hash_col(st, 2, d->prev) && hash_col(st, 3, d->last) && d->from >= 1 &&
	    d->to >= d->from)
		return MW_OK;
	log_error("store: unreadable drop range path=%s from=%" PRIu64, s->path, d->from);
	return MW_ERR_IO;
}

/* Under rmu: the drop ranges with to > after, in seq order. */
static int drops_locked(struct store *s, uint64_t after, struct store_drop **out, size_t *n)
{
	sqlite3_stmt *st = s->r[R_DROPS];
	struct store_drop *d = NULL;
	size_t cnt = 0, cap = 0;
	int rc = MW_OK, step;

	sqlite3_bind_int64(st, 1, (sqlite3_int64)(after > INT64_MAX ? INT64_MAX : after));
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		if (cnt == cap) {
			size_t ncap = cap ? 2 * cap : 16;
			struct store_drop *p = realloc(d, ncap * sizeof(*p));
			if (!p) {
				rc = MW_ERR_NOMEM;
				goto out;
			}
			d = p;
			cap = ncap;
		}
		if ((rc = row_drop(s, st, &d[cnt])))
			goto out;
		cnt++;
	}
	if (step != SQLITE_DONE)
		rc = db_fail(s, s->rdb, "read drops");
out:
	done(st);
	if (rc) {
		free(d);
		return rc;
	}
	*out = d;
	*n = cnt;
	return MW_OK;
}

int store_read_drops(struct store *s, uint64_t after, struct store_drop **out, size_t *n)
{
	int rc;

	*out = NULL;
	*n = 0;
	pthread_mutex_lock(&s->rmu);
	rc = drops_locked(s, after, out, n);
	pthread_mutex_unlock(&s->rmu);
	return rc;
}

/* Both reads run in one read transaction: WAL gives it one snapshot, so a
 * quota pass committing in between cannot leave a seq both in an event
 * and in a range, nor in neither. */
int store_read_batch(struct store *s, uint64_t after, size_t max_events, size_t max_bytes,
		     struct event **ev, size_t *n, struct store_drop **drops, size_t *nd)
{
	int rc;

	*ev = NULL;
	*drops = NULL;
	*n = *nd = 0;
	pthread_mutex_lock(&s->rmu);
	if ((rc = exec(s, s->rdb, "BEGIN")))
		goto out;
	rc = drops_locked(s, after, drops, nd);
	if (rc == MW_OK && max_events > 0)
		rc = unsent_locked(s, after, max_events, max_bytes, ev, n);
	if (exec(s, s->rdb, "COMMIT") && rc == MW_OK)
		rc = MW_ERR_IO;
	if (rc == MW_OK)
		goto out;
	free(*drops);
	store_events_free(*ev, *n);
	*ev = NULL;
	*drops = NULL;
	*n = *nd = 0;
out:
	pthread_mutex_unlock(&s->rmu);
	return rc;
}

/* ---- acks and stats ---------------------------------------------------- */

int store_ack(struct store *s, uint64_t seq)
{
	uint64_t old, last, gone = 0;
	int rc = MW_OK;

	pthread_mutex_lock(&s->wmu);
	pthread_mutex_lock(&s->mu);
	old = s->acked;
	last = s->committed_seq;
	pthread_mutex_unlock(&s->mu);
	if (seq > last) {
		log_warn("store: ack beyond the last seq path=%s ack=%" PRIu64 " last_seq=%" PRIu64,
			 s->path, seq, last);
		rc = MW_ERR_INVALID;
		goto out;
	}
	if (seq <= old)
		goto out; /* acks never move backwards; a repeat is harmless */
	if ((rc = count_rows(s, old, seq, &gone)) || (rc = meta_set_int(s, "acked_seq", seq)))
		goto out;
	pthread_mutex_lock(&s->mu);
	s->acked = seq;
	s->unsent -= gone;
	pthread_mutex_unlock(&s->mu);
out:
	pthread_mutex_unlock(&s->wmu);
	return rc;
}

int store_stats(struct store *s, struct store_stats *out)
{
	int64_t used;

	pthread_mutex_lock(&s->mu);
	out->last_seq = s->committed_seq;
	out->acked_seq = s->acked;
	out->unsent = s->unsent;
	out->stored = s->stored;
	out->dropped = s->dropped;
	out->pruned = s->pruned;
	pthread_mutex_unlock(&s->mu);
	pthread_mutex_lock(&s->rmu);
	used = used_bytes(s, s->r[R_PAGES], s->r[R_FREE]);
	pthread_mutex_unlock(&s->rmu);
	out->bytes_used = used > 0 ? used : 0;
	return used < 0 ? MW_ERR_IO : MW_OK;
}
