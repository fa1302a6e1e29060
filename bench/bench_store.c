/* bench_store.c -- how fast the edge store makes events durable.
 *
 * Figures (one a line, as `make bench` expects):
 *   bench store.append.normal      one thread, 256 events per store_append,
 *                                  sync=normal, hashing included
 *   bench store.append.normal.mt4  four threads doing the same at once
 *   bench store.sqlite.normal      raw SQLite: the same rows, schema, batch
 *                                  size and pragmas, no hashing, no queue
 *   ratio store.append.vs_sqlite   ours over raw SQLite (1 = no overhead)
 *   bench store.append.full        sync=full, 8 threads, 1 event per call:
 *                                  group commit at work
 *   bench store.append.full.1t     sync=full, 1 thread, 1 event per call
 *   bench store.full.group         events per commit in the 8-thread run
 * Events are ~256 bytes in canonical form. Ours and raw SQLite alternate
 * over three rounds and the best of each counts, to damp noise from a busy
 * machine. Every run uses a fresh database in the data directory (argv[1],
 * else a mkdtemp under /tmp), removed afterwards. */
#include "core/event.h"
#include "core/log.h"
#include "core/mw.h"
#include "edge/store.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define EVENT_BYTES 256
#define BATCH 256
#define ROUNDS 5

static char dir[256];
static char attrs_text[2 * EVENT_BYTES];

/* Pads attrs until the canonical encoding of a typical event is ~256 bytes. */
static int size_attrs(void)
{
	struct event e;
	struct buf b;
	char pad[EVENT_BYTES];
	int rc = MW_ERR_INVALID;

	event_init(&e);
	buf_init(&b, 4096);
	mw_strlcpy(e.node, "edge-1", sizeof(e.node));
	mw_strlcpy(e.source, "line1/cam-2", sizeof(e.source));
	mw_strlcpy(e.kind, "zone.intrusion", sizeof(e.kind));
	e.severity = SEV_WARNING;
	e.seq = 1000000;
	e.ts = mw_now_ns();
	for (size_t n = 0; n < sizeof(pad) - 1; n++) {
		memset(pad, 'x', n);
		pad[n] = '\0';
		snprintf(attrs_text, sizeof(attrs_text), "{\"pad\":\"%s\",\"zone\":3}", pad);
		if (event_set_attrs_text(&e, attrs_text))
			break;
		buf_reset(&b);
		if (event_canon(&e, &b))
			break;
		if (b.len >= EVENT_BYTES) {
			rc = MW_OK;
			break;
		}
	}
	event_clear(&e);
	buf_free(&b);
	return rc;
}

static void db_path(char *out, size_t cap, const char *name)
{
	snprintf(out, cap, "%s/%s.db", dir, name);
}

static void db_remove(const char *path)
{
	char p[320];
	const char *suffix[] = {"", "-wal", "-shm"};
	for (size_t i = 0; i < MW_ARRAY_LEN(suffix); i++) {
		snprintf(p, sizeof(p), "%s%s", path, suffix[i]);
		unlink(p);
	}
}

static struct event *make_events(size_t n)
{
	struct event *ev = calloc(n, sizeof(*ev));
	for (size_t i = 0; ev && i < n; i++) {
		mw_strlcpy(ev[i].source, "line1/cam-2", sizeof(ev[i].source));
		mw_strlcpy(ev[i].kind, "zone.intrusion", sizeof(ev[i].kind));
		ev[i].severity = SEV_WARNING;
		if (event_set_attrs_text(&ev[i], attrs_text)) {
			fprintf(stderr, "bench_store: out of memory\n");
			exit(1);
		}
	}
	return ev;
}

static void free_events(struct event *ev, size_t n)
{
	for (size_t i = 0; i < n; i++)
		event_clear(&ev[i]);
	free(ev);
}

/* ---- ours -------------------------------------------------------------- */

struct run {
	struct store *s;
	size_t batch;
	int64_t until; /* mw_mono_ns deadline */
	uint64_t events;
	int rc;
};

