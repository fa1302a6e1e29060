/* test_store.c -- the edge's durable event store, through its public API.
 *
 * What a user of the store would notice: seqs continue across restarts and
 * a kill -9, the chain links verify, many threads get unique contiguous seqs,
 * the uplink reads what is unsent within its limits, acks only move forward,
 * a store of another node is refused, the on_append callback sees every
 * committed event once and in order, and under a disk quota the deletions
 * follow the written policy (sent first, then lowest severity and oldest,
 * alarms last) and are accounted for exactly by drop ranges and store.dropped
 * events. Every test works on a fresh store in its own temp directory. */
#include "core/buf.h"
#include "core/event.h"
#include "core/log.h"
#include "core/mw.h"
#include "edge/store.h"

#include <jansson.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

struct fixture {
	char dir[64];
	char path[128];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	if (!f)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/mw-test-store-XXXXXX");
	if (!mkdtemp(f->dir)) {
		free(f);
		return -1;
	}
	snprintf(f->path, sizeof(f->path), "%s/events.db", f->dir);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char p[160];
	const char *suffix[] = {"", "-wal", "-shm"};
	for (size_t i = 0; i < MW_ARRAY_LEN(suffix); i++) {
		snprintf(p, sizeof(p), "%s%s", f->path, suffix[i]);
		unlink(p);
	}
	rmdir(f->dir);
	free(f);
	return 0;
}

static struct store *open_store(const char *path, const char *node, int64_t quota)
{
	struct store_options opt = {
		.path = path, .node = node, .sync = STORE_SYNC_NORMAL, .quota_bytes = quota};
	struct store *s = NULL;
	assert_int_equal(store_open(&opt, &s), MW_OK);
	assert_non_null(s);
	return s;
}

/* An event of about 300 bytes canonical, attrs padded. */
static void make_event(struct event *e, enum severity sev, int i)
{
	char attrs[256];
	event_init(e);
	snprintf(e->source, sizeof(e->source), "line1/sensor-%d", i % 7);
	snprintf(e->kind, sizeof(e->kind), "%s",
		 sev == SEV_ALARM ? "zone.intrusion" : "part.counted");
	e->severity = sev;
	snprintf(attrs, sizeof(attrs), "{\"i\":%d,\"pad\":\"%0150d\"}", i, i);
	assert_int_equal(event_set_attrs_text(e, attrs), MW_OK);
}

static void clear_events(struct event *ev, size_t n)
{
	for (size_t i = 0; i < n; i++)
		event_clear(&ev[i]);
}

static void read_all(struct store *s, struct event **ev, size_t *n)
{
	assert_int_equal(store_read_unsent(s, 0, SIZE_MAX, SIZE_MAX, ev, n), MW_OK);
}

/* Every event verifies, and consecutive seqs link prev to hash. */
static void assert_chain(const struct event *ev, size_t n)
{
	struct buf scratch;
	buf_init(&scratch, 1 << 20);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(event_verify(&ev[i], &scratch), MW_OK);
		if (i > 0 && ev[i].seq == ev[i - 1].seq + 1)
			assert_memory_equal(ev[i].prev, ev[i - 1].hash, EVENT_HASH_LEN);
	}
	buf_free(&scratch);
}

/* ---- what the on_append callback saw ----------------------------------- */

#define SEEN_MAX 20000

struct seen {
	pthread_mutex_t mu;
	uint64_t calls, events, last;
	bool in_order;
	int sev[SEEN_MAX + 1];
	bool own[SEEN_MAX + 1]; /* a store.dropped event of the store's */
	uint8_t hash[SEEN_MAX + 1][EVENT_HASH_LEN];
};

