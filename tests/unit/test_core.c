/* test_core.c -- the small building blocks every module leans on.
 *
 * A buffer cap that does not hold, a hex decoder that accepts a short
 * string or a number parser that takes "12abc" would each turn hostile
 * input into a bug somewhere far away, so their edges are pinned here:
 * buffers stop at their cap and stay usable, hex round-trips and refuses
 * anything but exactly 2n digits, numbers are whole strings within bounds.
 * The loop that the daemons' threads run on steps at once, sleeps what its
 * step asks, wakes early when told (no sooner than its gap) and stops
 * without waiting out a long sleep. */
#include "core/buf.h"
#include "core/log.h"
#include "core/loop.h"
#include "core/mw.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

static void buf_grows_and_stays_terminated(void **state)
{
	struct buf b;
	buf_init(&b, 1 << 20);
	for (int i = 0; i < 1000; i++)
		assert_int_equal(buf_adds(&b, "abc"), MW_OK);
	assert_int_equal(b.len, 3000);
	assert_int_equal(b.data[b.len], '\0');
	assert_memory_equal(b.data + 2997, "abc", 3);
	assert_int_equal(buf_printf(&b, "%d-%s", 42, "x"), MW_OK);
	assert_string_equal(b.data + 3000, "42-x");
	buf_reset(&b);
	assert_int_equal(b.len, 0);
	assert_string_equal(b.data, "");
	assert_int_equal(buf_addc(&b, 'z'), MW_OK);
	assert_string_equal(b.data, "z");
	buf_free(&b);
	assert_null(b.data);
}

static void buf_refuses_past_cap(void **state)
{
	struct buf b;
	buf_init(&b, 10);
	assert_int_equal(buf_adds(&b, "0123456789"), MW_OK); /* exactly the cap */
	assert_int_equal(buf_addc(&b, 'x'), MW_ERR_TOOBIG);
	assert_int_equal(buf_printf(&b, "%s", "y"), MW_ERR_TOOBIG);
	/* A refused add leaves the contents as they were. */
	assert_int_equal(b.len, 10);
	assert_string_equal(b.data, "0123456789");
	buf_reset(&b);
	assert_int_equal(buf_adds(&b, "01234567890"), MW_ERR_TOOBIG);
	assert_int_equal(b.len, 0);
	/* A huge length must not wrap around the check. */
	assert_int_equal(buf_reserve(&b, SIZE_MAX), MW_ERR_TOOBIG);
	assert_int_equal(buf_add(&b, "ab", SIZE_MAX - 1), MW_ERR_TOOBIG);
	buf_free(&b);
}

static void buf_take_hands_over(void **state)
{
	struct buf b;
	size_t len = 99;
	char *s;

	buf_init(&b, 100);
	s = buf_take(&b, &len); /* empty: still a valid string */
	assert_non_null(s);
	assert_int_equal(len, 0);
	assert_string_equal(s, "");
	free(s);
	assert_int_equal(buf_adds(&b, "hello"), MW_OK);
	s = buf_take(&b, &len);
	assert_string_equal(s, "hello");
	assert_int_equal(len, 5);
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	assert_int_equal(b.cap, 100); /* the buffer is reusable with its cap */
	free(s);
	assert_int_equal(buf_adds(&b, "again"), MW_OK);
	buf_free(&b);
}

static void hex_round_trip(void **state)
{
	uint8_t in[4] = {0x00, 0x7f, 0xab, 0xff}, out[4];
	char hex[9];

	mw_hex(in, sizeof(in), hex);
	assert_string_equal(hex, "007fabff");
	assert_int_equal(mw_unhex(hex, out, sizeof(out)), MW_OK);
	assert_memory_equal(in, out, sizeof(in));
	assert_int_equal(mw_unhex("007FABFF", out, sizeof(out)), MW_OK); /* upper case too */
	assert_memory_equal(in, out, sizeof(in));
	mw_hex(in, 0, hex);
	assert_string_equal(hex, "");
}

static void hex_refuses_bad_input(void **state)
{
	uint8_t out[4];
	assert_int_equal(mw_unhex("007fab", out, 4), MW_ERR_INVALID);	  /* short */
	assert_int_equal(mw_unhex("007fabff00", out, 4), MW_ERR_INVALID); /* long */
	assert_int_equal(mw_unhex("007fabfg", out, 4), MW_ERR_INVALID);	  /* not hex */
	assert_int_equal(mw_unhex("007f ab f", out, 4), MW_ERR_INVALID);
	assert_int_equal(mw_unhex("", out, 4), MW_ERR_INVALID);
	assert_int_equal(mw_unhex("0x7fabff", out, 4), MW_ERR_INVALID);
}

static void parse_i64_accepts_whole_numbers(void **state)
{
	int64_t v = 0;
	assert_int_equal(mw_parse_i64("42", 0, 100, &v), MW_OK);
	assert_int_equal(v, 42);
	assert_int_equal(mw_parse_i64("-7", -10, 10, &v), MW_OK);
	assert_int_equal(v, -7);
	assert_int_equal(mw_parse_i64("100", 0, 100, &v), MW_OK); /* bounds inclusive */
	assert_int_equal(mw_parse_i64("9223372036854775807", INT64_MIN, INT64_MAX, &v), MW_OK);
	assert_true(v == INT64_MAX);
	assert_int_equal(mw_parse_i64("-9223372036854775808", INT64_MIN, INT64_MAX, &v), MW_OK);
	assert_true(v == INT64_MIN);
}

