/* test_blobs.c -- the edge's content-addressed blob store.
 *
 * What a user would notice: a stored snapshot comes back byte for byte
 * under its SHA-256; the same snapshot posted twice is stored once; under
 * the quota the store deletes what the hub already has first, then blobs
 * of lesser events, alarm evidence last, and counts the losses; and after
 * a crash in the middle of a write the half-written file is gone and never
 * served, while whole blobs survive. Every test works in its own temp dir. */
#include "core/hash.h"
#include "core/mw.h"
#include "edge/blobs.h"

#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

struct fixture {
	char dir[64];
	struct blobs_options opt;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	if (!f)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/mw-test-blobs-XXXXXX");
	if (!mkdtemp(f->dir)) {
		free(f);
		return -1;
	}
	f->opt = (struct blobs_options){.data_dir = f->dir, .quota = 0, .max_size = 1 << 20};
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

static void fill(uint8_t *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)((i * 31 + seed * 17 + (i >> 7)) & 0xff);
}

/* The whole content of a file; NULL when it cannot be read. */
static uint8_t *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *p;
	long n;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	p = malloc((size_t)n + 1);
	if (p && fread(p, 1, (size_t)n, f) != (size_t)n) {
		free(p);
		p = NULL;
	}
	fclose(f);
	*len = (size_t)n;
	return p;
}

static void put_get_round_trip(void **state)
{
	struct fixture *f = *state;
	struct blobs *b;
	struct blob_hash h;
	uint8_t data[5000], digest[HASH_LEN];
	char want[BLOBS_HEX_LEN + 1], path[2048];
	size_t len;

	fill(data, sizeof(data), 1);
	hash_sha256(data, sizeof(data), digest);
	mw_hex(digest, HASH_LEN, want);
	assert_int_equal(blobs_open(&f->opt, &b), MW_OK);
	assert_int_equal(blobs_put(b, data, sizeof(data), &h), MW_OK);
	assert_string_equal(h.hex, want);
	assert_true(blobs_has(b, want));
	assert_int_equal(blobs_get_path(b, want, path, sizeof(path)), MW_OK);
	/* Fanned out as git does: blobs/ab/cdef... */
	assert_non_null(strstr(path, "/blobs/"));
	assert_int_equal(path[strlen(path) - 63], '/');
	uint8_t *got = slurp(path, &len);
	assert_non_null(got);
	assert_int_equal(len, sizeof(data));
	assert_memory_equal(got, data, len);
	free(got);
	/* Unknown and malformed names are not found. */
	want[0] = want[0] == '0' ? '1' : '0';
	assert_false(blobs_has(b, want));
	assert_int_equal(blobs_get_path(b, want, path, sizeof(path)), MW_ERR_NOTFOUND);
	assert_false(blobs_has(b, "../etc/passwd"));
	assert_false(blobdir_hash_valid(
		"ABCDEF0000000000000000000000000000000000000000000000000000000000"));
	blobs_close(b);
	/* And after a restart. */
	assert_int_equal(blobs_open(&f->opt, &b), MW_OK);
	assert_true(blobs_has(b, h.hex));
	blobs_close(b);
}

static void put_is_idempotent(void **state)
{
	struct fixture *f = *state;
	struct blobs *b;
	struct blob_hash h1, h2, h3;
	struct blobs_stats st;
	struct blob_hash *pend;
	size_t n;
	uint8_t a[3000], c[3000];

	fill(a, sizeof(a), 2);
	fill(c, sizeof(c), 3);
	assert_int_equal(blobs_open(&f->opt, &b), MW_OK);
	assert_int_equal(blobs_put(b, a, sizeof(a), &h1), MW_OK);
	assert_int_equal(blobs_put(b, a, sizeof(a), &h2), MW_OK);
	assert_int_equal(blobs_put(b, c, sizeof(c), &h3), MW_OK);
	assert_string_equal(h1.hex, h2.hex);
	assert_string_not_equal(h1.hex, h3.hex);
	assert_int_equal(blobs_stats(b, &st), MW_OK);
	assert_int_equal(st.count, 2);
	assert_int_equal(st.bytes, sizeof(a) + sizeof(c));
	assert_int_equal(st.pending, 2);
	/* Pending in the order stored, each once; uploaded ones leave the list. */
	assert_int_equal(blobs_pending(b, 10, &pend, &n), MW_OK);
	assert_int_equal(n, 2);
	assert_string_equal(pend[0].hex, h1.hex);
	assert_string_equal(pend[1].hex, h3.hex);
	free(pend);
	assert_int_equal(blobs_mark_uploaded(b, h1.hex), MW_OK);
	assert_int_equal(blobs_put(b, a, sizeof(a), &h2), MW_OK); /* still uploaded */
	assert_int_equal(blobs_pending(b, 10, &pend, &n), MW_OK);
	assert_int_equal(n, 1);
	assert_string_equal(pend[0].hex, h3.hex);
	free(pend);
	blobs_close(b);
}