static void on_append(const struct event *ev, size_t n, void *arg)
{
	struct seen *w = arg;
	pthread_mutex_lock(&w->mu);
	w->calls++;
	for (size_t i = 0; i < n; i++) {
		if (ev[i].seq != w->last + 1)
			w->in_order = false;
		w->last = ev[i].seq;
		w->events++;
		if (ev[i].seq <= SEEN_MAX) {
			w->sev[ev[i].seq] = (int)ev[i].severity;
			w->own[ev[i].seq] = strcmp(ev[i].kind, "store.dropped") == 0;
			memcpy(w->hash[ev[i].seq], ev[i].hash, EVENT_HASH_LEN);
		}
	}
	pthread_mutex_unlock(&w->mu);
}

static struct seen *seen_new(void)
{
	struct seen *w = calloc(1, sizeof(*w));
	assert_non_null(w);
	pthread_mutex_init(&w->mu, NULL);
	w->in_order = true;
	return w;
}

static void seen_free(struct seen *w)
{
	pthread_mutex_destroy(&w->mu);
	free(w);
}

/* ---- tests ------------------------------------------------------------- */

static void append_and_reopen(void **state)
{
	struct fixture *f = *state;
	struct event ev[10], more[5], *got;
	uint8_t zero[EVENT_HASH_LEN] = {0};
	size_t n;
	struct store *s = open_store(f->path, "edge-1", 0);

	for (int i = 0; i < 10; i++)
		make_event(&ev[i], SEV_INFO, i);
	ev[3].ts = 1234; /* a producer's own timestamp is kept */
	assert_int_equal(store_append(s, ev, 4), MW_OK);
	assert_int_equal(store_append(s, ev + 4, 6), MW_OK);
	for (int i = 0; i < 10; i++) {
		assert_int_equal(ev[i].seq, i + 1);
		assert_string_equal(ev[i].node, "edge-1");
		assert_true(ev[i].ts > 0);
	}
	assert_int_equal(ev[3].ts, 1234);
	assert_memory_equal(ev[0].prev, zero, EVENT_HASH_LEN);
	store_close(s);

	s = open_store(f->path, "edge-1", 0);
	for (int i = 0; i < 5; i++)
		make_event(&more[i], SEV_WARNING, 100 + i);
	assert_int_equal(store_append(s, more, 5), MW_OK);
	assert_int_equal(more[0].seq, 11);
	assert_memory_equal(more[0].prev, ev[9].hash, EVENT_HASH_LEN);
	read_all(s, &got, &n);
	assert_int_equal(n, 15);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(got[i].seq, i + 1);
	assert_chain(got, n);
	assert_string_equal(got[3].attrs, ev[3].attrs);
	assert_int_equal(got[3].ts, 1234);
	assert_int_equal(got[12].severity, SEV_WARNING);
	assert_memory_equal(got[14].hash, more[4].hash, EVENT_HASH_LEN);
	store_events_free(got, n);
	store_close(s);
	clear_events(ev, 10);
	clear_events(more, 5);
}

static void bad_events_are_refused_whole(void **state)
{
	struct fixture *f = *state;
	struct event ev[3];
	struct store_stats st;
	struct store *s = open_store(f->path, "edge-1", 0);

	for (int i = 0; i < 3; i++)
		make_event(&ev[i], SEV_INFO, i);
	mw_strlcpy(ev[1].kind, "bad kind!", sizeof(ev[1].kind));
	assert_int_equal(store_append(s, ev, 3), MW_ERR_INVALID);
	assert_int_equal(store_stats(s, &st), MW_OK);
	assert_int_equal(st.last_seq, 0);
	assert_int_equal(st.stored, 0);
	store_close(s);
	clear_events(ev, 3);
}

#define THREADS 8
#define CALLS 150

struct worker {
	struct store *s;
	int id;
	uint64_t seqs[CALLS * 3];
	uint8_t hashes[CALLS * 3][EVENT_HASH_LEN];
	size_t n;
	int rc;
};