static void parse_i64_refuses_the_rest(void **state)
{
	int64_t v = 5;
	assert_int_equal(mw_parse_i64("101", 0, 100, &v), MW_ERR_INVALID);
	assert_int_equal(mw_parse_i64("-1", 0, 100, &v), MW_ERR_INVALID);
	assert_int_equal(mw_parse_i64("12abc", 0, 100, &v), MW_ERR_INVALID);
	assert_int_equal(mw_parse_i64("", 0, 100, &v), MW_ERR_INVALID);
	assert_int_equal(mw_parse_i64(NULL, 0, 100, &v), MW_ERR_INVALID);
	assert_int_equal(mw_parse_i64("abc", 0, 100, &v), MW_ERR_INVALID);
	assert_int_equal(mw_parse_i64("1.5", 0, 100, &v), MW_ERR_INVALID);
	assert_int_equal(mw_parse_i64(" 7", 0, 100, &v), MW_ERR_INVALID);
	assert_int_equal(mw_parse_i64("7 ", 0, 100, &v), MW_ERR_INVALID);
	assert_int_equal(mw_parse_i64("9223372036854775808", INT64_MIN, INT64_MAX, &v),
			 MW_ERR_INVALID); /* overflow */
	assert_int_equal(mw_parse_i64("-99999999999999999999", INT64_MIN, INT64_MAX, &v),
			 MW_ERR_INVALID);
	assert_int_equal(v, 5); /* untouched on error */
}

static void strlcpy_truncates_and_says_so(void **state)
{
	char dst[6];
	assert_int_equal(mw_strlcpy(dst, "hello", sizeof(dst)), MW_OK);
	assert_string_equal(dst, "hello");
	assert_int_equal(mw_strlcpy(dst, "hello!", sizeof(dst)), MW_ERR_TOOBIG);
	assert_string_equal(dst, "hello");
	assert_int_equal(mw_strlcpy(dst, "", sizeof(dst)), MW_OK);
	assert_string_equal(dst, "");
}

static void errors_have_names(void **state)
{
	assert_string_equal(mw_strerror(MW_OK), "ok");
	assert_string_equal(mw_strerror(MW_ERR_TOOBIG), "too big");
	for (int e = MW_ERR_STATE; e < 0; e++)
		assert_string_not_equal(mw_strerror(e), "unknown error");
	assert_string_equal(mw_strerror(-1000), "unknown error");
}

static void log_levels_parse(void **state)
{
	enum log_level l;
	assert_int_equal(log_parse_level("warn", &l), MW_OK);
	assert_int_equal(l, LOG_WARN);
	assert_int_equal(log_parse_level("debug", &l), MW_OK);
	assert_int_equal(l, LOG_DEBUG);
	assert_int_equal(log_parse_level("loud", &l), MW_ERR_INVALID);
}

struct steps {
	int n;
	int64_t at[8]; /* mono ns of each step */
};

static int64_t count_step(void *arg)
{
	struct steps *s = arg;

	if (s->n < 8)
		s->at[s->n] = mw_mono_ns();
	__atomic_add_fetch(&s->n, 1, __ATOMIC_RELEASE);
	return 60000; /* a long sleep: only a wake or the stop ends it */
}

/* Polls until *n reaches want (10 s at most: the machine may be busy). */
static bool reaches(const int *n, int want)
{
	for (int i = 0; i < 1000 && __atomic_load_n(n, __ATOMIC_ACQUIRE) < want; i++) {
		struct timespec ts = {0, 10 * 1000000L};
		nanosleep(&ts, NULL);
	}
	return __atomic_load_n(n, __ATOMIC_ACQUIRE) >= want;
}

static void loop_steps_wakes_and_stops(void **state)
{
	struct steps s = {0};
	struct mw_loop l = {.step = count_step, .arg = &s, .min_gap_ms = 300};
	int64_t t0 = mw_mono_ns();

	(void)state;
	assert_int_equal(mw_loop_start(&l, "test-loop"), MW_OK);
	assert_true(reaches(&s.n, 1)); /* at once */
	mw_loop_wake(&l);
	assert_true(reaches(&s.n, 2));			   /* woken out of its 60 s sleep */
	assert_true(s.at[1] - s.at[0] >= 300 * 1000000LL); /* but not within the gap */
	mw_loop_stop(&l);
	assert_true(mw_mono_ns() - t0 < 30 * 1000000000LL); /* no 60 s sleep waited out */
	assert_int_equal(s.n, 2);
	mw_loop_stop(&l); /* a stopped loop stops again as a no-op */
}

static void clocks_move(void **state)
{
	int64_t a = mw_mono_ns(), b = mw_mono_ns();
	uint8_t r1[16] = {0}, r2[16] = {0};

	assert_true(b >= a);
	assert_true(mw_now_ns() > INT64_C(1600000000) * 1000000000); /* after 2020 */
	assert_int_equal(mw_random(r1, sizeof(r1)), MW_OK);
	assert_int_equal(mw_random(r2, sizeof(r2)), MW_OK);
	assert_memory_not_equal(r1, r2, sizeof(r1));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(buf_grows_and_stays_terminated),
		cmocka_unit_test(buf_refuses_past_cap),
		cmocka_unit_test(buf_take_hands_over),
		cmocka_unit_test(hex_round_trip),
		cmocka_unit_test(hex_refuses_bad_input),
		cmocka_unit_test(parse_i64_accepts_whole_numbers),
		cmocka_unit_test(parse_i64_refuses_the_rest),
		cmocka_unit_test(strlcpy_truncates_and_says_so),
		cmocka_unit_test(errors_have_names),
		cmocka_unit_test(log_levels_parse),
		cmocka_unit_test(clocks_move),
		cmocka_unit_test(loop_steps_wakes_and_stops),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