static void too_big_refused(void **state)
{
	struct fixture *f = *state;
	struct blobs *b;
	struct blob_hash h;
	struct blobs_stats st;
	uint8_t *big = calloc(1, (1 << 20) + 1);

	assert_non_null(big);
	assert_int_equal(blobs_open(&f->opt, &b), MW_OK);
	assert_int_equal(blobs_put(b, big, (1 << 20) + 1, &h), MW_ERR_TOOBIG);
	assert_int_equal(blobs_put(b, big, 1 << 20, &h), MW_OK);
	assert_int_equal(blobs_stats(b, &st), MW_OK);
	assert_int_equal(st.count, 1);
	blobs_close(b);
	free(big);
}

/* Quota of 5 blobs of 1000 bytes. Stored in order: u1 u2 (uploaded), p3
 * (no event), a4 (alarm evidence), w5 (warning). Three more puts must
 * delete u1, u2, then p3 -- never a4 while anything else can go. */
static void quota_eviction_order(void **state)
{
	struct fixture *f = *state;
	struct blobs *b;
	struct blob_hash h[9];
	struct blobs_stats st;
	uint8_t data[1000];

	f->opt.quota = 5000;
	assert_int_equal(blobs_open(&f->opt, &b), MW_OK);
	for (unsigned i = 0; i < 5; i++) {
		fill(data, sizeof(data), 10 + i);
		assert_int_equal(blobs_put(b, data, sizeof(data), &h[i]), MW_OK);
	}
	assert_int_equal(blobs_mark_uploaded(b, h[0].hex), MW_OK);
	assert_int_equal(blobs_mark_uploaded(b, h[1].hex), MW_OK);
	assert_int_equal(blobs_ref(b, h[3].hex, SEV_ALARM), MW_OK);
	assert_int_equal(blobs_ref(b, h[4].hex, SEV_WARNING), MW_OK);

	fill(data, sizeof(data), 20);
	assert_int_equal(blobs_put(b, data, sizeof(data), &h[5]), MW_OK);
	assert_false(blobs_has(b, h[0].hex)); /* oldest uploaded first */
	assert_true(blobs_has(b, h[1].hex));
	fill(data, sizeof(data), 21);
	assert_int_equal(blobs_put(b, data, sizeof(data), &h[6]), MW_OK);
	assert_false(blobs_has(b, h[1].hex));
	assert_int_equal(blobs_stats(b, &st), MW_OK);
	assert_int_equal(st.dropped, 0); /* both were at the hub */
	assert_int_equal(st.evicted, 2);

	fill(data, sizeof(data), 22);
	assert_int_equal(blobs_put(b, data, sizeof(data), &h[7]), MW_OK);
	assert_false(blobs_has(b, h[2].hex)); /* then the oldest not uploaded */
	assert_true(blobs_has(b, h[3].hex));  /* alarm evidence kept */
	fill(data, sizeof(data), 23);
	assert_int_equal(blobs_put(b, data, sizeof(data), &h[8]), MW_OK);
	assert_true(blobs_has(b, h[3].hex)); /* still kept: the warning's went */
	assert_false(blobs_has(b, h[4].hex));
	assert_int_equal(blobs_stats(b, &st), MW_OK);
	assert_int_equal(st.dropped, 2);
	assert_int_equal(st.count, 5);
	assert_true(st.bytes <= 5000);
	blobs_close(b);

	/* Drops are remembered across restarts. */
	assert_int_equal(blobs_open(&f->opt, &b), MW_OK);
	assert_int_equal(blobs_stats(b, &st), MW_OK);
	assert_int_equal(st.dropped, 2);
	assert_int_equal(st.count, 5);
	blobs_close(b);
}

static void write_file(const char *path, const void *data, size_t len)
{
	FILE *fp = fopen(path, "wb");
	assert_non_null(fp);
	assert_int_equal(fwrite(data, 1, len, fp), len);
	assert_int_equal(fclose(fp), 0);
}