static void *work(void *arg)
{
	struct worker *w = arg;
	for (int c = 0; c < CALLS && !w->rc; c++) {
		struct event ev[3];
		size_t k = (size_t)(c % 3) + 1;
		for (size_t i = 0; i < k; i++)
			make_event(&ev[i], (enum severity)((c + (int)i) % 4), w->id * 1000 + c);
		w->rc = store_append(w->s, ev, k);
		for (size_t i = 0; i < k && !w->rc; i++) {
			w->seqs[w->n] = ev[i].seq;
			memcpy(w->hashes[w->n++], ev[i].hash, EVENT_HASH_LEN);
		}
		clear_events(ev, k);
	}
	return NULL;
}

static void concurrent_appends_chain(void **state)
{
	struct fixture *f = *state;
	struct worker *w = calloc(THREADS, sizeof(*w));
	pthread_t tid[THREADS];
	struct seen *seen = seen_new();
	struct event *got;
	size_t n, total = 0;
	char *owner;
	struct store *s = open_store(f->path, "edge-1", 0);

	store_on_append(s, on_append, seen);
	for (int t = 0; t < THREADS; t++) {
		w[t].s = s;
		w[t].id = t;
		assert_int_equal(pthread_create(&tid[t], NULL, work, &w[t]), 0);
	}
	for (int t = 0; t < THREADS; t++) {
		pthread_join(tid[t], NULL);
		assert_int_equal(w[t].rc, MW_OK);
		total += w[t].n;
	}
	read_all(s, &got, &n);
	assert_int_equal(n, total);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(got[i].seq, i + 1);
	assert_chain(got, n);
	/* Each caller got back unique seqs, and the hash stored under each. */
	owner = calloc(n + 1, 1);
	for (int t = 0; t < THREADS; t++) {
		for (size_t i = 0; i < w[t].n; i++) {
			uint64_t q = w[t].seqs[i];
			assert_true(q >= 1 && q <= n);
			assert_int_equal(owner[q], 0);
			owner[q] = 1;
			assert_memory_equal(got[q - 1].hash, w[t].hashes[i], EVENT_HASH_LEN);
			if (i > 0)
				assert_true(q > w[t].seqs[i - 1]);
		}
	}
	/* The callback saw each committed event once, in seq order. */
	assert_true(seen->in_order);
	assert_int_equal(seen->events, total);
	assert_int_equal(seen->last, total);
	assert_true(seen->calls <= total);
	store_events_free(got, n);
	store_close(s);
	free(owner);
	free(w);
	seen_free(seen);
}

static void callback_sees_each_commit_once(void **state)
{
	struct fixture *f = *state;
	struct seen *seen = seen_new();
	struct event ev[7];
	struct store *s = open_store(f->path, "edge-1", 0);

	store_on_append(s, on_append, seen);
	for (int round = 0; round < 20; round++) {
		size_t k = (size_t)(round % 7) + 1;
		for (size_t i = 0; i < k; i++)
			make_event(&ev[i], SEV_INFO, round);
		assert_int_equal(store_append(s, ev, k), MW_OK);
		/* By the time append returns, the callback has run for these. */
		assert_int_equal(seen->last, ev[k - 1].seq);
		assert_memory_equal(seen->hash[ev[k - 1].seq], ev[k - 1].hash, EVENT_HASH_LEN);
		clear_events(ev, k);
	}
	assert_true(seen->in_order);
	assert_int_equal(seen->calls, 20);
	assert_int_equal(seen->events, seen->last);
	store_close(s);
	seen_free(seen);
}

static void append_n(struct store *s, size_t n, enum severity sev)
{
	struct event ev[50];
	for (size_t done = 0; done < n;) {
		size_t k = n - done < 50 ? n - done : 50;
		for (size_t i = 0; i < k; i++)
			make_event(&ev[i], sev, (int)(done + i));
		assert_int_equal(store_append(s, ev, k), MW_OK);
		clear_events(ev, k);
		done += k;
	}
}

static size_t wire_size(const struct event *e)
{
	struct buf b;
	size_t n;
	buf_init(&b, 1 << 20);
	assert_int_equal(event_canon(e, &b), MW_OK);
	n = b.len;
	buf_free(&b);
	return n + 150; /* the documented estimate */
}