static atomic_uint_fast64_t commits;

static void count_commit(const struct event *ev, size_t n, void *arg)
{
	atomic_fetch_add(&commits, 1);
}

static void *appender(void *arg)
{
	struct run *r = arg;
	struct event *ev = make_events(r->batch);

	while (!r->rc && mw_mono_ns() < r->until) {
		for (size_t i = 0; i < r->batch; i++)
			ev[i].ts = 0;
		r->rc = store_append(r->s, ev, r->batch);
		r->events += r->batch;
	}
	free_events(ev, r->batch);
	return NULL;
}

/* Events per second of `threads` threads appending `batch` at a time. */
static double run_ours(const char *name, enum store_sync sync, int threads, size_t batch,
		       double seconds, double *per_commit)
{
	struct store_options opt = {.node = "edge-1", .sync = sync};
	struct run r[16] = {{0}};
	pthread_t tid[16];
	char path[300];
	uint64_t total = 0;
	int64_t t0;
	struct store *s;

	db_path(path, sizeof(path), name);
	db_remove(path);
	opt.path = path;
	if (store_open(&opt, &s)) {
		fprintf(stderr, "bench_store: cannot open %s\n", path);
		exit(1);
	}
	atomic_store(&commits, 0);
	store_on_append(s, count_commit, NULL);
	t0 = mw_mono_ns();
	for (int t = 0; t < threads; t++) {
		r[t] = (struct run){.s = s, .batch = batch, .until = t0 + (int64_t)(seconds * 1e9)};
		pthread_create(&tid[t], NULL, appender, &r[t]);
	}
	for (int t = 0; t < threads; t++) {
		pthread_join(tid[t], NULL);
		if (r[t].rc) {
			fprintf(stderr, "bench_store: append failed: %s\n", mw_strerror(r[t].rc));
			exit(1);
		}
		total += r[t].events;
	}
	t0 = mw_mono_ns() - t0;
	if (per_commit)
		*per_commit = (double)total / (double)atomic_load(&commits);
	store_close(s);
	db_remove(path);
	return (double)total / ((double)t0 / 1e9);
}

/* ---- raw SQLite, the same rows ----------------------------------------- */

static const char raw_schema[] =
	"PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
	"PRAGMA journal_size_limit=4194304;"
	"CREATE TABLE events(seq INTEGER PRIMARY KEY, ts INTEGER NOT NULL,"
	" source TEXT NOT NULL, kind TEXT NOT NULL, severity INTEGER NOT NULL, attrs TEXT,"
	" blobs TEXT, prev BLOB NOT NULL, hash BLOB NOT NULL);"
	"CREATE TABLE meta(key TEXT PRIMARY KEY, value);"
	"CREATE TABLE drops(from_seq INTEGER PRIMARY KEY, to_seq INTEGER NOT NULL,"
	" prev BLOB NOT NULL, last BLOB NOT NULL, reason TEXT NOT NULL);";

static int raw_batch(sqlite3 *db, sqlite3_stmt *ins, sqlite3_stmt *begin, sqlite3_stmt *commit,
		     uint64_t *seq, const uint8_t *hash)
{
	int64_t ts = mw_now_ns();
	if (sqlite3_step(begin) != SQLITE_DONE)
		return -1;
	sqlite3_reset(begin);
	for (size_t i = 0; i < BATCH; i++) {
		sqlite3_bind_int64(ins, 1, (sqlite3_int64)++ * seq);
		sqlite3_bind_int64(ins, 2, ts);
		sqlite3_bind_text(ins, 3, "line1/cam-2", -1, SQLITE_STATIC);
		sqlite3_bind_text(ins, 4, "zone.intrusion", -1, SQLITE_STATIC);
		sqlite3_bind_int(ins, 5, SEV_WARNING);
		sqlite3_bind_text(ins, 6, attrs_text, -1, SQLITE_STATIC);
		sqlite3_bind_null(ins, 7);
		sqlite3_bind_blob(ins, 8, hash, EVENT_HASH_LEN, SQLITE_STATIC);
		sqlite3_bind_blob(ins, 9, hash, EVENT_HASH_LEN, SQLITE_STATIC);
		if (sqlite3_step(ins) != SQLITE_DONE)
			return -1;
		sqlite3_reset(ins);
	}
	if (sqlite3_step(commit) != SQLITE_DONE)
		return -1;
	sqlite3_reset(commit);
	(void)db;
	return 0;
}