/* What a kill -9 can leave: a temp file of a put in progress, a final file
 * whose index row was never written (or whose row an eviction deleted),
 * and a row whose file is missing. Open cleans all three; the whole blobs
 * stay. */
static void crash_leftovers_cleaned(void **state)
{
	struct fixture *f = *state;
	struct blobs *b;
	struct blob_hash h, ghost;
	struct blobs_stats st;
	uint8_t data[2000], half[700], digest[HASH_LEN];
	char path[2048], tmp[2048], orphan_hex[BLOBS_HEX_LEN + 1], orphan[2200], dir[2048];
	struct stat sb;

	fill(data, sizeof(data), 30);
	assert_int_equal(blobs_open(&f->opt, &b), MW_OK);
	assert_int_equal(blobs_put(b, data, sizeof(data), &h), MW_OK);
	fill(data, sizeof(data), 31);
	assert_int_equal(blobs_put(b, data, sizeof(data), &ghost), MW_OK);
	blobs_close(b);

	/* A half-written temp file of a third blob. */
	fill(half, sizeof(half), 32);
	snprintf(tmp, sizeof(tmp), "%s/blobs/tmp/0123456789abcdef.Xy12Zq", f->dir);
	write_file(tmp, half, sizeof(half));
	/* A final file the index does not know. */
	fill(data, sizeof(data), 33);
	hash_sha256(data, sizeof(data), digest);
	mw_hex(digest, HASH_LEN, orphan_hex);
	snprintf(dir, sizeof(dir), "%s/blobs/%.2s", f->dir, orphan_hex);
	mkdir(dir, 0750);
	snprintf(orphan, sizeof(orphan), "%s/%s", dir, orphan_hex + 2);
	write_file(orphan, data, sizeof(data));
	/* A row whose file vanished. */
	snprintf(path, sizeof(path), "%s/blobs/%.2s/%s", f->dir, ghost.hex, ghost.hex + 2);
	assert_int_equal(unlink(path), 0);

	assert_int_equal(blobs_open(&f->opt, &b), MW_OK);
	assert_int_not_equal(stat(tmp, &sb), 0);
	assert_int_not_equal(stat(orphan, &sb), 0);
	assert_false(blobs_has(b, orphan_hex));
	assert_false(blobs_has(b, ghost.hex));
	assert_true(blobs_has(b, h.hex));
	assert_int_equal(blobs_stats(b, &st), MW_OK);
	assert_int_equal(st.count, 1);
	assert_int_equal(st.bytes, sizeof(data));
	/* The orphan's content can be put again and is then served. */
	assert_int_equal(blobs_put(b, data, sizeof(data), &ghost), MW_OK);
	assert_string_equal(ghost.hex, orphan_hex);
	assert_true(blobs_has(b, orphan_hex));
	blobs_close(b);
}

/* A put killed for real, in a child process, at a random point: the final
 * name either holds the whole blob or does not exist. */
static void kill9_during_puts(void **state)
{
	struct fixture *f = *state;
	struct blobs *b;
	struct blob_hash *pend;
	size_t n;
	char path[2048];
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		struct blob_hash h;
		static uint8_t data[200000];
		if (blobs_open(&f->opt, &b))
			_exit(1);
		for (unsigned i = 0;; i++) {
			fill(data, sizeof(data), 100 + i);
			if (blobs_put(b, data, sizeof(data), &h))
				_exit(1);
		}
	}
	usleep(300000);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	assert_int_equal(blobs_open(&f->opt, &b), MW_OK);
	assert_int_equal(blobs_pending(b, 100000, &pend, &n), MW_OK);
	assert_true(n > 0);
	for (size_t i = 0; i < n; i++) {
		uint8_t digest[HASH_LEN];
		char hex[BLOBS_HEX_LEN + 1];
		size_t len;
		assert_int_equal(blobs_get_path(b, pend[i].hex, path, sizeof(path)), MW_OK);
		uint8_t *got = slurp(path, &len);
		assert_non_null(got);
		hash_sha256(got, len, digest);
		mw_hex(digest, HASH_LEN, hex);
		assert_string_equal(hex, pend[i].hex);
		free(got);
	}
	free(pend);
	blobs_close(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(put_get_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(put_is_idempotent, setup, teardown),
		cmocka_unit_test_setup_teardown(too_big_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(quota_eviction_order, setup, teardown),
		cmocka_unit_test_setup_teardown(crash_leftovers_cleaned, setup, teardown),
		cmocka_unit_test_setup_teardown(kill9_during_puts, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