static void read_unsent_limits(void **state)
{
	struct fixture *f = *state;
	struct event *got;
	size_t n, three, four;
	struct store *s = open_store(f->path, "edge-1", 0);

	append_n(s, 50, SEV_INFO);
	assert_int_equal(store_read_unsent(s, 0, 10, SIZE_MAX, &got, &n), MW_OK);
	assert_int_equal(n, 10);
	assert_int_equal(got[0].seq, 1);
	assert_int_equal(got[9].seq, 10);
	store_events_free(got, n);

	assert_int_equal(store_read_unsent(s, 10, 10, SIZE_MAX, &got, &n), MW_OK);
	assert_int_equal(n, 10);
	assert_int_equal(got[0].seq, 11);
	assert_int_equal(got[9].seq, 20);
	store_events_free(got, n);

	/* Byte limit: three events fit exactly, a fourth would not. */
	assert_int_equal(store_read_unsent(s, 20, 4, SIZE_MAX, &got, &n), MW_OK);
	assert_int_equal(n, 4);
	three = wire_size(&got[0]) + wire_size(&got[1]) + wire_size(&got[2]);
	four = three + wire_size(&got[3]);
	store_events_free(got, n);
	assert_int_equal(store_read_unsent(s, 20, 100, three, &got, &n), MW_OK);
	assert_int_equal(n, 3);
	assert_int_equal(got[0].seq, 21);
	store_events_free(got, n);
	assert_int_equal(store_read_unsent(s, 20, 100, four - 1, &got, &n), MW_OK);
	assert_int_equal(n, 3);
	store_events_free(got, n);
	assert_int_equal(store_read_unsent(s, 20, 100, four, &got, &n), MW_OK);
	assert_int_equal(n, 4);
	store_events_free(got, n);

	/* Below one event's size: still one event, so the uplink moves on. */
	assert_int_equal(store_read_unsent(s, 0, 100, 1, &got, &n), MW_OK);
	assert_int_equal(n, 1);
	assert_int_equal(got[0].seq, 1);
	store_events_free(got, n);

	assert_int_equal(store_read_unsent(s, 50, 100, SIZE_MAX, &got, &n), MW_OK);
	assert_int_equal(n, 0);
	assert_int_equal(store_read_unsent(s, 0, 0, SIZE_MAX, &got, &n), MW_OK);
	assert_int_equal(n, 0);
	store_close(s);
}

static void ack_moves_forward_only(void **state)
{
	struct fixture *f = *state;
	struct store_stats st;
	struct event *got;
	size_t n;
	struct store *s = open_store(f->path, "edge-1", 0);

	append_n(s, 50, SEV_INFO);
	assert_int_equal(store_stats(s, &st), MW_OK);
	assert_int_equal(st.last_seq, 50);
	assert_int_equal(st.unsent, 50);
	assert_int_equal(st.stored, 50);
	assert_true(st.bytes_used > 0);

	assert_int_equal(store_ack(s, 10), MW_OK);
	assert_int_equal(store_ack(s, 5), MW_OK); /* late, harmless, ignored */
	assert_int_equal(store_ack(s, 51), MW_ERR_INVALID);
	assert_int_equal(store_stats(s, &st), MW_OK);
	assert_int_equal(st.acked_seq, 10);
	assert_int_equal(st.unsent, 40);
	assert_int_equal(st.stored, 50);

	/* Unsent means above the ack, whatever "after" says. */
	assert_int_equal(store_read_unsent(s, 0, 5, SIZE_MAX, &got, &n), MW_OK);
	assert_int_equal(n, 5);
	assert_int_equal(got[0].seq, 11);
	store_events_free(got, n);
	store_close(s);

	s = open_store(f->path, "edge-1", 0);
	assert_int_equal(store_stats(s, &st), MW_OK);
	assert_int_equal(st.acked_seq, 10);
	assert_int_equal(st.unsent, 40);
	assert_int_equal(store_ack(s, 50), MW_OK);
	assert_int_equal(store_stats(s, &st), MW_OK);
	assert_int_equal(st.unsent, 0);
	assert_int_equal(store_read_unsent(s, 0, 5, SIZE_MAX, &got, &n), MW_OK);
	assert_int_equal(n, 0);
	store_close(s);
}