static double run_raw(double seconds)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *ins = NULL, *begin = NULL, *commit = NULL;
	uint8_t hash[EVENT_HASH_LEN];
	uint64_t seq = 0;
	char path[300];
	int64_t t0, until;
	int rc = 0;

	memset(hash, 0xab, sizeof(hash));
	db_path(path, sizeof(path), "raw");
	db_remove(path);
	if (sqlite3_open_v2(path, &db,
			    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
			    NULL) != SQLITE_OK ||
	    sqlite3_busy_timeout(db, 5000) ||
	    sqlite3_exec(db, raw_schema, NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db,
			       "INSERT INTO events(seq, ts, source, kind, severity, attrs,"
			       " blobs, prev, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
			       -1, &ins, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "BEGIN IMMEDIATE", -1, &begin, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "COMMIT", -1, &commit, NULL) != SQLITE_OK) {
		fprintf(stderr, "bench_store: raw sqlite setup failed: %s\n", sqlite3_errmsg(db));
		exit(1);
	}
	t0 = mw_mono_ns();
	until = t0 + (int64_t)(seconds * 1e9);
	while (rc == 0 && mw_mono_ns() < until)
		rc = raw_batch(db, ins, begin, commit, &seq, hash);
	t0 = mw_mono_ns() - t0;
	if (rc) {
		fprintf(stderr, "bench_store: raw insert failed: %s\n", sqlite3_errmsg(db));
		exit(1);
	}
	sqlite3_finalize(ins);
	sqlite3_finalize(begin);
	sqlite3_finalize(commit);
	sqlite3_close(db);
	db_remove(path);
	return (double)seq / ((double)t0 / 1e9);
}

int main(int argc, char **argv)
{
	double ours = 0, raw = 0, mt, full, full1, group = 0;
	bool made = false;

	log_set_level(LOG_WARN);
	if (argc > 1) {
		mw_strlcpy(dir, argv[1], sizeof(dir));
	} else {
		snprintf(dir, sizeof(dir), "/tmp/mw-bench-store-XXXXXX");
		if (!mkdtemp(dir)) {
			perror("bench_store: mkdtemp");
			return 1;
		}
		made = true;
	}
	if (size_attrs()) {
		fprintf(stderr, "bench_store: cannot size the events\n");
		return 1;
	}
	for (int i = 0; i < ROUNDS; i++) {
		double a = run_ours("normal", STORE_SYNC_NORMAL, 1, BATCH, 0.6, NULL);
		double b = run_raw(0.6);
		ours = a > ours ? a : ours;
		raw = b > raw ? b : raw;
	}
	mt = run_ours("normal-mt", STORE_SYNC_NORMAL, 4, BATCH, 1.5, NULL);
	full = run_ours("full", STORE_SYNC_FULL, 8, 1, 2.0, &group);
	full1 = run_ours("full-1t", STORE_SYNC_FULL, 1, 1, 1.0, NULL);

	printf("bench store.append.normal %.0f events/s\n", ours);
	printf("bench store.append.normal.mt4 %.0f events/s\n", mt);
	printf("bench store.sqlite.normal %.0f events/s\n", raw);
	printf("ratio store.append.vs_sqlite %.2f\n", ours / raw);
	printf("bench store.append.full %.0f events/s\n", full);
	printf("bench store.append.full.1t %.0f events/s\n", full1);
	printf("bench store.full.group %.1f events/commit\n", group);
	if (made)
		rmdir(dir);
	return 0;
}