static void node_mismatch_refused(void **state)
{
	struct fixture *f = *state;
	struct store_options opt = {.path = f->path, .node = "edge-2"};
	struct store *s = open_store(f->path, "edge-1", 0), *other = NULL;

	append_n(s, 3, SEV_INFO);
	store_close(s);
	assert_int_equal(store_open(&opt, &other), MW_ERR_INVALID);
	assert_null(other);
	opt.node = "not a valid id";
	assert_int_equal(store_open(&opt, &other), MW_ERR_INVALID);
	assert_null(other);
	s = open_store(f->path, "edge-1", 0);
	store_close(s);
}

/* ---- the quota policy -------------------------------------------------- */

#define QUOTA (256 * 1024)

static bool has_seq(const struct event *ev, size_t n, uint64_t seq)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (ev[mid].seq < seq)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && ev[lo].seq == seq;
}

static bool in_ranges(const struct store_drop *d, size_t nd, uint64_t seq)
{
	for (size_t i = 0; i < nd; i++)
		if (seq >= d[i].from && seq <= d[i].to)
			return true;
	return false;
}

/* Sums the store.dropped events' counts and checks their ranges cover
 * exactly the missing seqs. */
static uint64_t check_drop_events(const struct event *ev, size_t n, const char *missing,
				  uint64_t last)
{
	char *covered = calloc(last + 1, 1);
	uint64_t total = 0;

	for (size_t i = 0; i < n; i++) {
		json_t *a, *r;
		size_t j;
		uint64_t count = 0;
		if (strcmp(ev[i].kind, "store.dropped") != 0)
			continue;
		assert_string_equal(ev[i].source, "store");
		assert_int_equal(ev[i].severity, SEV_WARNING);
		a = json_loads(ev[i].attrs, 0, NULL);
		assert_non_null(a);
		assert_string_equal(json_string_value(json_object_get(a, "reason")), "quota");
		json_array_foreach(json_object_get(a, "ranges"), j, r)
		{
			uint64_t from = (uint64_t)json_integer_value(json_array_get(r, 0));
			uint64_t to = (uint64_t)json_integer_value(json_array_get(r, 1));
			assert_true(from >= 1 && to >= from && to <= last);
			for (uint64_t q = from; q <= to; q++) {
				assert_int_equal(covered[q], 0);
				covered[q] = 1;
			}
			count += to - from + 1;
		}
		assert_int_equal(count, json_integer_value(json_object_get(a, "count")));
		total += count;
		json_decref(a);
	}
	for (uint64_t q = 1; q <= last; q++)
		assert_int_equal(covered[q], missing[q]);
	free(covered);
	return total;
}

static void quota_drops_by_policy(void **state)
{
	struct fixture *f = *state;
	struct seen *seen = seen_new();
	struct store_stats st;
	struct store_drop *d;
	struct event *got, ev[20];
	size_t n, nd;
	char *missing;
	uint64_t nmissing = 0;
	int min_present = 99;
	struct store *s = open_store(f->path, "edge-1", QUOTA);

	store_on_append(s, on_append, seen);
	/* Mixed severities, nothing acked: 50% debug, 40% info, 10% alarm. */
	for (int call = 0; call < 200; call++) {
		for (int i = 0; i < 20; i++) {
			int k = (call * 20 + i) % 10;
			make_event(&ev[i],
				   k < 5   ? SEV_DEBUG
				   : k < 9 ? SEV_INFO
					   : SEV_ALARM,
				   call * 20 + i);
		}
		assert_int_equal(store_append(s, ev, 20), MW_OK);
		clear_events(ev, 20);
		assert_int_equal(store_stats(s, &st), MW_OK);
		assert_true(st.bytes_used <= QUOTA);
	}
	assert_true(seen->in_order);
	assert_int_equal(store_stats(s, &st), MW_OK);
	assert_true(st.dropped > 0);
	assert_int_equal(st.pruned, 0);
	assert_true(st.last_seq > 4000); /* the store.dropped events took seqs too */
	assert_true(st.last_seq <= SEEN_MAX);
	assert_int_equal(st.stored, st.unsent);

	read_all(s, &got, &n);
	assert_int_equal(n, st.stored);
	assert_chain(got, n);
	missing = calloc(st.last_seq + 1, 1);
	for (uint64_t q = 1; q <= st.last_seq; q++) {
		missing[q] = !has_seq(got, n, q);
		nmissing += (uint64_t)missing[q];
	}
	assert_int_equal(nmissing, st.dropped);
	assert_false(missing[st.last_seq]); /* the chain head always survives */

	/* Policy: a missing event never has an older present one of the same
	 * or a lower severity; so alarms went last and nothing was skipped. */
	for (uint64_t q = 1; q <= st.last_seq; q++) {
		if (missing[q])
			assert_true(seen->sev[q] < min_present);
		else if (seen->sev[q] < min_present)
			min_present = seen->sev[q];
		if (seen->sev[q] == SEV_ALARM)
			assert_false(missing[q]);
	}

	/* Drop ranges: exactly the missing seqs, maximal, with chain hashes. */
	assert_int_equal(store_read_drops(s, 0, &d, &nd), MW_OK);
	assert_true(nd > 0);
	for (size_t i = 0; i < nd; i++) {
		assert_string_equal(d[i].reason, "quota");
		if (i > 0)
			assert_true(d[i].from > d[i - 1].to + 1);
		assert_memory_equal(d[i].last, seen->hash[d[i].to], EVENT_HASH_LEN);
		assert_memory_equal(d[i].prev, seen->hash[d[i].from - 1], EVENT_HASH_LEN);
		if (has_seq(got, n, d[i].to + 1)) {
			for (size_t j = 0; j < n; j++)
				if (got[j].seq == d[i].to + 1)
					assert_memory_equal(got[j].prev, d[i].last, EVENT_HASH_LEN);
		}
	}
	for (uint64_t q = 1; q <= st.last_seq; q++)
		assert_int_equal(in_ranges(d, nd, q), missing[q]);
	free(d);
	/* ... and the store.dropped events in the chain say the same. */
	assert_int_equal(check_drop_events(got, n, missing, st.last_seq), st.dropped);

	/* Only ranges not yet covered by an ack are declared. */
	assert_int_equal(store_read_drops(s, st.last_seq, &d, &nd), MW_OK);
	assert_int_equal(nd, 0);
	free(d);
	store_events_free(got, n);
	store_close(s);

	/* The counters survive a restart. */
	s = open_store(f->path, "edge-1", QUOTA);
	{
		struct store_stats st2;
		assert_int_equal(store_stats(s, &st2), MW_OK);
		assert_int_equal(st2.dropped, st.dropped);
		assert_int_equal(st2.last_seq, st.last_seq);
		assert_int_equal(st2.stored, st.stored);
	}
	store_close(s);
	free(missing);
	seen_free(seen);
}

static void quota_prunes_sent_first(void **state)
{
	struct fixture *f = *state;
	struct store_stats st;
	struct store *s = open_store(f->path, "edge-1", QUOTA);

	append_n(s, 600, SEV_ALARM);
	assert_int_equal(store_ack(s, 600), MW_OK);
	append_n(s, 400, SEV_DEBUG);
	assert_int_equal(store_stats(s, &st), MW_OK);
	/* Over the quota: sent events made room, no unsent one was touched. */
	assert_true(st.pruned > 0);
	assert_int_equal(st.dropped, 0);
	assert_int_equal(st.unsent, 400);
	assert_int_equal(st.stored, 400 + 600 - st.pruned);
	assert_true(st.bytes_used <= QUOTA);

	append_n(s, 1500, SEV_DEBUG);
	assert_int_equal(store_stats(s, &st), MW_OK);
	/* Unsent debug events went only once every sent alarm was gone. */
	assert_int_equal(st.pruned, 600);
	assert_true(st.dropped > 0);
	assert_int_equal(st.stored, st.unsent);
	assert_true(st.bytes_used <= QUOTA);
	store_close(s);
}

/* Only alarms: they go too when nothing else is left, the store keeps
 * accepting, and the store.dropped events do not feed on themselves. */
static void quota_alarms_only_terminates(void **state)
{
	struct fixture *f = *state;
	struct store_stats st;
	struct event *got;
	size_t n, drops = 0;
	struct store *s = open_store(f->path, "edge-1", 96 * 1024);

	append_n(s, 2000, SEV_ALARM);
	assert_int_equal(store_stats(s, &st), MW_OK);
	assert_true(st.dropped > 0);
	assert_true(st.bytes_used <= 96 * 1024);
	read_all(s, &got, &n);
	assert_int_equal(n, st.stored);
	for (size_t i = 0; i < n; i++)
		drops += strcmp(got[i].kind, "store.dropped") == 0;
	assert_true(drops >= 1);
	assert_true(drops < n);
	/* 2000 appended plus the store.dropped events, the newest survives. */
	assert_true(st.last_seq > 2000);
	assert_true(has_seq(got, n, st.last_seq));
	store_events_free(got, n);
	store_close(s);
}

/* The order the policy deletes in: severities, with the store's own
 * store.dropped events between warnings and alarms. */
static int drop_rank(const struct seen *w, uint64_t seq)
{
	return w->own[seq] ? 2 * SEV_WARNING + 1 : 2 * w->sev[seq];
}

/* Repeated quota passes with the hub away, so many that alarms go and the
 * store.dropped events with them: the ranges of the deleted ones are
 * carried forward, and the surviving store.dropped events still list
 * exactly the missing seqs, each once. */
static void quota_carries_dropped_ranges_forward(void **state)
{
	struct fixture *f = *state;
	struct seen *seen = seen_new();
	struct store_stats st;
	struct store_drop *d;
	struct event *got, ev[20];
	size_t n, nd, own_gone = 0;
	char *missing;
	uint64_t nmissing = 0;
	int min_present = 99;
	struct store *s = open_store(f->path, "edge-1", QUOTA);

	store_on_append(s, on_append, seen);
	/* 20% debug and 10% warning scattered among alarms: the drop ranges
	 * fragment, and once the debug events are gone the alarms go too. */
	for (int call = 0; call < 250; call++) {
		for (int i = 0; i < 20; i++) {
			int k = (call * 20 + i) % 10;
			make_event(&ev[i],
				   k < 2    ? SEV_DEBUG
				   : k == 2 ? SEV_WARNING
					    : SEV_ALARM,
				   call * 20 + i);
		}
		assert_int_equal(store_append(s, ev, 20), MW_OK);
		clear_events(ev, 20);
		if (call == 125) { /* a restart in the middle: nothing is forgotten */
			store_close(s);
			s = open_store(f->path, "edge-1", QUOTA);
			store_on_append(s, on_append, seen);
		}
	}
	assert_true(seen->in_order);
	assert_int_equal(store_stats(s, &st), MW_OK);
	assert_true(st.last_seq <= SEEN_MAX);
	assert_true(st.bytes_used <= QUOTA);
	read_all(s, &got, &n);
	assert_int_equal(n, st.stored);
	assert_chain(got, n);
	missing = calloc(st.last_seq + 1, 1);
	for (uint64_t q = 1; q <= st.last_seq; q++) {
		missing[q] = !has_seq(got, n, q);
		nmissing += (uint64_t)missing[q];
		own_gone += missing[q] && seen->own[q];
	}
	assert_int_equal(nmissing, st.dropped);
	assert_true(own_gone > 0); /* store.dropped events were deleted too */
	for (uint64_t q = 1; q <= st.last_seq; q++) {
		if (missing[q])
			assert_true(drop_rank(seen, q) < min_present);
		else if (drop_rank(seen, q) < min_present)
			min_present = drop_rank(seen, q);
	}
	/* The surviving store.dropped events list every missing seq once. */
	assert_int_equal(check_drop_events(got, n, missing, st.last_seq), st.dropped);
	/* The drop ranges the uplink declares say the same, and one snapshot
	 * puts each seq either in an event or in a range. */
	store_events_free(got, n);
	assert_int_equal(store_read_batch(s, 0, SIZE_MAX, SIZE_MAX, &got, &n, &d, &nd), MW_OK);
	assert_int_equal(n, st.stored);
	for (uint64_t q = 1; q <= st.last_seq; q++) {
		assert_int_equal(in_ranges(d, nd, q), missing[q]);
		assert_int_equal(has_seq(got, n, q), !missing[q]);
	}
	free(d);
	store_events_free(got, n);
	store_close(s);
	free(missing);
	seen_free(seen);
}

/* ---- crash safety ------------------------------------------------------ */

static void kill9_reopens_consistent(void **state)
{
	struct fixture *f = *state;
	struct store_stats st;
	struct event *got, ev;
	size_t n;
	pid_t pid;
	int status;
	struct store *s = open_store(f->path, "edge-1", 0);

	append_n(s, 10, SEV_INFO);
	store_close(s);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct store_options opt = {.path = f->path, .node = "edge-1"};
		struct store *c = NULL;
		struct event e[16];
		if (store_open(&opt, &c))
			_exit(2);
		for (int i = 0;; i++) {
			for (int j = 0; j < 16; j++)
				make_event(&e[j], SEV_INFO, i);
			if (store_append(c, e, 16))
				_exit(3);
			clear_events(e, 16);
		}
	}
	usleep(300 * 1000);
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	assert_true(WIFSIGNALED(status));

	s = open_store(f->path, "edge-1", 0);
	assert_int_equal(store_stats(s, &st), MW_OK);
	read_all(s, &got, &n);
	assert_int_equal(n, st.last_seq);
	assert_int_equal(n, st.stored);
	assert_true(n > 10);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(got[i].seq, i + 1);
	assert_chain(got, n);
	make_event(&ev, SEV_ALARM, 1);
	assert_int_equal(store_append(s, &ev, 1), MW_OK);
	assert_int_equal(ev.seq, n + 1);
	assert_memory_equal(ev.prev, got[n - 1].hash, EVENT_HASH_LEN);
	event_clear(&ev);
	store_events_free(got, n);
	store_close(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(append_and_reopen, setup, teardown),
		cmocka_unit_test_setup_teardown(bad_events_are_refused_whole, setup, teardown),
		cmocka_unit_test_setup_teardown(concurrent_appends_chain, setup, teardown),
		cmocka_unit_test_setup_teardown(callback_sees_each_commit_once, setup, teardown),
		cmocka_unit_test_setup_teardown(read_unsent_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(ack_moves_forward_only, setup, teardown),
		cmocka_unit_test_setup_teardown(node_mismatch_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(quota_drops_by_policy, setup, teardown),
		cmocka_unit_test_setup_teardown(quota_prunes_sent_first, setup, teardown),
		cmocka_unit_test_setup_teardown(quota_alarms_only_terminates, setup, teardown),
		cmocka_unit_test_setup_teardown(quota_carries_dropped_ranges_forward, setup,
						teardown),
		cmocka_unit_test_setup_teardown(kill9_reopens_consistent, setup, teardown),
	};
	log_set_level(LOG_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
